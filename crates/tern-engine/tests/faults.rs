//! Storage that fails: whichever write fails, a backup is either committed whole or not
//! visible at all, its debris is collected by gc once (and only once) it is old enough, and the
//! retry restores byte-exact. Reads that fail or come back short stop a restore with an error;
//! they never produce wrong or silently short output.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use common::{
    SMALL_CHUNKS, backup_one, encrypted_options, files_under, list_paths, memory_store, passphrase, random_bytes,
    restore_one, small_packs, unencrypted_options,
};
use futures::stream::BoxStream;
use tern_engine::manifest::manifest_path;
use tern_engine::pack::pack_path;
use tern_engine::{BackupOptions, Error, GcOptions, Repository, UserKey, VerifyMode};
use tern_storage::object_store::path::Path;
use tern_storage::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use tern_storage::testing::{Fault, FaultStore, Op};
use tern_storage::{Location, RetryPolicy, RetryStore};
use tokio::io::{AsyncRead, ReadBuf};

/// A repository on a fault-injecting `memory://` store.
struct FaultRepo {
    fault: FaultStore,
    store: Arc<dyn ObjectStore>,
    repo: Repository,
    key: Option<UserKey>,
}

async fn fault_repo(encrypted: bool) -> FaultRepo {
    let fault = FaultStore::new(memory_store("faults"));
    let store: Arc<dyn ObjectStore> = Arc::new(fault.clone());
    let (options, key) = if encrypted {
        (encrypted_options(SMALL_CHUNKS), Some(passphrase()))
    } else {
        (unencrypted_options(SMALL_CHUNKS), None)
    };
    let repo = Repository::init(Arc::clone(&store), options).await.expect("init");
    FaultRepo { fault, store, repo, key }
}

/// 3.5 MiB of random data: four packs of 1 MiB.
fn data() -> Vec<u8> {
    random_bytes(7, 3_500_000)
}

