//! The store wrappers: retries over injected faults, and each kind of injected fault.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, WriteMultipart};
use tern_storage::testing::conformance::pattern;
use tern_storage::testing::{Fault, FaultStore, Op};
use tern_storage::{Location, RetryPolicy, RetryStore};

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::default().with_attempts(attempts).with_initial_backoff(Duration::from_millis(1))
}

fn faulty() -> (FaultStore, RetryStore<FaultStore>) {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    (fault.clone(), RetryStore::new(fault, fast(3)))
}

#[tokio::test]
async fn a_failed_put_is_retried_and_succeeds() {
    let (fault, store) = faulty();
    fault.inject(Fault::fail(Op::Put).nth(1));
    store.put(&Path::from("a"), "data".into()).await.expect("the retry succeeds");
    assert_eq!(fault.calls(Op::Put), 2);
    assert_eq!(store.get(&Path::from("a")).await.unwrap().bytes().await.unwrap(), "data");
}

#[tokio::test]
async fn an_outage_fails_after_the_configured_attempts() {
    let (fault, store) = faulty();
    fault.inject(Fault::fail(Op::Put).from_nth(1));
    let err = store.put(&Path::from("a"), "data".into()).await.unwrap_err();
    assert!(matches!(err, object_store::Error::Generic { .. }), "{err:?}");
    assert_eq!(err.to_string(), "Generic FaultStore error: injected fault: Put call #3 on `a`");
    assert_eq!(fault.calls(Op::Put), 3, "three attempts, no more");
    assert!(matches!(store.head(&Path::from("a")).await, Err(object_store::Error::NotFound { .. })));
}

#[tokio::test]
async fn answers_are_not_retried() {
    let (fault, store) = faulty();
    let path = Path::from("once");
    store.put_opts(&path, "1".into(), PutMode::Create.into()).await.unwrap();
    let again = store.put_opts(&path, "2".into(), PutMode::Create.into()).await;
    assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })));
    assert_eq!(fault.calls(Op::Put), 2, "AlreadyExists is an answer, not a transient failure");
    assert!(store.get(&Path::from("missing")).await.is_err());
    assert_eq!(fault.calls(Op::Get), 1, "NotFound is not retried");
}

#[tokio::test]
async fn reads_and_copies_are_retried() {
    let (fault, store) = faulty();
    store.put(&Path::from("a"), "data".into()).await.unwrap();
    fault.inject(Fault::fail(Op::Get).nth(1));
    fault.inject(Fault::fail(Op::Head).nth(1));
    fault.inject(Fault::fail(Op::Copy).nth(1));
    fault.inject(Fault::fail(Op::List).nth(1));
    assert_eq!(store.get(&Path::from("a")).await.unwrap().bytes().await.unwrap(), "data");
    assert_eq!(store.head(&Path::from("a")).await.unwrap().size, 4);
    store.copy(&Path::from("a"), &Path::from("b")).await.unwrap();
    assert_eq!(store.list_with_delimiter(None).await.unwrap().objects.len(), 2);
    assert_eq!((fault.calls(Op::Get), fault.calls(Op::Head), fault.calls(Op::Copy)), (2, 2, 2));
}

#[tokio::test]
async fn deletes_are_idempotent_through_the_retry_store() {
    // The local file system reports NotFound for a missing file; through RetryStore it is Ok.
    let dir = tempfile::tempdir().unwrap();
    let raw = tern_storage::LocalStore::open(dir.path(), true).unwrap();
    let missing = Path::from("gone");
    assert!(matches!(raw.delete(&missing).await, Err(object_store::Error::NotFound { .. })));
    let store = Location::local(dir.path()).open().unwrap();
    store.delete(&missing).await.expect("delete of a missing object succeeds");
    let paths = futures::stream::iter([Ok(Path::from("x")), Ok(Path::from("y"))]).boxed();
    let done: Vec<Path> = store.delete_stream(paths).try_collect().await.unwrap();
    assert_eq!(done, [Path::from("x"), Path::from("y")], "the paths asked for are reported");
}

#[tokio::test]
async fn nth_counts_only_matching_paths() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    fault.inject(Fault::fail(Op::Put).under("packs/").nth(2));
    for name in ["manifests/1", "packs/a", "manifests/2"] {
        fault.put(&Path::from(name), "x".into()).await.unwrap();
    }
    let err = fault.put(&Path::from("packs/b"), "x".into()).await.unwrap_err();
    assert_eq!(err.to_string(), "Generic FaultStore error: injected fault: Put call #4 on `packs/b`");
    fault.put(&Path::from("packs/c"), "x".into()).await.expect("only the 2nd matching put fails");
    fault.clear();
    fault.inject(Fault::fail(Op::Put));
    assert!(fault.put(&Path::from("any"), "x".into()).await.is_err());
}

