//! Plans for every target kind and every error's exact message, on MariaDB- and PostgreSQL-style
//! histories.

mod common;

use common::*;
use tern_catalog::{BackupKind, BackupRecord, BackupStatus, LogSegment, RestoreTarget};
use tern_pitr::{ChainBreak, PlanError, RecoveryWindow, Stop, plan, recovery_windows};

/// A MariaDB day: a full at 00:10, incrementals at 06:10 and 12:10, hourly binlogs for hours
/// 0–17 (`mysql-bin.000001` is hour 0) with hour 9 (`mysql-bin.000010`) missing.
fn mariadb_day() -> (Vec<BackupRecord>, Vec<LogSegment>) {
    let records = vec![
        full(1, at(0, 10, 0), binlog(1, 50_000)),
        incremental(2, 1, at(6, 10, 0), binlog(7, 40_000)),
        incremental(3, 2, at(12, 10, 0), binlog(13, 30_000)),
        // Not restorable: ignored by time planning.
        backup(4, BackupKind::Full, failed("disk full"), None, Some((at(14, 0, 0), binlog(15, 100)))),
        backup(5, BackupKind::Incremental, BackupStatus::Running, Some(3), Some((at(16, 0, 0), binlog(17, 100)))),
    ];
    let segments = (0..18).filter(|&hour| hour != 9).map(|hour| hourly_binlog(hour + 1, hour.into())).collect();
    (records, segments)
}

fn failed(reason: &str) -> BackupStatus {
    BackupStatus::Failed { reason: reason.into() }
}

fn names(segments: &[LogSegment]) -> Vec<&str> {
    segments.iter().map(|s| s.name.as_str()).collect()
}

fn ids(records: &[BackupRecord]) -> Vec<String> {
    records.iter().map(|r| r.id.to_string()).collect()
}

fn message(result: Result<tern_pitr::RestorePlan, PlanError>) -> String {
    result.expect_err("the plan should fail").to_string()
}

// ---------------------------------------------------------------- time targets

#[test]
fn time_target_uses_the_newest_chain_step_and_logs_from_its_position() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(7, 30, 0))).unwrap();
    assert_eq!(plan.base.id, id(1));
    assert_eq!(ids(&plan.incrementals), [id(2).to_string()]);
    assert_eq!(names(&plan.segments), ["mysql-bin.000007", "mysql-bin.000008"]);
    assert_eq!(plan.replay_from, Some(binlog(7, 40_000)));
    assert_eq!(plan.stop, Stop::Time { at: at(7, 30, 0), inclusive: true });
    assert_eq!(plan.target_time, Some(at(7, 30, 0)));
    assert_eq!(plan.last_backup().id, id(2));
}

#[test]
fn time_target_on_a_full_uses_no_incrementals() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(2, 0, 0))).unwrap();
    assert_eq!(plan.base.id, id(1));
    assert!(plan.incrementals.is_empty());
    assert_eq!(names(&plan.segments), ["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]);
    assert_eq!(plan.replay_from, Some(binlog(1, 50_000)));
}

#[test]
fn time_target_exactly_at_a_backup_needs_no_logs() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(12, 10, 0))).unwrap();
    assert_eq!(ids(&plan.incrementals), [id(2).to_string(), id(3).to_string()]);
    assert!(plan.segments.is_empty());
    assert_eq!(plan.replay_from, None);
    assert_eq!(plan.stop, Stop::EndOfBackup);
    assert_eq!(plan.target_time, Some(at(12, 10, 0)));
}

#[test]
fn time_target_at_the_end_of_a_window_is_reached() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(17, 59, 59))).unwrap();
    assert_eq!(plan.last_backup().id, id(3));
    assert_eq!(plan.segments.first().unwrap().name, "mysql-bin.000013");
    assert_eq!(plan.segments.last().unwrap().name, "mysql-bin.000018");
}

