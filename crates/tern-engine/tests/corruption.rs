//! Damage in a local-folder repository, made by editing its files: flipped bytes, truncated
//! packs and manifests, a newer format version, a missing config. Each is found, named and
//! reported with the right error; none produces wrong output. Also the key checks: wrong keys,
//! missing keys, adding and removing keys.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use common::{SMALL_CHUNKS, backup_one, encrypted_options, files_under, passphrase, random_bytes, small_packs};
use tern_engine::manifest::{ChunkRef, ManifestIndex, PackRef, decode_index};
use tern_engine::pack::parse_trailer;
use tern_engine::{
    BackupId, BackupSummary, ChunkId, Error, GcOptions, KdfParams, ObjectKind, PackId, Repository, RestoreOptions,
    UserKey, VerifyMode,
};
use tern_storage::Location;
use tern_storage::object_store::ObjectStore;

/// An encrypted repository in a temporary folder.
struct LocalRepo {
    dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
    repo: Repository,
}

async fn local_repo() -> LocalRepo {
    let dir = tempfile::tempdir().unwrap();
    let store = Location::local(dir.path()).open().unwrap();
    let repo = Repository::init(Arc::clone(&store), encrypted_options(SMALL_CHUNKS)).await.unwrap();
    LocalRepo { dir, store, repo }
}

/// A local repository with one committed backup of 3 MiB of random data (three or more packs).
async fn with_backup() -> (LocalRepo, Vec<u8>, BackupSummary) {
    let local = local_repo().await;
    let data = random_bytes(1, 3 << 20);
    let record = backup_one(&local.repo, "db1", "dump", &data, small_packs(), None).await.unwrap();
    assert!(record.stats.new_packs >= 3, "{:?}", record.stats);
    (local, data, record)
}

/// The packs on disk, by id, in id order.
fn pack_files(root: &FsPath) -> Vec<(PackId, PathBuf)> {
    files_under(&root.join("packs"))
        .into_iter()
        .map(|rel| {
            let id: PackId = rel.file_name().unwrap().to_str().unwrap().parse().unwrap();
            (id, root.join("packs").join(rel))
        })
        .collect()
}

