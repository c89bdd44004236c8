//! Engine stages in isolation, on database-like data, as throughput:
//! chunking, chunk ids, compression (the zstd-3 reference row), the whole blob codec both ways,
//! and the whole pipeline into an in-memory store and back.
//!
//! `cargo bench -p tern-benches --bench engine`

#[path = "../../examples/support/dbdata.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod dbdata;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tern_engine::{BackupOptions, ChunkerParams, InitOptions, KdfParams, Repository, UserKey};

fn data(size: usize) -> Vec<u8> {
    let spec = dbdata::Spec { size: size as u64, seed: 7, changed: None };
    let mut out = vec![0u8; size];
    for (n, page) in out.chunks_exact_mut(dbdata::PAGE).enumerate() {
        dbdata::page(&spec, n as u64, page);
    }
    out
}

fn stages(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let chunk = data(1 << 20);
    let stream = data(32 << 20);
    let key = UserKey::passphrase("bench");
    let store = tern_storage::Location::memory("bench-stages").open().unwrap();
    let repo = rt
        .block_on(Repository::init(
            store,
            InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key) },
        ))
        .unwrap();
    let keys = repo.key_ring().unwrap();
    let id = keys.chunk_id(&chunk);

    let mut g = c.benchmark_group("stage (1 MiB chunk)");
    g.throughput(Throughput::Bytes(chunk.len() as u64)).sample_size(30);
    g.bench_function("zstd-3 compress (reference)", |b| {
        let mut z = zstd::bulk::Compressor::new(3).unwrap();
        b.iter(|| z.compress(&chunk).unwrap());
    });
    g.bench_function("chunk id (keyed BLAKE3)", |b| b.iter(|| keys.chunk_id(&chunk)));
    g.bench_function("BLAKE3 (entry hash)", |b| b.iter(|| blake3::hash(&chunk)));
    g.bench_function("CRC32", |b| b.iter(|| crc32fast::hash(&chunk)));
    g.bench_function("blob encode (zstd-3 + AES-256-GCM + CRC32)", |b| {
        b.iter(|| tern_engine::blob::encode(&keys, &id, &chunk, 3));
    });
    let blob = tern_engine::blob::encode(&keys, &id, &chunk, 3);
    g.bench_function("blob decode (CRC32 + AES-256-GCM + zstd + id check)", |b| {
        b.iter(|| tern_engine::blob::decode(&keys, &id, &blob.bytes, blob.crc32, chunk.len()).unwrap());
    });
    g.finish();

    let mut g = c.benchmark_group("chunker (32 MiB)");
    g.throughput(Throughput::Bytes(stream.len() as u64)).sample_size(10);
    g.bench_function("FastCDC, default sizes 512K/1M/4M", |b| {
        b.to_async(&rt).iter(|| async {
            let mut chunker = tern_engine::Chunker::new(&stream[..], ChunkerParams::default());
            let mut n = 0;
            while let Some(c) = chunker.next_chunk().await.unwrap() {
                n += c.len();
            }
            n
        });
    });
    g.finish();

    let mut g = c.benchmark_group("pipeline (32 MiB, memory store)");
    g.throughput(Throughput::Bytes(stream.len() as u64)).sample_size(10);
    g.bench_function("backup", |b| {
        b.to_async(&rt).iter(|| async {
            let mut w = repo.backup("bench").options(BackupOptions::default()).start().await.unwrap();
            w.add_entry("data", &stream[..], None).await.unwrap();
            w.commit().await.unwrap()
        });
    });
    let id = rt.block_on(repo.list_backups(Some("bench"))).unwrap().pop().unwrap().id;
    g.bench_function("restore", |b| {
        b.to_async(&rt).iter(|| async { repo.restore(&id).to_writer(tokio::io::sink()).await.unwrap() });
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