#[test]
fn events_at_the_target_second_in_the_next_segment_are_replayed() {
    let records = vec![full(1, at(0, 10, 0), binlog(1, 500))];
    let first = segment(10, "mysql-bin.000001", binlog(1, 4), binlog(2, 4), at(0, 0, 0), at(1, 0, 0));
    let same_second = segment(11, "mysql-bin.000002", binlog(2, 4), binlog(3, 4), at(1, 0, 0), at(2, 0, 0));
    let plan1 = plan(&records, &[first.clone(), same_second], &RestoreTarget::Time(at(1, 0, 0))).unwrap();
    assert_eq!(names(&plan1.segments), ["mysql-bin.000001", "mysql-bin.000002"]);

    let next_second = segment(11, "mysql-bin.000002", binlog(2, 4), binlog(3, 4), at(1, 0, 1), at(2, 0, 0));
    let plan2 = plan(&records, &[first, next_second], &RestoreTarget::Time(at(1, 0, 0))).unwrap();
    assert_eq!(names(&plan2.segments), ["mysql-bin.000001"]);
}

#[test]
fn failed_and_running_backups_are_never_used() {
    let (records, segments) = mariadb_day();
    // The failed full at 14:00 and the running incremental at 16:00 would need fewer logs.
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(16, 30, 0))).unwrap();
    assert_eq!(plan.last_backup().id, id(3));
    assert_eq!(plan.segments.len(), 5);
}

#[test]
fn a_dump_is_a_base_but_takes_no_incrementals() {
    let records = vec![
        dump(1, at(0, 10, 0), binlog(1, 500)),
        // An incremental on a dump is not restorable, so the dump's logs are used instead.
        incremental(2, 1, at(1, 10, 0), binlog(2, 500)),
    ];
    let segments = vec![hourly_binlog(1, 0), hourly_binlog(2, 1)];
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(1, 30, 0))).unwrap();
    assert_eq!(plan.base.kind, BackupKind::Dump);
    assert!(plan.incrementals.is_empty());
    assert_eq!(names(&plan.segments), ["mysql-bin.000001", "mysql-bin.000002"]);
}

#[test]
fn a_full_is_preferred_to_an_incremental_at_the_same_point() {
    let records = vec![
        full(1, at(0, 10, 0), binlog(1, 500)),
        incremental(2, 1, at(1, 10, 0), binlog(2, 500)),
        full(3, at(1, 10, 0), binlog(2, 500)),
    ];
    let segments = vec![hourly_binlog(1, 0), hourly_binlog(2, 1)];
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(1, 30, 0))).unwrap();
    assert_eq!(plan.base.id, id(3));
    assert!(plan.incrementals.is_empty());
}

#[test]
fn an_incremental_before_its_parent_is_not_used_for_time_targets() {
    // Consistent later than its parent by the clock, but earlier by position: a corrupt record.
    let records = vec![full(1, at(0, 10, 0), binlog(1, 500)), incremental(2, 1, at(0, 20, 0), binlog(1, 400))];
    let segments = vec![hourly_binlog(1, 0)];
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(0, 30, 0))).unwrap();
    assert_eq!(plan.base.id, id(1));
    assert!(plan.incrementals.is_empty());
    // Earlier by the clock.
    let records = vec![full(1, at(0, 10, 0), binlog(1, 500)), incremental(2, 1, at(0, 5, 0), binlog(1, 600))];
    let plan = tern_pitr::plan(&records, &segments, &RestoreTarget::Time(at(0, 30, 0))).unwrap();
    assert!(plan.incrementals.is_empty());
    assert!(recovery_windows(&records, &segments)[0].base_ids == [id(1)]);
}

#[test]
fn overlapping_segments_that_do_not_meet_exactly_are_not_joined() {
    let records = vec![full(1, at(0, 10, 0), binlog(1, 500))];
    let segments = vec![
        segment(10, "a", binlog(1, 4), binlog(1, 10_000), at(0, 0, 0), at(0, 30, 0)),
        segment(11, "b", binlog(1, 9_000), binlog(1, 20_000), at(0, 29, 0), at(0, 59, 0)),
    ];
    let err = plan(&records, &segments, &RestoreTarget::Time(at(0, 45, 0))).unwrap_err();
    assert!(matches!(err, PlanError::PastArchivedEnd { .. }), "{err}");
}

