//! The replication pass: completeness, resumability at every step, dedup, damage, and a
//! cross-provider pair on real servers.

use std::collections::BTreeSet;
use std::sync::Arc;

use object_store::ObjectStoreExt;
use tern_catalog::{BackupFilter, CatalogExt, Paging};
use tern_engine::Repository;
use tern_replicator::Replicator;
use tern_storage::Location;
use tern_storage::testing::conformance::pattern;
use tern_storage::testing::{Fault, FaultStore, Op};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_regions() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let eu = primary(Location::local(dirs.0.path()).open().unwrap()).await;
    let (ids, data) = history(&eu).await;
    let replicator = Replicator::new(eu.clone(), Location::local(dirs.1.path()).open().unwrap()).await.unwrap();
    let report = replicator.pass(None).await.unwrap();
    assert_eq!((report.records_copied, report.segments_copied), (3, 1), "{report:?}");
    assert!(report.damaged.is_empty());
    assert_eq!(listed(replicator.secondary()).await, listed(&eu).await);
    assert_consistent(replicator.secondary()).await;
    // The secondary has the segment record too, so the planner works there.
    assert_eq!(replicator.secondary().catalog().list_segments("db1").await.unwrap().len(), 1);
    // Restores from the secondary are byte-identical.
    let us = Repository::open(Location::local(dirs.1.path()).open().unwrap(), Some(&key())).await.unwrap();
    for (id, data) in ids.iter().zip(&data) {
        assert!(restore(&us, id).await == *data);
    }
    // A second pass has nothing to do.
    let again = replicator.pass(None).await.unwrap();
    assert_eq!((again.records_copied, again.packs_copied, again.bytes_copied), (0, 0, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_across_regions_moves_only_new_packs() {
    let eu = primary(Location::memory("dedup-eu").open().unwrap()).await;
    let data = pattern(3 << 20, 9).to_vec();
    let mut w = eu.backup("db1").options(small_packs()).start().await.unwrap();
    w.add_entry("data", &data[..], None).await.unwrap();
    let first = w.commit().await.unwrap();
    let replicator = Replicator::new(eu.clone(), Location::memory("dedup-us").open().unwrap()).await.unwrap();
    replicator.pass(None).await.unwrap();

    let mut changed = data.clone();
    changed.extend_from_slice(&pattern(500_000, 10));
    let mut w = eu.backup("db1").parent(first.id.clone()).options(small_packs()).start().await.unwrap();
    w.add_entry("data", &changed[..], None).await.unwrap();
    let second = w.commit().await.unwrap();

    let report = replicator.pass(None).await.unwrap();
    let first_packs: BTreeSet<_> =
        eu.manifest_index(&first.id).await.unwrap().packs.into_iter().map(|p| p.id).collect();
    let second_index = eu.manifest_index(&second.id).await.unwrap();
    let new: Vec<_> = second_index.packs.iter().filter(|p| !first_packs.contains(&p.id)).collect();
    let manifest = eu.manifest_bytes(&second.id).await.unwrap().len() as u64;
    assert_eq!(report.packs_copied, new.len() as u64, "{report:?}");
    assert_eq!(report.packs_present, (second_index.packs.len() - new.len()) as u64);
    assert_eq!(report.bytes_copied, new.iter().map(|p| p.size).sum::<u64>() + manifest, "only the new packs moved");
    assert!(report.bytes_copied < second.stats.stored_bytes, "less than the whole backup moved: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_killed_at_any_step_converges_when_rerun() {
    // Count the secondary's puts in a clean pass.
    let eu = primary(Location::memory("kill-eu").open().unwrap()).await;
    history(&eu).await;
    let probe = FaultStore::new(Location::memory("kill-probe").open().unwrap());
    let replicator = Replicator::new(eu.clone(), Arc::new(probe.clone())).await.unwrap();
    let before = probe.calls(Op::Put);
    replicator.pass(None).await.unwrap();
    let puts = probe.calls(Op::Put) - before;
    assert!(puts >= 8, "packs, manifests and records: {puts}");

    for n in 1..=puts {
        let fault = FaultStore::new(Location::memory(format!("kill-us-{n}")).open().unwrap());
        let replicator = Replicator::new(eu.clone(), Arc::new(fault.clone())).await.unwrap();
        fault.inject(Fault::fail(Op::Put).from_nth(n)); // counts puts after injection: the pass's
        assert!(replicator.pass(None).await.is_err(), "put #{n} failed, so the pass must fail");
        // Killed after some step: whatever is listed is complete.
        assert_consistent(replicator.secondary()).await;
        fault.clear();
        replicator.pass(None).await.unwrap();
        assert_eq!(listed(replicator.secondary()).await, listed(&eu).await, "put #{n}");
        assert_consistent(replicator.secondary()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_pack_in_the_primary_is_reported_and_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let eu = primary(Location::local(dir.path()).open().unwrap()).await;
    let (ids, _) = history(&eu).await;
    // Damage a pack only the second backup uses.
    let first: BTreeSet<_> = eu.manifest_index(&ids[0]).await.unwrap().packs.into_iter().map(|p| p.id).collect();
    let only_second =
        eu.manifest_index(&ids[1]).await.unwrap().packs.into_iter().find(|p| !first.contains(&p.id)).unwrap();
    let file = dir.path().join(tern_engine::pack::pack_path(&only_second.id).to_string());
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let replicator = Replicator::new(eu.clone(), Location::memory("damaged-us").open().unwrap()).await.unwrap();
    let report = replicator.pass(None).await.unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!((&report.damaged[0].backup, report.damaged[0].pack), (&ids[1], only_second.id));
    assert!(report.damaged[0].detail.contains("does not match its id"), "{report:?}");
    let secondary = listed(replicator.secondary()).await;
    assert!(secondary.contains(&ids[0].to_string()) && secondary.contains(&ids[2].to_string()));
    assert!(!secondary.contains(&ids[1].to_string()), "a backup with a damaged pack is not published");
    let path = tern_engine::pack::pack_path(&only_second.id);
    assert!(replicator.secondary().store().head(&path).await.is_err(), "the damaged pack was not copied");
    assert_consistent(replicator.secondary()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_to_azure() {
    let (Some(s3), Some(az)) =
        (tern_storage::testing::real_server("TEST_S3_URL"), tern_storage::testing::real_server("TEST_AZURE_URL"))
    else {
        return;
    };
    let unique = format!("{:016x}", rand_id());
    let eu = primary(Location::parse(&format!("{s3}/replicate-{unique}")).unwrap().open().unwrap()).await;
    let (ids, data) = history(&eu).await;
    let us_store = Location::parse(&format!("{az}/replicate-{unique}")).unwrap().open().unwrap();
    let replicator = Replicator::new(eu.clone(), Arc::clone(&us_store)).await.unwrap();
    let report = replicator.pass(Some("db1")).await.unwrap();
    assert_eq!(report.records_copied, 3, "{report:?}");
    assert_consistent(replicator.secondary()).await;
    let filter = BackupFilter::default();
    let secondary_records = replicator.secondary().catalog().list_backups(&filter, Paging::all()).await.unwrap().items;
    let primary_records = eu.catalog().list_backups(&filter, Paging::all()).await.unwrap().items;
    assert_eq!(secondary_records, primary_records, "the catalogs match");
    let us = Repository::open(us_store, Some(&key())).await.unwrap();
    for (id, data) in ids.iter().zip(&data) {
        assert!(restore(&us, id).await == *data);
    }
}

#[tokio::test]
async fn a_secondary_holding_another_repository_is_refused() {
    let eu = primary(Location::memory("other-eu").open().unwrap()).await;
    let other = primary(Location::memory("other-us").open().unwrap()).await;
    let err = Replicator::new(eu.clone(), Location::memory("other-us").open().unwrap()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the secondary holds another repository (id {}, the primary is {}): a replica must start empty",
            other.config().repo_id,
            eu.config().repo_id
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_whose_primary_reads_fail_at_any_step_converges_when_rerun() {
    let eu_fault = FaultStore::new(Location::memory("readfail-eu").open().unwrap());
    let eu = primary(Arc::new(eu_fault.clone())).await;
    history(&eu).await;
    // Count the primary's reads in a clean pass.
    let probe = Replicator::new(eu.clone(), Location::memory("readfail-probe").open().unwrap()).await.unwrap();
    let before = eu_fault.calls(Op::Get);
    probe.pass(None).await.unwrap();
    let gets = eu_fault.calls(Op::Get) - before;
    assert!(gets >= 6, "records, manifests and packs are read: {gets}");

    for n in 1..=gets {
        let replicator =
            Replicator::new(eu.clone(), Location::memory(format!("readfail-us-{n}")).open().unwrap()).await.unwrap();
        eu_fault.inject(Fault::fail(Op::Get).nth(n));
        let result = replicator.pass(None).await;
        eu_fault.clear();
        // Killed (or not) after some read: whatever is listed is complete.
        assert!(result.is_err(), "read #{n} failed, so the pass must fail");
        assert_consistent(replicator.secondary()).await;
        replicator.pass(None).await.unwrap();
        assert_eq!(listed(replicator.secondary()).await, listed(&eu).await, "read #{n}");
        assert_consistent(replicator.secondary()).await;
    }
}
