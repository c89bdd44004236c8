//! Continuous mode: a pass every interval, with back-off while passes fail.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::lag::LagSample;
use crate::{PassReport, Replicator};

/// How [`Replicator::watch`] paces its passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// Time between the end of one pass and the start of the next (default 60 s).
    pub interval: Duration,
    /// The longest wait after failures (default 15 min). After the n-th failure in a row the
    /// watcher waits `interval × 2ⁿ`, up to this.
    pub max_backoff: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self { interval: Duration::from_secs(60), max_backoff: Duration::from_secs(15 * 60) }
    }
}

impl WatchOptions {
    /// The wait after `failures` failed passes in a row (0: the normal interval).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return self.interval;
        }
        let factor = 2u32.saturating_pow(failures.min(31));
        self.interval.saturating_mul(factor).min(self.max_backoff.max(self.interval))
    }
}

/// What the watcher did, reported after every pass.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// A pass ended. A paused or disabled service shows in `report.skipped`.
    Pass {
        /// What it copied.
        report: PassReport,
        /// The lag measured after it (when watching one service).
        lag: Option<LagSample>,
        /// Seconds until the next pass.
        next_pass_in_secs: f64,
    },
    /// A pass failed; the watcher backs off and tries again.
    Failed {
        /// The error.
        error: String,
        /// Failed passes in a row.
        failures: u32,
        /// Seconds until the next try.
        retry_in_secs: f64,
    },
}

impl Replicator {
    /// Runs passes until `stop` completes: one at once, then one every `options.interval`
    /// (after each pass ends, so passes never overlap). A failed pass is reported and retried
    /// with exponential back-off; the first pass that succeeds again returns to the interval.
    /// When `service` is given, each pass is followed by a lag sample.
    pub async fn watch<F, S>(&self, service: Option<&str>, options: &WatchOptions, mut on_event: F, stop: S)
    where
        F: FnMut(WatchEvent) + Send,
        S: Future<Output = ()> + Send,
    {
        tokio::pin!(stop);
        let mut failures = 0u32;
        loop {
            let pass = async {
                match service {
                    Some(s) => self.pass_and_measure(s).await.map(|(report, lag)| (report, Some(lag))),
                    None => self.pass(None).await.map(|report| (report, None)),
                }
            };
            let outcome = tokio::select! {
                outcome = pass => outcome,
                () = &mut stop => return,
            };
            let wait = match outcome {
                Ok((report, lag)) => {
                    failures = 0;
                    let wait = options.delay(0);
                    on_event(WatchEvent::Pass { report, lag, next_pass_in_secs: wait.as_secs_f64() });
                    wait
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = options.delay(failures);
                    tracing::warn!(error = %e, failures, retry_in = ?wait, "replication pass failed");
                    on_event(WatchEvent::Failed { error: e.to_string(), failures, retry_in_secs: wait.as_secs_f64() });
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut stop => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let o = WatchOptions { interval: Duration::from_secs(10), max_backoff: Duration::from_secs(100) };
        let delays: Vec<u64> = (0..6).map(|n| o.delay(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 100, 100]);
        assert_eq!(o.delay(u32::MAX), Duration::from_secs(100), "no overflow");
        // A cap below the interval never shortens the normal wait.
        let o = WatchOptions { interval: Duration::from_secs(10), max_backoff: Duration::from_secs(1) };
        assert_eq!(o.delay(3), Duration::from_secs(10));
    }
}
