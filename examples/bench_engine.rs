//! The engine benchmark: `cargo run --release --example bench_engine -- --size 1GiB`
//!
//! In one run, on database-like data (see `support/dbdata.rs` for how it is made):
//!
//! 1. **reference**: zstd level 3 alone on the same data (1 MiB blocks, same number of threads);
//! 2. **backup**: a full backup, encrypted, to a local-folder repository (fsync on);
//! 3. **restore**: that backup, verified chunk by chunk and entry hash, to nowhere;
//! 4. **backup 2**: after changing 1 % of the data in one contiguous region and appending 1 %.
//!
//! Each phase runs in a child process of its own (the same program with `--phase`), so its peak
//! RSS (VmHWM) is its own and not memory an earlier phase left with the allocator. It prints
//! MB/s, the ratio to the reference, CPU time per GB (where the overhead is, independent of how
//! busy the machine is), stored and new bytes, and peak RSS. Targets (issue #3): backup ≥ 0.8 ×
//! reference; restore ≥ 1.5 × backup; backup 2 stores ≤ 5 % of backup 1's bytes; peak RSS ≤
//! 256 MiB.
//!
//! Options: `--size N[KiB|MiB|GiB]` (default 1GiB), `--workers N` (default all cores),
//! `--uploads N` (default 8), `--level N` (default 3), `--dir PATH` (repository parent directory,
//! default the system temp directory), `--keep` (keep the repository).
// Numbers here are byte counts and rates for reports, and deliberate truncations in synthetic
// data: the cast lints do not apply.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

#[path = "support/dbdata.rs"]
mod dbdata;

use std::process::Command;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use tern_engine::{BackupId, BackupOptions, InitOptions, KdfParams, Repository, RestoreOptions, UserKey};
use tern_storage::Location;

#[derive(Clone)]
struct Args {
    size: u64,
    workers: usize,
    uploads: usize,
    level: i32,
    dir: std::path::PathBuf,
    keep: bool,
    phase: Option<String>,
    repo: Option<std::path::PathBuf>,
    backup: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        size: 1 << 30,
        workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        uploads: 8,
        level: 3,
        dir: std::env::temp_dir(),
        keep: false,
        phase: None,
        repo: None,
        backup: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--size" => a.size = dbdata::parse_size(&value()?)?,
            "--workers" => a.workers = value()?.parse().map_err(|_| "bad --workers")?,
            "--uploads" => a.uploads = value()?.parse().map_err(|_| "bad --uploads")?,
            "--level" => a.level = value()?.parse().map_err(|_| "bad --level")?,
            "--dir" => a.dir = value()?.into(),
            "--keep" => a.keep = true,
            "--phase" => a.phase = Some(value()?),
            "--repo" => a.repo = Some(value()?.into()),
            "--backup" => a.backup = Some(value()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system) this process has used (Linux; USER_HZ is 100 by ABI).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// What a phase reports (one JSON line on the child's stdout).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Measured {
    bytes: u64,
    secs: f64,
    cpu: f64,
    stored: Option<u64>,
    new: Option<u64>,
    rss: Option<f64>,
    id: Option<String>,
}

/// zstd level 3 alone: the generator feeds 1 MiB blocks to `workers` threads.
fn reference(spec: dbdata::Spec, workers: usize, level: i32) -> (u64, u64) {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(workers * 2);
    let rx = Arc::new(Mutex::new(rx));
    let compressed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                s.spawn(move || {
                    let mut c = zstd::bulk::Compressor::new(level).unwrap();
                    let mut total = 0u64;
                    loop {
                        let block = rx.lock().unwrap().recv();
                        let Ok(block) = block else { break };
                        total += c.compress(&block).unwrap().len() as u64;
                    }
                    total
                })
            })
            .collect();
        let pages = spec.size / dbdata::PAGE as u64;
        let per_block = (1 << 20) / dbdata::PAGE as u64;
        let mut n = 0;
        while n < pages {
            let count = per_block.min(pages - n);
            let mut block = vec![0u8; count as usize * dbdata::PAGE];
            for (i, p) in block.chunks_exact_mut(dbdata::PAGE).enumerate() {
                dbdata::page(&spec, n + i as u64, p);
            }
            tx.send(block).unwrap();
            n += count;
        }
        drop(tx);
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    (spec.size / dbdata::PAGE as u64 * dbdata::PAGE as u64, compressed)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    }
}

