//! Builders for catalog records in tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use tern_catalog::{BackupId, BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, Position, Sizes};

/// A fixed, readable id: `20260301T000000.000Z-<n as 8 hex>`.
pub fn id(n: u32) -> BackupId {
    format!("20260301T000000.000Z-{n:08x}").parse().expect("valid id")
}

/// 2026-03-01 plus `hours`, `minutes` and `seconds`.
pub fn at(hours: i64, minutes: i64, seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        + chrono::Duration::seconds(hours * 3600 + minutes * 60 + seconds)
}

/// A MariaDB position in `mysql-bin.<file>`.
pub fn binlog(file: u32, offset: u64) -> Position {
    Position::mariadb(&binlog_name(file), offset, None).expect("valid binlog name")
}

/// `mysql-bin.000042`.
pub fn binlog_name(file: u32) -> String {
    format!("mysql-bin.{file:06}")
}

/// A PostgreSQL position on timeline 1.
pub fn lsn(value: u64) -> Position {
    Position::postgres(1, &format!("{:X}/{:X}", value >> 32, value & 0xFFFF_FFFF)).expect("valid LSN")
}

/// A backup record.
pub fn backup(
    n: u32,
    kind: BackupKind,
    status: BackupStatus,
    parent: Option<u32>,
    point: Option<(DateTime<Utc>, Position)>,
) -> BackupRecord {
    let started = point.as_ref().map_or_else(|| at(0, 0, 0), |(time, _)| *time - chrono::Duration::minutes(5));
    BackupRecord {
        id: id(n),
        service: "orders".into(),
        kind,
        status,
        parent: parent.map(id),
        started,
        finished: Some(started + chrono::Duration::minutes(5)),
        consistent: point.map(|(time, position)| ConsistentPoint { time, position: Some(position) }),
        sizes: Sizes::default(),
        manifest: None,
        region: None,
        labels: std::collections::BTreeMap::default(),
    }
}

/// A succeeded full backup.
pub fn full(n: u32, time: DateTime<Utc>, position: Position) -> BackupRecord {
    backup(n, BackupKind::Full, BackupStatus::Succeeded, None, Some((time, position)))
}

/// A succeeded incremental backup.
pub fn incremental(n: u32, parent: u32, time: DateTime<Utc>, position: Position) -> BackupRecord {
    backup(n, BackupKind::Incremental, BackupStatus::Succeeded, Some(parent), Some((time, position)))
}

/// A succeeded dump.
pub fn dump(n: u32, time: DateTime<Utc>, position: Position) -> BackupRecord {
    backup(n, BackupKind::Dump, BackupStatus::Succeeded, None, Some((time, position)))
}

/// A log segment.
pub fn segment(
    n: u32,
    name: &str,
    start: Position,
    end: Position,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
) -> LogSegment {
    LogSegment {
        id: id(n),
        service: "orders".into(),
        name: name.to_owned(),
        start_position: start,
        end_position: end,
        start_time,
        end_time,
        size: 0,
        region: None,
    }
}

/// The hourly binlog `mysql-bin.<file>` for hour `hour` of 2026-03-01: events from HH:00:00 to
/// HH:59:59, starting at offset 4 and ending where the next file begins.
pub fn hourly_binlog(file: u32, hour: i64) -> LogSegment {
    segment(1000 + file, &binlog_name(file), binlog(file, 4), binlog(file + 1, 4), at(hour, 0, 0), at(hour, 59, 59))
}
