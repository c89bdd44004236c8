//! The progress bar on stderr: the engine's [`Progress`] events drawn with indicatif.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tern_engine::Progress;

/// A bar (or, with no known total, a spinner) counting source bytes, with the bytes moved
/// to or from storage alongside.
pub struct Bar {
    inner: ProgressBar,
    storage: AtomicU64,
    /// What the storage bytes are: "stored" (backup) or "fetched" (restore).
    storage_verb: &'static str,
}

impl Bar {
    /// Whether a bar would be drawn: only on a terminal.
    pub fn wanted() -> bool {
        std::io::stderr().is_terminal()
    }

    /// A bar titled `title` (until an entry starts), with a total if known.
    pub fn new(title: &str, total: Option<u64>, storage_verb: &'static str) -> Arc<Self> {
        let (bar, template) = match total {
            Some(n) => (
                ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                "{spinner} {prefix:.bold} {bytes} {binary_bytes_per_sec} [{elapsed}] {msg}",
            ),
        };
        let style = ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(title.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Arc::new(Self { inner: bar, storage: AtomicU64::new(0), storage_verb })
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.inner.finish_and_clear();
    }
}

impl Progress for Bar {
    fn entry_started(&self, name: &str) {
        self.inner.set_prefix(name.to_owned());
    }

    fn read(&self, bytes: u64) {
        self.inner.inc(bytes);
    }

    fn stored(&self, bytes: u64) {
        let total = self.storage.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.inner.set_message(format!("({} {})", HumanBytes(total), self.storage_verb));
    }
}

/// The bar as the engine wants it, or `()` for none.
pub fn sink(bar: Option<&Arc<Bar>>) -> Arc<dyn Progress> {
    match bar {
        Some(bar) => Arc::clone(bar) as Arc<dyn Progress>,
        None => Arc::new(()),
    }
}
