//! Restore plans: which backups to restore, which logs to replay, where to stop.

use std::cmp::Reverse;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tern_catalog::{BackupId, BackupKind, BackupRecord, BackupStatus, LogSegment, Position, RestoreTarget};

use crate::error::{BackupPoint, PlanError};
use crate::history::{History, Step};
use crate::text::{target_text, time_text};

/// What a restore does: restore `base`, apply `incrementals` in order, replay `segments` in order
/// from `replay_from`, and stop where `stop` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    /// What was asked for.
    pub target: RestoreTarget,
    /// The full backup or dump restored first.
    pub base: BackupRecord,
    /// Incrementals applied on top of `base`, in apply order (each one's parent is the one before).
    pub incrementals: Vec<BackupRecord>,
    /// Log segments replayed after the last backup, in replay order; each starts where the one
    /// before ends. Empty when no replay is needed.
    pub segments: Vec<LogSegment>,
    /// Where replay starts: the last backup's consistent position (inside the first segment).
    /// `None` when there is nothing to replay.
    pub replay_from: Option<Position>,
    /// Where replay stops.
    pub stop: Stop,
    /// The time the restored database represents, when it is known: the target time, the last
    /// replayed event's time, or the backup's consistent time.
    pub target_time: Option<DateTime<Utc>>,
}

/// Where log replay stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stop {
    /// At a time: with `inclusive`, after the last event at or before `at`; without, before the
    /// first event at or after it.
    Time {
        /// The time.
        at: DateTime<Utc>,
        /// Whether events at exactly `at` are replayed.
        inclusive: bool,
    },
    /// At a position: with `inclusive`, after the event at `at`; without, before it (so the
    /// restored database is the state just before `at`, as a backup consistent at `at` is).
    Position {
        /// The position.
        at: Position,
        /// Whether the event at `at` is replayed.
        inclusive: bool,
    },
    /// No replay: the database is the last backup's consistent state.
    EndOfBackup,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Time { at, inclusive: true } => write!(f, "after the last event at or before {}", time_text(at)),
            Self::Time { at, inclusive: false } => write!(f, "before the first event at or after {}", time_text(at)),
            Self::Position { at, inclusive: true } => write!(f, "after the event at {at}"),
            Self::Position { at, inclusive: false } => write!(f, "before position {at}"),
            Self::EndOfBackup => f.write_str("at the last backup's consistent point (no log replay)"),
        }
    }
}

impl RestorePlan {
    /// The backups in the order they are restored: the base, then each incremental.
    pub fn backups(&self) -> impl Iterator<Item = &BackupRecord> {
        std::iter::once(&self.base).chain(&self.incrementals)
    }

    /// The last backup restored (the base, or the last incremental).
    pub fn last_backup(&self) -> &BackupRecord {
        self.incrementals.last().unwrap_or(&self.base)
    }
}

/// Plans a restore of one service to `target` from its catalog records and log segments.
///
/// Only succeeded records count. A restore starts from a *step*: a full backup or dump with a
/// consistent time and position, or an incremental whose parent links lead to a full (each
/// incremental consistent at or after its parent). For a time or position target, the planner
/// takes the newest step at or before the target (the one needing the fewest log segments), then
/// the log segments from that step's consistent position up to the target, each starting exactly
/// where the one before ends. A target exactly at a step needs no logs. If the newest step's logs
/// cannot reach the target, earlier steps are tried; if none can, the error describes the newest
/// step's problem (an earlier step's logs would have to cross the same gap).
///
/// - [`RestoreTarget::Time`]: replay stops after the last event at or before the time (inclusive).
/// - [`RestoreTarget::Position`]: replay stops before the event at the position (the state a
///   backup consistent at that position has).
/// - [`RestoreTarget::Latest`]: the newest step, and the contiguous run of logs after it to its
///   end (or no logs, when none follows it).
/// - [`RestoreTarget::Backup`]: that backup (an incremental with its chain), no logs.
///
/// Pass one service's records and segments. The function does no I/O.
pub fn plan(
    records: &[BackupRecord],
    segments: &[LogSegment],
    target: &RestoreTarget,
) -> Result<RestorePlan, PlanError> {
    let history = History::new(records, segments);
    match target {
        RestoreTarget::Backup(id) => plan_backup(&history, target, id),
        RestoreTarget::Latest => plan_latest(&history, target),
        RestoreTarget::Time(time) => plan_to(&history, target, Goal::Time(*time)),
        RestoreTarget::Position(position) => plan_to(&history, target, Goal::Position(position)),
    }
}

