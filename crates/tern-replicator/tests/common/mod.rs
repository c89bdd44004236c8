//! Helpers shared by the replicator's tests.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use object_store::ObjectStore;
use tern_catalog::{BackupKind, ConsistentPoint, Position};
use tern_engine::{BackupId, InitOptions, KdfParams, Repository, SegmentSpan, UserKey, VerifyMode};
use tern_storage::testing::conformance::pattern;

pub fn key() -> UserKey {
    UserKey::passphrase("replicate")
}

pub async fn primary(store: Arc<dyn ObjectStore>) -> Repository {
    Repository::init(store, InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key()) })
        .await
        .unwrap()
}

/// A full, a second full that shares most chunks with it, and a log segment.
pub async fn history(repo: &Repository) -> (Vec<BackupId>, Vec<Vec<u8>>) {
    let base = pattern(3 << 20, 1).to_vec();
    let mut changed = base.clone();
    changed.extend_from_slice(&pattern(600_000, 2));
    let mut ids = Vec::new();
    for (i, data) in [&base, &changed].into_iter().enumerate() {
        let mut builder = repo.backup("db1");
        if let Some(parent) = ids.last() {
            builder = builder.parent(BackupId::clone(parent));
        }
        let point = ConsistentPoint {
            time: chrono::Utc::now(),
            position: Some(Position::mariadb(&format!("mysql-bin.00000{}", i + 1), 4, None).unwrap()),
        };
        let mut writer = builder.consistent(point).options(small_packs()).start().await.unwrap();
        writer.add_entry("data", &data[..], None).await.unwrap();
        ids.push(writer.commit().await.unwrap().id);
    }
    let span = SegmentSpan {
        start_position: Position::mariadb("mysql-bin.000001", 4, None).unwrap(),
        end_position: Position::mariadb("mysql-bin.000002", 4, None).unwrap(),
        start_time: chrono::Utc::now(),
        end_time: chrono::Utc::now(),
    };
    let log = pattern(100_000, 3).to_vec();
    let (summary, _) = repo.push_log_segment("db1", "mysql-bin.000001", &log[..], span).await.unwrap();
    ids.push(summary.id);
    (ids, vec![base, changed, log])
}

pub fn small_packs() -> tern_engine::BackupOptions {
    tern_engine::BackupOptions { pack_size: 1 << 20, ..Default::default() }
}

pub async fn listed(repo: &Repository) -> BTreeSet<String> {
    repo.list_backups(None).await.unwrap().into_iter().map(|r| r.id.to_string()).collect()
}

pub async fn restore(repo: &Repository, id: &BackupId) -> Vec<u8> {
    let mut out = Vec::new();
    repo.restore(id).to_writer(&mut out).await.unwrap();
    out
}

/// Everything the secondary lists is complete (quick verify, no key) and restores.
pub async fn assert_consistent(secondary: &Repository) {
    let report = secondary.verify(&[], VerifyMode::Quick).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[allow(clippy::cast_possible_truncation)] // the low bits of the clock are what makes it unique
pub fn rand_id() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        ^ u64::from(std::process::id())
}

/// full ← incremental ← incremental, then a second full; log segments between them.
pub struct Chain {
    pub full: BackupId,
    pub incrementals: Vec<BackupId>,
    pub next_full: BackupId,
    /// Log backups covering the first chain, and the one after the second full.
    pub logs_before: Vec<BackupId>,
    pub log_after: BackupId,
    /// When the first backup is consistent (hour 0).
    pub start: chrono::DateTime<Utc>,
    pub data: std::collections::HashMap<BackupId, Vec<u8>>,
}

pub async fn chain(repo: &Repository) -> Chain {
    let t0 = Utc::now() - Duration::hours(10);
    let at = |h: i64| t0 + Duration::hours(h);
    let pos = |file: u32, off: u64| Position::mariadb(&format!("mysql-bin.{file:06}"), off, None).unwrap();
    let mut data = std::collections::HashMap::new();
    let backup = |kind: BackupKind, parent: Option<BackupId>, hour: i64, file: u32, seed: u64| {
        let repo = repo.clone();
        async move {
            let mut bytes = pattern(2 << 20, 1).to_vec();
            bytes.extend_from_slice(&pattern(300_000, seed));
            let mut b = repo.backup("db1").kind(kind).options(small_packs());
            if let Some(p) = parent {
                b = b.parent(p);
            }
            let point = ConsistentPoint { time: at(hour), position: Some(pos(file, 4)) };
            let mut w = b.consistent(point).start().await.unwrap();
            w.add_entry("data", &bytes[..], Some(0o640)).await.unwrap();
            (w.commit().await.unwrap().id, bytes)
        }
    };
    let (full, d) = backup(BackupKind::Full, None, 0, 1, 10).await;
    data.insert(full.clone(), d);
    let (inc1, d) = backup(BackupKind::Incremental, Some(full.clone()), 2, 3, 11).await;
    data.insert(inc1.clone(), d);
    let (inc2, d) = backup(BackupKind::Incremental, Some(inc1.clone()), 4, 5, 12).await;
    data.insert(inc2.clone(), d);
    let (next_full, d) = backup(BackupKind::Full, None, 6, 7, 13).await;
    data.insert(next_full.clone(), d);
    // Segments: file k spans hours k-1..k, contiguous from mysql-bin.000001 to 000009.
    let mut logs = Vec::new();
    for file in 1..=8u32 {
        let span = SegmentSpan {
            start_position: pos(file, 4),
            end_position: pos(file + 1, 4),
            start_time: at(i64::from(file) - 1),
            end_time: at(i64::from(file)),
        };
        let bytes = pattern(50_000, 100 + u64::from(file)).to_vec();
        let name = format!("mysql-bin.{file:06}");
        let (summary, _) = repo.push_log_segment("db1", &name, &bytes[..], span).await.unwrap();
        data.insert(summary.id.clone(), bytes);
        logs.push(summary.id);
    }
    let log_after = logs.pop().unwrap(); // file 8: hours 7..8, after the second full
    Chain { full, incrementals: vec![inc1, inc2], next_full, logs_before: logs, log_after, start: t0, data }
}
