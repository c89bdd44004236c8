//! Property tests over random histories: plans are contiguous, windows and plans agree, and every
//! failure is the right one.
//!
//! A history is a timeline of database events (tick `k` happens at time `e_k` at position
//! `pos(k)`; times and positions increase together) with backups taken between events (a backup
//! at tick `c` is consistent just before event `c`: time `e_c - 1s`, position `pos(c)`), and log
//! segments that cut the events into consecutive runs, some of them missing (gaps) and the
//! newest ones possibly not archived yet. Backups are fulls, dumps, incrementals (mostly on the
//! latest full/incremental, sometimes on a missing, failed or dump parent, or on an older one),
//! failed and running backups. An oracle that knows which ticks are archived and which backups
//! are sound says what must plan and what must not, independently of the planner's own logic.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tern_catalog::{
    BackupId, BackupKind, BackupRecord, BackupStatus, ConsistentPoint, LogSegment, Position, RestoreTarget, Sizes,
};
use tern_pitr::{PlanError, RecoveryWindow, RestorePlan, Stop, plan, recovery_windows};

const CASES: u32 = 256;
const MAX_TICKS: usize = 240;

// ---------------------------------------------------------------- generating histories

#[derive(Clone, Copy, Debug)]
enum Parent {
    /// The newest succeeded full or incremental (the normal case).
    Latest,
    /// An id that is not in the catalog.
    Missing,
    /// The newest dump (a dump cannot take incrementals).
    Dump,
    /// The newest failed backup.
    Failed,
    /// An older succeeded full or incremental, by index.
    Older(u8),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Full,
    Dump,
    Incremental(Parent),
    FailedFull,
    FailedIncremental,
    RunningFull,
}

/// The random choices a history is built from.
#[derive(Clone, Debug)]
struct Raw {
    ticks: usize,
    /// Seconds between consecutive events (at least 2, so a backup fits between two).
    deltas: Vec<i64>,
    /// Lengths of consecutive segments, in events.
    segment_lengths: Vec<usize>,
    /// Which segments are missing.
    dropped: Vec<bool>,
    /// Percentage of the events archived so far.
    archived_percent: usize,
    /// Backups: tick (mod ticks + 1) and what.
    backups: Vec<(usize, Op)>,
    /// Random numbers for sampling target times and positions.
    samples: Vec<u64>,
}

fn op() -> impl Strategy<Value = Op> {
    let parent = prop_oneof![
        8 => Just(Parent::Latest),
        1 => Just(Parent::Missing),
        1 => Just(Parent::Dump),
        1 => Just(Parent::Failed),
        2 => any::<u8>().prop_map(Parent::Older),
    ];
    prop_oneof![
        4 => Just(Op::Full),
        1 => Just(Op::Dump),
        7 => parent.prop_map(Op::Incremental),
        1 => Just(Op::FailedFull),
        1 => Just(Op::FailedIncremental),
        1 => Just(Op::RunningFull),
    ]
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        8..MAX_TICKS,
        prop::collection::vec(2i64..900, MAX_TICKS),
        prop::collection::vec(1usize..24, MAX_TICKS),
        prop::collection::vec(prop::bool::weighted(0.12), MAX_TICKS),
        prop_oneof![Just(100usize), 30usize..=100],
        prop::collection::vec((0usize..=MAX_TICKS, op()), 0..18),
        prop::collection::vec(any::<u64>(), 24),
    )
        .prop_map(|(ticks, deltas, segment_lengths, dropped, archived_percent, backups, samples)| Raw {
            ticks,
            deltas,
            segment_lengths,
            dropped,
            archived_percent,
            backups,
            samples,
        })
}

/// A backup a restore can start from, as the oracle knows it.
#[derive(Clone, Debug)]
struct Start {
    tick: usize,
    time: DateTime<Utc>,
    id: BackupId,
    depth: usize,
}

/// What planning `Backup(id)` must give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BackupExpect {
    Plans,
    NotRestorable,
    NotABackup,
    BrokenChain,
}

