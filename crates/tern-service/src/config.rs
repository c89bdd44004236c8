//! The `tern serve` configuration file (`tern.toml`): where to listen, who may call the API,
//! the regions' repositories, and the services with their database connections, schedules,
//! retention and replication.
//!
//! ```toml
//! listen = "127.0.0.1:8750"
//! primary_region = "eu"
//! restore_dir = "/var/lib/tern/restores"
//! key_file = "/etc/tern/key"          # or: passphrase_env = "TERN_PASSWORD"
//!
//! [regions]
//! eu = "/var/lib/tern/eu"
//! us = "s3://tern-backups-us/prod?region=us-east-1"
//!
//! [[tokens]]
//! name = "ops"
//! role = "admin"                      # admin | operator | viewer
//! blake3 = "…"                        # `tern config hash-token` prints it; the token is never stored
//!
//! [[services]]
//! name = "shop"
//! engine = "mariadb"
//! connect = "/etc/tern/shop.cnf"      # MariaDB: an option file; PostgreSQL: a conninfo
//! log_interval = "5m"
//! replication_interval = "1m"
//! retention = { keep_last = 7, max_age = "30d" }
//! schedules = [
//!   { kind = "full", cron = "0 3 * * *" },
//!   { kind = "incremental", cron = "0 */4 * * *" },
//! ]
//! ```
//!
//! Unknown keys are errors (a typo never silently disables a schedule).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use tern_catalog::{BackupKind, CatalogExt, Schedule, ScheduleId, ScheduleSpec};
use tern_db::Engine;
use tern_engine::{Repository, UserKey};
use tern_storage::Location;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::node::{Node, NodeOptions, ServiceSpec};
use crate::retention::Retention;

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Read, back up, restore and copy.
    Operator,
    /// Everything, including schedules and replication settings.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        })
    }
}

/// An API token: its name, its role and the BLAKE3 hash of its value (the value itself is never
/// stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// BLAKE3 of the token, 64 hex digits ([`hash_token`]).
    pub blake3: String,
}

/// The hash stored for a token.
pub fn hash_token(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// A configured schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// What to run.
    pub kind: BackupKind,
    /// A 5-field cron expression, UTC.
    pub cron: String,
}

/// A configured service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Its name.
    pub name: String,
    /// `mariadb` or `postgres`.
    pub engine: String,
    /// MariaDB: an option file (credentials stay in it); PostgreSQL: a conninfo.
    pub connect: String,
    /// MariaDB dumps: only these databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// Archive closed logs this often (MariaDB).
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub log_interval: Option<Duration>,
    /// Replicate to the secondaries in the service's replication settings this often.
    #[serde(default, deserialize_with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub replication_interval: Option<Duration>,
    /// Secondary regions to enable replication to when the service has no settings yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicate_to: Vec<String>,
    /// What to keep.
    #[serde(default)]
    pub retention: Retention,
    /// Schedules, created in the catalog at start when missing.
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the API listens (`127.0.0.1:8750` by default).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// This node's id, for logs and leases (a random one by default).
    #[serde(default)]
    pub node_id: Option<String>,
    /// The region taking new backups.
    pub primary_region: String,
    /// Region name → repository location (credentials from the environment, as the CLI).
    pub regions: BTreeMap<String, String>,
    /// A key file unlocking the repositories.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the passphrase (when there is no key file).
    #[serde(default)]
    pub passphrase_env: Option<String>,
    /// Restores go into `<restore_dir>/<restore id>`.
    pub restore_dir: PathBuf,
    /// How often the scheduler looks at the clock.
    #[serde(default = "default_poll", deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Job lease time to live.
    #[serde(default = "default_lease", deserialize_with = "duration")]
    pub lease_ttl: Duration,
    /// Whether users' buckets given to the API may name their own endpoint (or plain HTTP).
    #[serde(default)]
    pub allow_external_endpoints: bool,
    /// Garbage collection keeps unreferenced data younger than this.
    #[serde(default = "default_grace", deserialize_with = "duration")]
    pub gc_grace: Duration,
    /// API tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// The services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8750".into()
}
fn default_poll() -> Duration {
    Duration::from_secs(1)
}
fn default_lease() -> Duration {
    Duration::from_secs(120)
}
fn default_grace() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration (e.g. 30s, 5m, 1h): {e}"))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(d)?.map(|t| parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
}

