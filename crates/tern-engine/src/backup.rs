//! Writing a backup.
//!
//! ```text
//! reader ─► chunker ─► N CPU workers ─► (ordered) ─► entry list ─► manifest ─► commit record
//!                      id, dedup,          │  └───► hasher (plaintext BLAKE3 of the entry)
//!                      zstd, AES-GCM, CRC  └─► packer ─► M concurrent uploads (hash, put)
//! ```
//!
//! Every queue is bounded: at most `cpu_workers` chunks in flight, `2 × cpu_workers` blobs
//! waiting for the packer, and `upload_concurrency` packs uploading; a slow store slows the
//! reader instead of filling memory. Packs are written create-only under their content hash,
//! the manifest create-only after every pack it needs is stored, and the record last.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutMode};
use tokio::io::AsyncRead;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::blob;
use crate::chunker::Chunker;
use crate::error::{Error, ObjectKind, Result};
use crate::id::{BackupId, ChunkId, PackId, check_service_name};
use crate::keys::KeyRing;
use crate::manifest::{self, ChunkRef, Entry, ManifestBody, ManifestIndex, PackRef};
use crate::pack::{PackBuilder, PackEntry, pack_path};
use crate::pool::CpuPool;
use crate::progress::Progress;
use crate::record::BackupStats;
use crate::repo::Repository;
use tern_catalog::{BackupKind, BackupRecord, BackupStatus, CatalogExt, ConsistentPoint, Sizes, Version};

/// Tuning of a backup. The defaults suit most machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupOptions {
    /// zstd level (1–22; default 3).
    pub level: i32,
    /// Threads hashing, compressing and encrypting (default: all cores).
    pub cpu_workers: usize,
    /// Packs uploading at once (default 8).
    pub upload_concurrency: usize,
    /// Target pack size (default 16 MiB; a pack closes at the first blob past it).
    pub pack_size: usize,
}

impl Default for BackupOptions {
    fn default() -> Self {
        Self {
            level: 3,
            cpu_workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            upload_concurrency: 8,
            pack_size: 16 << 20,
        }
    }
}

impl BackupOptions {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !(1..=22).contains(&self.level) {
            return bad(format!("zstd level {} is out of range 1..=22", self.level));
        }
        if self.cpu_workers == 0 || self.upload_concurrency == 0 {
            return bad("cpu_workers and upload_concurrency must be at least 1".into());
        }
        if !(1 << 20..=512 << 20).contains(&self.pack_size) {
            return bad(format!("pack size {} is out of range 1 MiB..=512 MiB", self.pack_size));
        }
        Ok(())
    }
}

/// Configures a backup; made by [`Repository::backup`].
#[must_use]
pub struct BackupBuilder {
    repo: Repository,
    service: String,
    parent: Option<BackupId>,
    dedup_against: Vec<BackupId>,
    labels: BTreeMap<String, String>,
    options: BackupOptions,
    progress: Arc<dyn Progress>,
    kind: BackupKind,
    consistent: Option<ConsistentPoint>,
    /// Set by [`BackupBuilder::copy_of`]: the id and times of the backup being copied.
    copy: Option<(BackupId, chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)>,
}

impl Repository {
    /// Starts configuring a backup of `service`.
    pub fn backup(&self, service: &str) -> BackupBuilder {
        BackupBuilder {
            repo: self.clone(),
            service: service.to_owned(),
            parent: None,
            dedup_against: Vec::new(),
            labels: BTreeMap::new(),
            options: BackupOptions::default(),
            progress: Arc::new(()),
            kind: BackupKind::Full,
            consistent: None,
            copy: None,
        }
    }
}

impl BackupBuilder {
    /// The backup this one is based on; its chunks are not stored again.
    pub fn parent(mut self, parent: BackupId) -> Self {
        self.parent = Some(parent);
        self
    }

    /// More backups to deduplicate against.
    pub fn dedup_against(mut self, ids: impl IntoIterator<Item = BackupId>) -> Self {
        self.dedup_against.extend(ids);
        self
    }

    /// A label stored with the backup.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// What the backup is (recorded in the catalog; `full` unless set).
    pub fn kind(mut self, kind: BackupKind) -> Self {
        self.kind = kind;
        self
    }

