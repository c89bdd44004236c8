//! The catalog's records.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{BackupId, RestoreId, ScheduleId};

/// A point in a database's change history, totally ordered across engines' native forms.
///
/// MariaDB maps to (binlog file index, byte offset) and keeps the file name and GTID;
/// PostgreSQL maps to (timeline, LSN) and keeps both. Ordering and equality use only
/// `(major, minor)`; the native form is carried for the restore step and for display.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// MariaDB: binlog file index; PostgreSQL: timeline.
    pub major: u64,
    /// MariaDB: byte offset in the binlog file; PostgreSQL: LSN.
    pub minor: u64,
    /// The engine's own form.
    pub native: NativePosition,
}

/// A position as its database names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "engine", rename_all = "snake_case")]
pub enum NativePosition {
    /// A MariaDB/MySQL binlog position.
    Mariadb {
        /// The binlog file, e.g. `mysql-bin.000042`.
        file: String,
        /// Byte offset in it.
        offset: u64,
        /// The GTID position there, if known (e.g. `0-1-1234`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gtid: Option<String>,
    },
    /// A PostgreSQL WAL position.
    Postgres {
        /// Timeline.
        timeline: u32,
        /// LSN, as PostgreSQL prints it (`16/B374D848`).
        lsn: String,
    },
    /// A position given only by its two numbers.
    Generic,
}

impl Position {
    /// A MariaDB position: `file` must end in a numeric extension (`mysql-bin.000042`).
    pub fn mariadb(file: &str, offset: u64, gtid: Option<String>) -> Result<Self, String> {
        let index = file.rsplit_once('.').and_then(|(_, ext)| ext.parse::<u64>().ok()).ok_or_else(|| {
            format!("`{file}` is not a binlog file name (expected a numeric extension, e.g. mysql-bin.000042)")
        })?;
        Ok(Self {
            major: index,
            minor: offset,
            native: NativePosition::Mariadb { file: file.to_owned(), offset, gtid },
        })
    }

    /// A PostgreSQL position from a timeline and an LSN in `X/Y` hex form.
    pub fn postgres(timeline: u32, lsn: &str) -> Result<Self, String> {
        let (hi, lo) = lsn.split_once('/').ok_or_else(|| format!("`{lsn}` is not an LSN (expected X/Y in hex)"))?;
        let hi = u64::from_str_radix(hi, 16).map_err(|_| format!("`{lsn}` is not an LSN (expected X/Y in hex)"))?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| format!("`{lsn}` is not an LSN (expected X/Y in hex)"))?;
        if hi > u64::from(u32::MAX) || lo > u64::from(u32::MAX) {
            return Err(format!("`{lsn}` is not an LSN (each half is at most 8 hex digits)"));
        }
        let value = (hi << 32) | lo;
        Ok(Self {
            major: u64::from(timeline),
            minor: value,
            native: NativePosition::Postgres { timeline, lsn: format!("{hi:X}/{lo:X}") },
        })
    }

    /// A position given by its two numbers only.
    pub fn generic(major: u64, minor: u64) -> Self {
        Self { major, minor, native: NativePosition::Generic }
    }

    /// Parses the text forms the CLI accepts: `mariadb:FILE:OFFSET[:GTID]`, `postgres:TL:X/Y`,
    /// or `MAJOR:MINOR`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{text}` is not a position (mariadb:FILE:OFFSET[:GTID], postgres:TIMELINE:X/Y, or MAJOR:MINOR)")
        };
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            ["mariadb", file, offset] => Self::mariadb(file, offset.parse().map_err(|_| bad())?, None),
            ["mariadb", file, offset, gtid] => {
                Self::mariadb(file, offset.parse().map_err(|_| bad())?, Some((*gtid).to_owned()))
            }
            ["postgres", tl, lsn] => Self::postgres(tl.parse().map_err(|_| bad())?, lsn),
            [major, minor] => Ok(Self::generic(major.parse().map_err(|_| bad())?, minor.parse().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }

    fn key(&self) -> (u64, u64) {
        (self.major, self.minor)
    }
}

impl PartialEq for Position {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Position {}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.native {
            NativePosition::Mariadb { file, offset, gtid: Some(g) } => write!(f, "{file}:{offset} (GTID {g})"),
            NativePosition::Mariadb { file, offset, gtid: None } => write!(f, "{file}:{offset}"),
            NativePosition::Postgres { timeline, lsn } => write!(f, "timeline {timeline}, LSN {lsn}"),
            NativePosition::Generic => write!(f, "{}:{}", self.major, self.minor),
        }
    }
}