#[test]
fn duplicate_and_empty_segments_do_no_harm() {
    let records = vec![full(1, at(0, 10, 0), binlog(1, 500))];
    let segments = vec![
        hourly_binlog(1, 0),
        hourly_binlog(1, 0),
        segment(12, "empty", binlog(2, 4), binlog(2, 4), at(1, 0, 0), at(1, 0, 0)),
        hourly_binlog(2, 1),
    ];
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(1, 30, 0))).unwrap();
    assert_eq!(names(&plan.segments), ["mysql-bin.000001", "mysql-bin.000002"]);
}

// ---------------------------------------------------------------- position targets

#[test]
fn mariadb_position_target_stops_before_the_position() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Position(binlog(8, 1_000))).unwrap();
    assert_eq!(ids(&plan.incrementals), [id(2).to_string()]);
    assert_eq!(names(&plan.segments), ["mysql-bin.000007", "mysql-bin.000008"]);
    assert_eq!(plan.replay_from, Some(binlog(7, 40_000)));
    assert_eq!(plan.stop, Stop::Position { at: binlog(8, 1_000), inclusive: false });
    assert_eq!(plan.target_time, None);
}

#[test]
fn position_target_at_a_segment_end_knows_its_time() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Position(binlog(9, 4))).unwrap();
    assert_eq!(names(&plan.segments), ["mysql-bin.000007", "mysql-bin.000008"]);
    assert_eq!(plan.target_time, Some(at(7, 59, 59)));
}

#[test]
fn position_target_exactly_at_a_backup_needs_no_logs() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Position(binlog(7, 40_000))).unwrap();
    assert_eq!(plan.last_backup().id, id(2));
    assert!(plan.segments.is_empty());
    assert_eq!(plan.stop, Stop::EndOfBackup);
    assert_eq!(plan.target_time, Some(at(6, 10, 0)));
}

/// PostgreSQL: 16 MiB WAL segments of ten minutes each on timeline 1, a base backup at
/// 0/3000028, WAL archived for segments 0–7.
fn postgres_history() -> (Vec<BackupRecord>, Vec<LogSegment>) {
    const SEGMENT: u64 = 16 << 20;
    let records = vec![full(1, at(0, 35, 0), lsn(0x0300_0028))];
    let segments = (0..8u32)
        .map(|k| {
            let start = u64::from(k) * SEGMENT;
            let minutes = i64::from(k) * 10;
            let name = format!("{:08X}{:08X}{:08X}", 1, k / 256, k % 256);
            segment(100 + k, &name, lsn(start), lsn(start + SEGMENT), at(0, minutes, 0), at(0, minutes + 9, 59))
        })
        .collect();
    (records, segments)
}

#[test]
fn postgres_position_target() {
    let (records, segments) = postgres_history();
    let plan = plan(&records, &segments, &RestoreTarget::Position(lsn(0x0500_1000))).unwrap();
    assert_eq!(plan.base.id, id(1));
    assert_eq!(
        names(&plan.segments),
        ["000000010000000000000003", "000000010000000000000004", "000000010000000000000005"]
    );
    assert_eq!(plan.replay_from, Some(lsn(0x0300_0028)));
    assert_eq!(plan.stop, Stop::Position { at: lsn(0x0500_1000), inclusive: false });
}

#[test]
fn postgres_time_target() {
    let (records, segments) = postgres_history();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(0, 52, 30))).unwrap();
    assert_eq!(
        names(&plan.segments),
        ["000000010000000000000003", "000000010000000000000004", "000000010000000000000005"]
    );
}

#[test]
fn postgres_errors() {
    let (records, segments) = postgres_history();
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Position(lsn(0x0100_0000)))),
        "no full backup or dump at or before timeline 1, LSN 0/1000000; \
         the earliest is timeline 1, LSN 0/3000028 (20260301T000000.000Z-00000001)"
    );
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Position(lsn(0x0F00_0000)))),
        "target timeline 1, LSN 0/F000000 is after the archived end 2026-03-01T01:19:59Z \
         (timeline 1, LSN 0/8000000); the logs stop there"
    );
    // Before anything was recorded at all.
    let later: Vec<LogSegment> = segments.into_iter().skip(2).collect();
    assert_eq!(
        message(plan(&records, &later, &RestoreTarget::Position(lsn(0x0100_0000)))),
        "target timeline 1, LSN 0/1000000 is before the first backup; \
         the earliest restorable point is timeline 1, LSN 0/3000028 (20260301T000000.000Z-00000001)"
    );
}

