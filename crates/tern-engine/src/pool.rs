//! A pool of exactly `n` threads for CPU work (hashing, compression, encryption).
//!
//! Not tokio's blocking pool: that one grows to as many threads as there are waiting tasks, so a
//! setting of "2 CPU workers" would not mean two threads, and every extra thread keeps its own
//! allocator arena of multi-megabyte buffers (measured: peak RSS roughly doubled).

use std::sync::Arc;

use crate::error::{Error, Result};

/// A fixed-size pool of CPU threads.
#[derive(Clone)]
pub(crate) struct CpuPool(Arc<rayon::ThreadPool>);

impl CpuPool {
    pub(crate) fn new(threads: usize, name: &'static str) -> Result<Self> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(move |i| format!("tern-{name}-{i}"))
            .build()
            .map(|p| Self(Arc::new(p)))
            .map_err(|e| Error::io("starting CPU workers", std::io::Error::other(e)))
    }

    /// Runs `f` on the pool and waits for it without blocking the async runtime.
    pub(crate) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0.spawn(move || {
            let _ = tx.send(f());
        });
        rx.await.map_err(|_| Error::io("CPU worker", std::io::Error::other("a CPU worker panicked")))
    }
}
