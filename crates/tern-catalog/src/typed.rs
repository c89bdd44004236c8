//! Typed access to a [`Catalog`]: records, segments, schedules, restore jobs, replication.
//!
//! ```text
//! catalog/<service>/backups/<backup id>.json     BackupRecord
//! catalog/<service>/logs/<backup id>.json        LogSegment
//! catalog/<service>/schedules/<schedule id>.json Schedule
//! catalog/<service>/restores/<restore id>.json   RestoreJob
//! catalog/<service>/replication.json             ReplicationConfig
//! ```

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Error, Result, Version};
use crate::id::{BackupId, RestoreId, ScheduleId, check_service_name};
use crate::model::{BackupKind, BackupRecord, LogSegment, ReplicationConfig, RestoreJob, Schedule};

/// A document with the version it was read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The document.
    pub value: T,
    /// Its version, for a conditional update.
    pub version: Version,
}

/// Which page of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    /// 1-based page number.
    pub page: u32,
    /// Items per page (1–1000).
    pub page_size: u32,
}

impl Default for Paging {
    fn default() -> Self {
        Self { page: 1, page_size: 50 }
    }
}

impl Paging {
    /// Everything on one page.
    pub fn all() -> Self {
        Self { page: 1, page_size: u32::MAX }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Items matching, on all pages.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
    /// Number of pages.
    pub pages: u32,
}

impl<T> Page<T> {
    fn of(all: Vec<T>, paging: Paging) -> Result<Self> {
        if paging.page == 0 || paging.page_size == 0 {
            return Err(Error::InvalidArgument("page and page_size start at 1".into()));
        }
        if paging.page_size > 1000 && paging.page_size != u32::MAX {
            return Err(Error::InvalidArgument(format!("page_size {} is over the limit of 1000", paging.page_size)));
        }
        let total = all.len() as u64;
        let size = u64::from(paging.page_size);
        let pages = u32::try_from(total.div_ceil(size)).unwrap_or(u32::MAX);
        let skip = usize::try_from(u64::from(paging.page - 1) * size).unwrap_or(usize::MAX);
        let items = all.into_iter().skip(skip).take(usize::try_from(size).unwrap_or(usize::MAX)).collect();
        Ok(Self { items, total, page: paging.page, page_size: paging.page_size, pages })
    }
}

/// Which backups to list. Every field narrows; `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFilter {
    /// Of this service.
    pub service: Option<String>,
    /// Of this kind.
    pub kind: Option<BackupKind>,
    /// In this state (`scheduled`, `running`, `succeeded`, `failed`).
    pub status: Option<String>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// In this region.
    pub region: Option<String>,
}

impl BackupFilter {
    fn matches(&self, r: &BackupRecord) -> bool {
        self.service.as_ref().is_none_or(|s| *s == r.service)
            && self.kind.is_none_or(|k| k == r.kind)
            && self.status.as_deref().is_none_or(|s| s == r.status.name())
            && self.from.is_none_or(|t| r.started >= t)
            && self.to.is_none_or(|t| r.started < t)
            && self.region.as_ref().is_none_or(|g| r.region.as_ref() == Some(g))
    }
}

fn service_dir(service: &str) -> Result<String> {
    check_service_name(service).map_err(Error::InvalidArgument)?;
    Ok(format!("catalog/{service}"))
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(value).expect("catalog documents serialize"))
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt { key: key.to_owned(), detail: e.to_string() })
}

/// Keys of `kind` documents (`backups`, `logs`, …) of one service or of all.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // this crate writes `.json`, lower case
async fn kind_keys<C: Catalog + ?Sized>(catalog: &C, service: Option<&str>, kind: &str) -> Result<Vec<String>> {
    let prefix = match service {
        Some(s) => format!("{}/{kind}", service_dir(s)?),
        None => "catalog".to_owned(),
    };
    let keys = catalog.keys(&prefix).await?;
    Ok(keys
        .into_iter()
        .filter(|k| {
            let parts: Vec<&str> = k.split('/').collect();
            parts.len() == 4 && parts[2] == kind && parts[3].ends_with(".json")
        })
        .collect())
}

