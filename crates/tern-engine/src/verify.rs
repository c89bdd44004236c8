//! Verifying a repository.
//!
//! - **Quick** (no key): every pack a backup references exists, has the recorded size, hashes
//!   to its id, and every referenced blob's CRC32 matches. Finds missing, truncated and damaged
//!   packs and names them.
//! - **Deep** (key): every entry restored to nowhere: each chunk decrypted, decompressed and
//!   checked against its id, each entry's BLAKE3 compared. Names backup, entry, chunk and pack.
//! - **Sample** (key): deep checks of a random share of each backup's chunks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStoreExt;

use crate::blob;
use crate::error::{Error, Result};
use crate::id::{BackupId, ChunkId, PackId};
use crate::manifest::ChunkRef;
use crate::pack::pack_path;
use crate::pool::CpuPool;
use crate::repo::Repository;
use crate::restore::{RestoreOptions, read_entry};

/// How thoroughly to verify.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VerifyMode {
    /// Existence, sizes, pack hashes and CRC32s; needs no key.
    Quick,
    /// Decrypt and check everything.
    Deep,
    /// Decrypt and check this percentage (0–100) of each backup's chunks, chosen at random.
    Sample(f64),
}

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The backup concerned, when known.
    pub backup: Option<BackupId>,
    /// The entry concerned, when known.
    pub entry: Option<String>,
    /// The chunk concerned, when known.
    pub chunk: Option<ChunkId>,
    /// The pack concerned, when known.
    pub pack: Option<PackId>,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(b) = &self.backup {
            parts.push(format!("backup {b}"));
        }
        if let Some(e) = &self.entry {
            parts.push(format!("entry `{e}`"));
        }
        if let Some(c) = &self.chunk {
            parts.push(format!("chunk {c}"));
        }
        if let Some(p) = &self.pack {
            parts.push(format!("pack {p}"));
        }
        write!(f, "{}: {}", parts.join(", "), self.detail)
    }
}

/// What a verification checked and found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Backups checked.
    pub backups: u64,
    /// Packs checked.
    pub packs: u64,
    /// Chunks checked.
    pub chunks: u64,
    /// Bytes read from storage.
    pub bytes_read: u64,
    /// Everything found wrong; empty when all is well.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Problem {
    fn of_backup(backup: &BackupId, detail: impl Into<String>) -> Self {
        Self { backup: Some(backup.clone()), entry: None, chunk: None, pack: None, detail: detail.into() }
    }

    fn of_pack(pack: PackId, chunk: Option<ChunkId>, detail: impl Into<String>) -> Self {
        Self { backup: None, entry: None, chunk, pack: Some(pack), detail: detail.into() }
    }

    fn from_error(backup: &BackupId, entry: &str, error: &Error) -> Self {
        match error {
            Error::DamagedChunk { chunk, pack, offset, reason, .. } => Self {
                backup: Some(backup.clone()),
                entry: Some(entry.to_owned()),
                chunk: Some(*chunk),
                pack: Some(*pack),
                detail: format!("{reason} (offset {offset})"),
            },
            other => Self {
                backup: Some(backup.clone()),
                entry: Some(entry.to_owned()),
                chunk: None,
                pack: None,
                detail: other.to_string(),
            },
        }
    }
}

/// Counts bytes fetched from storage.
#[derive(Default)]
struct FetchCounter(std::sync::atomic::AtomicU64);

