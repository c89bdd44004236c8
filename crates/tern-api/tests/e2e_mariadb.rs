//! End to end over HTTP with a real MariaDB server: a cron schedule created through the API runs
//! when the clock is advanced, the backup is listed as succeeded and the metrics move; a `log`
//! schedule archives the binlogs; a restore to a point in time started through the API restores
//! exactly the rows that existed then; a target before any backup is refused with the planner's
//! reason.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DurationRound, Utc};
use serde_json::{Value, json};
use tern_db::mariadb::MariadbTools;
use tern_db::sandbox::MariadbServer;
use tern_service::{ManualClock, ServiceSpec};

const REQUIRE: &str = "TERN_REQUIRE_REAL_SERVERS";

fn mariadb() -> Option<MariadbTools> {
    let tools = MariadbTools::from_env();
    if tools.mariadbd.exists() && tools.bin_dir.join("mariadb-backup").exists() {
        return Some(tools);
    }
    assert!(std::env::var_os(REQUIRE).is_none(), "MariaDB is not installed but {REQUIRE} is set");
    eprintln!("skipping: MariaDB is not installed (scripts/databases.sh installs it)");
    None
}

const SCHEMA: &str = "CREATE DATABASE shop;
CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64), created DATETIME NOT NULL)
  ENGINE=InnoDB;
INSERT INTO shop.orders (note, created) SELECT MD5(seq), NOW() FROM shop.seq_1_to_5000;";

