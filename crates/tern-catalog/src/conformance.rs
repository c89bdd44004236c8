//! One conformance suite for every [`Catalog`]: a catalog that passes it is one Tern can use.
//!
//! Each check takes a catalog, works under a fresh random service name (`catalog/<service>/…`,
//! so checks can run concurrently against one shared store), asserts with a message that names
//! the catalog, and deletes what it wrote. [`catalog_conformance_tests!`](crate::catalog_conformance_tests)
//! makes one `#[tokio::test]` per check.
//!
//! The first checks exercise the five [`Catalog`] methods directly (documents under
//! `catalog/<service>/docs/…`, which typed access never reads); the `typed_*` checks exercise
//! [`CatalogExt`] on top of them.
//!
//! # Panics
//!
//! Every check panics, with a message naming the catalog and what differed, when the catalog
//! does not conform: that is how a test fails.
#![allow(clippy::missing_panics_doc, clippy::too_many_lines, clippy::many_single_char_names)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::{
    BackupFilter, BackupId, BackupKind, BackupRecord, BackupStatus, Catalog, CatalogExt, ConsistentPoint, Error,
    LogSegment, Page, Paging, Position, ReplicationConfig, RestoreId, RestoreJob, RestoreTarget, Result, Schedule,
    ScheduleId, ScheduleSpec, Sizes,
};

/// The names of all checks, in the order
/// [`catalog_conformance_tests!`](crate::catalog_conformance_tests) generates them.
pub const CHECKS: &[&str] = &[
    "create_read",
    "concurrent_create",
    "conditional_update",
    "racing_writers",
    "concurrent_increments",
    "delete_idempotent",
    "keys_under_prefix",
    "typed_backups",
    "typed_filters",
    "typed_paging",
    "typed_delete_dependents",
    "typed_segments",
    "typed_schedules",
    "typed_restores",
    "typed_replication",
];

/// A fresh, unique, valid service name for one check.
fn service(check: &str) -> String {
    format!("conf-{}-{:012x}", check.replace('_', "-"), rand::random::<u64>() >> 16)
}

/// A fresh, unique region name, so region filters over all services see only this check's records.
fn region(name: &str) -> String {
    format!("{name}-{:08x}", rand::random::<u32>())
}

/// A fixed point in time, so records' times are exact and far from now.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, 4, 5, 6, 7).single().expect("a valid time")
}

/// Unwraps `result`, or fails naming the catalog and the operation.
#[track_caller]
fn ok<T>(catalog: &dyn Catalog, what: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{catalog:?}: {what}: {e}"))
}

/// Deletes everything of `service` and checks that it is gone.
async fn cleanup(catalog: &dyn Catalog, service: &str) {
    let prefix = format!("catalog/{service}");
    for key in ok(catalog, "keys for cleanup", catalog.keys(&prefix).await) {
        ok(catalog, "delete for cleanup", catalog.delete(&key).await);
    }
    let left = ok(catalog, "keys after cleanup", catalog.keys(&prefix).await);
    assert!(left.is_empty(), "{catalog:?}: keys left after deleting them all: {left:?}");
}

/// A minimal backup record.
fn backup(service: &str, kind: BackupKind, status: BackupStatus, started: DateTime<Utc>) -> BackupRecord {
    BackupRecord {
        id: BackupId::at(started),
        service: service.to_owned(),
        kind,
        status,
        parent: None,
        started,
        finished: None,
        consistent: None,
        sizes: Sizes::default(),
        manifest: None,
        region: None,
        labels: BTreeMap::new(),
    }
}

fn ids<'a>(records: impl IntoIterator<Item = &'a BackupRecord>) -> Vec<BackupId> {
    records.into_iter().map(|r| r.id.clone()).collect()
}

