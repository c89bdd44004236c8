//! A string that never shows itself.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The text every redacted value is replaced with, in `Debug`, `Display`, serialization and errors.
pub const REDACTED: &str = "[secret]";

/// A secret string (an access key, a service-account key, an account key).
///
/// `Debug`, `Display` and `Serialize` all print [`REDACTED`]; the only way to the value is
/// [`Secret::expose`], which makes each use easy to find in review. The memory is zeroed on drop.
///
/// ```
/// use tern_storage::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?} {s}"), "[secret] [secret]");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Use it only to hand it to the client that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of this secret in `text` with [`REDACTED`].
    pub(crate) fn redact_in(&self, text: &mut String) {
        // Very short values would redact innocent text and are not worth hiding in messages.
        if self.0.len() >= 4 && text.contains(self.0.as_str()) {
            *text = text.replace(self.0.as_str(), REDACTED);
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}
