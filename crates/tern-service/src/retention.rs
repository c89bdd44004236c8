//! Retention: which backups of a service to delete, by count and by age, without ever breaking
//! what is kept; then garbage collection.
//!
//! The rules ([`select`] is a pure function of the records, so they are tested directly):
//!
//! - A **base** is a succeeded full or dump. Fulls and dumps are counted separately. A base is
//!   kept when it is among the newest `keep_last` of its kind, or younger than `max_age`
//!   (either rule keeps it; with neither set, everything is kept). The newest base of each kind
//!   is always kept, and so is the newest base at or before `now - max_age`: restores to any time
//!   in the last `max_age` start from it.
//! - An **incremental** is kept exactly when the full at the root of its chain is kept, so a
//!   kept incremental never loses a parent; a chain with a young or running incremental keeps
//!   its full.
//! - A **log** segment is kept when it ends at or after the consistent point of the oldest kept
//!   base: every kept backup keeps its whole point-in-time window. With no kept base, all logs
//!   are kept.
//! - **Running** records are never touched. **Failed** (and never-started) records older than
//!   the oldest kept base, or than `max_age`, are deleted: they hold no data anyone can restore.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tern_catalog::{BackupFilter, BackupId, BackupKind, BackupRecord, BackupStatus, CatalogExt, LogSegment, Paging};
use tern_engine::{GcOptions, GcReport, Repository};

use crate::error::{Error, Result};

/// How many backups to keep, and for how long.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Keep the newest this many fulls, and this many dumps (with their incrementals and logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Keep every backup younger than this.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "humantime_serde_opt")]
    pub max_age: Option<Duration>,
}

impl Retention {
    /// Checks the policy.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.keep_last == Some(0) {
            return Err("keep_last must be at least 1 (the newest backup is always kept)".into());
        }
        if self.max_age == Some(Duration::ZERO) {
            return Err("max_age must be longer than zero".into());
        }
        if self.max_age.is_some_and(|a| a > Duration::from_secs(100 * 366 * 86_400)) {
            return Err("max_age must be at most 100 years".into());
        }
        Ok(())
    }

    /// Whether the policy deletes anything at all.
    pub fn is_unlimited(&self) -> bool {
        self.keep_last.is_none() && self.max_age.is_none()
    }
}

/// `Option<Duration>` as a humantime string (`"30d"`, `"12h"`).
mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // the signature serde's `with` expects
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            humantime::parse_duration(&t)
                .map_err(|e| serde::de::Error::custom(format!("`{t}` is not a duration (e.g. 30d, 12h): {e}")))
        })
        .transpose()
    }
}

/// A backup to delete, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expired {
    /// The record.
    pub id: BackupId,
    /// Its kind.
    pub kind: BackupKind,
    /// Why it goes.
    pub reason: String,
}

/// What a retention run decided (and, when applied, did).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RetentionReport {
    /// Deleted (or to delete), children before parents.
    pub expired: Vec<Expired>,
    /// Records kept.
    pub kept: usize,
    /// The garbage collection that followed, when applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gc: Option<GcSummary>,
}

/// What garbage collection removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcSummary {
    /// Objects deleted.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl From<&GcReport> for GcSummary {
    fn from(r: &GcReport) -> Self {
        Self { objects: (r.packs.len() + r.manifests.len()) as u64, bytes: r.bytes() }
    }
}

fn point(r: &BackupRecord) -> DateTime<Utc> {
    r.consistent.as_ref().map_or(r.started, |c| c.time)
}

