//! Leases in the repository's object store, so that several nodes (`tern serve` processes)
//! sharing a repository run each job exactly once.
//!
//! Two kinds, both made of conditional puts (create-only, or update-if-unchanged), which every
//! supported store offers:
//!
//! - a **claim** (`leases/runs/<service>/<job>/<due time>.json`) is created once and never
//!   changes: the node whose create succeeds handles that due run (runs it, or skips it as an
//!   overlap); every other node sees it exists and leaves the run alone;
//! - a **lease** (`leases/jobs/<service>/<kind>.json`) says "a job of this kind is running on
//!   this node until `expires`". It is taken by creating it, or by replacing an expired one
//!   conditionally on the version read; renewed while the job runs; released (expired) when it
//!   ends. A node that dies holding one stops renewing, and the lease frees itself after its
//!   time to live.
//!
//! Lease expiry uses the machine's real time, not the scheduler's [`Clock`](crate::Clock): it is
//! about processes being alive, which a test's manual clock does not model.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use tern_catalog::{Catalog, StoreCatalog, Version};

/// A lease document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseDoc {
    /// The node holding it.
    pub holder: String,
    /// Until when (real time).
    pub expires: DateTime<Utc>,
}

/// A lease this node holds.
#[derive(Clone, Debug)]
pub struct Lease {
    key: String,
    version: Version,
}

impl Lease {
    /// The lease's object key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The leases and claims of one node in one repository.
#[derive(Clone, Debug)]
pub struct Leases {
    catalog: StoreCatalog,
    store: Arc<dyn ObjectStore>,
    holder: String,
}

impl Leases {
    /// Leases in `store`, taken in the name of `holder` (a node id).
    pub fn new(store: Arc<dyn ObjectStore>, holder: impl Into<String>) -> Self {
        Self { catalog: StoreCatalog::new(store.clone()), store, holder: holder.into() }
    }

    /// This node's id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Claims a due run: `true` for exactly one node per `key`, across all nodes, forever (the
    /// node that holds the claim gets `true` again, so a run it claimed but could not start, the
    /// store failing in between, is retried).
    pub async fn claim(&self, key: &str) -> tern_catalog::Result<bool> {
        match self.catalog.create(key, self.body(Duration::ZERO)).await {
            Ok(_) => Ok(true),
            Err(tern_catalog::Error::Exists(_)) => Ok(self.catalog.read(key).await?.is_some_and(|(body, _)| {
                serde_json::from_slice::<LeaseDoc>(&body).is_ok_and(|doc| doc.holder == self.holder)
            })),
            Err(e) => Err(e),
        }
    }

