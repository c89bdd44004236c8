//! PostgreSQL WAL archiving: what `tern wal-push` (PostgreSQL's `archive_command`) and `tern
//! wal-fetch` (its `restore_command`) do.
//!
//! Each archived file has a name entry `catalog/<service>/wal/<name>.json` holding the backup
//! that stores it and the BLAKE3 of its bytes. Pushing the same file again is success (PostgreSQL
//! retries an archive command whose answer it did not see); other bytes under an archived name
//! are an error, so a second cluster archiving into the same service cannot overwrite history.
//! The entry is claimed before the data is written and points at a backup whose record and
//! segment record are written last, so a push killed half-way is redone by the next attempt,
//! and a fetch finds only complete files.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tern_catalog::{BackupKind, BackupStatus, Catalog, CatalogExt, ConsistentPoint, LogSegment, Version};
use tern_db::ENGINE_LABEL;
use tern_db::postgres::{PostgresTools, WalName, describe_wal};
use tern_engine::Repository;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// The name entry of an archived WAL file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalEntry {
    /// The file's name.
    pub name: String,
    /// The backup (kind `log`) that stores it.
    pub backup: tern_catalog::BackupId,
    /// BLAKE3 of its bytes, hex.
    pub blake3: String,
    /// Its size.
    pub size: u64,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Archived now.
    Archived(WalEntry),
    /// It was already archived with the same bytes.
    AlreadyArchived(WalEntry),
}

fn entry_key(service: &str, name: &str) -> String {
    format!("catalog/{service}/wal/{name}.json")
}

/// The name entry at `key`, with its version.
async fn read_entry(catalog: &impl Catalog, key: &str, name: &str) -> Result<Option<(WalEntry, Version)>> {
    let Some((body, version)) = catalog.read(key).await.map_err(tern_engine::Error::from)? else {
        return Ok(None);
    };
    let entry = serde_json::from_slice(&body)
        .map_err(|e| Error::Invalid(format!("the catalog entry of {name} is damaged: {e}")))?;
    Ok(Some((entry, version)))
}

/// Removes the name entry of `name` if it points at `backup` (retention is deleting that
/// backup). An entry pointing elsewhere is left alone.
pub async fn forget(repo: &Repository, service: &str, name: &str, backup: &tern_catalog::BackupId) -> Result<()> {
    let catalog = repo.catalog();
    let key = entry_key(service, name);
    if let Some((entry, _)) = read_entry(&catalog, &key, name).await?
        && entry.backup == *backup
    {
        catalog.delete(&key).await.map_err(tern_engine::Error::from)?;
    }
    Ok(())
}

/// Archives the WAL file at `path` (a segment, a timeline history file or a backup history file)
/// for `service`.
pub async fn push(repo: &Repository, service: &str, path: &Path, tools: &PostgresTools) -> Result<Pushed> {
    tern_engine::check_service_name(service).map_err(Error::Invalid)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Invalid(format!("{} has no file name", path.display())))?
        .to_owned();
    let kind = WalName::parse(&name).ok_or_else(|| {
        Error::Invalid(format!("`{name}` is not a WAL file name (a segment, .history, .backup or .partial file)"))
    })?;
    let bytes =
        tokio::fs::read(path).await.map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let size = bytes.len() as u64;
    let catalog = repo.catalog();
    let key = entry_key(service, &name);
    let segment = matches!(kind, WalName::Segment { .. });
    // Described once, after a repeated or conflicting push has been answered (other bytes may
    // not even be a readable segment).
    let mut described = None;
    for _ in 0..3 {
        let version = match read_entry(&catalog, &key, &name).await? {
            Some((entry, version)) => {
                if entry.blake3 != digest {
                    return Err(Error::WalConflict { service: service.to_owned(), name, existing: entry.backup });
                }
                if complete(repo, service, &entry, segment).await? {
                    return Ok(Pushed::AlreadyArchived(entry));
                }
                Some(version) // claimed by a push that did not finish: take it over
            }
            None => None,
        };
        if segment && described.is_none() {
            described = Some(describe_wal(tools, path, &name).await?);
        }
        let mut builder =
            repo.backup(service).kind(BackupKind::Log).label("segment", &name).label(ENGINE_LABEL, "postgres");
        if let Some(file) = &described {
            builder = builder
                .consistent(ConsistentPoint { time: file.start_time, position: Some(file.start_position.clone()) });
        }
        let mut writer = builder.start().await?;
        let entry = WalEntry { name: name.clone(), backup: writer.id().clone(), blake3: digest.clone(), size };
        let body =
            serde_json::to_vec_pretty(&entry).map_err(|e| Error::Failed(format!("encoding {name}'s entry: {e}")))?;
        let body = bytes::Bytes::from(body);
        let claimed = match &version {
            None => catalog.create(&key, body).await,
            Some(v) => catalog.update(&key, body, v).await,
        };
        match claimed {
            Ok(_) => {}
            Err(tern_catalog::Error::Exists(_) | tern_catalog::Error::Conflict(_)) => {
                writer.abandon(&format!("another push of {name} claimed it first")).await;
                continue;
            }
            Err(e) => {
                writer.abandon(&e.to_string()).await;
                return Err(tern_engine::Error::from(e).into());
            }
        }
        if let Err(e) = writer.add_entry(&name, bytes.as_slice(), None).await {
            writer.abandon(&e.to_string()).await;
            return Err(e.into());
        }
        let summary = writer.commit().await?;
        if let Some(file) = &described {
            let segment = LogSegment {
                id: summary.id.clone(),
                service: service.to_owned(),
                name: name.clone(),
                start_position: file.start_position.clone(),
                end_position: file.end_position.clone(),
                start_time: file.start_time,
                end_time: file.end_time,
                size,
                region: None,
            };
            catalog.create_segment(&segment).await.map_err(tern_engine::Error::from)?;
        }
        return Ok(Pushed::Archived(entry));
    }
    Err(Error::Failed(format!("pushes of {name} kept racing; try again")))
}

