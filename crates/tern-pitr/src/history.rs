//! The catalog, indexed for planning: which backups a restore can start from, and which log
//! segments join up.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use tern_catalog::{BackupId, BackupKind, BackupRecord, BackupStatus, LogSegment, Position};

use crate::error::ChainBreak;

/// A backup a point-in-time restore can start from: a base (full or dump) or an incremental
/// whose chain reaches a full, with a consistent time and position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step<'a> {
    pub record: &'a BackupRecord,
    pub time: DateTime<Utc>,
    pub position: &'a Position,
    /// Incrementals applied on top of the base to reach this step (0 for a base).
    pub depth: usize,
}

/// Where a chain of incrementals breaks.
#[derive(Debug)]
pub(crate) struct Break<'a> {
    pub incremental: &'a BackupId,
    pub parent: Option<&'a BackupId>,
    pub reason: ChainBreak,
}

/// Records and segments, indexed.
pub(crate) struct History<'a> {
    records: &'a [BackupRecord],
    by_id: HashMap<&'a BackupId, &'a BackupRecord>,
    /// Every usable step, oldest first (by time, then position).
    pub steps: Vec<Step<'a>>,
    /// The log segments, joined into runs.
    pub logs: Logs<'a>,
}

impl<'a> History<'a> {
    pub fn new(records: &'a [BackupRecord], segments: &'a [LogSegment]) -> Self {
        let mut by_id = HashMap::with_capacity(records.len());
        for record in records {
            by_id.entry(&record.id).or_insert(record);
        }
        let mut history = Self { records, by_id, steps: Vec::new(), logs: Logs::new(segments) };
        history.steps = history.find_steps(records);
        history
    }

    /// Every record, in any state.
    pub fn records(&self) -> impl Iterator<Item = &'a BackupRecord> + use<'a> {
        self.records.iter()
    }

    /// A record by id, in any state.
    pub fn get(&self, id: &BackupId) -> Option<&'a BackupRecord> {
        self.by_id.get(id).copied()
    }

    /// The chain a backup restores through: the base first, `record` last. `record` must be a full,
    /// dump or incremental; every record above it must exist, have succeeded, and be a full or an
    /// incremental (a dump cannot take incrementals).
    pub fn chain(&self, record: &'a BackupRecord) -> Result<Vec<&'a BackupRecord>, Break<'a>> {
        let mut chain = vec![record];
        let mut seen = HashSet::from([&record.id]);
        let mut current = record;
        while current.kind == BackupKind::Incremental {
            let parent = self.parent(current, &seen)?;
            seen.insert(&parent.id);
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        Ok(chain)
    }

    /// An incremental's parent, if the link is sound.
    fn parent(&self, record: &'a BackupRecord, seen: &HashSet<&BackupId>) -> Result<&'a BackupRecord, Break<'a>> {
        let broken = |parent, reason| Break { incremental: &record.id, parent, reason };
        let Some(parent_id) = record.parent.as_ref() else {
            return Err(broken(None, ChainBreak::NoParent));
        };
        let Some(parent) = self.get(parent_id) else {
            return Err(broken(Some(parent_id), ChainBreak::NotInCatalog));
        };
        if seen.contains(parent_id) {
            return Err(broken(Some(parent_id), ChainBreak::Cycle));
        }
        if parent.status != BackupStatus::Succeeded {
            return Err(broken(Some(parent_id), ChainBreak::NotSucceeded { status: parent.status.clone() }));
        }
        match parent.kind {
            BackupKind::Full | BackupKind::Incremental => Ok(parent),
            BackupKind::Dump => Err(broken(Some(parent_id), ChainBreak::ParentIsDump)),
            BackupKind::Log => Err(broken(Some(parent_id), ChainBreak::ParentIsLog)),
        }
    }

    /// Succeeded fulls and dumps with a consistent time and position, and succeeded incrementals
    /// (with both) whose chain reaches a full through sound links, each incremental's consistent
    /// point at or after its parent's.
    fn find_steps(&self, records: &'a [BackupRecord]) -> Vec<Step<'a>> {
        // Depth of each incremental's chain, or None when it is broken; memoised, so a long chain
        // is walked once.
        let mut depths: HashMap<&'a BackupId, Option<usize>> = HashMap::new();
        let mut steps = Vec::new();
        for record in records {
            // Of two records with one id, the first is the one the catalog means.
            if record.status != BackupStatus::Succeeded
                || !self.get(&record.id).is_some_and(|r| std::ptr::eq(r, record))
            {
                continue;
            }
            let Some(point) = &record.consistent else { continue };
            let Some(position) = &point.position else { continue };
            let depth = match record.kind {
                BackupKind::Full | BackupKind::Dump => Some(0),
                BackupKind::Incremental => self.depth(record, &mut depths),
                BackupKind::Log => None,
            };
            if let Some(depth) = depth {
                steps.push(Step { record, time: point.time, position, depth });
            }
        }
        steps.sort_by(|a, b| {
            (a.time, a.position, std::cmp::Reverse(a.depth), &a.record.id).cmp(&(
                b.time,
                b.position,
                std::cmp::Reverse(b.depth),
                &b.record.id,
            ))
        });
        steps
    }

    /// How many incrementals lead from a full to `record` (an incremental), or None when the chain
    /// is broken or goes back in time.
    fn depth(&self, record: &'a BackupRecord, memo: &mut HashMap<&'a BackupId, Option<usize>>) -> Option<usize> {
        let mut path: Vec<&'a BackupRecord> = Vec::new();
        let mut seen = HashSet::new();
        let mut current = record;
        let mut result = loop {
            if let Some(&known) = memo.get(&current.id) {
                break known;
            }
            if current.kind == BackupKind::Full {
                break Some(0);
            }
            seen.insert(&current.id);
            match self.parent(current, &seen) {
                Ok(parent) if !goes_back(current, parent) => {
                    path.push(current);
                    current = parent;
                }
                _ => {
                    path.push(current);
                    break None;
                }
            }
        };
        // `current` ended the walk (a full, a memoised record, or the broken incremental, which
        // is the last in `path`); every record on the path is one link further down.
        if result.is_none() {
            for record in path {
                memo.insert(&record.id, None);
            }
            return None;
        }
        for record in path.into_iter().rev() {
            result = result.map(|depth| depth + 1);
            memo.insert(&record.id, result);
        }
        result
    }
}

/// Whether an incremental's consistent point is before its parent's (a corrupt chain).
fn goes_back(child: &BackupRecord, parent: &BackupRecord) -> bool {
    let (Some(child), Some(parent)) = (&child.consistent, &parent.consistent) else { return false };
    if child.time < parent.time {
        return true;
    }
    matches!((&child.position, &parent.position), (Some(c), Some(p)) if c < p)
}

/// Log segments, sorted and joined: segment `j` follows segment `i` when it starts exactly where
/// `i` ends. Segments that overlap without meeting exactly are not joined (the plan could not say
/// where to start reading the second), and empty or inverted segments are ignored.
pub(crate) struct Logs<'a> {
    /// Sorted by (start, end).
    segments: Vec<&'a LogSegment>,
    /// The largest end position among `segments[..=i]`.
    prefix_max_end: Vec<&'a Position>,
    /// The segment that follows `i` and reaches furthest.
    next: Vec<Option<usize>>,
    /// The last segment of the run that `i` starts.
    last: Vec<usize>,
    /// The latest end time in the run that `i` starts.
    max_end_time: Vec<DateTime<Utc>>,
}

