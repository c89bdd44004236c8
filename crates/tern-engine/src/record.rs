//! Backup records: the commit point. A backup exists once its record does.
//!
//! `catalog/<service>/backups/<backup id>.json`, written create-only after the manifest and
//! every pack it references are stored. (Issue #4's catalog owns this path and extends the
//! record; the engine writes the minimal form through [`crate::Repository::commit`].)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::BackupId;

/// What a backup stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStats {
    /// Bytes read from the source (the sum of the entries' sizes).
    pub logical_bytes: u64,
    /// Bytes of all blobs the backup references (what restoring it reads).
    pub stored_bytes: u64,
    /// Bytes of blobs this backup added to the repository (what it cost).
    pub new_bytes: u64,
    /// Distinct chunks referenced.
    pub chunks: u64,
    /// Chunks this backup added.
    pub new_chunks: u64,
    /// Packs this backup wrote.
    pub new_packs: u64,
    /// Entries.
    pub entries: u64,
}

/// A committed backup, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// The backup.
    pub id: BackupId,
    /// Its service.
    pub service: String,
    /// Always `succeeded` for records the engine writes.
    pub status: String,
    /// When it started.
    pub started: chrono::DateTime<chrono::Utc>,
    /// When its data was stored.
    pub finished: chrono::DateTime<chrono::Utc>,
    /// Its parent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<BackupId>,
    /// The manifest's path.
    pub manifest: String,
    /// Sizes.
    pub stats: BackupStats,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The object path of a backup's record.
pub fn record_path(service: &str, backup: &BackupId) -> object_store::path::Path {
    object_store::path::Path::from(format!("catalog/{service}/backups/{backup}.json"))
}