/// Decides what `policy` deletes among one service's `records` and `segments` at `now`.
pub fn select(
    policy: &Retention,
    records: &[BackupRecord],
    segments: &[LogSegment],
    now: DateTime<Utc>,
) -> Vec<Expired> {
    if policy.is_unlimited() {
        return Vec::new();
    }
    let cutoff =
        policy.max_age.and_then(|a| chrono::Duration::from_std(a).ok()).and_then(|a| now.checked_sub_signed(a));
    let young = |r: &BackupRecord| cutoff.is_some_and(|c| point(r) >= c);
    let by_id: HashMap<&BackupId, &BackupRecord> = records.iter().map(|r| (&r.id, r)).collect();
    let root = |r: &BackupRecord| -> Option<BackupId> {
        let mut at = r;
        for _ in 0..records.len() {
            match (at.kind, &at.parent) {
                (BackupKind::Incremental, Some(p)) => at = by_id.get(p)?,
                (BackupKind::Full, _) => return Some(at.id.clone()),
                _ => return None,
            }
        }
        None
    };
    let mut kept: HashSet<BackupId> = HashSet::new();
    for kind in [BackupKind::Full, BackupKind::Dump] {
        let mut bases: Vec<&BackupRecord> =
            records.iter().filter(|r| r.kind == kind && r.status == BackupStatus::Succeeded).collect();
        bases.sort_by(|a, b| (point(b), &b.id).cmp(&(point(a), &a.id)));
        for (i, base) in bases.iter().enumerate() {
            let by_count = policy.keep_last.is_some_and(|n| i < n as usize);
            if i == 0 || by_count || young(base) {
                kept.insert(base.id.clone());
            }
        }
        if let Some(cutoff) = cutoff
            && let Some(base) = bases.iter().find(|b| point(b) <= cutoff)
        {
            kept.insert(base.id.clone());
        }
    }
    for r in records.iter().filter(|r| r.kind == BackupKind::Incremental) {
        let live = r.status == BackupStatus::Running || (r.status == BackupStatus::Succeeded && young(r));
        if let Some(full) = root(r).filter(|_| live) {
            kept.insert(full);
        }
    }
    let oldest_kept = records.iter().filter(|r| kept.contains(&r.id)).map(point).min();
    let segment_of: HashMap<&BackupId, &LogSegment> = segments.iter().map(|s| (&s.id, s)).collect();
    let mut expired = Vec::new();
    for r in records {
        let reason = match (&r.status, r.kind) {
            (BackupStatus::Running, _) => None,
            (BackupStatus::Succeeded, BackupKind::Full | BackupKind::Dump) => {
                (!kept.contains(&r.id)).then(|| format!("an older {} than the policy keeps", r.kind))
            }
            (BackupStatus::Succeeded, BackupKind::Incremental) => match root(r) {
                Some(full) if kept.contains(&full) => None,
                Some(full) => Some(format!("its full backup {full} expires")),
                None if young(r) => None,
                None => Some("its chain is broken and it is older than max_age".to_owned()),
            },
            (BackupStatus::Succeeded, BackupKind::Log) => {
                let end = segment_of.get(&r.id).map_or(point(r), |s| s.end_time);
                match oldest_kept {
                    Some(oldest) if end < oldest => {
                        Some(format!("it ends before the oldest kept backup ({})", oldest.to_rfc3339()))
                    }
                    _ => None,
                }
            }
            (BackupStatus::Failed { .. } | BackupStatus::Scheduled, _) => {
                let old = oldest_kept.is_some_and(|o| point(r) < o) || cutoff.is_some_and(|c| point(r) < c);
                old.then(|| format!("a {} record older than what is kept", r.status.name()))
            }
        };
        if let Some(reason) = reason {
            expired.push(Expired { id: r.id.clone(), kind: r.kind, reason });
        }
    }
    // Children before parents: newest first.
    expired.sort_by(|a, b| b.id.cmp(&a.id));
    expired
}