/// A time or a position to reach.
#[derive(Clone, Copy)]
enum Goal<'t> {
    Time(DateTime<Utc>),
    Position(&'t Position),
}

impl Goal<'_> {
    /// Whether a restore from `step` can go forward to the goal.
    fn admits(self, step: &Step<'_>) -> bool {
        match self {
            Goal::Time(time) => step.time <= time,
            Goal::Position(position) => step.position <= position,
        }
    }

    /// Whether `step` is exactly the goal (no logs needed).
    fn is_at(self, step: &Step<'_>) -> bool {
        match self {
            Goal::Time(time) => step.time == time,
            Goal::Position(position) => step.position == position,
        }
    }

    /// Steps, the one needing the fewest logs first.
    fn order(self, steps: &mut [&Step<'_>]) {
        match self {
            Goal::Time(_) => steps
                .sort_by(|a, b| (b.time, b.position, Reverse(b.depth)).cmp(&(a.time, a.position, Reverse(a.depth)))),
            Goal::Position(_) => steps
                .sort_by(|a, b| (b.position, b.time, Reverse(b.depth)).cmp(&(a.position, a.time, Reverse(a.depth)))),
        }
    }

    /// Whether the run of segments starting at `first` reaches the goal.
    fn reached_by_run(self, history: &History<'_>, first: usize) -> bool {
        let logs = &history.logs;
        match self {
            Goal::Time(time) => logs.run_end_time(first) >= time,
            Goal::Position(position) => &logs.segment(logs.run_last(first)).end_position >= position,
        }
    }

    /// The segments from `first` to the goal, which the run reaches.
    fn segments(self, history: &History<'_>, first: usize) -> Vec<usize> {
        let logs = &history.logs;
        let mut taken = Vec::new();
        for i in logs.run(first) {
            taken.push(i);
            let segment = logs.segment(i);
            let done = match self {
                // Events at exactly the target time may continue in the next segment.
                Goal::Time(time) => {
                    segment.end_time >= time && logs.next(i).is_none_or(|next| logs.segment(next).start_time > time)
                }
                Goal::Position(position) => &segment.end_position >= position,
            };
            if done {
                break;
            }
        }
        taken
    }

    fn stop(self) -> Stop {
        match self {
            Goal::Time(at) => Stop::Time { at, inclusive: true },
            Goal::Position(at) => Stop::Position { at: at.clone(), inclusive: false },
        }
    }

    /// Whether something (a succeeded backup's consistent point, or an archived segment's first
    /// event) is recorded at or before the goal.
    fn has_history(
        self,
        history: &History<'_>,
        records: impl Iterator<Item = (DateTime<Utc>, Option<Position>)>,
    ) -> bool {
        let mut points = records;
        let mut segments = history.logs.all();
        match self {
            Goal::Time(time) => points.any(|(t, _)| t <= time) || segments.any(|s| s.start_time <= time),
            Goal::Position(position) => {
                points.any(|(_, p)| p.is_some_and(|p| &p <= position))
                    || segments.any(|s| &s.start_position <= position)
            }
        }
    }
}

fn plan_to(history: &History<'_>, target: &RestoreTarget, goal: Goal<'_>) -> Result<RestorePlan, PlanError> {
    let mut candidates: Vec<&Step<'_>> = history.steps.iter().filter(|step| goal.admits(step)).collect();
    goal.order(&mut candidates);
    let Some(&newest) = candidates.first() else {
        return Err(nothing_before(history, target, goal));
    };
    for step in candidates {
        if goal.is_at(step) {
            return assemble(history, target, step, &[], Stop::EndOfBackup, Some(step.time));
        }
        let Some(first) = history.logs.containing(step.position) else { continue };
        if !goal.reached_by_run(history, first) {
            continue;
        }
        let segments = goal.segments(history, first);
        let target_time = match goal {
            Goal::Time(time) => Some(time),
            Goal::Position(position) => segments
                .last()
                .map(|&i| history.logs.segment(i))
                .filter(|last| &last.end_position == position)
                .map(|last| last.end_time),
        };
        return assemble(history, target, step, &segments, goal.stop(), target_time);
    }
    Err(stuck(history, target, newest))
}

