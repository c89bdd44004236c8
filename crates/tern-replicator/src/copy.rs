//! Copy on demand: one backup, with everything it needs, to another region or to a user's own
//! bucket.
//!
//! The closure of a backup is the chain of parents an incremental needs (oldest first, up to
//! the full it is based on) and,
//! with [`CopyOptions::with_logs`], the archived log segments from the backup's consistent
//! point up to the service's next backup: enough to restore the backup and to recover to any
//! time before the next one. Backups the destination already holds are skipped.
//!
//! How bytes move depends on the destination:
//! - an empty location becomes a clone of the source's `tern.json` ([`destination`]), so it
//!   shares the master key, and so does a repository whose keys are the same: packs copy as
//!   bytes, checked against their names, with no key needed;
//! - a repository with other keys (a user's own bucket with its own key): every entry is
//!   decrypted from the source and stored again under the destination's keys, which needs both
//!   repositories unlocked. The copy keeps the backup's id, kind, parent, consistent point,
//!   labels and times.
//!
//! Either way a record is published only after its data, so an interrupted copy leaves no
//! half-visible backup, and running it again finishes it.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tern_engine::{InitOptions, KdfParams, Repository, UserKey};
//! use tern_replicator::copy::{self, CopyMode, CopyOptions};
//! use tern_storage::Location;
//!
//! let fast = |k: &UserKey| InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(k.clone()) };
//! let (ours, theirs) = (UserKey::passphrase("ours"), UserKey::passphrase("theirs"));
//! let source = Repository::init(Location::memory("copy-doc-src").open()?, fast(&ours)).await?;
//! let mut writer = source.backup("db1").start().await?;
//! writer.add_entry("dump.sql", &b"INSERT 1;\n".repeat(1000)[..], None).await?;
//! let backup = writer.commit().await?;
//!
//! // The user's bucket has its own repository and key: chunks are re-encrypted.
//! let bucket = Repository::init(Location::memory("copy-doc-dst").open()?, fast(&theirs)).await?;
//! let report = copy::copy_backup(&source, &bucket, &backup.id, &CopyOptions::default()).await?;
//! assert_eq!((report.mode, report.copied.len()), (CopyMode::Reencrypted, 1));
//!
//! let mut out = Vec::new();
//! bucket.restore(&backup.id).to_writer(&mut out).await?;
//! assert_eq!(out, b"INSERT 1;\n".repeat(1000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;
use tern_catalog::{BackupFilter, BackupKind, BackupRecord, BackupStatus, CatalogExt, LogSegment, Paging};
use tern_engine::{BackupId, Error, Repository, Result, UserKey};

use crate::transfer::{Bandwidth, Transfer};
use crate::{Damaged, PassReport};

/// What to copy, and how fast.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Also copy the log segments from the backup's consistent point up to the service's next
    /// backup (or to the newest segment when there is none).
    pub with_logs: bool,
    /// Packs copied at once (byte copies).
    pub concurrency: usize,
    /// Average bytes per second sent to the destination; `None`: unlimited. For re-encrypted
    /// copies it paces the restored (uncompressed) bytes, which bounds the upload rate.
    pub bandwidth_limit: Option<u64>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self { with_logs: false, concurrency: 4, bandwidth_limit: None }
    }
}

/// How the data moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyMode {
    /// Packs and manifests copied as bytes (the destination shares the source's keys).
    Bytes,
    /// Every chunk decrypted and stored again under the destination's keys.
    Reencrypted,
}

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// How the data moved.
    pub mode: CopyMode,
    /// Backups copied, in the order they were published (parents first).
    pub copied: Vec<BackupId>,
    /// Backups of the closure the destination already held.
    pub already_present: Vec<BackupId>,
    /// Log segment records published.
    pub segments_copied: u64,
    /// New packs written to the destination.
    pub packs_copied: u64,
    /// Packs the destination already had.
    pub packs_present: u64,
    /// Bytes written to the destination.
    pub bytes_copied: u64,
}