/// Where a chunk first appears in an entry's content (the sum of the plaintext lengths before it).
async fn position_of(repo: &Repository, record: &BackupSummary, chunk: ChunkId) -> u64 {
    let (index, body) = repo.manifest(&record.id).await.unwrap();
    let chunks = &body.entries[0].chunks;
    let first = chunks.iter().position(|&c| index.chunks[c as usize].id == chunk).expect("chunk in the entry");
    chunks[..first].iter().map(|&c| u64::from(index.chunks[c as usize].raw_len)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_pack_is_found_named_and_never_restored() {
    let (LocalRepo { dir, store, repo }, data, record) = with_backup().await;

    // Flip one byte in the middle of the middle blob of the second pack.
    let (pack, file) = pack_files(dir.path()).swap_remove(1);
    let mut bytes = std::fs::read(&file).unwrap();
    let blobs = parse_trailer(&bytes).unwrap();
    let blob = blobs[blobs.len() / 2];
    bytes[(blob.offset + u64::from(blob.length) / 2) as usize] ^= 0x10;
    std::fs::write(&file, &bytes).unwrap();

    // Quick verify, without the key: the pack's hash and the blob's CRC32 both fail.
    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    assert!(!keyless.is_unlocked());
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert_eq!(report.backups, 1);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(report.problems.iter().all(|p| p.pack == Some(pack) && p.backup.is_none()), "{:?}", report.problems);
    let whole = report.problems.iter().find(|p| p.chunk.is_none()).expect("a problem with the whole pack");
    assert_eq!(whole.detail, "content does not match its id (damaged)");
    assert_eq!(whole.to_string(), format!("pack {pack}: content does not match its id (damaged)"));
    let one = report.problems.iter().find(|p| p.chunk == Some(blob.id)).expect("a problem naming the chunk");
    assert!(one.detail.starts_with(&format!("blob at offset {}: CRC32 mismatch", blob.offset)), "{}", one.detail);

    // Deep verify names backup, entry, chunk and pack.
    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(problem.backup.as_ref(), Some(&record.id));
    assert_eq!(problem.entry.as_deref(), Some("dump"));
    assert_eq!(problem.chunk, Some(blob.id));
    assert_eq!(problem.pack, Some(pack));
    assert!(problem.detail.starts_with("CRC32 mismatch"), "{}", problem.detail);
    assert!(problem.detail.ends_with(&format!("(offset {})", blob.offset)), "{}", problem.detail);

    // Restore stops at the damaged chunk, naming chunk and pack, and writes nothing of it.
    let mut out = Vec::new();
    let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
    let Error::DamagedChunk { backup, entry, chunk, pack: p, offset, reason } = &err else {
        panic!("expected DamagedChunk, got {err:?}");
    };
    assert_eq!((backup, entry.as_str(), chunk, p, *offset), (&record.id, "dump", &blob.id, &pack, blob.offset));
    assert!(reason.starts_with("CRC32 mismatch (stored "), "{reason}");
    let message = err.to_string();
    assert!(message.contains(&blob.id.to_hex()) && message.contains(&pack.to_hex()), "{message}");
    assert_eq!(
        message,
        format!(
            "backup {}, entry `dump`: chunk {} in pack {pack} (offset {}) is damaged: {reason}",
            record.id, blob.id, blob.offset
        )
    );
    let position = position_of(&repo, &record, blob.id).await;
    assert!(position > 0, "the damaged chunk is not the first");
    assert!(out.len() as u64 <= position, "{} bytes written, the damaged chunk starts at {position}", out.len());
    assert!(data.starts_with(&out), "what was written is the original data");

    // To a directory: the error, and no file (not even a partial one).
    let target = tempfile::tempdir().unwrap();
    let err = repo.restore(&record.id).to_directory(target.path()).await.unwrap_err();
    assert!(matches!(err, Error::DamagedChunk { .. }), "{err:?}");
    assert!(files_under(target.path()).is_empty(), "{:?}", files_under(target.path()));
}

#[tokio::test]
async fn a_wrong_key_is_wrong_key() {
    let LocalRepo { dir: _dir, store, .. } = local_repo().await;
    for key in [UserKey::passphrase("correct horse battery stapler"), UserKey::key_file(vec![7; 32]).unwrap()] {
        let err = Repository::open(Arc::clone(&store), Some(&key)).await.unwrap_err();
        assert!(matches!(err, Error::WrongKey), "{err:?}");
        assert_eq!(err.to_string(), "wrong key: the passphrase or key file does not unlock this repository");
    }
    assert!(Repository::open(store, Some(&passphrase())).await.unwrap().is_unlocked());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_manifest_is_corrupt_and_stops_gc() {
    let (LocalRepo { dir, store, repo }, data, record) = with_backup().await;
    let file = dir.path().join("manifests").join(record.id.as_str());
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let path = format!("manifests/{}", record.id);

    let err = common::restore_one(&repo, &record.id, None).await.unwrap_err();
    let Error::Corrupt { kind, path: p, detail } = &err else { panic!("expected Corrupt, got {err:?}") };
    assert_eq!((*kind, p.as_str()), (ObjectKind::Manifest, path.as_str()));
    assert!(detail.starts_with("truncated manifest (") && detail.ends_with(" cut short)"), "{detail}");
    assert_eq!(err.to_string(), format!("corrupt manifest `{path}`: {detail}"));

    // Without the key too; quick verify reports it against the backup.
    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    let err = keyless.manifest_index(&record.id).await.unwrap_err();
    assert!(matches!(&err, Error::Corrupt { kind: ObjectKind::Manifest, detail: d, .. } if d == detail), "{err:?}");
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].backup.as_ref(), Some(&record.id));
    assert!(report.problems[0].detail.contains("truncated manifest"), "{}", report.problems[0]);

    // gc refuses to delete anything: the backup's packs would look unreferenced.
    let packs = common::list_paths(&store, Some("packs")).await;
    let err = repo.gc(GcOptions { grace: std::time::Duration::ZERO, dry_run: false }).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("refusing to collect garbage: cannot read the manifest of backup {}", record.id)),
        "{err}"
    );
    assert_eq!(common::list_paths(&store, Some("packs")).await, packs);

    // A backup based on it is refused too.
    let err = repo.backup("db1").parent(record.id.clone()).start().await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { kind: ObjectKind::Manifest, .. }), "{err:?}");

    // Put back, all is well.
    std::fs::write(&file, &bytes).unwrap();
    assert!(common::restore_one(&repo, &record.id, None).await.unwrap() == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_pack_is_named_by_quick_verify_and_stops_restore() {
    let (LocalRepo { dir, store, repo }, data, record) = with_backup().await;
    let index = repo.manifest_index(&record.id).await.unwrap();
    // The pack holding the entry's first chunk.
    let pack = index.packs[index.chunks[0].pack as usize];
    let file = pack_files(dir.path()).into_iter().find(|(id, _)| *id == pack.id).unwrap().1;
    let half = pack.size / 2;
    std::fs::File::options().write(true).open(&file).unwrap().set_len(half).unwrap();

    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    let report = keyless.verify(&[], VerifyMode::Quick).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!((problem.pack, problem.chunk), (Some(pack.id), None));
    assert_eq!(problem.detail, format!("size is {half} bytes, expected {} (truncated?)", pack.size));

    let mut out = Vec::new();
    let err = repo.restore(&record.id).to_writer(&mut out).await.unwrap_err();
    let Error::DamagedChunk { pack: p, reason, .. } = &err else { panic!("expected DamagedChunk, got {err:?}") };
    assert_eq!(*p, pack.id);
    assert!(reason.starts_with("pack is truncated (read "), "{reason}");
    assert!(data.starts_with(&out));

    let report = repo.verify(&[], VerifyMode::Deep).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].pack, Some(pack.id));
    assert!(report.problems[0].detail.starts_with("pack is truncated"), "{}", report.problems[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_pack_names_a_chunk_that_was_cut() {
    let (LocalRepo { dir, repo, .. }, _, record) = with_backup().await;
    let index = repo.manifest_index(&record.id).await.unwrap();
    let pack = index.packs[index.chunks[0].pack as usize];
    let file = pack_files(dir.path()).into_iter().find(|(id, _)| *id == pack.id).unwrap().1;
    let half = pack.size / 2;
    std::fs::File::options().write(true).open(&file).unwrap().set_len(half).unwrap();

    for options in [RestoreOptions::default(), RestoreOptions { max_read: 1, ..RestoreOptions::default() }] {
        let mut out = Vec::new();
        let err = repo.restore(&record.id).options(options.clone()).to_writer(&mut out).await.unwrap_err();
        let Error::DamagedChunk { chunk, offset, .. } = &err else {
            panic!("{options:?}: expected DamagedChunk, got {err:?}")
        };
        let named = index.chunks.iter().find(|c| c.id == *chunk).unwrap();
        assert!(
            offset + u64::from(named.length) > half,
            "{options:?}: the pack is cut at {half}, but the error names the chunk at {offset}..{}, which is intact: \
             {err}",
            offset + u64::from(named.length)
        );
    }
}

#[tokio::test]
async fn a_newer_format_version_is_refused_by_name() {
    let LocalRepo { dir, store, .. } = local_repo().await;
    let file = dir.path().join("tern.json");
    let config = std::fs::read_to_string(&file).unwrap();
    assert!(config.contains(r#""version": 1,"#), "{config}");
    std::fs::write(&file, config.replace(r#""version": 1,"#, r#""version": 2,"#)).unwrap();
    for key in [None, Some(passphrase())] {
        let err = Repository::open(Arc::clone(&store), key.as_ref()).await.unwrap_err();
        assert!(matches!(err, Error::UnsupportedVersion { found: 2, supported: 1 }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "repository format version 2 is not supported (this Tern reads version 1); upgrade Tern"
        );
    }

    // A config that is not JSON, or not Tern's, is corrupt.
    std::fs::write(&file, "{ not json").unwrap();
    let err = Repository::open(Arc::clone(&store), None).await.unwrap_err();
    assert!(matches!(&err, Error::Corrupt { kind: ObjectKind::Config, path, .. } if path == "tern.json"), "{err:?}");
    std::fs::write(&file, config.replace("tern-repository", "other-tool")).unwrap();
    let err = Repository::open(Arc::clone(&store), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt repository config `tern.json`: not a Tern repository config (`format` is not `tern-repository`)"
    );
}

#[tokio::test]
async fn a_missing_config_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::local(dir.path());
    let err = Repository::open(location.open().unwrap(), Some(&passphrase())).await.unwrap_err();
    let Error::NotARepository { location: shown } = &err else { panic!("expected NotARepository, got {err:?}") };
    assert_eq!(*shown, location.to_string());
    assert_eq!(
        err.to_string(),
        format!("no Tern repository at {location} (`tern.json` not found); create one with `init`")
    );

    // A repository whose config was deleted is no repository either.
    let LocalRepo { dir, store, .. } = local_repo().await;
    std::fs::remove_file(dir.path().join("tern.json")).unwrap();
    let err = Repository::open(store, None).await.unwrap_err();
    assert!(matches!(err, Error::NotARepository { .. }), "{err:?}");
}

#[tokio::test]
async fn init_twice_is_already_initialized() {
    let LocalRepo { dir, store, .. } = local_repo().await;
    let config = std::fs::read(dir.path().join("tern.json")).unwrap();
    for options in [encrypted_options(SMALL_CHUNKS), tern_engine::InitOptions::unencrypted()] {
        let err = Repository::init(Arc::clone(&store), options).await.unwrap_err();
        let Error::AlreadyInitialized { location } = &err else { panic!("expected AlreadyInitialized, got {err:?}") };
        assert_eq!(*location, Location::local(dir.path()).to_string());
        assert_eq!(err.to_string(), format!("a Tern repository already exists at {location}"));
    }
    assert_eq!(std::fs::read(dir.path().join("tern.json")).unwrap(), config, "the existing config is untouched");
    assert!(Repository::open(store, Some(&passphrase())).await.unwrap().is_unlocked());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_can_be_added_and_removed_but_not_the_last() {
    let (LocalRepo { dir: _dir, store, mut repo }, data, record) = with_backup().await;
    let stale = Repository::open(Arc::clone(&store), Some(&passphrase())).await.unwrap();
    let key_file = UserKey::key_file(random_bytes(5, 32)).unwrap();

    // Adding needs a key that opens the repository.
    let err = repo.add_key(&UserKey::passphrase("nope"), &key_file, KdfParams::insecure_fast()).await.unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    let file_slot = repo.add_key(&passphrase(), &key_file, KdfParams::insecure_fast()).await.unwrap();
    assert_eq!(repo.config().keys.len(), 2);

    // The key file opens the repository, from a fresh open.
    let by_file = Repository::open(Arc::clone(&store), Some(&key_file)).await.unwrap();
    assert_eq!(by_file.config().keys.len(), 2);
    assert!(common::restore_one(&by_file, &record.id, None).await.unwrap() == data);

    // A handle opened before the change cannot overwrite it.
    let mut stale = stale;
    let other = UserKey::passphrase("another passphrase");
    let err = stale.add_key(&passphrase(), &other, KdfParams::insecure_fast()).await.unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err:?}");
    assert_eq!(err.to_string(), "tern.json changed since it was read (another key change?); open the repository again");
    assert_eq!(Repository::open(Arc::clone(&store), None).await.unwrap().config().keys.len(), 2);

    // Remove the passphrase, authorised by the key file: the passphrase no longer opens it.
    let pass_slot = repo.config().keys.iter().find(|s| s.is_passphrase()).unwrap().id.clone();
    let err = repo.remove_key(&key_file, "nope").await.unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err:?}");
    assert_eq!(err.to_string(), "no key slot `nope`");
    repo.remove_key(&key_file, &pass_slot).await.unwrap();
    let err = Repository::open(Arc::clone(&store), Some(&passphrase())).await.unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    let by_file = Repository::open(Arc::clone(&store), Some(&key_file)).await.unwrap();
    assert_eq!(by_file.config().keys.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [file_slot.as_str()]);
    assert!(common::restore_one(&by_file, &record.id, None).await.unwrap() == data);

    // The last key stays.
    let err = repo.remove_key(&key_file, &file_slot).await.unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err:?}");
    assert_eq!(err.to_string(), "refusing to remove the last key: the repository could never be opened again");
    // And removing needs a key that opens it.
    let err = repo.remove_key(&passphrase(), &file_slot).await.unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err:?}");
    assert!(Repository::open(store, Some(&key_file)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_repository_opened_without_a_key_does_only_key_free_work() {
    let (LocalRepo { dir: _dir, store, .. }, _, record) = with_backup().await;
    let keyless = Repository::open(Arc::clone(&store), None).await.unwrap();
    assert!(!keyless.is_unlocked());

    let message = "this repository is encrypted: give a passphrase (TERN_PASSWORD) or a key file";
    let err = common::restore_one(&keyless, &record.id, None).await.unwrap_err();
    assert!(matches!(err, Error::KeyRequired), "{err:?}");
    assert_eq!(err.to_string(), message);
    let dir = tempfile::tempdir().unwrap();
    let err = keyless.restore(&record.id).to_directory(dir.path()).await.unwrap_err();
    assert!(matches!(err, Error::KeyRequired), "{err:?}");
    let err = keyless.backup("db1").start().await.unwrap_err();
    assert!(matches!(err, Error::KeyRequired), "{err:?}");
    for mode in [VerifyMode::Deep, VerifyMode::Sample(50.0)] {
        let err = keyless.verify(&[], mode).await.unwrap_err();
        assert!(matches!(err, Error::KeyRequired), "{mode:?}: {err:?}");
    }
    let err = keyless.manifest(&record.id).await.unwrap_err();
    assert!(matches!(err, Error::KeyRequired), "{err:?}");

    // What needs no key works.
    assert_eq!(keyless.list_backups(None).await.unwrap(), vec![record.record.clone()]);
    assert_eq!(keyless.manifest_index(&record.id).await.unwrap().backup, record.id);
    assert!(keyless.verify(&[], VerifyMode::Quick).await.unwrap().is_ok());
    let report = keyless.gc(GcOptions { grace: std::time::Duration::ZERO, dry_run: true }).await.unwrap();
    assert_eq!((report.live_backups, report.packs.len(), report.deleted), (1, 0, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_wholly_past_the_end_of_a_truncated_pack_is_a_damaged_chunk() {
    let LocalRepo { dir, repo, .. } = local_repo().await;
    let (a, b) = (random_bytes(2, 400_000), random_bytes(3, 400_000));
    let mut writer = repo.backup("db1").options(small_packs()).start().await.unwrap();
    writer.add_entry("a", &a[..], None).await.unwrap();
    writer.add_entry("b", &b[..], None).await.unwrap();
    let record = writer.commit().await.unwrap();
    let [(pack, file)] = <[_; 1]>::try_from(pack_files(dir.path())).expect("one pack");
    let cut = 200_000; // in the middle of `a`'s blobs
    std::fs::File::options().write(true).open(&file).unwrap().set_len(cut).unwrap();

    let mut out = Vec::new();
    let err = repo.restore(&record.id).entry("b").to_writer(&mut out).await.unwrap_err();
    let Error::DamagedChunk { pack: p, offset, reason, .. } = &err else {
        panic!("expected DamagedChunk naming a chunk of `b` past the end of the pack, got {err:?}: {err}")
    };
    assert_eq!(*p, pack);
    assert!(*offset >= cut, "{err}");
    assert!(reason.contains("truncated"), "{err}");
    assert!(out.is_empty());
}

/// A manifest with `index` as its (key-free) index and an empty body, framed with valid CRCs.
fn framed_manifest(index: &ManifestIndex) -> Vec<u8> {
    let json = serde_json::to_vec(index).unwrap();
    let index = zstd::bulk::compress(&json, 3).unwrap();
    let mut out = b"TERNMNF\x01".to_vec();
    for part in [&index[..], &[][..]] {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(&crc32fast::hash(part).to_le_bytes());
    }
    out
}

fn index_with_chunk_at(offset: u64, length: u32) -> ManifestIndex {
    ManifestIndex {
        backup: BackupId::new(),
        service: "db1".into(),
        packs: vec![PackRef { id: PackId([1; 32]), size: 1000 }],
        chunks: vec![ChunkRef { id: ChunkId([2; 32]), pack: 0, offset, length, crc32: 0, raw_len: 10 }],
    }
}

#[test]
fn a_manifest_index_pointing_past_its_pack_is_refused() {
    let ok = index_with_chunk_at(12, 988);
    assert_eq!(decode_index(&framed_manifest(&ok)).unwrap(), ok);
    let err = decode_index(&framed_manifest(&index_with_chunk_at(12, 989))).unwrap_err();
    assert_eq!(err, format!("chunk {} lies beyond the end of pack {}", ChunkId([2; 32]), PackId([1; 32])));
}

#[test]
fn a_manifest_index_with_an_overflowing_offset_is_an_error_not_a_panic() {
    let bytes = framed_manifest(&index_with_chunk_at(u64::MAX - 4, 100));
    let result = std::panic::catch_unwind(|| decode_index(&bytes));
    let decoded = result.expect("decode_index must not panic on a damaged index");
    let err = decoded.expect_err("a chunk past the end of its pack is refused");
    assert!(err.contains("lies beyond the end of pack"), "{err}");
}