impl Config {
    /// Parses and checks a configuration file's text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| Error::Invalid(format!("tern.toml: {e}")))?;
        config.check()?;
        Ok(config)
    }

    /// Reads, parses and checks a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// Every check that needs no network: regions parse, the primary is one of them, engines,
    /// cron expressions, retention, token hashes, names unique, `listen` an address.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(format!("listen: `{}` is not an address (e.g. 127.0.0.1:8750)", self.listen));
        }
        if !self.regions.contains_key(&self.primary_region) {
            return bad(format!("primary_region: `{}` is not in [regions]", self.primary_region));
        }
        for (name, location) in &self.regions {
            tern_catalog::check_service_name(name).map_err(|e| Error::Invalid(format!("regions: {e}")))?;
            Location::parse(location).map_err(|e| Error::Invalid(format!("regions.{name}: {e}")))?;
        }
        for (what, value, least) in [
            ("poll_interval", self.poll_interval, Duration::from_millis(100)),
            ("lease_ttl", self.lease_ttl, Duration::from_secs(10)),
        ] {
            if value < least || value > Duration::from_secs(7 * 86_400) {
                return bad(format!("{what}: between {} and 7d", humantime::format_duration(least)));
            }
        }
        if self.gc_grace > Duration::from_secs(365 * 86_400) {
            return bad("gc_grace: at most 365d".into());
        }
        if self.key_file.is_some() && self.passphrase_env.is_some() {
            return bad("key_file and passphrase_env: give one, not both".into());
        }
        let mut names = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for t in &self.tokens {
            if t.blake3.len() != 64 || !t.blake3.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad(format!(
                    "tokens.{}: blake3 must be 64 hex digits (`tern config hash-token` prints it)",
                    t.name
                ));
            }
            if !names.insert(&t.name) {
                return bad(format!("tokens: `{}` appears twice", t.name));
            }
            if !hashes.insert(t.blake3.to_ascii_lowercase()) {
                return bad(format!("tokens.{}: the same token as another entry", t.name));
            }
        }
        let mut services = std::collections::HashSet::new();
        for s in &self.services {
            let at = format!("services.{}", s.name);
            tern_catalog::check_service_name(&s.name).map_err(|e| Error::Invalid(format!("services: {e}")))?;
            if !services.insert(&s.name) {
                return bad(format!("services: `{}` appears twice", s.name));
            }
            let engine = Engine::parse(&s.engine).map_err(|e| Error::Invalid(format!("{at}.engine: {e}")))?;
            if engine == Engine::Postgres {
                if s.log_interval.is_some() {
                    return bad(format!(
                        "{at}.log_interval: PostgreSQL archives WAL through archive_command = 'tern wal-push …'"
                    ));
                }
                if let Some(i) =
                    s.schedules.iter().position(|sc| matches!(sc.kind, BackupKind::Incremental | BackupKind::Log))
                {
                    return bad(format!(
                        "{at}.schedules[{i}].kind: not for PostgreSQL (no incrementals; WAL via archive_command)"
                    ));
                }
                if !s.databases.is_empty() {
                    return bad(format!("{at}.databases: for MariaDB; name a PostgreSQL database in connect"));
                }
            }
            if s.connect.trim().is_empty() {
                return bad(format!("{at}.connect: empty"));
            }
            s.retention.validate().map_err(|e| Error::Invalid(format!("{at}.retention: {e}")))?;
            for r in &s.replicate_to {
                if !self.regions.contains_key(r) || *r == self.primary_region {
                    return bad(format!("{at}.replicate_to: `{r}` is not a secondary region in [regions]"));
                }
            }
            for (i, sc) in s.schedules.iter().enumerate() {
                crate::schedule::parse_cron(&sc.cron)
                    .map_err(|e| Error::Invalid(format!("{at}.schedules[{i}].cron: {e}")))?;
            }
            for (what, d) in [("log_interval", s.log_interval), ("replication_interval", s.replication_interval)] {
                if d.is_some_and(|d| d < Duration::from_secs(1)) {
                    return bad(format!("{at}.{what}: at least 1s"));
                }
            }
        }
        Ok(())
    }

    /// The key unlocking the repositories.
    pub fn key(&self) -> Result<Option<UserKey>> {
        if let Some(path) = &self.key_file {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::Invalid(format!("key_file: cannot read {}: {e}", path.display())))?;
            return Ok(Some(UserKey::key_file(bytes)?));
        }
        if let Some(var) = &self.passphrase_env {
            return match std::env::var(var) {
                Ok(p) if !p.is_empty() => Ok(Some(UserKey::passphrase(p))),
                _ => Err(Error::Invalid(format!("passphrase_env: {var} is not set"))),
            };
        }
        Ok(None)
    }

    /// Opens the regions' repositories: the primary must exist (`tern init`); a secondary that
    /// holds no repository yet becomes a clone of the primary's configuration (same keys).
    pub async fn open_regions(&self) -> Result<BTreeMap<String, Repository>> {
        let key = self.key()?;
        let open = |name: &str| -> Result<Arc<dyn object_store::ObjectStore>> {
            let location =
                Location::parse(&self.regions[name]).map_err(|e| Error::Invalid(format!("regions.{name}: {e}")))?;
            location.open().map_err(|e| Error::Invalid(format!("regions.{name}: {e}")))
        };
        let primary = Repository::open(open(&self.primary_region)?, key.as_ref()).await.map_err(|e| {
            Error::Invalid(format!("regions.{}: cannot open the primary repository: {e}", self.primary_region))
        })?;
        let mut out = BTreeMap::new();
        for name in self.regions.keys() {
            if *name == self.primary_region {
                continue;
            }
            let repo = tern_replicator::copy::destination(&primary, open(name)?, key.as_ref())
                .await
                .map_err(|e| Error::Invalid(format!("regions.{name}: {e}")))?;
            out.insert(name.clone(), repo);
        }
        out.insert(self.primary_region.clone(), primary);
        Ok(out)
    }

    /// Builds the node: opens the regions, makes the services' sources, creates the configured
    /// schedules that are missing and enables configured replication of services with none.
    pub async fn node(&self, clock: Arc<dyn Clock>) -> Result<Node> {
        let regions = self.open_regions().await?;
        let mut options = NodeOptions::new(self.primary_region.clone(), regions, self.restore_dir.clone());
        options.clock = clock;
        options.lease_ttl = self.lease_ttl;
        options.gc_grace = self.gc_grace;
        options.allow_external_endpoints = self.allow_external_endpoints;
        if let Some(id) = &self.node_id {
            options.id.clone_from(id);
        }
        for s in &self.services {
            let source: Arc<dyn tern_db::BackupSource> = match Engine::parse(&s.engine).map_err(Error::Invalid)? {
                Engine::Mariadb => {
                    Arc::new(tern_db::mariadb::MariadbSource::new(&s.connect).databases(s.databases.clone()))
                }
                Engine::Postgres => Arc::new(tern_db::postgres::PostgresSource::new(
                    &s.connect,
                    tern_db::postgres::PostgresTools::from_env()?,
                )),
            };
            options.services.push(ServiceSpec {
                name: s.name.clone(),
                source,
                retention: s.retention,
                log_interval: s.log_interval,
                replication_interval: s.replication_interval,
            });
        }
        let node = Node::new(options)?;
        self.seed(&node).await?;
        Ok(node)
    }

    /// Creates the configured schedules (ids derived from their content, so several nodes
    /// starting at once create each one once) and the configured replication settings.
    async fn seed(&self, node: &Node) -> Result<()> {
        let catalog = node.primary().catalog();
        let now = node.clock().now();
        for s in &self.services {
            let mut wanted = std::collections::HashSet::new();
            for sc in &s.schedules {
                let digest = blake3::hash(format!("{}\n{}\n{}", s.name, sc.kind, sc.cron).as_bytes()).to_hex();
                let id: ScheduleId = format!("cfg-{}", &digest[..16]).parse().map_err(Error::Invalid)?;
                wanted.insert(id.clone());
                if catalog.get_schedule(&s.name, &id).await.map_err(tern_engine::Error::from)?.is_some() {
                    continue;
                }
                let schedule = Schedule {
                    id,
                    service: s.name.clone(),
                    kind: sc.kind,
                    spec: ScheduleSpec::Cron(sc.cron.clone()),
                    enabled: true,
                    created: now,
                    updated: None,
                };
                match catalog.create_schedule(&schedule).await {
                    Ok(_) | Err(tern_catalog::Error::Exists(_)) => {}
                    Err(e) => return Err(tern_engine::Error::from(e).into()),
                }
            }
            // The file is the source of truth for its schedules (`cfg-…`): one removed or changed
            // there goes from the catalog too. Schedules made through the API are left alone.
            let existing = catalog
                .list_schedules(Some(&s.name), tern_catalog::Paging::all())
                .await
                .map_err(tern_engine::Error::from)?
                .items;
            for old in existing.iter().filter(|x| x.id.as_str().starts_with("cfg-") && !wanted.contains(&x.id)) {
                catalog.delete_schedule(&s.name, &old.id).await.map_err(tern_engine::Error::from)?;
                tracing::info!(service = s.name, schedule = %old.id, "removed a schedule no longer in the configuration");
            }
            if !s.replicate_to.is_empty() && tern_replicator::config::get(node.primary(), &s.name).await?.is_none() {
                node.set_replication(&s.name, s.replicate_to.clone(), true, None).await?;
            }
        }
        Ok(())
    }
}
