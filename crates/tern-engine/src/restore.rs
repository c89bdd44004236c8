//! Reading a backup back.
//!
//! ```text
//! manifest ─► read plan (adjacent blobs of a pack coalesced into ranged GETs of ≤ 8 MiB)
//!          ─► M concurrent GETs ─► N workers: CRC32, decrypt, decompress, check id ─► ordered writer
//!                                                                   └─► hasher (entry BLAKE3)
//! ```
//!
//! Every chunk is fully checked before a byte of it is written, so no wrong byte reaches the
//! output: a damaged chunk stops the restore with an error naming backup, entry, chunk and pack.

use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::blob;
use crate::error::{Error, Result};
use crate::id::BackupId;
use crate::keys::KeyRing;
use crate::manifest::{Entry, ManifestIndex};
use crate::pack::pack_path;
use crate::pool::CpuPool;
use crate::progress::Progress;
use crate::repo::Repository;

/// Tuning of a restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Ranged GETs in flight (default 8).
    pub fetch_concurrency: usize,
    /// Threads checking, decrypting and decompressing (default: all cores).
    pub cpu_workers: usize,
    /// Largest coalesced read (default 8 MiB).
    pub max_read: u64,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            fetch_concurrency: 8,
            cpu_workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            max_read: 8 << 20,
        }
    }
}

/// A restore being configured; made by [`Repository::restore`].
#[must_use]
pub struct Restore {
    repo: Repository,
    backup: BackupId,
    entry: Option<String>,
    options: RestoreOptions,
    progress: Arc<dyn Progress>,
}

impl Repository {
    /// Starts configuring a restore of `backup`.
    pub fn restore(&self, backup: &BackupId) -> Restore {
        Restore {
            repo: self.clone(),
            backup: backup.clone(),
            entry: None,
            options: RestoreOptions::default(),
            progress: Arc::new(()),
        }
    }
}

impl Restore {
    /// Restores only this entry.
    pub fn entry(mut self, name: impl Into<String>) -> Self {
        self.entry = Some(name.into());
        self
    }

    /// Tuning.
    pub fn options(mut self, options: RestoreOptions) -> Self {
        self.options = options;
        self
    }

    /// Where progress goes.
    pub fn progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    async fn selected(&self) -> Result<(Arc<KeyRing>, ManifestIndex, Vec<Entry>)> {
        let keys = Arc::clone(self.repo.keys()?);
        let (index, body) = self.repo.manifest(&self.backup).await?;
        let entries = match &self.entry {
            None => body.entries,
            Some(name) => {
                let found = body.entries.iter().find(|e| &e.name == name).cloned();
                vec![found.ok_or_else(|| Error::EntryNotFound {
                    backup: self.backup.clone(),
                    entry: name.clone(),
                    available: abbreviate(body.entries.iter().map(|e| e.name.as_str())),
                })?]
            }
        };
        Ok((keys, index, entries))
    }

    async fn read<W: AsyncWrite + Unpin + Send>(
        &self,
        keys: &Arc<KeyRing>,
        index: &ManifestIndex,
        entry: &Entry,
        pool: &CpuPool,
        writer: &mut W,
    ) -> Result<u64> {
        read_entry(&self.repo, keys, &self.backup, index, entry, &self.options, pool, &*self.progress, writer).await
    }

    /// Writes one entry to `writer`: the one chosen with [`entry`](Self::entry), or the
    /// backup's only entry. Returns the bytes written.
    pub async fn to_writer<W: AsyncWrite + Unpin + Send>(self, mut writer: W) -> Result<u64> {
        let (keys, index, entries) = self.selected().await?;
        let pool = CpuPool::new(self.options.cpu_workers, "restore")?;
        let [entry] = entries.as_slice() else {
            return Err(Error::InvalidArgument(format!(
                "backup {} has {} entries ({}); choose one, or restore to a directory",
                self.backup,
                entries.len(),
                abbreviate(entries.iter().map(|e| e.name.as_str()))
            )));
        };
        let n = self.read(&keys, &index, entry, &pool, &mut writer).await?;
        writer.flush().await.map_err(|e| Error::io("flushing output", e))?;
        Ok(n)
    }

