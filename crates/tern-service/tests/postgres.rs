//! PostgreSQL end to end against a real server: a base backup, a dump, WAL archived through the
//! same code as `tern wal-push`, restores to times between marker rows, to latest and of the
//! dump, from a secondary region; a WAL gap refused before any work; idempotent and conflicting
//! pushes; failing tools leave `failed` records.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use tern_catalog::{BackupKind, BackupStatus, Catalog, CatalogExt, RestoreTarget};
use tern_db::postgres::{PostgresTarget, PostgresTools};
use tern_db::sandbox::{PostgresOptions, PostgresServer};
use tern_engine::Repository;
use tern_service::{db, wal};

const SCHEMA: &str = "CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL, note text,
  created timestamptz NOT NULL DEFAULT now());
CREATE TABLE pitr_marker (id serial PRIMARY KEY, label text NOT NULL, ts timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO orders (customer, note) SELECT 1 + g % 1000, md5(g::text) FROM generate_series(1, 20000) g;";

async fn state(server: &PostgresServer) -> (Vec<String>, u64) {
    let labels = server.sql("shop", "SELECT label FROM pitr_marker ORDER BY id").await.unwrap();
    let count = server.value("shop", "SELECT count(*) FROM orders").await.unwrap();
    (labels, count.parse().unwrap())
}

async fn restored_state(tools: &PostgresTools, dir: &Path) -> (Vec<String>, u64) {
    let server = PostgresServer::open(tools.clone(), dir).await.unwrap();
    let state = state(&server).await;
    server.stop().await.unwrap();
    state
}

async fn mark(server: &PostgresServer, label: &str) {
    server.sql("shop", &format!("INSERT INTO pitr_marker(label) VALUES ('{label}')")).await.unwrap();
}

/// Pushes every file the server archived into the spool, oldest first (what `archive_command =
/// 'tern wal-push …'` does, file by file).
async fn push_spool(repo: &Repository, spool: &Path, tools: &PostgresTools) -> usize {
    let mut names: Vec<_> = std::fs::read_dir(spool).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut archived = 0;
    for path in names {
        if let wal::Pushed::Archived(_) = wal::push(repo, "shop", &path, tools).await.unwrap() {
            archived += 1;
        }
    }
    archived
}

/// A directory the server's OS user can reach (test temp dirs are 0700 root).
fn reachable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, step by step
async fn point_in_time_restores_from_base_backup_dump_and_wal() {
    let Some(tools) = common::postgres() else { return };
    let work = reachable_tempdir();
    let repo = common::local_repo(&work.path().join("eu")).await;
    let spool = work.path().join("spool");
    tools.create_owned_dir(&spool).unwrap();
    let archive = format!("test ! -f {0}/%f && cp -p %p {0}/%f", spool.display());
    let server =
        PostgresServer::start(tools.clone(), PostgresOptions { archive_command: Some(archive), env: Vec::new() })
            .await
            .unwrap();
    server.sql("postgres", "CREATE DATABASE shop").await.unwrap();
    server.sql("shop", SCHEMA).await.unwrap();
    let source = server.source("shop");
    let service = "shop";

    let full = db::backup(&repo, service, &source, BackupKind::Full).await.unwrap();
    let point = full.record.consistent.clone().unwrap();
    assert!(point.position.is_some(), "{point:?}");
    assert_eq!(full.record.labels.get("timeline").map(String::as_str), Some("1"));
    let err = db::backup(&repo, service, &source, BackupKind::Incremental).await.unwrap_err().to_string();
    assert!(err.contains("no incremental"), "{err}");

    server
        .sql("shop", "INSERT INTO orders (customer, note) SELECT g, 'batch-a' FROM generate_series(1, 3000) g")
        .await
        .unwrap();
    mark(&server, "m1-before").await;
    let at_t1 = state(&server).await;
    let t1 = common::target_between().await;
    mark(&server, "m1-after").await;
    server.sql("shop", "DELETE FROM orders WHERE note = 'batch-a'").await.unwrap();
    server.switch_wal_and_wait().await.unwrap();

    let dump = db::backup(&repo, service, &source, BackupKind::Dump).await.unwrap();
    assert!(dump.record.consistent.as_ref().unwrap().position.is_none(), "WAL is not replayed on a dump");
    let at_dump = state(&server).await;

    mark(&server, "m2-before").await;
    let at_t2 = state(&server).await;
    let t2 = common::target_between().await;
    mark(&server, "m2-after").await;
    server.sql("shop", "DELETE FROM orders WHERE id <= 100").await.unwrap();
    let at_end = state(&server).await;
    server.switch_wal_and_wait().await.unwrap();

    assert!(push_spool(&repo, &spool, &tools).await >= 3);
    // The archiver retries a push whose answer it did not see: the same file again is fine.
    assert_eq!(push_spool(&repo, &spool, &tools).await, 0, "everything already archived");
    let segments = repo.catalog().list_segments(service).await.unwrap();
    for pair in segments.windows(2) {
        assert_eq!(pair[0].end_position, pair[1].start_position, "WAL segments meet exactly");
    }
    // Other bytes under an archived name are refused.
    let forged = work.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    let name = &segments[1].name;
    let mut bytes = std::fs::read(spool.join(name)).unwrap();
    bytes[100] ^= 1;
    std::fs::write(forged.join(name), &bytes).unwrap();
    let err = wal::push(&repo, service, &forged.join(name), &tools).await.unwrap_err();
    assert!(matches!(err, tern_service::Error::WalConflict { .. }), "{err}");
    // Fetch (restore_command) gives back the archived bytes; an unknown name is "not there".
    let fetched = work.path().join("fetched");
    assert!(wal::fetch(&repo, service, name, &fetched).await.unwrap());
    assert_eq!(std::fs::read(&fetched).unwrap(), std::fs::read(spool.join(name)).unwrap());
    assert!(!wal::fetch(&repo, service, "0000000100000000000000FF", &fetched).await.unwrap());

    // T1 and T2: the base backup and WAL (a dump is never a base for replay).
    for (target, expected, dir) in [(t1, &at_t1, "t1"), (t2, &at_t2, "t2")] {
        let out = work.path().join(dir);
        let target_db = PostgresTarget::new(&out, tools.clone());
        let restored = db::restore(&repo, service, &RestoreTarget::Time(target), &target_db).await.unwrap();
        assert_eq!(restored.plan.base.id, full.id);
        assert!(!restored.plan.segments.is_empty());
        assert!(
            restored.report.stopped.as_deref().is_some_and(|s| s.contains("recovery stopping")),
            "{:?}",
            restored.report
        );
        assert_eq!(&restored_state(&tools, &out).await, expected, "restored to {dir}");
    }
    let out = work.path().join("latest");
    db::restore(&repo, service, &RestoreTarget::Latest, &PostgresTarget::new(&out, tools.clone())).await.unwrap();
    assert_eq!(restored_state(&tools, &out).await, at_end, "restored to latest");
    let out = work.path().join("dump");
    db::restore(&repo, service, &RestoreTarget::Backup(dump.id.clone()), &PostgresTarget::new(&out, tools.clone()))
        .await
        .unwrap();
    assert_eq!(restored_state(&tools, &out).await, at_dump, "restored the dump");

    // The same restore in a secondary region, after replication.
    let us_store: Arc<dyn object_store::ObjectStore> =
        Arc::new(tern_storage::LocalStore::open(&work.path().join("us"), true).unwrap());
    let replicator = tern_replicator::Replicator::new(repo.clone(), Arc::clone(&us_store)).await.unwrap();
    replicator.pass_and_measure(service).await.unwrap();
    let us = Repository::open(us_store, Some(&common::key())).await.unwrap();
    let out = work.path().join("t1-us");
    db::restore(&us, service, &RestoreTarget::Time(t1), &PostgresTarget::new(&out, tools.clone())).await.unwrap();
    assert_eq!(restored_state(&tools, &out).await, at_t1, "restored to T1 in the secondary");
    // restore_command in the secondary finds files by their backups (no name entries there).
    assert!(wal::fetch(&us, service, name, &fetched).await.unwrap());

    // A gap: a segment between the base backup and T2 is deleted; refused before any work.
    let base_position = point.position.unwrap();
    let victim = segments.iter().find(|s| s.start_position > base_position).unwrap().clone();
    repo.delete_backup(service, &victim.id, true).await.unwrap();
    repo.catalog().delete(&format!("catalog/{service}/logs/{}.json", victim.id)).await.unwrap();
    let out = work.path().join("gap");
    let err = db::restore(&repo, service, &RestoreTarget::Time(t2), &PostgresTarget::new(&out, tools.clone()))
        .await
        .unwrap_err();
    common::assert_log_gap(&err, &victim, &out);

    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_tools_leave_failed_records() {
    let Some(tools) = common::postgres() else { return };
    let work = reachable_tempdir();
    let repo = common::local_repo(&work.path().join("repo")).await;
    let server = PostgresServer::start(tools.clone(), PostgresOptions::default()).await.unwrap();

    let wrong = tern_db::postgres::PostgresSource::new(
        format!("host={} port=5432 user=nobody dbname=postgres", server.socket_dir().display()),
        tools.clone(),
    );
    let err = db::backup(&repo, "creds", &wrong, BackupKind::Full).await.unwrap_err().to_string();
    assert!(err.contains("pg_basebackup failed") && err.contains("nobody"), "{err}");

    let nowhere = PostgresTools { bin_dir: "/nonexistent/bin".into(), ..tools.clone() };
    let missing = tern_db::postgres::PostgresSource::new(server.conninfo("postgres"), nowhere);
    let err = db::backup(&repo, "missing", &missing, BackupKind::Full).await.unwrap_err().to_string();
    assert!(err.contains("cannot run pg_basebackup"), "{err}");

    let all = repo
        .catalog()
        .list_backups(&tern_catalog::BackupFilter::default(), tern_catalog::Paging::all())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|r| matches!(&r.status, BackupStatus::Failed { reason } if !reason.is_empty())));
    assert!(repo.list_backups(None).await.unwrap().is_empty(), "no succeeded backup");
    server.stop().await.unwrap();
}
