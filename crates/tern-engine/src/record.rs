//! What a backup stored, in the engine's terms (the catalog record carries the sizes).

use serde::{Deserialize, Serialize};

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
