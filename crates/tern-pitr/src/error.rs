//! Why a restore cannot be planned, said exactly.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use tern_catalog::{BackupId, BackupKind, BackupStatus, Position, RestoreTarget};

use crate::text::{status_text, target_text, time_text};

/// A backup's consistent point, as an error names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupPoint {
    /// The backup.
    pub id: BackupId,
    /// Its kind (full, dump or incremental).
    pub kind: BackupKind,
    /// Its consistent time.
    pub time: DateTime<Utc>,
    /// Its consistent position.
    pub position: Position,
}

/// Why a chain of incrementals cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChainBreak {
    /// The incremental names no parent.
    NoParent,
    /// The parent is not in the catalog (deleted, or never recorded).
    NotInCatalog,
    /// The parent did not succeed.
    NotSucceeded {
        /// The parent's status.
        status: BackupStatus,
    },
    /// The parent is a dump, and a dump cannot take incrementals.
    ParentIsDump,
    /// The parent is an archived log segment.
    ParentIsLog,
    /// The parent is already in the chain: the links loop.
    Cycle,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoParent => f.write_str("names no parent"),
            Self::NotInCatalog => f.write_str("is not in the catalog"),
            Self::NotSucceeded { status } => write!(f, "has status {}", status_text(status)),
            Self::ParentIsDump => f.write_str("is a dump (a dump cannot take incrementals)"),
            Self::ParentIsLog => f.write_str("is an archived log segment"),
            Self::Cycle => f.write_str("is already in the chain (the parent links loop)"),
        }
    }
}

/// Why a restore cannot be planned. Each message names what is missing and where.
///
/// Serializes as an object with a stable `code` (the variant's name in snake case), the
/// `message`, and the variant's fields, so an API can return it as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(remote = "Self", tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanError {
    /// No full backup or dump (with a consistent time and position) at or before the target.
    #[error("{}", no_base(.target, .earliest.as_ref()))]
    NoBase {
        /// What was asked for.
        target: RestoreTarget,
        /// The earliest point a restore can start from, if there is any (it is after the target).
        earliest: Option<BackupPoint>,
    },
    /// The target is before the service's first backup and first archived log.
    #[error("target {} is before the first backup; the earliest restorable point is {}", target_text(.target), point_text(.target, .first))]
    BeforeFirstBackup {
        /// What was asked for.
        target: RestoreTarget,
        /// The earliest point a restore can start from.
        first: BackupPoint,
    },
    /// The logs needed to reach the target have a gap: nothing is archived between two positions.
    #[error("{}", log_gap(.target, .from, .to, .after_segment.as_deref(), .before_segment))]
    LogGap {
        /// What was asked for.
        target: RestoreTarget,
        /// Where the archived logs stop (the end of `after_segment`, or the backup's position).
        from: Position,
        /// Where they resume (the start of `before_segment`).
        to: Position,
        /// The segment before the gap, if any.
        after_segment: Option<String>,
        /// The segment after the gap.
        before_segment: String,
    },
    /// The target is after the last archived event the backups and logs can reach.
    #[error(
        "target {} is after the archived end {} ({}); the logs stop there",
        target_text(.target),
        time_text(.archived_end_time),
        .archived_end_position
    )]
    PastArchivedEnd {
        /// What was asked for.
        target: RestoreTarget,
        /// The time of the last event a restore can reach.
        archived_end_time: DateTime<Utc>,
        /// The position just past it.
        archived_end_position: Position,
    },
    /// No backup has the id.
    #[error("backup {id} is not in the catalog")]
    BackupNotFound {
        /// The id asked for.
        id: BackupId,
    },
    /// The backup exists but did not succeed.
    #[error("backup {id} cannot be restored: its status is {}", status_text(.status))]
    NotRestorable {
        /// The backup.
        id: BackupId,
        /// Its status.
        status: BackupStatus,
    },
    /// The id is an archived log segment's, not a backup's.
    #[error("{id} is an archived log segment, not a backup; restore to a time or position it covers instead")]
    NotABackup {
        /// The id asked for.
        id: BackupId,
    },
    /// A link in the backup's chain of incrementals is broken.
    #[error("{}", broken_chain(.id, .incremental, .missing_parent.as_ref(), .reason))]
    BrokenChain {
        /// The backup asked for.
        id: BackupId,
        /// The incremental whose parent link is broken (`id` itself, or one below it).
        incremental: BackupId,
        /// The parent it names, if it names one.
        missing_parent: Option<BackupId>,
        /// What is wrong with the parent.
        reason: ChainBreak,
    },
}

impl PlanError {
    /// The stable code of the error: the variant's name in snake case (`log_gap`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoBase { .. } => "no_base",
            Self::BeforeFirstBackup { .. } => "before_first_backup",
            Self::LogGap { .. } => "log_gap",
            Self::PastArchivedEnd { .. } => "past_archived_end",
            Self::BackupNotFound { .. } => "backup_not_found",
            Self::NotRestorable { .. } => "not_restorable",
            Self::NotABackup { .. } => "not_a_backup",
            Self::BrokenChain { .. } => "broken_chain",
        }
    }
}

impl Serialize for PlanError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The derived form (`code` and fields), through serde's `remote = "Self"`.
        struct Fields<'e>(&'e PlanError);
        impl Serialize for Fields<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                PlanError::serialize(self.0, serializer)
            }
        }
        #[derive(Serialize)]
        struct WithMessage<'e> {
            #[serde(flatten)]
            fields: Fields<'e>,
            message: String,
        }
        WithMessage { fields: Fields(self), message: self.to_string() }.serialize(serializer)
    }
}

/// A point as the target's kind reads it: a time for time targets, a position for positions.
fn point_text(target: &RestoreTarget, point: &BackupPoint) -> String {
    match target {
        RestoreTarget::Position(_) => format!("{} ({})", point.position, point.id),
        _ => format!("{} ({})", time_text(&point.time), point.id),
    }
}

fn no_base(target: &RestoreTarget, earliest: Option<&BackupPoint>) -> String {
    let head = match target {
        RestoreTarget::Latest | RestoreTarget::Backup(_) => "no full backup or dump to restore from".to_owned(),
        _ => format!("no full backup or dump at or before {}", target_text(target)),
    };
    match earliest {
        Some(point) => format!("{head}; the earliest is {}", point_text(target, point)),
        None => format!("{head}; there is none at all"),
    }
}

fn log_gap(target: &RestoreTarget, from: &Position, to: &Position, after: Option<&str>, before: &str) -> String {
    let around = match after {
        Some(after) => format!("after segment {after}, before segment {before}"),
        None => format!("before segment {before}"),
    };
    format!(
        "log gap: nothing is archived between {from} and {to} ({around}); restoring to {} needs that range",
        target_text(target)
    )
}

fn broken_chain(id: &BackupId, incremental: &BackupId, parent: Option<&BackupId>, reason: &ChainBreak) -> String {
    match parent {
        Some(parent) => {
            format!("backup {id} cannot be restored: incremental {incremental} needs parent {parent}, which {reason}")
        }
        None => format!("backup {id} cannot be restored: incremental {incremental} {reason}"),
    }
}
