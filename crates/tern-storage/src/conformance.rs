//! One conformance suite for every backend: a store that passes it is a store Tern can use.
//!
//! Each check takes a store, works under a fresh random prefix (so checks can run concurrently
//! against one shared bucket), asserts with a message that names the backend, and cleans up.
//! [`conformance_tests!`](crate::conformance_tests) makes one `#[tokio::test]` per check.
//!
//! # Panics
//!
//! Every check panics, with a message naming the store and what differed, when the store does
//! not conform: that is how a test fails.
#![allow(clippy::missing_panics_doc)]

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart};

/// The names of all checks, in the order [`conformance_tests!`](crate::conformance_tests)
/// generates them.
pub const CHECKS: &[&str] = &[
    "put_get",
    "missing_is_not_found",
    "ranges",
    "head",
    "list",
    "delete",
    "create_only",
    "concurrent_create",
    "conditional_update",
    "concurrent_updates",
    "multipart_20mib",
    "multipart_abort",
    "copy",
];

/// A fresh, unique prefix for one check.
fn scratch(check: &str) -> Path {
    Path::from(format!("conformance/{check}-{:016x}", rand::random::<u64>()))
}

/// Deterministic, incompressible-looking bytes.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

async fn cleanup(store: &dyn ObjectStore, base: &Path) {
    let paths = store.list(Some(base)).map_ok(|m| m.location).boxed();
    let _ = store.delete_stream(paths).try_collect::<Vec<_>>().await;
}

async fn read(store: &dyn ObjectStore, path: &Path) -> Bytes {
    store.get(path).await.unwrap_or_else(|e| panic!("{store}: get {path}: {e}")).bytes().await.unwrap()
}

/// Put objects of several sizes and read them back, with their metadata.
pub async fn put_get(store: Arc<dyn ObjectStore>) {
    let base = scratch("put_get");
    for (i, len) in [0usize, 1, 4096, 1 << 20].into_iter().enumerate() {
        let path = base.clone().join(format!("obj-{i}"));
        let data = pattern(len, i as u64 + 1);
        let put = store.put(&path, data.clone().into()).await.unwrap_or_else(|e| panic!("{store}: put: {e}"));
        let got = store.get(&path).await.unwrap();
        assert_eq!(got.meta.size, len as u64, "{store}: size of {path}");
        assert_eq!(got.meta.location, path, "{store}: location");
        if let (Some(a), Some(b)) = (&put.e_tag, &got.meta.e_tag) {
            assert_eq!(a, b, "{store}: e_tag of put and get");
        }
        assert_eq!(got.bytes().await.unwrap(), data, "{store}: content of {path}");
    }
    // Overwrite replaces.
    let path = base.clone().join("obj-0");
    store.put(&path, "second".into()).await.unwrap();
    assert_eq!(read(&*store, &path).await, Bytes::from("second"), "{store}: overwrite");
    cleanup(&*store, &base).await;
}

/// A missing object is `NotFound` for get and head.
pub async fn missing_is_not_found(store: Arc<dyn ObjectStore>) {
    let path = scratch("missing").join("nothing-here");
    let get = store.get(&path).await.map(|_| ());
    assert!(matches!(get, Err(object_store::Error::NotFound { .. })), "{store}: get of missing: {get:?}");
    let head = store.head(&path).await.map(|_| ());
    assert!(matches!(head, Err(object_store::Error::NotFound { .. })), "{store}: head of missing: {head:?}");
}

/// Byte ranges, single and several at once, including adjacent and overlapping ones.
pub async fn ranges(store: Arc<dyn ObjectStore>) {
    let base = scratch("ranges");
    let path = base.clone().join("data");
    let data = pattern(300_000, 7);
    store.put(&path, data.clone().into()).await.unwrap();
    let r = store.get_range(&path, 1000..2000).await.unwrap();
    assert_eq!(r, data.slice(1000..2000), "{store}: get_range");
    let want = [0..10, 10..20, 15..100_000, 299_990..300_000, 150_000..150_001];
    let got = store.get_ranges(&path, &want).await.unwrap();
    assert_eq!(got.len(), want.len(), "{store}: get_ranges count");
    for (r, bytes) in want.iter().zip(&got) {
        let (start, end) = (usize::try_from(r.start).unwrap(), usize::try_from(r.end).unwrap());
        assert_eq!(bytes, &data.slice(start..end), "{store}: get_ranges {r:?}");
    }
    let opts = object_store::GetOptions::new().with_range(Some(object_store::GetRange::Offset(299_000)));
    let tail = store.get_opts(&path, opts).await.unwrap();
    assert_eq!(tail.range, 299_000..300_000, "{store}: offset range");
    assert_eq!(tail.bytes().await.unwrap(), data.slice(299_000..), "{store}: offset content");
    cleanup(&*store, &base).await;
}