    /// Takes the lease `key` for `ttl`, unless another node holds it unexpired (`None`).
    pub async fn acquire(&self, key: &str, ttl: Duration) -> tern_catalog::Result<Option<Lease>> {
        let body = self.body(ttl);
        match self.catalog.create(key, body.clone()).await {
            Ok(version) => return Ok(Some(Lease { key: key.to_owned(), version })),
            Err(tern_catalog::Error::Exists(_)) => {}
            Err(e) => return Err(e),
        }
        let Some((current, version)) = self.catalog.read(key).await? else {
            // Deleted in between (by hand): try once more from scratch.
            return match self.catalog.create(key, body).await {
                Ok(version) => Ok(Some(Lease { key: key.to_owned(), version })),
                Err(tern_catalog::Error::Exists(_)) => Ok(None),
                Err(e) => Err(e),
            };
        };
        let held = serde_json::from_slice::<LeaseDoc>(&current).ok();
        if held.is_some_and(|h| h.expires > Utc::now() && h.holder != self.holder) {
            return Ok(None);
        }
        match self.catalog.update(key, body, &version).await {
            Ok(version) => Ok(Some(Lease { key: key.to_owned(), version })),
            Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Extends a held lease by `ttl` from now. `false` when it was lost (another node took it
    /// after it expired).
    pub async fn renew(&self, lease: &mut Lease, ttl: Duration) -> tern_catalog::Result<bool> {
        match self.catalog.update(&lease.key, self.body(ttl), &lease.version).await {
            Ok(version) => {
                lease.version = version;
                Ok(true)
            }
            Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives a lease up (marks it expired, conditionally: a lease lost meanwhile is left alone).
    pub async fn release(&self, lease: Lease) -> tern_catalog::Result<()> {
        let doc = LeaseDoc { holder: self.holder.clone(), expires: DateTime::<Utc>::UNIX_EPOCH };
        match self.catalog.update(&lease.key, encode(&doc), &lease.version).await {
            Ok(_) | Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The holder of the lease `key`, if it is held (unexpired).
    pub async fn holder_of(&self, key: &str) -> tern_catalog::Result<Option<String>> {
        let now = Utc::now();
        Ok(self
            .catalog
            .read(key)
            .await?
            .and_then(|(body, _)| serde_json::from_slice::<LeaseDoc>(&body).ok())
            .filter(|l| l.expires > now)
            .map(|l| l.holder))
    }

    /// Whether the lease `key` is held (unexpired), by any node.
    pub async fn is_held(&self, key: &str) -> tern_catalog::Result<bool> {
        Ok(self.holder_of(key).await?.is_some())
    }

    /// Whether any lease under `prefix` other than `except` is held (unexpired), by any node.
    pub async fn any_held(&self, prefix: &str, except: &str) -> tern_catalog::Result<bool> {
        for key in self.catalog.keys(prefix).await? {
            if key != except && self.holder_of(&key).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes old claims under `prefix` (`leases/runs/<service>`): for each job, all but its two
    /// newest due times, when written more than `min_age` ago. Only a job's latest due time can be
    /// claimed again (a look-back never reaches past it), so older claims are dead weight.
    /// Returns how many went.
    pub async fn prune_claims(&self, prefix: &str, min_age: chrono::Duration) -> tern_catalog::Result<usize> {
        use futures::TryStreamExt as _;
        let storage = |e| tern_catalog::Error::Storage { op: "list", key: prefix.to_owned(), source: e };
        let listed: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&object_store::path::Path::from(prefix))).try_collect().await.map_err(storage)?;
        let mut by_job: std::collections::BTreeMap<String, Vec<object_store::ObjectMeta>> =
            std::collections::BTreeMap::new();
        for meta in listed {
            let key = meta.location.to_string();
            let job = key.rsplit_once('/').map_or_else(String::new, |(dir, _)| dir.to_owned());
            by_job.entry(job).or_default().push(meta);
        }
        let day_ago = Utc::now() - min_age;
        let mut pruned = 0;
        for (_, mut claims) in by_job {
            claims.sort_by(|a, b| a.location.cmp(&b.location));
            let keep_from = claims.len().saturating_sub(2);
            for old in &claims[..keep_from] {
                if old.last_modified < day_ago {
                    self.catalog.delete(old.location.as_ref()).await?;
                    pruned += 1;
                }
            }
        }
        Ok(pruned)
    }

    fn body(&self, ttl: Duration) -> bytes::Bytes {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
        encode(&LeaseDoc { holder: self.holder.clone(), expires: Utc::now() + ttl })
    }
}

fn encode(doc: &LeaseDoc) -> bytes::Bytes {
    // A struct of a string and a time always serializes.
    serde_json::to_vec(doc).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Arc<dyn ObjectStore> {
        Arc::new(object_store::memory::InMemory::new())
    }

    #[tokio::test]
    async fn a_claim_is_won_once() {
        let store = store();
        let (a, b) = (Leases::new(store.clone(), "a"), Leases::new(store, "b"));
        assert!(a.claim("leases/runs/x/1.json").await.unwrap());
        assert!(!b.claim("leases/runs/x/1.json").await.unwrap());
        assert!(a.claim("leases/runs/x/1.json").await.unwrap(), "the holder may retry its own claim");
        assert!(b.claim("leases/runs/x/2.json").await.unwrap());
    }

    #[tokio::test]
    async fn old_claims_are_pruned_but_each_jobs_newest_two_stay() {
        let leases = Leases::new(store(), "a");
        for job in ["sched-1", "sched-2"] {
            for due in 1..=5 {
                assert!(leases.claim(&format!("leases/runs/shop/{job}/2026112{due}T030000Z.json")).await.unwrap());
            }
        }
        assert!(leases.claim("leases/runs/other/sched-9/20261121T030000Z.json").await.unwrap());
        assert_eq!(leases.prune_claims("leases/runs/shop", chrono::Duration::days(1)).await.unwrap(), 0, "too young");
        assert_eq!(leases.prune_claims("leases/runs/shop", chrono::Duration::zero()).await.unwrap(), 6);
        let left = leases.catalog.keys("leases/runs").await.unwrap();
        assert_eq!(left.len(), 5, "{left:?}");
        assert!(left.contains(&"leases/runs/shop/sched-1/20261125T030000Z.json".to_owned()));
        assert!(left.contains(&"leases/runs/shop/sched-2/20261124T030000Z.json".to_owned()));
        assert!(left.contains(&"leases/runs/other/sched-9/20261121T030000Z.json".to_owned()), "another service");
    }

    #[tokio::test]
    async fn a_lease_excludes_others_until_released_or_expired() {
        let store = store();
        let (a, b) = (Leases::new(store.clone(), "a"), Leases::new(store, "b"));
        let ttl = Duration::from_secs(60);
        let mut held = a.acquire("leases/jobs/x/full.json", ttl).await.unwrap().expect("free");
        assert!(b.acquire("leases/jobs/x/full.json", ttl).await.unwrap().is_none(), "held by a");
        assert!(a.renew(&mut held, ttl).await.unwrap());
        a.release(held).await.unwrap();
        let taken = b.acquire("leases/jobs/x/full.json", ttl).await.unwrap();
        assert!(taken.is_some(), "released");
        // An expired lease is taken over; its old holder learns it lost it.
        let mut short = a.acquire("leases/jobs/x/dump.json", Duration::ZERO).await.unwrap().unwrap();
        let stolen = b.acquire("leases/jobs/x/dump.json", ttl).await.unwrap();
        assert!(stolen.is_some(), "expired");
        assert!(!a.renew(&mut short, ttl).await.unwrap(), "lost");
        // b holds dump (and full): held apart from either one.
        assert!(a.any_held("leases/jobs", "leases/jobs/x/dump.json").await.unwrap());
        let lone = Leases::new(Arc::new(object_store::memory::InMemory::new()), "c");
        let own = lone.acquire("leases/jobs/y/full.json", ttl).await.unwrap().unwrap();
        assert!(!lone.any_held("leases/jobs", own.key()).await.unwrap(), "only its own");
        assert!(lone.is_held(own.key()).await.unwrap());
        let key = own.key().to_owned();
        lone.release(own).await.unwrap();
        assert!(!lone.is_held(&key).await.unwrap());
        assert!(!lone.is_held("leases/jobs/none.json").await.unwrap());
        assert!(!lone.any_held("leases/jobs", "").await.unwrap(), "released leases are not held");
    }
}
