//! Typed identifiers: time-sortable, safe in object names, serde-transparent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines a time-sortable id: `YYYYMMDDTHHMMSS.mmmZ-<8 hex>` (UTC), safe in object names.
macro_rules! time_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A new id, now.
            pub fn new() -> Self {
                Self::at(chrono::Utc::now())
            }

            /// A new id for `time`.
            pub fn at(time: chrono::DateTime<chrono::Utc>) -> Self {
                Self(format!("{}-{:08x}", time.format("%Y%m%dT%H%M%S%.3fZ"), rand::random::<u32>()))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("A ", stringify!($name), ": a UTC time and a random suffix, e.g. 20261121T030000.000Z-1a2b3c4d")))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                if is_name(s) { Ok(Self(s.to_owned())) } else { Err(format!("`{s}` is not a {}", stringify!($name))) }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

time_id!(
    /// A backup (or archived log segment): time-sortable, e.g. `20261121T114500.123Z-3f9a2c1b`.
    BackupId
);
time_id!(
    /// A schedule.
    ScheduleId
);
time_id!(
    /// A restore job.
    RestoreId
);

/// 1–64 characters of `[A-Za-z0-9._-]`, not starting with `.`.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Checks a service name: 1–64 characters of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn check_service_name(name: &str) -> Result<(), String> {
    if is_name(name) {
        Ok(())
    } else {
        Err(format!("`{name}` is not a service name (1-64 of A-Z a-z 0-9 . _ -, not starting with `.`)"))
    }
}