async fn read_all<C: Catalog + ?Sized, T: DeserializeOwned + Send>(catalog: &C, keys: Vec<String>) -> Result<Vec<T>> {
    futures::stream::iter(keys)
        .map(|key| async move {
            match catalog.read(&key).await? {
                Some((bytes, _)) => decode::<T>(&key, &bytes).map(Some),
                None => Ok(None), // deleted since listed
            }
        })
        .buffered(16)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await
}

/// The document at `key`, with its version.
async fn read_versioned<C: Catalog + ?Sized, T: DeserializeOwned>(
    catalog: &C,
    key: &str,
) -> Result<Option<Versioned<T>>> {
    Ok(match catalog.read(key).await? {
        Some((bytes, version)) => Some(Versioned { value: decode(key, &bytes)?, version }),
        None => None,
    })
}

/// Typed access to any [`Catalog`]; implemented for every catalog.
#[async_trait]
pub trait CatalogExt: Catalog {
    /// Creates a backup record (create-only).
    async fn create_backup(&self, record: &BackupRecord) -> Result<Version> {
        self.create(&backup_key(&record.service, &record.id)?, encode(record)).await
    }

    /// Replaces a backup record if it is still at `version` ([`Error::Conflict`] otherwise).
    async fn update_backup(&self, record: &BackupRecord, version: &Version) -> Result<Version> {
        self.update(&backup_key(&record.service, &record.id)?, encode(record), version).await
    }

    /// One backup record.
    async fn get_backup(&self, service: &str, id: &BackupId) -> Result<Option<Versioned<BackupRecord>>> {
        let key = backup_key(service, id)?;
        read_versioned(self, &key).await
    }

    /// One backup record, searching every service.
    async fn find_backup(&self, id: &BackupId) -> Result<Option<BackupRecord>> {
        let keys = kind_keys(self, None, "backups").await?;
        let wanted = format!("/{id}.json");
        let keys: Vec<String> = keys.into_iter().filter(|k| k.ends_with(&wanted)).collect();
        Ok(read_all::<Self, BackupRecord>(self, keys).await?.into_iter().next())
    }

    /// Backup records matching `filter`, oldest first, one page.
    async fn list_backups(&self, filter: &BackupFilter, paging: Paging) -> Result<Page<BackupRecord>> {
        let keys = kind_keys(self, filter.service.as_deref(), "backups").await?;
        let mut all: Vec<BackupRecord> = read_all(self, keys).await?;
        all.retain(|r| filter.matches(r));
        all.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        Page::of(all, paging)
    }

    /// Deletes a backup record. Refused while a backup that is not failed names it as parent,
    /// unless `force`. (The data goes with the next garbage collection.)
    async fn delete_backup(&self, service: &str, id: &BackupId, force: bool) -> Result<()> {
        let key = backup_key(service, id)?;
        if self.read(&key).await?.is_none() {
            return Err(Error::NotFound(key));
        }
        if !force {
            let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
            let dependents: Vec<String> = self
                .list_backups(&filter, Paging::all())
                .await?
                .items
                .into_iter()
                .filter(|r| r.parent.as_ref() == Some(id) && r.status.name() != "failed")
                .map(|r| r.id.to_string())
                .collect();
            if !dependents.is_empty() {
                return Err(Error::HasDependents { backup: id.to_string(), dependents: dependents.join(", ") });
            }
        }
        self.delete(&key).await
    }

    /// Records an archived log segment (create-only).
    async fn create_segment(&self, segment: &LogSegment) -> Result<Version> {
        self.create(&format!("{}/logs/{}.json", service_dir(&segment.service)?, segment.id), encode(segment)).await
    }

    /// Deletes the segment record of the log backup `id` (before the backup record itself, so
    /// no plan ever names a segment whose data is going).
    async fn delete_segment(&self, service: &str, id: &BackupId) -> Result<()> {
        self.delete(&format!("{}/logs/{id}.json", service_dir(service)?)).await
    }

