//! How times, targets and states read in messages and tables.

use chrono::{DateTime, SecondsFormat, Utc};
use tern_catalog::{BackupStatus, RestoreTarget};

/// RFC 3339 in UTC, with as many fractional digits as the time has (`2026-03-04T10:30:00Z`).
pub(crate) fn time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A target as a message names it.
pub(crate) fn target_text(target: &RestoreTarget) -> String {
    match target {
        RestoreTarget::Latest => "the latest point".to_owned(),
        RestoreTarget::Time(time) => time_text(time),
        RestoreTarget::Position(position) => position.to_string(),
        RestoreTarget::Backup(id) => format!("backup {id}"),
    }
}

/// A status, with a failure's reason.
pub(crate) fn status_text(status: &BackupStatus) -> String {
    match status {
        BackupStatus::Failed { reason } => format!("failed ({reason})"),
        other => other.name().to_owned(),
    }
}