/// A point that is consistent: a time and, where known, the log position at that time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistentPoint {
    /// The time.
    pub time: DateTime<Utc>,
    /// The position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// What a backup is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    /// A full physical backup.
    Full,
    /// An incremental physical backup on top of its parent.
    Incremental,
    /// A logical dump.
    Dump,
    /// An archived log segment (binlog file, WAL segment).
    Log,
}

impl fmt::Display for BackupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
            Self::Dump => "dump",
            Self::Log => "log",
        })
    }
}

/// Where a backup is in its life: `scheduled` → `running` → `succeeded` | `failed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BackupStatus {
    /// Due, not started.
    Scheduled,
    /// Writing data; not restorable.
    Running,
    /// Every byte it needs is stored: restorable.
    Succeeded,
    /// It stopped; the reason says why.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

impl BackupStatus {
    /// The state's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed { .. } => "failed",
        }
    }
}

/// Sizes of a backup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sizes {
    /// Bytes read from the source.
    pub logical_bytes: u64,
    /// Bytes of all blobs it references.
    pub stored_bytes: u64,
    /// Bytes it added to the repository.
    pub new_bytes: u64,
}

/// A backup, of any kind, in any state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRecord {
    /// The id.
    pub id: BackupId,
    /// The service (database) it belongs to.
    pub service: String,
    /// What it is.
    pub kind: BackupKind,
    /// Where it is in its life.
    pub status: BackupStatus,
    /// The backup an incremental applies on top of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<BackupId>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it ended (succeeded or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<DateTime<Utc>>,
    /// The point the restored database is consistent at (backups); the start of the segment (logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<ConsistentPoint>,
    /// Sizes.
    #[serde(default)]
    pub sizes: Sizes,
    /// The manifest's path in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The region whose repository holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An archived log segment: a closed binlog file or a WAL segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSegment {
    /// The id of the backup that stores its bytes (kind `log`).
    pub id: BackupId,
    /// The service.
    pub service: String,
    /// Its native name, e.g. `mysql-bin.000042` or `000000010000000000000003`.
    pub name: String,
    /// Position of its first event.
    pub start_position: Position,
    /// Position just past its last event. Consecutive segments meet exactly: one's end is the
    /// next one's start (for a rotated MariaDB binlog, the next file's first position,
    /// `mysql-bin.000043:4`), which is how the planner tells a continuous history from a gap.
    pub end_position: Position,
    /// Time of its first event.
    pub start_time: DateTime<Utc>,
    /// Time of its last event.
    pub end_time: DateTime<Utc>,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// The region whose repository holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// When a schedule runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScheduleSpec {
    /// Once, at this time.
    Once(DateTime<Utc>),
    /// A 5-field cron expression, in UTC.
    Cron(String),
}

/// A backup schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    /// The id.
    pub id: ScheduleId,
    /// The service.
    pub service: String,
    /// What to run.
    pub kind: BackupKind,
    /// When.
    pub spec: ScheduleSpec,
    /// Whether it is active.
    pub enabled: bool,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When its timing or state last changed: runs due before this are not caught up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

/// What a restore goes back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RestoreTarget {
    /// The latest recoverable point.
    Latest,
    /// A point in time.
    Time(DateTime<Utc>),
    /// A log position.
    Position(Position),
    /// Exactly one backup.
    Backup(BackupId),
}

/// A restore job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestoreJob {
    /// The id.
    pub id: RestoreId,
    /// The service restored.
    pub service: String,
    /// To what.
    pub target: RestoreTarget,
    /// Where it is in its life (same states as backups).
    pub status: BackupStatus,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<DateTime<Utc>>,
    /// The region it restores from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Where the restored data goes (a new data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// A repository outside the configured regions it restores from (its location's display
    /// form, which never carries credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_source: Option<String>,
    /// The backups (and log backups) the plan reads, base first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<BackupId>,
}

/// Cross-region replication of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplicationConfig {
    /// The service.
    pub service: String,
    /// Secondary regions.
    pub secondaries: Vec<String>,
    /// Whether replication runs.
    pub enabled: bool,
    /// Paused, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}