// ---------------------------------------------------------------- latest and backup targets

#[test]
fn latest_replays_the_whole_run_after_the_newest_backup() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Latest).unwrap();
    assert_eq!(plan.last_backup().id, id(3));
    assert_eq!(plan.segments.len(), 6);
    assert_eq!(plan.segments.last().unwrap().name, "mysql-bin.000018");
    assert_eq!(plan.replay_from, Some(binlog(13, 30_000)));
    assert_eq!(plan.stop, Stop::Position { at: binlog(19, 4), inclusive: false });
    assert_eq!(plan.target_time, Some(at(17, 59, 59)));
}

#[test]
fn latest_without_logs_after_the_newest_backup_is_that_backup() {
    let (mut records, segments) = mariadb_day();
    records.push(full(6, at(20, 10, 0), binlog(21, 100)));
    let plan = plan(&records, &segments, &RestoreTarget::Latest).unwrap();
    assert_eq!(plan.base.id, id(6));
    assert!(plan.segments.is_empty());
    assert_eq!(plan.stop, Stop::EndOfBackup);
    assert_eq!(plan.target_time, Some(at(20, 10, 0)));
}

#[test]
fn backup_target_restores_the_chain_without_logs() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Backup(id(3))).unwrap();
    assert_eq!(plan.base.id, id(1));
    assert_eq!(ids(&plan.incrementals), [id(2).to_string(), id(3).to_string()]);
    assert!(plan.segments.is_empty());
    assert_eq!(plan.stop, Stop::EndOfBackup);
    assert_eq!(plan.target_time, Some(at(12, 10, 0)));

    let plan = tern_pitr::plan(&records, &segments, &RestoreTarget::Backup(id(1))).unwrap();
    assert!(plan.incrementals.is_empty());
}

#[test]
fn backup_target_accepts_a_backup_without_a_position() {
    let mut record = full(1, at(0, 10, 0), binlog(1, 500));
    record.consistent = None;
    let plan = plan(&[record], &[], &RestoreTarget::Backup(id(1))).unwrap();
    assert_eq!(plan.target_time, None);
    // …but such a backup is no starting point for a point in time.
    let record = plan.base.clone();
    assert!(matches!(
        tern_pitr::plan(&[record], &[], &RestoreTarget::Latest),
        Err(PlanError::NoBase { earliest: None, .. })
    ));
}

// ---------------------------------------------------------------- every error, exactly

#[test]
fn no_base_none_at_all() {
    assert_eq!(
        message(plan(&[], &[], &RestoreTarget::Time(at(10, 0, 0)))),
        "no full backup or dump at or before 2026-03-01T10:00:00Z; there is none at all"
    );
    assert_eq!(
        message(plan(&[], &[], &RestoreTarget::Latest)),
        "no full backup or dump to restore from; there is none at all"
    );
    let only_incremental = vec![incremental(2, 1, at(1, 0, 0), binlog(1, 10))];
    assert_eq!(
        message(plan(&only_incremental, &[], &RestoreTarget::Time(at(10, 0, 0)))),
        "no full backup or dump at or before 2026-03-01T10:00:00Z; there is none at all"
    );
}

#[test]
fn no_base_names_the_earliest() {
    let (records, segments) = mariadb_day();
    // Logs exist from 00:00, the first full is consistent at 00:10.
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Time(at(0, 5, 0)))),
        "no full backup or dump at or before 2026-03-01T00:05:00Z; \
         the earliest is 2026-03-01T00:10:00Z (20260301T000000.000Z-00000001)"
    );
}

#[test]
fn before_first_backup() {
    let (records, segments) = mariadb_day();
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Time(at(-1, 0, 0)))),
        "target 2026-02-28T23:00:00Z is before the first backup; \
         the earliest restorable point is 2026-03-01T00:10:00Z (20260301T000000.000Z-00000001)"
    );
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Position(binlog(0, 4)))),
        "target mysql-bin.000000:4 is before the first backup; \
         the earliest restorable point is mysql-bin.000001:50000 (20260301T000000.000Z-00000001)"
    );
}

