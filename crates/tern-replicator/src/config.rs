//! A service's replication settings, kept in the primary's catalog
//! (`catalog/<service>/replication.json`).
//!
//! A service with no settings is enabled: it replicates whenever a pass runs (ad-hoc use from
//! the CLI), and pausing it records settings with the pause.
//! Enabling needs no downtime: the next pass copies what the secondary lacks. Pausing (with a
//! reason) and disabling stop new copies and keep everything already copied; the pass reports
//! the service as skipped, with the reason, and lag keeps being measured.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tern_engine::{InitOptions, Repository};
//! use tern_replicator::config;
//! use tern_storage::Location;
//!
//! let repo = Repository::init(Location::memory("config-doc").open()?, InitOptions::unencrypted()).await?;
//! config::enable(&repo, "db1", &["s3://backups-us/db1".to_owned()]).await?;
//! config::pause(&repo, "db1", "bucket migration").await?;
//! assert_eq!(config::held_back(&repo, "db1").await?.as_deref(), Some("paused: bucket migration"));
//! config::resume(&repo, "db1").await?;
//! assert_eq!(config::held_back(&repo, "db1").await?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use tern_catalog::{CatalogExt, ReplicationConfig};
use tern_engine::{Error, Repository, Result};

/// The settings of `service`, if it has any.
pub async fn get(repo: &Repository, service: &str) -> Result<Option<ReplicationConfig>> {
    Ok(repo.catalog().get_replication(service).await?.map(|v| v.value))
}

/// Why a pass leaves `service` alone (`disabled`, or `paused: <reason>`); `None` if it does not.
pub async fn held_back(repo: &Repository, service: &str) -> Result<Option<String>> {
    Ok(get(repo, service).await?.and_then(|c| match (c.enabled, c.paused) {
        (false, _) => Some("disabled".to_owned()),
        (true, Some(reason)) => Some(format!("paused: {reason}")),
        (true, None) => None,
    }))
}

/// Enables replication of `service` to `secondaries` (region names or locations in their
/// display form, which never carries credentials; empty keeps the ones recorded) and clears any
/// pause.
pub async fn enable(repo: &Repository, service: &str, secondaries: &[String]) -> Result<ReplicationConfig> {
    update(repo, service, |c| {
        c.enabled = true;
        c.paused = None;
        if !secondaries.is_empty() {
            c.secondaries = secondaries.to_vec();
        }
        Ok(())
    })
    .await
}

/// Pauses replication of an enabled `service`, with the reason reported by every pass.
pub async fn pause(repo: &Repository, service: &str, reason: &str) -> Result<ReplicationConfig> {
    if reason.trim().is_empty() {
        return Err(Error::InvalidArgument("a pause needs a reason".into()));
    }
    update(repo, service, |c| {
        if !c.enabled {
            return Err(Error::InvalidArgument(format!("replication of {service} is disabled; enable it first")));
        }
        c.paused = Some(reason.trim().to_owned());
        Ok(())
    })
    .await
}

/// Resumes a paused `service`.
pub async fn resume(repo: &Repository, service: &str) -> Result<ReplicationConfig> {
    update(repo, service, |c| {
        if !c.enabled {
            return Err(Error::InvalidArgument(format!("replication of {service} is disabled; enable it instead")));
        }
        c.paused = None;
        Ok(())
    })
    .await
}

/// Disables replication of `service`. What was copied stays in the secondary.
pub async fn disable(repo: &Repository, service: &str) -> Result<ReplicationConfig> {
    update(repo, service, |c| {
        c.enabled = false;
        c.paused = None;
        Ok(())
    })
    .await
}

/// Read, change, write conditionally; retried when another writer got in between.
async fn update(
    repo: &Repository,
    service: &str,
    change: impl Fn(&mut ReplicationConfig) -> Result<()>,
) -> Result<ReplicationConfig> {
    let catalog = repo.catalog();
    loop {
        let current = catalog.get_replication(service).await?;
        let (mut config, version) = match current {
            Some(v) => (v.value, Some(v.version)),
            None => (
                // No settings behaves as enabled.
                ReplicationConfig { service: service.to_owned(), secondaries: Vec::new(), enabled: true, paused: None },
                None,
            ),
        };
        change(&mut config)?;
        match catalog.put_replication(&config, version.as_ref()).await {
            Ok(_) => return Ok(config),
            Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::Exists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
