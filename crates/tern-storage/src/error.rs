//! The crate's one public error type.

use std::fmt;

/// Everything that can go wrong in `tern-storage`.
///
/// No variant ever carries a secret: credential values are checked field by field and only the
/// field's *name* is reported, and messages that come from `object_store` builders are passed
/// through [`crate::Secret`]-aware redaction before they are stored here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A location string or URL could not be understood.
    #[error("invalid location `{location}`: {reason}")]
    InvalidLocation {
        /// The location as given, with any user-info (`user:password@`) removed.
        location: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An option of a location has a value that cannot be used.
    #[error("invalid option `{option}` for `{location}`: {reason}")]
    InvalidOption {
        /// The location the option belongs to.
        location: String,
        /// The option's name, e.g. `allow_http`.
        option: String,
        /// What is wrong with the value.
        reason: String,
    },

    /// Credentials were malformed: the error names the field, never its value.
    #[error(transparent)]
    Credentials(#[from] CredentialError),

    /// No region of that name is configured.
    #[error("unknown region `{name}` (configured: {})", known_list(.known))]
    UnknownRegion {
        /// The region that was asked for.
        name: String,
        /// The regions that are configured.
        known: Vec<String>,
    },

    /// The backend's client could not be built (bad endpoint, unreadable key, …).
    #[error("cannot open {location}: {message}")]
    Build {
        /// The location being opened.
        location: String,
        /// The backend's message, with every secret of the location redacted.
        message: String,
    },

    /// A local directory could not be created or opened.
    #[error("cannot open local directory {path}: {source}")]
    LocalDirectory {
        /// The directory.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// An operation on an opened store failed.
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
}

/// A problem with credentials, naming the offending field but never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials ({format}): {problem}")]
pub struct CredentialError {
    /// Which format was being read, e.g. `AWS credentials INI` or `GCP service-account JSON`.
    pub format: &'static str,
    /// What is wrong, and with which field.
    pub problem: CredentialProblem,
}

/// What exactly is wrong with a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialProblem {
    /// The text is not valid base64.
    InvalidBase64,
    /// The decoded bytes are not UTF-8 text.
    NotUtf8,
    /// The text does not parse in the expected syntax; `detail` says where, without content.
    Syntax {
        /// Position or description of the syntax error, never including the text itself.
        detail: String,
    },
    /// A required field is absent.
    MissingField {
        /// The field's name.
        field: String,
    },
    /// A field has the wrong type or an unusable value.
    InvalidField {
        /// The field's name.
        field: String,
        /// What was expected of it.
        expected: String,
    },
    /// The wanted INI profile is not in the file.
    MissingProfile {
        /// The profile that was looked for.
        profile: String,
        /// The profiles the file has.
        found: Vec<String>,
    },
}

impl fmt::Display for CredentialProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidBase64 => f.write_str("the value is not valid base64"),
            Self::NotUtf8 => f.write_str("the decoded value is not UTF-8 text"),
            Self::Syntax { detail } => write!(f, "syntax error: {detail}"),
            Self::MissingField { field } => write!(f, "field `{field}` is missing"),
            Self::InvalidField { field, expected } => {
                write!(f, "field `{field}` is invalid: expected {expected}")
            }
            Self::MissingProfile { profile, found } => {
                write!(f, "profile [{profile}] not found (found: ")?;
                if found.is_empty() {
                    f.write_str("none")?;
                } else {
                    f.write_str(&found.join(", "))?;
                }
                f.write_str(")")
            }
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