impl crate::progress::Progress for FetchCounter {
    fn stored(&self, bytes: u64) {
        self.0.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Repository {
    /// Verifies `backups` (every committed backup when empty).
    pub async fn verify(&self, backups: &[BackupId], mode: VerifyMode) -> Result<VerifyReport> {
        let ids: Vec<BackupId> = if backups.is_empty() {
            self.list_backups(None).await?.into_iter().map(|r| r.id).collect()
        } else {
            backups.to_vec()
        };
        match mode {
            VerifyMode::Quick => self.verify_quick(&ids).await,
            VerifyMode::Deep => self.verify_deep(&ids).await,
            VerifyMode::Sample(pct) if (0.0..=100.0).contains(&pct) => self.verify_sample(&ids, pct).await,
            VerifyMode::Sample(pct) => {
                Err(Error::InvalidArgument(format!("sample percentage {pct} is not in 0..=100")))
            }
        }
    }

    async fn verify_quick(&self, ids: &[BackupId]) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        // pack → (size, referenced blobs)
        let mut packs: BTreeMap<PackId, (u64, HashMap<u64, ChunkRef>)> = BTreeMap::new();
        for id in ids {
            report.backups += 1;
            match self.manifest_index(id).await {
                Ok(index) => {
                    for c in &index.chunks {
                        let p = index.packs[c.pack as usize];
                        packs.entry(p.id).or_insert_with(|| (p.size, HashMap::new())).1.insert(c.offset, *c);
                    }
                }
                Err(e) => report.problems.push(Problem::of_backup(id, e.to_string())),
            }
        }
        let pool = CpuPool::new(RestoreOptions::default().cpu_workers, "verify")?;
        let results: Vec<(u64, u64, Vec<Problem>)> = futures::stream::iter(packs)
            .map(|(pack, (size, blobs))| {
                let (store, pool) = (Arc::clone(&self.store), pool.clone());
                async move {
                    let path = pack_path(&pack);
                    let bytes = match store.get(&path).await {
                        Ok(got) => match got.bytes().await {
                            Ok(b) => b,
                            Err(e) => return (0, 0, vec![Problem::of_pack(pack, None, format!("cannot read: {e}"))]),
                        },
                        Err(object_store::Error::NotFound { .. }) => {
                            return (0, 0, vec![Problem::of_pack(pack, None, "missing")]);
                        }
                        Err(e) => return (0, 0, vec![Problem::of_pack(pack, None, format!("cannot read: {e}"))]),
                    };
                    let read = bytes.len() as u64;
                    if read != size {
                        return (
                            read,
                            0,
                            vec![Problem::of_pack(
                                pack,
                                None,
                                format!("size is {read} bytes, expected {size} (truncated?)"),
                            )],
                        );
                    }
                    pool.run(move || {
                        let mut problems = Vec::new();
                        if blake3::hash(&bytes).as_bytes() != &pack.0 {
                            problems.push(Problem::of_pack(pack, None, "content does not match its id (damaged)"));
                        }
                        for c in blobs.values() {
                            let start = usize::try_from(c.offset).expect("fits");
                            let blob = &bytes[start..start + c.length as usize];
                            if let Err(e) = blob::check_crc(blob, c.crc32) {
                                problems.push(Problem::of_pack(
                                    pack,
                                    Some(c.id),
                                    format!("blob at offset {}: {e}", c.offset),
                                ));
                            }
                        }
                        (read, blobs.len() as u64, problems)
                    })
                    .await
                    .unwrap_or_else(|e| (read, 0, vec![Problem::of_pack(pack, None, format!("check failed: {e}"))]))
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        for (read, chunks, problems) in results {
            report.packs += 1;
            report.bytes_read += read;
            report.chunks += chunks;
            report.problems.extend(problems);
        }
        Ok(report)
    }

    /// A backup's manifest, counted as checked; a manifest that cannot be read is a problem
    /// of that backup (and the check goes on with the next).
    async fn manifest_for_check(
        &self,
        id: &BackupId,
        report: &mut VerifyReport,
    ) -> Option<(crate::manifest::ManifestIndex, crate::manifest::ManifestBody)> {
        report.backups += 1;
        match self.manifest(id).await {
            Ok(m) => Some(m),
            Err(e) => {
                report.problems.push(Problem::of_backup(id, e.to_string()));
                None
            }
        }
    }

    async fn verify_deep(&self, ids: &[BackupId]) -> Result<VerifyReport> {
        let keys = Arc::clone(self.keys()?);
        let mut report = VerifyReport::default();
        let fetched = FetchCounter::default();
        let options = RestoreOptions::default();
        let pool = CpuPool::new(options.cpu_workers, "verify")?;
        let mut packs = std::collections::HashSet::new();
        for id in ids {
            let Some((index, body)) = self.manifest_for_check(id, &mut report).await else { continue };
            packs.extend(index.packs.iter().map(|p| p.id));
            report.chunks += index.chunks.len() as u64;
            for entry in &body.entries {
                let mut sink = tokio::io::sink();
                if let Err(e) = read_entry(self, &keys, id, &index, entry, &options, &pool, &fetched, &mut sink).await {
                    report.problems.push(Problem::from_error(id, &entry.name, &e));
                }
            }
        }
        report.packs = packs.len() as u64;
        report.bytes_read = fetched.0.load(std::sync::atomic::Ordering::Relaxed);
        Ok(report)
    }

    async fn verify_sample(&self, ids: &[BackupId], pct: f64) -> Result<VerifyReport> {
        let keys = Arc::clone(self.keys()?);
        let mut report = VerifyReport::default();
        let pool = CpuPool::new(RestoreOptions::default().cpu_workers, "verify")?;
        for id in ids {
            let Some((index, body)) = self.manifest_for_check(id, &mut report).await else { continue };
            let mut owner: HashMap<u32, &str> = HashMap::new();
            for e in &body.entries {
                for &c in &e.chunks {
                    owner.entry(c).or_insert(&e.name);
                }
            }
            let chosen: Vec<u32> = (0..u32::try_from(index.chunks.len()).expect("fits"))
                .filter(|_| rand::random::<f64>() * 100.0 < pct)
                .collect();
            let index = Arc::new(index);
            let results: Vec<(u64, Option<Problem>)> = futures::stream::iter(chosen)
                .map(|ci| {
                    let (store, keys, index, pool) =
                        (Arc::clone(&self.store), Arc::clone(&keys), Arc::clone(&index), pool.clone());
                    let entry = owner.get(&ci).map(|s| (*s).to_owned());
                    let id = id.clone();
                    async move {
                        let c = index.chunks[ci as usize];
                        let pack = index.packs[c.pack as usize].id;
                        let problem = |detail: String| Problem {
                            backup: Some(id.clone()),
                            entry: entry.clone(),
                            chunk: Some(c.id),
                            pack: Some(pack),
                            detail,
                        };
                        let path = pack_path(&pack);
                        let blob = match store.get_range(&path, c.offset..c.offset + u64::from(c.length)).await {
                            Ok(b) if b.len() == c.length as usize => b,
                            Ok(b) => {
                                return (
                                    b.len() as u64,
                                    Some(problem(format!(
                                        "pack is truncated (read {} of {} bytes)",
                                        b.len(),
                                        c.length
                                    ))),
                                );
                            }
                            Err(object_store::Error::NotFound { .. }) => {
                                return (0, Some(problem("its pack is missing".into())));
                            }
                            Err(e) => return (0, Some(problem(format!("cannot read: {e}")))),
                        };
                        let n = blob.len() as u64;
                        let checked =
                            pool.run(move || blob::decode(&keys, &c.id, &blob, c.crc32, c.raw_len as usize)).await;
                        match checked {
                            Ok(Ok(_)) => (n, None),
                            Ok(Err(e)) => (n, Some(problem(format!("{e} (offset {})", c.offset)))),
                            Err(e) => (n, Some(problem(format!("check failed: {e}")))),
                        }
                    }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            report.packs += index.packs.len() as u64;
            for (n, problem) in results {
                report.chunks += 1;
                report.bytes_read += n;
                report.problems.extend(problem);
            }
        }
        Ok(report)
    }
}
