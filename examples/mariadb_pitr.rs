//! MariaDB point-in-time recovery with a real server:
//! `cargo run --release -p tern-examples --example mariadb_pitr`
//!
//! Starts a private MariaDB server (tern-db's sandbox: its own directory under /tmp, a unix
//! socket, no TCP port), loads 100,000 orders and backs it up into a fresh encrypted repository
//! in a temporary folder: a full backup (mariadb-backup), 10,000 more orders, an incremental, the
//! closed binlogs. Then writes a marker row, picks a target time, writes a second marker and has
//! an "accident" (the new orders are deleted), archives the binlogs again and takes a logical
//! dump. Finally it restores to the target time (full + incremental + binlog replay) into a new
//! data directory, starts a server on it and checks that the first marker is there, the second
//! is not, and the orders are those the source held at the target time. It prints what each
//! backup took and stored, the restore plan and the restore's steps.
//!
//! Needs MariaDB's server and backup tools: `bash scripts/databases.sh` installs them (or `apt
//! install mariadb-server mariadb-backup`; `TERN_MARIADB_BIN` / `TERN_MARIADBD` point elsewhere).
//! Runs as root or as any user that can run them. Exits with status 2 when they are missing, 1
//! when a step or a check fails. Takes under a minute; everything is removed at the end.
// Byte counts are shown in KiB and MiB: the cast lint does not apply.
#![allow(clippy::cast_precision_loss)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tern_catalog::{BackupKind, CatalogExt, LogSegment, RestoreTarget};
use tern_db::mariadb::{MariadbTarget, MariadbTools};
use tern_db::sandbox::MariadbServer;
use tern_engine::{BackupSummary, InitOptions, Repository, UserKey};
use tern_service::db;

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const SERVICE: &str = "shop";

/// 100,000 orders, and the marker table whose rows tell which point a restore reached.
const SCHEMA: &str = "CREATE DATABASE shop; USE shop;
CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, note VARCHAR(64),
  created DATETIME NOT NULL) ENGINE=InnoDB;
CREATE TABLE shop.pitr_marker (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL,
  ts DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB;
INSERT INTO shop.orders (customer, note, created)
  SELECT 1 + seq % 1000, MD5(seq), '2026-01-01' + INTERVAL seq SECOND FROM shop.seq_1_to_100000;";

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

    /// A log archiving run: the sizes of the `log` backups that store its segments.
    async fn logs(repo: &Repository, took: Duration, segments: &[LogSegment]) -> Result<Self> {
        let (mut logical, mut new) = (0, 0);
        for segment in segments {
            let record = repo.catalog().get_backup(SERVICE, &segment.id).await?;
            let sizes = record.ok_or_else(|| format!("no record for the log backup {}", segment.id))?.value.sizes;
            logical += sizes.logical_bytes;
            new += sizes.new_bytes;
        }
        let what = match segments.len() {
            1 => "log archive (1 binlog)".to_owned(),
            n => format!("log archive ({n} binlogs)"),
        };
        Ok(Self { what, took, logical, new })
    }
}

/// What the source held at the target time.
#[derive(Debug, PartialEq)]
struct State {
    markers: Vec<String>,
    orders: u64,
}

async fn state(server: &MariadbServer) -> Result<State> {
    let markers = server.sql("SELECT label FROM shop.pitr_marker ORDER BY id").await?;
    let orders = server.value("SELECT COUNT(*) FROM shop.orders").await?.parse()?;
    Ok(State { markers: markers.into_iter().map(|row| row[0].clone()).collect(), orders })
}

async fn mark(server: &MariadbServer, label: &str) -> Result<()> {
    server.sql(&format!("INSERT INTO shop.pitr_marker(label) VALUES ('{label}')")).await?;
    Ok(())
}

/// Flushes dirty pages so that the next backup's `to_lsn` (the checkpoint) is current, which
/// keeps the following incremental small.
async fn checkpoint(server: &MariadbServer) -> Result<()> {
    server.sql("SET GLOBAL innodb_max_dirty_pages_pct_lwm=0.001; SET GLOBAL innodb_max_dirty_pages_pct=0.001").await?;
    for _ in 0..100 {
        let age = server.sql("SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'").await?;
        if age[0][1].parse::<u64>()? < 4096 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.sql("SET GLOBAL innodb_max_dirty_pages_pct=90; SET GLOBAL innodb_max_dirty_pages_pct_lwm=0").await?;
    Ok(())
}

/// Sleeps past a second boundary and returns a target time between two writes (binlog events
/// carry whole seconds).
async fn target_between() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let target = Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    target
}

