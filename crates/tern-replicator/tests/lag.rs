//! Lag: measured from recovery windows, stored in the secondary, reported by period.
// Lags compared here are exact zeros or copies of stored values: exact comparison is intended.
#![allow(clippy::float_cmp)]

use chrono::{Duration, TimeZone, Utc};
use tern_catalog::{ConsistentPoint, Position};
use tern_engine::{InitOptions, KdfParams, Repository, SegmentSpan, UserKey};
use tern_replicator::Replicator;
use tern_replicator::lag::{self, LagSample, MAX_POINTS, Period};
use tern_storage::Location;

async fn repo(name: &str) -> Repository {
    let options = InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(UserKey::passphrase("lag")) };
    Repository::init(Location::memory(name).open().unwrap(), options).await.unwrap()
}

fn pos(file: u32) -> Position {
    Position::mariadb(&format!("mysql-bin.{file:06}"), 4, None).unwrap()
}

/// A full at 00:00 then hourly binlogs for `hours` hours.
async fn history(primary: &Repository, hours: u32) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let mut w =
        primary.backup("db1").consistent(ConsistentPoint { time: t0, position: Some(pos(1)) }).start().await.unwrap();
    w.add_entry("base", &b"base"[..], None).await.unwrap();
    w.commit().await.unwrap();
    for h in 0..hours {
        push(primary, h).await;
    }
}

async fn push(primary: &Repository, h: u32) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let span = SegmentSpan {
        start_position: pos(h + 1),
        end_position: pos(h + 2),
        start_time: t0 + Duration::hours(i64::from(h)),
        end_time: t0 + Duration::hours(i64::from(h + 1)),
    };
    primary.push_log_segment("db1", &format!("mysql-bin.{:06}", h + 1), &b"events"[..], span).await.unwrap();
}

#[tokio::test]
async fn lag_is_zero_when_caught_up_and_the_missing_history_when_behind() {
    let primary = repo("lag-eu").await;
    history(&primary, 5).await;
    let replicator = Replicator::new(primary.clone(), Location::memory("lag-us").open().unwrap()).await.unwrap();
    let (_, caught_up) = replicator.pass_and_measure("db1").await.unwrap();
    assert_eq!((caught_up.lag_secs, caught_up.pending_bytes, caught_up.pending_objects), (0.0, 0, 0));

    // Two more hours archived in the primary, not yet replicated.
    push(&primary, 5).await;
    push(&primary, 6).await;
    let behind = lag::measure(&primary, replicator.secondary(), "db1").await.unwrap();
    assert!((behind.lag_secs - 7200.0).abs() < 1e-6, "two hours of binlogs behind: {behind:?}");
    assert_eq!(behind.pending_objects, 2);
    assert!(behind.pending_bytes > 0);

    // The next pass catches up; both samples are in the secondary's report.
    let (_, after) = replicator.pass_and_measure("db1").await.unwrap();
    assert_eq!(after.lag_secs, 0.0);
    let report =
        lag::report(replicator.secondary(), "db1", Period::Hour, Utc::now() + Duration::seconds(1)).await.unwrap();
    assert_eq!(report.series.len(), 2, "{report:?}");
    assert_eq!(report.current.as_ref().map(|s| s.lag_secs), Some(0.0));
}

#[tokio::test]
async fn an_empty_secondary_lags_by_all_of_the_primary_history() {
    let primary = repo("lag-empty-eu").await;
    history(&primary, 3).await;
    let secondary = repo("lag-empty-us").await;
    let sample = lag::measure(&primary, &secondary, "db1").await.unwrap();
    assert!((sample.lag_secs - 3.0 * 3600.0).abs() < 1e-6, "{sample:?}");
    assert_eq!(sample.pending_objects, 4);
}

#[tokio::test]
async fn reports_are_bounded_and_keep_the_worst_lag() {
    let secondary = repo("lag-report").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    // One sample a minute for two days; one spike.
    for m in 0..(2 * 24 * 60) {
        let time = now - Duration::minutes(m);
        let lag_secs = if m == 90 { 5000.0 } else { f64::from(u32::try_from(m % 7).unwrap()) };
        lag::record(&secondary, "db1", &LagSample { time, lag_secs, pending_bytes: 0, pending_objects: 0 })
            .await
            .unwrap();
    }
    for (period, expected_max) in [(Period::Hour, 6.0), (Period::Day, 5000.0), (Period::Week, 5000.0)] {
        let report = lag::report(&secondary, "db1", period, now).await.unwrap();
        assert!(report.series.len() <= MAX_POINTS, "{period:?}: {} points", report.series.len());
        assert!(!report.series.is_empty());
        let max = report.series.iter().map(|s| s.lag_secs).fold(0.0, f64::max);
        assert_eq!(max, expected_max, "{period:?}: the worst lag survives downsampling");
        assert!(report.series.windows(2).all(|w| w[0].time <= w[1].time), "oldest first");
    }
    let hour = lag::report(&secondary, "db1", Period::Hour, now).await.unwrap();
    assert!(hour.series.iter().all(|s| s.time >= now - Duration::hours(1)));
    assert_eq!(hour.current.unwrap().time, now);
    assert_eq!("month".parse::<Period>().unwrap(), Period::Month);
    assert_eq!(
        "fortnight".parse::<Period>().unwrap_err(),
        "`fortnight` is not a period (hour, day, week, month, year)"
    );
}
