//! Recovery windows: the times a restore can reach.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tern_catalog::{BackupId, BackupRecord, LogSegment, Position};

use crate::history::History;
use crate::text::time_text;

/// A maximal interval of time, ends included, to every point of which a restore can be planned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryWindow {
    /// The earliest time: a backup's consistent time.
    pub start: DateTime<Utc>,
    /// The latest time: the last event of the contiguous logs after the window's backups, or the
    /// newest backup's consistent time when no logs follow it.
    pub end: DateTime<Utc>,
    /// The position at `start`.
    pub start_position: Position,
    /// The position at `end` (just past its last event).
    pub end_position: Position,
    /// Every backup a restore into this window can start from (fulls, dumps and incrementals
    /// with sound chains), oldest first.
    pub base_ids: Vec<BackupId>,
}

impl RecoveryWindow {
    /// Whether `time` is inside the window (ends included).
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time <= self.end
    }
}

impl fmt::Display for RecoveryWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.base_ids.len();
        write!(
            f,
            "{} to {} ({} to {}; {count} backup{})",
            time_text(&self.start),
            time_text(&self.end),
            self.start_position,
            self.end_position,
            if count == 1 { "" } else { "s" }
        )
    }
}

/// The times one service can be restored to, as sorted, disjoint, maximal windows: every time in
/// a window plans successfully with [`plan`](crate::plan), and every time outside all of them
/// fails.
///
/// Each backup a restore can start from opens a window at its consistent time that lasts to the
/// end of the contiguous log segments after its consistent position (a zero-length window when
/// no segment holds that position); overlapping and touching windows are merged. A log gap ends
/// a window; the next backup after the gap opens the next one. The function does no I/O.
pub fn recovery_windows(records: &[BackupRecord], segments: &[LogSegment]) -> Vec<RecoveryWindow> {
    let history = History::new(records, segments);
    let logs = &history.logs;
    let mut windows: Vec<RecoveryWindow> = Vec::new();
    for step in &history.steps {
        let (end, end_position) = match logs.containing(step.position) {
            Some(first) => {
                (logs.run_end_time(first).max(step.time), logs.segment(logs.run_last(first)).end_position.clone())
            }
            None => (step.time, step.position.clone()),
        };
        match windows.last_mut() {
            // Steps come oldest first, so a step either extends the last window or opens one.
            Some(window) if step.time <= window.end => {
                if (end, &end_position) > (window.end, &window.end_position) {
                    window.end = end;
                    window.end_position = end_position;
                }
                window.base_ids.push(step.record.id.clone());
            }
            _ => windows.push(RecoveryWindow {
                start: step.time,
                end,
                start_position: step.position.clone(),
                end_position,
                base_ids: vec![step.record.id.clone()],
            }),
        }
    }
    windows
}