/// Fails the `n`-th put of a backup, for every `n`, and checks what is left and how it is
/// cleaned up.
async fn every_failed_put_leaves_nothing_visible(encrypted: bool) {
    let data = data();

    // A clean run, to count the puts of this backup.
    let clean = fault_repo(encrypted).await;
    let before = clean.fault.calls(Op::Put);
    let record = backup_one(&clean.repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let puts = clean.fault.calls(Op::Put) - before;
    let packs = record.stats.new_packs;
    assert!(packs >= 3, "several packs: {:?}", record.stats);
    assert_eq!(puts, packs + 3, "the running record, one put per pack, the manifest, the succeeded record");

    for n in 1..=puts {
        let FaultRepo { fault, store, repo, key } = fault_repo(encrypted).await;
        fault.inject(Fault::fail(Op::Put).nth(n));
        let err = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap_err();
        let expected = if n == 1 || n == packs + 3 {
            "catalog/db1/backups/"
        } else if n <= packs + 1 {
            "packs/"
        } else {
            "manifests/"
        };
        match &err {
            Error::Storage { op, path, source } => {
                assert_eq!(*op, "write", "put #{n}");
                assert!(path.starts_with(expected), "put #{n} failed on {path}, expected one under {expected}");
                assert!(source.to_string().contains("injected fault: Put call"), "put #{n}: {source}");
            }
            Error::Catalog(tern_catalog::Error::Storage { key, source, .. }) => {
                assert!(key.starts_with(expected), "put #{n} failed on {key}, expected one under {expected}");
                assert!(source.to_string().contains("injected fault: Put call"), "put #{n}: {source}");
            }
            other => panic!("put #{n}: expected a storage error, got {other:?}"),
        }

        // Nothing is visible: no backup listed; any record says running or failed, never
        // succeeded (a failure after the record was created marks it failed, with the reason).
        assert!(repo.list_backups(None).await.unwrap().is_empty(), "put #{n}");
        let all = tern_catalog::CatalogExt::list_backups(
            &repo.catalog(),
            &tern_catalog::BackupFilter::default(),
            tern_catalog::Paging::all(),
        )
        .await
        .unwrap()
        .items;
        assert!(all.iter().all(|r| r.status != tern_catalog::BackupStatus::Succeeded), "put #{n}: {all:?}");
        // Whatever is listed as succeeded has every byte it needs (quick verify, no key).
        let listed = repo.verify(&[], tern_engine::VerifyMode::Quick).await.unwrap();
        assert!(listed.is_ok(), "put #{n}: {:?}", listed.problems);
        if n == 1 {
            assert!(all.is_empty(), "the running record itself failed to write");
        } else if n == packs + 2 {
            // The manifest failed inside `commit`: the record says failed, with the reason.
            assert!(
                matches!(&all[0].status, tern_catalog::BackupStatus::Failed { reason } if reason.contains("injected fault")),
                "put #{n}: {all:?}"
            );
        }
        let debris = list_paths(&store, None).await;

        // The retry succeeds and restores byte-exact.
        fault.clear();
        let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
        let listed: Vec<_> = repo.list_backups(None).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, std::slice::from_ref(&record.id), "put #{n}");
        let reopened = Repository::open(Arc::clone(&store), key.as_ref()).await.unwrap();
        assert!(restore_one(&reopened, &record.id, None).await.unwrap() == data, "put #{n}");

        // What the failed attempt left: every pack and manifest no committed backup references.
        let index = repo.manifest_index(&record.id).await.unwrap();
        let live_packs: BTreeSet<String> = index.packs.iter().map(|p| pack_path(&p.id).to_string()).collect();
        let live_manifest = manifest_path(&record.id).to_string();
        let all = list_paths(&store, None).await;
        assert!(debris.is_subset(&all), "put #{n}: the retry removed nothing");
        let orphan_packs: BTreeSet<String> =
            list_paths(&store, Some("packs")).await.difference(&live_packs).cloned().collect();
        let orphan_manifests: BTreeSet<String> =
            list_paths(&store, Some("manifests")).await.into_iter().filter(|m| *m != live_manifest).collect();
        assert!(live_packs.iter().all(|p| all.contains(p)), "put #{n}");
        if n > packs + 1 && encrypted {
            // Every pack of the failed attempt was stored, and (random nonces) differs from
            // the retry's.
            assert_eq!(orphan_packs.len() as u64, packs, "put #{n}");
        }
        // Only a failure of the final record update leaves a stored manifest behind.
        assert_eq!(orphan_manifests.len(), usize::from(n == packs + 3), "put #{n}: {orphan_manifests:?}");

        // Young debris is kept...
        let report = repo.gc(GcOptions { grace: Duration::from_secs(3600), dry_run: false }).await.unwrap();
        assert!(report.packs.is_empty() && report.manifests.is_empty(), "put #{n}: {report:?}");
        assert_eq!(report.young, (orphan_packs.len() + orphan_manifests.len()) as u64, "put #{n}");
        assert_eq!((report.live_backups, report.live_packs), (1, live_packs.len() as u64));
        assert_eq!(list_paths(&store, None).await, all, "put #{n}: nothing deleted");

        // ...and with no grace period, exactly the debris goes.
        let report = repo.gc(GcOptions { grace: Duration::ZERO, dry_run: false }).await.unwrap();
        assert!(report.deleted);
        assert_eq!(report.young, 0);
        let collected: BTreeSet<String> = report.packs.iter().map(|g| g.path.clone()).collect();
        assert_eq!(collected, orphan_packs, "put #{n}");
        let collected: BTreeSet<String> = report.manifests.iter().map(|g| g.path.clone()).collect();
        assert_eq!(collected, orphan_manifests, "put #{n}");
        let left: BTreeSet<String> =
            all.iter().filter(|p| !orphan_packs.contains(*p) && !orphan_manifests.contains(*p)).cloned().collect();
        assert_eq!(list_paths(&store, None).await, left, "put #{n}");

        // The committed backup is untouched.
        assert!(restore_one(&reopened, &record.id, None).await.unwrap() == data, "put #{n}");
        let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
        let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
        assert!(report.is_ok(), "put #{n}: {:?}", report.problems);
        assert_eq!((report.backups, report.packs), (1, live_packs.len() as u64));
        let report = reopened.verify(&[], VerifyMode::Deep).await.unwrap();
        assert!(report.is_ok(), "put #{n}: {:?}", report.problems);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_put_at_any_step_leaves_nothing_visible_encrypted() {
    every_failed_put_leaves_nothing_visible(true).await;
}

/// Unencrypted, the retry writes byte-identical packs (the store answers `AlreadyExists`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_put_at_any_step_leaves_nothing_visible_unencrypted() {
    every_failed_put_leaves_nothing_visible(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_stops_the_backup_early() {
    let FaultRepo { fault, store, repo, .. } = fault_repo(true).await;
    // The running record is written; every put after it fails.
    fault.inject(Fault::fail(Op::Put).from_nth(2));
    let data = random_bytes(3, 8 << 20);
    let err = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap_err();
    assert!(matches!(&err, Error::Storage { op: "write", path, .. } if path.starts_with("packs/")), "{err:?}");
    // The backup stopped at the first failed upload instead of reading everything: at most the
    // uploads already running (and the packs being filled) were attempted, not all eight.
    let pack_puts = fault.calls(Op::Put) - 2; // less tern.json and the running record
    assert!(pack_puts <= 5, "{pack_puts} puts");
    let paths = list_paths(&store, None).await;
    assert_eq!(paths.len(), 2, "tern.json and the (running) record only: {paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("catalog/db1/backups/")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_during_restore_is_an_error() {
    let FaultRepo { fault, repo, .. } = fault_repo(true).await;
    let data = data();
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();

    for (f, prefix) in [
        (Fault::fail(Op::Get).under("packs/").nth(2), "packs/"),
        (Fault::fail(Op::Get).under("manifests/"), "manifests/"),
    ] {
        fault.clear();
        fault.inject(f);
        let mut out = Vec::new();
        let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
        match &err {
            Error::Storage { op, path, source } => {
                assert_eq!(*op, "read");
                assert!(path.starts_with(prefix), "{path}");
                assert!(source.to_string().contains("injected fault: Get call"), "{source}");
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
        assert!(out.len() < data.len() && data.starts_with(&out), "a prefix only: {} bytes", out.len());
    }

    // Restoring to a directory leaves neither the file nor a partial file.
    fault.clear();
    fault.inject(Fault::fail(Op::Get).under("packs/").nth(3));
    let dir = tempfile::tempdir().unwrap();
    let err = repo.restore(&record.id).to_directory(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::Storage { op: "read", .. }), "{err:?}");
    assert!(files_under(dir.path()).is_empty(), "{:?}", files_under(dir.path()));

    // Verification reports it instead of passing.
    fault.clear();
    fault.inject(Fault::fail(Op::Get).under("packs/").nth(1));
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!((problem.backup.as_ref(), problem.entry.as_deref()), (Some(&record.id), Some("dump")));
    assert!(problem.detail.contains("injected fault: Get call"), "{problem}");
    fault.clear();
    fault.inject(Fault::fail(Op::Get).under("packs/").nth(1));
    let report = repo.verify(&[], VerifyMode::Quick).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].pack.is_some() && report.problems[0].detail.starts_with("cannot read: "));

    // The fault gone, all is well.
    fault.clear();
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_reads_of_packs_fail_the_restore() {
    let FaultRepo { fault, store, repo, .. } = fault_repo(true).await;
    let data = data();
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let index = repo.manifest_index(&record.id).await.unwrap();
    fault.inject(Fault::truncate_reads(100).under("packs/"));

    let mut out = Vec::new();
    let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
    match &err {
        Error::DamagedChunk { backup, entry, pack, reason, .. } => {
            assert_eq!(backup, &record.id);
            assert_eq!(entry, "dump");
            assert!(index.packs.iter().any(|p| p.id == *pack));
            assert!(reason.starts_with("pack is truncated (read 88 of "), "{reason}");
        }
        other => panic!("expected DamagedChunk, got {other:?}"),
    }
    assert!(out.is_empty(), "nothing of a truncated read is written ({} bytes)", out.len());

    // Quick verify, without the key, names every pack and its sizes.
    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert_eq!(report.problems.len(), index.packs.len(), "{:?}", report.problems);
    for p in &index.packs {
        let problem = report.problems.iter().find(|q| q.pack == Some(p.id)).expect("each pack named");
        assert_eq!(problem.detail, format!("size is 100 bytes, expected {} (truncated?)", p.size));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_on_read_never_reaches_the_output() {
    let FaultRepo { fault, store, repo, .. } = fault_repo(true).await;
    let data = data();
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let (index, body) = repo.manifest(&record.id).await.unwrap();

    // The third chunk of the entry: flip a byte in the middle of its blob.
    let ci = body.entries[0].chunks[2] as usize;
    let chunk = index.chunks[ci];
    let pack = index.packs[chunk.pack as usize].id;
    let path = pack_path(&pack).to_string();
    fault.inject(Fault::flip_byte(chunk.offset + u64::from(chunk.length) / 2).under(path));

    let mut out = Vec::new();
    let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
    match &err {
        Error::DamagedChunk { chunk: c, pack: p, offset, reason, .. } => {
            assert_eq!((c, p, *offset), (&chunk.id, &pack, chunk.offset));
            assert!(reason.starts_with("CRC32 mismatch"), "{reason}");
        }
        other => panic!("expected DamagedChunk, got {other:?}"),
    }
    let before: u64 = body.entries[0].chunks[..2].iter().map(|&c| u64::from(index.chunks[c as usize].raw_len)).sum();
    assert!(out.len() as u64 <= before && data.starts_with(&out), "{} bytes written", out.len());

    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert!(report.problems.iter().any(|p| p.chunk == Some(chunk.id) && p.pack == Some(pack)), "{:?}", report.problems);
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].chunk, Some(chunk.id));
}

/// A reader that yields `data`, then fails.
struct FailingReader {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.pos >= self.data.len() {
            return Poll::Ready(Err(io::Error::other("disk vanished")));
        }
        let n = buf.remaining().min(self.data.len() - self.pos).min(64 << 10);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

fn four_workers() -> BackupOptions {
    BackupOptions { cpu_workers: 4, ..small_packs() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_reader_fails_its_entry_with_the_reason() {
    let FaultRepo { repo, .. } = fault_repo(true).await;
    let data = random_bytes(9, 2 << 20);
    let mut writer = repo.backup("db1").options(four_workers()).start().await.unwrap();
    let err = writer.add_entry("dump", FailingReader { data: data.clone(), pos: 0 }, None).await.unwrap_err();
    match &err {
        Error::Io { context, source } => {
            assert_eq!(context, "reading entry `dump`");
            assert_eq!(source.to_string(), "disk vanished");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "reading entry `dump`: disk vanished");

    // Other entries can still be added and committed; the failed one is not in the backup.
    let other = random_bytes(10, 300_000);
    writer.add_entry("other", &other[..], None).await.unwrap();
    let record = writer.commit().await.unwrap();
    assert_eq!(record.stats.entries, 1);
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_whose_reader_failed_can_be_added_again() {
    let FaultRepo { repo, .. } = fault_repo(true).await;
    let data = random_bytes(9, 2 << 20);
    let mut writer = repo.backup("db1").options(four_workers()).start().await.unwrap();
    let err = writer.add_entry("dump", FailingReader { data: data.clone(), pos: 0 }, None).await.unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");

    // The caller retries the entry from a working source, then commits.
    writer.add_entry("dump", &data[..], None).await.unwrap();
    let record = writer.commit().await.expect("a retried entry commits");
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);
}

/// Sets a file's modification time.
fn age(path: &std::path::Path, by: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_never_sweeps_packs_a_running_backup_stored_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Location::local(dir.path()).open().unwrap();
    let repo = Repository::init(Arc::clone(&store), unencrypted_options(SMALL_CHUNKS)).await.unwrap();
    let data = random_bytes(11, 2_500_000);

    // Two days ago, a backup stored its packs and manifest, then crashed before committing.
    let mut writer = repo.backup("db1").options(small_packs()).start().await.unwrap();
    writer.add_entry("dump", &data[..], None).await.unwrap();
    writer.finish().await.unwrap();
    let packs = list_paths(&store, Some("packs")).await;
    assert!(packs.len() >= 2);
    for p in list_paths(&store, None).await.iter().filter(|p| !p.starts_with("tern.json")) {
        age(&dir.path().join(p), Duration::from_secs(2 * 24 * 3600));
    }

    // Today a backup of the same (unchanged) data stores the very same packs...
    let mut writer = repo.backup("db1").options(small_packs()).start().await.unwrap();
    writer.add_entry("dump", &data[..], None).await.unwrap();
    let finished = writer.finish().await.unwrap();
    assert_eq!(list_paths(&store, Some("packs")).await, packs, "identical packs");

    // ...and a gc with the default 24-hour grace period runs before it commits.
    let report = repo.gc(GcOptions { dry_run: false, ..GcOptions::default() }).await.unwrap();
    repo.commit(&finished).await.unwrap();
    assert!(report.packs.is_empty(), "gc deleted packs of a running backup: {:?}", report.packs);
    assert!(restore_one(&repo, &finished.record.id, None).await.unwrap() == data);
}

#[tokio::test]
async fn a_failed_record_write_is_retryable_by_committing_again() {
    let FaultRepo { fault, store, repo, key } = fault_repo(true).await;
    let data = random_bytes(12, 500_000);
    let mut writer = repo.backup("db1").options(small_packs()).start().await.unwrap();
    writer.add_entry("dump", &data[..], None).await.unwrap();
    let finished = writer.finish().await.unwrap();

    fault.inject(Fault::fail(Op::Put).under("catalog/").nth(1));
    let err = repo.commit(&finished).await.unwrap_err();
    assert!(
        matches!(&err, Error::Catalog(tern_catalog::Error::Storage { key, .. }) if key.starts_with("catalog/db1/backups/")),
        "{err:?}"
    );
    assert!(repo.list_backups(None).await.unwrap().is_empty());

    // The data is stored: committing the same record again makes the backup visible.
    repo.commit(&finished).await.unwrap();
    assert_eq!(repo.list_backups(None).await.unwrap(), vec![finished.record.clone()]);
    // Committing the same record again is idempotent (a retried write that had landed)...
    repo.commit(&finished).await.unwrap();
    // ...but different content under the same id is a conflict: the record moved on.
    let mut other = finished.clone();
    other.record.labels.insert("tampered".into(), "yes".into());
    let err = repo.commit(&other).await.unwrap_err();
    assert!(matches!(err, Error::Catalog(tern_catalog::Error::Conflict(_))), "{err:?}");
    assert_eq!(repo.list_backups(None).await.unwrap(), vec![finished.record.clone()]);
    let repo = Repository::open(store, key.as_ref()).await.unwrap();
    assert!(restore_one(&repo, &finished.record.id, None).await.unwrap() == data);
    let path = Path::from(format!("catalog/db1/backups/{}.json", finished.record.id));
    assert!(repo.store().head(&path).await.is_ok());
}

/// A store whose first put under `prefix` lands but reports a transient failure, like a request
/// that timed out after the server stored the object.
struct LandsThenFails {
    inner: Arc<dyn ObjectStore>,
    prefix: &'static str,
    fired: AtomicBool,
}

impl std::fmt::Display for LandsThenFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LandsThenFails({})", self.inner)
    }
}

impl std::fmt::Debug for LandsThenFails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LandsThenFails").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ObjectStore for LandsThenFails {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await?;
        if location.as_ref().starts_with(self.prefix) && !self.fired.swap(true, Ordering::SeqCst) {
            return Err(object_store::Error::Generic { store: "LandsThenFails", source: "request timed out".into() });
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_write_that_had_landed_does_not_fail_the_backup() {
    for prefix in ["catalog/", "manifests/"] {
        let inner = LandsThenFails { inner: memory_store("lands"), prefix, fired: AtomicBool::new(false) };
        let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(1));
        let store: Arc<dyn ObjectStore> = Arc::new(RetryStore::new(inner, policy));
        let repo = Repository::init(Arc::clone(&store), encrypted_options(SMALL_CHUNKS)).await.unwrap();
        let data = random_bytes(13, 300_000);

        let result = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await;
        let listed = repo.list_backups(None).await.unwrap();
        match &result {
            Ok(record) => assert_eq!(listed, std::slice::from_ref(&record.record)),
            Err(e) => assert!(listed.is_empty(), "{prefix}: the backup failed ({e}) but is committed: {listed:?}"),
        }
        let record = result.unwrap_or_else(|e| panic!("{prefix}: the write landed, yet the backup failed: {e}"));
        assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);
    }
}
