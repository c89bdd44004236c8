//! The whole flow against a real S3 server (moto, started by `scripts/object-stores.sh`):
//! init → backup (several packs) → restore → quick and deep verify → an incremental backup →
//! an uncommitted backup's debris → gc with and without a grace period.
//!
//! Skipped (with a note) when `TEST_S3_URL` is unset, unless the test command requires the real
//! servers.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{
    SMALL_CHUNKS, backup_one, encrypted_options, list_paths, mixed_bytes, passphrase, restore_one, small_packs,
};
use tern_engine::manifest::manifest_path;
use tern_engine::pack::pack_path;
use tern_engine::{Error, GcOptions, Repository, VerifyMode};
use tern_storage::Location;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_restore_verify_and_gc_on_s3() {
    let Some(location) = tern_storage::testing::real_server("TEST_S3_URL") else { return };
    let location = Location::parse(&format!("{location}/engine-{:016x}", rand::random::<u64>())).unwrap();
    let store = location.open().unwrap();

    let repo = Repository::init(Arc::clone(&store), encrypted_options(SMALL_CHUNKS)).await.unwrap();
    let err = Repository::init(Arc::clone(&store), encrypted_options(SMALL_CHUNKS)).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyInitialized { .. }), "{err:?}");

    // A backup of several packs, restored from a fresh open.
    let (data, _) = mixed_bytes(1, 3 << 20, [4, 4, 1]);
    let first = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    assert!(first.stats.new_packs >= 2, "{:?}", first.stats);
    let repo = Repository::open(Arc::clone(&store), Some(&passphrase())).await.unwrap();
    assert!(restore_one(&repo, &first.id, None).await.unwrap() == data);

    // An incremental backup stores little.
    let mut changed = data.clone();
    for b in &mut changed[1_000_000..1_050_000] {
        *b = !*b;
    }
    let second = backup_one(&repo, "db1", "dump", &changed, small_packs(), Some(&first.id)).await.unwrap();
    assert!(second.stats.new_bytes <= first.stats.stored_bytes / 2, "{:?} vs {:?}", second.stats, first.stats);
    assert!(restore_one(&repo, &second.id, None).await.unwrap() == changed);

    // Both verify clean: quick without the key, deep with it.
    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.backups, 2);
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.backups, report.chunks), (2, first.stats.chunks + second.stats.chunks));

    // A backup that stored its data but never committed: debris.
    let mut writer = repo.backup("db1").options(small_packs()).start().await.unwrap();
    writer.add_entry("dump", &common::random_bytes(2, 1_500_000)[..], None).await.unwrap();
    let crashed = writer.finish().await.unwrap();
    let listed: Vec<_> = repo.list_backups(None).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(listed, [first.id.clone(), second.id.clone()]);

    let mut live: BTreeSet<String> = BTreeSet::new();
    for id in [&first.id, &second.id] {
        live.extend(repo.manifest_index(id).await.unwrap().packs.iter().map(|p| pack_path(&p.id).to_string()));
    }
    let orphan_packs: BTreeSet<String> = list_paths(&store, Some("packs")).await.difference(&live).cloned().collect();
    assert_eq!(orphan_packs.len() as u64, crashed.stats.new_packs);
    let crashed_manifest = manifest_path(&crashed.record.id).to_string();
    let everything = list_paths(&store, None).await;
    assert!(everything.contains(&crashed_manifest));

    // Young debris stays; with no grace period, exactly the debris goes.
    let report = repo.gc(GcOptions { grace: Duration::from_secs(3600), dry_run: false }).await.unwrap();
    assert!(report.packs.is_empty() && report.manifests.is_empty(), "{report:?}");
    assert_eq!(report.young, orphan_packs.len() as u64 + 1);
    assert_eq!(list_paths(&store, None).await, everything);
    let report = repo.gc(GcOptions { grace: Duration::ZERO, dry_run: false }).await.unwrap();
    assert_eq!(report.packs.iter().map(|g| g.path.clone()).collect::<BTreeSet<_>>(), orphan_packs);
    assert_eq!(
        report.manifests.iter().map(|g| g.path.clone()).collect::<Vec<_>>(),
        std::slice::from_ref(&crashed_manifest)
    );
    assert_eq!(report.live_backups, 2);
    let left: BTreeSet<String> =
        everything.into_iter().filter(|p| !orphan_packs.contains(p) && *p != crashed_manifest).collect();
    assert_eq!(list_paths(&store, None).await, left);

    // The committed backups are untouched.
    for (id, expected) in [(&first.id, &data), (&second.id, &changed)] {
        assert!(restore_one(&repo, id, None).await.unwrap() == *expected);
    }
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);

    // Clean up the prefix.
    let all: Vec<_> = list_paths(&store, None).await.into_iter().collect();
    for path in all {
        tern_storage::object_store::ObjectStoreExt::delete(&*store, &path.as_str().into()).await.unwrap();
    }
}
