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
//! let _artifacts = tern_service::db::RepoArtifacts::new(repo);
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
