//! A node: one `tern serve` process's scheduler and job runner, over the repositories of its
//! regions. Several nodes may share repositories; each due run is handled by exactly one of them
//! (see [`lease`](crate::lease)).
//!
//! [`Node::tick`] looks at the clock and starts what is due:
//!
//! - every enabled schedule of a configured service (`once` or cron, kinds full / incremental /
//!   dump / log), stored in the primary region's catalog;
//! - each service's log-archiving loop (MariaDB binlogs, every `log_interval`);
//! - each service's replication loop (every `replication_interval`, to the secondaries its
//!   replication settings name), which also measures the lag.
//!
//! A run that falls due while a job of the same kind of the same service is still running (on
//! any node) is skipped and counted, not queued. After a successful backup the service's
//! retention runs, then garbage collection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tern_catalog::{
    BackupFilter, BackupId, BackupKind, BackupRecord, BackupStatus, CatalogExt, Page, Paging, ReplicationConfig,
    RestoreId, RestoreJob, RestoreTarget as Target, Schedule, ScheduleId, ScheduleSpec,
};
use tern_db::{BackupSource, ENGINE_LABEL, Engine, RestoreTarget};
use tern_engine::{Repository, UserKey};
use tern_pitr::{RecoveryWindow, RestorePlan};
use tern_replicator::copy::{CopyOptions, CopyReport};
use tern_replicator::lag::{LagReport, Period};
use tern_storage::Location;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::lease::Leases;
use crate::metrics::{self, Metrics};
use crate::retention::Retention;
use crate::schedule;

/// A database service this node backs up.
#[derive(Clone)]
pub struct ServiceSpec {
    /// Its name (the catalog's service).
    pub name: String,
    /// Where backups come from.
    pub source: Arc<dyn BackupSource>,
    /// What to keep.
    pub retention: Retention,
    /// How often to archive closed logs (MariaDB binlogs); `None` leaves it to `log` schedules
    /// (or, for PostgreSQL, to `archive_command`).
    pub log_interval: Option<Duration>,
    /// How often to copy to the secondary regions named by the service's replication settings.
    pub replication_interval: Option<Duration>,
}

impl fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSpec")
            .field("name", &self.name)
            .field("engine", &self.source.engine())
            .field("retention", &self.retention)
            .field("log_interval", &self.log_interval)
            .field("replication_interval", &self.replication_interval)
            .finish_non_exhaustive()
    }
}

/// Makes the restore target of a restore job.
pub trait Targets: Send + Sync + fmt::Debug {
    /// A target restoring a backup of `engine` into the new directory `dir`.
    fn target(&self, engine: Engine, dir: &Path) -> Result<Box<dyn RestoreTarget>>;
}

/// Restores with the databases' own tools, found as `tern-db` finds them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ToolTargets;

impl Targets for ToolTargets {
    fn target(&self, engine: Engine, dir: &Path) -> Result<Box<dyn RestoreTarget>> {
        Ok(match engine {
            Engine::Mariadb => Box::new(tern_db::mariadb::MariadbTarget::new(dir)),
            Engine::Postgres => {
                Box::new(tern_db::postgres::PostgresTarget::new(dir, tern_db::postgres::PostgresTools::from_env()?))
            }
        })
    }
}

/// How a node is set up.
#[derive(Debug)]
pub struct NodeOptions {
    /// This node's id (lease holder name); unique among the nodes sharing a repository.
    pub id: String,
    /// The region whose repository takes new backups and holds the schedules.
    pub primary_region: String,
    /// Every region's repository, unlocked.
    pub regions: BTreeMap<String, Repository>,
    /// The services.
    pub services: Vec<ServiceSpec>,
    /// Where the time comes from.
    pub clock: Arc<dyn Clock>,
    /// Restore jobs restore into `<restore_dir>/<restore id>`.
    pub restore_dir: PathBuf,
    /// Makes restore targets.
    pub targets: Arc<dyn Targets>,
    /// How long a job lease lasts without renewal (renewed every third of it).
    pub lease_ttl: Duration,
    /// Unreferenced data younger than this survives garbage collection.
    pub gc_grace: Duration,
    /// Whether users' buckets (copies, restores) may name their own `endpoint` or use plain
    /// HTTP. Off by default: such a request would make this server call any address the caller
    /// chooses, inside its own network.
    pub allow_external_endpoints: bool,
}

impl NodeOptions {
    /// Options with defaults: a random node id, the system clock, the tools' restore targets, a
    /// 2-minute lease and a 24-hour GC grace.
    pub fn new(primary_region: impl Into<String>, regions: BTreeMap<String, Repository>, restore_dir: PathBuf) -> Self {
        Self {
            id: format!("node-{:08x}", rand_u32()),
            primary_region: primary_region.into(),
            regions,
            services: Vec::new(),
            clock: Arc::new(crate::clock::SystemClock),
            restore_dir,
            targets: Arc::new(ToolTargets),
            lease_ttl: Duration::from_secs(120),
            gc_grace: Duration::from_secs(24 * 3600),
            allow_external_endpoints: false,
        }
    }
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}

/// A job this node handled: a backup, a log-archiving run, a replication pass or a restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Job {
    /// `<service>/<schedule id | archive | replicate>/<due time>`, or the restore id.
    pub id: String,
    /// The service.
    pub service: String,
    /// `full`, `incremental`, `dump`, `log`, `replication` or `restore`.
    pub kind: String,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// `scheduled` → `running` → `succeeded` | `failed` (with the reason).
    pub status: BackupStatus,
    /// The backups it wrote.
    pub backups: Vec<BackupId>,
}

/// What a tick found due.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Jobs started.
    pub started: Vec<String>,
    /// Due runs skipped because the same kind of the same service was still running.
    pub skipped: Vec<String>,
    /// Due runs that could not be handled (retried at the next tick).
    pub errors: Vec<String>,
}

/// A restore request.
#[derive(Debug)]
pub struct RestoreRequest {
    /// The service (in the external repository, for an external source).
    pub service: String,
    /// To what.
    pub target: Target,
    /// Where from.
    pub source: RestoreSource,
}

/// Where a restore reads from.
#[allow(clippy::large_enum_variant)] // one per request, never stored in bulk
pub enum RestoreSource {
    /// A configured region (`None`: the primary).
    Region(Option<String>),
    /// A repository outside the configuration (a user's bucket).
    External {
        /// Where it is, with its credentials.
        location: Location,
        /// The key that unlocks it (`None` for an unencrypted repository).
        key: Option<UserKey>,
    },
}