#[test]
fn log_gap_names_both_positions_and_segments() {
    let (records, segments) = mariadb_day();
    let err = plan(&records, &segments, &RestoreTarget::Time(at(10, 0, 0))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "log gap: nothing is archived between mysql-bin.000010:4 and mysql-bin.000011:4 \
         (after segment mysql-bin.000009, before segment mysql-bin.000011); \
         restoring to 2026-03-01T10:00:00Z needs that range"
    );
    let PlanError::LogGap { from, to, after_segment, before_segment, .. } = err else { unreachable!() };
    assert_eq!((from, to), (binlog(10, 4), binlog(11, 4)));
    assert_eq!(after_segment.as_deref(), Some("mysql-bin.000009"));
    assert_eq!(before_segment, "mysql-bin.000011");

    // By position, too: just inside the missing binlog.
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Position(binlog(10, 500)))),
        "log gap: nothing is archived between mysql-bin.000010:4 and mysql-bin.000011:4 \
         (after segment mysql-bin.000009, before segment mysql-bin.000011); \
         restoring to mysql-bin.000010:500 needs that range"
    );
}

#[test]
fn log_gap_right_after_the_backup() {
    let records = vec![full(1, at(0, 10, 0), binlog(1, 100))];
    let segments = vec![hourly_binlog(3, 2)];
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Time(at(2, 30, 0)))),
        "log gap: nothing is archived between mysql-bin.000001:100 and mysql-bin.000003:4 \
         (before segment mysql-bin.000003); restoring to 2026-03-01T02:30:00Z needs that range"
    );
}

#[test]
fn past_archived_end() {
    let (records, segments) = mariadb_day();
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Time(at(20, 0, 0)))),
        "target 2026-03-01T20:00:00Z is after the archived end 2026-03-01T17:59:59Z (mysql-bin.000019:4); \
         the logs stop there"
    );
    // With no logs after the newest backup, the end is that backup's consistent point.
    let records = vec![full(1, at(0, 10, 0), binlog(1, 100))];
    assert_eq!(
        message(plan(&records, &[], &RestoreTarget::Time(at(0, 10, 1)))),
        "target 2026-03-01T00:10:01Z is after the archived end 2026-03-01T00:10:00Z (mysql-bin.000001:100); \
         the logs stop there"
    );
}

#[test]
fn backup_not_found() {
    let (records, segments) = mariadb_day();
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Backup(id(99)))),
        "backup 20260301T000000.000Z-00000063 is not in the catalog"
    );
}

#[test]
fn not_restorable() {
    let (records, segments) = mariadb_day();
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Backup(id(4)))),
        "backup 20260301T000000.000Z-00000004 cannot be restored: its status is failed (disk full)"
    );
    assert_eq!(
        message(plan(&records, &segments, &RestoreTarget::Backup(id(5)))),
        "backup 20260301T000000.000Z-00000005 cannot be restored: its status is running"
    );
}

#[test]
fn not_a_backup() {
    let log = backup(7, BackupKind::Log, BackupStatus::Succeeded, None, None);
    assert_eq!(
        message(plan(&[log], &[], &RestoreTarget::Backup(id(7)))),
        "20260301T000000.000Z-00000007 is an archived log segment, not a backup; \
         restore to a time or position it covers instead"
    );
    // Also when only the segment is given, without its `log` record.
    let segments = vec![hourly_binlog(1, 0)];
    assert!(matches!(
        plan(&[], &segments, &RestoreTarget::Backup(segments[0].id.clone())),
        Err(PlanError::NotABackup { .. })
    ));
}

