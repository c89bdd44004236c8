//! MariaDB end to end against a real server: full + incremental + dump + binlogs, restores to
//! times between marker rows, to latest, from a dump, from a secondary region; a log gap refused
//! before any work; failing tools leave `failed` records.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tern_catalog::{BackupKind, BackupStatus, Catalog, CatalogExt, RestoreTarget};
use tern_db::mariadb::{MariadbSource, MariadbTarget, MariadbTools};
use tern_db::sandbox::MariadbServer;
use tern_db::{BackupSource, BackupStream};
use tern_engine::Repository;
use tern_service::db;

const SCHEMA: &str = "CREATE DATABASE shop; USE shop;
CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, note VARCHAR(64),
  created DATETIME NOT NULL) ENGINE=InnoDB;
CREATE TABLE shop.pitr_marker (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL,
  ts DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB;
INSERT INTO shop.orders (customer, note, created)
  SELECT 1 + seq % 1000, MD5(seq), '2026-01-01' + INTERVAL seq SECOND FROM shop.seq_1_to_20000;";

/// Flushes dirty pages so the next backup's `to_lsn` (the checkpoint) is current, which keeps the
/// following incremental small.
async fn checkpoint(server: &MariadbServer) {
    server
        .sql("SET GLOBAL innodb_max_dirty_pages_pct_lwm=0.001; SET GLOBAL innodb_max_dirty_pages_pct=0.001")
        .await
        .unwrap();
    for _ in 0..100 {
        let age = server.sql("SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'").await.unwrap();
        if age[0][1].parse::<u64>().unwrap() < 4096 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.sql("SET GLOBAL innodb_max_dirty_pages_pct=90; SET GLOBAL innodb_max_dirty_pages_pct_lwm=0").await.unwrap();
}

/// What a restored server holds: marker labels and order count.
async fn restored_state(tools: &MariadbTools, dir: &std::path::Path) -> (Vec<String>, u64) {
    let server = MariadbServer::open(tools.clone(), dir).await.unwrap();
    let state = state(&server).await;
    server.stop().await.unwrap();
    state
}

async fn state(server: &MariadbServer) -> (Vec<String>, u64) {
    let labels = server.sql("SELECT label FROM shop.pitr_marker ORDER BY id").await.unwrap();
    let count = server.value("SELECT COUNT(*) FROM shop.orders").await.unwrap();
    (labels.into_iter().map(|r| r[0].clone()).collect(), count.parse().unwrap())
}

async fn mark(server: &MariadbServer, label: &str) {
    server.sql(&format!("INSERT INTO shop.pitr_marker(label) VALUES ('{label}')")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, step by step
async fn point_in_time_restores_from_full_incremental_dump_and_binlogs() {
    let Some(tools) = common::mariadb() else { return };
    let work = tempfile::tempdir().unwrap();
    let repo = common::local_repo(&work.path().join("eu")).await;
    let server = MariadbServer::start(tools.clone()).await.unwrap();
    server.sql(SCHEMA).await.unwrap();
    let source = server.source().databases(["shop"]);
    let service = "shop";

    checkpoint(&server).await;
    let full = db::backup(&repo, service, &source, BackupKind::Full).await.unwrap();
    assert!(full.record.labels.contains_key("to_lsn"), "{:?}", full.record.labels);
    assert!(full.record.consistent.as_ref().unwrap().position.is_some());

    server
        .sql("INSERT INTO shop.orders (customer, note, created) SELECT seq, 'batch-a', NOW() FROM shop.seq_1_to_3000")
        .await
        .unwrap();
    checkpoint(&server).await;
    let inc = db::backup(&repo, service, &source, BackupKind::Incremental).await.unwrap();
    assert_eq!(inc.record.parent.as_ref(), Some(&full.id));
    assert!(
        inc.stats.logical_bytes < full.stats.logical_bytes / 2,
        "incremental {} B vs full {} B",
        inc.stats.logical_bytes,
        full.stats.logical_bytes
    );
    db::archive_logs(&repo, service, &source, true).await.unwrap();

    // Target 1: between m1-before and m1-after (the 'accident' deletes batch A after it).
    mark(&server, "m1-before").await;
    let at_t1 = state(&server).await;
    let t1 = common::target_between().await;
    mark(&server, "m1-after").await;
    server.sql("DELETE FROM shop.orders WHERE note = 'batch-a'").await.unwrap();
    db::archive_logs(&repo, service, &source, true).await.unwrap();

    let dump = db::backup(&repo, service, &source, BackupKind::Dump).await.unwrap();
    assert!(dump.record.consistent.as_ref().unwrap().position.is_some(), "a MariaDB dump records its position");

    // Target 2: between m2-before and m2-after, after the dump.
    mark(&server, "m2-before").await;
    let at_t2 = state(&server).await;
    let t2 = common::target_between().await;
    mark(&server, "m2-after").await;
    server.sql("DELETE FROM shop.orders WHERE id <= 100").await.unwrap();
    let at_end = state(&server).await;
    let archived = db::archive_logs(&repo, service, &source, true).await.unwrap();
    assert!(!archived.is_empty());
    let segments = repo.catalog().list_segments(service).await.unwrap();
    assert!(segments.len() >= 3, "{} segments", segments.len());
    for pair in segments.windows(2) {
        assert_eq!(pair[0].end_position, pair[1].start_position, "binlogs meet exactly");
    }
    // Archiving again finds nothing new.
    assert!(db::archive_logs(&repo, service, &source, false).await.unwrap().is_empty());

    // T1: full + incremental + binlogs.
    let out = work.path().join("t1");
    let restored =
        db::restore(&repo, service, &RestoreTarget::Time(t1), &MariadbTarget::new(&out).tools(tools.clone()))
            .await
            .unwrap();
    assert_eq!(restored.plan.base.id, full.id);
    assert_eq!(restored.plan.incrementals.iter().map(|r| &r.id).collect::<Vec<_>>(), [&inc.id]);
    assert!(!restored.plan.segments.is_empty());
    let restored_t1_segments: Vec<String> = restored.plan.segments.iter().map(|s| s.name.clone()).collect();
    assert_eq!(restored_state(&tools, &out).await, at_t1, "restored to T1");

    // A restore that fails after writing into the target (here: no mariadb-binlog to replay
    // with, after the files were moved into place) leaves the target as it was.
    let partial_tools = work.path().join("bin-without-mariadb-binlog");
    std::fs::create_dir(&partial_tools).unwrap();
    for tool in ["mbstream", "mariadb-backup", "mariadb", "mariadb-admin", "mariadb-install-db"] {
        std::os::unix::fs::symlink(tools.bin_dir.join(tool), partial_tools.join(tool)).unwrap();
    }
    let partial = MariadbTools { bin_dir: partial_tools, ..tools.clone() };
    for existed in [false, true] {
        let out = work.path().join(format!("broken-{existed}"));
        if existed {
            std::fs::create_dir(&out).unwrap();
        }
        let target = MariadbTarget::new(&out).tools(partial.clone());
        let err = db::restore(&repo, service, &RestoreTarget::Time(t1), &target).await.unwrap_err().to_string();
        assert!(err.contains("cannot run mariadb-binlog"), "{err}");
        assert_eq!(out.exists(), existed, "{}", out.display());
        assert!(!existed || std::fs::read_dir(&out).unwrap().next().is_none(), "emptied again");
    }

    // T2: the dump is the newest base before it.
    let out = work.path().join("t2");
    let restored =
        db::restore(&repo, service, &RestoreTarget::Time(t2), &MariadbTarget::new(&out).tools(tools.clone()))
            .await
            .unwrap();
    assert_eq!(restored.plan.base.id, dump.id);
    assert_eq!(restored_state(&tools, &out).await, at_t2, "restored to T2 from the dump");

    // Latest: everything archived.
    let out = work.path().join("latest");
    db::restore(&repo, service, &RestoreTarget::Latest, &MariadbTarget::new(&out).tools(tools.clone())).await.unwrap();
    assert_eq!(restored_state(&tools, &out).await, at_end, "restored to latest");

    // The same restore in a secondary region, after replication.
    let us_store: Arc<dyn object_store::ObjectStore> =
        Arc::new(tern_storage::LocalStore::open(&work.path().join("us"), true).unwrap());
    let replicator = tern_replicator::Replicator::new(repo.clone(), Arc::clone(&us_store)).await.unwrap();
    replicator.pass_and_measure(service).await.unwrap();
    let us = Repository::open(us_store, Some(&common::key())).await.unwrap();
    let out = work.path().join("t1-us");
    db::restore(&us, service, &RestoreTarget::Time(t1), &MariadbTarget::new(&out).tools(tools.clone())).await.unwrap();
    assert_eq!(restored_state(&tools, &out).await, at_t1, "restored to T1 in the secondary");

    // A gap: the binlog between the incremental's and the dump's is deleted. A restore to T1
    // needs it: refused, naming the gap, before anything is written.
    let victim = segments[1].clone();
    assert!(restored_t1_segments.contains(&victim.name), "T1 replays {restored_t1_segments:?}");
    repo.delete_backup(service, &victim.id, true).await.unwrap();
    repo.catalog().delete(&format!("catalog/{service}/logs/{}.json", victim.id)).await.unwrap();
    let out = work.path().join("gap");
    let err = db::restore(&repo, service, &RestoreTarget::Time(t1), &MariadbTarget::new(&out).tools(tools.clone()))
        .await
        .unwrap_err();
    common::assert_log_gap(&err, &victim, &out);

    server.stop().await.unwrap();
}

/// A source whose stream is read slowly, so that its tool is still running when the test kills it.
#[derive(Debug)]
struct Slow(MariadbSource);

#[async_trait::async_trait]
impl BackupSource for Slow {
    fn engine(&self) -> tern_db::Engine {
        self.0.engine()
    }
    async fn full(&self) -> tern_db::Result<BackupStream> {
        let (entry, reader, finish) = self.0.full().await?.into_parts();
        let slow = futures::stream::unfold(reader, |mut reader| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut buf = vec![0; 4096];
            match tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), reader))
                }
                Err(e) => Some((Err(e), reader)),
            }
        });
        Ok(BackupStream::new(entry, tokio_util::io::StreamReader::new(Box::pin(slow)), finish))
    }
    async fn incremental(&self, base: &tern_catalog::BackupRecord) -> tern_db::Result<BackupStream> {
        self.0.incremental(base).await
    }
    async fn dump(&self) -> tern_db::Result<BackupStream> {
        self.0.dump().await
    }
    async fn closed_logs(
        &self,
        since: Option<&tern_catalog::Position>,
        rotate: bool,
    ) -> tern_db::Result<tern_db::ClosedLogs> {
        self.0.closed_logs(since, rotate).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_tools_leave_failed_records() {
    let Some(tools) = common::mariadb() else { return };
    let work = tempfile::tempdir().unwrap();
    let repo = common::local_repo(&work.path().join("repo")).await;
    let server = MariadbServer::start(tools.clone()).await.unwrap();
    server.sql(SCHEMA).await.unwrap();

    // Wrong credentials: a user that does not exist, over the server's socket.
    let socket = std::fs::read_to_string(server.defaults_file()).unwrap();
    let socket = socket.lines().find_map(|l| l.strip_prefix("socket=")).unwrap().to_owned();
    let bad = work.path().join("bad.cnf");
    std::fs::write(&bad, format!("[client]\nsocket={socket}\nuser=nobody\npassword=wrong\n")).unwrap();
    let wrong = MariadbSource::new(&bad).tools(tools.clone());
    let err = db::backup(&repo, "creds", &wrong, BackupKind::Full).await.unwrap_err().to_string();
    assert!(err.contains("Access denied"), "{err}");
    let err = db::backup(&repo, "creds", &wrong, BackupKind::Dump).await.unwrap_err().to_string();
    assert!(err.contains("Access denied"), "{err}");

    // A missing binary.
    let nowhere = MariadbTools { bin_dir: "/nonexistent/bin".into(), ..tools.clone() };
    let missing = server.source().tools(nowhere);
    let err = db::backup(&repo, "missing", &missing, BackupKind::Full).await.unwrap_err().to_string();
    assert!(err.contains("cannot run mariadb-backup"), "{err}");

    // Killed mid-stream.
    let cnf = server.defaults_file().display().to_string();
    let killer = tokio::spawn(async move {
        let pattern = format!("mariadb-backup --defaults-file={cnf}");
        for _ in 0..600 {
            let out = tokio::process::Command::new("pgrep").args(["-f", &pattern]).output().await.unwrap();
            let pids = String::from_utf8(out.stdout).unwrap();
            if let Some(pid) = pids.lines().next() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let killed = tokio::process::Command::new("kill").args(["-KILL", pid]).status().await.unwrap();
                return killed.success();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    let err = db::backup(&repo, "killed", &Slow(server.source()), BackupKind::Full).await.unwrap_err().to_string();
    assert!(killer.await.unwrap(), "the tool was found and killed");
    assert!(err.contains("mariadb-backup failed") && err.contains("SIGKILL"), "{err}");

    // Each attempt left a failed record with the tool's message, and nothing succeeded.
    let all = repo
        .catalog()
        .list_backups(&tern_catalog::BackupFilter::default(), tern_catalog::Paging::all())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 4, "{all:?}");
    for record in &all {
        let BackupStatus::Failed { reason } = &record.status else { panic!("{record:?} is not failed") };
        let expected = match record.service.as_str() {
            "creds" => "Access denied",
            "missing" => "cannot run mariadb-backup",
            _ => "SIGKILL",
        };
        assert!(reason.contains(expected), "{}: {reason}", record.service);
    }
    assert!(repo.list_backups(None).await.unwrap().is_empty(), "no succeeded backup");

    // An incremental with no full is refused before anything is recorded.
    let err = db::backup(&repo, "fresh", &server.source(), BackupKind::Incremental).await.unwrap_err().to_string();
    assert!(err.contains("needs one"), "{err}");
    server.stop().await.unwrap();
}
