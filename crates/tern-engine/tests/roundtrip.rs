//! Backup → restore round trips.
//!
//! - A property test over random data (random, text-like and repetitive bytes, 0 to 3 MiB),
//!   random valid chunk sizes, zstd levels, worker counts, upload concurrency and encryption:
//!   every backup restores byte-exact, and a second backup of slightly changed data, with the
//!   first as parent, stores only a small fraction of what the first stored.
//! - Multi-entry backups, directories (contents and file modes), empty streams, unencrypted
//!   repositories, and the argument checks: entry names, entry selection, options.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use common::{
    SMALL_CHUNKS, backup_one, encrypted_options, files_under, memory_store, mixed_bytes, passphrase, random_bytes,
    restore_one, small_packs, text_bytes, unencrypted_options,
};
use proptest::prelude::*;
use tern_engine::{
    BackupOptions, ChunkerParams, Error, InitOptions, Repository, UserKey, VerifyMode, pack::parse_trailer,
};
use tern_storage::object_store::path::Path;
use tern_storage::object_store::{ObjectStore, ObjectStoreExt};

// ---------------------------------------------------------------------------------------------
// The property test
// ---------------------------------------------------------------------------------------------

/// How the data of a case is made (the data itself is generated from this, so a failing case
/// prints in a few lines).
#[derive(Clone, Debug)]
struct DataSpec {
    seed: u64,
    len: usize,
    /// Weights of random, text-like and repeated-pattern segments.
    weights: [u32; 3],
}

/// The "small change" of the second backup: bytes `pct`% of the data inverted in one run
/// starting at fraction `at`, and `insert_len` new bytes inserted at fraction `insert_at`.
#[derive(Clone, Debug)]
struct Change {
    pct: usize,
    at: f64,
    insert_at: f64,
    insert_len: usize,
    seed: u64,
}

#[derive(Clone, Debug)]
struct Case {
    data: DataSpec,
    chunker: ChunkerParams,
    level: i32,
    cpu_workers: usize,
    upload_concurrency: usize,
    encrypted: bool,
    change: Change,
}

/// An even number in `lo..=hi` (both even), log-uniformly distributed.
fn log_uniform_even(lo: u32, hi: u32) -> impl Strategy<Value = u32> {
    (lo.ilog2()..=hi.ilog2()).prop_flat_map(move |e| {
        let a = (1u32 << e).max(lo);
        let b = (1u32 << e).saturating_mul(2).saturating_sub(1).min(hi);
        (a..=b).prop_map(|x| x & !1)
    })
}

/// Valid chunk sizes with `min <= min_hi`, `avg <= avg_hi`, `max <= max_hi`.
fn chunker(min_hi: u32, avg_hi: u32, max_hi: u32) -> impl Strategy<Value = ChunkerParams> {
    log_uniform_even(64, min_hi).prop_flat_map(move |min| {
        log_uniform_even(min.max(256), avg_hi).prop_flat_map(move |avg| {
            log_uniform_even(avg.max(1024), max_hi).prop_map(move |max| ChunkerParams { min, avg, max })
        })
    })
}

/// Small chunks (where a 1–5% change must dedup well) mostly; any valid sizes sometimes.
fn any_chunker() -> impl Strategy<Value = ChunkerParams> {
    prop_oneof![
        4 => chunker(8 << 10, 16 << 10, 128 << 10),
        1 => chunker(1 << 20, 4 << 20, 16 << 20),
    ]
}

fn data_spec() -> impl Strategy<Value = DataSpec> {
    let len = prop_oneof![
        1 => Just(0usize),
        1 => 0usize..=(64 << 10),
        1 => 0usize..=(3 << 20),
        5 => (1usize << 20)..=(3 << 20),
    ];
    (any::<u64>(), len, 0u32..=10, 0u32..=10, 0u32..=3).prop_map(|(seed, len, random, text, repeated)| DataSpec {
        seed,
        len,
        weights: [random, text, repeated],
    })
}

