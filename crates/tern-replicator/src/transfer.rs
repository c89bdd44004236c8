//! Moving a backup's bytes between two repositories that share keys: packs checked against
//! their names before they are written, then the manifest, then the record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};
use tern_catalog::{BackupKind, BackupRecord, CatalogExt, LogSegment};
use tern_engine::pack::pack_path;
use tern_engine::{BackupId, Error, PackId, Repository, Result};
use tokio::time::Instant;

use crate::{Damaged, PassReport};

/// Two prefixes of one bucket: packs copy server-side, from `root/<from>/…` to `root/<to>/…`.
#[derive(Clone, Debug)]
pub struct ServerSideCopy {
    /// The bucket, unprefixed.
    pub root: Arc<dyn ObjectStore>,
    /// The source repository's prefix in it.
    pub from: Path,
    /// The destination repository's prefix in it.
    pub to: Path,
}

impl ServerSideCopy {
    fn paths(&self, path: &Path) -> (Path, Path) {
        let join = |prefix: &Path| prefix.parts().chain(path.parts()).collect::<Path>();
        (join(&self.from), join(&self.to))
    }
}

/// An average rate limit shared by every concurrent transfer: each transfer reserves the time
/// its bytes take at the limit, and starts when the reservations before it have ended.
#[derive(Debug)]
pub(crate) struct Bandwidth {
    bytes_per_sec: u64,
    next: Mutex<Option<Instant>>,
}

impl Bandwidth {
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        Self { bytes_per_sec: bytes_per_sec.max(1), next: Mutex::new(None) }
    }

    pub(crate) async fn take(&self, bytes: u64) {
        #[allow(clippy::cast_precision_loss)] // sub-byte precision does not matter for a rate
        let takes = Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64);
        let start = {
            let mut next = self.next.lock().expect("the lock is never held across a panic");
            let now = Instant::now();
            let start = next.map_or(now, |n| n.max(now));
            *next = Some(start + takes);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// How bytes move from one repository to another.
#[derive(Clone, Debug)]
pub(crate) struct Transfer {
    pub(crate) from: Repository,
    pub(crate) to: Repository,
    pub(crate) concurrency: usize,
    pub(crate) bandwidth: Option<Arc<Bandwidth>>,
    pub(crate) server_side: Option<ServerSideCopy>,
}

enum PackCopy {
    Present,
    Written { bytes: u64, server_side: bool },
    Damaged(PackId, String),
}

impl Transfer {
    /// Copies a backup's missing packs, its manifest, its record and (for a log backup) its
    /// segment record, in that order. `Some` when a pack is damaged in the source: nothing of
    /// the backup is published then.
    pub(crate) async fn copy_backup(
        &self,
        record: &BackupRecord,
        segment: Option<&LogSegment>,
        report: &mut PassReport,
    ) -> Result<Option<Damaged>> {
        if let Some(damaged) = self.copy_data(&record.id, report).await? {
            tracing::warn!(backup = %record.id, pack = %damaged.pack, detail = %damaged.detail, "not copied");
            return Ok(Some(damaged));
        }
        self.to.catalog().create_backup(record).await?;
        report.records_copied += 1;
        if record.kind == BackupKind::Log
            && let Some(segment) = segment
        {
            self.to.catalog().create_segment(segment).await?;
            report.segments_copied += 1;
        }
        Ok(None)
    }

    async fn copy_data(&self, id: &BackupId, report: &mut PassReport) -> Result<Option<Damaged>> {
        let index = self.from.manifest_index(id).await?;
        let results: Vec<PackCopy> = futures::stream::iter(index.packs.iter().copied())
            .map(|pack| self.copy_pack(pack.id, pack.size))
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        let mut damaged = None;
        for result in results {
            match result {
                PackCopy::Present => report.packs_present += 1,
                PackCopy::Written { bytes, server_side } => {
                    report.packs_copied += 1;
                    if server_side {
                        report.server_side_copies += 1;
                    } else {
                        report.bytes_copied += bytes;
                    }
                }
                PackCopy::Damaged(pack, detail) => {
                    damaged = damaged.or(Some(Damaged { backup: id.clone(), pack, detail }));
                }
            }
        }
        if damaged.is_some() {
            return Ok(damaged);
        }
        let manifest = self.from.manifest_bytes(id).await?;
        let path = tern_engine::manifest::manifest_path(id);
        if let Some(limit) = &self.bandwidth {
            limit.take(manifest.len() as u64).await;
        }
        match self.to.store().put_opts(&path, manifest.clone().into(), PutMode::Create.into()).await {
            Ok(_) => report.bytes_copied += manifest.len() as u64,
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(storage("write", &path, e)),
        }
        Ok(None)
    }

    async fn copy_pack(&self, id: PackId, size: u64) -> Result<PackCopy> {
        let path = pack_path(&id);
        match self.to.store().head(&path).await {
            Ok(meta) if meta.size == size => return Ok(PackCopy::Present),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage("check", &path, e)),
        }
        let bytes = match self.from.store().get(&path).await {
            Ok(got) => got.bytes().await.map_err(|e| storage("read", &path, e))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(PackCopy::Damaged(id, "missing in the source".into()));
            }
            Err(e) => return Err(storage("read", &path, e)),
        };
        if bytes.len() as u64 != size {
            return Ok(PackCopy::Damaged(id, format!("{} bytes in the source, expected {size}", bytes.len())));
        }
        let check = bytes.clone();
        let intact = tokio::task::spawn_blocking(move || blake3::hash(&check) == blake3::Hash::from_bytes(id.0))
            .await
            .map_err(|e| Error::Io { context: "checking a pack".into(), source: std::io::Error::other(e) })?;
        if !intact {
            return Ok(PackCopy::Damaged(id, "content does not match its id in the source".into()));
        }
        let n = bytes.len() as u64;
        if let Some(server) = &self.server_side {
            let (from, to) = server.paths(&path);
            server.root.copy(&from, &to).await.map_err(|e| storage("copy", &to, e))?;
            return Ok(PackCopy::Written { bytes: n, server_side: true });
        }
        if let Some(limit) = &self.bandwidth {
            limit.take(n).await;
        }
        match self.to.store().put_opts(&path, bytes.into(), PutMode::Create.into()).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {
                Ok(PackCopy::Written { bytes: n, server_side: false })
            }
            Err(e) => Err(storage("write", &path, e)),
        }
    }
}

pub(crate) fn storage(op: &'static str, path: &Path, source: object_store::Error) -> Error {
    Error::Storage { op, path: path.to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bandwidth_spaces_transfers_at_the_rate() {
        let limit = Bandwidth::new(1_000_000);
        let t0 = Instant::now();
        limit.take(500_000).await; // the first starts at once
        assert_eq!(t0.elapsed(), Duration::ZERO);
        limit.take(2_000_000).await; // waits for the first's half second
        assert_eq!(t0.elapsed(), Duration::from_millis(500));
        limit.take(1).await; // waits for the second's two seconds
        assert_eq!(t0.elapsed(), Duration::from_millis(2500));
        // Idle time is not banked: after a pause the next transfer starts at once, no burst.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let t1 = Instant::now();
        limit.take(1_000_000).await;
        limit.take(1_000_000).await;
        assert_eq!(t1.elapsed(), Duration::from_secs(1));
    }
}