async fn open_repo(args: &Args) -> Result<Repository, Box<dyn std::error::Error>> {
    let dir = args.repo.as_ref().ok_or("--repo is required")?;
    let store = Location::local(dir).open()?;
    let key = UserKey::passphrase("bench");
    Ok(match Repository::open(store.clone(), Some(&key)).await {
        Ok(repo) => repo,
        Err(tern_engine::Error::NotARepository { .. }) => {
            Repository::init(store, InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key) })
                .await?
        }
        Err(e) => return Err(e.into()),
    })
}

/// Runs one phase in this process and prints its measurement.
async fn run_phase(args: &Args, phase: &str) -> Result<(), Box<dyn std::error::Error>> {
    let options = BackupOptions {
        level: args.level,
        cpu_workers: args.workers,
        upload_concurrency: args.uploads,
        ..BackupOptions::default()
    };
    let (start, cpu0) = (Instant::now(), cpu_secs());
    let mut m = Measured::default();
    match phase {
        "reference" => {
            let (workers, level, spec) = (args.workers, args.level, dbdata::base_spec(args.size));
            let (logical, compressed) = tokio::task::spawn_blocking(move || reference(spec, workers, level)).await?;
            m.bytes = logical;
            m.stored = Some(compressed);
        }
        "backup" | "backup2" => {
            let repo = open_repo(args).await?;
            let mut builder = repo.backup("bench").options(options);
            let spec = if phase == "backup" {
                dbdata::base_spec(args.size)
            } else {
                builder = builder.parent(args.backup.as_deref().ok_or("--backup is required")?.parse::<BackupId>()?);
                dbdata::changed_spec(args.size)
            };
            let mut writer = builder.start().await?;
            writer.add_entry("data", dbdata::Reader::new(spec), None).await?;
            let record = writer.commit().await?;
            m.bytes = record.stats.logical_bytes;
            m.stored = Some(record.stats.stored_bytes);
            m.new = Some(record.stats.new_bytes);
            m.id = Some(record.id.to_string());
        }
        "restore" => {
            let repo = open_repo(args).await?;
            let id: BackupId = args.backup.as_deref().ok_or("--backup is required")?.parse()?;
            m.bytes = repo
                .restore(&id)
                .options(RestoreOptions { cpu_workers: args.workers, ..RestoreOptions::default() })
                .to_writer(tokio::io::sink())
                .await?;
        }
        other => return Err(format!("unknown phase {other}").into()),
    }
    m.secs = start.elapsed().as_secs_f64();
    m.cpu = cpu_secs() - cpu0;
    m.rss = peak_rss_mib();
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}

