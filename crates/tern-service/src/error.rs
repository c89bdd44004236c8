//! Errors of the service layer.

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository or its catalog.
    #[error(transparent)]
    Engine(#[from] tern_engine::Error),
    /// A database tool or adapter.
    #[error(transparent)]
    Db(#[from] tern_db::Error),
    /// The restore could not be planned.
    #[error("cannot plan the restore: {0}")]
    Plan(#[from] tern_replicator::secondary::SecondaryPlanError),
    /// A request that cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a job still running, a dependent backup).
    #[error("{0}")]
    Conflict(String),
    /// A job failed; the reason is recorded on its backup.
    #[error("{0}")]
    Failed(String),
    /// Other bytes are already archived under this WAL file name.
    #[error(
        "WAL file {name} of service {service} is already archived (backup {existing}) with other contents: \
         refusing to overwrite it (is a second cluster archiving into this service?)"
    )]
    WalConflict {
        /// The service.
        service: String,
        /// The file name.
        name: String,
        /// The backup holding the archived file.
        existing: tern_catalog::BackupId,
    },
}
