//! The engine benchmark: `cargo run --release --example bench_engine -- --size 1GiB`
//!
//! In one run, on database-like data (see `support/dbdata.rs` for how it is made):
//!
//! 1. **reference**: zstd level 3 alone on the same data (1 MiB blocks, same number of threads);
//! 2. **backup**: a full backup, encrypted, to a local-folder repository (fsync on);
//! 3. **restore**: that backup, verified chunk by chunk and entry hash, to nowhere;
//! 4. **backup 2**: after changing 1 % of the data in one contiguous region and appending 1 %.
//!
//! It prints MB/s, the ratio to the reference, stored and new bytes, and each phase's peak RSS
//! (VmHWM, reset between phases). Targets (issue #3): backup ≥ 0.8 × reference; restore ≥ 1.5 ×
//! backup; backup 2 stores ≤ 5 % of backup 1's bytes; peak RSS ≤ 256 MiB.
//!
//! Options: `--size N[KiB|MiB|GiB]` (default 1GiB), `--workers N` (default all cores),
//! `--uploads N` (default 8), `--level N` (default 3), `--dir PATH` (repository parent directory,
//! default the system temp directory), `--keep` (keep the repository).
// Numbers here are byte counts and rates for reports, and deliberate truncations in synthetic
// data: the cast lints do not apply.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

#[path = "support/dbdata.rs"]
mod dbdata;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use tern_engine::{BackupOptions, InitOptions, KdfParams, Repository, RestoreOptions, UserKey};
use tern_storage::Location;