async fn orders(server: &MariadbServer) -> u64 {
    server.value("SELECT COUNT(*) FROM shop.orders").await.unwrap().parse().unwrap()
}

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(line_start)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, step by step
async fn cron_backup_metrics_and_point_in_time_restore_over_http() {
    let Some(tools) = mariadb() else { return };
    let work = tempfile::tempdir().unwrap();
    let server = MariadbServer::start(tools.clone()).await.unwrap();
    server.sql(SCHEMA).await.unwrap();

    let hour = Utc::now().duration_trunc(chrono::Duration::hours(1)).unwrap();
    let clock = Arc::new(ManualClock::new(hour + chrono::Duration::minutes(59)));
    let service = ServiceSpec {
        name: "shop".into(),
        source: Arc::new(server.source()),
        retention: tern_service::retention::Retention::default(),
        log_interval: None,
        replication_interval: None,
    };
    let node = common::node(work.path(), vec![service], clock.clone()).await;
    let api = common::serve(node.clone()).await;
    let post =
        |path: &str, token: &str, body: Value| api.client.post(api.url(path)).bearer_auth(token).json(&body).send();
    let get = |path: &str| api.client.get(api.url(path)).bearer_auth(common::VIEWER).send();

    // Schedules through the API: a full every hour, binlogs every hour at :30.
    let full = post(
        "/v1/backups/schedules",
        common::OPERATOR,
        json!({"service_id": "shop", "backup_type": "full", "schedule": "0 * * * *"}),
    )
    .await
    .unwrap();
    assert_eq!(full.status(), 201);
    let full: Value = full.json().await.unwrap();
    assert_eq!(
        full["next_run"].as_str().unwrap(),
        (hour + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let logs = post(
        "/v1/backups/schedules",
        common::OPERATOR,
        json!({"service_id": "shop", "backup_type": "log", "schedule": "30 * * * *"}),
    )
    .await
    .unwrap();
    assert_eq!(logs.status(), 201);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(metric(&metrics, r#"tern_job_runs_total{service="shop",kind="full"}"#), None);

    // Nothing is due until the clock reaches the hour.
    assert!(node.tick().await.unwrap().started.is_empty());
    clock.advance(chrono::Duration::minutes(1));
    assert_eq!(node.tick().await.unwrap().started.len(), 1);
    node.wait_idle().await;

    let listed: Value =
        get("/v1/backups?service_id=shop&backup_type=full&status=succeeded").await.unwrap().json().await.unwrap();
    assert_eq!(listed["backups_count"], 1, "{listed}");
    assert_eq!(listed["backups"][0]["region"], "eu");
    assert!(listed["backups"][0]["sizes"]["logical_bytes"].as_u64().unwrap() > 1_000_000);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(metric(&metrics, r#"tern_job_runs_total{service="shop",kind="full"}"#), Some(1.0), "{metrics}");
    assert!(metric(&metrics, r#"tern_backup_logical_bytes_total{service="shop",kind="full"}"#).unwrap() > 1e6);
    assert!(metric(&metrics, r#"tern_last_success_timestamp_seconds{service="shop",kind="full"}"#).unwrap() > 1e9);
    assert!(metric(&metrics, r#"tern_recovery_window_end_timestamp_seconds{service="shop",region="eu"}"#).is_some());

    // Changes, a target time between them, more changes; then the binlogs are archived.
    server.sql("INSERT INTO shop.orders (note, created) SELECT 'batch-a', NOW() FROM shop.seq_1_to_700").await.unwrap();
    let at_target = orders(&server).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let target = Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.sql("INSERT INTO shop.orders (note, created) SELECT 'batch-b', NOW() FROM shop.seq_1_to_300").await.unwrap();
    assert_eq!(orders(&server).await, at_target + 300);
    clock.advance(chrono::Duration::minutes(30));
    let report = node.tick().await.unwrap();
    assert_eq!(report.started.len(), 1, "{report:?}");
    node.wait_idle().await;
    let logs: Value = get("/v1/backups?service_id=shop&backup_type=log").await.unwrap().json().await.unwrap();
    assert!(logs["backups_count"].as_u64().unwrap() >= 1, "{logs}");
    assert!(logs["backups"].as_array().unwrap().iter().all(|b| b["status"]["state"] == "succeeded"), "{logs}");

    let windows: Value = get("/v1/services/shop/recovery-windows").await.unwrap().json().await.unwrap();
    let eu = windows["regions"].as_array().unwrap().iter().find(|r| r["region"] == "eu").unwrap();
    let end: chrono::DateTime<Utc> = eu["windows"][0]["end"].as_str().unwrap().parse().unwrap();
    assert!(end > target, "{windows}");

    // A restore to the target time, through the API.
    let started =
        post("/v1/restores", common::OPERATOR, json!({"service_id": "shop", "point_in_time": target.to_rfc3339()}))
            .await
            .unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let id = started["restore"]["id"].as_str().unwrap().to_owned();
    let data_dir = started["restore"]["data_dir"].as_str().unwrap().to_owned();
    assert!(started["restore"]["backups"].as_array().unwrap().len() >= 2, "a full and binlogs: {started}");
    let mut job = Value::Null;
    for _ in 0..600 {
        job = get(&format!("/v1/restores/{id}")).await.unwrap().json().await.unwrap();
        if ["succeeded", "failed"].contains(&job["status"]["state"].as_str().unwrap_or_default()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(job["status"]["state"], "succeeded", "{job}");
    let listed: Value = get("/v1/restores?service_id=shop").await.unwrap().json().await.unwrap();
    assert_eq!(listed["restores_count"], 1);

    let restored = MariadbServer::open(tools.clone(), std::path::Path::new(&data_dir)).await.unwrap();
    assert_eq!(orders(&restored).await, at_target, "the rows that existed at the target time, no more");
    let notes = restored.value("SELECT COUNT(*) FROM shop.orders WHERE note = 'batch-b'").await.unwrap();
    assert_eq!(notes, "0");
    restored.stop().await.unwrap();

    // A time before the first backup cannot be reached: refused with the reason, no job.
    let early = post(
        "/v1/restores",
        common::OPERATOR,
        json!({"service_id": "shop", "point_in_time": (hour - chrono::Duration::days(1)).to_rfc3339()}),
    )
    .await
    .unwrap();
    assert_eq!(early.status(), 422);
    let early: Value = early.json().await.unwrap();
    assert_eq!(early["error"]["code"], "cannot_plan", "{early}");
    let listed: Value = get("/v1/restores").await.unwrap().json().await.unwrap();
    assert_eq!(listed["restores_count"], 1, "the refused restore made no job");

    // A finished restore's record can be deleted; the restored directory stays.
    let deleted =
        api.client.delete(api.url(&format!("/v1/restores/{id}"))).bearer_auth(common::OPERATOR).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(std::path::Path::new(&data_dir).exists());
    assert_eq!(get(&format!("/v1/restores/{id}")).await.unwrap().status(), 404);

    api.stop().await;
    server.stop().await.unwrap();
}
