//! Prometheus metrics of a node, in the text exposition format (served at `/metrics`).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `tern_job_runs_total` | service, kind | jobs started (backups, log archiving, replication, restores) |
//! | `tern_job_skips_total` | service, kind | due runs skipped because the same kind was still running |
//! | `tern_job_failures_total` | service, kind | jobs that ended `failed` |
//! | `tern_job_duration_seconds` | service, kind | histogram of job durations |
//! | `tern_backup_logical_bytes_total` | service, kind | bytes read from the databases |
//! | `tern_backup_stored_bytes_total` | service, kind | bytes added to the repository |
//! | `tern_last_success_timestamp_seconds` | service, kind | end of the last successful job |
//! | `tern_recovery_window_end_timestamp_seconds` | service, region | latest point a restore reaches |
//! | `tern_replication_lag_seconds` | service, region | how far a secondary region is behind |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of job metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The service.
    pub service: String,
    /// `full`, `incremental`, `dump`, `log`, `replication` or `restore`.
    pub kind: String,
}

/// Labels of per-region metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    /// The service.
    pub service: String,
    /// The region.
    pub region: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// A node's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Jobs started.
    pub runs: Family<JobLabels, Counter>,
    /// Due runs skipped (overlap).
    pub skips: Family<JobLabels, Counter>,
    /// Jobs failed.
    pub failures: Family<JobLabels, Counter>,
    /// Job durations.
    pub durations: Family<JobLabels, Histogram, fn() -> Histogram>,
    /// Logical bytes backed up.
    pub logical_bytes: Family<JobLabels, Counter>,
    /// Bytes added to the repository.
    pub stored_bytes: Family<JobLabels, Counter>,
    /// Last success, Unix seconds.
    pub last_success: Family<JobLabels, FloatGauge>,
    /// End of the recovery window, Unix seconds.
    pub window_end: Family<RegionLabels, FloatGauge>,
    /// Replication lag, seconds.
    pub replication_lag: Family<RegionLabels, FloatGauge>,
}

fn duration_histogram() -> Histogram {
    // 0.25 s … ~4.5 h
    Histogram::new(exponential_buckets(0.25, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            runs: Family::default(),
            skips: Family::default(),
            failures: Family::default(),
            durations: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            logical_bytes: Family::default(),
            stored_bytes: Family::default(),
            last_success: Family::default(),
            window_end: Family::default(),
            replication_lag: Family::default(),
            registry: Registry::default(),
        };
        registry.register("tern_job_runs", "Jobs started", m.runs.clone());
        registry.register("tern_job_skips", "Due runs skipped: the same kind was still running", m.skips.clone());
        registry.register("tern_job_failures", "Jobs that failed", m.failures.clone());
        registry.register("tern_job_duration_seconds", "Job durations", m.durations.clone());
        registry.register("tern_backup_logical_bytes", "Bytes read from databases", m.logical_bytes.clone());
        registry.register("tern_backup_stored_bytes", "Bytes added to the repository", m.stored_bytes.clone());
        registry.register(
            "tern_last_success_timestamp_seconds",
            "When the last successful job of a kind ended",
            m.last_success.clone(),
        );
        registry.register(
            "tern_recovery_window_end_timestamp_seconds",
            "The latest point a restore reaches",
            m.window_end.clone(),
        );
        registry.register(
            "tern_replication_lag_seconds",
            "How far a secondary region is behind",
            m.replication_lag.clone(),
        );
        Self { registry, ..m }
    }

    /// The metrics in the Prometheus text format.
    ///
    /// # Panics
    ///
    /// Never: writing to a `String` cannot fail.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Labels of a job.
pub fn job(service: &str, kind: &str) -> JobLabels {
    JobLabels { service: service.to_owned(), kind: kind.to_string() }
}

/// Labels of a region.
pub fn region(service: &str, region: &str) -> RegionLabels {
    RegionLabels { service: service.to_owned(), region: region.to_owned() }
}