#[tokio::test]
async fn truncated_reads_shorten_data_and_metadata() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    let data = pattern(1000, 1);
    fault.put(&Path::from("p"), data.clone().into()).await.unwrap();
    fault.inject(Fault::truncate_reads(600));
    let got = fault.get(&Path::from("p")).await.unwrap();
    assert_eq!(got.meta.size, 600);
    assert_eq!(got.bytes().await.unwrap(), data.slice(..600));
    assert_eq!(fault.head(&Path::from("p")).await.unwrap().size, 600, "head sees the truncation too");
    assert_eq!(fault.get_range(&Path::from("p"), 500..700).await.unwrap(), data.slice(500..600));
}

#[tokio::test]
async fn flipped_bytes_show_in_whole_and_ranged_reads() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    let data = pattern(1000, 2);
    fault.put(&Path::from("p"), data.clone().into()).await.unwrap();
    fault.inject(Fault::flip_byte(700).under("p"));
    let whole = fault.get(&Path::from("p")).await.unwrap().bytes().await.unwrap();
    let diffs: Vec<usize> = (0..1000).filter(|&i| whole[i] != data[i]).collect();
    assert_eq!(diffs, [700]);
    assert_eq!(whole[700], !data[700]);
    let ranges = fault.get_ranges(&Path::from("p"), &[0..100, 650..750]).await.unwrap();
    assert_eq!(ranges[0], data.slice(0..100), "a range without the byte is intact");
    assert_ne!(ranges[1], data.slice(650..750), "a range with the byte is corrupt");
    assert_eq!(ranges[1][50], !data[700]);
}

#[tokio::test(start_paused = true)]
async fn latency_delays_calls() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    fault.inject(Fault::latency(Op::Put, Duration::from_secs(5)));
    let start = tokio::time::Instant::now();
    fault.put(&Path::from("slow"), "x".into()).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(5), "virtual time advanced by the latency");
    let start = tokio::time::Instant::now();
    fault.get(&Path::from("slow")).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "gets are not delayed");
}

#[tokio::test]
async fn a_failed_multipart_part_leaves_nothing_visible() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    fault.inject(Fault::fail(Op::MultipartPart).nth(2));
    let path = Path::from("packs/big");
    let mut writer = WriteMultipart::new_with_chunk_size(fault.put_multipart(&path).await.unwrap(), 1 << 20);
    writer.write(&pattern(3 << 20, 3));
    let err = writer.finish().await.unwrap_err();
    assert!(err.to_string().contains("injected fault: MultipartPart call #2"), "{err}");
    assert!(matches!(fault.head(&path).await, Err(object_store::Error::NotFound { .. })));

    fault.clear();
    fault.inject(Fault::fail(Op::MultipartComplete));
    let mut writer = WriteMultipart::new_with_chunk_size(fault.put_multipart(&path).await.unwrap(), 1 << 20);
    writer.write(&pattern(2 << 20, 4));
    assert!(writer.finish().await.is_err());
    assert!(matches!(fault.head(&path).await, Err(object_store::Error::NotFound { .. })));
}

#[tokio::test]
async fn delete_and_list_faults() {
    let fault = FaultStore::new(Arc::new(InMemory::new()));
    for n in ["a", "b"] {
        fault.put(&Path::from(n), Bytes::from_static(b"x").into()).await.unwrap();
    }
    fault.inject(Fault::fail(Op::Delete).under("b"));
    let paths = futures::stream::iter([Ok(Path::from("a")), Ok(Path::from("b"))]).boxed();
    let results: Vec<_> = fault.delete_stream(paths).collect().await;
    assert!(results[0].is_ok() && results[1].is_err());
    assert!(fault.head(&Path::from("b")).await.is_ok(), "a failed delete deletes nothing");
    fault.inject(Fault::fail(Op::List).nth(1));
    assert!(fault.list(None).try_collect::<Vec<_>>().await.is_err());
    assert_eq!(fault.list(None).try_collect::<Vec<_>>().await.unwrap().len(), 1);
}

/// Conditional updates of a local repository hold across processes: the catalog relies on it.
#[test]
fn local_conditional_updates_exclude_other_processes() {
    use std::process::Command;
    if let Ok(dir) = std::env::var("TERN_CAS_CHILD_DIR") {
        // Child: increment the shared counter 25 times with compare-and-swap.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = Location::local(&dir).open().unwrap();
            let path = Path::from("counter");
            for _ in 0..25 {
                loop {
                    let got = store.get(&path).await.unwrap();
                    let version = object_store::UpdateVersion { e_tag: got.meta.e_tag.clone(), version: None };
                    let n: u64 = std::str::from_utf8(&got.bytes().await.unwrap()).unwrap().parse().unwrap();
                    let put = store.put_opts(&path, (n + 1).to_string().into(), PutMode::Update(version).into()).await;
                    match put {
                        Ok(_) => break,
                        Err(object_store::Error::Precondition { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Location::local(dir.path()).open().unwrap();
    rt.block_on(store.put(&Path::from("counter"), "0".into())).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "local_conditional_updates_exclude_other_processes", "--test-threads=1"])
                .env("TERN_CAS_CHILD_DIR", dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let total = rt.block_on(async { store.get(&Path::from("counter")).await.unwrap().bytes().await.unwrap() });
    assert_eq!(std::str::from_utf8(&total).unwrap(), "75", "no increment lost across three processes");
}