fn plan_latest(history: &History<'_>, target: &RestoreTarget) -> Result<RestorePlan, PlanError> {
    let Some(step) = history.steps.last() else {
        return Err(PlanError::NoBase { target: target.clone(), earliest: None });
    };
    match history.logs.containing(step.position) {
        None => assemble(history, target, step, &[], Stop::EndOfBackup, Some(step.time)),
        Some(first) => {
            let logs = &history.logs;
            let segments: Vec<usize> = logs.run(first).collect();
            let end = logs.segment(logs.run_last(first)).end_position.clone();
            let time = logs.run_end_time(first).max(step.time);
            assemble(history, target, step, &segments, Stop::Position { at: end, inclusive: false }, Some(time))
        }
    }
}

fn plan_backup(history: &History<'_>, target: &RestoreTarget, id: &BackupId) -> Result<RestorePlan, PlanError> {
    let Some(record) = history.get(id) else {
        // A segment's id, when the caller passed segments without their `log` records.
        if history.logs.all().any(|segment| &segment.id == id) {
            return Err(PlanError::NotABackup { id: id.clone() });
        }
        return Err(PlanError::BackupNotFound { id: id.clone() });
    };
    if record.kind == BackupKind::Log {
        return Err(PlanError::NotABackup { id: id.clone() });
    }
    if record.status != BackupStatus::Succeeded {
        return Err(PlanError::NotRestorable { id: id.clone(), status: record.status.clone() });
    }
    let chain = history.chain(record).map_err(|broken| PlanError::BrokenChain {
        id: id.clone(),
        incremental: broken.incremental.clone(),
        missing_parent: broken.parent.cloned(),
        reason: broken.reason,
    })?;
    Ok(RestorePlan {
        target: target.clone(),
        base: chain[0].clone(),
        incrementals: chain[1..].iter().map(|&r| r.clone()).collect(),
        segments: Vec::new(),
        replay_from: None,
        stop: Stop::EndOfBackup,
        target_time: record.consistent.as_ref().map(|point| point.time),
    })
}

/// The plan from `step` through `segments` (indices into the history's logs).
fn assemble(
    history: &History<'_>,
    target: &RestoreTarget,
    step: &Step<'_>,
    segments: &[usize],
    replay_stop: Stop,
    target_time: Option<DateTime<Utc>>,
) -> Result<RestorePlan, PlanError> {
    // Steps are chosen among sound chains, so this does not fail; if it did, say so plainly.
    let chain = history.chain(step.record).map_err(|broken| PlanError::BrokenChain {
        id: step.record.id.clone(),
        incremental: broken.incremental.clone(),
        missing_parent: broken.parent.cloned(),
        reason: broken.reason,
    })?;
    let segments: Vec<LogSegment> = segments.iter().map(|&i| history.logs.segment(i).clone()).collect();
    let replay_from = (!segments.is_empty()).then(|| step.position.clone());
    let replay_stop = if segments.is_empty() { Stop::EndOfBackup } else { replay_stop };
    Ok(RestorePlan {
        target: target.clone(),
        base: chain[0].clone(),
        incrementals: chain[1..].iter().map(|&r| r.clone()).collect(),
        segments,
        replay_from,
        stop: replay_stop,
        target_time,
    })
}

fn point(step: &Step<'_>) -> BackupPoint {
    BackupPoint { id: step.record.id.clone(), kind: step.record.kind, time: step.time, position: step.position.clone() }
}

