//! Copies a repository's backups to a repository in another region: only what is missing, data
//! before records, resumable at any point.
//!
//! A secondary repository is a clone of the primary's `tern.json` (same keys, same chunk ids), so
//! packs and manifests copy as bytes, without the key. A pass walks the primary's succeeded
//! records in time order; for each one the secondary lacks it copies, in this order:
//!
//! 1. every pack of the backup the secondary lacks — fetched whole and checked against its
//!    name (BLAKE3) and size before it is written, so a damaged pack in the primary is reported
//!    and never copied (and its backup not published);
//! 2. the manifest;
//! 3. the record (and, for a log segment, its segment record).
//!
//! All writes are create-only, so a pass killed at any step and run again converges, and a
//! record is never in the secondary before every byte it needs.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tern_engine::{InitOptions, KdfParams, Repository, UserKey};
//! use tern_replicator::Replicator;
//! use tern_storage::Location;
//!
//! let key = UserKey::passphrase("pw");
//! let primary = Repository::init(
//!     Location::memory("doc-eu").open()?,
//!     InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key.clone()) },
//! )
//! .await?;
//! let mut writer = primary.backup("db1").start().await?;
//! writer.add_entry("dump.sql", &b"INSERT 1;\n".repeat(1000)[..], None).await?;
//! let backup = writer.commit().await?;
//!
//! let replicator = Replicator::new(primary, Location::memory("doc-us").open()?).await?;
//! let report = replicator.pass(None).await?;
//! assert_eq!(report.records_copied, 1);
//!
//! // The secondary restores with the same key.
//! let secondary = Repository::open(Location::memory("doc-us").open()?, Some(&key)).await?;
//! let mut out = Vec::new();
//! secondary.restore(&backup.id).to_writer(&mut out).await?;
//! assert_eq!(out, b"INSERT 1;\n".repeat(1000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]
#![allow(clippy::result_large_err)]

pub mod lag;

use std::collections::HashSet;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};
use serde::Serialize;
use tern_catalog::{BackupFilter, BackupKind, CatalogExt, Paging};
use tern_engine::pack::pack_path;
use tern_engine::{BackupId, Error, PackId, Repository, Result};

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Backup records published in the secondary.
    pub records_copied: u64,
    /// Log segment records published.
    pub segments_copied: u64,
    /// Packs copied.
    pub packs_copied: u64,
    /// Packs the secondary already had (deduplicated across backups and regions).
    pub packs_present: u64,
    /// Bytes written to the secondary (packs and manifests).
    pub bytes_copied: u64,
    /// Backups not copied because a pack of theirs is damaged in the primary.
    pub damaged: Vec<Damaged>,
}

/// A backup held back because the primary's copy of one of its packs is damaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Damaged {
    /// The backup.
    pub backup: BackupId,
    /// The pack.
    pub pack: PackId,
    /// What is wrong.
    pub detail: String,
}

/// Copies one repository's backups into another region's.
#[derive(Clone, Debug)]
pub struct Replicator {
    primary: Repository,
    secondary: Repository,
    concurrency: usize,
}

const CONFIG: &str = "tern.json";

