//! Tern in one minute: `cargo run --release --example quickstart`
//!
//! Creates an encrypted repository in a local folder, backs up a generated database-like stream
//! (64 MiB of 16 KiB table pages), changes 3 % of it and backs up again (only the change is
//! stored), restores both, checks them byte for byte, verifies the repository, and prints what
//! it did. Nothing to set up; the folder is removed at the end unless `--keep` is given.
// Numbers here are byte counts and rates for reports, and deliberate truncations in synthetic
// data: the cast lints do not apply.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::cast_sign_loss)]

#[path = "support/dbdata.rs"]
#[allow(dead_code)] // the benchmarks use more of it
mod dbdata;

use std::time::Instant;

use tern_engine::{InitOptions, Repository, UserKey, VerifyMode};
use tern_storage::Location;
use tokio::io::AsyncReadExt;

const SIZE: u64 = 64 << 20;

/// BLAKE3 of a generated stream, computed independently of Tern.
async fn expected_hash(spec: dbdata::Spec) -> blake3::Hash {
    let mut reader = dbdata::Reader::new(spec);
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).await.expect("generator never fails");
        if n == 0 {
            return hasher.finalize();
        }
        hasher.update(&buf[..n]);
    }
}

/// Restores a backup and hashes what comes out.
async fn restored_hash(repo: &Repository, id: &tern_engine::BackupId) -> Result<blake3::Hash, tern_engine::Error> {
    struct HashWriter(blake3::Hasher);
    impl tokio::io::AsyncWrite for HashWriter {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.0.update(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }
    let mut out = HashWriter(blake3::Hasher::new());
    repo.restore(id).to_writer(&mut out).await?;
    Ok(out.0.finalize())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args().any(|a| a == "--keep");
    let dir = std::env::temp_dir().join("tern-quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    println!("repository: {} (a local folder; any s3://, gs://, az:// location works the same)", dir.display());

    // 1. An encrypted repository (AES-256-GCM; the master key is wrapped by the passphrase).
    let key = UserKey::passphrase("quickstart passphrase");
    let repo = Repository::init(Location::local(&dir).open()?, InitOptions::encrypted(key.clone())).await?;

    // 2. A full backup of a database-like stream.
    let v1 = dbdata::Spec { size: SIZE, seed: 1, changed: None };
    let started = Instant::now();
    let mut writer = repo.backup("orders-db").label("kind", "full").start().await?;
    writer.add_entry("orders.ibd", dbdata::Reader::new(v1), None).await?;
    let first = writer.commit().await?;
    let first_secs = started.elapsed().as_secs_f64();

    // 3. 3 % of the pages change (one contiguous range), then a second backup against the first.
    let pages = SIZE / dbdata::PAGE as u64;
    let v2 = dbdata::Spec { changed: Some((pages / 2, pages * 3 / 100, 2)), ..v1 };
    let started = Instant::now();
    let mut writer = repo.backup("orders-db").parent(first.id.clone()).start().await?;
    writer.add_entry("orders.ibd", dbdata::Reader::new(v2), None).await?;
    let second = writer.commit().await?;
    let second_secs = started.elapsed().as_secs_f64();

    // 4. Restore both from a fresh open and compare with the generated data.
    let repo = Repository::open(Location::local(&dir).open()?, Some(&key)).await?;
    let ok1 = restored_hash(&repo, &first.id).await? == expected_hash(v1).await;
    let ok2 = restored_hash(&repo, &second.id).await? == expected_hash(v2).await;
    let report = repo.verify(&[], VerifyMode::Deep).await?;

    println!("\n{:<30} {:>11} {:>11} {:>11} {:>8} {:>9}", "backup", "logical", "stored", "new", "MB/s", "restored");
    for (record, secs, ok) in [(&first, first_secs, ok1), (&second, second_secs, ok2)] {
        println!(
            "{:<30} {:>11} {:>11} {:>11} {:>8.0} {:>9}",
            record.id.to_string(),
            mib(record.stats.logical_bytes),
            mib(record.stats.stored_bytes),
            mib(record.stats.new_bytes),
            record.stats.logical_bytes as f64 / 1e6 / secs,
            if ok { "identical" } else { "DIFFERENT" }
        );
    }
    println!(
        "\nthe second backup added {:.1} % of the first one's bytes; deep verify: {} backups, {} chunks, {}",
        100.0 * second.stats.new_bytes as f64 / first.stats.stored_bytes as f64,
        report.backups,
        report.chunks,
        if report.is_ok() { "no problems".to_owned() } else { format!("{} problems", report.problems.len()) }
    );
    if !keep {
        std::fs::remove_dir_all(&dir)?;
    }
    if ok1 && ok2 && report.is_ok() { Ok(()) } else { Err("restore or verify failed".into()) }
}
