//! Database jobs: a backup from a [`BackupSource`] into a repository, archiving closed logs, and
//! a restore of a planned point into a [`RestoreTarget`].

use std::time::Instant;

use async_trait::async_trait;
use tern_catalog::{
    BackupFilter, BackupKind, BackupRecord, BackupStatus, CatalogExt, LogSegment, Paging, Position,
    RestoreTarget as Target,
};
use tern_db::{ArtifactSource, BackupSource, ENGINE_LABEL, RestoreReport, RestoreTarget};
use tern_engine::{BackupSummary, Repository, SegmentSpan};
use tern_pitr::RestorePlan;
use tokio::io::AsyncWrite;

use crate::error::{Error, Result};

/// A repository as the source of a restore's backups and logs.
#[derive(Clone, Debug)]
pub struct RepoArtifacts {
    repo: Repository,
}

impl RepoArtifacts {
    /// Reads from `repo`.
    pub fn new(repo: Repository) -> Self {
        Self { repo }
    }
}

#[async_trait]
impl ArtifactSource for RepoArtifacts {
    async fn copy_to(
        &self,
        backup: &BackupRecord,
        entry: &str,
        writer: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> tern_db::Result<u64> {
        self.repo.restore(&backup.id).entry(entry).to_writer(writer).await.map_err(|e| tern_db::Error::Artifact {
            backup: backup.id.to_string(),
            entry: entry.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The newest succeeded backup of `service` taken by `source`'s engine, among `kinds`.
async fn newest(repo: &Repository, service: &str, engine: &str, kinds: &[BackupKind]) -> Result<Option<BackupRecord>> {
    let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
    let records = repo.catalog().list_backups(&filter, Paging::all()).await.map_err(tern_engine::Error::from)?.items;
    Ok(records
        .into_iter()
        .filter(|r| {
            r.status == BackupStatus::Succeeded
                && kinds.contains(&r.kind)
                && r.labels.get(ENGINE_LABEL).is_some_and(|e| e == engine)
        })
        .max_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id))))
}

/// Takes a backup of `kind` (full, incremental or dump) of `service` from `source` into `repo`.
///
/// The record is `running` while the tool streams and becomes `succeeded` only after every byte
/// and the tool's own success are in: a tool that fails (wrong credentials, a missing binary, a
/// kill mid-stream) leaves a `failed` record whose reason is the tool's message. An incremental
/// is based on the newest succeeded full or incremental of the same engine, and is refused (with
/// no record) when there is none. A full deduplicates against the previous full, a dump against
/// the previous dump.
pub async fn backup(
    repo: &Repository,
    service: &str,
    source: &dyn BackupSource,
    kind: BackupKind,
) -> Result<BackupSummary> {
    backup_labeled(repo, service, source, kind, &[]).await
}

/// [`backup`], with extra labels on the record from the start (the scheduler names its node).
pub async fn backup_labeled(
    repo: &Repository,
    service: &str,
    source: &dyn BackupSource,
    kind: BackupKind,
    labels: &[(&str, &str)],
) -> Result<BackupSummary> {
    let engine = source.engine().name();
    let mut builder = repo.backup(service).kind(kind).label(ENGINE_LABEL, engine);
    for (k, v) in labels {
        builder = builder.label(*k, *v);
    }
    let base = match kind {
        BackupKind::Incremental => {
            let base = newest(repo, service, engine, &[BackupKind::Full, BackupKind::Incremental]).await?;
            let base = base.ok_or_else(|| {
                Error::Invalid(format!("service {service} has no {engine} full backup: an incremental needs one"))
            })?;
            builder = builder.parent(base.id.clone());
            Some(base)
        }
        BackupKind::Full | BackupKind::Dump => {
            if let Some(previous) = newest(repo, service, engine, &[kind]).await? {
                builder = builder.dedup_against([previous.id]);
            }
            None
        }
        BackupKind::Log => {
            return Err(Error::Invalid("log files are archived with archive_logs (or wal-push), not backed up".into()));
        }
    };
    let mut writer = builder.start().await?;
    let started = match (&base, kind) {
        (Some(base), _) => source.incremental(base).await,
        (None, BackupKind::Full) => source.full().await,
        (None, _) => source.dump().await,
    };
    let mut stream = match started {
        Ok(stream) => stream,
        Err(e) => {
            writer.abandon(&e.to_string()).await;
            return Err(e.into());
        }
    };
    let entry = stream.entry.clone();
    if let Err(e) = writer.add_entry(&entry, stream.reader(), None).await {
        // A tool that died mid-stream explains the short read better than the read does.
        let reason = match stream.finish().await {
            Err(tool) => tool.to_string(),
            Ok(_) => e.to_string(),
        };
        writer.abandon(&reason).await;
        return Err(Error::Failed(reason));
    }
    let meta = match stream.finish().await {
        Ok(meta) => meta,
        Err(e) => {
            writer.abandon(&e.to_string()).await;
            return Err(e.into());
        }
    };
    writer.set_consistent(meta.consistent);
    for (k, v) in meta.labels {
        writer.set_label(k, v);
    }
    Ok(writer.commit().await?)
}

/// Archives the closed log files of `source` that `repo` does not have yet (those after the end
/// of the last archived segment of `service`), oldest first; with `rotate`, the current log is
/// closed first. Returns the segments archived.
pub async fn archive_logs(
    repo: &Repository,
    service: &str,
    source: &dyn BackupSource,
    rotate: bool,
) -> Result<Vec<LogSegment>> {
    let segments = repo.catalog().list_segments(service).await.map_err(tern_engine::Error::from)?;
    let since: Option<Position> = segments.iter().map(|s| s.end_position.clone()).max();
    let logs = source.closed_logs(since.as_ref(), rotate).await?;
    let mut archived = Vec::new();
    for file in &logs.files {
        let reader = tokio::fs::File::open(&file.path)
            .await
            .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", file.path.display())))?;
        let span = SegmentSpan {
            start_position: file.start_position.clone(),
            end_position: file.end_position.clone(),
            start_time: file.start_time,
            end_time: file.end_time,
        };
        let (_, segment) = repo.push_log_segment(service, &file.name, reader, span).await?;
        archived.push(segment);
    }
    Ok(archived)
}

/// Plans a restore of `service` to `target` from what `repo` holds (in a secondary region, a
/// target it has not received is refused with the replication lag named).
pub async fn plan(repo: &Repository, service: &str, target: &Target) -> Result<RestorePlan> {
    Ok(tern_replicator::secondary::plan(repo, service, target).await?)
}

/// A restore: the plan, and what the target did.
#[derive(Clone, Debug)]
pub struct Restored {
    /// What was restored.
    pub plan: RestorePlan,
    /// What the target reported.
    pub report: RestoreReport,
}

/// Plans a restore of `service` to `target` and applies it to `into`. The plan is made, and
/// checked against the target, before any work starts: a gap in the logs, a backup of another
/// engine or a non-empty directory is refused with nothing written.
pub async fn restore(repo: &Repository, service: &str, target: &Target, into: &dyn RestoreTarget) -> Result<Restored> {
    let plan = plan(repo, service, target).await?;
    into.check(&plan)?;
    let started = Instant::now();
    let mut report = into.restore(&plan, &RepoArtifacts::new(repo.clone())).await?;
    report.steps.push(("total".into(), started.elapsed()));
    Ok(Restored { plan, report })
}