/// `head` reports size and etag without the body.
pub async fn head(store: Arc<dyn ObjectStore>) {
    let base = scratch("head");
    let path = base.clone().join("h");
    let put = store.put(&path, pattern(12_345, 3).into()).await.unwrap();
    let meta = store.head(&path).await.unwrap();
    assert_eq!(meta.size, 12_345, "{store}: head size");
    assert_eq!(meta.location, path, "{store}: head location");
    assert!(meta.e_tag.is_some(), "{store}: head e_tag");
    if put.e_tag.is_some() {
        assert_eq!(meta.e_tag, put.e_tag, "{store}: head e_tag equals put's");
    }
    cleanup(&*store, &base).await;
}

/// Recursive listing, listing by delimiter, and listing from an offset (exclusive).
pub async fn list(store: Arc<dyn ObjectStore>) {
    let base = scratch("list");
    let names = ["a/1", "a/2", "b/1", "b/c/1", "top"];
    for n in names {
        store.put(&Path::from(format!("{base}/{n}")), Bytes::from(n).into()).await.unwrap();
    }
    let mut all: Vec<String> = store.list(Some(&base)).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    all.sort();
    let want: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
    assert_eq!(all, want, "{store}: recursive list");

    let under_a: Vec<Path> =
        store.list(Some(&base.clone().join("a"))).map_ok(|m| m.location).try_collect().await.unwrap();
    assert_eq!(under_a.len(), 2, "{store}: list of a sub-prefix");

    let level = store.list_with_delimiter(Some(&base)).await.unwrap();
    let mut prefixes: Vec<String> = level.common_prefixes.iter().map(ToString::to_string).collect();
    prefixes.sort();
    assert_eq!(prefixes, [format!("{base}/a"), format!("{base}/b")], "{store}: common prefixes");
    let objects: Vec<String> = level.objects.iter().map(|m| m.location.to_string()).collect();
    assert_eq!(objects, [format!("{base}/top")], "{store}: objects at one level");

    let offset = Path::from(format!("{base}/a/2"));
    let mut after: Vec<String> =
        store.list_with_offset(Some(&base), &offset).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    after.sort();
    assert_eq!(after, want[2..], "{store}: list_with_offset is exclusive");

    let empty: Vec<_> = store.list(Some(&base.clone().join("nothing"))).try_collect().await.unwrap();
    assert!(empty.is_empty(), "{store}: list of an empty prefix");
    cleanup(&*store, &base).await;
}

/// Deletes remove, and a delete of a missing object succeeds (on every backend).
pub async fn delete(store: Arc<dyn ObjectStore>) {
    let base = scratch("delete");
    let (a, b) = (base.clone().join("a"), base.clone().join("b"));
    store.put(&a, "a".into()).await.unwrap();
    store.put(&b, "b".into()).await.unwrap();
    store.delete(&a).await.unwrap_or_else(|e| panic!("{store}: delete: {e}"));
    assert!(
        matches!(store.head(&a).await, Err(object_store::Error::NotFound { .. })),
        "{store}: deleted object is gone"
    );
    store.delete(&a).await.unwrap_or_else(|e| panic!("{store}: delete of a missing object must succeed: {e}"));
    let batch = vec![Ok(a.clone()), Ok(b.clone()), Ok(base.clone().join("never"))];
    let done: Vec<Path> = store
        .delete_stream(futures::stream::iter(batch).boxed())
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{store}: bulk delete with missing objects must succeed: {e}"));
    assert_eq!(done.len(), 3, "{store}: every path of a bulk delete is reported");
    assert!(matches!(store.head(&b).await, Err(object_store::Error::NotFound { .. })), "{store}: bulk delete");
}

