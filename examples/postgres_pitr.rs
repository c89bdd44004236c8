//! PostgreSQL point-in-time recovery with a real server:
//! `cargo run --release -p tern-examples --example postgres_pitr`
//!
//! Starts a private PostgreSQL cluster (tern-db's sandbox: its own directory under /tmp, a unix
//! socket, no TCP port) whose `archive_command` copies each finished WAL file into a spool
//! directory, loads 100,000 orders and backs it up into a fresh encrypted repository in a
//! temporary folder: a base backup (pg_basebackup), 10,000 more orders, a marker row, a target
//! time, a second marker and an "accident" (the new orders are deleted), then a logical dump.
//! Each spooled WAL file is pushed into the repository with `tern_service::wal::push`, the same
//! code `tern wal-push` runs when it is the `archive_command`. Finally it restores to the target
//! time (base backup + WAL replay) into a new data directory, starts a server on it and checks
//! that the first marker is there, the second is not, and the orders are those the source held
//! at the target time. It prints what each backup took and stored, the restore plan and the
//! restore's steps.
//!
//! Needs PostgreSQL's server packages: `bash scripts/databases.sh` installs them (or `apt install
//! postgresql`; `TERN_PG_BIN` points at another version's tools). PostgreSQL refuses to run as
//! root: when this runs as root, the servers run as the `postgres` OS user (`TERN_PG_OS_USER`
//! names another). Exits with status 2 when the tools are missing, 1 when a step or a check
//! fails. Takes under a minute; everything is removed at the end.
// Byte counts are shown in KiB and MiB: the cast lint does not apply.
#![allow(clippy::cast_precision_loss)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tern_catalog::{BackupKind, CatalogExt, RestoreTarget};
use tern_db::postgres::{PostgresTarget, PostgresTools};
use tern_db::sandbox::{PostgresOptions, PostgresServer};
use tern_engine::{BackupSummary, InitOptions, Repository, UserKey};
use tern_service::{db, wal};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const SERVICE: &str = "shop";

/// 100,000 orders, and the marker table whose rows tell which point a restore reached.
const SCHEMA: &str = "CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, note text,
  created timestamptz NOT NULL DEFAULT now());
CREATE TABLE pitr_marker (id serial PRIMARY KEY, label text NOT NULL, ts timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO orders (customer, note) SELECT 1 + g % 1000, md5(g::text) FROM generate_series(1, 100000) g;";

/// What the example measured of one backup job.
struct Measured {
    what: String,
    took: Duration,
    logical: u64,
    new: u64,
}

impl Measured {
    fn backup(what: &str, took: Duration, summary: &BackupSummary) -> Self {
        Self { what: what.into(), took, logical: summary.stats.logical_bytes, new: summary.stats.new_bytes }
    }
}

/// What the source held at the target time.
#[derive(Debug, PartialEq)]
struct State {
    markers: Vec<String>,
    orders: u64,
}

async fn state(server: &PostgresServer) -> Result<State> {
    let markers = server.sql(SERVICE, "SELECT label FROM pitr_marker ORDER BY id").await?;
    let orders = server.value(SERVICE, "SELECT count(*) FROM orders").await?.parse()?;
    Ok(State { markers, orders })
}

async fn mark(server: &PostgresServer, label: &str) -> Result<()> {
    server.sql(SERVICE, &format!("INSERT INTO pitr_marker(label) VALUES ('{label}')")).await?;
    Ok(())
}

/// Sleeps past a second boundary and returns a target time between two writes (kept the same
/// as for MariaDB, whose binlog events carry whole seconds).
async fn target_between() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let target = Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    target
}

/// Pushes every file the server archived into the spool, oldest first: what `archive_command =
/// 'tern wal-push …'` does, file by file. A file pushed before is recognised (same bytes) and
/// skipped. Measures the files archived now: the sizes of the `log` backups that store them.
async fn push_spool(repo: &Repository, spool: &Path, tools: &PostgresTools) -> Result<Measured> {
    let mut paths = std::fs::read_dir(spool)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    let started = Instant::now();
    let mut archived = Vec::new();
    for path in paths {
        if let wal::Pushed::Archived(entry) = wal::push(repo, SERVICE, &path, tools).await? {
            archived.push(entry);
        }
    }
    let took = started.elapsed();
    let (mut logical, mut new) = (0, 0);
    for entry in &archived {
        let record = repo.catalog().get_backup(SERVICE, &entry.backup).await?;
        let sizes = record.ok_or_else(|| format!("no record for the WAL backup {}", entry.backup))?.value.sizes;
        logical += sizes.logical_bytes;
        new += sizes.new_bytes;
    }
    Ok(Measured { what: format!("WAL archive ({} files)", archived.len()), took, logical, new })
}

/// The backups and the WAL archiving, on the running source server. Returns the measurements,
/// the target time and what the source held then.
async fn back_up(
    repo: &Repository,
    server: &PostgresServer,
    spool: &Path,
    tools: &PostgresTools,
) -> Result<(Vec<Measured>, DateTime<Utc>, State)> {
    let source = server.source(SERVICE);
    let mut measured = Vec::new();

    // A base backup (pg_basebackup). PostgreSQL 15 has no incremental base backups: the WAL
    // carries every change since.
    let started = Instant::now();
    let full = db::backup(repo, SERVICE, &source, BackupKind::Full).await?;
    measured.push(Measured::backup("full (pg_basebackup)", started.elapsed(), &full));

    // 10 % more orders; the target time lies between two markers; after the second, the
    // "accident".
    server
        .sql(SERVICE, "INSERT INTO orders (customer, note) SELECT g, 'batch-a' FROM generate_series(1, 10000) g")
        .await?;
    mark(server, "before-target").await?;
    let at_target = state(server).await?;
    let target = target_between().await;
    mark(server, "after-target").await?;
    server.sql(SERVICE, "DELETE FROM orders WHERE note = 'batch-a'").await?;

    let started = Instant::now();
    let dump = db::backup(repo, SERVICE, &source, BackupKind::Dump).await?;
    measured.push(Measured::backup("dump (pg_dump)", started.elapsed(), &dump));

    // Close the current WAL segment, which holds the markers, and wait until the archiver has
    // copied it into the spool; then push everything spooled into the repository (`tern
    // wal-push` does this as each file finishes; here it is done in one go, to time it).
    server.switch_wal_and_wait().await?;
    measured.push(push_spool(repo, spool, tools).await?);
    Ok((measured, target, at_target))
}

