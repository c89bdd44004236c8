//! Tern's orchestration: the one place that joins the database adapters (`tern-db`), the engine
//! and its catalog (`tern-engine`, `tern-catalog`), the planner (`tern-pitr`) and the replicator.
//!
//! - [`db::backup`]: a full, incremental or dump from a [`tern_db::BackupSource`] into a
//!   repository, `succeeded` only when every byte and the tool's own success are in, `failed`
//!   with the tool's message otherwise.
//! - [`db::archive_logs`]: the closed binlogs a repository does not have yet.
//! - [`wal::push`] / [`wal::fetch`]: PostgreSQL's `archive_command` / `restore_command`.
//! - [`db::restore`]: plan (refusing gaps before any work), then apply to a
//!   [`tern_db::RestoreTarget`].
//! - [`Node`]: the scheduler and job runner of `tern serve` — `once`/cron [`schedule`]s, the
//!   log-archiving and replication loops, overlap skips, job states, [`lease`]s so that several
//!   nodes sharing a repository run each job once, [`retention`] then GC, [`metrics`], restore
//!   jobs and copies — driven by a [`Clock`] that tests advance by hand.
//! - [`config`]: the `tern.toml` file `tern serve` reads.
//!
//! # Example
//!
//! A repository, a plan of a service with nothing in it (refused, naming why), and the artifact
//! source restores read from:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use tern_catalog::RestoreTarget;
//! use tern_engine::{InitOptions, Repository};
//!
//! let store = Arc::new(object_store::memory::InMemory::new());
//! let repo = Repository::init(store, InitOptions::unencrypted()).await.unwrap();
//! let refused = tern_service::db::plan(&repo, "db1", &RestoreTarget::Latest).await.unwrap_err();
//! assert!(refused.to_string().contains("cannot plan"), "{refused}");
//! let _artifacts = tern_service::db::RepoArtifacts::new(repo.clone());
//!
//! // A node over that repository, with a clock the example moves.
//! use std::collections::BTreeMap;
//! use tern_catalog::{BackupKind, ScheduleSpec};
//! use tern_service::{ManualClock, Node, NodeOptions};
//!
//! let start = chrono::DateTime::parse_from_rfc3339("2026-11-21T02:59:00Z").unwrap().to_utc();
//! let clock = Arc::new(ManualClock::new(start));
//! let mut options = NodeOptions::new("eu", BTreeMap::from([("eu".to_owned(), repo)]), std::env::temp_dir());
//! options.clock = clock.clone();
//! let node = Node::new(options).unwrap();
//! // Schedules belong to configured services: this node has none, so it refuses.
//! let refused = node.create_schedule("db1", BackupKind::Full, ScheduleSpec::Cron("0 3 * * *".into())).await;
//! assert!(refused.unwrap_err().to_string().contains("not configured"));
//! clock.advance(chrono::Duration::minutes(1));
//! assert!(node.tick().await.unwrap().started.is_empty());
//! # });
//! ```

#![allow(clippy::result_large_err)]

pub mod clock;
pub mod config;
pub mod db;
mod error;
pub mod lease;
pub mod metrics;
pub mod node;
pub mod retention;
pub mod schedule;
pub mod wal;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, Role};
pub use error::{Error, Result};
pub use node::{Node, NodeOptions, ServiceSpec};