/// A history and the oracle's knowledge of it.
struct History {
    times: Vec<DateTime<Utc>>,
    archived: Vec<bool>,
    records: Vec<BackupRecord>,
    segments: Vec<LogSegment>,
    starts: Vec<Start>,
    by_id: Vec<(BackupId, BackupExpect)>,
}

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

/// The position of event `tick`: a "file" of 50 events, 10 bytes each.
fn pos(tick: usize) -> Position {
    Position::generic(1 + u64::try_from(tick / 50).unwrap(), u64::try_from(tick % 50 * 10).unwrap())
}

/// A position inside event `tick`.
fn inside(tick: usize) -> Position {
    let at = pos(tick);
    Position::generic(at.major, at.minor + 5)
}

fn backup_id(n: usize) -> BackupId {
    format!("20260301T000000.000Z-{n:08x}").parse().unwrap()
}

impl History {
    fn build(raw: &Raw) -> Self {
        let n = raw.ticks;
        let mut times = Vec::with_capacity(n);
        let mut now = origin();
        for &delta in &raw.deltas[..n] {
            now += Duration::seconds(delta);
            times.push(now);
        }
        let mut history = History {
            times,
            archived: vec![false; n],
            records: Vec::new(),
            segments: Vec::new(),
            starts: Vec::new(),
            by_id: Vec::new(),
        };
        history.add_segments(raw);
        history.add_backups(raw);
        history
    }

    fn add_segments(&mut self, raw: &Raw) {
        let n = self.times.len();
        let archived_until = n * raw.archived_percent / 100;
        let mut first = 0;
        for (i, &length) in raw.segment_lengths.iter().enumerate() {
            let end = (first + length).min(archived_until);
            if first >= end {
                break;
            }
            if !raw.dropped[i] {
                let id = backup_id(100_000 + i);
                let segment = LogSegment {
                    id: id.clone(),
                    service: "svc".into(),
                    name: format!("seg-{first:04}-{:04}", end - 1),
                    start_position: pos(first),
                    end_position: pos(end),
                    start_time: self.times[first],
                    end_time: self.times[end - 1],
                    size: 0,
                    region: None,
                };
                self.archived[first..end].iter_mut().for_each(|a| *a = true);
                // Log segments are backups of kind `log` too; the planner must not mistake them.
                self.records.push(record(
                    id.clone(),
                    BackupKind::Log,
                    BackupStatus::Succeeded,
                    None,
                    (self.times[first], pos(first)),
                ));
                self.by_id.push((id, BackupExpect::NotABackup));
                self.segments.push(segment);
            }
            first = end;
        }
    }

    /// The consistent time of a backup at `tick`: just before event `tick`.
    fn backup_time(&self, tick: usize) -> DateTime<Utc> {
        match self.times.get(tick) {
            Some(&time) => time - Duration::seconds(1),
            None => *self.times.last().unwrap() + Duration::seconds(1),
        }
    }

