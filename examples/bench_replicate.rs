//! The replication benchmark: `cargo run --release -p tern-examples --example bench_replicate -- --size 1GiB`
//!
//! For each pair of stores (primary → secondary), on database-like data (see `support/dbdata.rs`
//! for how it is made):
//!
//! 1. **backup 1**: a full backup of `--size` bytes, encrypted, to the primary (not timed here:
//!    `bench_engine` measures backups);
//! 2. **pass 1** (timed): a replicator pass that copies it to the empty secondary;
//! 3. **backup 2**: after changing 1 % of the data in one contiguous region and appending 1 %
//!    (the same change as `bench_engine`), with backup 1 as its parent;
//! 4. **pass 2** (timed): a pass that copies backup 2.
//!
//! It prints, for each pass: the backup's logical size, the bytes the pass sent to the secondary
//! (packs and manifests), the bytes that pass had to send — for pass 1 all of backup 1's packs
//! and its manifest, for pass 2 the packs backup 2 added in the primary and its manifest — and
//! their ratio (target, issue text: ≤ 1.05), the packs copied and already present, the wall time,
//! "logical MB/s" (the backup's logical bytes over the pass's time: how fast a backup of that
//! size is replicated) and "transfer MB/s" (bytes sent over the pass's time).
//!
//! Pairs (`--pairs local,cloud`, default both):
//! - `local`: local folder → local folder, two directories under `--dir` (fsync on);
//! - `cloud`: moto (S3) → azurite (Azure Blob), only when `TEST_S3_URL` and `TEST_AZURE_URL`
//!   are set, each repository under a new `bench-<unique>` prefix. Start the servers with
//!   `eval "$(bash scripts/object-stores.sh)"` (installs moto and azurite on first use, starts
//!   them on 127.0.0.1 and prints the `export` lines, bucket and credentials included) and stop
//!   them with `bash scripts/object-stores.sh stop`. moto is a Python server that keeps every
//!   object in memory (about 360 MB of it for 1 GiB), so this pair has its own size option
//!   (`--cloud-size`, default 1GiB); it measures the replicator's overhead against those
//!   emulators, not a cloud's throughput.
//!
//! Options: `--size N[KiB|MiB|GiB]` (local pair, default 1GiB), `--cloud-size N[KiB|MiB|GiB]`
//! (default 1GiB), `--pairs local,cloud`, `--concurrency N` (packs copied at once, default 4,
//! the replicator's default), `--dir PATH` (parent of the local repositories, default the system
//! temp directory), `--keep` (keep the repositories: local directories and cloud prefixes).
// Numbers here are byte counts and rates for reports, and deliberate truncations in synthetic
// data: the cast lints do not apply.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

#[path = "support/dbdata.rs"]
mod dbdata;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tern_engine::{
    BackupId, BackupOptions, BackupSummary, InitOptions, KdfParams, PackId, Repository, UserKey,
    manifest::ManifestIndex,
};
use tern_replicator::{PassReport, Replicator};
use tern_storage::Location;

type BoxError = Box<dyn std::error::Error>;

struct Args {
    size: u64,
    cloud_size: u64,
    pairs: Vec<String>,
    concurrency: usize,
    dir: std::path::PathBuf,
    keep: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        size: 1 << 30,
        cloud_size: 1 << 30,
        pairs: vec!["local".into(), "cloud".into()],
        concurrency: 4,
        dir: std::env::temp_dir(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--size" => a.size = dbdata::parse_size(&value()?)?,
            "--cloud-size" => a.cloud_size = dbdata::parse_size(&value()?)?,
            "--pairs" => a.pairs = value()?.split(',').map(|p| p.trim().to_owned()).collect(),
            "--concurrency" => a.concurrency = value()?.parse().map_err(|_| "bad --concurrency")?,
            "--dir" => a.dir = value()?.into(),
            "--keep" => a.keep = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if let Some(p) = a.pairs.iter().find(|p| !["local", "cloud"].contains(&p.as_str())) {
        return Err(format!("unknown pair `{p}` (known: local, cloud)"));
    }
    Ok(a)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    }
}

/// A unique suffix for this run's directories and prefixes.
fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:016x}", nanos as u64 ^ u64::from(std::process::id()))
}