struct Args {
    size: u64,
    workers: usize,
    uploads: usize,
    level: i32,
    dir: std::path::PathBuf,
    keep: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) =
        [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
            .iter()
            .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
            .unwrap_or((s, 1));
    num.trim().parse::<f64>().map(|n| (n * mult as f64) as u64).map_err(|_| format!("bad size `{s}`"))
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        size: 1 << 30,
        workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        uploads: 8,
        level: 3,
        dir: std::env::temp_dir(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--size" => a.size = parse_size(&value()?)?,
            "--workers" => a.workers = value()?.parse().map_err(|_| "bad --workers")?,
            "--uploads" => a.uploads = value()?.parse().map_err(|_| "bad --uploads")?,
            "--level" => a.level = value()?.parse().map_err(|_| "bad --level")?,
            "--dir" => a.dir = value()?.into(),
            "--keep" => a.keep = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// Resets the peak-RSS counter (Linux); returns whether that worked.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct Row {
    phase: &'static str,
    bytes: u64,
    secs: f64,
    stored: Option<u64>,
    new: Option<u64>,
    rss: Option<f64>,
}

impl Row {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs
    }
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

fn print_report(
    rows: &[Row],
    ratio: f64,
    gen_mbps: f64,
    first: &tern_engine::BackupStats,
    second: &tern_engine::BackupStats,
    peak_resets: bool,
) {
    let reference_mbps = rows[0].mbps();
    println!("\n{:<36} {:>9} {:>8} {:>12} {:>12} {:>10}", "phase", "MB/s", "× ref", "stored", "new", "peak RSS");
    for r in rows {
        println!(
            "{:<36} {:>9.0} {:>8.2} {:>12} {:>12} {:>10}",
            r.phase,
            r.mbps(),
            r.mbps() / reference_mbps,
            r.stored.map_or("-".into(), human),
            r.new.map_or("-".into(), human),
            r.rss.map_or("n/a".into(), |m| format!("{m:.0} MiB"))
        );
    }
    println!("\n(generator alone: {gen_mbps:.0} MB/s single-threaded; compression ratio {ratio:.2}:1)");
    let backup_ratio = rows[1].mbps() / reference_mbps;
    let restore_ratio = rows[2].mbps() / rows[1].mbps();
    let new_share = second.new_bytes as f64 / first.stored_bytes as f64;
    let max_rss = rows[1..].iter().filter_map(|r| r.rss).fold(0.0, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets:");
    println!("  backup ≥ 0.80 × reference:        {backup_ratio:.2}  {}", verdict(backup_ratio >= 0.8));
    println!("  restore ≥ 1.5 × backup:           {restore_ratio:.2}  {}", verdict(restore_ratio >= 1.5));
    println!("  backup 2 new ≤ 5 % of backup 1:   {:.2} %  {}", new_share * 100.0, verdict(new_share <= 0.05));
    if peak_resets {
        println!("  peak RSS ≤ 256 MiB:               {max_rss:.0} MiB  {}", verdict(max_rss <= 256.0));
    } else {
        println!("  peak RSS: not measurable here (needs Linux /proc)");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let peak_resets = reset_peak();
    let spec = dbdata::Spec { size: args.size, seed: 1, changed: None };
    let pages = args.size / dbdata::PAGE as u64;
    println!(
        "bench_engine: {} of database-like pages, {} CPU workers, {} uploads, zstd level {}, AES-256-GCM on",
        human(args.size),
        args.workers,
        args.uploads,
        args.level
    );

    let mut rows = Vec::new();

    // 0. The generator alone, for context.
    let start = Instant::now();
    let mut scratch = vec![0u8; dbdata::PAGE];
    for n in 0..pages.min(16384) {
        dbdata::page(&spec, n, &mut scratch);
    }
    let gen_mbps = pages.min(16384) as f64 * dbdata::PAGE as f64 / 1e6 / start.elapsed().as_secs_f64();

    // 1. Reference.
    reset_peak();
    let start = Instant::now();
    let (logical, compressed) = tokio::task::spawn_blocking(move || reference(spec, args.workers, args.level)).await?;
    rows.push(Row {
        phase: "zstd-3 alone (reference)",
        bytes: logical,
        secs: start.elapsed().as_secs_f64(),
        stored: Some(compressed),
        new: None,
        rss: peak_rss_mib(),
    });

    // 2. Full backup.
    let dir = args.dir.join(format!("tern-bench-{}", std::process::id()));
    let store = Location::local(&dir).open()?;
    let key = UserKey::passphrase("bench");
    let repo =
        Repository::init(store, InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key) }).await?;
    let options = BackupOptions {
        level: args.level,
        cpu_workers: args.workers,
        upload_concurrency: args.uploads,
        ..BackupOptions::default()
    };
    reset_peak();
    let start = Instant::now();
    let mut writer = repo.backup("bench").options(options.clone()).start().await?;
    writer.add_entry("data", dbdata::Reader::new(spec), None).await?;
    let first = writer.commit().await?;
    rows.push(Row {
        phase: "backup (full)",
        bytes: first.stats.logical_bytes,
        secs: start.elapsed().as_secs_f64(),
        stored: Some(first.stats.stored_bytes),
        new: Some(first.stats.new_bytes),
        rss: peak_rss_mib(),
    });

    // 3. Restore.
    reset_peak();
    let start = Instant::now();
    let restored = repo
        .restore(&first.id)
        .options(RestoreOptions { cpu_workers: args.workers, ..RestoreOptions::default() })
        .to_writer(tokio::io::sink())
        .await?;
    rows.push(Row {
        phase: "restore (verified)",
        bytes: restored,
        secs: start.elapsed().as_secs_f64(),
        stored: None,
        new: None,
        rss: peak_rss_mib(),
    });

    // 4. 1 % changed in one region, 1 % appended.
    let changed_pages = (pages / 100).max(1);
    let spec2 =
        dbdata::Spec { size: args.size + args.size / 100, seed: 1, changed: Some((pages * 2 / 5, changed_pages, 2)) };
    reset_peak();
    let start = Instant::now();
    let mut writer = repo.backup("bench").parent(first.id.clone()).options(options).start().await?;
    writer.add_entry("data", dbdata::Reader::new(spec2), None).await?;
    let second = writer.commit().await?;
    rows.push(Row {
        phase: "backup (1% changed + 1% appended)",
        bytes: second.stats.logical_bytes,
        secs: start.elapsed().as_secs_f64(),
        stored: Some(second.stats.stored_bytes),
        new: Some(second.stats.new_bytes),
        rss: peak_rss_mib(),
    });

    print_report(&rows, logical as f64 / compressed as f64, gen_mbps, &first.stats, &second.stats, peak_resets);
    if !args.keep {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
