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

/// Deserializes from a string. Errors never quote the value (serde's default messages would,
/// e.g. ``invalid type: integer `1234` ``), and the placeholder [`REDACTED`] is refused, so a
/// configuration serialized for display cannot be loaded back as if it held the secret.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                if v == REDACTED {
                    return Err(E::custom(format!("a secret is the placeholder `{REDACTED}`: give the real value")));
                }
                Ok(Secret::new(v))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("expected a secret string, found a boolean (value not shown)"))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("expected a secret string, found a number (value not shown)"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("expected a secret string, found a number (value not shown)"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("expected a secret string, found a number (value not shown)"))
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(E::custom("expected a secret string, found bytes (value not shown)"))
            }
        }
        deserializer.deserialize_string(Visitor)
    }
}
