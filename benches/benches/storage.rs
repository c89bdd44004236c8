//! Storage-layer throughput on a local folder: what Tern's store layers cost over plain
//! `object_store`, and what durability (fsync) costs. Reported as throughput; compare the rows
//! of one run with its reference row, not numbers across runs or machines.
//!
//! `cargo bench -p tern-benches --bench storage`

use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tern_storage::testing::{FaultStore, conformance::pattern};
use tern_storage::{Location, RetryPolicy, RetryStore, StoreOptions};

const OBJECT: usize = 16 << 20; // the size of a typical pack

fn stores(dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn ObjectStore>)> {
    let raw_dir = dir.join("raw");
    std::fs::create_dir_all(&raw_dir).unwrap();
    let reference: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&raw_dir).unwrap());
    let local = |sub: &str, fsync: bool| -> Arc<dyn ObjectStore> {
        Location::local(dir.join(sub))
            .with_options(StoreOptions { fsync: Some(fsync), ..Default::default() })
            .unwrap()
            .open()
            .unwrap()
    };
    let faulty: Arc<dyn ObjectStore> =
        Arc::new(RetryStore::new(FaultStore::new(local("fault", false)), RetryPolicy::default()));
    vec![
        ("object_store LocalFileSystem (reference)", reference),
        ("tern local, fsync off", local("nosync", false)),
        ("tern local, fsync off, +fault+retry", faulty),
        ("tern local, fsync on (default)", local("sync", true)),
    ]
}

fn put_get(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data: Bytes = pattern(OBJECT, 42);
    let mut group = c.benchmark_group("put+get 16 MiB");
    group.throughput(Throughput::Bytes(2 * OBJECT as u64)).sample_size(10);
    for (name, store) in stores(dir.path()) {
        let mut n = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&rt).iter(|| {
                n += 1;
                let (store, data) = (Arc::clone(&store), data.clone());
                let path = Path::from(format!("packs/{n:016x}"));
                async move {
                    store.put(&path, data.into()).await.unwrap();
                    let back = store.get(&path).await.unwrap().bytes().await.unwrap();
                    assert_eq!(back.len(), OBJECT);
                    store.delete(&path).await.unwrap();
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, put_get);
criterion_main!(benches);