impl Replicator {
    /// A replicator from `primary` into `secondary`. An empty secondary becomes a clone of the
    /// primary's `tern.json`; a secondary that is another repository is refused.
    pub async fn new(primary: Repository, secondary: Arc<dyn ObjectStore>) -> Result<Self> {
        let path = Path::from(CONFIG);
        let config = primary.store().get(&path).await.map_err(|e| storage("read", &path, e))?.bytes().await;
        let config = config.map_err(|e| storage("read", &path, e))?;
        match secondary.put_opts(&path, config.clone().into(), PutMode::Create.into()).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(storage("write", &path, e)),
        }
        let secondary = Repository::open(secondary, None).await?;
        if secondary.config().repo_id != primary.config().repo_id {
            return Err(Error::InvalidArgument(format!(
                "the secondary holds another repository (id {}, the primary is {}): a replica must start empty",
                secondary.config().repo_id,
                primary.config().repo_id
            )));
        }
        Ok(Self { primary, secondary, concurrency: 4 })
    }

    /// Packs copied at once (default 4).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The secondary repository (opened without a key).
    pub fn secondary(&self) -> &Repository {
        &self.secondary
    }

    /// A pass for one service, then a lag sample stored in the secondary.
    pub async fn pass_and_measure(&self, service: &str) -> Result<(PassReport, lag::LagSample)> {
        let report = self.pass(Some(service)).await?;
        let sample = lag::measure(&self.primary, &self.secondary, service).await?;
        lag::record(&self.secondary, service, &sample).await?;
        Ok((report, sample))
    }

    /// One pass: everything the secondary lacks, of one service or of all, oldest first.
    pub async fn pass(&self, service: Option<&str>) -> Result<PassReport> {
        let mut report = PassReport::default();
        let filter = BackupFilter {
            service: service.map(str::to_owned),
            status: Some("succeeded".into()),
            ..Default::default()
        };
        let primary = self.primary.catalog().list_backups(&filter, Paging::all()).await?.items;
        let present: HashSet<BackupId> = self
            .secondary
            .catalog()
            .list_backups(&filter, Paging::all())
            .await?
            .items
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Segment records, listed once per service that has log backups to copy.
        let mut segments: std::collections::HashMap<String, Vec<tern_catalog::LogSegment>> =
            std::collections::HashMap::new();
        for record in primary.into_iter().filter(|r| !present.contains(&r.id)) {
            if let Some(damaged) = self.copy_data(&record.id, &mut report).await? {
                tracing::warn!(backup = %record.id, pack = %damaged.pack, detail = %damaged.detail, "not replicated");
                report.damaged.push(damaged);
                continue;
            }
            // Data is in place: publish the record, then (for logs) the segment.
            self.secondary.catalog().create_backup(&record).await?;
            report.records_copied += 1;
            if record.kind == BackupKind::Log {
                if !segments.contains_key(&record.service) {
                    let listed = self.primary.catalog().list_segments(&record.service).await?;
                    segments.insert(record.service.clone(), listed);
                }
                if let Some(segment) = segments[&record.service].iter().find(|s| s.id == record.id) {
                    self.secondary.catalog().create_segment(segment).await?;
                    report.segments_copied += 1;
                }
            }
        }
        Ok(report)
    }

    /// Copies a backup's missing packs and its manifest; `Some` if a pack is damaged.
    async fn copy_data(&self, id: &BackupId, report: &mut PassReport) -> Result<Option<Damaged>> {
        let index = self.primary.manifest_index(id).await?;
        let results: Vec<PackCopy> = futures::stream::iter(index.packs.iter().copied())
            .map(|pack| self.copy_pack(pack.id, pack.size))
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        for result in results {
            match result {
                PackCopy::Present => report.packs_present += 1,
                PackCopy::Written(bytes) => {
                    report.packs_copied += 1;
                    report.bytes_copied += bytes;
                }
                PackCopy::Damaged(pack, detail) => return Ok(Some(Damaged { backup: id.clone(), pack, detail })),
            }
        }
        let manifest = self.primary.manifest_bytes(id).await?;
        let path = tern_engine::manifest::manifest_path(id);
        match self.secondary.store().put_opts(&path, manifest.clone().into(), PutMode::Create.into()).await {
            Ok(_) => report.bytes_copied += manifest.len() as u64,
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(storage("write", &path, e)),
        }
        Ok(None)
    }

    async fn copy_pack(&self, id: PackId, size: u64) -> Result<PackCopy> {
        let path = pack_path(&id);
        match self.secondary.store().head(&path).await {
            Ok(meta) if meta.size == size => return Ok(PackCopy::Present),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage("check", &path, e)),
        }
        let bytes = match self.primary.store().get(&path).await {
            Ok(got) => got.bytes().await.map_err(|e| storage("read", &path, e))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(PackCopy::Damaged(id, "missing in the primary".into()));
            }
            Err(e) => return Err(storage("read", &path, e)),
        };
        if bytes.len() as u64 != size {
            return Ok(PackCopy::Damaged(id, format!("{} bytes in the primary, expected {size}", bytes.len())));
        }
        let check = bytes.clone();
        let intact = tokio::task::spawn_blocking(move || blake3::hash(&check).as_bytes() == &id.0)
            .await
            .map_err(|e| Error::Io { context: "checking a pack".into(), source: std::io::Error::other(e) })?;
        if !intact {
            return Ok(PackCopy::Damaged(id, "content does not match its id in the primary".into()));
        }
        let n = bytes.len() as u64;
        match self.secondary.store().put_opts(&path, bytes.into(), PutMode::Create.into()).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(PackCopy::Written(n)),
            Err(e) => Err(storage("write", &path, e)),
        }
    }
}

enum PackCopy {
    Present,
    Written(u64),
    Damaged(PackId, String),
}

fn storage(op: &'static str, path: &Path, source: object_store::Error) -> Error {
    Error::Storage { op, path: path.to_string(), source }
}
