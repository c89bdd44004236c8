//! Around the pass: replication settings (pause, resume, disable), continuous mode with
//! back-off, the bandwidth limit, and server-side copies between prefixes of one bucket.

#![allow(clippy::float_cmp, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)] // small exact values

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use tern_replicator::{Replicator, ServerSideCopy, Skipped, WatchEvent, WatchOptions, config};
use tern_storage::Location;
use tern_storage::testing::conformance::pattern;
use tern_storage::testing::{Fault, FaultStore, Op};
use tokio::sync::mpsc;

mod common;
use common::*;

async fn one_backup(repo: &tern_engine::Repository, service: &str, seed: u64) -> tern_engine::BackupId {
    let mut w = repo.backup(service).options(small_packs()).start().await.unwrap();
    w.add_entry("data", &pattern(1_500_000, seed)[..], None).await.unwrap();
    w.commit().await.unwrap().id
}

/// The next event; the bounded wait keeps a broken watcher from hanging the suite (it measures
/// nothing).
async fn next(events: &mut mpsc::UnboundedReceiver<WatchEvent>) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(60), events.recv()).await.expect("an event").expect("running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_or_disabled_service_is_skipped_with_its_reason_and_keeps_its_copies() {
    let eu = primary(Location::memory("settings-eu").open().unwrap()).await;
    let first = one_backup(&eu, "db1", 1).await;
    let other = one_backup(&eu, "db2", 2).await;
    let replicator = Replicator::new(eu.clone(), Location::memory("settings-us").open().unwrap()).await.unwrap();
    config::enable(&eu, "db1", &["us-east".into()]).await.unwrap();
    assert_eq!(replicator.pass(None).await.unwrap().records_copied, 2);

    config::pause(&eu, "db1", "moving the bucket").await.unwrap();
    let second = one_backup(&eu, "db1", 3).await;
    let third_other = one_backup(&eu, "db2", 4).await;
    let report = replicator.pass(None).await.unwrap();
    assert_eq!(report.skipped, [Skipped { service: "db1".into(), reason: "paused: moving the bucket".into() }]);
    assert_eq!(report.records_copied, 1, "db2 has no settings: it still replicates");
    let held = listed(replicator.secondary()).await;
    assert!(held.contains(&first.to_string()) && held.contains(&other.to_string()));
    assert!(held.contains(&third_other.to_string()) && !held.contains(&second.to_string()));
    // Lag is still measured while paused, and shows the backup waiting.
    let (_, sample) = replicator.pass_and_measure("db1").await.unwrap();
    assert_eq!(sample.pending_objects, 1);

    config::resume(&eu, "db1").await.unwrap();
    assert_eq!(replicator.pass(Some("db1")).await.unwrap().records_copied, 1, "resuming needs no downtime");

    config::disable(&eu, "db1").await.unwrap();
    one_backup(&eu, "db1", 5).await;
    let report = replicator.pass(Some("db1")).await.unwrap();
    assert_eq!((report.records_copied, report.skipped[0].reason.as_str()), (0, "disabled"));
    assert!(listed(replicator.secondary()).await.contains(&second.to_string()), "disabling keeps what was copied");
    assert_consistent(replicator.secondary()).await;

    // Pausing needs a reason, and a disabled service cannot be paused or resumed.
    assert_eq!(config::pause(&eu, "db1", " ").await.unwrap_err().to_string(), "a pause needs a reason");
    assert_eq!(
        config::resume(&eu, "db1").await.unwrap_err().to_string(),
        "replication of db1 is disabled; enable it instead"
    );
    let enabled = config::enable(&eu, "db1", &[]).await.unwrap();
    assert_eq!(enabled.secondaries, ["us-east"], "enabling again keeps the recorded secondaries");

    // A service without settings is enabled, so it can be paused straight away.
    assert_eq!(config::held_back(&eu, "db3").await.unwrap(), None);
    let paused = config::pause(&eu, "db3", "audit").await.unwrap();
    assert_eq!((paused.enabled, paused.paused.as_deref()), (true, Some("audit")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_copies_new_backups_and_backs_off_while_the_secondary_fails() {
    let eu = primary(Location::memory("watch-eu").open().unwrap()).await;
    one_backup(&eu, "db1", 1).await;
    let fault = FaultStore::new(Location::memory("watch-us").open().unwrap());
    let replicator = Replicator::new(eu.clone(), Arc::new(fault.clone())).await.unwrap();
    let options = WatchOptions { interval: Duration::from_millis(20), max_backoff: Duration::from_millis(80) };
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let replicator = replicator.clone();
        tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            replicator.watch(Some("db1"), &options, move |e| drop(events_tx.send(e)), stop).await;
        })
    };
    let WatchEvent::Pass { report, lag, next_pass_in_secs } = next(&mut events).await else { panic!("a pass") };
    assert_eq!(report.records_copied, 1);
    assert_eq!(lag.unwrap().lag_secs, 0.0);
    assert!((next_pass_in_secs - 0.02).abs() < 1e-9);

    // The secondary starts failing: the watcher reports each failure and backs off, doubling
    // up to the cap.
    fault.inject(Fault::fail(Op::Put));
    let new = one_backup(&eu, "db1", 2).await;
    let mut failures = Vec::new();
    while failures.len() < 4 {
        match next(&mut events).await {
            WatchEvent::Failed { failures: n, retry_in_secs, error } => {
                assert!(error.contains("injected"), "{error}");
                failures.push((n, (retry_in_secs * 1000.0).round() as u64));
            }
            WatchEvent::Pass { report, .. } => assert_eq!(report.records_copied, 0, "nothing lands while failing"),
        }
    }
    assert_eq!(failures, [(1, 40), (2, 80), (3, 80), (4, 80)]);
    // It recovers by itself once the secondary works again.
    fault.clear();
    loop {
        if let WatchEvent::Pass { report, next_pass_in_secs, .. } = next(&mut events).await
            && report.records_copied == 1
        {
            assert!((next_pass_in_secs - 0.02).abs() < 1e-9, "back to the normal interval");
            break;
        }
    }
    assert!(listed(replicator.secondary()).await.contains(&new.to_string()));
    assert_consistent(replicator.secondary()).await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), watcher).await.expect("stops when asked").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reports_a_paused_service() {
    let eu = primary(Location::memory("watch-paused-eu").open().unwrap()).await;
    one_backup(&eu, "db1", 1).await;
    config::enable(&eu, "db1", &[]).await.unwrap();
    config::pause(&eu, "db1", "maintenance").await.unwrap();
    let replicator = Replicator::new(eu.clone(), Location::memory("watch-paused-us").open().unwrap()).await.unwrap();
    let options = WatchOptions { interval: Duration::from_secs(3600), ..WatchOptions::default() };
    let mut seen = Vec::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let stop = async {
        let _ = rx.await;
    };
    replicator
        .watch(
            Some("db1"),
            &options,
            |e| {
                seen.push(e);
                tx.take().map(|t| t.send(()));
            },
            stop,
        )
        .await;
    let [WatchEvent::Pass { report, lag, .. }] = &seen[..] else { panic!("{seen:?}") };
    assert_eq!(report.skipped[0].reason, "paused: maintenance");
    assert_eq!(lag.as_ref().unwrap().pending_objects, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_bandwidth_limit_spaces_uploads() {
    let eu = primary(Location::memory("limit-eu").open().unwrap()).await;
    one_backup(&eu, "db1", 1).await;
    let replicator = Replicator::new(eu.clone(), Location::memory("limit-us").open().unwrap())
        .await
        .unwrap()
        .with_bandwidth_limit(100_000);
    // Virtual time: the limiter's sleeps advance the clock instantly, so the test measures the
    // schedule the limit imposes, not this machine's speed.
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let report = replicator.pass(None).await.unwrap();
    let elapsed = started.elapsed();
    let index = eu.manifest_index(&listed_ids(&eu).await[0]).await.unwrap();
    let largest = index.packs.iter().map(|p| p.size).max().unwrap();
    // Every transfer but the last waited for the ones before it at 100 kB/s.
    let floor = Duration::from_secs_f64((report.bytes_copied - largest) as f64 / 100_000.0);
    assert!(report.bytes_copied > 1_000_000 && elapsed >= floor, "{elapsed:?} < {floor:?} for {report:?}");
    assert!(elapsed < floor + Duration::from_secs_f64(largest as f64 / 100_000.0) + Duration::from_secs(1));
}

async fn listed_ids(repo: &tern_engine::Repository) -> Vec<tern_engine::BackupId> {
    repo.list_backups(None).await.unwrap().into_iter().map(|r| r.id).collect()
}

/// Two prefixes of one store: packs copy server-side, and only manifests pass through.
async fn server_side_pair(root: Arc<dyn ObjectStore>, from: &str, to: &str) {
    let counted = FaultStore::new(Arc::clone(&root));
    let eu_store: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(Arc::clone(&root), from));
    let us_store: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(Arc::clone(&root), to));
    let eu = primary(eu_store).await;
    let (ids, data) = history(&eu).await;
    let copy = ServerSideCopy { root: Arc::new(counted.clone()), from: Path::from(from), to: Path::from(to) };
    let replicator = Replicator::new(eu.clone(), Arc::clone(&us_store)).await.unwrap().with_server_side_copy(copy);
    let report = replicator.pass(None).await.unwrap();
    assert!(report.packs_copied > 0 && report.server_side_copies == report.packs_copied, "{report:?}");
    assert_eq!(counted.calls(Op::Copy), report.packs_copied);
    let manifests: u64 = futures::future::join_all(ids.iter().map(|id| eu.manifest_bytes(id)))
        .await
        .into_iter()
        .map(|m| m.unwrap().len() as u64)
        .sum();
    assert_eq!(report.bytes_copied, manifests, "only manifests were uploaded");
    assert_consistent(replicator.secondary()).await;
    let us = tern_engine::Repository::open(us_store, Some(&key())).await.unwrap();
    for (id, data) in ids.iter().zip(&data) {
        assert!(restore(&us, id).await == *data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_copy_in_one_local_store() {
    let dir = tempfile::tempdir().unwrap();
    server_side_pair(Location::local(dir.path()).open().unwrap(), "eu", "us").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_copy_in_one_s3_bucket() {
    let Some(s3) = tern_storage::testing::real_server("TEST_S3_URL") else { return };
    let unique = format!("{:016x}", rand_id());
    let eu = Location::parse(&format!("{s3}/ssc-{unique}/eu")).unwrap();
    let us = Location::parse(&format!("{s3}/ssc-{unique}/us")).unwrap();
    let (root, from, to) = eu.shared_bucket(&us).expect("one bucket");
    server_side_pair(root.open().unwrap(), from.as_ref(), to.as_ref()).await;
}

/// Services spawn replication work: every public future must be `Send` for any borrow.
#[test]
fn public_futures_are_send() {
    fn spawnable<T: Send>(_: &T) {}
    async fn all(r: &Replicator, repo: &tern_engine::Repository, id: &tern_engine::BackupId) {
        let plan = tern_replicator::secondary::plan(repo, "db1", &tern_catalog::RestoreTarget::Latest);
        spawnable(&plan);
        let options = tern_replicator::copy::CopyOptions::default();
        spawnable(&tern_replicator::copy::copy_backup(repo, repo, id, &options));
        spawnable(&r.pass(Some("db1")));
        spawnable(&r.pass_and_measure("db1"));
        spawnable(&r.watch(None, &WatchOptions::default(), |_| {}, std::future::pending()));
        spawnable(&config::pause(repo, "db1", "x"));
        spawnable(&tern_replicator::lag::report(repo, "db1", tern_replicator::lag::Period::Day, chrono::Utc::now()));
    }
    let _ = all; // compiling is the test
}