#[test]
fn broken_chains() {
    let base = full(1, at(0, 10, 0), binlog(1, 100));
    let the_dump = dump(2, at(0, 20, 0), binlog(1, 200));
    let failed_full = backup(3, BackupKind::Full, failed("out of space"), None, Some((at(0, 30, 0), binlog(1, 300))));
    let log = backup(4, BackupKind::Log, BackupStatus::Succeeded, None, None);
    let orphan = incremental(10, 99, at(1, 0, 0), binlog(2, 100));
    let on_orphan = incremental(11, 10, at(1, 10, 0), binlog(2, 200));
    let on_dump = incremental(12, 2, at(1, 20, 0), binlog(2, 300));
    let on_failed = incremental(13, 3, at(1, 30, 0), binlog(2, 400));
    let on_log = incremental(14, 4, at(1, 40, 0), binlog(2, 500));
    let no_parent =
        backup(15, BackupKind::Incremental, BackupStatus::Succeeded, None, Some((at(1, 50, 0), binlog(2, 600))));
    let loop_a = incremental(16, 17, at(2, 0, 0), binlog(3, 100));
    let loop_b = incremental(17, 16, at(2, 10, 0), binlog(3, 200));
    let records = vec![
        base,
        the_dump,
        failed_full,
        log,
        orphan,
        on_orphan,
        on_dump,
        on_failed,
        on_log,
        no_parent,
        loop_a,
        loop_b,
    ];
    let expect = |n: u32, text: &str| assert_eq!(message(plan(&records, &[], &RestoreTarget::Backup(id(n)))), text);
    expect(
        10,
        "backup 20260301T000000.000Z-0000000a cannot be restored: incremental 20260301T000000.000Z-0000000a \
         needs parent 20260301T000000.000Z-00000063, which is not in the catalog",
    );
    expect(
        11,
        "backup 20260301T000000.000Z-0000000b cannot be restored: incremental 20260301T000000.000Z-0000000a \
         needs parent 20260301T000000.000Z-00000063, which is not in the catalog",
    );
    expect(
        12,
        "backup 20260301T000000.000Z-0000000c cannot be restored: incremental 20260301T000000.000Z-0000000c \
         needs parent 20260301T000000.000Z-00000002, which is a dump (a dump cannot take incrementals)",
    );
    expect(
        13,
        "backup 20260301T000000.000Z-0000000d cannot be restored: incremental 20260301T000000.000Z-0000000d \
         needs parent 20260301T000000.000Z-00000003, which has status failed (out of space)",
    );
    expect(
        14,
        "backup 20260301T000000.000Z-0000000e cannot be restored: incremental 20260301T000000.000Z-0000000e \
         needs parent 20260301T000000.000Z-00000004, which is an archived log segment",
    );
    expect(
        15,
        "backup 20260301T000000.000Z-0000000f cannot be restored: incremental 20260301T000000.000Z-0000000f \
         names no parent",
    );
    expect(
        16,
        "backup 20260301T000000.000Z-00000010 cannot be restored: incremental 20260301T000000.000Z-00000011 \
         needs parent 20260301T000000.000Z-00000010, which is already in the chain (the parent links loop)",
    );
    let err = plan(&records, &[], &RestoreTarget::Backup(id(11))).unwrap_err();
    assert_eq!(
        err,
        PlanError::BrokenChain {
            id: id(11),
            incremental: id(10),
            missing_parent: Some(id(99)),
            reason: ChainBreak::NotInCatalog
        }
    );
    // None of the broken incrementals is a starting point for a point in time either.
    let windows = recovery_windows(&records, &[]);
    let starts: Vec<_> = windows.iter().flat_map(|w| w.base_ids.clone()).collect();
    assert_eq!(starts, [id(1), id(2)]);
}

// ---------------------------------------------------------------- windows

#[test]
fn windows_split_at_the_gap_and_merge_overlaps() {
    let (records, segments) = mariadb_day();
    let windows = recovery_windows(&records, &segments);
    assert_eq!(
        windows,
        [
            RecoveryWindow {
                start: at(0, 10, 0),
                end: at(8, 59, 59),
                start_position: binlog(1, 50_000),
                end_position: binlog(10, 4),
                base_ids: vec![id(1), id(2)],
            },
            RecoveryWindow {
                start: at(12, 10, 0),
                end: at(17, 59, 59),
                start_position: binlog(13, 30_000),
                end_position: binlog(19, 4),
                base_ids: vec![id(3)],
            },
        ]
    );
    assert_eq!(
        windows[0].to_string(),
        "2026-03-01T00:10:00Z to 2026-03-01T08:59:59Z (mysql-bin.000001:50000 to mysql-bin.000010:4; 2 backups)"
    );
    assert!(windows[0].contains(at(8, 59, 59)) && !windows[0].contains(at(9, 0, 0)));
}