    /// The point a restore of this backup is consistent at (time and log position), when the
    /// source knows it. Point-in-time recovery plans from it.
    pub fn consistent(mut self, point: ConsistentPoint) -> Self {
        self.consistent = Some(point);
        self
    }

    /// Makes this backup a copy of `record` from another repository: it keeps the record's id,
    /// kind, parent, consistent point, labels and start and finish times. Used to copy a backup
    /// into a repository with other keys (its chunks are re-encrypted); refused when the
    /// destination already has a backup with that id.
    pub fn copy_of(mut self, record: &BackupRecord) -> Self {
        self.kind = record.kind;
        self.parent.clone_from(&record.parent);
        self.consistent.clone_from(&record.consistent);
        self.labels.clone_from(&record.labels);
        self.copy = Some((record.id.clone(), record.started, record.finished));
        self
    }

    /// Tuning.
    pub fn options(mut self, options: BackupOptions) -> Self {
        self.options = options;
        self
    }

    /// Where progress goes.
    pub fn progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Loads what to deduplicate against, records the backup as `running` in the catalog, and
    /// starts the packer.
    pub async fn start(self) -> Result<BackupWriter> {
        check_service_name(&self.service).map_err(Error::InvalidArgument)?;
        self.options.validate()?;
        let keys = Arc::clone(self.repo.keys()?);
        let mut sources: Vec<BackupId> = self.parent.iter().cloned().collect();
        sources.extend(self.dedup_against.iter().cloned());
        let mut seen = HashSet::new();
        sources.retain(|id| seen.insert(id.clone()));
        let mut known = HashMap::new();
        for id in &sources {
            self.repo.record(id).await?; // only committed backups
            let index = self.repo.manifest_index(id).await?;
            for c in &index.chunks {
                let pack = index.packs[c.pack as usize];
                known.entry(c.id).or_insert(Located { pack: pack.id, pack_size: pack.size, chunk: *c });
            }
        }
        let (blob_tx, blob_rx) = mpsc::channel(2 * self.options.cpu_workers);
        if self.kind == BackupKind::Incremental && self.parent.is_none() {
            return Err(Error::InvalidArgument("an incremental backup needs a parent".into()));
        }
        let (id, started, copied_finish) = match &self.copy {
            Some((id, started, finished)) => (id.clone(), *started, *finished),
            None => (BackupId::new(), chrono::Utc::now(), None),
        };
        if self.copy.is_some() && self.repo.catalog().find_backup(&id).await?.is_some() {
            return Err(Error::InvalidArgument(format!("backup {id} is already in the destination repository")));
        }
        let running = BackupRecord {
            id: id.clone(),
            service: self.service.clone(),
            kind: self.kind,
            status: BackupStatus::Running,
            parent: self.parent.clone(),
            started,
            finished: None,
            consistent: self.consistent.clone(),
            sizes: Sizes::default(),
            manifest: None,
            region: None,
            labels: self.labels.clone(),
        };
        let version = self.repo.catalog().create_backup(&running).await?;
        let pool = CpuPool::new(self.options.cpu_workers, "backup")?;
        let packer = AbortOnDrop(tokio::spawn(run_packer(
            self.repo.clone(),
            blob_rx,
            self.options.clone(),
            Arc::clone(&self.progress),
            pool.clone(),
        )));
        Ok(BackupWriter {
            id,
            record: running,
            version,
            repo: self.repo,
            dedup_against: sources,
            options: self.options,
            progress: self.progress,
            keys,
            known: Arc::new(known),
            sent: Arc::default(),
            entries: Vec::new(),
            order: Vec::new(),
            order_index: HashMap::new(),
            blob_tx,
            packer,
            pool,
            copied_finish,
        })
    }
}

/// A chunk stored by an earlier backup.
#[derive(Clone, Copy)]
struct Located {
    pack: PackId,
    pack_size: u64,
    chunk: ChunkRef,
}

/// A blob on its way to the packer.
struct NewBlob {
    id: ChunkId,
    bytes: Vec<u8>,
    crc32: u32,
    raw_len: u32,
}