/// The backups and the log archiving, on the running source server. Returns the measurements,
/// the target time and what the source held then.
async fn back_up(repo: &Repository, server: &MariadbServer) -> Result<(Vec<Measured>, DateTime<Utc>, State)> {
    let source = server.source().databases([SERVICE]);
    let mut measured = Vec::new();

    // A full physical backup (mariadb-backup), after a checkpoint.
    checkpoint(server).await?;
    let started = Instant::now();
    let full = db::backup(repo, SERVICE, &source, BackupKind::Full).await?;
    measured.push(Measured::backup("full (mariadb-backup)", started.elapsed(), &full));

    // 10 % more orders, then an incremental on top of the full: only the changed pages.
    server
        .sql("INSERT INTO shop.orders (customer, note, created) SELECT seq, 'batch-a', NOW() FROM shop.seq_1_to_10000")
        .await?;
    checkpoint(server).await?;
    let started = Instant::now();
    let incremental = db::backup(repo, SERVICE, &source, BackupKind::Incremental).await?;
    measured.push(Measured::backup("incremental (mariadb-backup)", started.elapsed(), &incremental));

    // The binlogs so far (`true`: the current one is closed first).
    let started = Instant::now();
    let archived = db::archive_logs(repo, SERVICE, &source, true).await?;
    measured.push(Measured::logs(repo, started.elapsed(), &archived).await?);

    // The target time lies between two markers; after the second, the "accident".
    mark(server, "before-target").await?;
    let at_target = state(server).await?;
    let target = target_between().await;
    mark(server, "after-target").await?;
    server.sql("DELETE FROM shop.orders WHERE note = 'batch-a'").await?;

    // The binlogs that hold the markers and the accident, then a logical dump.
    let started = Instant::now();
    let archived = db::archive_logs(repo, SERVICE, &source, true).await?;
    measured.push(Measured::logs(repo, started.elapsed(), &archived).await?);
    let started = Instant::now();
    let dump = db::backup(repo, SERVICE, &source, BackupKind::Dump).await?;
    measured.push(Measured::backup("dump (mariadb-dump)", started.elapsed(), &dump));
    Ok((measured, target, at_target))
}

/// Starts a server on a restored data directory, reads what it holds, stops it.
async fn restored_state(tools: &MariadbTools, data_dir: &Path) -> Result<State> {
    let server = MariadbServer::open(tools.clone(), data_dir).await?;
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

async fn run() -> Result<ExitCode> {
    let tools = MariadbTools::from_env();
    if !tools.mariadbd.exists() || !tools.bin_dir.join("mariadb-backup").exists() {
        eprintln!(
            "MariaDB is not installed ({} or {} is missing).\n\
             Install it with `bash scripts/databases.sh` (or `apt install mariadb-server mariadb-backup`),\n\
             or point TERN_MARIADB_BIN and TERN_MARIADBD at its tools.",
            tools.mariadbd.display(),
            tools.bin_dir.join("mariadb-backup").display()
        );
        return Ok(ExitCode::from(2));
    }
    let work = tempfile::Builder::new().prefix("tern-mariadb-pitr-").tempdir()?;

    // 1. A fresh encrypted repository in a local folder (fsync on). The passphrase's key slot
    //    uses the default Argon2id cost (64 MiB, 3 passes): a few hundred milliseconds, once.
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(tern_storage::LocalStore::open(&work.path().join("repo"), true)?);
    let repo = Repository::init(store, InitOptions::encrypted(UserKey::passphrase("mariadb-pitr example"))).await?;
    println!("repository: {} (encrypted)", work.path().join("repo").display());

    // 2. A source server with data; back it up. The server is stopped whatever happened.
    let server = MariadbServer::start(tools.clone()).await?;
    println!("source: a sandbox MariaDB server, data in {}", server.data_dir().display());
    let loaded = server.sql(SCHEMA).await;
    let backed_up = match loaded {
        Ok(_) => back_up(&repo, &server).await,
        Err(e) => Err(e.into()),
    };
    let stopped = server.stop().await;
    let (measured, target, at_target) = backed_up?;
    stopped?;

    println!("\nBackups (source: {} orders at the target time)", at_target.orders);
    println!("  {:<30} {:>9} {:>13} {:>13}", "job", "time", "logical", "stored new");
    for m in &measured {
        println!("  {:<30} {:>9} {:>13} {:>13}", m.what, seconds(m.took), size(m.logical), size(m.new));
    }

    // 3. Restore to the target time into a new data directory: the plan is made (and checked
    //    for gaps) before any work, then the full is restored, the incremental applied and the
    //    binlogs replayed up to the target.
    println!("\nTarget time: {}", target.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let data_dir = work.path().join("restored");
    let into = MariadbTarget::new(&data_dir).tools(tools.clone());
    let started = Instant::now();
    let restored = db::restore(&repo, SERVICE, &RestoreTarget::Time(target), &into).await?;
    let took = started.elapsed();
    println!("\n{}", restored.plan);
    println!("Restore: {} in total, {} read from the repository", seconds(took), size(restored.report.bytes_read));
    for (step, duration) in &restored.report.steps {
        println!("  {step:<40} {:>9}", seconds(*duration));
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