#[test]
fn a_backup_without_logs_is_a_zero_length_window() {
    let records = vec![full(1, at(0, 10, 0), binlog(1, 100)), full(2, at(5, 0, 0), binlog(6, 100))];
    let segments = vec![hourly_binlog(1, 0)];
    let windows = recovery_windows(&records, &segments);
    assert_eq!(windows.len(), 2);
    assert_eq!((windows[0].start, windows[0].end), (at(0, 10, 0), at(0, 59, 59)));
    assert_eq!((windows[1].start, windows[1].end), (at(5, 0, 0), at(5, 0, 0)));
    assert!(plan(&records, &segments, &RestoreTarget::Time(at(5, 0, 0))).is_ok());
    assert!(plan(&records, &segments, &RestoreTarget::Time(at(4, 0, 0))).is_err());
    assert!(recovery_windows(&[], &segments).is_empty());
}

// ---------------------------------------------------------------- output forms

#[test]
fn errors_serialize_with_code_message_and_fields() {
    let (records, segments) = mariadb_day();
    let err = plan(&records, &segments, &RestoreTarget::Time(at(10, 0, 0))).unwrap_err();
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["code"], "log_gap");
    assert_eq!(err.code(), "log_gap");
    assert_eq!(json["message"], err.to_string());
    assert_eq!(json["after_segment"], "mysql-bin.000009");
    assert_eq!(json["before_segment"], "mysql-bin.000011");
    assert_eq!(json["from"]["native"]["file"], "mysql-bin.000010");
    assert_eq!(json["target"]["time"], "2026-03-01T10:00:00Z");

    let err = plan(&records, &segments, &RestoreTarget::Backup(id(99))).unwrap_err();
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(json["code"], "backup_not_found");
    assert_eq!(json["id"], id(99).to_string());
}

#[test]
fn plans_round_trip_through_json() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(7, 30, 0))).unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains(r#""stop":{"kind":"time","at":"2026-03-01T07:30:00Z","inclusive":true}"#), "{json}");
    let back: tern_pitr::RestorePlan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn plans_print_as_a_table() {
    let (records, segments) = mariadb_day();
    let plan = plan(&records, &segments, &RestoreTarget::Time(at(7, 30, 0))).unwrap();
    let expected = "\
Restore plan to 2026-03-01T07:30:00Z
  step  action   kind         backup                         consistent at         position
  1     restore  full         20260301T000000.000Z-00000001  2026-03-01T00:10:00Z  mysql-bin.000001:50000
  2     apply    incremental  20260301T000000.000Z-00000002  2026-03-01T06:10:00Z  mysql-bin.000007:40000
Replay 2 log segments from mysql-bin.000007:40000:
  #  segment           from                to                  first event           last event
  1  mysql-bin.000007  mysql-bin.000007:4  mysql-bin.000008:4  2026-03-01T06:00:00Z  2026-03-01T06:59:59Z
  2  mysql-bin.000008  mysql-bin.000008:4  mysql-bin.000009:4  2026-03-01T07:00:00Z  2026-03-01T07:59:59Z
Stop after the last event at or before 2026-03-01T07:30:00Z.
The restored database is as of 2026-03-01T07:30:00Z.";
    assert_eq!(plan.to_string(), expected);

    let plan = tern_pitr::plan(&records, &segments, &RestoreTarget::Backup(id(1))).unwrap();
    let expected = "\
Restore plan to backup 20260301T000000.000Z-00000001
  step  action   kind  backup                         consistent at         position
  1     restore  full  20260301T000000.000Z-00000001  2026-03-01T00:10:00Z  mysql-bin.000001:50000
No log replay.
The restored database is as of 2026-03-01T00:10:00Z.";
    assert_eq!(plan.to_string(), expected);
}