impl fmt::Debug for RestoreSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region(r) => f.debug_tuple("Region").field(r).finish(),
            Self::External { location, key } => f
                .debug_struct("External")
                .field("location", &location.to_string())
                .field("key", &key.as_ref().map(|_| tern_storage::REDACTED))
                .finish(),
        }
    }
}

/// Where a copy goes.
#[allow(clippy::large_enum_variant)] // one per request, never stored in bulk
pub enum CopyDestination {
    /// A configured region.
    Region(String),
    /// A user's bucket: its repository, unlocked with `key`, or a new one made there with `key`
    /// (required); the copy is re-encrypted for it.
    External {
        /// Where it is, with its credentials.
        location: Location,
        /// The key of an existing repository there.
        key: Option<UserKey>,
    },
}

/// The recovery windows of a service in one region.
#[derive(Clone, Debug, Serialize)]
pub struct RegionWindows {
    /// The region.
    pub region: String,
    /// Whether it is the primary.
    pub primary: bool,
    /// Its windows, oldest first.
    pub windows: Vec<RecoveryWindow>,
}

/// A change to a schedule.
#[derive(Clone, Debug, Default)]
pub struct SchedulePatch {
    /// A new cron expression.
    pub cron: Option<String>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
}

/// The lease a restore job holds while a node runs it.
fn restore_lease(service: &str, id: &RestoreId) -> String {
    format!("leases/jobs/{service}/restore-{id}.json")
}

/// A running (or finished) local task.
struct Running {
    handle: JoinHandle<()>,
    /// For a restore: its id and directory (cleaned when cancelled).
    restore: Option<(String, RestoreId, PathBuf)>,
}

struct Inner {
    options: NodeOptions,
    services: BTreeMap<String, ServiceSpec>,
    metrics: Metrics,
    leases: Leases,
    started: DateTime<Utc>,
    checked: Mutex<HashMap<String, DateTime<Utc>>>,
    busy: Mutex<HashSet<(String, String)>>,
    jobs: Mutex<Vec<Job>>,
    tasks: Mutex<Vec<Running>>,
    reconciled: Mutex<Option<Instant>>,
}