fn change() -> impl Strategy<Value = Change> {
    (1usize..=5, 0.0..1.0f64, 0.0..1.0f64, 1usize..=64, any::<u64>())
        .prop_map(|(pct, at, insert_at, insert_len, seed)| Change { pct, at, insert_at, insert_len, seed })
}

fn case() -> impl Strategy<Value = Case> {
    (data_spec(), any_chunker(), 1i32..=9, 1usize..=4, 1usize..=4, any::<bool>(), change()).prop_map(
        |(data, chunker, level, cpu_workers, upload_concurrency, encrypted, change)| Case {
            data,
            chunker,
            level,
            cpu_workers,
            upload_concurrency,
            encrypted,
            change,
        },
    )
}

fn apply(data: &[u8], change: &Change) -> Vec<u8> {
    let mut out = data.to_vec();
    if !data.is_empty() {
        let n = (data.len() * change.pct / 100).max(1);
        let start = ((data.len() - n) as f64 * change.at) as usize;
        for b in &mut out[start..start + n] {
            *b = !*b;
        }
    }
    let at = (out.len() as f64 * change.insert_at) as usize;
    let inserted = random_bytes(change.seed, change.insert_len);
    out.splice(at..at, inserted);
    out
}

async fn run_case(case: Case) -> Result<(), TestCaseError> {
    let store = memory_store("roundtrip-prop");
    let (data, repeated) = mixed_bytes(case.data.seed, case.data.len, case.data.weights);
    let (init, key) = if case.encrypted {
        (encrypted_options(case.chunker), Some(passphrase()))
    } else {
        (unencrypted_options(case.chunker), None)
    };
    let repo = Repository::init(Arc::clone(&store), init).await.expect("init");
    let options = BackupOptions {
        level: case.level,
        cpu_workers: case.cpu_workers,
        upload_concurrency: case.upload_concurrency,
        pack_size: 1 << 20,
    };

    let first = backup_one(&repo, "db1", "dump", &data, options.clone(), None).await.expect("first backup");
    prop_assert_eq!(first.stats.logical_bytes, data.len() as u64);
    prop_assert_eq!(first.stats.entries, 1);
    prop_assert_eq!(first.stats.new_bytes, first.stats.stored_bytes, "nothing to dedup against");

    let changed = apply(&data, &case.change);
    let second = backup_one(&repo, "db1", "dump", &changed, options, Some(&first.id)).await.expect("second backup");
    prop_assert_eq!(second.stats.logical_bytes, changed.len() as u64);
    prop_assert!(second.stats.new_bytes <= second.stats.stored_bytes);

    // Restore both from a fresh open, as another process would.
    let reopened = Repository::open(Arc::clone(&store), key.as_ref()).await.expect("open");
    let restored = restore_one(&reopened, &first.id, None).await.expect("restore first");
    prop_assert!(restored == data, "first backup differs after restore ({} vs {} bytes)", restored.len(), data.len());
    let restored = restore_one(&reopened, &second.id, Some("dump")).await.expect("restore second");
    prop_assert!(restored == changed, "second backup differs after restore");

    // Where a small change can only touch a small share of the chunks, it must cost little:
    // at least 1 MiB of data, small chunks, and not mostly repeated patterns (which dedup
    // within the first backup and compress to almost nothing, so any change looks large).
    let small_chunks = case.chunker.avg <= 16 << 10 && case.chunker.max <= 128 << 10;
    if data.len() >= 1 << 20 && small_chunks && repeated * 10 <= data.len() * 3 {
        prop_assert!(
            second.stats.new_bytes <= first.stats.stored_bytes / 2,
            "a {}% change stored {} new bytes; the first backup stored {}",
            case.change.pct,
            second.stats.new_bytes,
            first.stats.stored_bytes
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_backups_restore_byte_exact_and_dedup_against_their_parent(case in case()) {
        common::runtime().block_on(run_case(case))?;
    }
}

// ---------------------------------------------------------------------------------------------
// Plain round trips
// ---------------------------------------------------------------------------------------------

async fn encrypted_repo(prefix: &str) -> (Arc<dyn ObjectStore>, Repository) {
    let store = memory_store(prefix);
    let repo = Repository::init(Arc::clone(&store), encrypted_options(SMALL_CHUNKS)).await.expect("init");
    (store, repo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_entry_backups_restore_each_entry_and_share_chunks() {
    let (store, repo) = encrypted_repo("multi-entry").await;
    let dump = text_bytes(1, 2 << 20);
    let wal1 = random_bytes(2, 1_500_000);
    let mut wal2 = dump.clone(); // mostly the same chunks as `dump`
    wal2.extend_from_slice(&random_bytes(3, 100_000));

    let mut writer = repo.backup("db1").options(small_packs()).label("kind", "full").start().await.unwrap();
    writer.add_entry("dump.sql", &dump[..], None).await.unwrap();
    writer.add_entry("wal/000001", &wal1[..], Some(0o600)).await.unwrap();
    writer.add_entry("wal/000002", &wal2[..], None).await.unwrap();
    let record = writer.commit().await.unwrap();

    assert_eq!(record.stats.entries, 3);
    assert_eq!(record.stats.logical_bytes, (dump.len() + wal1.len() + wal2.len()) as u64);
    assert!(record.stats.new_packs >= 3, "several packs: {:?}", record.stats);
    assert_eq!(record.record.labels.get("kind").map(String::as_str), Some("full"));
    // `wal2` repeats `dump`: far fewer distinct chunks than read.
    assert!(
        record.stats.stored_bytes < (dump.len() + wal1.len()) as u64 + 200_000,
        "the entries share chunks: {:?}",
        record.stats
    );

    let repo = Repository::open(store, Some(&passphrase())).await.unwrap();
    assert_eq!(repo.list_backups(Some("db1")).await.unwrap(), vec![record.record.clone()]);
    for (name, data) in [("dump.sql", &dump), ("wal/000001", &wal1), ("wal/000002", &wal2)] {
        assert!(restore_one(&repo, &record.id, Some(name)).await.unwrap() == *data, "entry {name}");
    }

    let out = tempfile::tempdir().unwrap();
    let total = repo.restore(&record.id).to_directory(out.path()).await.unwrap();
    assert_eq!(total, record.stats.logical_bytes);
    assert_eq!(files_under(out.path()), ["dump.sql", "wal/000001", "wal/000002"].map(std::path::PathBuf::from));
    assert!(std::fs::read(out.path().join("wal/000002")).unwrap() == wal2);
    let mode = std::fs::metadata(out.path().join("wal/000001")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.backups, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_restores_identical_with_file_modes() {
    let src = tempfile::tempdir().unwrap();
    let files: [(&str, Vec<u8>, u32); 6] = [
        ("a.txt", text_bytes(10, 300_000), 0o644),
        ("empty", Vec::new(), 0o640),
        ("sub/b.bin", random_bytes(11, 1_200_000), 0o600),
        ("sub/deeper/c.sh", b"#!/bin/sh\necho hello\n".to_vec(), 0o755),
        ("sub/deeper/d.dat", random_bytes(12, 70_000), 0o444),
        ("z/sticky", text_bytes(13, 5_000), 0o1750),
    ];
    let mut modes = Vec::new();
    for (name, data, mode) in &files {
        let path = src.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
        // What the file system kept (it may drop special bits for an unprivileged user).
        modes.push(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777);
    }
    assert!(modes.iter().collect::<std::collections::HashSet<_>>().len() >= 5, "distinct modes: {modes:?}");
    // A symbolic link is skipped, not followed.
    std::os::unix::fs::symlink(src.path().join("a.txt"), src.path().join("link")).unwrap();

    let (store, repo) = encrypted_repo("directory").await;
    let mut writer = repo.backup("files").options(small_packs()).start().await.unwrap();
    writer.add_directory(src.path()).await.unwrap();
    let record = writer.commit().await.unwrap();
    assert_eq!(record.stats.entries, files.len() as u64);

    let repo = Repository::open(store, Some(&passphrase())).await.unwrap();
    let (_, body) = repo.manifest(&record.id).await.unwrap();
    let names: Vec<&str> = body.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, files.iter().map(|f| f.0).collect::<Vec<_>>(), "named by relative path, sorted");

    let dst = tempfile::tempdir().unwrap();
    let total = repo.restore(&record.id).to_directory(&dst.path().join("restored")).await.unwrap();
    assert_eq!(total, files.iter().map(|f| f.1.len() as u64).sum::<u64>());
    let root = dst.path().join("restored");
    let expected: Vec<std::path::PathBuf> = files.iter().map(|f| f.0.into()).collect();
    assert_eq!(files_under(&root), expected, "exactly the regular files, no partial files left");
    for ((name, data, _), mode) in files.iter().zip(&modes) {
        let path = root.join(name);
        assert!(std::fs::read(&path).unwrap() == *data, "content of {name}");
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, *mode, "mode of {name}: {got:o} instead of {mode:o}");
    }

    // One entry of it, to a directory.
    let one = tempfile::tempdir().unwrap();
    repo.restore(&record.id).entry("sub/deeper/c.sh").to_directory(one.path()).await.unwrap();
    assert_eq!(files_under(one.path()), [std::path::PathBuf::from("sub/deeper/c.sh")]);
}

#[tokio::test]
async fn to_writer_of_a_multi_entry_backup_needs_an_entry() {
    let (_, repo) = encrypted_repo("needs-entry").await;
    let mut writer = repo.backup("db1").start().await.unwrap();
    writer.add_entry("a", &b"first"[..], None).await.unwrap();
    writer.add_entry("b", &b"second"[..], None).await.unwrap();
    let record = writer.commit().await.unwrap();

    let mut out = Vec::new();
    let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("backup {} has 2 entries (a, b); choose one, or restore to a directory", record.id)
    );
    assert!(out.is_empty());
    assert_eq!(restore_one(&repo, &record.id, Some("b")).await.unwrap(), b"second");
}

#[tokio::test]
async fn restoring_a_missing_entry_is_entry_not_found() {
    let (_, repo) = encrypted_repo("missing-entry").await;
    let mut writer = repo.backup("db1").start().await.unwrap();
    writer.add_entry("a", &b"first"[..], None).await.unwrap();
    writer.add_entry("dir/b", &b"second"[..], None).await.unwrap();
    let record = writer.commit().await.unwrap();

    let err = restore_one(&repo, &record.id, Some("missing")).await.unwrap_err();
    match &err {
        Error::EntryNotFound { backup, entry, available } => {
            assert_eq!(backup, &record.id);
            assert_eq!(entry, "missing");
            assert_eq!(available, "a, dir/b");
        }
        other => panic!("expected EntryNotFound, got {other:?}"),
    }
    assert_eq!(err.to_string(), format!("backup {} has no entry `missing` (it has: a, dir/b)", record.id));

    let dir = tempfile::tempdir().unwrap();
    let err = repo.restore(&record.id).entry("missing").to_directory(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::EntryNotFound { .. }), "{err:?}");
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn unsafe_entry_names_are_refused() {
    let (_, repo) = encrypted_repo("entry-names").await;
    let mut writer = repo.backup("db1").start().await.unwrap();
    for name in [
        "..",
        "../etc/passwd",
        "a/../../b",
        "/etc/passwd",
        "/",
        "",
        "a//b",
        "a/",
        "/a",
        ".",
        "./a",
        "a/./b",
        "a\\b",
        "a\0b",
    ] {
        let err = writer.add_entry(name, &b"x"[..], None).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{name:?}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!("`{name}` is not a valid entry name (a relative path with `/`, without `.`, `..` or empty parts)"),
            "{name:?}"
        );
    }
    writer.add_entry("ok/name..with.dots", &b"fine"[..], None).await.unwrap();
    let err = writer.add_entry("ok/name..with.dots", &b"again"[..], None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(err.to_string(), "entry `ok/name..with.dots` added twice");

    // The refusals left the writer usable.
    let record = writer.commit().await.unwrap();
    assert_eq!(record.stats.entries, 1);
    assert_eq!(restore_one(&repo, &record.id, None).await.unwrap(), b"fine");
}

#[tokio::test]
async fn an_empty_stream_round_trips() {
    let (store, repo) = encrypted_repo("empty").await;
    let record = backup_one(&repo, "db1", "empty.sql", b"", small_packs(), None).await.unwrap();
    assert_eq!(record.stats.logical_bytes, 0);
    assert_eq!(record.stats.chunks, 0);
    assert_eq!(record.stats.new_packs, 0);
    assert_eq!(record.stats.entries, 1);

    let repo = Repository::open(store, Some(&passphrase())).await.unwrap();
    assert_eq!(restore_one(&repo, &record.id, None).await.unwrap(), b"");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(repo.restore(&record.id).to_directory(dir.path()).await.unwrap(), 0);
    assert_eq!(std::fs::read(dir.path().join("empty.sql")).unwrap(), b"");
    for mode in [VerifyMode::Quick, VerifyMode::Deep] {
        let report = repo.verify(std::slice::from_ref(&record.id), mode).await.unwrap();
        assert!(report.is_ok(), "{mode:?}: {:?}", report.problems);
    }

    // A backup with no entry at all also round trips (to a directory: nothing).
    let record = repo.backup("db1").start().await.unwrap().commit().await.unwrap();
    assert_eq!(record.stats.entries, 0);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(repo.restore(&record.id).to_directory(dir.path()).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unencrypted_repository_round_trips_and_says_so() {
    let store = memory_store("unencrypted");
    Repository::init(Arc::clone(&store), InitOptions::unencrypted()).await.unwrap();
    let config = store.get(&Path::from("tern.json")).await.unwrap().bytes().await.unwrap();
    let config = std::str::from_utf8(&config).unwrap();
    assert!(config.contains(r#""cipher": "none""#), "{config}");
    assert!(config.contains(r#""id_key": ""#), "{config}");
    assert!(config.contains(r#""keys": []"#), "{config}");

    // Opens without a key, fully usable.
    let repo = Repository::open(Arc::clone(&store), None).await.unwrap();
    assert!(repo.is_unlocked());
    let data = random_bytes(20, 3 << 20);
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);

    // Incompressible content is stored as it is: readable in the packs.
    let pack = common::list_paths(&store, Some("packs")).await.into_iter().next().unwrap();
    let pack = store.get(&Path::from(pack)).await.unwrap().bytes().await.unwrap();
    let blob = parse_trailer(&pack).unwrap()[0];
    let start = blob.offset as usize + 1; // after the codec byte
    let window = &pack[start..start + 64];
    assert!(data.windows(64).any(|w| w == window), "an unencrypted blob holds its plaintext");
}

#[tokio::test]
async fn an_encrypted_repository_says_so_and_hides_content() {
    let (store, repo) = encrypted_repo("encrypted").await;
    let config = store.get(&Path::from("tern.json")).await.unwrap().bytes().await.unwrap();
    let config = std::str::from_utf8(&config).unwrap();
    assert!(config.contains(r#""cipher": "aes256-gcm""#), "{config}");
    assert!(!config.contains("id_key"), "{config}");

    let data = random_bytes(21, 200_000);
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let pack = common::list_paths(&store, Some("packs")).await.into_iter().next().unwrap();
    let pack = store.get(&Path::from(pack)).await.unwrap().bytes().await.unwrap();
    for blob in parse_trailer(&pack).unwrap() {
        let start = blob.offset as usize + 13; // after nonce and codec byte
        let window = &pack[start..start + 32];
        assert!(!data.windows(32).any(|w| w == window), "an encrypted blob does not hold its plaintext");
    }
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);
}

#[tokio::test]
async fn invalid_options_are_refused_with_clear_messages() {
    let (_, repo) = encrypted_repo("options").await;
    let cases = [
        (BackupOptions { level: 0, ..small_packs() }, "zstd level 0 is out of range 1..=22"),
        (BackupOptions { level: 23, ..small_packs() }, "zstd level 23 is out of range 1..=22"),
        (BackupOptions { cpu_workers: 0, ..small_packs() }, "cpu_workers and upload_concurrency must be at least 1"),
        (
            BackupOptions { upload_concurrency: 0, ..small_packs() },
            "cpu_workers and upload_concurrency must be at least 1",
        ),
        (
            BackupOptions { pack_size: (1 << 20) - 1, ..small_packs() },
            "pack size 1048575 is out of range 1 MiB..=512 MiB",
        ),
    ];
    for (options, message) in cases {
        let err = repo.backup("db1").options(options).start().await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(err.to_string(), message);
    }
    let err = repo.backup("bad/service").start().await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "`bad/service` is not a service name (1-64 of A-Z a-z 0-9 . _ -, not starting with `.`)"
    );

    let bad = ChunkerParams { min: 4096, avg: 2048, max: 65536 };
    let err = Repository::init(memory_store("bad-chunker"), encrypted_options(bad)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid chunker sizes min 4096, avg 2048, max 65536: need even sizes with min <= avg <= max, \
         min in 64..=1MiB, avg in 256..=4MiB, max in 1KiB..=16MiB"
    );
}

#[tokio::test]
async fn a_second_backup_of_the_same_data_stores_nothing_new() {
    let (_, repo) = encrypted_repo("same-data").await;
    let data = mixed_bytes(30, 2 << 20, [5, 5, 1]).0;
    let first = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let second = backup_one(&repo, "db1", "dump", &data, small_packs(), Some(&first.id)).await.unwrap();
    assert_eq!(second.stats.new_bytes, 0);
    assert_eq!(second.stats.new_chunks, 0);
    assert_eq!(second.stats.new_packs, 0);
    assert_eq!(second.stats.stored_bytes, first.stats.stored_bytes);
    assert_eq!(second.record.parent.as_ref(), Some(&first.id));
    assert!(restore_one(&repo, &second.id, None).await.unwrap() == data);

    // Deduplicating against a backup that was never committed is refused.
    let missing = tern_engine::BackupId::new();
    let err = repo.backup("db1").parent(missing.clone()).start().await.unwrap_err();
    assert!(matches!(&err, Error::BackupNotFound(id) if *id == missing), "{err:?}");
    assert_eq!(err.to_string(), format!("backup {missing} not found"));
}

#[tokio::test]
async fn a_key_file_repository_round_trips() {
    let store = memory_store("key-file");
    let key = UserKey::key_file(random_bytes(40, 32)).unwrap();
    let options = InitOptions { chunker: SMALL_CHUNKS, ..InitOptions::encrypted(key.clone()) };
    let repo = Repository::init(Arc::clone(&store), options).await.unwrap();
    let data = text_bytes(41, 500_000);
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    let repo = Repository::open(store, Some(&key)).await.unwrap();
    assert!(restore_one(&repo, &record.id, None).await.unwrap() == data);

    let err = UserKey::key_file(vec![0; 31]).unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err:?}");
    assert_eq!(err.to_string(), "a key file must hold at least 32 bytes of random data (this one has 31)");
}

#[tokio::test]
async fn verify_counts_bytes_read_from_storage_in_every_mode() {
    let (_, repo) = encrypted_repo("bytes-read").await;
    let data = text_bytes(50, 1 << 20); // distinct chunks, compressed to about half
    let record = backup_one(&repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    assert!(record.stats.stored_bytes < data.len() as u64 * 3 / 4, "{:?}", record.stats);

    let sample = repo.verify(&[], VerifyMode::Sample(100.0)).await.unwrap();
    assert_eq!(sample.bytes_read, record.stats.stored_bytes, "sample verify of every chunk reads each blob once");
    let deep = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert_eq!(deep.bytes_read, record.stats.stored_bytes, "deep verify reads each blob once");
}