/// `PutMode::Create` writes once; a second create fails with `AlreadyExists` and changes nothing.
pub async fn create_only(store: Arc<dyn ObjectStore>) {
    let base = scratch("create");
    let path = base.clone().join("once");
    store
        .put_opts(&path, "first".into(), PutMode::Create.into())
        .await
        .unwrap_or_else(|e| panic!("{store}: create: {e}"));
    let again = store.put_opts(&path, "second".into(), PutMode::Create.into()).await;
    assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })), "{store}: second create: {again:?}");
    assert_eq!(read(&*store, &path).await, Bytes::from("first"), "{store}: content after refused create");
    cleanup(&*store, &base).await;
}

/// Eight concurrent creates of one path: exactly one wins.
pub async fn concurrent_create(store: Arc<dyn ObjectStore>) {
    let base = scratch("race");
    let path = base.clone().join("lease");
    let attempts = (0..8u8).map(|i| {
        let (store, path) = (Arc::clone(&store), path.clone());
        tokio::spawn(async move { store.put_opts(&path, vec![i].into(), PutMode::Create.into()).await })
    });
    let results = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r.unwrap() {
            Ok(_) => winners.push(i),
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => panic!("{store}: concurrent create failed other than AlreadyExists: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{store}: exactly one concurrent create wins, got {winners:?}");
    let winner = u8::try_from(winners[0]).unwrap();
    assert_eq!(read(&*store, &path).await, Bytes::from(vec![winner]), "{store}: the winner's bytes are stored");
    cleanup(&*store, &base).await;
}

fn update(put: &object_store::PutResult) -> PutOptions {
    PutMode::Update(UpdateVersion { e_tag: put.e_tag.clone(), version: put.version.clone() }).into()
}

/// `PutMode::Update`: the current etag succeeds, a stale one and a missing object give
/// `Precondition`.
pub async fn conditional_update(store: Arc<dyn ObjectStore>) {
    let base = scratch("update");
    let path = base.clone().join("record");
    let v1 = store.put_opts(&path, "v1".into(), PutMode::Create.into()).await.unwrap();
    let v2 = store.put_opts(&path, "v2".into(), update(&v1)).await.unwrap_or_else(|e| panic!("{store}: update: {e}"));
    assert_eq!(read(&*store, &path).await, Bytes::from("v2"), "{store}: updated content");
    let stale = store.put_opts(&path, "v3".into(), update(&v1)).await;
    assert!(matches!(stale, Err(object_store::Error::Precondition { .. })), "{store}: stale update: {stale:?}");
    assert_eq!(read(&*store, &path).await, Bytes::from("v2"), "{store}: content after stale update");
    store.put_opts(&path, "v3".into(), update(&v2)).await.unwrap();
    let absent = store.put_opts(&base.clone().join("absent"), "x".into(), update(&v2)).await;
    assert!(
        matches!(absent, Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. })),
        "{store}: update of a missing object: {absent:?}"
    );
    assert!(store.head(&base.clone().join("absent")).await.is_err(), "{store}: a failed update creates nothing");
    cleanup(&*store, &base).await;
}

/// Concurrent read-modify-write loops on one counter never lose an increment.
pub async fn concurrent_updates(store: Arc<dyn ObjectStore>) {
    const WRITERS: u64 = 4;
    const EACH: u64 = 5;
    let base = scratch("counter");
    let path = base.clone().join("n");
    store.put_opts(&path, "0".into(), PutMode::Create.into()).await.unwrap();
    let writers = (0..WRITERS).map(|_| {
        let (store, path) = (Arc::clone(&store), path.clone());
        tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..EACH {
                loop {
                    let got = store.get(&path).await.unwrap();
                    let version = UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
                    let n: u64 = std::str::from_utf8(&got.bytes().await.unwrap()).unwrap().parse().unwrap();
                    let next = PutPayload::from((n + 1).to_string());
                    match store.put_opts(&path, next, PutMode::Update(version).into()).await {
                        Ok(_) => break,
                        Err(object_store::Error::Precondition { .. }) => conflicts += 1,
                        Err(e) => panic!("{store}: update failed: {e}"),
                    }
                }
            }
            conflicts
        })
    });
    let _conflicts: u64 = futures::future::join_all(writers).await.into_iter().map(Result::unwrap).sum();
    let total: u64 = std::str::from_utf8(&read(&*store, &path).await).unwrap().parse().unwrap();
    assert_eq!(total, WRITERS * EACH, "{store}: no increment lost under concurrent conditional updates");
    cleanup(&*store, &base).await;
}