    /// A service's log segments, ordered by start position.
    async fn list_segments(&self, service: &str) -> Result<Vec<LogSegment>> {
        let keys = kind_keys(self, Some(service), "logs").await?;
        let mut all: Vec<LogSegment> = read_all(self, keys).await?;
        all.sort_by(|a, b| (&a.start_position, a.start_time).cmp(&(&b.start_position, b.start_time)));
        Ok(all)
    }

    /// Creates a schedule.
    async fn create_schedule(&self, schedule: &Schedule) -> Result<Version> {
        self.create(&schedule_key(&schedule.service, &schedule.id)?, encode(schedule)).await
    }

    /// Replaces a schedule if it is still at `version`.
    async fn update_schedule(&self, schedule: &Schedule, version: &Version) -> Result<Version> {
        self.update(&schedule_key(&schedule.service, &schedule.id)?, encode(schedule), version).await
    }

    /// One schedule.
    async fn get_schedule(&self, service: &str, id: &ScheduleId) -> Result<Option<Versioned<Schedule>>> {
        let key = schedule_key(service, id)?;
        read_versioned(self, &key).await
    }

    /// Deletes a schedule.
    async fn delete_schedule(&self, service: &str, id: &ScheduleId) -> Result<()> {
        self.delete(&schedule_key(service, id)?).await
    }

    /// Schedules of one service or all, one page.
    async fn list_schedules(&self, service: Option<&str>, paging: Paging) -> Result<Page<Schedule>> {
        let keys = kind_keys(self, service, "schedules").await?;
        let mut all: Vec<Schedule> = read_all(self, keys).await?;
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Page::of(all, paging)
    }

    /// Creates a restore job.
    async fn create_restore(&self, job: &RestoreJob) -> Result<Version> {
        self.create(&restore_key(&job.service, &job.id)?, encode(job)).await
    }

    /// Replaces a restore job if it is still at `version`.
    async fn update_restore(&self, job: &RestoreJob, version: &Version) -> Result<Version> {
        self.update(&restore_key(&job.service, &job.id)?, encode(job), version).await
    }

    /// One restore job.
    async fn get_restore(&self, service: &str, id: &RestoreId) -> Result<Option<Versioned<RestoreJob>>> {
        let key = restore_key(service, id)?;
        read_versioned(self, &key).await
    }

    /// Deletes a restore job's record.
    async fn delete_restore(&self, service: &str, id: &RestoreId) -> Result<()> {
        self.delete(&restore_key(service, id)?).await
    }

    /// Restore jobs of one service or all, one page.
    async fn list_restores(&self, service: Option<&str>, paging: Paging) -> Result<Page<RestoreJob>> {
        let keys = kind_keys(self, service, "restores").await?;
        let mut all: Vec<RestoreJob> = read_all(self, keys).await?;
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Page::of(all, paging)
    }

    /// A service's replication config.
    async fn get_replication(&self, service: &str) -> Result<Option<Versioned<ReplicationConfig>>> {
        let key = format!("{}/replication.json", service_dir(service)?);
        read_versioned(self, &key).await
    }

    /// Writes a service's replication config: created when `version` is `None`, else updated
    /// conditionally.
    async fn put_replication(&self, config: &ReplicationConfig, version: Option<&Version>) -> Result<Version> {
        let key = format!("{}/replication.json", service_dir(&config.service)?);
        match version {
            None => self.create(&key, encode(config)).await,
            Some(v) => self.update(&key, encode(config), v).await,
        }
    }
}

impl<C: Catalog + ?Sized> CatalogExt for C {}

fn backup_key(service: &str, id: &BackupId) -> Result<String> {
    Ok(format!("{}/backups/{id}.json", service_dir(service)?))
}

fn schedule_key(service: &str, id: &ScheduleId) -> Result<String> {
    Ok(format!("{}/schedules/{id}.json", service_dir(service)?))
}

fn restore_key(service: &str, id: &RestoreId) -> Result<String> {
    Ok(format!("{}/restores/{id}.json", service_dir(service)?))
}
