//! Bad inputs the engine refuses, each with its exact error.

use tern_engine::{
    BackupKind, ChunkId, Error, InitOptions, KdfParams, Position, Repository, SegmentSpan, UserKey, blob,
};
use tern_storage::Location;

async fn repo(name: &str, encrypted: bool) -> Repository {
    let options = if encrypted {
        InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(UserKey::passphrase("pw")) }
    } else {
        InitOptions::unencrypted()
    };
    Repository::init(Location::memory(name).open().unwrap(), options).await.unwrap()
}

#[tokio::test]
async fn a_recorded_length_beyond_any_chunk_is_refused_before_allocating() {
    let keys = repo("bad-len", true).await.key_ring().unwrap();
    let err = blob::decode(&keys, &ChunkId([0; 32]), b"anything", 0, 17 << 20).unwrap_err();
    assert_eq!(err.to_string(), "recorded plaintext length 17825792 exceeds the largest chunk (16 MiB)");
}

#[tokio::test]
async fn key_changes_on_an_unencrypted_repository_are_refused_clearly() {
    let mut r = repo("bad-keys", false).await;
    let err = r.add_key(&UserKey::passphrase("a"), &UserKey::passphrase("b"), KdfParams::insecure_fast()).await;
    assert_eq!(err.unwrap_err().to_string(), "this repository is not encrypted: it has no keys to add or remove");
    let err = r.remove_key(&UserKey::passphrase("a"), "00000000").await.unwrap_err();
    assert_eq!(err.to_string(), "this repository is not encrypted: it has no keys to add or remove");
}

#[tokio::test]
async fn an_incremental_needs_a_parent() {
    let r = repo("bad-incr", true).await;
    let err = r.backup("db1").kind(BackupKind::Incremental).start().await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert_eq!(err.to_string(), "an incremental backup needs a parent");
    assert!(r.list_backups(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_log_segment_that_ends_before_it_starts_is_refused() {
    let r = repo("bad-seg", true).await;
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let span = SegmentSpan {
        start_position: Position::generic(2, 0),
        end_position: Position::generic(1, 0),
        start_time: t,
        end_time: t,
    };
    let err = r.push_log_segment("db1", "seg", &b"x"[..], span).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "log segment `seg` ends before it starts (2:0 → 1:0, 2026-11-20 06:00:00 UTC → 2026-11-20 06:00:00 UTC)"
    );
    assert!(r.list_backups(None).await.unwrap().is_empty(), "nothing was archived");
}
