//! Replication lag: measured after every pass, stored in the secondary, reported by period.
//!
//! Lag is the primary's latest recoverable time minus the secondary's (from the planner's
//! recovery windows): how much history a restore in the secondary would lose. It is zero when
//! the secondary can restore to everything the primary can. Samples live in the secondary's
//! catalog (`catalog/<service>/replication/lag/<time>.json`), so the region that would be used
//! after a disaster carries its own history.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tern_catalog::{BackupFilter, Catalog, CatalogExt, Paging};
use tern_engine::{Error, Repository, Result};

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LagSample {
    /// When it was taken.
    pub time: DateTime<Utc>,
    /// Primary's latest recoverable time minus the secondary's, in seconds (0 when caught up).
    pub lag_secs: f64,
    /// Bytes of backups the secondary still lacks.
    pub pending_bytes: u64,
    /// Backups the secondary still lacks.
    pub pending_objects: u64,
}

/// How far back a report looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// The last hour.
    Hour,
    /// The last day.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// The last 365 days.
    Year,
}

impl Period {
    fn span(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
            Self::Week => Duration::days(7),
            Self::Month => Duration::days(30),
            Self::Year => Duration::days(365),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            "year" => Ok(Self::Year),
            other => Err(format!("`{other}` is not a period (hour, day, week, month, year)")),
        }
    }
}

/// The most points a report returns: samples are grouped into this many buckets, keeping each
/// bucket's worst lag.
pub const MAX_POINTS: usize = 60;

/// A lag report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LagReport {
    /// The service.
    pub service: String,
    /// The period covered.
    pub period: Period,
    /// The latest sample, if any.
    pub current: Option<LagSample>,
    /// Downsampled series, oldest first (at most [`MAX_POINTS`]).
    pub series: Vec<LagSample>,
}

fn sample_prefix(service: &str) -> String {
    format!("catalog/{service}/replication/lag")
}

/// Measures the lag of `service` between two repositories (no key needed).
pub async fn measure(primary: &Repository, secondary: &Repository, service: &str) -> Result<LagSample> {
    let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
    let p = primary.catalog().list_backups(&filter, Paging::all()).await?.items;
    let s = secondary.catalog().list_backups(&filter, Paging::all()).await?.items;
    let p_segments = primary.catalog().list_segments(service).await?;
    let s_segments = secondary.catalog().list_segments(service).await?;
    let end = |windows: Vec<tern_pitr::RecoveryWindow>| windows.iter().map(|w| w.end).max();
    let p_windows = tern_pitr::recovery_windows(&p, &p_segments);
    let first = p_windows.iter().map(|w| w.start).min();
    let (p_end, s_end) = (end(p_windows), end(tern_pitr::recovery_windows(&s, &s_segments)));
    let lag = match (p_end, s_end, first) {
        (Some(p), Some(s), _) => (p - s).max(Duration::zero()),
        // Nothing restorable in the secondary yet: all of the primary's history is missing.
        (Some(p), None, Some(f)) => p - f,
        _ => Duration::zero(),
    };
    let present: std::collections::HashSet<_> =
        s.iter().filter(|r| r.status.name() == "succeeded").map(|r| r.id.clone()).collect();
    let pending: Vec<_> = p.iter().filter(|r| r.status.name() == "succeeded" && !present.contains(&r.id)).collect();
    Ok(LagSample {
        time: Utc::now(),
        lag_secs: lag.as_seconds_f64(),
        pending_bytes: pending.iter().map(|r| r.sizes.stored_bytes).sum(),
        pending_objects: pending.len() as u64,
    })
}

/// Stores a sample in the secondary's catalog.
pub async fn record(secondary: &Repository, service: &str, sample: &LagSample) -> Result<()> {
    tern_catalog::check_service_name(service).map_err(Error::InvalidArgument)?;
    let key = format!("{}/{}.json", sample_prefix(service), sample.time.format("%Y%m%dT%H%M%S%.6fZ"));
    let body = serde_json::to_vec(sample).map_err(|e| Error::InvalidArgument(format!("lag sample: {e}")))?;
    secondary.catalog().create(&key, body.into()).await?;
    Ok(())
}

/// The lag report of `service` over `period`, from the samples in `secondary`.
pub async fn report(secondary: &Repository, service: &str, period: Period, now: DateTime<Utc>) -> Result<LagReport> {
    tern_catalog::check_service_name(service).map_err(Error::InvalidArgument)?;
    let catalog = secondary.catalog();
    let since = now - period.span();
    let mut samples = Vec::new();
    for key in catalog.keys(&sample_prefix(service)).await? {
        if let Some((bytes, _)) = catalog.read(&key).await? {
            let sample: LagSample = serde_json::from_slice(&bytes)
                .map_err(|e| tern_catalog::Error::Corrupt { key: key.clone(), detail: e.to_string() })?;
            samples.push(sample);
        }
    }
    samples.sort_by_key(|s| s.time);
    let current = samples.last().cloned();
    let window: Vec<LagSample> = samples.into_iter().filter(|s| s.time >= since && s.time <= now).collect();
    Ok(LagReport { service: service.to_owned(), period, current, series: downsample(window, since, now) })
}

/// Groups samples into at most [`MAX_POINTS`] equal time buckets, keeping the worst lag of each.
fn downsample(samples: Vec<LagSample>, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<LagSample> {
    if samples.len() <= MAX_POINTS {
        return samples;
    }
    let span = (now - since).num_milliseconds().max(1);
    let mut buckets: Vec<Option<LagSample>> = vec![None; MAX_POINTS];
    for s in samples {
        let at = (s.time - since).num_milliseconds().clamp(0, span - 1);
        let points = i64::try_from(MAX_POINTS).expect("a small constant");
        let i = usize::try_from(at * points / span).unwrap_or(0).min(MAX_POINTS - 1);
        let worse = buckets[i].as_ref().is_none_or(|b| s.lag_secs >= b.lag_secs);
        if worse {
            buckets[i] = Some(s);
        }
    }
    buckets.into_iter().flatten().collect()
}