/// The error when no step is at or before the goal.
fn nothing_before(history: &History<'_>, target: &RestoreTarget, goal: Goal<'_>) -> PlanError {
    let first = match goal {
        Goal::Time(_) => history.steps.first(),
        Goal::Position(_) => history.steps.iter().min_by(|a, b| (a.position, a.time).cmp(&(b.position, b.time))),
    };
    let Some(first) = first else {
        return PlanError::NoBase { target: target.clone(), earliest: None };
    };
    // Anything succeeded of a restorable kind, usable or not, or a segment, before the goal means
    // the service has history there, only no base: say that rather than "before the first".
    let records = history.records().filter(|r| r.status == BackupStatus::Succeeded && r.kind != BackupKind::Log);
    let points = records.filter_map(|r| r.consistent.as_ref()).map(|p| (p.time, p.position.clone()));
    if goal.has_history(history, points) {
        PlanError::NoBase { target: target.clone(), earliest: Some(point(first)) }
    } else {
        PlanError::BeforeFirstBackup { target: target.clone(), first: point(first) }
    }
}

/// The error when the newest step's logs cannot reach the goal: the gap after its run, or the end
/// of the archive.
fn stuck(history: &History<'_>, target: &RestoreTarget, step: &Step<'_>) -> PlanError {
    let logs = &history.logs;
    let (from, after_segment, end_time) = match logs.containing(step.position) {
        Some(first) => {
            let last = logs.segment(logs.run_last(first));
            (&last.end_position, Some(last.name.clone()), logs.run_end_time(first).max(step.time))
        }
        None => (step.position, logs.last_ending_by(step.position).map(|i| logs.segment(i).name.clone()), step.time),
    };
    match logs.first_after(from) {
        Some(next) => PlanError::LogGap {
            target: target.clone(),
            from: from.clone(),
            to: logs.segment(next).start_position.clone(),
            after_segment,
            before_segment: logs.segment(next).name.clone(),
        },
        None => PlanError::PastArchivedEnd {
            target: target.clone(),
            archived_end_time: end_time,
            archived_end_position: from.clone(),
        },
    }
}

impl fmt::Display for RestorePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Restore plan to {}", target_text(&self.target))?;
        let mut rows = Vec::new();
        for (n, record) in self.backups().enumerate() {
            let (time, position) = match &record.consistent {
                Some(point) => {
                    (time_text(&point.time), point.position.as_ref().map_or("-".to_owned(), ToString::to_string))
                }
                None => ("-".to_owned(), "-".to_owned()),
            };
            let role = if n == 0 { "restore" } else { "apply" };
            rows.push(vec![
                (n + 1).to_string(),
                role.to_owned(),
                record.kind.to_string(),
                record.id.to_string(),
                time,
                position,
            ]);
        }
        write_table(f, &["step", "action", "kind", "backup", "consistent at", "position"], &rows)?;
        match &self.replay_from {
            Some(from) if !self.segments.is_empty() => {
                let count = self.segments.len();
                let noun = if count == 1 { "segment" } else { "segments" };
                writeln!(f, "Replay {count} log {noun} from {from}:")?;
                let rows: Vec<Vec<String>> = self
                    .segments
                    .iter()
                    .enumerate()
                    .map(|(n, s)| {
                        vec![
                            (n + 1).to_string(),
                            s.name.clone(),
                            s.start_position.to_string(),
                            s.end_position.to_string(),
                            time_text(&s.start_time),
                            time_text(&s.end_time),
                        ]
                    })
                    .collect();
                write_table(f, &["#", "segment", "from", "to", "first event", "last event"], &rows)?;
            }
            _ => writeln!(f, "No log replay.")?,
        }
        if self.stop != Stop::EndOfBackup {
            writeln!(f, "Stop {}.", self.stop)?;
        }
        match &self.target_time {
            Some(time) => write!(f, "The restored database is as of {}.", time_text(time)),
            None => write!(f, "The restored database is as of the stop position."),
        }
    }
}

/// An indented, left-aligned table with a header row.
pub(crate) fn write_table(f: &mut fmt::Formatter<'_>, headers: &[&str], rows: &[Vec<String>]) -> fmt::Result {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |f: &mut fmt::Formatter<'_>, cells: &mut dyn Iterator<Item = &str>| -> fmt::Result {
        let mut text = String::from(" ");
        for (cell, width) in cells.zip(&widths) {
            // Writing to a String cannot fail.
            let _ = write!(text, " {cell:<width$} ");
        }
        writeln!(f, "{}", text.trim_end())
    };
    line(f, &mut headers.iter().copied())?;
    for row in rows {
        line(f, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}
