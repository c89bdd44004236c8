//! Helpers shared by the engine's integration tests (each test file uses a part of them).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;
use rand::{Rng, RngCore, SeedableRng};
use tern_engine::{
    BackupId, BackupOptions, BackupSummary, ChunkerParams, InitOptions, KdfParams, Repository, Result, UserKey,
};
use tern_storage::Location;
use tern_storage::object_store::ObjectStore;
use tern_storage::object_store::path::Path;

/// Small chunks, so that a few MiB make hundreds of them.
pub const SMALL_CHUNKS: ChunkerParams = ChunkerParams { min: 4096, avg: 16384, max: 65536 };

/// The passphrase of the tests' encrypted repositories.
pub fn passphrase() -> UserKey {
    UserKey::passphrase("correct horse battery staple")
}

/// An encrypted repository with a cheap KDF and `chunker` sizes.
pub fn encrypted_options(chunker: ChunkerParams) -> InitOptions {
    InitOptions { kdf: KdfParams::insecure_fast(), chunker, ..InitOptions::encrypted(passphrase()) }
}

/// An unencrypted repository with `chunker` sizes.
pub fn unencrypted_options(chunker: ChunkerParams) -> InitOptions {
    InitOptions { chunker, ..InitOptions::unencrypted() }
}

/// Small packs (1 MiB), so that a few MiB make several of them.
pub fn small_packs() -> BackupOptions {
    BackupOptions { level: 3, cpu_workers: 2, upload_concurrency: 2, pack_size: 1 << 20 }
}

/// A name no other test (or test case) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{:016x}", NEXT.fetch_add(1, Ordering::Relaxed), rand::random::<u64>())
}

/// A fresh `memory://` store.
pub fn memory_store(prefix: &str) -> Arc<dyn ObjectStore> {
    Location::memory(unique(prefix)).open().expect("memory store")
}

/// `len` random (incompressible) bytes from `seed`.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// `len` bytes of compressible text-like data (a 16-letter alphabet) from `seed`.
pub fn text_bytes(seed: u64, len: usize) -> Vec<u8> {
    const ALPHABET: &[u8; 16] = b"etaoin shrdlu\n,;";
    let mut data = random_bytes(seed, len);
    for b in &mut data {
        *b = ALPHABET[usize::from(*b & 15)];
    }
    data
}

/// Data made of segments (1 byte to 64 KiB) of random bytes, text-like bytes and short repeated
/// patterns, in proportions given by the weights. Returns the data and how many of its bytes are
/// repeated patterns.
pub fn mixed_bytes(seed: u64, len: usize, weights: [u32; 3]) -> (Vec<u8>, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let weights = if weights.iter().sum::<u32>() == 0 { [1, 0, 0] } else { weights };
    let total: u32 = weights.iter().sum();
    let mut out = Vec::with_capacity(len);
    let mut repeated = 0;
    while out.len() < len {
        let seg = rng.random_range(1..=65536).min(len - out.len());
        let pick = rng.random_range(0..total);
        if pick < weights[0] {
            out.extend(random_bytes(rng.random(), seg));
        } else if pick < weights[0] + weights[1] {
            out.extend(text_bytes(rng.random(), seg));
        } else {
            let pattern = random_bytes(rng.random(), rng.random_range(1..=64));
            out.extend(pattern.iter().copied().cycle().take(seg));
            repeated += seg;
        }
    }
    (out, repeated)
}

/// Backs up `data` as the single entry `name` of a backup of `service`, and commits it.
pub async fn backup_one(
    repo: &Repository,
    service: &str,
    name: &str,
    data: &[u8],
    options: BackupOptions,
    parent: Option<&BackupId>,
) -> Result<BackupSummary> {
    let mut builder = repo.backup(service).options(options);
    if let Some(parent) = parent {
        builder = builder.parent(parent.clone());
    }
    let mut writer = builder.start().await?;
    writer.add_entry(name, data, None).await?;
    writer.commit().await
}

/// Restores one entry (or the only one) into memory.
pub async fn restore_one(repo: &Repository, id: &BackupId, entry: Option<&str>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut restore = repo.restore(id);
    if let Some(entry) = entry {
        restore = restore.entry(entry);
    }
    let n = restore.to_writer(&mut out).await?;
    assert_eq!(n, out.len() as u64, "to_writer returns the bytes written");
    Ok(out)
}

/// Every object path under `prefix` (everything when `None`).
pub async fn list_paths(store: &Arc<dyn ObjectStore>, prefix: Option<&str>) -> BTreeSet<String> {
    let prefix = prefix.map(Path::from);
    let metas: Vec<_> = store.list(prefix.as_ref()).try_collect().await.expect("list");
    metas.into_iter().map(|m| m.location.to_string()).collect()
}

/// Every regular file under `dir`, recursively, as paths relative to `dir`.
pub fn files_under(dir: &FsPath) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d).expect("read_dir") {
            let path = item.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A multi-threaded runtime for property tests (which cannot be `#[tokio::test]`s).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}