    /// Writes every selected entry as a file under `dir` (created if missing). Each file is
    /// written beside its final name and renamed into place only once its hash checks out.
    pub async fn to_directory(self, dir: &FsPath) -> Result<u64> {
        let (keys, index, entries) = self.selected().await?;
        let pool = CpuPool::new(self.options.cpu_workers, "restore")?;
        let mut total = 0;
        for entry in &entries {
            let target = safe_join(dir, &entry.name)?;
            let parent = target.parent().expect("joined under dir");
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            let file_name = target.file_name().expect("has a name").to_string_lossy();
            let partial = parent.join(format!(".{file_name}.tern-partial"));
            let file = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| Error::io(format!("creating {}", partial.display()), e))?;
            let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
            let written = self.read(&keys, &index, entry, &pool, &mut out).await;
            let written = match written {
                Ok(n) => n,
                Err(e) => {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(e);
                }
            };
            out.flush().await.map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
            let file = out.into_inner();
            file.sync_all().await.map_err(|e| Error::io(format!("syncing {}", partial.display()), e))?;
            drop(file);
            #[cfg(unix)]
            if let Some(mode) = entry.mode {
                use std::os::unix::fs::PermissionsExt;
                tokio::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode))
                    .await
                    .map_err(|e| Error::io(format!("setting mode of {}", partial.display()), e))?;
            }
            tokio::fs::rename(&partial, &target)
                .await
                .map_err(|e| Error::io(format!("renaming to {}", target.display()), e))?;
            total += written;
        }
        Ok(total)
    }
}

fn abbreviate<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.len() {
        0 => "none".into(),
        1..=5 => names.join(", "),
        n => format!("{}, … ({n} in all)", names[..5].join(", ")),
    }
}

/// `dir` joined with an entry name, refusing anything that could escape `dir`.
fn safe_join(dir: &FsPath, name: &str) -> Result<PathBuf> {
    crate::backup::check_entry_name(name)?;
    let rel = FsPath::new(name);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::InvalidArgument(format!("entry name `{name}` would escape the target directory")));
    }
    Ok(dir.join(rel))
}

/// A coalesced read of adjacent blobs in one pack.
struct Read {
    pack: u32,
    start: u64,
    end: u64,
    chunks: Vec<u32>,
}

fn plan(index: &ManifestIndex, chunks: &[u32], max_read: u64) -> Vec<Read> {
    let mut reads: Vec<Read> = Vec::new();
    for &ci in chunks {
        let c = &index.chunks[ci as usize];
        let end = c.offset + u64::from(c.length);
        if let Some(last) = reads.last_mut()
            && last.pack == c.pack
            && c.offset == last.end
            && end - last.start <= max_read
        {
            last.end = end;
            last.chunks.push(ci);
            continue;
        }
        reads.push(Read { pack: c.pack, start: c.offset, end, chunks: vec![ci] });
    }
    reads
}

/// Makes the error for a damaged chunk, naming backup, entry, chunk and pack.
#[derive(Clone)]
struct Damage {
    index: Arc<ManifestIndex>,
    backup: BackupId,
    entry: String,
}

impl Damage {
    fn chunk(&self, ci: u32, reason: String) -> Error {
        let c = &self.index.chunks[ci as usize];
        Error::DamagedChunk {
            backup: self.backup.clone(),
            entry: self.entry.clone(),
            chunk: c.id,
            pack: self.index.packs[c.pack as usize].id,
            offset: c.offset,
            reason,
        }
    }

    /// The first chunk of `read` that does not fit in the first `have` bytes of its pack.
    fn first_cut(&self, read: &Read, have: u64) -> Option<u32> {
        read.chunks.iter().copied().find(|&ci| {
            let c = &self.index.chunks[ci as usize];
            c.offset + u64::from(c.length) > have
        })
    }
}

