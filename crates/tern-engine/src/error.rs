//! The engine's error type.

use std::fmt;

use crate::id::{BackupId, ChunkId, PackId};

/// Everything that can go wrong in the engine. Messages name the object at fault: backup,
/// entry, chunk and pack where they apply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A storage operation failed.
    #[error("storage: cannot {op} `{path}`: {source}")]
    Storage {
        /// The operation, e.g. `read` or `write`.
        op: &'static str,
        /// The object's path in the repository.
        path: String,
        /// What the store said.
        source: object_store::Error,
    },

    /// A location could not be opened.
    #[error(transparent)]
    Location(#[from] tern_storage::Error),

    /// There is no repository at the location.
    #[error("no Tern repository at {location} (`tern.json` not found); create one with `init`")]
    NotARepository {
        /// Where it was looked for.
        location: String,
    },

    /// `init` found a repository already there.
    #[error("a Tern repository already exists at {location}")]
    AlreadyInitialized {
        /// Where.
        location: String,
    },

    /// The repository was written by a newer (or unknown) format version.
    #[error("repository format version {found} is not supported (this Tern reads version {supported}); upgrade Tern")]
    UnsupportedVersion {
        /// The version in `tern.json`.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },

    /// None of the repository's keys opens with the given passphrase or key file.
    #[error("wrong key: the passphrase or key file does not unlock this repository")]
    WrongKey,

    /// The operation needs the repository's key and none was given.
    #[error("this repository is encrypted: give a passphrase (TERN_PASSWORD) or a key file")]
    KeyRequired,

    /// A repository object is damaged.
    #[error("corrupt {kind} `{path}`: {detail}")]
    Corrupt {
        /// What kind of object.
        kind: ObjectKind,
        /// Its path.
        path: String,
        /// What is wrong.
        detail: String,
    },

    /// A chunk failed its checks while being read back.
    #[error("backup {backup}, entry `{entry}`: chunk {chunk} in pack {pack} (offset {offset}) is damaged: {reason}")]
    DamagedChunk {
        /// The backup being read.
        backup: BackupId,
        /// The entry being read.
        entry: String,
        /// The chunk.
        chunk: ChunkId,
        /// The pack holding it.
        pack: PackId,
        /// Its offset in the pack.
        offset: u64,
        /// Which check failed.
        reason: String,
    },

    /// A restored entry's content hash differs from the one recorded at backup time.
    #[error("backup {backup}, entry `{entry}`: content hash mismatch after restore")]
    EntryHashMismatch {
        /// The backup.
        backup: BackupId,
        /// The entry.
        entry: String,
    },

    /// No backup with that id.
    #[error("backup {0} not found")]
    BackupNotFound(BackupId),

    /// No entry of that name in the backup.
    #[error("backup {backup} has no entry `{entry}` (it has: {available})")]
    EntryNotFound {
        /// The backup.
        backup: BackupId,
        /// The entry asked for.
        entry: String,
        /// The entries it has (abbreviated).
        available: String,
    },

    /// A key operation was refused.
    #[error("{0}")]
    Key(String),

    /// A local file or stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },

    /// An argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),

    /// The catalog refused or failed (a conflict, a corrupt record, storage).
    #[error(transparent)]
    Catalog(#[from] tern_catalog::Error),
}

/// The kinds of repository objects, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// `tern.json`.
    Config,
    /// A pack.
    Pack,
    /// A manifest.
    Manifest,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "repository config",
            Self::Pack => "pack",
            Self::Manifest => "manifest",
        })
    }
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn storage(op: &'static str, path: &object_store::path::Path, source: object_store::Error) -> Self {
        Self::Storage { op, path: path.to_string(), source }
    }

    pub(crate) fn corrupt(kind: ObjectKind, path: impl fmt::Display, detail: impl Into<String>) -> Self {
        Self::Corrupt { kind, path: path.to_string(), detail: detail.into() }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