/// A 20 MiB multipart upload in 5 MiB parts reads back byte-exact.
pub async fn multipart_20mib(store: Arc<dyn ObjectStore>) {
    let base = scratch("multipart");
    let path = base.clone().join("big");
    let data = pattern(20 << 20, 11);
    let upload = store.put_multipart(&path).await.unwrap_or_else(|e| panic!("{store}: multipart start: {e}"));
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 << 20);
    for piece in data.chunks(1 << 20) {
        writer.wait_for_capacity(4).await.unwrap();
        writer.write(piece);
    }
    writer.finish().await.unwrap_or_else(|e| panic!("{store}: multipart complete: {e}"));
    assert_eq!(store.head(&path).await.unwrap().size, 20 << 20, "{store}: multipart size");
    assert!(read(&*store, &path).await == data, "{store}: multipart content differs");
    cleanup(&*store, &base).await;
}

/// An aborted multipart upload leaves no object.
pub async fn multipart_abort(store: Arc<dyn ObjectStore>) {
    let base = scratch("abort");
    let path = base.clone().join("never");
    let mut upload = store.put_multipart(&path).await.unwrap();
    upload.put_part(pattern(5 << 20, 5).into()).await.unwrap();
    upload.abort().await.unwrap_or_else(|e| panic!("{store}: abort: {e}"));
    assert!(
        matches!(store.head(&path).await, Err(object_store::Error::NotFound { .. })),
        "{store}: aborted upload is invisible"
    );
    cleanup(&*store, &base).await;
}

/// Copy overwrites; copy-if-not-exists refuses an existing target.
pub async fn copy(store: Arc<dyn ObjectStore>) {
    let base = scratch("copy");
    let (src, dst, other) = (base.clone().join("src"), base.clone().join("dst"), base.clone().join("other"));
    let data = pattern(70_000, 9);
    store.put(&src, data.clone().into()).await.unwrap();
    store.put(&dst, "old".into()).await.unwrap();
    store.copy(&src, &dst).await.unwrap_or_else(|e| panic!("{store}: copy: {e}"));
    assert_eq!(read(&*store, &dst).await, data, "{store}: copied content");
    store.copy_if_not_exists(&src, &other).await.unwrap_or_else(|e| panic!("{store}: copy_if_not_exists: {e}"));
    assert_eq!(read(&*store, &other).await, data, "{store}: copy_if_not_exists content");
    store.put(&dst, "changed".into()).await.unwrap();
    let refused = store.copy_if_not_exists(&src, &dst).await;
    assert!(
        matches!(refused, Err(object_store::Error::AlreadyExists { .. })),
        "{store}: copy over existing: {refused:?}"
    );
    assert_eq!(read(&*store, &dst).await, Bytes::from("changed"), "{store}: refused copy changes nothing");
    cleanup(&*store, &base).await;
}

/// Generates one `#[tokio::test]` per conformance check, for a store made by `$make` (an
/// expression of type `Option<Arc<dyn ObjectStore>>`; `None` skips, for servers that are not
/// configured — see [`crate::testing::real_server`]).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@checks $make;
            put_get, missing_is_not_found, ranges, head, list, delete, create_only,
            concurrent_create, conditional_update, concurrent_updates, multipart_20mib,
            multipart_abort, copy);
    };
    (@checks $make:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let store: Option<::std::sync::Arc<dyn ::object_store::ObjectStore>> = $make;
                if let Some(store) = store {
                    $crate::testing::conformance::$check(store).await;
                }
            }
        )*
    };
}
