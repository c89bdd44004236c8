//! A tour of `tern-storage`: open a location, configure regions, and watch the retry layer ride
//! out injected faults while a conditional update refuses a stale writer.
//!
//! `cargo run --example storage_tour`

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, UpdateVersion};
use tern_storage::testing::{Fault, FaultStore, Op};
use tern_storage::{Location, Regions, RetryPolicy, RetryStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A local folder repository (created if missing, written with fsync).
    let dir = std::env::temp_dir().join(format!("tern-storage-tour-{}", std::process::id()));
    let location = Location::parse(dir.to_str().ok_or("non-UTF-8 temp dir")?)?;
    let store = location.open()?;
    println!("opened {store}");

    // 2. A record written once, then updated only by whoever holds its current version.
    let record = Path::from("catalog/db1/backups/0001.json");
    let v1 = store.put_opts(&record, r#"{"status":"running"}"#.into(), PutMode::Create.into()).await?;
    let update = |put: &object_store::PutResult| -> object_store::PutOptions {
        PutMode::Update(UpdateVersion { e_tag: put.e_tag.clone(), version: put.version.clone() }).into()
    };
    store.put_opts(&record, r#"{"status":"succeeded"}"#.into(), update(&v1)).await?;
    let stale = store.put_opts(&record, r#"{"status":"failed"}"#.into(), update(&v1)).await;
    println!("a stale writer is refused: {}", stale.is_err());

    // 3. Regions from configuration; each store opened once.
    let regions: Regions = serde_json::from_str(
        r#"{ "eu-west": "memory://eu-west", "us-east": { "url": "memory://us-east", "options": { "attempts": 5 } } }"#,
    )?;
    for name in regions.names() {
        println!("region {name:<8} -> {}", regions.store(name)?);
    }
    if let Err(e) = regions.store("ap-south") {
        println!("{e}");
    }

    // 4. Faults: the 1st and 2nd puts fail; three attempts ride them out.
    let faulty = FaultStore::new(Arc::new(tern_storage::object_store::memory::InMemory::new()));
    faulty.inject(Fault::fail(Op::Put).nth(1));
    faulty.inject(Fault::fail(Op::Put).nth(2));
    let resilient: Arc<dyn ObjectStore> = Arc::new(RetryStore::new(faulty.clone(), RetryPolicy::default()));
    resilient.put(&Path::from("packs/ab/abcdef"), "pack bytes".into()).await?;
    println!("stored after {} put attempts (2 injected failures)", faulty.calls(Op::Put));

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
