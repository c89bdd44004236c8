//! Restoring in the secondary region: plans made only from what the secondary holds, and a
//! target it has not received yet refused with the replication lag named.
//!
//! A restore (or a fork) in the secondary reads only the secondary's repository, so it works
//! with the primary region gone and never touches it.

use chrono::{DateTime, Utc};
use tern_catalog::{BackupFilter, CatalogExt, Paging, RestoreTarget};
use tern_engine::Repository;
use tern_pitr::{PlanError, RestorePlan};

use crate::lag::{self, LagSample, Period};

/// Why a restore cannot be planned in the secondary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecondaryPlanError {
    /// The target is past what has been replicated here: the primary may reach it, this region
    /// cannot yet.
    #[error("{}", not_replicated(.target, .replicated_end.as_ref(), .lag))]
    NotReplicatedYet {
        /// What was asked for.
        target: RestoreTarget,
        /// The latest time this region can restore to, if any.
        replicated_end: Option<DateTime<Utc>>,
        /// The latest lag measurement stored here.
        lag: LagSample,
    },
    /// The planner refused for another reason (the same one it would give in the primary).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The repository could not be read.
    #[error(transparent)]
    Engine(#[from] tern_engine::Error),
}

fn not_replicated(target: &RestoreTarget, end: Option<&DateTime<Utc>>, lag: &LagSample) -> String {
    let target = match target {
        RestoreTarget::Latest => "latest".to_owned(),
        RestoreTarget::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        RestoreTarget::Position(p) => p.to_string(),
        RestoreTarget::Backup(id) => format!("backup {id}"),
    };
    let end = end.map_or_else(
        || "nothing is restorable here yet".to_owned(),
        |e| format!("this region restores up to {}", e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    let pending = match lag.pending_objects {
        1 => "1 backup".to_owned(),
        n => format!("{n} backups"),
    };
    format!(
        "target {target} has not been replicated to this region: {end}; replication lag is {:.0} s \
         with {pending} ({} bytes) pending, measured {}",
        lag.lag_secs,
        lag.pending_bytes,
        lag.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// Plans a restore of `service` in `secondary` from what it holds. A target the planner cannot
/// reach here while the last lag sample says the secondary is behind (lag or pending backups)
/// is refused as [`SecondaryPlanError::NotReplicatedYet`].
pub async fn plan(
    secondary: &Repository,
    service: &str,
    target: &RestoreTarget,
) -> Result<RestorePlan, SecondaryPlanError> {
    let catalog = secondary.catalog();
    let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
    let records = catalog.list_backups(&filter, Paging::all()).await.map_err(tern_engine::Error::from)?.items;
    let segments = catalog.list_segments(service).await.map_err(tern_engine::Error::from)?;
    let planned = tern_pitr::plan(&records, &segments, target);
    let behind = |e: &PlanError| {
        matches!(e, PlanError::PastArchivedEnd { .. } | PlanError::BackupNotFound { .. } | PlanError::NoBase { .. })
    };
    match planned {
        Ok(plan) => Ok(plan),
        Err(e) if behind(&e) => {
            let latest = lag::report(secondary, service, Period::Hour, Utc::now()).await?.current;
            match latest {
                Some(lag) if lag.lag_secs > 0.0 || lag.pending_objects > 0 => {
                    let replicated_end = tern_pitr::recovery_windows(&records, &segments).iter().map(|w| w.end).max();
                    Err(SecondaryPlanError::NotReplicatedYet { target: target.clone(), replicated_end, lag })
                }
                _ => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}
