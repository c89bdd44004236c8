//! Restoring in the secondary region: plans from what it holds, targets it has not received
//! refused with the lag named, and restores byte-identical to the primary's without touching it.

#![allow(clippy::float_cmp)] // whole seconds, exact in f64

use std::sync::Arc;

use chrono::Duration;
use tern_catalog::RestoreTarget;
use tern_engine::Repository;
use tern_replicator::copy::{self, CopyOptions};
use tern_replicator::secondary::{self, SecondaryPlanError};
use tern_replicator::{Replicator, lag};
use tern_storage::Location;
use tern_storage::testing::{Fault, FaultStore, Op};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_in_the_secondary_stops_at_what_was_replicated_and_matches_the_primary() {
    let eu_store = FaultStore::new(Location::memory("secondary-eu").open().unwrap());
    let eu = primary(Arc::new(eu_store.clone())).await;
    let c = chain(&eu).await;
    let hour = |h: i64| eu_time(&c, h);

    // The secondary has received the full, the first incremental and the logs up to the
    // second incremental (hour 4) when a lag sample is taken.
    let us_store = Location::memory("secondary-us").open().unwrap();
    let replicator = Replicator::new(eu.clone(), Arc::clone(&us_store)).await.unwrap();
    let partial = copy::copy_backup(
        &eu,
        replicator.secondary(),
        &c.incrementals[0],
        &CopyOptions { with_logs: true, ..CopyOptions::default() },
    )
    .await
    .unwrap();
    assert_eq!(partial.copied.len(), 4, "full, incremental, two segments: {partial:?}");
    let sample = lag::measure(&eu, replicator.secondary(), "db1").await.unwrap();
    lag::record(replicator.secondary(), "db1", &sample).await.unwrap();
    assert_eq!(sample.lag_secs, 4.0 * 3600.0, "primary reaches hour 8, secondary hour 4");

    let us = Repository::open(Arc::clone(&us_store), Some(&key())).await.unwrap();
    // Inside what was replicated: planned from the secondary alone.
    let plan = secondary::plan(&us, "db1", &RestoreTarget::Time(hour(2) + Duration::minutes(30))).await.unwrap();
    assert_eq!((plan.base.id.clone(), plan.incrementals.len(), plan.segments.len()), (c.full.clone(), 1, 1));
    // Past it: refused, with the lag named.
    let target = RestoreTarget::Time(hour(4) + Duration::minutes(30));
    let err = secondary::plan(&us, "db1", &target).await.unwrap_err();
    let SecondaryPlanError::NotReplicatedYet { replicated_end, lag, .. } = &err else { panic!("{err}") };
    assert_eq!((*replicated_end, lag), (Some(hour(4)), &sample));
    let text = err.to_string();
    let at = |h: i64| hour(h).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(
        text.starts_with(&format!(
            "target {} has not been replicated to this region: this region restores up to {}; replication lag is 14400 s with {} backups",
            (hour(4) + Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            at(4),
            sample.pending_objects
        )),
        "{text}"
    );
    // The primary plans it.
    let (records, segments) = (
        eu.list_backups(Some("db1")).await.unwrap(),
        tern_catalog::CatalogExt::list_segments(&eu.catalog(), "db1").await.unwrap(),
    );
    assert!(tern_pitr::plan(&records, &segments, &target).is_ok());
    // A backup not replicated yet is named the same way.
    let err = secondary::plan(&us, "db1", &RestoreTarget::Backup(c.next_full.clone())).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("target backup {} has not been replicated", c.next_full)), "{err}");

    // Caught up: the same target plans, from the full, both incrementals and the logs.
    replicator.pass_and_measure("db1").await.unwrap();
    let plan = secondary::plan(&us, "db1", &target).await.unwrap();
    assert_eq!(plan.base.id, c.full);
    assert_eq!(plan.incrementals.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), c.incrementals);
    assert_eq!(plan.segments.len(), 1);

    // With the primary region gone, the secondary restores every step byte-identical to the
    // primary's data, and never calls the primary.
    eu_store.inject(Fault::fail(Op::Get));
    eu_store.inject(Fault::fail(Op::List));
    let before = (eu_store.calls(Op::Get), eu_store.calls(Op::List), eu_store.calls(Op::Head));
    let steps = std::iter::once(&plan.base).chain(&plan.incrementals).map(|r| r.id.clone());
    for id in steps.chain(plan.segments.iter().map(|s| s.id.clone())) {
        assert!(restore(&us, &id).await == c.data[&id], "{id}");
    }
    assert_eq!((eu_store.calls(Op::Get), eu_store.calls(Op::List), eu_store.calls(Op::Head)), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_lag_samples_the_planner_error_is_the_primary_one() {
    let eu = primary(Location::memory("secondary-plain-eu").open().unwrap()).await;
    let c = chain(&eu).await;
    let target = RestoreTarget::Time(eu_time(&c, 20));
    let err = secondary::plan(&eu, "db1", &target).await.unwrap_err();
    assert!(matches!(err, SecondaryPlanError::Plan(tern_pitr::PlanError::PastArchivedEnd { .. })), "{err}");
}

/// The time `h` hours after the chain's first backup.
fn eu_time(c: &Chain, h: i64) -> chrono::DateTime<chrono::Utc> {
    c.start + Duration::hours(h)
}