    fn add_backups(&mut self, raw: &Raw) {
        let n = self.times.len();
        let mut backups: Vec<(usize, Op)> = raw.backups.iter().map(|&(tick, op)| (tick % (n + 1), op)).collect();
        backups.sort_by_key(|&(tick, _)| tick);
        // Succeeded fulls and incrementals: id → depth when sound.
        let mut chainable: Vec<(BackupId, Option<usize>)> = Vec::new();
        let mut last_dump: Option<BackupId> = None;
        let mut last_failed: Option<BackupId> = None;
        for (i, (tick, op)) in backups.into_iter().enumerate() {
            let id = backup_id(i + 1);
            let point = (self.backup_time(tick), pos(tick));
            let failed = BackupStatus::Failed { reason: "injected".into() };
            let (kind, status, parent, depth) = match op {
                Op::Full => (BackupKind::Full, BackupStatus::Succeeded, None, Some(0)),
                Op::Dump => (BackupKind::Dump, BackupStatus::Succeeded, None, Some(0)),
                Op::FailedFull => (BackupKind::Full, failed, None, None),
                Op::RunningFull => (BackupKind::Full, BackupStatus::Running, None, None),
                Op::FailedIncremental => {
                    (BackupKind::Incremental, failed, chainable.last().map(|(id, _)| id.clone()), None)
                }
                Op::Incremental(choice) => {
                    let (parent, depth) = match choice {
                        Parent::Latest => chainable.last().cloned().map_or((None, None), |(p, d)| (Some(p), d)),
                        Parent::Older(k) if !chainable.is_empty() => {
                            let (p, d) = chainable[usize::from(k) % chainable.len()].clone();
                            (Some(p), d)
                        }
                        Parent::Dump => (last_dump.clone(), None),
                        Parent::Failed => (last_failed.clone(), None),
                        Parent::Older(_) | Parent::Missing => (Some(backup_id(0xFFFF_FFF0)), None),
                    };
                    // No parent at all (`None`) is a broken chain too.
                    let depth = if parent.is_some() { depth.map(|d| d + 1) } else { None };
                    (BackupKind::Incremental, BackupStatus::Succeeded, parent, depth)
                }
            };
            let succeeded = status == BackupStatus::Succeeded;
            match (kind, succeeded) {
                (BackupKind::Full | BackupKind::Incremental, true) => chainable.push((id.clone(), depth)),
                (BackupKind::Dump, true) => last_dump = Some(id.clone()),
                (_, false) => last_failed = Some(id.clone()),
                _ => {}
            }
            let expect = match (succeeded, depth) {
                (false, _) => BackupExpect::NotRestorable,
                (true, Some(_)) => BackupExpect::Plans,
                (true, None) => BackupExpect::BrokenChain,
            };
            if let (true, Some(depth)) = (succeeded, depth) {
                self.starts.push(Start { tick, time: point.0, id: id.clone(), depth });
            }
            self.by_id.push((id.clone(), expect));
            self.records.push(record(id, kind, status, parent, point));
        }
    }

    /// The first event at or after `time`, if it exists.
    fn first_event_from(&self, time: DateTime<Utc>) -> Option<usize> {
        let k = self.times.partition_point(|&e| e < time);
        (k < self.times.len()).then_some(k)
    }

    fn all_archived(&self, from: usize, to: usize) -> bool {
        to < self.archived.len() && self.archived[from..=to].iter().all(|&a| a)
    }

    /// Whether a restore from `start` reaches `time`: exactly at the backup, or every event from
    /// the backup up to the first event at or after `time` is archived (that event proves nothing
    /// else happened before `time`).
    fn reaches_time(&self, start: &Start, time: DateTime<Utc>) -> bool {
        start.time == time
            || (start.time < time && self.first_event_from(time).is_some_and(|k| self.all_archived(start.tick, k)))
    }

    /// Whether a restore from `start` reaches `position` (the state just before it): the events
    /// from the backup up to the one holding or preceding `position` are archived.
    fn reaches_position(&self, start: &Start, position: &Position, last_needed: Option<usize>) -> bool {
        let at = pos(start.tick);
        at == *position
            || (at < *position && last_needed.is_some_and(|k| k >= start.tick && self.all_archived(start.tick, k)))
    }

    /// The start with this id (the plan's last backup must be one).
    fn start(&self, id: &BackupId) -> &Start {
        self.starts.iter().find(|s| &s.id == id).expect("plans start from sound backups")
    }

    /// The newest start at or before `time` (fewest logs; a full over an incremental at one point).
    fn newest_start_by_time(&self, time: DateTime<Utc>) -> Option<&Start> {
        self.starts.iter().filter(|s| s.time <= time).max_by_key(|s| (s.tick, std::cmp::Reverse(s.depth)))
    }
}