/// One coalesced ranged read, with missing and truncated packs reported as damaged chunks.
async fn fetch(
    store: &Arc<dyn object_store::ObjectStore>,
    damage: &Damage,
    read: Read,
    progress: &dyn Progress,
) -> Result<(Read, Bytes)> {
    let path = pack_path(&damage.index.packs[read.pack as usize].id);
    let bytes = match store.get_range(&path, read.start..read.end).await {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(damage.chunk(read.chunks[0], "its pack is missing".into()));
        }
        Err(e) => {
            // A store refuses a range that starts past the end of a truncated pack: say so,
            // naming the chunk, rather than report a bare storage error.
            if let Ok(meta) = store.head(&path).await
                && let Some(ci) = damage.first_cut(&read, meta.size)
            {
                return Err(damage.chunk(ci, format!("pack is truncated (it has {} bytes)", meta.size)));
            }
            return Err(Error::storage("read", &path, e));
        }
    };
    if let Some(ci) = damage.first_cut(&read, read.start + bytes.len() as u64) {
        let detail = format!("pack is truncated (read {} of {} bytes)", bytes.len(), read.end - read.start);
        return Err(damage.chunk(ci, detail));
    }
    progress.stored(bytes.len() as u64);
    Ok((read, bytes))
}

/// Restores one entry into `writer`, checking everything. Shared with deep verify.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_entry<W: AsyncWrite + Unpin + Send>(
    repo: &Repository,
    keys: &Arc<KeyRing>,
    backup: &BackupId,
    index: &ManifestIndex,
    entry: &Entry,
    options: &RestoreOptions,
    pool: &CpuPool,
    progress: &dyn Progress,
    writer: &mut W,
) -> Result<u64> {
    progress.entry_started(&entry.name);
    let index = Arc::new(index.clone());
    let damage = Damage { index: Arc::clone(&index), backup: backup.clone(), entry: entry.name.clone() };
    let reads = plan(&index, &entry.chunks, options.max_read.max(1));
    let fetched = futures::stream::iter(reads)
        .map(|read| fetch(&repo.store, &damage, read, progress))
        .buffered(options.fetch_concurrency.max(1));
    let blobs = fetched
        .map_ok(|(read, bytes): (Read, Bytes)| {
            let index = Arc::clone(&index);
            futures::stream::iter(read.chunks.into_iter().map(move |ci| {
                let c = &index.chunks[ci as usize];
                let from = usize::try_from(c.offset - read.start).expect("within a read");
                Ok((ci, bytes.slice(from..from + c.length as usize)))
            }))
        })
        .try_flatten();
    let plaintexts = blobs
        .map_ok(|(ci, blob): (u32, Bytes)| {
            let (keys, damage, pool) = (Arc::clone(keys), damage.clone(), pool.clone());
            async move {
                pool.run(move || {
                    let c = &damage.index.chunks[ci as usize];
                    blob::decode(&keys, &c.id, &blob, c.crc32, c.raw_len as usize)
                        .map_err(|e| damage.chunk(ci, e.to_string()))
                })
                .await?
            }
        })
        .try_buffered(options.cpu_workers.max(1));
    let mut plaintexts = std::pin::pin!(plaintexts);

    let (hash_tx, mut hash_rx) = mpsc::channel::<Vec<u8>>(options.cpu_workers.max(1) + 2);
    let hasher = tokio::task::spawn_blocking(move || {
        let mut hasher = blake3::Hasher::new();
        while let Some(data) = hash_rx.blocking_recv() {
            hasher.update(&data);
        }
        hasher.finalize()
    });
    let mut written = 0u64;
    while let Some(plain) = plaintexts.try_next().await? {
        writer.write_all(&plain).await.map_err(|e| Error::io(format!("writing entry `{}`", entry.name), e))?;
        written += plain.len() as u64;
        progress.read(plain.len() as u64);
        let _ = hash_tx.send(plain).await;
    }
    drop(hash_tx);
    let hash = hasher.await.map_err(|e| Error::io("entry hasher", std::io::Error::other(e)))?;
    if written != entry.size || hash.to_hex().as_str() != entry.blake3 {
        return Err(Error::EntryHashMismatch { backup: backup.clone(), entry: entry.name.clone() });
    }
    Ok(written)
}