/// Starts a server on a restored data directory, reads what it holds, stops it.
async fn restored_state(tools: &PostgresTools, data_dir: &Path) -> Result<State> {
    let server = PostgresServer::open(tools.clone(), data_dir).await?;
    let read = state(&server).await;
    server.stop().await?;
    read
}

fn size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Prints one check and returns whether it held.
fn check(what: &str, held: bool) -> bool {
    println!("  [{}] {what}", if held { "ok" } else { "FAILED" });
    held
}

fn missing_tools(why: &str) -> ExitCode {
    eprintln!(
        "PostgreSQL is not installed ({why}).\n\
         Install it with `bash scripts/databases.sh` (or `apt install postgresql`),\n\
         or point TERN_PG_BIN at its tools (and TERN_PG_OS_USER at the user to run them as, when root)."
    );
    ExitCode::from(2)
}

async fn run() -> Result<ExitCode> {
    // As root, this looks up the `postgres` OS user, which the packages create.
    let tools = match PostgresTools::from_env() {
        Ok(tools) => tools,
        Err(e) => return Ok(missing_tools(&e.to_string())),
    };
    let postgres = tools.bin_dir.join("postgres");
    if !postgres.exists() {
        return Ok(missing_tools(&format!("{} is missing", postgres.display())));
    }

    // The work directory holds the spool and the restored data directory, which the server's
    // OS user must reach: temporary directories are 0700, so open it up to 0755.
    let work = tempfile::Builder::new().prefix("tern-postgres-pitr-").tempdir()?;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755))?;

    // 1. A fresh encrypted repository in a local folder (fsync on). The passphrase's key slot
    //    uses the default Argon2id cost (64 MiB, 3 passes): a few hundred milliseconds, once.
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(tern_storage::LocalStore::open(&work.path().join("repo"), true)?);
    let repo = Repository::init(store, InitOptions::encrypted(UserKey::passphrase("postgres-pitr example"))).await?;
    println!("repository: {} (encrypted)", work.path().join("repo").display());

    // 2. A source cluster whose archive_command copies each finished WAL file into the spool
    //    (never overwriting one), owned by the server's OS user. In production the
    //    archive_command is `tern wal-push … %p`, which calls the same `wal::push` as below.
    let spool = work.path().join("spool");
    tools.create_owned_dir(&spool)?;
    let archive_command = format!("test ! -f {0}/%f && cp -p %p {0}/%f", spool.display());
    let options = PostgresOptions { archive_command: Some(archive_command), env: Vec::new() };
    let server = PostgresServer::start(tools.clone(), options).await?;
    println!("source: a sandbox PostgreSQL cluster, data in {}", server.data_dir().display());

    // Load the data and back it up; the server is stopped whatever happened.
    let backed_up = async {
        server.sql("postgres", "CREATE DATABASE shop").await?;
        server.sql(SERVICE, SCHEMA).await?;
        back_up(&repo, &server, &spool, &tools).await
    }
    .await;
    let stopped = server.stop().await;
    let (measured, target, at_target) = backed_up?;
    stopped?;

    println!("\nBackups (source: {} orders at the target time)", at_target.orders);
    println!("  {:<30} {:>9} {:>13} {:>13}", "job", "time", "logical", "stored new");
    for m in &measured {
        println!("  {:<30} {:>9} {:>13} {:>13}", m.what, seconds(m.took), size(m.logical), size(m.new));
    }

    // 3. Restore to the target time into a new data directory: the plan is made (and checked
    //    for gaps) before any work, then the base backup is restored and a server replays the
    //    WAL (fetched from the repository) up to the target.
    println!("\nTarget time: {}", target.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let data_dir = work.path().join("restored");
    let into = PostgresTarget::new(&data_dir, tools.clone());
    let started = Instant::now();
    let restored = db::restore(&repo, SERVICE, &RestoreTarget::Time(target), &into).await?;
    let took = started.elapsed();
    println!("\n{}", restored.plan);
    println!("Restore: {} in total, {} read from the repository", seconds(took), size(restored.report.bytes_read));
    for (step, duration) in &restored.report.steps {
        println!("  {step:<40} {:>9}", seconds(*duration));
    }
    if let Some(stopped) = &restored.report.stopped {
        println!("PostgreSQL said: {stopped}");
    }

    // 4. Start the restored copy and check it.
    let found = restored_state(&tools, &data_dir).await?;
    println!("\nChecks on the restored server:");
    let checks = [
        check("marker before the target present", found.markers.iter().any(|m| m == "before-target")),
        check("marker after the target absent", !found.markers.iter().any(|m| m == "after-target")),
        check(
            &format!("{} orders, as the source at the target time ({})", found.orders, at_target.orders),
            found.orders == at_target.orders,
        ),
    ];
    if checks.contains(&false) {
        eprintln!("The restored server does not hold the source's state at the target time: {found:?}");
        return Ok(ExitCode::FAILURE);
    }
    println!("Restored to the target time.");
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