/// Runs one phase in a child process.
fn child(
    args: &Args,
    phase: &str,
    repo: &std::path::Path,
    backup: Option<&str>,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--phase", phase, "--size", &args.size.to_string(), "--workers", &args.workers.to_string()])
        .args(["--uploads", &args.uploads.to_string(), "--level", &args.level.to_string()])
        .arg("--repo")
        .arg(repo);
    if let Some(b) = backup {
        cmd.args(["--backup", b]);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("phase {phase} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let line = String::from_utf8(out.stdout)?.lines().last().unwrap_or_default().to_owned();
    Ok(serde_json::from_str(&line)?)
}

fn print_report(rows: &[(&str, Measured)], ratio: f64, gen_mbps: f64) {
    let mbps = |m: &Measured| m.bytes as f64 / 1e6 / m.secs;
    let cpu_per_gb = |m: &Measured| m.cpu / (m.bytes as f64 / 1e9);
    let reference = mbps(&rows[0].1);
    println!(
        "\n{:<36} {:>8} {:>7} {:>10} {:>11} {:>11} {:>9}",
        "phase", "MB/s", "× ref", "CPU s/GB", "stored", "new", "peak RSS"
    );
    for (phase, m) in rows {
        println!(
            "{:<36} {:>8.0} {:>7.2} {:>10.2} {:>11} {:>11} {:>9}",
            phase,
            mbps(m),
            mbps(m) / reference,
            cpu_per_gb(m),
            m.stored.map_or("-".into(), human),
            m.new.map_or("-".into(), human),
            m.rss.map_or("n/a".into(), |r| format!("{r:.0} MiB"))
        );
    }
    println!("\n(generator alone: {gen_mbps:.0} MB/s on one thread; zstd-3 compression ratio {ratio:.2}:1)");
    let (backup, restore, second) = (&rows[1].1, &rows[2].1, &rows[3].1);
    let backup_ratio = mbps(backup) / reference;
    let restore_ratio = mbps(restore) / mbps(backup);
    let new_share = second.new.unwrap_or(0) as f64 / backup.stored.unwrap_or(1) as f64;
    let max_rss = rows[1..].iter().filter_map(|(_, m)| m.rss).fold(0.0, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets:");
    println!("  backup ≥ 0.80 × reference:        {backup_ratio:.2}  {}", verdict(backup_ratio >= 0.8));
    println!("  restore ≥ 1.5 × backup:           {restore_ratio:.2}  {}", verdict(restore_ratio >= 1.5));
    println!("  backup 2 new ≤ 5 % of backup 1:   {:.2} %  {}", new_share * 100.0, verdict(new_share <= 0.05));
    println!("  peak RSS ≤ 256 MiB:               {max_rss:.0} MiB  {}", verdict(max_rss <= 256.0));
    println!(
        "CPU beyond compression: backup uses {:.2} CPU s/GB, zstd alone {:.2} (+{:.0} %)",
        cpu_per_gb(backup),
        cpu_per_gb(&rows[0].1),
        100.0 * (cpu_per_gb(backup) / cpu_per_gb(&rows[0].1) - 1.0)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    if let Some(phase) = args.phase.clone() {
        return run_phase(&args, &phase).await;
    }
    println!(
        "bench_engine: {} of database-like pages, {} CPU workers, {} uploads, zstd level {}, AES-256-GCM on, \
         local-folder repository with fsync",
        human(args.size),
        args.workers,
        args.uploads,
        args.level
    );
    let start = Instant::now();
    let mut scratch = vec![0u8; dbdata::PAGE];
    let spec = dbdata::base_spec(args.size);
    for n in 0..16384 {
        dbdata::page(&spec, n, &mut scratch);
    }
    let gen_mbps = 16384.0 * dbdata::PAGE as f64 / 1e6 / start.elapsed().as_secs_f64();

    let repo = args.dir.join(format!("tern-bench-{}", std::process::id()));
    let reference = child(&args, "reference", &repo, None)?;
    let ratio = reference.bytes as f64 / reference.stored.unwrap_or(1) as f64;
    let first = child(&args, "backup", &repo, None)?;
    let id = first.id.clone().ok_or("backup reported no id")?;
    let restore = child(&args, "restore", &repo, Some(&id))?;
    let second = child(&args, "backup2", &repo, Some(&id))?;
    print_report(
        &[
            ("zstd-3 alone (reference)", reference),
            ("backup (full)", first),
            ("restore (verified)", restore),
            ("backup (1% changed + 1% appended)", second),
        ],
        ratio,
        gen_mbps,
    );
    if !args.keep {
        std::fs::remove_dir_all(&repo)?;
    }
    Ok(())
}