async fn list(catalog: &dyn Catalog, filter: &BackupFilter) -> Vec<BackupId> {
    ids(&ok(catalog, &format!("list_backups {filter:?}"), catalog.list_backups(filter, Paging::all()).await).items)
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(catalog: &dyn Catalog, what: &str, result: &Result<T>) {
    assert!(
        matches!(result, Err(Error::InvalidArgument(_))),
        "{catalog:?}: {what} must be InvalidArgument: {result:?}"
    );
}

/// Create then read; a second create with other content is `Exists` and changes nothing, with the
/// same content it succeeds (a retried create); a missing key reads as `None`.
pub async fn create_read(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("create_read");
    let key = format!("catalog/{service}/docs/one.json");
    let body = Bytes::from_static(br#"{"hello":"world"}"#);
    let v1 = ok(c, "create", c.create(&key, body.clone()).await);
    let (got, version) =
        ok(c, "read", c.read(&key).await).unwrap_or_else(|| panic!("{c:?}: created `{key}` reads as missing"));
    assert_eq!(got, body, "{c:?}: content read back");
    assert_eq!(version, v1, "{c:?}: the version read is the version the create returned");

    let again = c.create(&key, Bytes::from_static(b"second")).await;
    match &again {
        Err(Error::Exists(k)) => assert_eq!(k, &key, "{c:?}: Exists names the key"),
        other => panic!("{c:?}: second create must be Exists: {other:?}"),
    }
    let (after, version) = ok(c, "read after refused create", c.read(&key).await).expect("still there");
    assert_eq!(after, body, "{c:?}: a refused create changes nothing");
    assert_eq!(version, v1, "{c:?}: a refused create leaves the version");

    // Creating again with the same content succeeds (a retried create whose first attempt
    // landed), changes nothing, and gives the current version.
    let same = ok(c, "create again with the same content", c.create(&key, body.clone()).await);
    assert_eq!(same, v1, "{c:?}: a repeated create gives the current version");
    let v2 = ok(c, "update with the repeated create's version", c.update(&key, "v2".into(), &same).await);
    let r = c.create(&key, body.clone()).await;
    assert!(matches!(r, Err(Error::Exists(_))), "{c:?}: a create with what is no longer the content: {r:?}");
    let (after, version) = ok(c, "read", c.read(&key).await).expect("still there");
    assert_eq!((after, version), (Bytes::from("v2"), v2), "{c:?}: refused create after an update");

    let empty_key = format!("catalog/{service}/docs/empty");
    ok(c, "create of an empty document", c.create(&empty_key, Bytes::new()).await);
    let (empty, _) = ok(c, "read of an empty document", c.read(&empty_key).await).expect("empty document exists");
    assert!(empty.is_empty(), "{c:?}: an empty document reads back empty");

    let missing = ok(c, "read of a missing key", c.read(&format!("catalog/{service}/docs/missing.json")).await);
    assert!(missing.is_none(), "{c:?}: a missing key reads as None: {missing:?}");
    let elsewhere = ok(c, "read in a missing service", c.read(&format!("catalog/{service}-none/x.json")).await);
    assert!(elsewhere.is_none(), "{c:?}: a key under a missing prefix reads as None");
    cleanup(c, &service).await;
}

/// Eight concurrent creates of one key: exactly one wins, the others get `Exists`.
pub async fn concurrent_create(catalog: Arc<dyn Catalog>) {
    let service = service("concurrent_create");
    let key = format!("catalog/{service}/docs/lease.json");
    let attempts = (0..8u8).map(|i| {
        let (catalog, key) = (Arc::clone(&catalog), key.clone());
        tokio::spawn(async move { catalog.create(&key, Bytes::from(vec![i])).await })
    });
    let results = futures::future::join_all(attempts).await;
    let c = &*catalog;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r.expect("task") {
            Ok(_) => winners.push(i),
            Err(Error::Exists(_)) => {}
            Err(e) => panic!("{c:?}: a concurrent create failed other than with Exists: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{c:?}: exactly one concurrent create wins, got {winners:?}");
    let (stored, _) = ok(c, "read", c.read(&key).await).expect("created");
    assert_eq!(stored, Bytes::from(vec![u8::try_from(winners[0]).unwrap()]), "{c:?}: the winner's body is stored");
    cleanup(c, &service).await;
}

/// Updates: the current version succeeds and gives a new one; a stale version is `Conflict` and
/// changes nothing; a missing (or deleted) key is `NotFound` and is not created.
pub async fn conditional_update(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("conditional_update");
    let key = format!("catalog/{service}/docs/record.json");
    let v1 = ok(c, "create", c.create(&key, "v1".into()).await);
    let v2 = ok(c, "update with the current version", c.update(&key, "v2".into(), &v1).await);
    assert_ne!(v2, v1, "{c:?}: an update gives a new version");
    let (body, read_version) = ok(c, "read", c.read(&key).await).expect("exists");
    assert_eq!(body, Bytes::from("v2"), "{c:?}: updated content");
    assert_eq!(read_version, v2, "{c:?}: the version read is the version the update returned");

    // The version an update returned is good for the next update, without reading again.
    let v3 = ok(c, "update with the version an update returned", c.update(&key, "v3".into(), &v2).await);
    assert_ne!(v3, v2, "{c:?}: each update gives a new version");

    for stale in [&v1, &v2] {
        let r = c.update(&key, "lost".into(), stale).await;
        match &r {
            Err(e @ Error::Conflict(k)) => {
                assert_eq!(k, &key, "{c:?}: Conflict names the key");
                let text = e.to_string();
                assert!(text.contains("conflict") && text.contains("retry"), "{c:?}: a clear conflict message: {text}");
            }
            other => panic!("{c:?}: update with a stale version must be Conflict: {other:?}"),
        }
    }
    let (body, version) = ok(c, "read after stale updates", c.read(&key).await).expect("exists");
    assert_eq!(body, Bytes::from("v3"), "{c:?}: stale updates change nothing");
    assert_eq!(version, v3, "{c:?}: stale updates leave the version");

    let missing = format!("catalog/{service}/docs/missing.json");
    let r = c.update(&missing, "x".into(), &v3).await;
    assert!(matches!(&r, Err(Error::NotFound(k)) if *k == missing), "{c:?}: update of a missing key: {r:?}");
    assert!(ok(c, "read", c.read(&missing).await).is_none(), "{c:?}: a failed update creates nothing");

    ok(c, "delete", c.delete(&key).await);
    let r = c.update(&key, "x".into(), &v3).await;
    assert!(matches!(&r, Err(Error::NotFound(_))), "{c:?}: update of a deleted key with its last version: {r:?}");
    assert!(ok(c, "read", c.read(&key).await).is_none(), "{c:?}: an update does not bring back a deleted key");
    cleanup(c, &service).await;
}

/// Eight writers read one record, then each updates it with its own change to what it read:
/// exactly one succeeds, every other gets the clear `Conflict`, and the winner's change is stored.
pub async fn racing_writers(catalog: Arc<dyn Catalog>) {
    const WRITERS: usize = 8;
    let service = service("racing_writers");
    let record = backup(&service, BackupKind::Full, BackupStatus::Running, base_time());
    ok(&*catalog, "create_backup", catalog.create_backup(&record).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let writers = (0..WRITERS).map(|i| {
        let (catalog, barrier, service, id) =
            (Arc::clone(&catalog), Arc::clone(&barrier), service.clone(), record.id.clone());
        tokio::spawn(async move {
            let read = catalog.get_backup(&service, &id).await;
            barrier.wait().await; // everyone has read before anyone writes
            let read = read?.expect("the record exists");
            let mut mine = read.value;
            mine.labels.insert("writer".into(), i.to_string());
            mine.status = BackupStatus::Succeeded;
            catalog.update_backup(&mine, &read.version).await
        })
    });
    let results = futures::future::join_all(writers).await;
    let c = &*catalog;
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r.expect("task") {
            Ok(_) => winners.push(i),
            Err(e @ Error::Conflict(_)) => {
                assert!(e.to_string().contains("changed by another writer"), "{c:?}: a clear conflict error: {e}");
            }
            Err(e) => panic!("{c:?}: a racing update failed other than with Conflict: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "{c:?}: exactly one of {WRITERS} racing writers wins, got {winners:?}");
    let stored = ok(c, "get_backup", c.get_backup(&service, &record.id).await).expect("exists").value;
    assert_eq!(
        stored.labels.get("writer"),
        Some(&winners[0].to_string()),
        "{c:?}: the winner's change is the one stored"
    );
    cleanup(c, &service).await;
}

/// Concurrent read-modify-write loops (retrying on `Conflict`) on one record lose nothing.
pub async fn concurrent_increments(catalog: Arc<dyn Catalog>) {
    const WRITERS: u64 = 4;
    const EACH: u64 = 5;
    let service = service("concurrent_increments");
    let record = backup(&service, BackupKind::Full, BackupStatus::Running, base_time());
    ok(&*catalog, "create_backup", catalog.create_backup(&record).await);
    let writers = (0..WRITERS).map(|_| {
        let (catalog, service, id) = (Arc::clone(&catalog), service.clone(), record.id.clone());
        tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..EACH {
                loop {
                    let read = catalog.get_backup(&service, &id).await?.expect("the record exists");
                    let mut next = read.value;
                    next.sizes.new_bytes += 1;
                    match catalog.update_backup(&next, &read.version).await {
                        Ok(_) => break,
                        Err(Error::Conflict(_)) => conflicts += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok::<u64, Error>(conflicts)
        })
    });
    let c = &*catalog;
    for r in futures::future::join_all(writers).await {
        ok(c, "read-modify-write loop", r.expect("task"));
    }
    let stored = ok(c, "get_backup", c.get_backup(&service, &record.id).await).expect("exists").value;
    assert_eq!(stored.sizes.new_bytes, WRITERS * EACH, "{c:?}: no increment lost under concurrent updates");
    cleanup(c, &service).await;
}

/// Deletes remove; deleting again, or deleting what never was, succeeds; a deleted key can be
/// created again.
pub async fn delete_idempotent(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("delete_idempotent");
    let key = format!("catalog/{service}/docs/gone.json");
    let other = format!("catalog/{service}/docs/kept.json");
    ok(c, "create", c.create(&key, "a".into()).await);
    ok(c, "create", c.create(&other, "b".into()).await);
    ok(c, "delete", c.delete(&key).await);
    assert!(ok(c, "read", c.read(&key).await).is_none(), "{c:?}: a deleted key reads as None");
    ok(c, "delete again", c.delete(&key).await);
    ok(c, "delete of a key that never existed", c.delete(&format!("catalog/{service}/docs/never.json")).await);
    ok(c, "delete under a missing prefix", c.delete(&format!("catalog/{service}-none/docs/never.json")).await);
    assert!(ok(c, "read", c.read(&other).await).is_some(), "{c:?}: a delete removes only its key");
    assert_eq!(
        ok(c, "keys", c.keys(&format!("catalog/{service}")).await),
        std::slice::from_ref(&other),
        "{c:?}: a deleted key is not listed"
    );
    ok(c, "create after delete", c.create(&key, "again".into()).await);
    let (body, _) = ok(c, "read", c.read(&key).await).expect("created again");
    assert_eq!(body, Bytes::from("again"), "{c:?}: a deleted key can be created again");
    cleanup(c, &service).await;
}

/// `keys` lists every key under a prefix — whole path segments only — and nothing else, sorted.
pub async fn keys_under_prefix(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("keys_under_prefix");
    let base = format!("catalog/{service}");
    let names = ["docs/b", "docs/a/2", "docs/a/1", "docs/a/10", "docs-other/x", "docsx", "do/c", "docs/c.json"];
    for n in names {
        ok(c, "create", c.create(&format!("{base}/{n}"), Bytes::from(n)).await);
    }
    let under = |p: &str| {
        let mut want: Vec<String> =
            names.iter().filter(|n| n.starts_with(&format!("{p}/"))).map(|n| format!("{base}/{n}")).collect();
        want.sort();
        want
    };
    let docs = ok(c, "keys", c.keys(&format!("{base}/docs")).await);
    assert_eq!(docs, under("docs"), "{c:?}: keys under a prefix, sorted");
    assert_eq!(docs.len(), 5, "{c:?}: five keys under docs");
    assert_eq!(ok(c, "keys", c.keys(&format!("{base}/docs/")).await), docs, "{c:?}: a trailing `/` changes nothing");
    assert_eq!(ok(c, "keys", c.keys(&format!("{base}/docs/a")).await), under("docs/a"), "{c:?}: keys of a sub-prefix");
    let all = ok(c, "keys", c.keys(&base).await);
    let mut want: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
    want.sort();
    assert_eq!(all, want, "{c:?}: every key of the service, sorted");
    // (Not under a document's name plus more: a local folder cannot list through a file.)
    for not_a_segment in ["doc", "docs/a/1", "docs/b", "nothing", "docs/a/nothing"] {
        let got = ok(c, "keys", c.keys(&format!("{base}/{not_a_segment}")).await);
        assert!(got.is_empty(), "{c:?}: keys under `{not_a_segment}` (not a folder) must be none: {got:?}");
    }
    let everything = ok(c, "keys of the root", c.keys("").await);
    for key in &want {
        assert!(everything.contains(key), "{c:?}: keys(\"\") lists every key, but not `{key}`");
    }
    assert!(everything.is_sorted(), "{c:?}: keys(\"\") is sorted");
    let other_service = ok(c, "keys", c.keys(&format!("{base}-x")).await);
    assert!(other_service.is_empty(), "{c:?}: a service's keys are not under a longer name: {other_service:?}");
    cleanup(c, &service).await;
}

/// Typed backup records: create, read back exactly, conditional update, find across services,
/// `Exists` on a second create, invalid service names refused.
pub async fn typed_backups(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_backups");
    let t = base_time();
    let position = Position::mariadb("mysql-bin.000042", 1234, Some("0-1-99".into())).unwrap();
    let mut record = BackupRecord {
        parent: Some(BackupId::at(t - Duration::days(1))),
        finished: Some(t + Duration::minutes(5)),
        consistent: Some(ConsistentPoint { time: t + Duration::minutes(4), position: Some(position.clone()) }),
        sizes: Sizes { logical_bytes: 1 << 40, stored_bytes: 123_456_789, new_bytes: 42 },
        manifest: Some(format!("manifests/{service}/m.json")),
        region: Some("eu-west".into()),
        labels: BTreeMap::from([("team".into(), "orders".into()), ("ticket".into(), "OPS-1".into())]),
        ..backup(&service, BackupKind::Incremental, BackupStatus::Running, t)
    };
    let v1 = ok(c, "create_backup", c.create_backup(&record).await);
    let got = ok(c, "get_backup", c.get_backup(&service, &record.id).await).expect("created");
    assert_eq!(got.value, record, "{c:?}: a record reads back exactly");
    assert_eq!(got.version, v1, "{c:?}: get_backup gives the version create_backup returned");
    let native = got.value.consistent.as_ref().and_then(|p| p.position.as_ref()).map(|p| &p.native);
    assert_eq!(native, Some(&position.native), "{c:?}: the native position is kept");

    let other = BackupRecord { status: BackupStatus::Scheduled, ..record.clone() };
    let again = c.create_backup(&other).await;
    assert!(matches!(again, Err(Error::Exists(_))), "{c:?}: second create_backup, other content: {again:?}");
    let same = ok(c, "create_backup again, same content", c.create_backup(&record).await);
    assert_eq!(same, v1, "{c:?}: a repeated create_backup gives the current version");

    record.status = BackupStatus::Succeeded;
    let v2 = ok(c, "update_backup", c.update_backup(&record, &v1).await);
    assert_ne!(v2, v1, "{c:?}: update_backup gives a new version");
    let mut stale = record.clone();
    stale.status = BackupStatus::Failed { reason: "lost the race".into() };
    let r = c.update_backup(&stale, &v1).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{c:?}: update_backup with a stale version: {r:?}");
    let got = ok(c, "get_backup", c.get_backup(&service, &record.id).await).expect("exists");
    assert_eq!(got.value, record, "{c:?}: a refused update changes nothing");
    assert_eq!(got.version, v2, "{c:?}: the version is the last update's");

    let found = ok(c, "find_backup", c.find_backup(&record.id).await);
    assert_eq!(found.as_ref(), Some(&record), "{c:?}: find_backup searches every service");
    let nowhere = BackupId::at(t + Duration::days(365));
    assert_eq!(ok(c, "find_backup", c.find_backup(&nowhere).await), None, "{c:?}: find_backup of a missing id");
    assert!(
        ok(c, "get_backup", c.get_backup(&service, &nowhere).await).is_none(),
        "{c:?}: get_backup of a missing id is None"
    );
    let missing = backup(&service, BackupKind::Full, BackupStatus::Running, t + Duration::days(2));
    let r = c.update_backup(&missing, &v2).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: update_backup of a missing record: {r:?}");

    for bad in ["", "../x", "a/b", ".hidden", "with space", &"x".repeat(65)] {
        assert_invalid(c, &format!("get_backup in service `{bad}`"), &c.get_backup(bad, &record.id).await);
        let r = backup(bad, BackupKind::Full, BackupStatus::Running, t);
        assert_invalid(c, &format!("create_backup in service `{bad}`"), &c.create_backup(&r).await);
        let filter = BackupFilter { service: Some(bad.to_owned()), ..BackupFilter::default() };
        assert_invalid(
            c,
            &format!("list_backups of service `{bad}`"),
            &c.list_backups(&filter, Paging::default()).await,
        );
    }
    cleanup(c, &service).await;
}

/// Every filter of `list_backups`, alone and combined; results oldest first.
pub async fn typed_filters(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_filters");
    let other = format!("{service}-b");
    let (r1, r2) = (region("r1"), region("r2"));
    let t = base_time();
    let h = Duration::hours(1);
    let a = BackupRecord { region: Some(r1.clone()), ..backup(&service, BackupKind::Full, BackupStatus::Succeeded, t) };
    let b = BackupRecord {
        region: Some(r2.clone()),
        parent: Some(a.id.clone()),
        ..backup(&service, BackupKind::Incremental, BackupStatus::Running, t + h)
    };
    let f = BackupFilter::default;
    let failed = BackupStatus::Failed { reason: "disk full".into() };
    let d = backup(&service, BackupKind::Dump, failed, t + h * 2);
    let l = BackupRecord {
        region: Some(r1.clone()),
        ..backup(&service, BackupKind::Log, BackupStatus::Scheduled, t + h * 3)
    };
    let e = BackupRecord {
        region: Some(r1.clone()),
        ..backup(&other, BackupKind::Full, BackupStatus::Succeeded, t + Duration::minutes(30))
    };
    // Created out of order: listing orders by start time, not by creation.
    for r in [&l, &d, &e, &b, &a] {
        ok(c, "create_backup", c.create_backup(r).await);
    }
    let svc = || BackupFilter { service: Some(service.clone()), ..f() };
    let all = [&a, &b, &d, &l];
    assert_eq!(list(c, &svc()).await, ids(all), "{c:?}: a service's backups, oldest first");
    assert_eq!(
        list(c, &BackupFilter { service: Some(other.clone()), ..f() }).await,
        ids([&e]),
        "{c:?}: service filter"
    );
    let none = BackupFilter { service: Some(format!("{service}-none")), ..f() };
    assert_eq!(list(c, &none).await, [], "{c:?}: a service with no backups");

    for (kind, want) in [
        (BackupKind::Full, vec![&a]),
        (BackupKind::Incremental, vec![&b]),
        (BackupKind::Dump, vec![&d]),
        (BackupKind::Log, vec![&l]),
    ] {
        assert_eq!(list(c, &BackupFilter { kind: Some(kind), ..svc() }).await, ids(want), "{c:?}: kind {kind}");
    }
    for (status, want) in [
        ("succeeded", vec![&a]),
        ("running", vec![&b]),
        ("failed", vec![&d]),
        ("scheduled", vec![&l]),
        ("no-such-state", vec![]),
    ] {
        let filter = BackupFilter { status: Some(status.into()), ..svc() };
        assert_eq!(list(c, &filter).await, ids(want), "{c:?}: status {status}");
    }

    let from = |x| BackupFilter { from: Some(x), ..svc() };
    let to = |x| BackupFilter { to: Some(x), ..svc() };
    assert_eq!(list(c, &from(t + h)).await, ids([&b, &d, &l]), "{c:?}: `from` is inclusive");
    assert_eq!(list(c, &from(t + h + Duration::seconds(1))).await, ids([&d, &l]), "{c:?}: from");
    assert_eq!(list(c, &to(t + h * 2)).await, ids([&a, &b]), "{c:?}: `to` is exclusive");
    assert_eq!(list(c, &to(t)).await, [], "{c:?}: nothing before the first");
    let range = BackupFilter { from: Some(t + h), to: Some(t + h * 3), ..svc() };
    assert_eq!(list(c, &range).await, ids([&b, &d]), "{c:?}: from..to");
    let empty = BackupFilter { from: Some(t + h), to: Some(t + h), ..svc() };
    assert_eq!(list(c, &empty).await, [], "{c:?}: an empty time range");

    assert_eq!(
        list(c, &BackupFilter { region: Some(r1.clone()), ..svc() }).await,
        ids([&a, &l]),
        "{c:?}: region of one service"
    );
    assert_eq!(
        list(c, &BackupFilter { region: Some(r1.clone()), ..f() }).await,
        ids([&a, &e, &l]),
        "{c:?}: region across every service, oldest first"
    );
    assert_eq!(list(c, &BackupFilter { region: Some(r2.clone()), ..f() }).await, ids([&b]), "{c:?}: region r2");
    assert_eq!(list(c, &BackupFilter { region: Some(region("r3")), ..f() }).await, [], "{c:?}: unused region");

    let combined = BackupFilter {
        kind: Some(BackupKind::Full),
        status: Some("succeeded".into()),
        region: Some(r1.clone()),
        from: Some(t),
        to: Some(t + h),
        ..f()
    };
    assert_eq!(list(c, &combined).await, ids([&a, &e]), "{c:?}: every filter at once, all services");
    let combined = BackupFilter { service: Some(service.clone()), ..combined };
    assert_eq!(list(c, &combined).await, ids([&a]), "{c:?}: every filter at once");
    let contradiction = BackupFilter { kind: Some(BackupKind::Log), status: Some("succeeded".into()), ..svc() };
    assert_eq!(list(c, &contradiction).await, [], "{c:?}: filters narrow together");

    // Records come back whole.
    let page = ok(c, "list_backups", c.list_backups(&svc(), Paging::default()).await);
    assert_eq!(page.items, all.into_iter().cloned().collect::<Vec<_>>(), "{c:?}: listed records are whole");
    cleanup(c, &service).await;
    cleanup(c, &other).await;
}

/// Paging of `list_backups`: sizes, totals, the last partial page, a page past the end, and the
/// limits.
pub async fn typed_paging(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_paging");
    let filter = BackupFilter { service: Some(service.clone()), ..BackupFilter::default() };
    let empty = ok(c, "list_backups", c.list_backups(&filter, Paging::default()).await);
    assert_eq!(
        (empty.items.len(), empty.total, empty.pages, empty.page, empty.page_size),
        (0, 0, 0, 1, 50),
        "{c:?}: a listing of nothing"
    );

    let t = base_time();
    let records: Vec<BackupRecord> =
        (0..7).map(|i| backup(&service, BackupKind::Full, BackupStatus::Succeeded, t + Duration::minutes(i))).collect();
    for r in records.iter().rev() {
        ok(c, "create_backup", c.create_backup(r).await);
    }
    let by_service = &filter;
    let page = |page, page_size| async move {
        let got: Page<BackupRecord> =
            ok(c, "list_backups", c.list_backups(by_service, Paging { page, page_size }).await);
        got
    };
    for (n, want) in [(1, 0..3), (2, 3..6), (3, 6..7)] {
        let p = page(n, 3).await;
        assert_eq!(ids(&p.items), ids(&records[want.clone()]), "{c:?}: page {n} of 3");
        assert_eq!((p.total, p.pages, p.page, p.page_size), (7, 3, n, 3), "{c:?}: page {n} of 3, counts");
    }
    for n in [4, 5, 1000, u32::MAX] {
        let p = page(n, 3).await;
        assert!(p.items.is_empty(), "{c:?}: page {n}, beyond the end, is empty");
        assert_eq!((p.total, p.pages, p.page), (7, 3, n), "{c:?}: page {n} beyond the end, counts");
    }
    let exact = page(1, 7).await;
    assert_eq!((exact.items.len(), exact.pages), (7, 1), "{c:?}: one full page");
    let ones = page(7, 1).await;
    assert_eq!(ids(&ones.items), ids(&records[6..]), "{c:?}: the last page of size 1");
    assert_eq!(ones.pages, 7, "{c:?}: page size 1");
    let max = page(1, 1000).await;
    assert_eq!((max.items.len(), max.pages), (7, 1), "{c:?}: page_size 1000 is allowed");
    let all = ok(c, "list_backups", c.list_backups(&filter, Paging::all()).await);
    assert_eq!(ids(&all.items), ids(&records), "{c:?}: Paging::all lists everything");
    assert_eq!(all.pages, 1, "{c:?}: Paging::all is one page");
    let by_status = BackupFilter { status: Some("succeeded".into()), ..filter.clone() };
    let p = ok(c, "list_backups", c.list_backups(&by_status, Paging { page: 2, page_size: 5 }).await);
    assert_eq!((p.items.len(), p.total, p.pages), (2, 7, 2), "{c:?}: paging applies after filtering");

    for (paging, what) in [
        (Paging { page: 0, page_size: 10 }, "page 0"),
        (Paging { page: 1, page_size: 0 }, "page_size 0"),
        (Paging { page: 0, page_size: 0 }, "page 0 and page_size 0"),
        (Paging { page: 1, page_size: 1001 }, "page_size 1001"),
        (Paging { page: 1, page_size: u32::MAX - 1 }, "a huge page_size"),
    ] {
        assert_invalid(c, what, &c.list_backups(&filter, paging).await);
        assert_invalid(c, what, &c.list_backups(&BackupFilter::default(), paging).await);
    }
    cleanup(c, &service).await;
}

fn filter_for(service: &str) -> BackupFilter {
    BackupFilter { service: Some(service.to_owned()), ..BackupFilter::default() }
}

/// `delete_backup` refuses while a backup that is not failed names the record as parent
/// (`HasDependents`, naming it), deletes with `force`, and deletes once the dependent is gone.
pub async fn typed_delete_dependents(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_delete_dependents");
    let t = base_time();
    let full = backup(&service, BackupKind::Full, BackupStatus::Succeeded, t);
    let child = |minutes, status| BackupRecord {
        parent: Some(full.id.clone()),
        ..backup(&service, BackupKind::Incremental, status, t + Duration::minutes(minutes))
    };
    let incr = child(1, BackupStatus::Succeeded);
    let failed = child(2, BackupStatus::Failed { reason: "killed".into() });
    let running = child(3, BackupStatus::Running);
    let unrelated = backup(&service, BackupKind::Full, BackupStatus::Succeeded, t + Duration::minutes(4));
    for r in [&full, &incr, &failed, &running, &unrelated] {
        ok(c, "create_backup", c.create_backup(r).await);
    }

    let refused = c.delete_backup(&service, &full.id, false).await;
    match &refused {
        Err(e @ Error::HasDependents { backup, dependents }) => {
            assert_eq!(backup, full.id.as_str(), "{c:?}: HasDependents names the backup");
            assert!(dependents.contains(incr.id.as_str()), "{c:?}: HasDependents names the dependent: {e}");
            assert!(dependents.contains(running.id.as_str()), "{c:?}: a running dependent counts: {e}");
            assert!(!dependents.contains(failed.id.as_str()), "{c:?}: a failed dependent does not count: {e}");
            assert!(e.to_string().contains(incr.id.as_str()), "{c:?}: the message names the dependent: {e}");
        }
        other => panic!("{c:?}: delete_backup with dependents must be HasDependents: {other:?}"),
    }
    assert!(
        ok(c, "get_backup", c.get_backup(&service, &full.id).await).is_some(),
        "{c:?}: a refused delete deletes nothing"
    );

    // The dependents go (one deleted, one failed): then the parent can go.
    ok(c, "delete_backup of a dependent", c.delete_backup(&service, &incr.id, false).await);
    let r = c.delete_backup(&service, &full.id, false).await;
    match &r {
        Err(Error::HasDependents { dependents, .. }) => {
            assert_eq!(dependents, running.id.as_str(), "{c:?}: only the remaining dependent is named");
        }
        other => panic!("{c:?}: still one dependent: {other:?}"),
    }
    let v = ok(c, "get_backup", c.get_backup(&service, &running.id).await).expect("exists").version;
    let now_failed = BackupRecord { status: BackupStatus::Failed { reason: "stopped".into() }, ..running.clone() };
    ok(c, "update_backup", c.update_backup(&now_failed, &v).await);
    ok(c, "delete_backup once no dependent is left", c.delete_backup(&service, &full.id, false).await);
    assert!(ok(c, "get_backup", c.get_backup(&service, &full.id).await).is_none(), "{c:?}: deleted");
    let r = c.delete_backup(&service, &full.id, false).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: delete_backup of a missing record: {r:?}");

    // With force, dependents do not stop it, and they stay.
    let full2 = backup(&service, BackupKind::Full, BackupStatus::Succeeded, t + Duration::minutes(10));
    let incr2 = BackupRecord {
        parent: Some(full2.id.clone()),
        ..backup(&service, BackupKind::Incremental, BackupStatus::Succeeded, t + Duration::minutes(11))
    };
    ok(c, "create_backup", c.create_backup(&full2).await);
    ok(c, "create_backup", c.create_backup(&incr2).await);
    let r = c.delete_backup(&service, &full2.id, false).await;
    assert!(matches!(r, Err(Error::HasDependents { .. })), "{c:?}: refused without force: {r:?}");
    ok(c, "delete_backup with force", c.delete_backup(&service, &full2.id, true).await);
    assert!(ok(c, "get_backup", c.get_backup(&service, &full2.id).await).is_none(), "{c:?}: forced delete");
    assert!(
        ok(c, "get_backup", c.get_backup(&service, &incr2.id).await).is_some(),
        "{c:?}: a forced delete leaves the dependents"
    );
    let r = c.delete_backup(&service, &full2.id, true).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: forced delete of a missing record: {r:?}");

    let left = list(c, &filter_for(&service)).await;
    assert_eq!(left, ids([&failed, &running, &unrelated, &incr2]), "{c:?}: what is left");
    cleanup(c, &service).await;
}

/// Log segments: listed in start-position order (not by id or creation order), whole, with
/// native positions; a second create is `Exists`; backups are not segments.
pub async fn typed_segments(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_segments");
    let t = base_time();
    let segment = |file: &str, offset: u64, end: u64, start_time: DateTime<Utc>, id_time: DateTime<Utc>| LogSegment {
        id: BackupId::at(id_time),
        service: service.clone(),
        name: file.to_owned(),
        start_position: Position::mariadb(file, offset, Some(format!("0-1-{offset}"))).unwrap(),
        end_position: Position::mariadb(file, end, None).unwrap(),
        start_time,
        end_time: start_time + Duration::minutes(1),
        size: end - offset,
        region: Some("eu-west".into()),
    };
    // Ids (and so keys) in the reverse of position order; file 9 < file 10 < file 100 by index.
    let s = [
        segment("mysql-bin.000009", 4, 1000, t, t + Duration::hours(5)),
        segment("mysql-bin.000009", 1000, 5000, t + Duration::minutes(1), t + Duration::hours(4)),
        segment("mysql-bin.000010", 4, 500, t + Duration::minutes(2), t + Duration::hours(3)),
        segment("mysql-bin.000100", 4, 9, t + Duration::minutes(4), t + Duration::hours(2)),
        // The same start position as the one before, later: ordered by start time.
        segment("mysql-bin.000100", 4, 9, t + Duration::minutes(5), t + Duration::hours(1)),
    ];
    assert!(ok(c, "list_segments", c.list_segments(&service).await).is_empty(), "{c:?}: no segments yet");
    for i in [2, 4, 0, 3, 1] {
        ok(c, "create_segment", c.create_segment(&s[i]).await);
    }
    ok(c, "create_backup", c.create_backup(&backup(&service, BackupKind::Full, BackupStatus::Succeeded, t)).await);
    let listed = ok(c, "list_segments", c.list_segments(&service).await);
    assert_eq!(listed, s, "{c:?}: segments in start-position order, whole");
    for (got, want) in listed.iter().zip(&s) {
        assert_eq!(got.start_position.native, want.start_position.native, "{c:?}: native start position kept");
        assert_eq!(got.end_position.native, want.end_position.native, "{c:?}: native end position kept");
    }
    ok(c, "create_segment again, same content", c.create_segment(&s[0]).await);
    let again = c.create_segment(&LogSegment { size: 1, ..s[0].clone() }).await;
    assert!(matches!(again, Err(Error::Exists(_))), "{c:?}: second create_segment: {again:?}");
    let backups = list(c, &filter_for(&service)).await;
    assert_eq!(backups.len(), 1, "{c:?}: segments are not listed as backups");

    // PostgreSQL: timeline first, then LSN.
    let pg = format!("{service}-pg");
    let wal = |tl: u32, lsn: &str, id_minutes| LogSegment {
        id: BackupId::at(t + Duration::minutes(id_minutes)),
        service: pg.clone(),
        name: format!("{tl:08X}0000000000000001"),
        start_position: Position::postgres(tl, lsn).unwrap(),
        end_position: Position::postgres(tl, "FF/0").unwrap(),
        start_time: t,
        end_time: t,
        size: 16 << 20,
        region: None,
    };
    let w = [wal(1, "0/3000000", 3), wal(1, "1/0", 2), wal(2, "0/1000000", 1)];
    for seg in w.iter().rev() {
        ok(c, "create_segment", c.create_segment(seg).await);
    }
    assert_eq!(ok(c, "list_segments", c.list_segments(&pg).await), w, "{c:?}: WAL segments: timeline, then LSN");
    assert_invalid(c, "list_segments of an invalid service", &c.list_segments("no/such").await);
    cleanup(c, &service).await;
    cleanup(c, &pg).await;
}

/// Schedules: create, get, conditional update, list (ordered by creation, paged, one service or
/// all), delete.
pub async fn typed_schedules(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_schedules");
    let t = base_time();
    let schedule = |created_minutes: i64, spec: ScheduleSpec| Schedule {
        // Ids in the reverse of creation order: listing orders by `created`.
        id: ScheduleId::at(t + Duration::hours(1) - Duration::minutes(created_minutes)),
        service: service.clone(),
        kind: BackupKind::Full,
        spec,
        enabled: true,
        created: t + Duration::minutes(created_minutes),
        updated: None,
    };
    let a = schedule(2, ScheduleSpec::Cron("0 3 * * *".into()));
    let b = schedule(0, ScheduleSpec::Once(t + Duration::days(1)));
    let d = Schedule { kind: BackupKind::Incremental, ..schedule(1, ScheduleSpec::Cron("*/15 * * * *".into())) };
    let mut versions = BTreeMap::new();
    for s in [&a, &b, &d] {
        versions.insert(s.id.clone(), ok(c, "create_schedule", c.create_schedule(s).await));
    }
    ok(c, "create_schedule again, same content", c.create_schedule(&a).await);
    let again = c.create_schedule(&Schedule { enabled: false, ..a.clone() }).await;
    assert!(matches!(again, Err(Error::Exists(_))), "{c:?}: second create_schedule: {again:?}");

    let listed = ok(c, "list_schedules", c.list_schedules(Some(&service), Paging::default()).await);
    assert_eq!(listed.items, [b.clone(), d.clone(), a.clone()], "{c:?}: schedules, oldest first, whole");
    assert_eq!((listed.total, listed.pages), (3, 1), "{c:?}: schedule counts");
    let p2 = ok(c, "list_schedules", c.list_schedules(Some(&service), Paging { page: 2, page_size: 2 }).await);
    assert_eq!((p2.items, p2.total, p2.pages), (vec![a.clone()], 3, 2), "{c:?}: the last page of schedules");
    let everywhere = ok(c, "list_schedules", c.list_schedules(None, Paging::all()).await);
    let mine: Vec<&Schedule> = everywhere.items.iter().filter(|s| s.service == service).collect();
    assert_eq!(mine, [&b, &d, &a], "{c:?}: list_schedules of every service includes these");
    assert_invalid(
        c,
        "list_schedules page 0",
        &c.list_schedules(Some(&service), Paging { page: 0, page_size: 1 }).await,
    );

    let got = ok(c, "get_schedule", c.get_schedule(&service, &a.id).await).expect("created");
    assert_eq!(got.value, a, "{c:?}: get_schedule");
    assert_eq!(&got.version, &versions[&a.id], "{c:?}: get_schedule's version is create's");
    let off = Schedule { enabled: false, ..a.clone() };
    let v2 = ok(c, "update_schedule", c.update_schedule(&off, &got.version).await);
    let r = c.update_schedule(&Schedule { kind: BackupKind::Dump, ..a.clone() }, &got.version).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{c:?}: update_schedule with a stale version: {r:?}");
    let got = ok(c, "get_schedule", c.get_schedule(&service, &a.id).await).expect("exists");
    assert_eq!((got.value, got.version), (off.clone(), v2), "{c:?}: the first update stands");

    ok(c, "delete_schedule", c.delete_schedule(&service, &b.id).await);
    assert!(ok(c, "get_schedule", c.get_schedule(&service, &b.id).await).is_none(), "{c:?}: deleted schedule");
    ok(c, "delete_schedule again", c.delete_schedule(&service, &b.id).await);
    let r = c.update_schedule(&b, &versions[&b.id]).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: update_schedule of a deleted schedule: {r:?}");
    let listed = ok(c, "list_schedules", c.list_schedules(Some(&service), Paging::all()).await);
    assert_eq!(listed.items, [d, off], "{c:?}: schedules after a delete");
    assert!(
        ok(c, "get_schedule", c.get_schedule(&service, &ScheduleId::at(t)).await).is_none(),
        "{c:?}: get_schedule of a missing id"
    );
    assert_invalid(c, "get_schedule in an invalid service", &c.get_schedule("a/b", &a.id).await);
    cleanup(c, &service).await;
}

/// Restore jobs: create, conditional update, list (ordered by creation, paged), delete.
pub async fn typed_restores(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_restores");
    let t = base_time();
    let job = |created_minutes: i64, target: RestoreTarget| RestoreJob {
        id: RestoreId::at(t + Duration::hours(1) - Duration::minutes(created_minutes)),
        service: service.clone(),
        target,
        status: BackupStatus::Scheduled,
        created: t + Duration::minutes(created_minutes),
        finished: None,
        region: Some("us-east".into()),
        data_dir: None,
        external_source: None,
        backups: Vec::new(),
    };
    let position = Position::postgres(3, "16/B374D848").unwrap();
    let jobs = [
        job(0, RestoreTarget::Latest),
        job(1, RestoreTarget::Time(t - Duration::hours(2))),
        job(2, RestoreTarget::Position(position.clone())),
        job(3, RestoreTarget::Backup(BackupId::at(t - Duration::days(1)))),
    ];
    let mut versions = Vec::new();
    for j in jobs.iter().rev() {
        versions.insert(0, ok(c, "create_restore", c.create_restore(j).await));
    }
    ok(c, "create_restore again, same content", c.create_restore(&jobs[0]).await);
    let again = c.create_restore(&RestoreJob { status: BackupStatus::Running, ..jobs[0].clone() }).await;
    assert!(matches!(again, Err(Error::Exists(_))), "{c:?}: second create_restore: {again:?}");
    let listed = ok(c, "list_restores", c.list_restores(Some(&service), Paging::default()).await);
    assert_eq!(listed.items, jobs, "{c:?}: restore jobs, oldest first, whole");
    match &listed.items[2].target {
        RestoreTarget::Position(p) => assert_eq!(p.native, position.native, "{c:?}: the native position is kept"),
        other => panic!("{c:?}: target changed: {other:?}"),
    }
    let p = ok(c, "list_restores", c.list_restores(Some(&service), Paging { page: 2, page_size: 3 }).await);
    assert_eq!((p.items.len(), p.total, p.pages), (1, 4, 2), "{c:?}: the last page of restore jobs");

    let running = RestoreJob { status: BackupStatus::Running, ..jobs[1].clone() };
    let v2 = ok(c, "update_restore", c.update_restore(&running, &versions[1]).await);
    let r = c.update_restore(&RestoreJob { status: BackupStatus::Succeeded, ..jobs[1].clone() }, &versions[1]).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{c:?}: update_restore with a stale version: {r:?}");
    let done = RestoreJob { status: BackupStatus::Succeeded, finished: Some(t + Duration::hours(3)), ..running };
    ok(c, "update_restore with the version update returned", c.update_restore(&done, &v2).await);
    let listed = ok(c, "list_restores", c.list_restores(Some(&service), Paging::all()).await);
    assert_eq!(listed.items[1], done, "{c:?}: the updated restore job is listed");

    let everywhere = ok(c, "list_restores", c.list_restores(None, Paging::all()).await);
    let mine = everywhere.items.iter().filter(|j| j.service == service).count();
    assert_eq!(mine, 4, "{c:?}: list_restores of every service includes these");

    // Delete, by the documented layout `catalog/<service>/restores/<id>.json`.
    ok(c, "delete", c.delete(&format!("catalog/{service}/restores/{}.json", jobs[0].id)).await);
    let listed = ok(c, "list_restores", c.list_restores(Some(&service), Paging::all()).await);
    assert_eq!(listed.total, 3, "{c:?}: a deleted restore job is not listed");
    let r = c.update_restore(&jobs[0], &versions[0]).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: update_restore of a deleted job: {r:?}");
    assert_invalid(c, "list_restores page_size 0", &c.list_restores(None, Paging { page: 1, page_size: 0 }).await);
    cleanup(c, &service).await;
}

/// Replication config: absent, created once, updated conditionally, deleted.
pub async fn typed_replication(catalog: Arc<dyn Catalog>) {
    let c = &*catalog;
    let service = service("typed_replication");
    assert!(ok(c, "get_replication", c.get_replication(&service).await).is_none(), "{c:?}: no replication yet");
    let config = ReplicationConfig {
        service: service.clone(),
        secondaries: vec!["eu-west".into(), "ap-south".into()],
        enabled: true,
        paused: None,
    };
    let v1 = ok(c, "put_replication (create)", c.put_replication(&config, None).await);
    let r = c.put_replication(&ReplicationConfig { enabled: false, ..config.clone() }, None).await;
    assert!(matches!(r, Err(Error::Exists(_))), "{c:?}: a second create of the replication config: {r:?}");
    let got = ok(c, "get_replication", c.get_replication(&service).await).expect("created");
    assert_eq!((&got.value, &got.version), (&config, &v1), "{c:?}: get_replication");

    let paused = ReplicationConfig { paused: Some("maintenance".into()), enabled: false, ..config.clone() };
    let v2 = ok(c, "put_replication (update)", c.put_replication(&paused, Some(&v1)).await);
    assert_ne!(v2, v1, "{c:?}: an update gives a new version");
    let r = c.put_replication(&config, Some(&v1)).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{c:?}: put_replication with a stale version: {r:?}");
    let got = ok(c, "get_replication", c.get_replication(&service).await).expect("exists");
    assert_eq!((&got.value, &got.version), (&paused, &v2), "{c:?}: the first update stands");

    ok(c, "delete", c.delete(&format!("catalog/{service}/replication.json")).await);
    assert!(ok(c, "get_replication", c.get_replication(&service).await).is_none(), "{c:?}: deleted");
    let r = c.put_replication(&paused, Some(&v2)).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{c:?}: update of a deleted replication config: {r:?}");
    let bad = ReplicationConfig { service: String::new(), ..config };
    assert_invalid(c, "put_replication of an invalid service", &c.put_replication(&bad, None).await);
    assert!(matches!(&c.get_backup(&service, &BackupId::new()).await, Ok(None)), "{c:?}: replication is not a backup");
    cleanup(c, &service).await;
}

/// Generates one `#[tokio::test]` per conformance check, for a catalog made by `$make` (an
/// expression of type `Option<Arc<dyn Catalog>>`; `None` skips, for servers that are not
/// configured — see `tern_storage::testing::real_server`).
#[macro_export]
macro_rules! catalog_conformance_tests {
    ($make:expr) => {
        $crate::catalog_conformance_tests!(@checks $make;
            create_read, concurrent_create, conditional_update, racing_writers, concurrent_increments,
            delete_idempotent, keys_under_prefix, typed_backups, typed_filters, typed_paging,
            typed_delete_dependents, typed_segments, typed_schedules, typed_restores, typed_replication);
    };
    (@checks $make:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let catalog: ::core::option::Option<::std::sync::Arc<dyn $crate::Catalog>> = $make;
                if let ::core::option::Option::Some(catalog) = catalog {
                    $crate::conformance::$check(catalog).await;
                }
            }
        )*
    };
}