/// Applies `policy` to `service` in `repo`: deletes what [`select`] picks (a log's segment record
/// and WAL name entry before its backup record), then, with `gc_grace`, collects garbage older
/// than that (`None` defers collection, e.g. while other jobs run). With `dry_run`, only reports.
pub async fn apply(
    repo: &Repository,
    service: &str,
    policy: &Retention,
    now: DateTime<Utc>,
    gc_grace: Option<Duration>,
    dry_run: bool,
) -> Result<RetentionReport> {
    let catalog = repo.catalog();
    let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
    let records = catalog.list_backups(&filter, Paging::all()).await.map_err(tern_engine::Error::from)?.items;
    let segments = catalog.list_segments(service).await.map_err(tern_engine::Error::from)?;
    let expired = select(policy, &records, &segments, now);
    let kept = records.len() - expired.len();
    if dry_run || expired.is_empty() {
        return Ok(RetentionReport { expired, kept, gc: None });
    }
    for e in &expired {
        if e.kind == BackupKind::Log {
            if let Some(segment) = segments.iter().find(|s| s.id == e.id) {
                crate::wal::forget(repo, service, &segment.name, &e.id).await?;
            }
            catalog.delete_segment(service, &e.id).await.map_err(tern_engine::Error::from)?;
        }
        match repo.delete_backup(service, &e.id, false).await {
            // Another node's retention run got there first.
            Ok(()) | Err(tern_engine::Error::Catalog(tern_catalog::Error::NotFound(_))) => {}
            Err(err) => {
                return Err(Error::Failed(format!("retention of {service}: cannot delete backup {}: {err}", e.id)));
            }
        }
    }
    let gc = match gc_grace {
        Some(grace) => Some(GcSummary::from(&repo.gc(GcOptions { grace, dry_run: false }).await?)),
        None => None,
    };
    Ok(RetentionReport { expired, kept, gc })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tern_catalog::{ConsistentPoint, Position, Sizes};

    use super::*;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 3, 0, 0).unwrap()
    }

    fn record(d: u32, n: u32, kind: BackupKind, parent: Option<&BackupRecord>, status: BackupStatus) -> BackupRecord {
        let time = day(d) + chrono::Duration::minutes(i64::from(n));
        BackupRecord {
            id: BackupId::at(time),
            service: "shop".into(),
            kind,
            status,
            parent: parent.map(|p| p.id.clone()),
            started: time,
            finished: Some(time),
            consistent: Some(ConsistentPoint { time, position: Some(Position::generic(1, u64::from(d * 100 + n))) }),
            sizes: Sizes::default(),
            manifest: None,
            region: None,
            labels: BTreeMap::new(),
        }
    }

    fn segment(log: &BackupRecord, end: DateTime<Utc>) -> LogSegment {
        let start = log.consistent.clone().unwrap();
        LogSegment {
            id: log.id.clone(),
            service: "shop".into(),
            name: format!("mysql-bin.{}", log.id),
            start_position: start.position.clone().unwrap(),
            end_position: Position::generic(1, start.position.unwrap().minor + 1),
            start_time: start.time,
            end_time: end,
            size: 1,
            region: None,
        }
    }

    use std::collections::BTreeMap;

    use tern_catalog::BackupRecord;

    const OK: BackupStatus = BackupStatus::Succeeded;

    fn ids(expired: &[Expired]) -> Vec<&BackupId> {
        expired.iter().map(|e| &e.id).collect()
    }

    #[test]
    fn count_keeps_whole_chains_and_the_logs_they_need() {
        let full1 = record(1, 0, BackupKind::Full, None, OK);
        let inc1 = record(1, 30, BackupKind::Incremental, Some(&full1), OK);
        let log1 = record(1, 40, BackupKind::Log, None, OK);
        let full2 = record(3, 0, BackupKind::Full, None, OK);
        let inc2 = record(3, 30, BackupKind::Incremental, Some(&full2), OK);
        let inc2b = record(3, 50, BackupKind::Incremental, Some(&inc2), OK);
        // A log that started before full2 but ends after it: full2's window needs it.
        let log_across = record(2, 59, BackupKind::Log, None, OK);
        let log3 = record(3, 40, BackupKind::Log, None, OK);
        let running = record(1, 10, BackupKind::Full, None, BackupStatus::Running);
        let failed = record(1, 20, BackupKind::Dump, None, BackupStatus::Failed { reason: "x".into() });
        let records = vec![
            full1.clone(),
            inc1.clone(),
            log1.clone(),
            full2.clone(),
            inc2.clone(),
            inc2b.clone(),
            log_across.clone(),
            log3.clone(),
            running.clone(),
            failed.clone(),
        ];
        let segments = vec![
            segment(&log1, day(1) + chrono::Duration::hours(1)),
            segment(&log_across, day(3) + chrono::Duration::minutes(5)),
            segment(&log3, day(3) + chrono::Duration::hours(1)),
        ];
        let policy = Retention { keep_last: Some(1), max_age: None };
        let expired = select(&policy, &records, &segments, day(4));
        let gone = ids(&expired);
        assert_eq!(gone.len(), 4, "{expired:#?}");
        for id in [&full1.id, &inc1.id, &log1.id, &failed.id] {
            assert!(gone.contains(&id), "{id} should expire: {expired:#?}");
        }
        for id in [&full2.id, &inc2.id, &inc2b.id, &log_across.id, &log3.id, &running.id] {
            assert!(!gone.contains(&id), "{id} must be kept");
        }
        // Children before parents.
        let pos = |id: &BackupId| gone.iter().position(|g| *g == id).unwrap();
        assert!(pos(&inc1.id) < pos(&full1.id));
    }

    #[test]
    fn age_keeps_young_backups_and_always_the_newest() {
        let old = record(1, 0, BackupKind::Full, None, OK);
        let mid = record(10, 0, BackupKind::Full, None, OK);
        let young = record(19, 0, BackupKind::Full, None, OK);
        let dump_old = record(2, 0, BackupKind::Dump, None, OK);
        let records = vec![old.clone(), mid.clone(), young.clone(), dump_old.clone()];
        let week = Retention { keep_last: None, max_age: Some(Duration::from_secs(7 * 86_400)) };
        let gone = select(&week, &records, &[], day(20));
        // `mid` is the newest full before the cutoff (day 13): restores to days 13-19 start from it.
        assert_eq!(ids(&gone), vec![&old.id], "the only dump is the newest dump: kept");
        // Everything too old: the newest of each kind survives.
        let gone = select(&week, &records, &[], day(30));
        assert_eq!(ids(&gone), vec![&mid.id, &old.id]);
        // Either rule keeps: count 2 keeps `mid` although it is older than max_age.
        let both = Retention { keep_last: Some(2), ..week };
        assert_eq!(ids(&select(&both, &records, &[], day(20))), vec![&old.id]);
        assert!(select(&Retention::default(), &records, &[], day(30)).is_empty(), "no policy keeps everything");
    }

    #[test]
    fn policies_are_checked() {
        assert!(Retention { keep_last: Some(0), max_age: None }.validate().is_err());
        assert!(Retention { keep_last: None, max_age: Some(Duration::ZERO) }.validate().is_err());
        assert!(Retention { keep_last: Some(3), max_age: Some(Duration::from_secs(60)) }.validate().is_ok());
        let parsed: Retention = serde_json::from_str(r#"{"keep_last": 7, "max_age": "30d"}"#).unwrap();
        assert_eq!(parsed.max_age, Some(Duration::from_secs(30 * 86_400)));
        let bad = serde_json::from_str::<Retention>(r#"{"max_age": "thirty days"}"#).unwrap_err();
        assert!(bad.to_string().contains("not a duration"), "{bad}");
        assert!(serde_json::from_str::<Retention>(r#"{"keep": 7}"#).is_err(), "unknown keys are refused");
    }

    #[test]
    fn a_young_or_running_incremental_keeps_its_full_and_the_window_reaches_the_cutoff() {
        // max_age 3 days; full F1 on day 1 with an incremental every day; F2 on day 8.
        let f1 = record(1, 0, BackupKind::Full, None, OK);
        let mut chain = vec![f1.clone()];
        for d in 2..=7 {
            let parent = chain.last().unwrap().clone();
            chain.push(record(d, 0, BackupKind::Incremental, Some(&parent), OK));
        }
        let f2 = record(8, 0, BackupKind::Full, None, OK);
        let mut records = chain.clone();
        records.push(f2.clone());
        let three_days = Retention { keep_last: None, max_age: Some(Duration::from_secs(3 * 86_400)) };
        let gone = select(&three_days, &records, &[], day(9));
        assert!(gone.is_empty(), "the incrementals of days 6-7 are young: their chain stays: {gone:#?}");
        // Later nothing of the chain is young: it goes, and F2 (newest before the cutoff) stays.
        let gone = select(&three_days, &records, &[], day(20));
        assert_eq!(gone.len(), chain.len(), "{gone:#?}");
        assert!(!gone.iter().any(|e| e.id == f2.id));
        // A running incremental on F1's chain keeps F1 (deleting it would be refused anyway).
        let running = record(19, 0, BackupKind::Incremental, Some(chain.last().unwrap()), BackupStatus::Running);
        records.push(running);
        let gone = select(&three_days, &records, &[], day(20));
        assert!(gone.iter().all(|e| e.id != f1.id), "{gone:#?}");
    }
}
