//! What a database adapter hands the engine, and what a restore reads back.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tern_catalog::{BackupRecord, ConsistentPoint, Position};
use tern_pitr::RestorePlan;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Result;

/// The database engines Tern drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// MariaDB (and MySQL-compatible servers with MariaDB's tools).
    Mariadb,
    /// PostgreSQL.
    Postgres,
}

impl Engine {
    /// The name stored in a backup's `engine` label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mariadb => "mariadb",
            Self::Postgres => "postgres",
        }
    }

    /// Parses `mariadb`/`mysql` or `postgres`/`postgresql`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "mariadb" | "mysql" => Ok(Self::Mariadb),
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            _ => Err(format!("`{text}` is not an engine (mariadb or postgres)")),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The label naming a backup's engine.
pub const ENGINE_LABEL: &str = "engine";

/// What a finished backup stream says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupMeta {
    /// The point a restore of it is consistent at. A PostgreSQL dump has no log position (WAL
    /// cannot be replayed on top of a logical dump), so only its time.
    pub consistent: ConsistentPoint,
    /// The engine's own identifiers (LSNs, server version, labels), stored as backup labels.
    pub labels: BTreeMap<String, String>,
}

/// A backup as it streams out of a database tool: read [`reader`](Self::reader) to its end, then
/// [`finish`](Self::finish) to learn whether the tool succeeded and where the backup is
/// consistent. Dropping it kills the tool.
pub struct BackupStream {
    /// The entry name the stream is stored under (the restore reads it back by this name).
    pub entry: String,
    reader: Pin<Box<dyn AsyncRead + Send>>,
    finish: BoxFuture<'static, Result<BackupMeta>>,
}

impl fmt::Debug for BackupStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupStream").field("entry", &self.entry).finish_non_exhaustive()
    }
}

impl BackupStream {
    /// A stream from its parts: `finish` runs after the reader has been read to its end.
    pub fn new(
        entry: impl Into<String>,
        reader: impl AsyncRead + Send + 'static,
        finish: BoxFuture<'static, Result<BackupMeta>>,
    ) -> Self {
        Self { entry: entry.into(), reader: Box::pin(reader), finish }
    }

    /// The bytes of the backup.
    pub fn reader(&mut self) -> &mut Pin<Box<dyn AsyncRead + Send>> {
        &mut self.reader
    }

    /// The parts: entry name, reader, and the future [`finish`](Self::finish) awaits (to wrap the
    /// reader, e.g. to count or pace it, and rebuild the stream with [`new`](Self::new)).
    pub fn into_parts(self) -> (String, Pin<Box<dyn AsyncRead + Send>>, BoxFuture<'static, Result<BackupMeta>>) {
        (self.entry, self.reader, self.finish)
    }

    /// Waits for the tool: its metadata, or its error (with its stderr).
    pub async fn finish(self) -> Result<BackupMeta> {
        drop(self.reader);
        self.finish.await
    }
}

/// A closed log file (a binlog, a WAL segment) ready to archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// Its native name (`mysql-bin.000042`, `000000010000000000000003`).
    pub name: String,
    /// Where its bytes are.
    pub path: PathBuf,
    /// Position of its first event.
    pub start_position: Position,
    /// Position just past its last event (the next file's first position).
    pub end_position: Position,
    /// Time of its first event.
    pub start_time: DateTime<Utc>,
    /// Time of its last event.
    pub end_time: DateTime<Utc>,
    /// Size in bytes.
    pub size: u64,
}

/// A database that can be backed up: the adapters drive the database's own tools.
#[async_trait]
pub trait BackupSource: Send + Sync + fmt::Debug {
    /// The engine.
    fn engine(&self) -> Engine;

    /// A full physical backup.
    async fn full(&self) -> Result<BackupStream>;

    /// An incremental physical backup on top of `base` (the record of the previous full or
    /// incremental backup of this database, whose labels carry what the tool needs).
    async fn incremental(&self, base: &BackupRecord) -> Result<BackupStream>;

    /// A logical dump.
    async fn dump(&self) -> Result<BackupStream>;

    /// The closed log files after `since` (the end of the last archived one), oldest first; all
    /// closed ones when `None`. With `rotate`, the current log is closed first so that recent
    /// changes are included.
    async fn closed_logs(&self, since: Option<&Position>, rotate: bool) -> Result<ClosedLogs>;
}

/// Closed log files and what keeps them readable (a temporary directory for fetched copies).
#[derive(Debug, Default)]
pub struct ClosedLogs {
    /// The files, oldest first.
    pub files: Vec<LogFile>,
    /// Keeps fetched copies until the caller is done with them.
    pub(crate) _spool: Option<tempfile::TempDir>,
}

/// Where a restore reads backup contents from (a Tern repository, in practice).
#[async_trait]
pub trait ArtifactSource: Send + Sync {
    /// Writes entry `entry` of `backup` to `writer`; returns the bytes written.
    async fn copy_to(
        &self,
        backup: &BackupRecord,
        entry: &str,
        writer: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64>;
}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// The restored data directory.
    pub data_dir: PathBuf,
    /// Bytes read from the repository (backups and logs).
    pub bytes_read: u64,
    /// How long each step took, in order.
    pub steps: Vec<(String, Duration)>,
    /// What the database said about where it stopped, when it said something.
    pub stopped: Option<String>,
}

impl RestoreReport {
    pub(crate) fn step(&mut self, name: impl Into<String>, started: std::time::Instant) {
        self.steps.push((name.into(), started.elapsed()));
    }
}

/// A place a restore plan is applied to: a new data directory, made ready to start.
#[async_trait]
pub trait RestoreTarget: Send + Sync + fmt::Debug {
    /// The engine.
    fn engine(&self) -> Engine;

    /// Checks that `plan` can be applied (engine, kinds, an empty target) without doing any work.
    fn check(&self, plan: &RestorePlan) -> Result<()>;

    /// Applies `plan`, reading backups and logs from `artifacts`.
    async fn restore(&self, plan: &RestorePlan, artifacts: &dyn ArtifactSource) -> Result<RestoreReport>;
}