/// Opens the destination of a copy: an existing repository (unlocked with `key`, needed only
/// when its keys differ from the source's), or, if `store` holds none, a new clone of the
/// source's `tern.json` that shares its keys.
pub async fn destination(
    source: &Repository,
    store: Arc<dyn ObjectStore>,
    key: Option<&UserKey>,
) -> Result<Repository> {
    match store.head(&Path::from("tern.json")).await {
        Ok(_) => Repository::open(store, key).await,
        Err(object_store::Error::NotFound { .. }) => crate::clone_config(source, store).await,
        Err(e) => Err(crate::transfer::storage("check", &Path::from("tern.json"), e)),
    }
}

/// The backups and log segments `id` needs, in publish order: its parents (oldest first), the
/// backup, then (with `with_logs`) the log backups of the segments up to the next backup.
pub async fn closure(
    from: &Repository,
    id: &BackupId,
    with_logs: bool,
) -> Result<Vec<(BackupRecord, Option<LogSegment>)>> {
    let catalog = from.catalog();
    let record = restorable(catalog.find_backup(id).await?, id, "backup")?;
    let segments = catalog.list_segments(&record.service).await?;
    let mut chain = vec![record.clone()];
    // Only an incremental needs its parent to restore; a full's parent was for dedup only.
    while let Some(parent) = chain.last().filter(|r| r.kind == BackupKind::Incremental).and_then(|r| r.parent.clone()) {
        if chain.iter().any(|r| r.id == parent) {
            return Err(Error::InvalidArgument(format!("backup {id}: its chain of parents loops at {parent}")));
        }
        chain.push(restorable(catalog.find_backup(&parent).await?, &parent, "parent")?);
    }
    chain.reverse();
    let mut out: Vec<_> = chain
        .into_iter()
        .map(|r| {
            let segment = segments.iter().find(|s| s.id == r.id).cloned();
            (r, segment)
        })
        .collect();
    if with_logs && record.kind != BackupKind::Log {
        let from_time = record.consistent.as_ref().map_or(record.started, |c| c.time);
        let filter = BackupFilter {
            service: Some(record.service.clone()),
            status: Some("succeeded".into()),
            ..BackupFilter::default()
        };
        let all = catalog.list_backups(&filter, Paging::all()).await?.items;
        let next = all
            .iter()
            .filter(|r| r.kind != BackupKind::Log && r.id != record.id)
            .filter_map(|r| r.consistent.as_ref().map(|c| c.time))
            .filter(|t| *t > from_time)
            .min();
        for segment in &segments {
            // A segment ending at the backup's point, or starting at the next one's, is not needed.
            let reaches = segment.end_time > from_time && next.is_none_or(|n| segment.start_time < n);
            if let Some(log) = all.iter().find(|r| r.id == segment.id).filter(|_| reaches) {
                out.push((log.clone(), Some(segment.clone())));
            }
        }
    }
    Ok(out)
}

/// `record` if it can be copied, else why not.
fn restorable(record: Option<BackupRecord>, id: &BackupId, what: &str) -> Result<BackupRecord> {
    match record {
        Some(r) if r.status == BackupStatus::Succeeded => Ok(r),
        Some(r) => {
            Err(Error::InvalidArgument(format!("{what} {id} cannot be copied: its status is {}", r.status.name())))
        }
        None => Err(Error::InvalidArgument(format!("{what} {id} is not in the source repository"))),
    }
}