/// Whether the push an entry names finished: its record succeeded and, for a segment, its
/// segment record exists.
async fn complete(repo: &Repository, service: &str, entry: &WalEntry, segment: bool) -> Result<bool> {
    let catalog = repo.catalog();
    let record = catalog.get_backup(service, &entry.backup).await.map_err(tern_engine::Error::from)?;
    if !record.is_some_and(|r| r.value.status == BackupStatus::Succeeded) {
        return Ok(false);
    }
    if !segment {
        return Ok(true);
    }
    let key = format!("catalog/{service}/logs/{}.json", entry.backup);
    Ok(catalog.read(&key).await.map_err(tern_engine::Error::from)?.is_some())
}

/// Fetches the archived WAL file `name` of `service` to `dest` (written to a temporary name
/// first, then renamed). `Ok(false)` when it is not archived, which is what PostgreSQL's
/// `restore_command` must say at the end of the archive.
pub async fn fetch(repo: &Repository, service: &str, name: &str, dest: &Path) -> Result<bool> {
    tern_engine::check_service_name(service).map_err(Error::Invalid)?;
    if WalName::parse(name).is_none() {
        return Err(Error::Invalid(format!("`{name}` is not a WAL file name")));
    }
    let catalog = repo.catalog();
    let from_entry = match read_entry(&catalog, &entry_key(service, name), name).await? {
        Some((entry, _)) => {
            let record = catalog.get_backup(service, &entry.backup).await.map_err(tern_engine::Error::from)?;
            record.filter(|r| r.value.status == BackupStatus::Succeeded).map(|r| r.value.id)
        }
        None => None,
    };
    // A region that received the backups by replication has the records, not the name entries.
    let id = match from_entry {
        Some(id) => Some(id),
        None => repo
            .list_backups(Some(service))
            .await?
            .into_iter()
            .filter(|r| r.kind == BackupKind::Log && r.labels.get("segment").is_some_and(|s| s == name))
            .max_by(|a, b| a.started.cmp(&b.started))
            .map(|r| r.id),
    };
    let Some(id) = id else { return Ok(false) };
    let tmp = dest.with_file_name(format!(".{name}.tern-partial"));
    let mut file = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| Error::Invalid(format!("cannot create {}: {e}", tmp.display())))?;
    let written = repo.restore(&id).entry(name).to_writer(&mut file).await;
    let synced = match written {
        Ok(_) => file.flush().await.and(file.sync_all().await).map_err(|e| Error::Invalid(e.to_string())),
        Err(e) => Err(e.into()),
    };
    drop(file);
    if let Err(e) = synced {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, dest).await.map_err(|e| Error::Invalid(format!("cannot write {}: {e}", dest.display())))?;
    Ok(true)
}
