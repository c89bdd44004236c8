//! Garbage collection: mark from the manifests of committed backups, sweep what nothing
//! references, but only once it is older than a grace period, so a backup still writing its
//! packs (which no record references yet) is never swept.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;

use crate::error::{Error, Result};
use crate::id::{BackupId, PackId};
use crate::repo::Repository;

/// How to collect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcOptions {
    /// Unreferenced objects younger than this are kept (default 24 hours).
    pub grace: Duration,
    /// Report only (the default); set `false` to delete.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self { grace: Duration::from_secs(24 * 3600), dry_run: true }
    }
}

/// An unreferenced object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Garbage {
    /// Its path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// When it was written.
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// What a collection found (and, unless a dry run, deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Committed backups.
    pub live_backups: u64,
    /// Packs they reference.
    pub live_packs: u64,
    /// Unreferenced packs past the grace period.
    pub packs: Vec<Garbage>,
    /// Manifests without a record, past the grace period.
    pub manifests: Vec<Garbage>,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub young: u64,
    /// Whether the garbage was deleted.
    pub deleted: bool,
}

impl GcReport {
    /// Bytes of garbage.
    pub fn bytes(&self) -> u64 {
        self.packs.iter().chain(&self.manifests).map(|g| g.size).sum()
    }
}

impl Repository {
    /// Collects garbage. Refuses to delete anything if a committed backup's manifest cannot be
    /// read (its references would be unknown).
    pub async fn gc(&self, options: GcOptions) -> Result<GcReport> {
        let now = chrono::Utc::now();
        let grace = chrono::Duration::from_std(options.grace)
            .map_err(|_| Error::InvalidArgument("grace period too long".into()))?;
        let records = self.list_backups(None).await?;
        let live: HashSet<BackupId> = records.iter().map(|r| r.id.clone()).collect();
        let mut referenced: HashSet<PackId> = HashSet::new();
        for id in &live {
            let index = self.manifest_index(id).await.map_err(|e| {
                Error::InvalidArgument(format!(
                    "refusing to collect garbage: cannot read the manifest of backup {id}: {e}"
                ))
            })?;
            referenced.extend(index.packs.iter().map(|p| p.id));
        }
        let mut report =
            GcReport { live_backups: live.len() as u64, live_packs: referenced.len() as u64, ..GcReport::default() };
        let list = |prefix: &'static str| {
            let path = Path::from(prefix);
            let store = std::sync::Arc::clone(&self.store);
            async move {
                store.list(Some(&path)).try_collect::<Vec<_>>().await.map_err(|e| Error::storage("list", &path, e))
            }
        };
        let packs = list("packs").await?;
        let manifests = list("manifests").await?;
        report.packs = sweep(packs, now, grace, &mut report.young, |name| {
            name.parse::<PackId>().is_ok_and(|id| !referenced.contains(&id))
        });
        report.manifests = sweep(manifests, now, grace, &mut report.young, |name| {
            name.parse::<BackupId>().is_ok_and(|id| !live.contains(&id))
        });
        if !options.dry_run {
            // Manifests first: a manifest never points at a pack that is already gone.
            for batch in [&report.manifests, &report.packs] {
                let paths: Vec<object_store::Result<Path>> =
                    batch.iter().map(|g| Ok(Path::from(g.path.as_str()))).collect();
                self.store
                    .delete_stream(futures::stream::iter(paths).boxed())
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| Error::storage("delete", &Path::from("packs"), e))?;
            }
            report.deleted = true;
        }
        Ok(report)
    }
}

/// The objects `unreferenced` names (by file name) that are past the grace period; younger ones
/// are only counted.
fn sweep(
    metas: Vec<object_store::ObjectMeta>,
    now: chrono::DateTime<chrono::Utc>,
    grace: chrono::Duration,
    young: &mut u64,
    unreferenced: impl Fn(&str) -> bool,
) -> Vec<Garbage> {
    let mut garbage = Vec::new();
    for meta in metas {
        if !meta.location.filename().is_some_and(&unreferenced) {
            continue;
        }
        if now - meta.last_modified < grace {
            *young += 1;
        } else {
            garbage.push(Garbage {
                path: meta.location.to_string(),
                size: meta.size,
                last_modified: meta.last_modified,
            });
        }
    }
    garbage
}