impl<'a> Logs<'a> {
    fn new(all: &'a [LogSegment]) -> Self {
        let mut segments: Vec<&LogSegment> = all.iter().filter(|s| s.start_position < s.end_position).collect();
        segments.sort_by(|a, b| (&a.start_position, &a.end_position).cmp(&(&b.start_position, &b.end_position)));
        let mut prefix_max_end: Vec<&Position> = Vec::with_capacity(segments.len());
        for segment in &segments {
            let end = match prefix_max_end.last() {
                Some(&max) if max > &segment.end_position => max,
                _ => &segment.end_position,
            };
            prefix_max_end.push(end);
        }
        let n = segments.len();
        let mut next = vec![None; n];
        let mut last: Vec<usize> = (0..n).collect();
        let mut max_end_time: Vec<DateTime<Utc>> = segments.iter().map(|s| s.end_time).collect();
        // A follower starts after its predecessor does, so it sorts later: fill in from the end.
        for i in (0..n).rev() {
            let end = &segments[i].end_position;
            let from = segments.partition_point(|s| &s.start_position < end);
            let best = (from..n)
                .take_while(|&j| &segments[j].start_position == end)
                .max_by(|&a, &b| segments[last[a]].end_position.cmp(&segments[last[b]].end_position));
            if let Some(j) = best {
                next[i] = Some(j);
                last[i] = last[j];
                max_end_time[i] = max_end_time[i].max(max_end_time[j]);
            }
        }
        Self { segments, prefix_max_end, next, last, max_end_time }
    }

    pub fn segment(&self, i: usize) -> &'a LogSegment {
        self.segments[i]
    }

    pub fn all(&self) -> impl Iterator<Item = &'a LogSegment> + '_ {
        self.segments.iter().copied()
    }

    /// The segment holding the event at `position` (start <= position < end); of several, the one
    /// whose run reaches furthest.
    pub fn containing(&self, position: &Position) -> Option<usize> {
        let upto = self.segments.partition_point(|s| &s.start_position <= position);
        (0..upto)
            .rev()
            .take_while(|&i| self.prefix_max_end[i] > position)
            .filter(|&i| &self.segments[i].end_position > position)
            .max_by(|&a, &b| self.segments[self.last[a]].end_position.cmp(&self.segments[self.last[b]].end_position))
    }

    /// The first segment starting after `position`.
    pub fn first_after(&self, position: &Position) -> Option<usize> {
        let i = self.segments.partition_point(|s| &s.start_position <= position);
        (i < self.segments.len()).then_some(i)
    }

    /// The segment ending last at or before `position`.
    pub fn last_ending_by(&self, position: &Position) -> Option<usize> {
        (0..self.segments.len())
            .filter(|&i| &self.segments[i].end_position <= position)
            .max_by(|&a, &b| self.segments[a].end_position.cmp(&self.segments[b].end_position))
    }

    /// The segment following `i`, if one starts exactly where it ends.
    pub fn next(&self, i: usize) -> Option<usize> {
        self.next[i]
    }

    /// The last segment of the run `i` starts.
    pub fn run_last(&self, i: usize) -> usize {
        self.last[i]
    }

    /// The latest event time in the run `i` starts.
    pub fn run_end_time(&self, i: usize) -> DateTime<Utc> {
        self.max_end_time[i]
    }

    /// The segments of the run `i` starts, in replay order.
    pub fn run(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), |&j| self.next[j])
    }
}
