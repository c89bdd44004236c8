//! `tern db …`, `tern wal-push` and `tern wal-fetch` run as a user would, against real MariaDB and
//! PostgreSQL servers: PostgreSQL's archive_command is the `tern` binary itself.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tern_db::mariadb::MariadbTools;
use tern_db::postgres::PostgresTools;
use tern_db::sandbox::{MariadbServer, PostgresOptions, PostgresServer};

const PASSWORD: &str = "db-cli passphrase 51c0";
const REQUIRE: &str = "TERN_REQUIRE_REAL_SERVERS";

fn skip(what: &str) -> bool {
    assert!(std::env::var_os(REQUIRE).is_none(), "{what} is not installed but {REQUIRE} is set");
    eprintln!("skipping: {what} is not installed (scripts/databases.sh installs it)");
    true
}

fn tern(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tern"));
    cmd.args(args).env("TERN_INSECURE_FAST_KDF", "1").env("TERN_PASSWORD", PASSWORD).env_remove("TERN_KEY_FILE");
    cmd
}

/// Runs `cmd`; asserts the exit code; returns stdout. The passphrase never shows.
fn run(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "{cmd:?}\nstdout: {stdout}\nstderr: {stderr}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    format!("{stdout}{stderr}")
}

fn json(cmd: &mut Command) -> Value {
    let out = run(cmd.arg("--json"), 0);
    serde_json::from_str(out.lines().next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

async fn target_between() -> String {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, step by step
async fn mariadb_backup_archive_and_restore_to_a_time() {
    let tools = MariadbTools::from_env();
    if !tools.mariadbd.exists() && skip("MariaDB") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let repo = repo.to_str().unwrap();
    run(&mut tern(&["init", repo]), 0);
    let server = MariadbServer::start(tools.clone()).await.unwrap();
    server
        .sql(
            "CREATE DATABASE shop; USE shop; CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(32));
             INSERT INTO t (label) SELECT CONCAT('row-', seq) FROM seq_1_to_5000;",
        )
        .await
        .unwrap();
    let cnf = server.defaults_file().to_str().unwrap().to_owned();
    let db = |kind: &str| {
        tern(&["db", "backup", repo, "--service", "shop", "--engine", "mariadb", "--kind", kind, "--connect", &cnf])
    };

    let full = json(&mut db("full"));
    assert_eq!(full["backup"]["status"]["state"], "succeeded", "{full}");
    server.sql("INSERT INTO shop.t (label) VALUES ('after-full')").await.unwrap();
    let inc = json(&mut db("incremental"));
    assert_eq!(inc["backup"]["parent"], full["backup"]["id"], "{inc}");
    let out = run(db("dump").arg("--database").arg("shop"), 0);
    assert!(out.contains("backed up a dump of shop"), "{out}");

    server.sql("INSERT INTO shop.t (label) VALUES ('before-target')").await.unwrap();
    let target = target_between().await;
    server
        .sql("INSERT INTO shop.t (label) VALUES ('after-target'); DELETE FROM shop.t WHERE id <= 1000")
        .await
        .unwrap();
    let out = run(&mut tern(&["db", "archive-logs", repo, "--service", "shop", "--connect", &cnf, "--rotate"]), 0);
    assert!(out.contains("archived mysql-bin.000001"), "{out}");

    let dir = work.path().join("restored");
    let restored = json(&mut tern(&[
        "db",
        "restore",
        repo,
        "--service",
        "shop",
        "--time",
        &target,
        "--target-dir",
        dir.to_str().unwrap(),
    ]));
    assert!(!restored["plan"]["segments"].as_array().unwrap().is_empty(), "{restored}");
    let copy = MariadbServer::open(tools.clone(), &dir).await.unwrap();
    let labels = copy.sql("SELECT label FROM shop.t WHERE label NOT LIKE 'row-%' ORDER BY id").await.unwrap();
    assert_eq!(labels, [["after-full"], ["before-target"]], "rows up to the target, none after");
    assert_eq!(copy.value("SELECT COUNT(*) FROM shop.t").await.unwrap(), "5002");
    // Archiving from a server whose binary log is off (the restored copy runs without one).
    let copy_cnf = copy.defaults_file().to_str().unwrap().to_owned();
    let out = run(&mut tern(&["db", "archive-logs", repo, "--service", "copy", "--connect", &copy_cnf]), 1);
    assert!(out.contains("binary log is off"), "{out}");
    copy.stop().await.unwrap();

    // --database is MariaDB's; PostgreSQL names its database in --connect.
    let out = run(
        &mut tern(&[
            "db",
            "backup",
            repo,
            "--service",
            "pg",
            "--engine",
            "postgres",
            "--connect",
            "dbname=x",
            "--database",
            "x",
        ]),
        2,
    );
    assert!(out.contains("--database is for MariaDB"), "{out}");

    // A non-empty target directory is refused before any work.
    let out = run(
        &mut tern(&["db", "restore", repo, "--service", "shop", "--latest", "--target-dir", dir.to_str().unwrap()]),
        1,
    );
    assert!(out.contains("not empty"), "{out}");
    // Wrong credentials: the tool's message, and a failed record.
    let bad = work.path().join("bad.cnf");
    let socket =
        std::fs::read_to_string(&cnf).unwrap().lines().find_map(|l| l.strip_prefix("socket=").map(str::to_owned));
    std::fs::write(&bad, format!("[client]\nsocket={}\nuser=nobody\n", socket.unwrap())).unwrap();
    let out = run(
        &mut tern(&[
            "db",
            "backup",
            repo,
            "--service",
            "bad",
            "--engine",
            "mariadb",
            "--connect",
            bad.to_str().unwrap(),
        ]),
        1,
    );
    assert!(out.contains("Access denied"), "{out}");
    let listed = json(&mut tern(&["ls", repo, "--service", "bad", "--status", "failed"]));
    assert!(listed.to_string().contains("failed"), "{listed}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, step by step
async fn postgres_archive_command_is_tern_wal_push() {
    let tools = PostgresTools::from_env().unwrap();
    if !tools.bin_dir.join("postgres").exists() && skip("PostgreSQL") {
        return;
    }
    // archive_command runs as the server's OS user, so the repository and every `tern` run here
    // belong to that user too (as they would in production).
    let user = tools.os_user;
    let as_user = |mut cmd: Command| {
        if let Some(u) = user {
            cmd.uid(u.uid).gid(u.gid);
        }
        cmd
    };
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(u) = user {
        u.chown(work.path()).unwrap();
    }
    let repo = work.path().join("repo");
    let repo = repo.to_str().unwrap().to_owned();
    run(&mut as_user(tern(&["init", &repo])), 0);
    let archive = format!("\"{}\" wal-push \"{repo}\" --service shop %p", env!("CARGO_BIN_EXE_tern"));
    let env = vec![("TERN_PASSWORD".to_owned(), PASSWORD.to_owned())];
    let server =
        PostgresServer::start(tools.clone(), PostgresOptions { archive_command: Some(archive), env }).await.unwrap();
    server.sql("postgres", "CREATE DATABASE shop").await.unwrap();
    server.sql("shop", "CREATE TABLE t (id serial PRIMARY KEY, label text); INSERT INTO t (label) SELECT 'row-' || g FROM generate_series(1, 5000) g").await.unwrap();
    let conn = server.conninfo("shop");
    let full = json(&mut as_user(tern(&[
        "db",
        "backup",
        &repo,
        "--service",
        "shop",
        "--engine",
        "postgres",
        "--connect",
        &conn,
    ])));
    assert_eq!(full["backup"]["labels"]["engine"], "postgres", "{full}");
    server.sql("shop", "INSERT INTO t (label) VALUES ('before-target')").await.unwrap();
    let target = target_between().await;
    server.sql("shop", "INSERT INTO t (label) VALUES ('after-target'); DELETE FROM t WHERE id <= 1000").await.unwrap();
    let segment = server.switch_wal_and_wait().await.unwrap();

    // The archiver's pushes are in the catalog; `tern wal-fetch` gives the bytes back, and says
    // "not archived" (exit 1) past the end.
    let fetched = work.path().join("fetched");
    run(&mut as_user(tern(&["wal-fetch", &repo, "--service", "shop", &segment, fetched.to_str().unwrap()])), 0);
    assert_eq!(std::fs::metadata(&fetched).unwrap().len(), 16 << 20);
    let out = run(
        &mut as_user(tern(&[
            "wal-fetch",
            &repo,
            "--service",
            "shop",
            "0000000100000000000000FF",
            fetched.to_str().unwrap(),
        ])),
        1,
    );
    assert!(out.contains("not archived"), "{out}");
    // The same segment pushed again by hand: already archived.
    let out = run(&mut as_user(tern(&["wal-push", &repo, "--service", "shop", fetched.to_str().unwrap()])), 2);
    assert!(out.contains("not a WAL file name"), "{out}");
    let again = work.path().join(&segment);
    std::fs::copy(&fetched, &again).unwrap();
    let out = run(&mut as_user(tern(&["wal-push", &repo, "--service", "shop", again.to_str().unwrap()])), 0);
    assert!(out.contains("already archived"), "{out}");

    let dir = work.path().join("restored");
    let restored = json(&mut as_user(tern(&[
        "db",
        "restore",
        &repo,
        "--service",
        "shop",
        "--time",
        &target,
        "--target-dir",
        dir.to_str().unwrap(),
    ])));
    assert!(restored["stopped"].as_str().is_some_and(|s| s.contains("recovery stopping")), "{restored}");
    let copy = PostgresServer::open(tools.clone(), &dir).await.unwrap();
    let labels = copy.sql("shop", "SELECT label FROM t WHERE label NOT LIKE 'row-%' ORDER BY id").await.unwrap();
    assert_eq!(labels, ["before-target"]);
    assert_eq!(copy.value("shop", "SELECT count(*) FROM t").await.unwrap(), "5001");
    copy.stop().await.unwrap();
    server.stop().await.unwrap();
}
