//! Errors of the database adapters.

use std::io;

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a database adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A database tool could not be started (not installed, not executable).
    #[error("cannot run {tool} ({path}): {source}; is the database's client/server package installed?")]
    ToolMissing {
        /// The tool's name.
        tool: String,
        /// The path that was tried.
        path: String,
        /// Why it could not be started.
        source: io::Error,
    },
    /// A database tool exited with an error or was killed; `message` is the end of what it wrote
    /// to stderr.
    #[error("{tool} failed ({status}): {message}")]
    ToolFailed {
        /// The tool's name.
        tool: String,
        /// How it ended, e.g. `exit status: 1` or `signal: 9 (SIGKILL)`.
        status: String,
        /// The last lines it wrote to stderr.
        message: String,
    },
    /// A tool's output did not say what it should have (a position, a time, a file).
    #[error("{tool}: {message}")]
    Unexpected {
        /// The tool whose output was read.
        tool: String,
        /// What was missing or malformed.
        message: String,
    },
    /// Local I/O (a work directory, a log file).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// The operation does not exist for this engine or this backup.
    #[error("{0}")]
    Unsupported(String),
    /// A restore plan this target cannot apply, or a restored server that did not reach its target.
    #[error("restore: {0}")]
    Restore(String),
    /// Reading a backup's contents from where they are stored failed.
    #[error("reading `{entry}` of backup {backup}: {message}")]
    Artifact {
        /// The backup.
        backup: String,
        /// The entry.
        entry: String,
        /// Why.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }

    pub(crate) fn unexpected(tool: &str, message: impl Into<String>) -> Self {
        Self::Unexpected { tool: tool.to_owned(), message: message.into() }
    }
}