fn record(
    id: BackupId,
    kind: BackupKind,
    status: BackupStatus,
    parent: Option<BackupId>,
    (time, position): (DateTime<Utc>, Position),
) -> BackupRecord {
    BackupRecord {
        id,
        service: "svc".into(),
        kind,
        status,
        parent,
        started: time - Duration::seconds(1),
        finished: Some(time),
        consistent: Some(ConsistentPoint { time, position: Some(position) }),
        sizes: Sizes::default(),
        manifest: None,
        region: None,
        labels: std::collections::BTreeMap::default(),
    }
}

// ---------------------------------------------------------------- checking plans

/// Counts of what the properties checked, over all cases.
#[derive(Default)]
struct Counts {
    histories: AtomicUsize,
    windows: AtomicUsize,
    time_plans: AtomicUsize,
    time_plans_with_logs: AtomicUsize,
    time_plans_with_incrementals: AtomicUsize,
    position_plans: AtomicUsize,
    latest_plans: AtomicUsize,
    backup_plans: AtomicUsize,
    before_first_or_no_base: AtomicUsize,
    log_gaps: AtomicUsize,
    past_end: AtomicUsize,
    position_failures: AtomicUsize,
    backup_failures: AtomicUsize,
}

fn bump(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Every plan's structure: each incremental's parent is the step before it; segments start where
/// the one before ends; the first holds the replay position, which is the last backup's.
fn check_contiguous(plan: &RestorePlan) -> Result<(), TestCaseError> {
    let backups: Vec<&BackupRecord> = plan.backups().collect();
    prop_assert!(matches!(plan.base.kind, BackupKind::Full | BackupKind::Dump));
    for pair in backups.windows(2) {
        prop_assert_eq!(pair[1].kind, BackupKind::Incremental);
        prop_assert_eq!(pair[1].parent.as_ref(), Some(&pair[0].id), "incremental's parent is the step before");
    }
    prop_assert!(backups.iter().all(|r| r.status == BackupStatus::Succeeded));
    if plan.segments.is_empty() {
        prop_assert_eq!(&plan.replay_from, &None);
        prop_assert_eq!(&plan.stop, &Stop::EndOfBackup);
        return Ok(());
    }
    let from = plan.replay_from.as_ref().expect("segments come with a replay position");
    let last_position = plan.last_backup().consistent.as_ref().and_then(|p| p.position.as_ref());
    prop_assert_eq!(Some(from), last_position, "replay starts at the last backup's position");
    let first = &plan.segments[0];
    prop_assert!(first.start_position <= *from && *from < first.end_position, "the first segment holds the start");
    for pair in plan.segments.windows(2) {
        prop_assert_eq!(&pair[0].end_position, &pair[1].start_position, "segments meet exactly");
    }
    Ok(())
}

fn check_time_plan(
    history: &History,
    time: DateTime<Utc>,
    plan: &RestorePlan,
    counts: &Counts,
) -> Result<(), TestCaseError> {
    check_contiguous(plan)?;
    let last = plan.last_backup();
    let newest = history.newest_start_by_time(time).expect("a plan needs a start");
    let chosen = history.start(&last.id);
    prop_assert_eq!((chosen.tick, chosen.depth), (newest.tick, newest.depth), "the newest start (fewest logs)");
    let consistent = last.consistent.as_ref().unwrap().time;
    prop_assert!(consistent <= time);
    prop_assert_eq!(plan.target_time, Some(time));
    if consistent == time {
        prop_assert!(plan.segments.is_empty(), "a target exactly at a backup needs no logs");
    } else {
        prop_assert!(!plan.segments.is_empty());
        prop_assert_eq!(&plan.stop, &Stop::Time { at: time, inclusive: true });
        let (tail, head) = plan.segments.split_last().unwrap();
        prop_assert!(tail.end_time >= time, "the segments reach the target");
        prop_assert!(head.iter().all(|s| s.end_time < time), "no segment past the one that reaches it");
        bump(&counts.time_plans_with_logs);
    }
    if !plan.incrementals.is_empty() {
        bump(&counts.time_plans_with_incrementals);
    }
    Ok(())
}

/// The window a failing time falls after, and the error it must give.
fn check_time_failure(
    history: &History,
    windows: &[RecoveryWindow],
    time: DateTime<Utc>,
    err: &PlanError,
    counts: &Counts,
) -> Result<(), TestCaseError> {
    let Some(window) = windows.iter().rev().find(|w| w.start <= time) else {
        // Before the first window (or there is none).
        let ok = match err {
            PlanError::NoBase { earliest: None, .. } => windows.is_empty(),
            PlanError::NoBase { earliest: Some(first), .. } | PlanError::BeforeFirstBackup { first, .. } => {
                windows.first().is_some_and(|w| w.start == first.time && w.base_ids[0] == first.id)
            }
            _ => false,
        };
        prop_assert!(ok, "before the first window: {err:?}");
        bump(&counts.before_first_or_no_base);
        return Ok(());
    };
    prop_assert!(time > window.end);
    let resumes = history
        .segments
        .iter()
        .filter(|s| s.start_position > window.end_position)
        .min_by_key(|s| s.start_position.clone());
    match (resumes, err) {
        (Some(next), PlanError::LogGap { from, to, before_segment, .. }) => {
            prop_assert_eq!(from, &window.end_position, "the gap starts where the window ends");
            prop_assert_eq!(to, &next.start_position);
            prop_assert_eq!(before_segment, &next.name);
            bump(&counts.log_gaps);
        }
        (None, PlanError::PastArchivedEnd { archived_end_time, archived_end_position, .. }) => {
            prop_assert_eq!(*archived_end_time, window.end);
            prop_assert_eq!(archived_end_position, &window.end_position);
            bump(&counts.past_end);
        }
        _ => prop_assert!(false, "after window {window}: logs resume: {}; got {err:?}", resumes.is_some()),
    }
    Ok(())
}

/// Plans `time` and checks it against the windows and the oracle.
fn check_time(
    history: &History,
    windows: &[RecoveryWindow],
    time: DateTime<Utc>,
    counts: &Counts,
) -> Result<(), TestCaseError> {
    let result = plan(&history.records, &history.segments, &RestoreTarget::Time(time));
    let in_window = windows.iter().any(|w| w.contains(time));
    let oracle = history.starts.iter().any(|s| history.reaches_time(s, time));
    prop_assert_eq!(in_window, oracle, "windows agree with the oracle at {}", time);
    prop_assert_eq!(result.is_ok(), oracle, "plan agrees with the oracle at {}: {:?}", time, result.as_ref().err());
    if oracle {
        let newest = history.newest_start_by_time(time).unwrap();
        prop_assert!(history.reaches_time(newest, time), "if any backup reaches a time, the newest one does");
    }
    bump(&counts.time_plans);
    match &result {
        Ok(plan) => check_time_plan(history, time, plan, counts),
        Err(err) => check_time_failure(history, windows, time, err, counts),
    }
}

/// Plans a position target and checks it against the oracle.
fn check_position(history: &History, tick: usize, exact: bool, counts: &Counts) -> Result<(), TestCaseError> {
    let position = if exact { pos(tick) } else { inside(tick) };
    // The last event the state before `position` contains.
    let last_needed = if exact { tick.checked_sub(1) } else { Some(tick) };
    let result = plan(&history.records, &history.segments, &RestoreTarget::Position(position.clone()));
    let oracle = history.starts.iter().any(|s| history.reaches_position(s, &position, last_needed));
    prop_assert_eq!(result.is_ok(), oracle, "position {}: {:?}", position, result.as_ref().err());
    bump(&counts.position_plans);
    let Ok(plan) = result else {
        bump(&counts.position_failures);
        return Ok(());
    };
    check_contiguous(&plan)?;
    let last = plan.last_backup().consistent.as_ref().unwrap().position.clone().unwrap();
    prop_assert!(last <= position);
    if last == position {
        prop_assert!(plan.segments.is_empty());
    } else {
        prop_assert_eq!(&plan.stop, &Stop::Position { at: position.clone(), inclusive: false });
        let (tail, head) = plan.segments.split_last().unwrap();
        prop_assert!(tail.end_position >= position, "the segments reach the position");
        prop_assert!(head.iter().all(|s| s.end_position < position), "no segment past the one that reaches it");
    }
    Ok(())
}

fn check_latest(history: &History, windows: &[RecoveryWindow], counts: &Counts) -> Result<(), TestCaseError> {
    let result = plan(&history.records, &history.segments, &RestoreTarget::Latest);
    let Some(last_window) = windows.last() else {
        prop_assert!(matches!(result, Err(PlanError::NoBase { earliest: None, .. })), "{:?}", result);
        return Ok(());
    };
    let plan = result.map_err(|e| TestCaseError::fail(format!("latest must plan: {e}")))?;
    check_contiguous(&plan)?;
    prop_assert_eq!(plan.target_time, Some(last_window.end), "latest is the end of the last window");
    let newest = history.starts.iter().max_by_key(|s| (s.tick, std::cmp::Reverse(s.depth))).unwrap();
    let chosen = history.start(&plan.last_backup().id);
    prop_assert_eq!((chosen.tick, chosen.depth), (newest.tick, newest.depth), "latest starts from the newest");
    if let Some(last) = plan.segments.last() {
        prop_assert_eq!(&plan.stop, &Stop::Position { at: last.end_position.clone(), inclusive: false });
        prop_assert_eq!(&last.end_position, &last_window.end_position);
    }
    let json = serde_json::to_string(&plan).unwrap();
    prop_assert_eq!(serde_json::from_str::<RestorePlan>(&json).unwrap(), plan);
    bump(&counts.latest_plans);
    Ok(())
}

fn check_backups(history: &History, counts: &Counts) -> Result<(), TestCaseError> {
    for (id, expect) in &history.by_id {
        let result = plan(&history.records, &history.segments, &RestoreTarget::Backup(id.clone()));
        match (expect, &result) {
            (BackupExpect::Plans, Ok(plan)) => {
                check_contiguous(plan)?;
                prop_assert!(plan.segments.is_empty());
                prop_assert_eq!(&plan.last_backup().id, id);
                bump(&counts.backup_plans);
            }
            (BackupExpect::NotRestorable, Err(PlanError::NotRestorable { .. }))
            | (BackupExpect::NotABackup, Err(PlanError::NotABackup { .. }))
            | (BackupExpect::BrokenChain, Err(PlanError::BrokenChain { .. })) => bump(&counts.backup_failures),
            _ => prop_assert!(false, "backup {id}: expected {expect:?}, got {result:?}"),
        }
    }
    Ok(())
}

/// A time `fraction`/2^64 of the way from `start` to `end`.
fn between(start: DateTime<Utc>, end: DateTime<Utc>, fraction: u64) -> DateTime<Utc> {
    let span = u128::try_from((end - start).num_nanoseconds().unwrap()).unwrap();
    let offset = (span * u128::from(fraction)) >> 64;
    start + Duration::nanoseconds(i64::try_from(offset).unwrap())
}

fn check_history(raw: &Raw, counts: &Counts) -> Result<(), TestCaseError> {
    let history = History::build(raw);
    let windows = recovery_windows(&history.records, &history.segments);
    bump(&counts.histories);

    // Windows are sorted, disjoint and not touching (else they would be one).
    for window in &windows {
        prop_assert!(window.start <= window.end && window.start_position <= window.end_position);
    }
    for pair in windows.windows(2) {
        prop_assert!(pair[0].end < pair[1].start, "windows are disjoint: {} / {}", pair[0], pair[1]);
    }
    prop_assert_eq!(windows.is_empty(), history.starts.is_empty());

    let mut samples = raw.samples.iter().copied().cycle();
    let ns = Duration::nanoseconds(1);
    // Inside every window: both ends, the middle, and random times.
    for window in &windows {
        bump(&counts.windows);
        let mut times = vec![window.start, window.end, between(window.start, window.end, 1 << 63)];
        times.extend((0..3).map(|_| between(window.start, window.end, samples.next().unwrap())));
        for time in times {
            prop_assert!(
                plan(&history.records, &history.segments, &RestoreTarget::Time(time)).is_ok(),
                "{} in {}",
                time,
                window
            );
            check_time(&history, &windows, time, counts)?;
        }
    }
    // Outside every window: just before the first, between windows, just after each, long after.
    let mut outside = Vec::new();
    if let Some(first) = windows.first() {
        outside.extend([first.start - ns, first.start - Duration::seconds(1), first.start - Duration::days(30)]);
    }
    for pair in windows.windows(2) {
        outside.extend([
            pair[0].end + ns,
            pair[1].start - ns,
            between(pair[0].end + ns, pair[1].start - ns, samples.next().unwrap()),
        ]);
    }
    if let Some(last) = windows.last() {
        outside.extend([last.end + ns, last.end + Duration::seconds(1), last.end + Duration::days(1)]);
    }
    for time in outside {
        prop_assert!(!windows.iter().any(|w| w.contains(time)));
        prop_assert!(plan(&history.records, &history.segments, &RestoreTarget::Time(time)).is_err(), "{}", time);
        check_time(&history, &windows, time, counts)?;
    }
    // Anywhere: random times over the whole history, and every backup's and event's time.
    let span_start = origin() - Duration::hours(1);
    let span_end = *history.times.last().unwrap() + Duration::hours(1);
    for _ in 0..8 {
        check_time(&history, &windows, between(span_start, span_end, samples.next().unwrap()), counts)?;
    }
    for start in &history.starts {
        check_time(&history, &windows, start.time, counts)?;
    }
    for k in (0..history.times.len()).step_by(7) {
        check_time(&history, &windows, history.times[k], counts)?;
    }

    // Positions: exact event positions and positions inside events, past the end too.
    let n = history.times.len();
    for i in 0..8u64 {
        let tick = usize::try_from(samples.next().unwrap() % u64::try_from(n + 3).unwrap()).unwrap();
        check_position(&history, tick, i % 2 == 0, counts)?;
    }
    for start in &history.starts {
        check_position(&history, start.tick, true, counts)?;
    }

    check_latest(&history, &windows, counts)?;
    check_backups(&history, counts)
}

#[test]
fn plans_and_windows_agree_on_random_histories() {
    let counts = Counts::default();
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let result = runner.run(&raw(), |raw| check_history(&raw, &counts));
    let get = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    eprintln!(
        "cases: {} histories; {} windows; time targets: {} ({} with logs, {} with incrementals; \
         failures: {} before first/no base, {} log gaps, {} past the end); positions: {} ({} failed); \
         latest: {}; backup ids: {} planned, {} refused",
        get(&counts.histories),
        get(&counts.windows),
        get(&counts.time_plans),
        get(&counts.time_plans_with_logs),
        get(&counts.time_plans_with_incrementals),
        get(&counts.before_first_or_no_base),
        get(&counts.log_gaps),
        get(&counts.past_end),
        get(&counts.position_plans),
        get(&counts.position_failures),
        get(&counts.latest_plans),
        get(&counts.backup_plans),
        get(&counts.backup_failures),
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The generator must reach every path, or the properties prove little.
    for (name, counter) in [
        ("plans with logs", &counts.time_plans_with_logs),
        ("plans with incrementals", &counts.time_plans_with_incrementals),
        ("before-first/no-base failures", &counts.before_first_or_no_base),
        ("log gaps", &counts.log_gaps),
        ("past-the-end failures", &counts.past_end),
        ("position failures", &counts.position_failures),
        ("refused backup ids", &counts.backup_failures),
    ] {
        assert!(get(counter) > 0, "no {name} were generated");
    }
}
