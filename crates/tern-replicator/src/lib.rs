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
//! Around the pass:
//! - [`config`]: a service's replication settings (enabled, paused with a reason), kept in the
//!   primary's catalog; a disabled or paused service is skipped and the pass says why.
//! - [`Replicator::watch`]: continuous mode, a pass every interval, with back-off on errors.
//! - [`lag`]: after each pass, how far the secondary is behind, stored in the secondary.
//! - [`copy`]: one backup and what it needs, on demand, to any repository (re-encrypted when
//!   the destination has other keys).
//! - [`secondary`]: planning a restore in the secondary, refusing targets it has not received.
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

pub mod config;
pub mod copy;
pub mod lag;
pub mod secondary;
mod transfer;
mod watch;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};
use serde::Serialize;
use tern_catalog::{BackupFilter, BackupKind, CatalogExt, Paging};
use tern_engine::{BackupId, Error, PackId, Repository, Result};

pub use transfer::ServerSideCopy;
pub use watch::{WatchEvent, WatchOptions};

use transfer::{Bandwidth, Transfer, storage};

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Backup records published in the secondary.
    pub records_copied: u64,
    /// Log segment records published.
    pub segments_copied: u64,
    /// Packs copied.
    pub packs_copied: u64,
    /// Of those, packs copied server-side (their bytes did not pass through this process).
    pub server_side_copies: u64,
    /// Packs the secondary already had (deduplicated across backups and regions).
    pub packs_present: u64,
    /// Bytes sent to the secondary (packs and manifests; server-side copies not included).
    pub bytes_copied: u64,
    /// Backups not copied because a pack of theirs is damaged in the primary.
    pub damaged: Vec<Damaged>,
    /// Services not replicated, and why (disabled or paused in their replication config).
    pub skipped: Vec<Skipped>,
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

/// A service a pass left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The service.
    pub service: String,
    /// Why: `disabled`, or `paused: <reason>`.
    pub reason: String,
}

/// Copies one repository's backups into another region's.
#[derive(Clone, Debug)]
pub struct Replicator {
    transfer: Transfer,
}

const CONFIG: &str = "tern.json";

impl Replicator {
    /// A replicator from `primary` into `secondary`. An empty secondary becomes a clone of the
    /// primary's `tern.json`; a secondary that is another repository is refused.
    pub async fn new(primary: Repository, secondary: Arc<dyn ObjectStore>) -> Result<Self> {
        let secondary = clone_config(&primary, secondary).await?;
        if secondary.config().repo_id != primary.config().repo_id {
            return Err(Error::InvalidArgument(format!(
                "the secondary holds another repository (id {}, the primary is {}): a replica must start empty",
                secondary.config().repo_id,
                primary.config().repo_id
            )));
        }
        Ok(Self {
            transfer: Transfer { from: primary, to: secondary, concurrency: 4, bandwidth: None, server_side: None },
        })
    }

    /// Packs copied at once (default 4).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.transfer.concurrency = concurrency.max(1);
        self
    }

    /// Limits the average rate of bytes sent to the secondary, over all concurrent copies.
    #[must_use]
    pub fn with_bandwidth_limit(mut self, bytes_per_sec: u64) -> Self {
        self.transfer.bandwidth = Some(Arc::new(Bandwidth::new(bytes_per_sec)));
        self
    }

    /// Copies packs server-side when both repositories are prefixes of one bucket (see
    /// `tern_storage::Location::shared_bucket`). Packs are still read once and checked
    /// against their names, so a damaged one is never copied.
    #[must_use]
    pub fn with_server_side_copy(mut self, copy: ServerSideCopy) -> Self {
        self.transfer.server_side = Some(copy);
        self
    }

    /// The primary repository.
    pub fn primary(&self) -> &Repository {
        &self.transfer.from
    }

    /// The secondary repository (opened without a key).
    pub fn secondary(&self) -> &Repository {
        &self.transfer.to
    }

    /// A pass for one service, then a lag sample stored in the secondary (also taken when the
    /// service is paused: the lag it reports then grows).
    pub async fn pass_and_measure(&self, service: &str) -> Result<(PassReport, lag::LagSample)> {
        let report = self.pass(Some(service)).await?;
        let sample = lag::measure(self.primary(), self.secondary(), service).await?;
        lag::record(self.secondary(), service, &sample).await?;
        Ok((report, sample))
    }

    /// One pass: everything the secondary lacks, of one service or of all, oldest first.
    /// Services whose replication config is disabled or paused are skipped and reported.
    pub async fn pass(&self, service: Option<&str>) -> Result<PassReport> {
        let mut report = PassReport::default();
        let filter = BackupFilter {
            service: service.map(str::to_owned),
            status: Some("succeeded".into()),
            ..Default::default()
        };
        let primary = self.primary().catalog().list_backups(&filter, Paging::all()).await?.items;
        let mut services: BTreeSet<String> = primary.iter().map(|r| r.service.clone()).collect();
        services.extend(service.map(str::to_owned));
        let mut held: HashSet<String> = HashSet::new();
        for s in &services {
            if let Some(reason) = config::held_back(self.primary(), s).await? {
                report.skipped.push(Skipped { service: s.clone(), reason });
                held.insert(s.clone());
            }
        }
        let present: HashSet<BackupId> = self
            .secondary()
            .catalog()
            .list_backups(&filter, Paging::all())
            .await?
            .items
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Segment records, listed once per service that has log backups to copy.
        let mut segments: HashMap<String, Vec<tern_catalog::LogSegment>> = HashMap::new();
        for record in primary.into_iter().filter(|r| !present.contains(&r.id) && !held.contains(&r.service)) {
            if record.kind == BackupKind::Log && !segments.contains_key(&record.service) {
                let listed = self.primary().catalog().list_segments(&record.service).await?;
                segments.insert(record.service.clone(), listed);
            }
            let segment = segments.get(&record.service).and_then(|all| all.iter().find(|s| s.id == record.id));
            if let Some(damaged) = self.transfer.copy_backup(&record, segment, &mut report).await? {
                report.damaged.push(damaged);
            }
        }
        Ok(report)
    }
}

/// Opens `store` as a repository, first writing the source's `tern.json` there if it has none
/// (the destination then shares the source's keys and chunk ids).
async fn clone_config(source: &Repository, store: Arc<dyn ObjectStore>) -> Result<Repository> {
    let path = Path::from(CONFIG);
    let config = source.store().get(&path).await.map_err(|e| storage("read", &path, e))?.bytes().await;
    let config = config.map_err(|e| storage("read", &path, e))?;
    match store.put_opts(&path, config.into(), PutMode::Create.into()).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
        Err(e) => return Err(storage("write", &path, e)),
    }
    Repository::open(store, None).await
}