/// `url` with `/<prefix>` appended to its path (before any `?options`).
fn with_prefix(url: &str, prefix: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{}/{prefix}?{query}", base.trim_end_matches('/')),
        None => format!("{}/{prefix}", url.trim_end_matches('/')),
    }
}

/// One measured pass.
struct Row {
    pair: &'static str,
    pass: &'static str,
    logical: u64,
    report: PassReport,
    /// What the pass had to send: the packs the secondary lacked, and the manifest.
    new: u64,
    secs: f64,
}

async fn backup(repo: &Repository, spec: dbdata::Spec, parent: Option<BackupId>) -> Result<BackupSummary, BoxError> {
    let start = Instant::now();
    let mut builder = repo.backup("db1").options(BackupOptions::default());
    if let Some(parent) = parent {
        builder = builder.parent(parent);
    }
    let mut writer = builder.start().await?;
    writer.add_entry("data", dbdata::Reader::new(spec), None).await?;
    let summary = writer.commit().await?;
    eprintln!(
        "  backup of {} in {:.1} s: {} of new blobs in {} new pack(s)",
        human(summary.stats.logical_bytes),
        start.elapsed().as_secs_f64(),
        human(summary.stats.new_bytes),
        summary.stats.new_packs
    );
    Ok(summary)
}

/// Bytes of the packs in `index` that are not in `old`, plus the manifest's.
async fn bytes_to_send(
    repo: &Repository,
    id: &BackupId,
    index: &ManifestIndex,
    old: &HashSet<PackId>,
) -> Result<u64, BoxError> {
    let packs: u64 = index.packs.iter().filter(|p| !old.contains(&p.id)).map(|p| p.size).sum();
    Ok(packs + repo.manifest_bytes(id).await?.len() as u64)
}

async fn timed_pass(replicator: &Replicator) -> Result<(PassReport, f64), BoxError> {
    let start = Instant::now();
    let report = replicator.pass(Some("db1")).await?;
    let secs = start.elapsed().as_secs_f64();
    if report.records_copied != 1 || !report.damaged.is_empty() || !report.skipped.is_empty() {
        return Err(format!("the pass did not copy exactly one backup: {report:?}").into());
    }
    eprintln!("  pass in {secs:.1} s: {} sent, {} pack(s) copied", human(report.bytes_copied), report.packs_copied);
    Ok((report, secs))
}

/// Backup 1, pass 1, backup 2 (1 % changed), pass 2.
async fn run_pair(
    pair: &'static str,
    primary: Arc<dyn ObjectStore>,
    secondary: Arc<dyn ObjectStore>,
    size: u64,
    concurrency: usize,
) -> Result<Vec<Row>, BoxError> {
    let key = UserKey::passphrase("bench");
    let primary =
        Repository::init(primary, InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key) })
            .await?;
    let replicator = Replicator::new(primary.clone(), secondary).await?.with_concurrency(concurrency);

    let first = backup(&primary, dbdata::base_spec(size), None).await?;
    let index1 = primary.manifest_index(&first.id).await?;
    let new1 = bytes_to_send(&primary, &first.id, &index1, &HashSet::new()).await?;
    let (report1, secs1) = timed_pass(&replicator).await?;

    let second = backup(&primary, dbdata::changed_spec(size), Some(first.id.clone())).await?;
    let index2 = primary.manifest_index(&second.id).await?;
    let old: HashSet<PackId> = index1.packs.iter().map(|p| p.id).collect();
    let new2 = bytes_to_send(&primary, &second.id, &index2, &old).await?;
    let (report2, secs2) = timed_pass(&replicator).await?;

    Ok(vec![
        Row { pair, pass: "1: full", logical: first.stats.logical_bytes, report: report1, new: new1, secs: secs1 },
        Row {
            pair,
            pass: "2: 1% changed + 1%",
            logical: second.stats.logical_bytes,
            report: report2,
            new: new2,
            secs: secs2,
        },
    ])
}

/// Deletes every object of `store` (a bucket prefix), walking it one level at a time.
async fn delete_all(store: &dyn ObjectStore) -> Result<(), BoxError> {
    let mut prefixes: Vec<Option<Path>> = vec![None];
    while let Some(prefix) = prefixes.pop() {
        let listed = store.list_with_delimiter(prefix.as_ref()).await?;
        for object in listed.objects {
            store.delete(&object.location).await?;
        }
        prefixes.extend(listed.common_prefixes.into_iter().map(Some));
    }
    Ok(())
}

