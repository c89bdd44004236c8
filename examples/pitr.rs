//! Point-in-time recovery planning: `cargo run --example pitr`
//!
//! Builds a week of catalog records for a MariaDB service, as the service would write them:
//! a full backup every day at 00:00, an incremental every six hours on top of the day's chain,
//! and every hour's closed binlog archived as a log segment, except one binlog that the archiver
//! lost on Thursday. Then asks `tern-pitr` for the recovery windows and three plans: a point in
//! time on Wednesday afternoon, a point in time inside Thursday's gap (refused, with the gap
//! named), and the latest recoverable point. Nothing is read or written: the planner is pure.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tern_catalog::{
    BackupId, BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, Position, RestoreTarget, Sizes,
};
use tern_pitr::{plan, recovery_windows};

const SERVICE: &str = "shop-mariadb";
const DAYS: i64 = 7;
/// Hours of the week whose binlogs are archived: up to Sunday 21:59 (the current binlog, from
/// 22:00, is still open).
const ARCHIVED_HOURS: i64 = DAYS * 24 - 2;
/// The binlog the archiver lost: Thursday 14:00–15:00.
const LOST_HOUR: i64 = 3 * 24 + 14;
/// Bytes of binlog the service writes per second, and transactions per hour.
const BYTES_PER_SECOND: i64 = 2_000;
const TRANSACTIONS_PER_HOUR: i64 = 3_600;

fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// Hour `h` of the week (0 = Monday 00:00) is written to binlog file `h + 1`.
fn binlog_name(hour: i64) -> String {
    format!("mysql-bin.{:06}", hour + 1)
}

/// The binlog position at `time`: the hour's file, at the offset written so far, with the GTID.
fn position_at(time: DateTime<Utc>) -> Position {
    let seconds = (time - monday()).num_seconds();
    let (hour, into_hour) = (seconds / 3600, seconds % 3600);
    let offset = u64::try_from(4 + into_hour * BYTES_PER_SECOND).expect("positive");
    let gtid = format!("0-1-{}", hour * TRANSACTIONS_PER_HOUR + into_hour);
    Position::mariadb(&binlog_name(hour), offset, Some(gtid)).expect("a binlog name")
}

/// A time-sortable id with a readable, fixed suffix (real ids get a random one).
fn id_at(time: DateTime<Utc>, n: u32) -> BackupId {
    format!("{}-{n:08x}", time.format("%Y%m%dT%H%M%S%.3fZ")).parse().expect("a valid id")
}

/// A succeeded backup started at `start`, consistent a few minutes later (when it finished).
fn backup(n: u32, kind: BackupKind, parent: Option<&BackupId>, start: DateTime<Utc>) -> BackupRecord {
    let minutes = if kind == BackupKind::Full { 7 } else { 3 };
    let consistent = start + Duration::minutes(minutes) + Duration::seconds(i64::from(n % 50));
    BackupRecord {
        id: id_at(start, n),
        service: SERVICE.into(),
        kind,
        status: BackupStatus::Succeeded,
        parent: parent.cloned(),
        started: start,
        finished: Some(consistent),
        consistent: Some(ConsistentPoint { time: consistent, position: Some(position_at(consistent)) }),
        sizes: Sizes::default(),
        manifest: Some(format!("manifests/{}", id_at(start, n))),
        region: Some("eu-west-1".into()),
        labels: std::collections::BTreeMap::default(),
    }
}

/// The closed binlog of hour `hour`: from offset 4 of its file to where the next file begins.
fn binlog(hour: i64) -> LogSegment {
    let start = monday() + Duration::hours(hour);
    let next = Position::mariadb(&binlog_name(hour + 1), 4, None).expect("a binlog name");
    LogSegment {
        id: id_at(start + Duration::hours(1), 0x1000 + u32::try_from(hour).expect("small")),
        service: SERVICE.into(),
        name: binlog_name(hour),
        start_position: Position::mariadb(&binlog_name(hour), 4, None).expect("a binlog name"),
        end_position: next,
        start_time: start + Duration::seconds(1),
        end_time: start + Duration::minutes(59) + Duration::seconds(58),
        size: u64::try_from(3600 * BYTES_PER_SECOND).expect("positive"),
        region: Some("eu-west-1".into()),
    }
}

fn week() -> (Vec<BackupRecord>, Vec<LogSegment>) {
    let mut records = Vec::new();
    let mut n = 1;
    for day in 0..DAYS {
        let midnight = monday() + Duration::days(day);
        let full = backup(n, BackupKind::Full, None, midnight);
        n += 1;
        let mut parent = full.id.clone();
        records.push(full);
        for hour in [6, 12, 18] {
            let incremental = backup(n, BackupKind::Incremental, Some(&parent), midnight + Duration::hours(hour));
            n += 1;
            parent = incremental.id.clone();
            records.push(incremental);
        }
    }
    let segments = (0..ARCHIVED_HOURS).filter(|&hour| hour != LOST_HOUR).map(binlog).collect();
    (records, segments)
}

fn main() {
    let (records, segments) = week();
    println!(
        "Service {SERVICE}: {} backups ({} full, {} incremental) and {} archived binlogs, one lost ({}).\n",
        records.len(),
        records.iter().filter(|r| r.kind == BackupKind::Full).count(),
        records.iter().filter(|r| r.kind == BackupKind::Incremental).count(),
        segments.len(),
        binlog_name(LOST_HOUR),
    );

    println!("Recovery windows:");
    for window in recovery_windows(&records, &segments) {
        println!("  {window}");
    }

    let wednesday_afternoon = Utc.with_ymd_and_hms(2026, 3, 4, 15, 42, 17).unwrap();
    let inside_the_gap = Utc.with_ymd_and_hms(2026, 3, 5, 16, 30, 0).unwrap();
    let targets = [
        ("A point in time on Wednesday afternoon", RestoreTarget::Time(wednesday_afternoon)),
        ("A point in time inside Thursday's gap", RestoreTarget::Time(inside_the_gap)),
        ("The latest recoverable point", RestoreTarget::Latest),
    ];
    for (title, target) in targets {
        println!("\n== {title}");
        match plan(&records, &segments, &target) {
            Ok(plan) => println!("{plan}"),
            Err(err) => {
                println!("Refused: {err}");
                println!("As JSON (for an API): {}", serde_json::to_string(&err).expect("serializable"));
            }
        }
    }
}
