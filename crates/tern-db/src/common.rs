//! Helpers shared by the adapters.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::BTreeMap;

use tern_catalog::{BackupKind, BackupRecord, BackupStatus, LogSegment, Sizes};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::process::Tool;
use crate::source::{ArtifactSource, ENGINE_LABEL, Engine, RestoreReport};

/// Runs `tool` with `entry` of `backup` on its stdin (an extractor: `mbstream -x`, `tar -x`, a
/// client loading a dump); returns the bytes fed.
pub(crate) async fn feed(
    tool: Tool,
    artifacts: &dyn ArtifactSource,
    backup: &BackupRecord,
    entry: &str,
) -> Result<u64> {
    let mut running = tool.stdin_piped().stdout_null().spawn()?;
    let mut stdin = running.take_stdin();
    let copied = artifacts.copy_to(backup, entry, &mut stdin).await;
    let shut = stdin.shutdown().await;
    drop(stdin);
    // The tool's own error explains a broken pipe better than the pipe does.
    let waited = running.wait().await;
    waited?;
    let bytes = copied?;
    shut.map_err(|e| Error::io(format!("closing the input of {}", running.name()), e))?;
    Ok(bytes)
}

/// Writes entry `entry` of `backup` to the file `path`.
pub(crate) async fn fetch_to_file(
    artifacts: &dyn ArtifactSource,
    backup: &BackupRecord,
    entry: &str,
    path: &Path,
) -> Result<u64> {
    let mut file =
        tokio::fs::File::create(path).await.map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let n = artifacts.copy_to(backup, entry, &mut file).await?;
    file.flush().await.map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(n)
}

/// Refuses a backup taken from another engine.
pub(crate) fn check_engine(engine: Engine, record: &BackupRecord) -> Result<()> {
    match record.labels.get(ENGINE_LABEL) {
        Some(e) if e == engine.name() => Ok(()),
        Some(e) => Err(Error::Restore(format!("backup {} was taken from {e}, not {engine}", record.id))),
        None => Err(Error::Restore(format!(
            "backup {} has no `{ENGINE_LABEL}` label: it was not taken by a database adapter",
            record.id
        ))),
    }
}

/// Refuses a target directory that exists and is not empty.
pub(crate) fn check_empty_target(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                Err(Error::Restore(format!("target directory {} is not empty", dir.display())))
            } else {
                Ok(())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("reading {}", dir.display()), e)),
    }
}

/// A work directory next to `target` (same file system, so restored files move instead of being
/// copied), removed when dropped.
pub(crate) fn work_dir_near(target: &Path) -> Result<tempfile::TempDir> {
    let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    tempfile::Builder::new()
        .prefix(".tern-restore-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(format!("creating a work directory in {}", parent.display()), e))
}

/// A short directory for server sockets (unix socket paths are limited to 107 bytes).
pub(crate) fn socket_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("tern-")
        .tempdir_in("/tmp")
        .map_err(|e| Error::io("creating a socket directory in /tmp", e))
}

/// Runs a restore into `data_dir` (checked empty or absent beforehand). On failure the directory
/// is left as it was, empty or absent, never half restored.
pub(crate) async fn restore_or_clean(
    data_dir: &Path,
    apply: impl std::future::Future<Output = Result<RestoreReport>>,
) -> Result<RestoreReport> {
    let existed = data_dir.exists();
    let result = apply.await;
    if result.is_err() {
        if existed {
            if let Ok(entries) = std::fs::read_dir(data_dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    result
}

/// The catalog record a log segment's bytes are stored under (what an artifact source reads).
pub(crate) fn log_record(segment: &LogSegment) -> BackupRecord {
    BackupRecord {
        id: segment.id.clone(),
        service: segment.service.clone(),
        kind: BackupKind::Log,
        status: BackupStatus::Succeeded,
        parent: None,
        started: segment.start_time,
        finished: None,
        consistent: None,
        sizes: Sizes::default(),
        manifest: None,
        region: segment.region.clone(),
        labels: BTreeMap::new(),
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` as UTC.
pub(crate) fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok().map(|t| t.and_utc())
}

/// Runs `step`, recording its duration in `report`.
pub(crate) async fn timed<T>(
    report: &mut RestoreReport,
    name: &str,
    step: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = Instant::now();
    let out = step.await?;
    report.step(name, started);
    Ok(out)
}

/// The last `lines` lines of a text file (a server's error log), for an error message.
pub(crate) fn tail_of(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}
