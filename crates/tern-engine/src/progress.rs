//! Progress reporting: the caller chooses the sink (a progress bar, metrics, logs, nothing).

/// Receives progress events. Every method has a no-op default; `()` ignores everything.
pub trait Progress: Send + Sync {
    /// An entry started.
    fn entry_started(&self, _name: &str) {}
    /// Bytes of source read (backup) or written (restore).
    fn read(&self, _bytes: u64) {}
    /// Bytes stored (a pack uploaded) or fetched (restore).
    fn stored(&self, _bytes: u64) {}
}

impl Progress for () {}
