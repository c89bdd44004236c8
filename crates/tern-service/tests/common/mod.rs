//! Helpers for the database tests: real servers, or a skip (a failure when real servers are
//! required, as `scripts/test.sh` does).
#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;
use std::sync::Arc;

use tern_db::mariadb::MariadbTools;
use tern_db::postgres::PostgresTools;
use tern_engine::{InitOptions, KdfParams, Repository, UserKey};

const REQUIRE: &str = "TERN_REQUIRE_REAL_SERVERS";

fn missing(what: &str) -> bool {
    assert!(
        std::env::var_os(REQUIRE).is_none(),
        "{what} is not installed but {REQUIRE} is set: run `eval \"$(bash scripts/databases.sh)\"`"
    );
    eprintln!("skipping: {what} is not installed (scripts/databases.sh installs it)");
    true
}

/// MariaDB's tools, when installed.
pub fn mariadb() -> Option<MariadbTools> {
    let tools = MariadbTools::from_env();
    let ok = tools.mariadbd.exists() && tools.bin_dir.join("mariadb-backup").exists();
    if !ok && missing("MariaDB (mariadbd, mariadb-backup)") {
        return None;
    }
    Some(tools)
}

/// PostgreSQL's tools, when installed.
pub fn postgres() -> Option<PostgresTools> {
    let tools = PostgresTools::from_env().expect("PostgreSQL tools");
    if !tools.bin_dir.join("postgres").exists() && missing("PostgreSQL (postgres, pg_basebackup)") {
        return None;
    }
    Some(tools)
}

pub fn key() -> UserKey {
    UserKey::passphrase("db-tests")
}

/// An encrypted repository in a local directory (fsync on).
pub async fn local_repo(dir: &Path) -> Repository {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(tern_storage::LocalStore::open(dir, true).unwrap());
    Repository::init(store, InitOptions { kdf: KdfParams::insecure_fast(), ..InitOptions::encrypted(key()) })
        .await
        .unwrap()
}

/// Sleeps past a second boundary and returns a target time between writes (binlog event times
/// have whole seconds).
pub async fn target_between() -> chrono::DateTime<chrono::Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let t = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    t
}

/// Asserts that a restore was refused by the planner with a log gap that names where `victim`
/// (a deleted segment) started, and that nothing was written to `target_dir`.
pub fn assert_log_gap(err: &tern_service::Error, victim: &tern_catalog::LogSegment, target_dir: &Path) {
    let tern_service::Error::Plan(tern_replicator::secondary::SecondaryPlanError::Plan(plan)) = err else {
        panic!("{err}")
    };
    assert_eq!(plan.code(), "log_gap", "{err}");
    assert!(err.to_string().contains(&victim.start_position.to_string()), "{err}");
    assert!(!target_dir.exists(), "a refused restore writes nothing");
}
