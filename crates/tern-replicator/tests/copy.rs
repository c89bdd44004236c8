//! Copy on demand: closures (parents, logs up to the next backup), byte copies into a clone,
//! re-encryption into a repository with other keys, interruption, and damage.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use tern_catalog::{CatalogExt, RestoreTarget};
use tern_engine::{BackupId, InitOptions, KdfParams, Repository, UserKey};
use tern_replicator::copy::{self, CopyMode, CopyOptions};
use tern_storage::Location;
use tern_storage::testing::{Fault, FaultStore, Op};

mod common;
use common::*;

fn fast(key: &UserKey) -> InitOptions {
    InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key.clone()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_brings_its_parents_and_logs_up_to_the_next_backup() {
    let eu = primary(Location::memory("copy-closure-eu").open().unwrap()).await;
    let c = chain(&eu).await;
    let last = c.incrementals[1].clone();
    let closure: Vec<BackupId> =
        copy::closure(&eu, &last, true).await.unwrap().into_iter().map(|(r, _)| r.id).collect();
    // Parents oldest first, the backup, then the logs from its point (hour 4) to the next
    // full (hour 6): the segments of hours 4..5 and 5..6.
    let mut expected = vec![c.full.clone(), c.incrementals[0].clone(), last.clone()];
    expected.extend(c.logs_before[4..6].iter().cloned());
    assert_eq!(closure, expected);
    // Without logs: just the chain. A full: just itself.
    let no_logs: Vec<_> = copy::closure(&eu, &last, false).await.unwrap().into_iter().map(|(r, _)| r.id).collect();
    assert_eq!(no_logs, expected[..3]);
    let full: Vec<_> = copy::closure(&eu, &c.next_full, true).await.unwrap().into_iter().map(|(r, _)| r.id).collect();
    assert_eq!(full, [c.next_full.clone(), c.logs_before[6].clone(), c.log_after.clone()], "logs to the newest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_an_empty_location_packs_copy_as_bytes_and_restore_identically() {
    let eu = primary(Location::memory("copy-bytes-eu").open().unwrap()).await;
    let c = chain(&eu).await;
    let to_store = Location::memory("copy-bytes-us").open().unwrap();
    let to = copy::destination(&eu, to_store.clone(), None).await.unwrap();
    let last = c.incrementals[1].clone();
    let report =
        copy::copy_backup(&eu, &to, &last, &CopyOptions { with_logs: true, ..Default::default() }).await.unwrap();
    assert_eq!(report.mode, CopyMode::Bytes);
    assert_eq!(report.copied.len(), 5, "{report:?}");
    assert_eq!(report.segments_copied, 2);
    assert!(report.packs_present > 0, "the chain shares chunks, so later backups find packs present");
    assert_consistent(&to).await;
    let us = Repository::open(to_store, Some(&key())).await.unwrap();
    for id in &report.copied {
        assert!(restore(&us, id).await == c.data[id], "{id}");
        assert_eq!(us.record(id).await.unwrap(), eu.record(id).await.unwrap(), "records copy unchanged");
    }
    // The planner works in the copy: recover to hour 5 from the incremental and the logs.
    let target = RestoreTarget::Time(eu.record(&last).await.unwrap().consistent.unwrap().time + Duration::hours(1));
    let plan = tern_replicator::secondary::plan(&us, "db1", &target).await.unwrap();
    assert_eq!(plan.base.id, c.full);
    assert_eq!(plan.incrementals.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), c.incrementals);
    // Copying again finds everything there.
    let again = copy::copy_backup(&eu, &to, &last, &CopyOptions::default()).await.unwrap();
    assert_eq!((again.copied.len(), again.already_present.len(), again.bytes_copied), (0, 3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_a_repository_with_other_keys_chunks_are_reencrypted() {
    let eu = primary(Location::memory("copy-reenc-eu").open().unwrap()).await;
    let c = chain(&eu).await;
    let theirs = UserKey::passphrase("the user's own key");
    let bucket_store = Location::memory("copy-reenc-bucket").open().unwrap();
    Repository::init(bucket_store.clone(), fast(&theirs)).await.unwrap();

    // Opened without its key, the destination cannot take a re-encrypted copy.
    let locked = copy::destination(&eu, bucket_store.clone(), None).await.unwrap();
    let err = copy::copy_backup(&eu, &locked, &c.full, &CopyOptions::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the destination has other keys, so the copy is re-encrypted: both repositories must be unlocked, and the \
         destination is not"
    );
    // The wrong key is refused when opening.
    assert!(copy::destination(&eu, bucket_store.clone(), Some(&key())).await.is_err());

    let to = copy::destination(&eu, bucket_store.clone(), Some(&theirs)).await.unwrap();
    let last = c.incrementals[1].clone();
    let report =
        copy::copy_backup(&eu, &to, &last, &CopyOptions { with_logs: true, ..Default::default() }).await.unwrap();
    assert_eq!((report.mode, report.copied.len(), report.segments_copied), (CopyMode::Reencrypted, 5, 2));
    // Nothing of the source's packs is in the destination: every blob was encrypted again.
    let source_packs: BTreeSet<_> = eu.manifest_index(&c.full).await.unwrap().packs.into_iter().map(|p| p.id).collect();
    let copied_packs: BTreeSet<_> = to.manifest_index(&c.full).await.unwrap().packs.into_iter().map(|p| p.id).collect();
    assert!(source_packs.is_disjoint(&copied_packs));
    // The incremental deduplicated against its copied parent in the destination.
    let inc = to.record(&c.incrementals[0]).await.unwrap();
    assert!(inc.sizes.new_bytes < inc.sizes.stored_bytes / 2, "{:?}", inc.sizes);
    // Same ids, kinds, parents, points, times; restores byte-identical with the destination's key.
    let check = Repository::open(bucket_store, Some(&theirs)).await.unwrap();
    for id in &report.copied {
        let (a, b) = (eu.record(id).await.unwrap(), check.record(id).await.unwrap());
        assert_eq!(
            (&a.kind, &a.parent, &a.consistent, a.started, a.finished),
            (&b.kind, &b.parent, &b.consistent, b.started, b.finished)
        );
        assert!(restore(&check, id).await == c.data[id], "{id}");
    }
    assert_eq!(check.catalog().list_segments("db1").await.unwrap().len(), 2);
    let report = check.verify(&[], tern_engine::VerifyMode::Deep).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_reencrypting_copy_publishes_nothing_and_finishes_when_rerun() {
    let eu = primary(Location::memory("copy-kill-eu").open().unwrap()).await;
    let c = chain(&eu).await;
    let theirs = UserKey::passphrase("theirs");
    let fault = FaultStore::new(Location::memory("copy-kill-bucket").open().unwrap());
    Repository::init(Arc::new(fault.clone()), fast(&theirs)).await.unwrap();
    let to = copy::destination(&eu, Arc::new(fault.clone()), Some(&theirs)).await.unwrap();
    // Fail the 4th write from here: the full is copied, the first incremental is cut off.
    fault.inject(Fault::fail(Op::Put).from_nth(4));
    let last = c.incrementals[1].clone();
    assert!(copy::copy_backup(&eu, &to, &last, &CopyOptions::default()).await.is_err());
    fault.clear();
    let visible: Vec<_> = to.list_backups(None).await.unwrap().into_iter().map(|r| r.id).collect();
    assert!(!visible.contains(&last), "nothing half-copied is visible: {visible:?}");
    let report = copy::copy_backup(&eu, &to, &last, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.copied.len() + report.already_present.len(), 3, "{report:?}");
    for id in [&c.full, &c.incrementals[0], &last] {
        assert!(restore(&to, id).await == c.data[id]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_pack_stops_the_copy_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let eu = primary(Location::local(dir.path()).open().unwrap()).await;
    let c = chain(&eu).await;
    let pack = eu.manifest_index(&c.next_full).await.unwrap().packs[0].id;
    let file = dir.path().join(tern_engine::pack::pack_path(&pack).to_string());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&file, bytes).unwrap();
    let to = copy::destination(&eu, Location::memory("copy-damaged-us").open().unwrap(), None).await.unwrap();
    let err = copy::copy_backup(&eu, &to, &c.next_full, &CopyOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains(&format!("pack {pack} is damaged in the source")), "{err}");
    assert!(to.list_backups(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_and_unfinished_backups_are_refused() {
    let eu = primary(Location::memory("copy-refuse-eu").open().unwrap()).await;
    let to = copy::destination(&eu, Location::memory("copy-refuse-us").open().unwrap(), None).await.unwrap();
    let missing = BackupId::new();
    let err = copy::copy_backup(&eu, &to, &missing, &CopyOptions::default()).await.unwrap_err();
    assert_eq!(err.to_string(), format!("backup {missing} is not in the source repository"));
    let writer = eu.backup("db1").start().await.unwrap();
    let running = writer.id().clone();
    let err = copy::copy_backup(&eu, &to, &running, &CopyOptions::default()).await.unwrap_err();
    assert_eq!(err.to_string(), format!("backup {running} cannot be copied: its status is running"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_bandwidth_limit_paces_a_reencrypting_copy() {
    let eu = primary(Location::memory("copy-limit-eu").open().unwrap()).await;
    let data = tern_storage::testing::conformance::pattern(2 << 20, 5).to_vec();
    let mut w = eu.backup("db1").start().await.unwrap();
    w.add_entry("data", &data[..], None).await.unwrap();
    let id = w.commit().await.unwrap().id;
    let theirs = UserKey::passphrase("theirs");
    let to = Repository::init(Location::memory("copy-limit-bucket").open().unwrap(), fast(&theirs)).await.unwrap();
    // Virtual time, moved by hand (the backup pipeline's blocking hasher stops tokio from
    // advancing it by itself): 2 MiB at 500 kB/s cannot finish before the clock reaches the last
    // read's turn, however fast this machine is, and each step leaves real time for the work.
    tokio::time::pause();
    let copy = {
        let (eu, to, id) = (eu.clone(), to.clone(), id.clone());
        let options = CopyOptions { bandwidth_limit: Some(500_000), ..CopyOptions::default() };
        tokio::spawn(async move { copy::copy_backup(&eu, &to, &id, &options).await })
    };
    let step = std::time::Duration::from_millis(100);
    let floor = std::time::Duration::from_secs_f64(f64::from((2u32 << 20) - (256 << 10)) / 500_000.0);
    let mut clock = std::time::Duration::ZERO;
    let real_pause = || tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    while clock + step < floor {
        tokio::time::advance(step).await;
        clock += step;
        real_pause().await.unwrap();
        assert!(!copy.is_finished(), "finished at {clock:?} of virtual time, before {floor:?}");
    }
    while !copy.is_finished() {
        tokio::time::advance(step).await;
        real_pause().await.unwrap();
    }
    let report = copy.await.unwrap().unwrap();
    assert_eq!(report.mode, CopyMode::Reencrypted);
    assert!(restore(&to, &id).await == data);
}