/// Copies `id` and its closure from `from` into `to`; see the [module](self) documentation.
pub async fn copy_backup(
    from: &Repository,
    to: &Repository,
    id: &BackupId,
    options: &CopyOptions,
) -> Result<CopyReport> {
    let same_keys = from.config().repo_id == to.config().repo_id
        || matches!((from.key_ring(), to.key_ring()), (Ok(a), Ok(b)) if a.same_keys(&b));
    if !(same_keys || from.is_unlocked() && to.is_unlocked()) {
        let locked = match (from.is_unlocked(), to.is_unlocked()) {
            (false, false) => "neither is",
            (false, true) => "the source is not",
            _ => "the destination is not",
        };
        return Err(Error::InvalidArgument(format!(
            "the destination has other keys, so the copy is re-encrypted: both repositories must be unlocked, and {locked}"
        )));
    }
    let mode = if same_keys { CopyMode::Bytes } else { CopyMode::Reencrypted };
    let mut report = CopyReport {
        mode,
        copied: Vec::new(),
        already_present: Vec::new(),
        segments_copied: 0,
        packs_copied: 0,
        packs_present: 0,
        bytes_copied: 0,
    };
    let transfer = Transfer {
        from: from.clone(),
        to: to.clone(),
        concurrency: options.concurrency.max(1),
        bandwidth: options.bandwidth_limit.map(|b| Arc::new(Bandwidth::new(b))),
        server_side: None,
    };
    for (record, segment) in closure(from, id, options.with_logs).await? {
        match to.catalog().find_backup(&record.id).await? {
            Some(r) if r.status == BackupStatus::Succeeded => {
                report.already_present.push(record.id.clone());
                continue;
            }
            // A copy that was interrupted: its record never said succeeded, so its data is
            // garbage; start over.
            Some(r) => {
                tracing::info!(backup = %r.id, status = r.status.name(), "replacing an unfinished copy");
                to.catalog().delete_backup(&r.service, &r.id, true).await?;
            }
            None => {}
        }
        if mode == CopyMode::Bytes {
            let mut pass = PassReport::default();
            if let Some(Damaged { pack, detail, .. }) =
                transfer.copy_backup(&record, segment.as_ref(), &mut pass).await?
            {
                return Err(Error::InvalidArgument(format!(
                    "backup {} cannot be copied: pack {pack} is damaged in the source ({detail})",
                    record.id
                )));
            }
            report.packs_copied += pass.packs_copied;
            report.packs_present += pass.packs_present;
            report.bytes_copied += pass.bytes_copied;
            report.segments_copied += pass.segments_copied;
        } else {
            // An interrupted re-encryption may have left its manifest (with other nonces than a
            // new attempt's); no succeeded record refers to it, so it goes.
            let path = tern_engine::manifest::manifest_path(&record.id);
            match to.store().delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(crate::transfer::storage("delete", &path, e)),
            }
            let stats = reencrypt(from, to, &record, transfer.bandwidth.as_deref()).await?;
            report.packs_copied += stats.new_packs;
            report.bytes_copied += stats.new_bytes;
            if let Some(segment) = &segment {
                to.catalog().create_segment(segment).await?;
                report.segments_copied += 1;
            }
        }
        report.copied.push(record.id.clone());
    }
    Ok(report)
}

/// Stores `record`'s entries again in `to`, under its keys, as a backup with the same id. A
/// bandwidth limit applies to the restored (uncompressed) bytes: a bound on the upload rate.
async fn reencrypt(
    from: &Repository,
    to: &Repository,
    record: &BackupRecord,
    limit: Option<&Bandwidth>,
) -> Result<tern_engine::BackupStats> {
    let (_, body) = from.manifest(&record.id).await?;
    let mut writer = to.backup(&record.service).copy_of(record).start().await?;
    for entry in &body.entries {
        let (reader, pipe) = tokio::io::duplex(1 << 20);
        let restore = from.restore(&record.id).entry(entry.name.clone()).to_writer(pipe);
        let copied = match limit {
            None => tokio::try_join!(restore, writer.add_entry(&entry.name, reader, entry.mode)).map(|_| ()),
            Some(limit) => {
                let (limited, limited_pipe) = tokio::io::duplex(1 << 20);
                let pump = pace(reader, limited_pipe, limit);
                tokio::try_join!(restore, pump, writer.add_entry(&entry.name, limited, entry.mode)).map(|_| ())
            }
        };
        if let Err(e) = copied {
            writer.abandon(&format!("copy failed: {e}")).await;
            return Err(e);
        }
    }
    Ok(writer.commit().await?.stats)
}

/// Moves bytes from `input` to `output` no faster than `limit`.
async fn pace(
    mut input: tokio::io::DuplexStream,
    mut output: tokio::io::DuplexStream,
    limit: &Bandwidth,
) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = |e| Error::Io { context: "pacing a copy".into(), source: e };
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = input.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            return output.shutdown().await.map_err(io);
        }
        limit.take(n as u64).await;
        output.write_all(&buf[..n]).await.map_err(io)?;
    }
}