/// A backup being written. Add entries, then [`finish`](Self::finish) (data stored, not yet
/// visible) and [`Repository::commit`], or [`commit`](Self::commit) for both.
pub struct BackupWriter {
    id: BackupId,
    /// The `running` record (service, parent, start, labels) and its version: `finish`
    /// prepares its `succeeded` form, and [`Repository::commit`] writes that only if nobody
    /// changed the record meanwhile.
    record: BackupRecord,
    version: Version,
    repo: Repository,
    dedup_against: Vec<BackupId>,
    options: BackupOptions,
    progress: Arc<dyn Progress>,
    keys: Arc<KeyRing>,
    known: Arc<HashMap<ChunkId, Located>>,
    /// Chunks this backup has handed to the packer. Only the ordered consumer inserts, so an
    /// entry that fails half-way leaves no chunk marked as stored that was not sent.
    sent: Arc<Mutex<HashSet<ChunkId>>>,
    entries: Vec<Entry>,
    /// Distinct chunks in first-use order, and their position.
    order: Vec<ChunkId>,
    order_index: HashMap<ChunkId, u32>,
    blob_tx: mpsc::Sender<NewBlob>,
    packer: AbortOnDrop<Result<Vec<SealedUpload>>>,
    pool: CpuPool,
    /// The original finish time, when this is a copy of another repository's backup.
    copied_finish: Option<chrono::DateTime<chrono::Utc>>,
}

/// A task that is stopped if its handle is dropped (a writer abandoned without `finish`
/// stops packing and uploading).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for BackupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupWriter")
            .field("id", &self.id)
            .field("service", &self.record.service)
            .finish_non_exhaustive()
    }
}

enum Processed {
    Known { id: ChunkId, data: Bytes },
    New { id: ChunkId, data: Bytes, blob: blob::EncodedBlob },
}

impl BackupWriter {
    /// The id the backup will have.
    pub fn id(&self) -> &BackupId {
        &self.id
    }

    /// Sets the point a restore is consistent at, for sources that learn it only while or after
    /// streaming (a database tool reports its log position at the end of its backup). It is
    /// recorded when the backup commits.
    pub fn set_consistent(&mut self, point: ConsistentPoint) {
        self.record.consistent = Some(point);
    }

