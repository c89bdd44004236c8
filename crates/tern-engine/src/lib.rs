//! Tern's engine: any byte stream → content-defined chunks → zstd → AES-256-GCM → CRC32 →
//! packs in object storage, deduplicated against earlier backups, restored in parallel and
//! verified end to end.
//!
//! The repository format is documented in `docs/FORMAT.md`; in short:
//!
//! ```text
//! tern.json                                  format version, repo id, chunker sizes, cipher, wrapped keys
//! packs/<2 hex>/<pack id>                    blobs + a trailer listing them; id = BLAKE3 of the bytes
//! manifests/<backup id>                      key-free index of packs and chunks + encrypted entry list
//! catalog/<service>/backups/<backup id>.json the record: the commit point
//! ```
//!
//! Writes go packs → manifest → record, all create-only, so a crash leaves only unreferenced
//! objects, which [`Repository::gc`] removes after a grace period.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tern_engine::{InitOptions, KdfParams, Repository, UserKey};
//! use tern_storage::Location;
//!
//! let store = Location::memory("engine-doc").open()?;
//! let key = UserKey::passphrase("correct horse battery staple");
//! let options = InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key.clone()) };
//! let repo = Repository::init(store.clone(), options).await?;
//!
//! // Back up a stream.
//! let data = b"CREATE TABLE t (id int);\n".repeat(10_000);
//! let mut writer = repo.backup("db1").start().await?;
//! writer.add_entry("dump.sql", &data[..], None).await?;
//! let first = writer.commit().await?;
//!
//! // A second backup of the same data stores nothing new.
//! let mut writer = repo.backup("db1").parent(first.id.clone()).start().await?;
//! writer.add_entry("dump.sql", &data[..], None).await?;
//! let second = writer.commit().await?;
//! assert_eq!(second.stats.new_bytes, 0);
//!
//! // Restore, from a fresh open with the passphrase.
//! let repo = Repository::open(store, Some(&key)).await?;
//! let mut out = Vec::new();
//! repo.restore(&second.id).to_writer(&mut out).await?;
//! assert_eq!(out, data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]
// Errors name backup, entry, chunk and pack, so they are large; they occur on I/O paths, where
// their size costs nothing measurable, and boxing them would make them clumsier to match.
#![allow(clippy::result_large_err)]
// The `expect`s in this crate guard internal invariants (slice lengths just checked, AES-GCM on
// buffers far below its limit), not inputs: they document why a panic cannot happen.
#![allow(clippy::missing_panics_doc)]

mod backup;
pub mod blob;
mod chunker;
mod error;
mod gc;
mod id;
mod keys;
mod logs;
pub mod manifest;
pub mod pack;
mod pool;
mod progress;
mod record;
mod repo;
mod restore;
mod verify;

pub use backup::{BackupBuilder, BackupOptions, BackupSummary, BackupWriter, FinishedBackup};
pub use chunker::{Chunker, ChunkerParams};
pub use error::{Error, ObjectKind, Result};
pub use gc::{Garbage, GcOptions, GcReport};
pub use id::{BackupId, ChunkId, PackId, check_service_name};
pub use keys::{KdfParams, KeyRing, KeySlot, UserKey};
pub use logs::SegmentSpan;
pub use progress::Progress;
pub use record::BackupStats;
pub use repo::{Cipher, FORMAT_VERSION, InitOptions, RepoConfig, Repository};
pub use restore::{Restore, RestoreOptions};
pub use tern_catalog::{BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, Position};
pub use verify::{Problem, VerifyMode, VerifyReport};

/// The README's examples (engine and storage), compiled and run as doc tests so they cannot go
/// stale.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
