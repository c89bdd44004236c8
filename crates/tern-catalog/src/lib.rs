//! Tern's catalog: what backups exist, in every region, even when another region is gone.
//!
//! The model ([`BackupRecord`], [`LogSegment`], [`Position`], [`Schedule`], [`RestoreJob`],
//! [`ReplicationConfig`]) and the [`Catalog`] trait: five methods over versioned JSON documents,
//! implemented in memory ([`MemoryCatalog`]) and in the repository itself ([`StoreCatalog`],
//! `catalog/…` objects with create-only writes and etag-conditional updates, so a region's bucket
//! describes itself and two writers never silently overwrite each other). [`CatalogExt`] derives
//! typed access, filters and paging for every implementation.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tern_catalog::*;
//!
//! let catalog = MemoryCatalog::new();
//! let mut record = BackupRecord {
//!     id: BackupId::new(),
//!     service: "orders".into(),
//!     kind: BackupKind::Full,
//!     status: BackupStatus::Running,
//!     parent: None,
//!     started: chrono::Utc::now(),
//!     finished: None,
//!     consistent: None,
//!     sizes: Sizes::default(),
//!     manifest: None,
//!     region: None,
//!     labels: Default::default(),
//! };
//! let v1 = catalog.create_backup(&record).await?;
//! record.status = BackupStatus::Succeeded;
//! catalog.update_backup(&record, &v1).await?;
//! // A second writer holding the old version loses, clearly.
//! let stale = catalog.update_backup(&record, &v1).await;
//! assert!(matches!(stale, Err(Error::Conflict(_))));
//!
//! let page = catalog.list_backups(&BackupFilter { status: Some("succeeded".into()), ..Default::default() }, Paging::default()).await?;
//! assert_eq!(page.total, 1);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]
#![allow(clippy::result_large_err)]

mod catalog;
mod id;
mod model;
mod typed;

#[cfg(feature = "testing")]
pub mod conformance;

pub use catalog::{Catalog, Error, MemoryCatalog, Result, StoreCatalog, Version};
pub use id::{BackupId, RestoreId, ScheduleId, check_service_name};
pub use model::{
    BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, NativePosition, Position, ReplicationConfig,
    RestoreJob, RestoreTarget, Schedule, ScheduleSpec, Sizes,
};
pub use typed::{BackupFilter, CatalogExt, Page, Paging, Versioned};