    /// Adds a label (stored in the manifest and the record) before the backup commits.
    pub fn set_label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.record.labels.insert(key.into(), value.into());
    }

    /// Adds one named entry read to its end from `reader`.
    pub async fn add_entry<R: AsyncRead + Unpin + Send>(
        &mut self,
        name: &str,
        reader: R,
        mode: Option<u32>,
    ) -> Result<()> {
        check_entry_name(name)?;
        if self.entries.iter().any(|e| e.name == name) {
            return Err(Error::InvalidArgument(format!("entry `{name}` added twice")));
        }
        self.progress.entry_started(name);
        let chunker = Chunker::new(reader, self.repo.config.chunker);
        let chunks = futures::stream::unfold(chunker, |mut chunker| async move {
            match chunker.next_chunk().await {
                Ok(Some(data)) => Some((Ok(data), chunker)),
                Ok(None) => None,
                Err(e) => Some((Err(e), chunker)),
            }
        });
        let level = self.options.level;
        let (keys, known, sent) = (Arc::clone(&self.keys), Arc::clone(&self.known), Arc::clone(&self.sent));
        let pool = self.pool.clone();
        let processed = chunks
            .map_err(|e| Error::io(format!("reading entry `{name}`"), e))
            .map_ok(move |data: Bytes| {
                let (keys, known, sent, pool) =
                    (Arc::clone(&keys), Arc::clone(&known), Arc::clone(&sent), pool.clone());
                async move {
                    pool.run(move || {
                        let id = keys.chunk_id(&data);
                        // Skips compressing what is already stored or sent; the consumer makes
                        // the final decision, in order.
                        let fresh = !known.contains_key(&id)
                            && !sent.lock().unwrap_or_else(PoisonError::into_inner).contains(&id);
                        if fresh {
                            let blob = blob::encode(&keys, &id, &data, level);
                            Processed::New { id, data, blob }
                        } else {
                            Processed::Known { id, data }
                        }
                    })
                    .await
                }
            })
            .try_buffered(2 * self.options.cpu_workers);
        let mut processed = std::pin::pin!(processed);

        // The entry's plaintext hash runs on its own thread, fed in order.
        let (hash_tx, mut hash_rx) = mpsc::channel::<Bytes>(self.options.cpu_workers + 2);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut hasher = blake3::Hasher::new();
            while let Some(data) = hash_rx.blocking_recv() {
                hasher.update(&data);
            }
            hasher.finalize()
        });

        let mut chunk_list = Vec::new();
        let mut size = 0u64;
        while let Some(p) = processed.try_next().await? {
            let (id, data) = match p {
                Processed::Known { id, data } => (id, data),
                Processed::New { id, data, blob } => {
                    // The same chunk twice within the workers' window: the first one is sent.
                    if self.sent.lock().unwrap_or_else(PoisonError::into_inner).insert(id) {
                        let raw_len = u32::try_from(data.len()).expect("chunks are at most 16 MiB");
                        let new = NewBlob { id, bytes: blob.bytes, crc32: blob.crc32, raw_len };
                        if self.blob_tx.send(new).await.is_err() {
                            return Err(self.packer_failure().await);
                        }
                    }
                    (id, data)
                }
            };
            size += data.len() as u64;
            self.progress.read(data.len() as u64);
            let index = *self.order_index.entry(id).or_insert_with(|| {
                self.order.push(id);
                u32::try_from(self.order.len() - 1).expect("fewer than 4 billion chunks")
            });
            chunk_list.push(index);
            // A closed hasher channel only happens if the hasher panicked; reported below.
            let _ = hash_tx.send(data).await;
        }
        drop(hash_tx);
        let hash = hasher.await.map_err(|e| Error::io("entry hasher", std::io::Error::other(e)))?;
        self.entries.push(Entry {
            name: name.to_owned(),
            size,
            blake3: hash.to_hex().to_string(),
            mode,
            chunks: chunk_list,
        });
        Ok(())
    }

    /// Adds every regular file under `dir`, named by its path relative to `dir` (with `/`).
    /// Symbolic links and special files are skipped, with a warning.
    pub async fn add_directory(&mut self, dir: &FsPath) -> Result<()> {
        let root = dir.to_path_buf();
        let files = tokio::task::spawn_blocking(move || walk(&root))
            .await
            .map_err(|e| Error::io("listing files", std::io::Error::other(e)))??;
        for (name, path, mode) in files {
            let file =
                tokio::fs::File::open(&path).await.map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            self.add_entry(&name, file, Some(mode)).await?;
        }
        Ok(())
    }

    async fn packer_failure(&mut self) -> Error {
        match (&mut self.packer.0).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => Error::io("packer", std::io::Error::other("stopped early")),
            Err(e) => Error::io("packer", std::io::Error::other(e)),
        }
    }

    /// Stores the remaining packs and the manifest. The backup is then complete in storage
    /// but not visible: commit its record with [`Repository::commit`].
    pub async fn finish(self) -> Result<FinishedBackup> {
        let Self {
            id,
            record: running,
            version,
            repo,
            dedup_against,
            options,
            known,
            entries,
            order,
            blob_tx,
            mut packer,
            copied_finish,
            ..
        } = self;
        drop(blob_tx);
        let uploads = (&mut packer.0).await.map_err(|e| Error::io("packer", std::io::Error::other(e)))??;
        let mut located: HashMap<ChunkId, Located> = HashMap::new();
        let mut stats =
            BackupStats { new_packs: uploads.len() as u64, entries: entries.len() as u64, ..BackupStats::default() };
        for upload in &uploads {
            for e in &upload.entries {
                stats.new_bytes += u64::from(e.length);
                stats.new_chunks += 1;
                let chunk = ChunkRef {
                    id: e.id,
                    pack: 0,
                    offset: e.offset,
                    length: e.length,
                    crc32: e.crc32,
                    raw_len: e.raw_len,
                };
                located.insert(e.id, Located { pack: upload.id, pack_size: upload.size, chunk });
            }
        }
        let mut packs: Vec<PackRef> = Vec::new();
        let mut pack_index: HashMap<PackId, u32> = HashMap::new();
        let mut chunks = Vec::with_capacity(order.len());
        for cid in &order {
            let loc = located.get(cid).or_else(|| known.get(cid)).copied().ok_or_else(|| {
                Error::io("backup", std::io::Error::other(format!("chunk {cid} has no stored location")))
            })?;
            let p = *pack_index.entry(loc.pack).or_insert_with(|| {
                packs.push(PackRef { id: loc.pack, size: loc.pack_size });
                u32::try_from(packs.len() - 1).expect("fewer than 4 billion packs")
            });
            stats.stored_bytes += u64::from(loc.chunk.length);
            chunks.push(ChunkRef { pack: p, ..loc.chunk });
        }
        stats.chunks = chunks.len() as u64;
        stats.logical_bytes = entries.iter().map(|e| e.size).sum();

        check_packs_present(&repo, &packs, options.upload_concurrency).await?;

        let finished = copied_finish.unwrap_or_else(chrono::Utc::now);
        let index = ManifestIndex { backup: id.clone(), service: running.service.clone(), packs, chunks };
        let body = ManifestBody {
            started: running.started,
            finished,
            parent: running.parent.clone(),
            dedup_against,
            level: options.level,
            entries,
            labels: running.labels.clone(),
        };
        let keys = Arc::clone(repo.keys()?);
        let bytes = tokio::task::spawn_blocking(move || manifest::encode(&keys, &index, &body))
            .await
            .map_err(|e| Error::io("manifest", std::io::Error::other(e)))?;
        let path = manifest::manifest_path(&id);
        repo.put_once(&path, bytes.into()).await?;
        let record = BackupRecord {
            status: BackupStatus::Succeeded,
            finished: Some(finished),
            sizes: Sizes {
                logical_bytes: stats.logical_bytes,
                stored_bytes: stats.stored_bytes,
                new_bytes: stats.new_bytes,
            },
            manifest: Some(path.to_string()),
            ..running
        };
        Ok(FinishedBackup { record, version, stats })
    }

    /// [`finish`](Self::finish), then commit: the backup becomes visible. On failure the
    /// record is marked `failed` with the reason (when the catalog can still be written).
    pub async fn commit(self) -> Result<BackupSummary> {
        let repo = self.repo.clone();
        let (running, version) = (self.record.clone(), self.version.clone());
        let finished = match self.finish().await {
            Ok(f) => f,
            Err(e) => {
                mark_failed(&repo, running, &version, &e.to_string()).await;
                return Err(e);
            }
        };
        repo.commit(&finished).await?;
        Ok(BackupSummary { id: finished.record.id.clone(), record: finished.record, stats: finished.stats })
    }

    /// Gives up: the record is marked `failed` with `reason` (best effort: a warning is logged
    /// if the catalog cannot be written); whatever was stored is garbage for GC.
    pub async fn abandon(self, reason: &str) {
        let (repo, running, version) = (self.repo.clone(), self.record.clone(), self.version.clone());
        drop(self); // stops the packer
        mark_failed(&repo, running, &version, reason).await;
    }
}