/// A node; cheap to clone (all clones are the same node).
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.inner.options.id)
            .field("primary_region", &self.inner.options.primary_region)
            .field("services", &self.inner.services.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The label naming the node (lease holder) that took a backup; a `running` record whose node
/// no longer holds the kind's lease was abandoned (the node stopped) and is marked `failed`.
pub const NODE_LABEL: &str = "tern.node";

/// At most this many finished jobs are remembered.
const JOB_HISTORY: usize = 1000;

fn catalog_error(e: tern_catalog::Error) -> Error {
    match e {
        tern_catalog::Error::NotFound(what) => Error::NotFound(format!("{what} not found")),
        tern_catalog::Error::HasDependents { .. }
        | tern_catalog::Error::Conflict(_)
        | tern_catalog::Error::Exists(_) => Error::Conflict(e.to_string()),
        tern_catalog::Error::InvalidArgument(m) => Error::Invalid(m),
        e => Error::Engine(e.into()),
    }
}

impl Node {
    /// A node over `options`' regions and services.
    pub fn new(options: NodeOptions) -> Result<Self> {
        let primary = options.regions.get(&options.primary_region).ok_or_else(|| {
            Error::Invalid(format!(
                "the primary region `{}` is not among the regions ({})",
                options.primary_region,
                options.regions.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let mut services = BTreeMap::new();
        for spec in &options.services {
            tern_catalog::check_service_name(&spec.name).map_err(Error::Invalid)?;
            spec.retention.validate().map_err(|e| Error::Invalid(format!("service {}: {e}", spec.name)))?;
            if services.insert(spec.name.clone(), spec.clone()).is_some() {
                return Err(Error::Invalid(format!("service {} is configured twice", spec.name)));
            }
        }
        // The holder name carries a per-process nonce: a restarted node (same id) never takes
        // for its own the claims and leases of its previous life.
        let leases = Leases::new(primary.store().clone(), format!("{}#{:08x}", options.id, rand_u32()));
        let started = options.clock.now();
        Ok(Self {
            inner: Arc::new(Inner {
                services,
                metrics: Metrics::new(),
                leases,
                started,
                checked: Mutex::new(HashMap::new()),
                busy: Mutex::new(HashSet::new()),
                jobs: Mutex::new(Vec::new()),
                tasks: Mutex::new(Vec::new()),
                reconciled: Mutex::new(None),
                options,
            }),
        })
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.inner.options.id
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.options.clock
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The primary region's name.
    pub fn primary_region(&self) -> &str {
        &self.inner.options.primary_region
    }

    /// The primary region's repository.
    pub fn primary(&self) -> &Repository {
        &self.inner.options.regions[&self.inner.options.primary_region]
    }

    /// Whether users' buckets may name their own endpoint ([`NodeOptions::allow_external_endpoints`]).
    pub fn allows_external_endpoints(&self) -> bool {
        self.inner.options.allow_external_endpoints
    }

    /// The names of the regions.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.inner.options.regions.keys().map(String::as_str)
    }

    /// A region's repository (`None`: the primary).
    pub fn region(&self, name: Option<&str>) -> Result<(&str, &Repository)> {
        let name = name.unwrap_or(&self.inner.options.primary_region);
        self.inner
            .options
            .regions
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
            .ok_or_else(|| Error::NotFound(format!("region `{name}` is not configured")))
    }

    /// A configured service.
    pub fn service(&self, name: &str) -> Result<&ServiceSpec> {
        self.inner.services.get(name).ok_or_else(|| Error::NotFound(format!("service `{name}` is not configured")))
    }

    /// The configured services' names.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.inner.services.keys().map(String::as_str)
    }

    /// Jobs this node handled (at most the last 1000), oldest first.
    pub fn jobs(&self) -> Vec<Job> {
        self.inner.jobs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    // ---- scheduling ------------------------------------------------------------------------

    /// Starts everything due at the clock's current time; see the [module](self) documentation.
    pub async fn tick(&self) -> Result<TickReport> {
        let now = self.clock().now();
        let mut report = TickReport::default();
        self.reconcile_if_due().await;
        let mut schedules = Vec::new();
        for service in self.inner.services.keys() {
            let page = self.primary().catalog().list_schedules(Some(service), Paging::all()).await;
            schedules.extend(page.map_err(catalog_error)?.items);
        }
        for s in schedules.into_iter().filter(|s| s.enabled) {
            let key = format!("schedule/{}", s.id);
            // Claims are permanent, so looking back to the schedule's creation (or last change)
            // is safe: a run missed while no node was up runs once (the latest), a run already
            // handled by any node is not run again.
            let after = match &s.spec {
                ScheduleSpec::Once(at) => {
                    self.checked(&key).unwrap_or(s.created.min(*at) - chrono::Duration::seconds(1))
                }
                ScheduleSpec::Cron(_) => {
                    let since = s.updated.unwrap_or(s.created).max(s.created);
                    self.checked(&key).map_or(since, |checked| checked.max(since))
                }
            };
            if let Some(due) = schedule::latest_due(&s.spec, after, now) {
                // A run that could not be handled (the store failing) is retried next tick; one
                // schedule's trouble does not hold the others back.
                match self.due(&s.service, &s.kind.to_string(), s.id.as_str(), due, &mut report).await {
                    Ok(()) => self.set_checked(&key, due),
                    Err(e) => report.errors.push(format!("schedule {}: {e}", s.id)),
                }
            }
        }
        let loops: Vec<(String, Option<Duration>, Option<Duration>)> =
            self.inner.services.values().map(|s| (s.name.clone(), s.log_interval, s.replication_interval)).collect();
        for (service, log_interval, replication_interval) in loops {
            for (job, kind, interval) in
                [("archive", "log", log_interval), ("replicate", "replication", replication_interval)]
            {
                let Some(interval) = interval else { continue };
                let key = format!("{job}/{service}");
                let back = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::zero());
                let after = self.checked(&key).unwrap_or(self.inner.started - back);
                if let Some(due) = schedule::interval_due(interval, after, now) {
                    let handled = async {
                        if kind == "replication" && self.secondaries(&service).await?.is_empty() {
                            return Ok(());
                        }
                        self.due(&service, kind, job, due, &mut report).await
                    }
                    .await;
                    match handled {
                        Ok(()) => self.set_checked(&key, due),
                        Err(e) => report.errors.push(format!("{job} of {service}: {e}")),
                    }
                }
            }
        }
        Ok(report)
    }

    /// Marks `failed` the `running` backups of this node's services whose node no longer holds
    /// the kind's lease: it stopped (killed, crashed) before the backup finished. At most once
    /// per lease time to live.
    async fn reconcile_if_due(&self) {
        {
            let mut last = self.inner.reconciled.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < self.inner.options.lease_ttl) {
                return;
            }
            *last = Some(Instant::now());
        }
        let services: Vec<String> = self.inner.services.keys().cloned().collect();
        for service in services {
            if let Err(e) = self.reconcile(&service).await {
                warn!(service, "cannot look for abandoned backups: {e}");
            }
            if let Err(e) =
                self.inner.leases.prune_claims(&format!("leases/runs/{service}"), chrono::Duration::days(1)).await
            {
                warn!(service, "cannot prune old claims: {e}");
            }
        }
    }

    /// Marks `failed` the `running` backups of `service` taken by a node that no longer holds the
    /// kind's lease (it stopped before the backup finished); returns them. Backups without the
    /// node label (taken by hand) are not judged. Ticks run this once per lease time to live.
    pub async fn reconcile(&self, service: &str) -> Result<Vec<BackupId>> {
        let catalog = self.primary().catalog();
        let filter = BackupFilter {
            service: Some(service.to_owned()),
            status: Some("running".into()),
            ..BackupFilter::default()
        };
        let running = catalog.list_backups(&filter, Paging::all()).await.map_err(catalog_error)?.items;
        let mut failed = Vec::new();
        for record in running {
            let Some(holder) = record.labels.get(NODE_LABEL) else { continue }; // not ours to judge
            let lease = format!("leases/jobs/{service}/{}.json", record.kind);
            if self.inner.leases.holder_of(&lease).await.map_err(catalog_error)?.as_ref() == Some(holder) {
                continue;
            }
            let Some(current) = catalog.get_backup(service, &record.id).await.map_err(catalog_error)? else { continue };
            if current.value.status != BackupStatus::Running {
                continue;
            }
            let mut value = current.value;
            value.status = BackupStatus::Failed {
                reason: format!("abandoned: node {holder} stopped before the backup finished (its data goes with GC)"),
            };
            value.finished = Some(Utc::now());
            match catalog.update_backup(&value, &current.version).await {
                Ok(_) => {
                    warn!(service, backup = %value.id, "marked an abandoned backup failed");
                    failed.push(value.id);
                }
                Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::NotFound(_)) => {} // it moved on
                Err(e) => return Err(catalog_error(e)),
            }
        }
        Ok(failed)
    }

    fn checked(&self, key: &str) -> Option<DateTime<Utc>> {
        self.inner.checked.lock().unwrap_or_else(PoisonError::into_inner).get(key).copied()
    }

    fn set_checked(&self, key: &str, at: DateTime<Utc>) {
        self.inner.checked.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_owned(), at);
    }

    /// Handles one due run: claims it (exactly one node does), skips it if the same kind is
    /// running, else starts it.
    async fn due(
        &self,
        service: &str,
        kind: &str,
        job: &str,
        due: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<()> {
        let id = format!("{service}/{job}/{}", due.format("%Y%m%dT%H%M%SZ"));
        let claim = format!("leases/runs/{id}.json");
        if !self.inner.leases.claim(&claim).await.map_err(catalog_error)? {
            return Ok(()); // another node has it
        }
        let busy_key = (service.to_owned(), kind.to_owned());
        let locally_busy = !self.inner.busy.lock().unwrap_or_else(PoisonError::into_inner).insert(busy_key.clone());
        let lease = if locally_busy {
            None
        } else {
            let lease_key = format!("leases/jobs/{service}/{kind}.json");
            let lease = self.inner.leases.acquire(&lease_key, self.inner.options.lease_ttl).await;
            if !matches!(lease, Ok(Some(_))) {
                self.inner.busy.lock().unwrap_or_else(PoisonError::into_inner).remove(&busy_key);
            }
            lease.map_err(catalog_error)?
        };
        let Some(lease) = lease else {
            warn!(service, kind, due = %due, "skipped: a {kind} job of {service} is still running");
            self.inner.metrics.skips.get_or_create(&metrics::job(service, kind)).inc();
            report.skipped.push(id);
            return Ok(());
        };
        self.record_job(Job {
            id: id.clone(),
            service: service.to_owned(),
            kind: kind.to_owned(),
            due,
            status: BackupStatus::Scheduled,
            backups: Vec::new(),
        });
        report.started.push(id.clone());
        let node = self.clone();
        let (service, kind) = (service.to_owned(), kind.to_owned());
        let handle = tokio::spawn(async move {
            let held = Arc::new(tokio::sync::Mutex::new(Some(lease)));
            // The job runs in a task of its own, so a panic in it is a failed job, not a node
            // that believes the kind is running forever.
            let work = {
                let (node, id, service, kind) = (node.clone(), id.clone(), service.clone(), kind.clone());
                tokio::spawn(async move { node.run_job(&id, &service, &kind).await })
            };
            let abort = work.abort_handle();
            let outcome = tokio::select! {
                joined = work => joined.unwrap_or_else(|e| Err(Error::Failed(format!("the job stopped: {e}")))),
                () = node.keep_lease(held.clone()) => {
                    abort.abort();
                    Err(Error::Failed("lost the job lease (the store did not answer, or another node took it)".into()))
                }
            };
            if let Some(lease) = held.lock().await.take()
                && let Err(e) = node.inner.leases.release(lease).await
            {
                warn!("cannot release a job lease (it expires by itself): {e}");
            }
            node.inner.busy.lock().unwrap_or_else(PoisonError::into_inner).remove(&(service.clone(), kind.clone()));
            node.finish_job(&id, &service, &kind, outcome);
        });
        self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner).push(Running { handle, restore: None });
        Ok(())
    }

    /// Renews the lease in `held` until dropped; returns only if the lease is lost.
    async fn keep_lease(&self, held: Arc<tokio::sync::Mutex<Option<crate::lease::Lease>>>) {
        let ttl = self.inner.options.lease_ttl;
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(ttl / 3).await;
            let mut held = held.lock().await;
            let Some(lease) = held.as_mut() else { return };
            match self.inner.leases.renew(lease, ttl).await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    *held = None;
                    return;
                }
                // Past its time to live another node may take it: stop rather than run twice.
                Err(e) if renewed.elapsed() >= ttl => {
                    warn!(lease = lease.key(), "cannot renew a job lease for its whole time to live: {e}");
                    *held = None;
                    return;
                }
                Err(e) => warn!(lease = lease.key(), "cannot renew a job lease (retrying): {e}"),
            }
        }
    }

    async fn run_job(&self, id: &str, service: &str, kind: &str) -> Result<Vec<BackupId>> {
        self.update_job(id, |j| j.status = BackupStatus::Running);
        self.inner.metrics.runs.get_or_create(&metrics::job(service, kind)).inc();
        let started = Instant::now();
        let outcome = self.run_job_inner(service, kind).await;
        self.inner
            .metrics
            .durations
            .get_or_create(&metrics::job(service, kind))
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    async fn run_job_inner(&self, service: &str, kind: &str) -> Result<Vec<BackupId>> {
        let spec = self.service(service)?.clone();
        let repo = self.primary().clone();
        let labels = metrics::job(service, kind);
        let ids = match kind {
            "replication" => {
                self.replicate(service).await?;
                Vec::new()
            }
            "log" => {
                let archived = crate::db::archive_logs(&repo, service, spec.source.as_ref(), true).await?;
                let bytes: u64 = archived.iter().map(|s| s.size).sum();
                self.inner.metrics.logical_bytes.get_or_create(&labels).inc_by(bytes);
                archived.into_iter().map(|s| s.id).collect()
            }
            _ => {
                let kind = match kind {
                    "full" => BackupKind::Full,
                    "incremental" => BackupKind::Incremental,
                    "dump" => BackupKind::Dump,
                    other => return Err(Error::Invalid(format!("`{other}` is not a backup kind"))),
                };
                let node_label = [(NODE_LABEL, self.inner.leases.holder())];
                let summary =
                    crate::db::backup_labeled(&repo, service, spec.source.as_ref(), kind, &node_label).await?;
                self.inner.metrics.logical_bytes.get_or_create(&labels).inc_by(summary.stats.logical_bytes);
                self.inner.metrics.stored_bytes.get_or_create(&labels).inc_by(summary.stats.new_bytes);
                vec![summary.id]
            }
        };
        if kind != "replication" {
            if !spec.retention.is_unlimited() {
                // Garbage collection waits while any other job holds a lease: a backup running
                // elsewhere may be reusing packs of a backup retention just deleted.
                // Its trouble is reported and counted, and does not fail the job that just
                // succeeded; the next job retries it.
                let own = format!("leases/jobs/{service}/{kind}.json");
                let retention = async {
                    let others = self.inner.leases.any_held("leases/jobs", &own).await.map_err(catalog_error)?;
                    let grace = (!others).then_some(self.inner.options.gc_grace);
                    crate::retention::apply(&repo, service, &spec.retention, self.clock().now(), grace, false).await
                };
                match retention.await {
                    Ok(report) if !report.expired.is_empty() => {
                        info!(service, expired = report.expired.len(), "retention deleted expired backups");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        warn!(service, "retention failed (retried after the next job): {e}");
                        self.inner.metrics.failures.get_or_create(&metrics::job(service, "retention")).inc();
                    }
                }
            }
            self.refresh_window(service).await;
        }
        Ok(ids)
    }

    fn finish_job(&self, id: &str, service: &str, kind: &str, outcome: Result<Vec<BackupId>>) {
        let labels = metrics::job(service, kind);
        match outcome {
            Ok(ids) => {
                #[allow(clippy::cast_precision_loss)] // Unix seconds fit an f64's mantissa
                let now = Utc::now().timestamp_millis() as f64 / 1000.0;
                self.inner.metrics.last_success.get_or_create(&labels).set(now);
                self.update_job(id, |j| {
                    j.status = BackupStatus::Succeeded;
                    j.backups = ids;
                });
            }
            Err(e) => {
                warn!(job = id, "job failed: {e}");
                self.inner.metrics.failures.get_or_create(&labels).inc();
                self.update_job(id, |j| j.status = BackupStatus::Failed { reason: e.to_string() });
            }
        }
    }

    fn record_job(&self, job: Job) {
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.push(job);
        if jobs.len() > JOB_HISTORY {
            let excess = jobs.len() - JOB_HISTORY;
            jobs.drain(..excess);
        }
    }

    fn update_job(&self, id: &str, f: impl FnOnce(&mut Job)) {
        if let Some(job) =
            self.inner.jobs.lock().unwrap_or_else(PoisonError::into_inner).iter_mut().rev().find(|j| j.id == id)
        {
            f(job);
        }
    }

    /// Waits until every job this node started has ended.
    pub async fn wait_idle(&self) {
        loop {
            let tasks: Vec<Running> =
                std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.handle.await;
            }
        }
    }

    /// Ticks every `poll` until `shutdown` completes, then waits for running jobs.
    pub async fn run(&self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(report) => {
                    for e in report.errors {
                        warn!("a due run could not be handled (retrying): {e}");
                    }
                }
                Err(e) => warn!("scheduler tick failed (retrying): {e}"),
            }
            self.reap();
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = &mut shutdown => break,
            }
        }
        self.wait_idle().await;
    }

    /// Forgets finished tasks.
    fn reap(&self) {
        self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner).retain(|t| !t.handle.is_finished());
    }

    /// Updates the recovery-window gauge of `service` in every region.
    async fn refresh_window(&self, service: &str) {
        match self.recovery_windows(service).await {
            Ok(regions) => {
                for r in regions {
                    if let Some(end) = r.windows.iter().map(|w| w.end).max() {
                        #[allow(clippy::cast_precision_loss)]
                        let end = end.timestamp_millis() as f64 / 1000.0;
                        self.inner.metrics.window_end.get_or_create(&metrics::region(service, &r.region)).set(end);
                    }
                }
            }
            Err(e) => warn!(service, "cannot compute the recovery windows: {e}"),
        }
    }

    // ---- replication -----------------------------------------------------------------------

    /// The configured secondary regions `service` replicates to (none when disabled or paused).
    async fn secondaries(&self, service: &str) -> Result<Vec<String>> {
        let config = tern_replicator::config::get(self.primary(), service).await?;
        Ok(config
            .filter(|c| c.enabled && c.paused.is_none())
            .map(|c| c.secondaries)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r != self.primary_region())
            .collect())
    }

    /// One replication pass of `service` to each of its secondaries, measuring the lag.
    async fn replicate(&self, service: &str) -> Result<()> {
        let mut failures = Vec::new();
        for region in self.secondaries(service).await? {
            // One unreachable or unknown secondary does not hold the others back.
            let secondary = match self.region(Some(&region)) {
                Ok((_, secondary)) => secondary.clone(),
                Err(e) => {
                    failures.push(format!("{region}: {e}"));
                    continue;
                }
            };
            let replicator =
                match tern_replicator::Replicator::new(self.primary().clone(), secondary.store().clone()).await {
                    Ok(r) => r,
                    Err(e) => {
                        failures.push(format!("{region}: {e}"));
                        continue;
                    }
                };
            match replicator.pass_and_measure(service).await {
                Ok((report, sample)) => {
                    self.inner
                        .metrics
                        .replication_lag
                        .get_or_create(&metrics::region(service, &region))
                        .set(sample.lag_secs);
                    if !report.damaged.is_empty() {
                        failures.push(format!("{region}: {} damaged packs not copied", report.damaged.len()));
                    }
                }
                Err(e) => failures.push(format!("{region}: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Failed(format!("replication of {service}: {}", failures.join("; "))))
        }
    }

    /// The replication settings of `service` (the defaults when it has none: disabled, no
    /// secondaries).
    pub async fn replication(&self, service: &str) -> Result<ReplicationConfig> {
        self.service(service)?;
        Ok(tern_replicator::config::get(self.primary(), service).await?.unwrap_or(ReplicationConfig {
            service: service.to_owned(),
            secondaries: Vec::new(),
            enabled: false,
            paused: None,
        }))
    }

    /// Replaces the replication settings of `service`. Every secondary must be a configured
    /// region other than the primary.
    pub async fn set_replication(
        &self,
        service: &str,
        secondaries: Vec<String>,
        enabled: bool,
        paused: Option<String>,
    ) -> Result<ReplicationConfig> {
        self.service(service)?;
        for region in &secondaries {
            if region == self.primary_region() {
                return Err(Error::Invalid(format!("`{region}` is the primary region; a secondary must be another")));
            }
            self.region(Some(region)).map_err(|e| Error::Invalid(e.to_string()))?;
        }
        if paused.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(Error::Invalid("a pause needs a reason".into()));
        }
        let config = ReplicationConfig { service: service.to_owned(), secondaries, enabled, paused };
        let catalog = self.primary().catalog();
        for _ in 0..5 {
            let current = catalog.get_replication(service).await.map_err(catalog_error)?;
            match catalog.put_replication(&config, current.as_ref().map(|c| &c.version)).await {
                Ok(_) => return Ok(config),
                Err(tern_catalog::Error::Conflict(_) | tern_catalog::Error::Exists(_)) => {}
                Err(e) => return Err(catalog_error(e)),
            }
        }
        Err(Error::Conflict(format!("the replication settings of {service} keep changing; try again")))
    }

    /// The lag report of `service` over `period`, one per secondary region.
    pub async fn lag_report(&self, service: &str, period: Period) -> Result<Vec<(String, LagReport)>> {
        let config = self.replication(service).await?;
        let mut out = Vec::new();
        for region in config.secondaries {
            let (_, repo) = self.region(Some(&region))?;
            out.push((region, tern_replicator::lag::report(repo, service, period, self.clock().now()).await?));
        }
        Ok(out)
    }

    /// The recovery windows of `service` in every region.
    pub async fn recovery_windows(&self, service: &str) -> Result<Vec<RegionWindows>> {
        tern_catalog::check_service_name(service).map_err(Error::Invalid)?;
        let mut out = Vec::new();
        for (name, repo) in &self.inner.options.regions {
            let catalog = repo.catalog();
            let filter = BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() };
            let records = catalog.list_backups(&filter, Paging::all()).await.map_err(catalog_error)?.items;
            let segments = catalog.list_segments(service).await.map_err(catalog_error)?;
            out.push(RegionWindows {
                region: name.clone(),
                primary: *name == self.inner.options.primary_region,
                windows: tern_pitr::recovery_windows(&records, &segments),
            });
        }
        Ok(out)
    }

    // ---- schedules -------------------------------------------------------------------------

    /// Creates a schedule. An incremental needs a full: a succeeded full backup of the service,
    /// or a full schedule.
    pub async fn create_schedule(&self, service: &str, kind: BackupKind, spec: ScheduleSpec) -> Result<Schedule> {
        let engine = self.service(service)?.source.engine();
        if engine == Engine::Postgres && matches!(kind, BackupKind::Incremental | BackupKind::Log) {
            return Err(Error::Invalid(format!(
                "service {service} is PostgreSQL: {kind} backups are not scheduled (no incrementals; WAL is archived by \
                 archive_command = 'tern wal-push …')"
            )));
        }
        schedule::validate(&spec).map_err(Error::Invalid)?;
        let catalog = self.primary().catalog();
        if kind == BackupKind::Incremental {
            let schedules = catalog.list_schedules(Some(service), Paging::all()).await.map_err(catalog_error)?.items;
            let filter = BackupFilter {
                service: Some(service.to_owned()),
                kind: Some(BackupKind::Full),
                status: Some("succeeded".into()),
                ..BackupFilter::default()
            };
            let fulls = catalog.list_backups(&filter, Paging::all()).await.map_err(catalog_error)?.total;
            if fulls == 0 && !schedules.iter().any(|s| s.kind == BackupKind::Full) {
                return Err(Error::Invalid(format!(
                    "service {service} has no full backup and no full schedule: an incremental needs a prior full"
                )));
            }
        }
        let now = self.clock().now();
        let schedule = Schedule {
            id: ScheduleId::at(now),
            service: service.to_owned(),
            kind,
            spec,
            enabled: true,
            created: now,
            updated: None,
        };
        catalog.create_schedule(&schedule).await.map_err(catalog_error)?;
        Ok(schedule)
    }

    /// Schedules, of one service or all, one page.
    pub async fn list_schedules(&self, service: Option<&str>, paging: Paging) -> Result<Page<Schedule>> {
        self.primary().catalog().list_schedules(service, paging).await.map_err(catalog_error)
    }

    /// One schedule, with its version.
    async fn find_schedule(&self, id: &ScheduleId) -> Result<tern_catalog::Versioned<Schedule>> {
        let catalog = self.primary().catalog();
        // The configured services first (one read each), then everything.
        for service in self.inner.services.keys() {
            if let Some(s) = catalog.get_schedule(service, id).await.map_err(catalog_error)? {
                return Ok(s);
            }
        }
        let all = catalog.list_schedules(None, Paging::all()).await.map_err(catalog_error)?.items;
        let found =
            all.into_iter().find(|s| s.id == *id).ok_or_else(|| Error::NotFound(format!("schedule {id} not found")))?;
        catalog
            .get_schedule(&found.service, id)
            .await
            .map_err(catalog_error)?
            .ok_or_else(|| Error::NotFound(format!("schedule {id} not found")))
    }

    /// One schedule.
    pub async fn get_schedule(&self, id: &ScheduleId) -> Result<Schedule> {
        Ok(self.find_schedule(id).await?.value)
    }

    /// The next time a schedule is due, if it will be again.
    pub fn next_run(&self, schedule: &Schedule) -> Option<DateTime<Utc>> {
        if !schedule.enabled {
            return None;
        }
        schedule::next_due(&schedule.spec, self.clock().now())
    }

    /// Changes a cron schedule (a `once` schedule cannot be changed: delete it and make another).
    pub async fn update_schedule(&self, id: &ScheduleId, patch: SchedulePatch) -> Result<Schedule> {
        let current = self.find_schedule(id).await?;
        if matches!(current.value.spec, ScheduleSpec::Once(_)) {
            return Err(Error::Conflict(format!(
                "schedule {id} runs once and cannot be changed; delete it and create another"
            )));
        }
        let mut schedule = current.value.clone();
        if let Some(cron) = patch.cron {
            schedule::parse_cron(&cron).map_err(Error::Invalid)?;
            schedule.spec = ScheduleSpec::Cron(cron);
        }
        if let Some(enabled) = patch.enabled {
            schedule.enabled = enabled;
        }
        // Runs due before the change are not caught up (re-enabling a schedule does not start
        // yesterday's run now).
        schedule.updated = Some(self.clock().now());
        self.primary().catalog().update_schedule(&schedule, &current.version).await.map_err(catalog_error)?;
        Ok(schedule)
    }

    /// Deletes a schedule (jobs it started keep running).
    pub async fn delete_schedule(&self, id: &ScheduleId) -> Result<Schedule> {
        let current = self.find_schedule(id).await?;
        self.primary().catalog().delete_schedule(&current.value.service, id).await.map_err(catalog_error)?;
        Ok(current.value)
    }

    // ---- backups ---------------------------------------------------------------------------

    /// Backups in a region (`None`: the primary), one page; each record names its region.
    pub async fn list_backups(
        &self,
        region: Option<&str>,
        mut filter: BackupFilter,
        paging: Paging,
    ) -> Result<Page<BackupRecord>> {
        let (name, repo) = self.region(region)?;
        filter.region = None;
        let mut page = repo.catalog().list_backups(&filter, paging).await.map_err(catalog_error)?;
        for r in &mut page.items {
            r.region = Some(name.to_owned());
        }
        Ok(page)
    }

    /// One backup, from a region (`None`: the primary).
    pub async fn get_backup(&self, region: Option<&str>, id: &BackupId) -> Result<BackupRecord> {
        let (name, repo) = self.region(region)?;
        let catalog = repo.catalog();
        // The configured services first (one read each), then a search of every service.
        let mut found = None;
        for service in self.inner.services.keys() {
            if let Some(r) = catalog.get_backup(service, id).await.map_err(catalog_error)? {
                found = Some(r.value);
                break;
            }
        }
        if found.is_none() {
            found = catalog.find_backup(id).await.map_err(catalog_error)?;
        }
        let mut record = found.ok_or_else(|| Error::NotFound(format!("backup {id} not found in region {name}")))?;
        record.region = Some(name.to_owned());
        Ok(record)
    }

    /// Deletes a backup from a region (its data goes with the next garbage collection). Refused
    /// while it is running or a kept incremental depends on it. A log backup's segment record
    /// goes first.
    pub async fn delete_backup(&self, region: Option<&str>, id: &BackupId) -> Result<BackupRecord> {
        let record = self.get_backup(region, id).await?;
        if record.status == BackupStatus::Running {
            return Err(Error::Conflict(format!("backup {id} is running; it can be deleted when it ends")));
        }
        let (_, repo) = self.region(region)?;
        let catalog = repo.catalog();
        if record.kind == BackupKind::Log {
            let segments = catalog.list_segments(&record.service).await.map_err(catalog_error)?;
            if let Some(segment) = segments.iter().find(|s| s.id == *id) {
                crate::wal::forget(repo, &record.service, &segment.name, id).await?;
            }
            catalog.delete_segment(&record.service, id).await.map_err(catalog_error)?;
        }
        catalog.delete_backup(&record.service, id, false).await.map_err(catalog_error)?;
        Ok(record)
    }

    /// Copies a backup of the primary, with the parents and log segments it needs, to another
    /// region or a user's bucket.
    pub async fn copy_backup(&self, id: &BackupId, to: CopyDestination) -> Result<CopyReport> {
        let from = self.primary();
        // Checked before the destination is touched: a copy that cannot start creates nothing.
        let closure = tern_replicator::copy::closure(from, id, true).await.map_err(|e| match e {
            tern_engine::Error::InvalidArgument(m) if m.contains("is not in the source") => Error::NotFound(m),
            tern_engine::Error::InvalidArgument(m) => Error::Conflict(m),
            e => Error::Engine(e),
        })?;
        let service = closure.first().map_or_else(String::new, |(r, _)| r.service.clone());
        let (destination, external) = match to {
            CopyDestination::Region(name) => {
                if name == self.primary_region() {
                    return Err(Error::Invalid(format!("`{name}` is the primary region, where the backup already is")));
                }
                (self.region(Some(&name)).map_err(|e| Error::Invalid(e.to_string()))?.1.clone(), None)
            }
            CopyDestination::External { location, key } => {
                let shown = location.to_string();
                (self.external_destination(&location, key).await?, Some(shown))
            }
        };
        // A lease while copying: garbage collection waits for the packs being read.
        let lease_key = format!("leases/jobs/{service}/copy-{}.json", rand_u32());
        let lease = self.inner.leases.acquire(&lease_key, self.inner.options.lease_ttl).await.map_err(catalog_error)?;
        let held = Arc::new(tokio::sync::Mutex::new(lease));
        let options = CopyOptions { with_logs: true, ..CopyOptions::default() };
        let copied = tokio::select! {
            copied = tern_replicator::copy::copy_backup(from, &destination, id, &options) => copied,
            () = self.keep_lease(held.clone()) => {
                return Err(Error::Failed("the copy lost its lease (the store did not answer)".into()));
            }
        };
        if let Some(lease) = held.lock().await.take() {
            let _ = self.inner.leases.release(lease).await;
        }
        match (copied, external) {
            (Ok(report), _) => Ok(report),
            // The user's bucket refusing or failing is not this service failing.
            (Err(e), Some(shown)) => Err(Error::Failed(format!("copy to {shown}: {e}"))),
            (Err(e), None) => Err(e.into()),
        }
    }

    /// A user's bucket as a copy destination: its repository, unlocked with `key`, or a new one
    /// made there with `key`. Never a clone of this repository's key slots: the bucket's owner
    /// gets a repository only their key opens, and the copy is re-encrypted for it.
    async fn external_destination(&self, location: &Location, key: Option<UserKey>) -> Result<Repository> {
        let shown = location.to_string();
        let key = key.ok_or_else(|| {
            Error::Invalid(format!(
                "external destination {shown}: an encryption_key is required (the copy is encrypted with it, never \
                 with this repository's keys)"
            ))
        })?;
        let store = location.open().map_err(|e| Error::Invalid(format!("external destination {shown}: {e}")))?;
        match Repository::open(store.clone(), Some(&key)).await {
            Ok(repo) => Ok(repo),
            Err(tern_engine::Error::NotARepository { .. }) => {
                Repository::init(store, tern_engine::InitOptions::encrypted(key)).await.map_err(|e| {
                    Error::Failed(format!("external destination {shown}: cannot create a repository: {e}"))
                })
            }
            Err(e @ (tern_engine::Error::WrongKey | tern_engine::Error::KeyRequired)) => {
                Err(Error::Invalid(format!("external destination {shown}: {e}")))
            }
            Err(e) => Err(Error::Failed(format!("external destination {shown}: {e}"))),
        }
    }

    // ---- restores --------------------------------------------------------------------------

    /// Plans a restore and starts it; the job is returned `scheduled` (the plan is made first,
    /// so a target that cannot be reached is refused with the planner's reason and no job).
    pub async fn start_restore(&self, request: RestoreRequest) -> Result<RestoreJob> {
        tern_catalog::check_service_name(&request.service).map_err(Error::Invalid)?;
        let (repo, region, external) = match request.source {
            RestoreSource::Region(region) => {
                let (name, repo) = self.region(region.as_deref()).map_err(|e| Error::Invalid(e.to_string()))?;
                (repo.clone(), Some(name.to_owned()), None)
            }
            RestoreSource::External { location, key } => {
                let display = location.to_string();
                let store = location
                    .open_existing()
                    .map_err(|e| Error::Invalid(format!("cannot open the external source: {e}")))?;
                let repo = Repository::open(store, key.as_ref())
                    .await
                    .map_err(|e| Error::Invalid(format!("cannot open the external source {display}: {e}")))?;
                (repo, None, Some(display))
            }
        };
        let plan: RestorePlan = crate::db::plan(&repo, &request.service, &request.target).await?;
        let engine = plan
            .base
            .labels
            .get(ENGINE_LABEL)
            .ok_or_else(|| {
                Error::Invalid(format!("backup {} was not taken from a database (no engine label)", plan.base.id))
            })
            .and_then(|e| Engine::parse(e).map_err(Error::Invalid))?;
        let now = self.clock().now();
        let id = RestoreId::at(now);
        let dir = self.inner.options.restore_dir.join(id.as_str());
        let target = self.inner.options.targets.target(engine, &dir)?;
        target.check(&plan)?;
        let mut backups: Vec<BackupId> = plan.backups().map(|b| b.id.clone()).collect();
        backups.extend(plan.segments.iter().map(|s| s.id.clone()));
        let job = RestoreJob {
            id: id.clone(),
            service: request.service.clone(),
            target: request.target,
            status: BackupStatus::Scheduled,
            created: now,
            finished: None,
            region,
            data_dir: Some(dir.display().to_string()),
            external_source: external,
            backups,
        };
        // The job's lease says a node is working on it (a restore whose node died is told apart
        // from one still running), and holds garbage collection back while it reads packs.
        let lease_key = restore_lease(&job.service, &id);
        let lease = self
            .inner
            .leases
            .acquire(&lease_key, self.inner.options.lease_ttl)
            .await
            .map_err(catalog_error)?
            .ok_or_else(|| Error::Conflict(format!("restore {id} is already leased")))?;
        let catalog = self.primary().catalog();
        let version = catalog.create_restore(&job).await.map_err(catalog_error)?;
        let node = self.clone();
        let running = job.clone();
        let handle = tokio::spawn(async move {
            let held = Arc::new(tokio::sync::Mutex::new(Some(lease)));
            tokio::select! {
                () = node.run_restore(running, version, repo, plan, target) => {}
                () = node.keep_lease(held.clone()) => warn!("restore lost its lease; another node may report it abandoned"),
            }
            if let Some(lease) = held.lock().await.take() {
                let _ = node.inner.leases.release(lease).await;
            }
        });
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Running { handle, restore: Some((job.service.clone(), id, dir)) });
        Ok(job)
    }

    async fn run_restore(
        &self,
        mut job: RestoreJob,
        version: tern_catalog::Version,
        repo: Repository,
        plan: RestorePlan,
        target: Box<dyn RestoreTarget>,
    ) {
        let catalog = self.primary().catalog();
        let labels = metrics::job(&job.service, "restore");
        job.status = BackupStatus::Running;
        let Ok(version) = catalog.update_restore(&job, &version).await else {
            warn!(restore = %job.id, "restore job changed or deleted before it started; not running it");
            return;
        };
        self.inner.metrics.runs.get_or_create(&labels).inc();
        let started = Instant::now();
        let outcome = target.restore(&plan, &crate::db::RepoArtifacts::new(repo)).await;
        self.inner.metrics.durations.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
        job.finished = Some(self.clock().now());
        job.status = match outcome {
            Ok(_) => BackupStatus::Succeeded,
            Err(e) => {
                self.inner.metrics.failures.get_or_create(&labels).inc();
                BackupStatus::Failed { reason: e.to_string() }
            }
        };
        // The end is recorded even through a passing storage failure (a job left `running` with
        // no node working on it would only be cleared by hand).
        let mut version = version;
        for attempt in 1..=5u64 {
            match catalog.update_restore(&job, &version).await {
                // Recorded, or deleted meanwhile.
                Ok(_) | Err(tern_catalog::Error::NotFound(_)) => break,
                Err(e) if attempt == 5 => warn!(restore = %job.id, "cannot record the end of the restore: {e}"),
                Err(tern_catalog::Error::Conflict(_)) => match catalog.get_restore(&job.service, &job.id).await {
                    Ok(Some(current)) => version = current.version,
                    Ok(None) => break, // deleted meanwhile
                    Err(e) => warn!(restore = %job.id, "cannot re-read the restore job: {e}"),
                },
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
            }
        }
    }

    /// Restore jobs, of one service or all, one page.
    pub async fn list_restores(&self, service: Option<&str>, paging: Paging) -> Result<Page<RestoreJob>> {
        self.primary().catalog().list_restores(service, paging).await.map_err(catalog_error)
    }

    /// One restore job, with its version.
    async fn find_restore(&self, id: &RestoreId) -> Result<RestoreJob> {
        let catalog = self.primary().catalog();
        for service in self.inner.services.keys() {
            if let Some(job) = catalog.get_restore(service, id).await.map_err(catalog_error)? {
                return Ok(job.value);
            }
        }
        let all = self.list_restores(None, Paging::all()).await?.items;
        all.into_iter().find(|j| j.id == *id).ok_or_else(|| Error::NotFound(format!("restore {id} not found")))
    }

    /// One restore job.
    pub async fn get_restore(&self, id: &RestoreId) -> Result<RestoreJob> {
        self.find_restore(id).await
    }

    /// Cancels a restore that has not finished (its partial data directory is removed), or
    /// deletes the record of one that has (the restored data directory stays). A job running on
    /// another node cannot be cancelled from here.
    pub async fn delete_restore(&self, id: &RestoreId) -> Result<RestoreJob> {
        let job = self.find_restore(id).await?;
        let catalog = self.primary().catalog();
        let finished = matches!(job.status, BackupStatus::Succeeded | BackupStatus::Failed { .. });
        if !finished {
            let local = {
                let mut tasks = self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner);
                tasks
                    .iter()
                    .position(|t| t.restore.as_ref().is_some_and(|(_, rid, _)| rid == id))
                    .map(|i| tasks.remove(i))
            };
            if let Some(task) = local {
                task.handle.abort();
                let cancelled = task.handle.await.is_err_and(|e| e.is_cancelled());
                // A restore that finished just before the abort keeps its directory.
                if let Some((_, _, dir)) = task.restore.as_ref().filter(|_| cancelled) {
                    let _ = tokio::fs::remove_dir_all(dir).await;
                }
                // The aborted task cannot release its lease: expire it.
                if let Some(lease) =
                    self.inner.leases.acquire(&restore_lease(&job.service, id), Duration::ZERO).await.ok().flatten()
                {
                    let _ = self.inner.leases.release(lease).await;
                }
            } else {
                let lease = restore_lease(&job.service, id);
                if self.inner.leases.is_held(&lease).await.map_err(catalog_error)? {
                    return Err(Error::Conflict(format!("restore {id} is running on another node; cancel it there")));
                }
                // Nobody holds it: the node that ran it stopped. Its partial directory is on
                // that node's disk; the record goes.
                warn!(restore = %id, "forgetting a restore abandoned by a node that stopped");
            }
        }
        catalog.delete_restore(&job.service, id).await.map_err(catalog_error)?;
        Ok(job)
    }
}