async fn local_pair(args: &Args, unique: &str) -> Result<Vec<Row>, BoxError> {
    let parent = args.dir.join(format!("tern-bench-replicate-{unique}"));
    let (primary, secondary) = (parent.join("primary"), parent.join("secondary"));
    println!("local → local: {} (fsync on), {}", parent.display(), human(args.size));
    let rows = run_pair(
        "local→local",
        Location::local(&primary).open()?,
        Location::local(&secondary).open()?,
        args.size,
        args.concurrency,
    )
    .await;
    if args.keep {
        println!("kept {}", parent.display());
    } else {
        std::fs::remove_dir_all(&parent)?;
    }
    rows
}

async fn cloud_pair(args: &Args, unique: &str) -> Result<Option<Vec<Row>>, BoxError> {
    let (Ok(s3), Ok(az)) = (std::env::var("TEST_S3_URL"), std::env::var("TEST_AZURE_URL")) else {
        println!(
            "moto → azurite: skipped, TEST_S3_URL and TEST_AZURE_URL are not set. Start the servers with \
             `eval \"$(bash scripts/object-stores.sh)\"` (moto on 127.0.0.1:5000, azurite on 127.0.0.1:10000; \
             it prints the exports) and stop them with `bash scripts/object-stores.sh stop`."
        );
        return Ok(None);
    };
    let prefix = format!("bench-{unique}");
    let primary = Location::parse(&with_prefix(&s3, &prefix))?;
    let secondary = Location::parse(&with_prefix(&az, &prefix))?;
    println!("moto → azurite: {primary} → {secondary}, {}", human(args.cloud_size));
    let (primary, secondary) = (primary.open()?, secondary.open()?);
    let rows =
        run_pair("moto→azurite", Arc::clone(&primary), Arc::clone(&secondary), args.cloud_size, args.concurrency).await;
    if args.keep {
        println!("kept the `{prefix}` prefixes");
    } else {
        delete_all(primary.as_ref()).await?;
        delete_all(secondary.as_ref()).await?;
    }
    rows.map(Some)
}

fn print_report(rows: &[Row]) {
    let mbps = |bytes: u64, secs: f64| bytes as f64 / 1e6 / secs;
    println!(
        "\n{:<13} {:<19} {:>10} {:>11} {:>11} {:>10} {:>9} {:>7} {:>12} {:>13}",
        "pair", "pass", "logical", "sent", "new", "sent/new", "packs", "secs", "logical MB/s", "transfer MB/s"
    );
    for r in rows {
        println!(
            "{:<13} {:<19} {:>10} {:>11} {:>11} {:>10.3} {:>9} {:>7.2} {:>12.0} {:>13.0}",
            r.pair,
            r.pass,
            human(r.logical),
            human(r.report.bytes_copied),
            human(r.new),
            r.report.bytes_copied as f64 / r.new as f64,
            format!("{}/{}", r.report.packs_copied, r.report.packs_present),
            r.secs,
            mbps(r.logical, r.secs),
            mbps(r.report.bytes_copied, r.secs)
        );
    }
    println!(
        "\n(sent: pack and manifest bytes the pass wrote to the secondary; new: what it had to write, i.e. \
         the backup's packs the secondary lacked plus its manifest; packs: copied/already present)"
    );
    let worst = rows.iter().map(|r| r.report.bytes_copied as f64 / r.new as f64).fold(0.0, f64::max);
    let verdict = if worst <= 1.05 { "met" } else { "MISSED" };
    println!("target: sent/new ≤ 1.05 on every pass: worst {worst:.3}  {verdict}");
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = args()?;
    println!(
        "bench_replicate: database-like pages, AES-256-GCM, zstd level 3, backup 2 = 1% changed in one region + 1% \
         appended; {} packs copied at once",
        args.concurrency
    );
    let unique = unique();
    let mut rows = Vec::new();
    if args.pairs.iter().any(|p| p == "local") {
        rows.extend(local_pair(&args, &unique).await?);
    }
    if args.pairs.iter().any(|p| p == "cloud")
        && let Some(cloud) = cloud_pair(&args, &unique).await?
    {
        rows.extend(cloud);
    }
    if rows.is_empty() {
        println!("no pair ran");
    } else {
        print_report(&rows);
    }
    Ok(())
}