/// A backup whose data and manifest are stored, waiting for its record to say `succeeded`.
#[derive(Clone, Debug)]
pub struct FinishedBackup {
    /// The record in its `succeeded` form.
    pub record: BackupRecord,
    /// The version of the `running` record it replaces.
    pub version: Version,
    /// What was stored.
    pub stats: BackupStats,
}

/// A committed backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// Its id.
    pub id: BackupId,
    /// Its catalog record (`succeeded`).
    pub record: BackupRecord,
    /// What was stored.
    pub stats: BackupStats,
}

async fn mark_failed(repo: &Repository, running: BackupRecord, version: &Version, reason: &str) {
    let failed = BackupRecord {
        status: BackupStatus::Failed { reason: reason.to_owned() },
        finished: Some(chrono::Utc::now()),
        ..running
    };
    if let Err(e) = repo.catalog().update_backup(&failed, version).await {
        tracing::warn!(backup = %failed.id, error = %e, "could not mark the backup failed");
    }
}

/// Every pack the manifest will name must be there: one reused from an earlier backup could have
/// been removed by a GC after that backup was deleted, and one this backup wrote could have been
/// removed by a GC whose grace period was shorter than this backup took. Either way the backup
/// fails here rather than committing a manifest that points at nothing.
async fn check_packs_present(repo: &Repository, packs: &[PackRef], concurrency: usize) -> Result<()> {
    // Owned items and store: a closure over borrowed ones makes the future `Send` only for
    // particular lifetimes, and callers must be able to spawn a commit.
    let store = Arc::clone(&repo.store);
    futures::stream::iter(packs.iter().copied())
        .map(move |p| {
            let store = Arc::clone(&store);
            async move {
                let path = pack_path(&p.id);
                match store.head(&path).await {
                    Ok(meta) if meta.size == p.size => Ok(()),
                    Ok(meta) => {
                        Err(Error::corrupt(ObjectKind::Pack, &path, format!("size {} expected {}", meta.size, p.size)))
                    }
                    Err(object_store::Error::NotFound { .. }) => Err(Error::corrupt(
                        ObjectKind::Pack,
                        &path,
                        "missing before the backup could commit (removed by a garbage collection?); \
                     run the backup again",
                    )),
                    Err(e) => Err(Error::storage("check", &path, e)),
                }
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

struct SealedUpload {
    id: PackId,
    size: u64,
    entries: Vec<PackEntry>,
}

async fn run_packer(
    repo: Repository,
    mut rx: mpsc::Receiver<NewBlob>,
    options: BackupOptions,
    progress: Arc<dyn Progress>,
    pool: CpuPool,
) -> Result<Vec<SealedUpload>> {
    let slots = Arc::new(Semaphore::new(options.upload_concurrency));
    let mut uploads: JoinSet<Result<SealedUpload>> = JoinSet::new();
    let mut done = Vec::new();
    let mut builder = PackBuilder::new(options.pack_size + (4 << 20));
    loop {
        // Collect finished uploads as they come, so an error stops the backup early.
        while let Some(result) = uploads.try_join_next() {
            done.push(result.map_err(|e| Error::io("upload", std::io::Error::other(e)))??);
        }
        let blob = rx.recv().await;
        if let Some(b) = &blob {
            builder.add(b.id, &b.bytes, b.crc32, b.raw_len);
        }
        let full = builder.len() >= options.pack_size;
        if (full || blob.is_none()) && !builder.is_empty() {
            let sealed = std::mem::replace(&mut builder, PackBuilder::new(options.pack_size + (4 << 20)));
            let permit = Arc::clone(&slots).acquire_owned().await.expect("semaphore is never closed");
            let (repo, progress, pool) = (repo.clone(), Arc::clone(&progress), pool.clone());
            uploads.spawn(async move {
                let _permit = permit;
                let pack = pool.run(move || sealed.seal()).await?;
                let path = pack_path(&pack.id);
                let size = pack.bytes.len() as u64;
                match repo.store.put_opts(&path, pack.bytes.clone().into(), PutMode::Create.into()).await {
                    Ok(_) => {}
                    // The same bytes are already stored under their hash (an earlier, unfinished
                    // backup, or a retried put). Write them again so the object's time is now:
                    // otherwise a garbage collection could take it for old debris before this
                    // backup commits.
                    Err(object_store::Error::AlreadyExists { .. }) => {
                        repo.store
                            .put(&path, pack.bytes.into())
                            .await
                            .map_err(|e| Error::storage("write", &path, e))?;
                    }
                    Err(e) => return Err(Error::storage("write", &path, e)),
                }
                progress.stored(size);
                Ok(SealedUpload { id: pack.id, size, entries: pack.entries })
            });
        }
        if blob.is_none() {
            break;
        }
    }
    while let Some(result) = uploads.join_next().await {
        done.push(result.map_err(|e| Error::io("upload", std::io::Error::other(e)))??);
    }
    Ok(done)
}

/// Entry names: relative paths with `/`, no empty, `.` or `..` components, no NUL.
pub(crate) fn check_entry_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\0')
        && !name.contains('\\')
        && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "`{name}` is not a valid entry name (a relative path with `/`, without `.`, `..` or empty parts)"
        )))
    }
}

fn walk(root: &FsPath) -> Result<Vec<(String, PathBuf, u32)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let read = std::fs::read_dir(&dir).map_err(|e| Error::io(format!("reading directory {}", dir.display()), e))?;
        for item in read {
            let item = item.map_err(|e| Error::io(format!("reading directory {}", dir.display()), e))?;
            let path = item.path();
            let meta = item.metadata().map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(root).expect("under root");
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| Error::InvalidArgument(format!("file name is not UTF-8: {}", path.display())))?
                    .join("/");
                out.push((name, path, file_mode(&meta)));
            } else {
                tracing::warn!(path = %path.display(), "skipping: not a regular file or directory");
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> u32 {
    0o644
}
