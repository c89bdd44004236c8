//! Tern's database adapters: MariaDB and PostgreSQL backups, log archiving and restores, done by
//! the databases' own tools run as child processes.
//!
//! - [`BackupSource`]: full, incremental and logical backups as streams ([`BackupStream`]) with
//!   the point they are consistent at, and closed log files ([`LogFile`]) with their positions
//!   and times. Streams go straight from the tool's stdout to the caller: no temporary copies.
//! - [`RestoreTarget`]: applies a [`tern_pitr::RestorePlan`] to a new data directory, reading
//!   backups and logs through an [`ArtifactSource`] (a Tern repository, in practice).
//! - A tool that fails becomes an [`Error::ToolFailed`] carrying the end of its stderr; a tool
//!   whose handle is dropped (a cancelled backup) is killed.
//!
//! | engine | full | incremental | dump | logs | restore |
//! |---|---|---|---|---|---|
//! | MariaDB ([`mariadb`]) | `mariadb-backup --backup --stream=xbstream` | from the base's `to_lsn` | `mariadb-dump --single-transaction --master-data=2 --gtid` | closed binlogs, described by `mariadb-binlog` | `mbstream -x`, `--prepare` (+ each incremental), `--move-back`, one `mariadb-binlog` replay to the target |
//! | PostgreSQL ([`postgres`]) | `pg_basebackup -Ft -X fetch -D -` | — | `pg_dump -Fc` | WAL segments through `archive_command` ([`postgres::describe_wal`]) | `tar -x`, `pg_verifybackup`, recovery to the target, promote |
//!
//! The crate knows nothing about object storage: `tern-service` joins it to the engine and the
//! catalog. [`sandbox`] starts private servers for examples and tests.
//!
//! # Example
//!
//! Tell WAL files apart, and set up (without running) a MariaDB source and target:
//!
//! ```
//! use tern_db::postgres::WalName;
//! use tern_db::{BackupSource, Engine, mariadb};
//!
//! assert_eq!(
//!     WalName::parse("000000020000000A000000FF"),
//!     Some(WalName::Segment { timeline: 2, log: 10, seg: 255 })
//! );
//! assert_eq!(WalName::parse("00000002.history"), Some(WalName::Other));
//!
//! let source = mariadb::MariadbSource::new("/etc/mysql/backup.cnf").databases(["shop"]);
//! assert_eq!(source.engine(), Engine::Mariadb);
//! let _target = mariadb::MariadbTarget::new("/var/lib/mysql-restored");
//! ```

mod common;
mod error;
pub mod mariadb;
pub mod postgres;
mod process;
pub mod sandbox;
mod source;
mod tap;

pub use error::{Error, Result};
pub use process::{OsUser, Running, Tool};
pub use source::{
    ArtifactSource, BackupMeta, BackupSource, BackupStream, ClosedLogs, ENGINE_LABEL, Engine, LogFile, RestoreReport,
    RestoreTarget,
};
