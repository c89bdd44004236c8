//! Bad input, table-driven, over real HTTP with the admin token: every row is one faulty request
//! and the exact answer it must get (status, `error.code` and `error.field`).
//!
//! What it proves:
//! - unknown body fields and query parameters, malformed JSON, wrong types and values, bad
//!   times, cron expressions, pages, regions, ids, buckets and credentials are each refused with a
//!   400 naming the field at fault (nested fields by their path, e.g.
//!   `external_source.credentials` or `secondaries[1]`), and an unknown service in a path is a
//!   404;
//! - every error body is exactly `{"error": {"code", "message", "field"?}}` with a non-empty
//!   message;
//! - each assertion is meaningful: where a row has a control (the same request with the fault
//!   fixed), the control is not refused as bad input, so the row's 400 comes from its fault;
//! - secrets sent in a request (bucket credentials, their base64 form, the repository
//!   passphrase) never come back in a response, whatever goes wrong.

mod common;

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Value, json};

/// A syntactically valid id that names no schedule, backup or restore.
const NONEXISTENT_ID: &str = "20261121T000000.000Z-00000000";

/// A request.
#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    path: String,
    /// The raw body, sent as `application/json`.
    body: Option<String>,
}

fn get(path: impl Into<String>) -> Req {
    Req { method: "GET", path: path.into(), body: None }
}

fn delete(path: impl Into<String>) -> Req {
    Req { method: "DELETE", path: path.into(), body: None }
}

fn post(path: impl Into<String>, body: &Value) -> Req {
    Req { method: "POST", path: path.into(), body: Some(body.to_string()) }
}

fn put(path: impl Into<String>, body: &Value) -> Req {
    Req { method: "PUT", path: path.into(), body: Some(body.to_string()) }
}

fn patch(path: impl Into<String>, body: &Value) -> Req {
    Req { method: "PATCH", path: path.into(), body: Some(body.to_string()) }
}

fn raw(method: &'static str, path: impl Into<String>, body: impl Into<String>) -> Req {
    Req { method, path: path.into(), body: Some(body.into()) }
}

/// `base` with `key` set to `value` (`Value::Null` removes it).
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut object = base.as_object().unwrap().clone();
    if value.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), value);
    }
    Value::Object(object)
}

/// One faulty request and its answer.
#[derive(Debug)]
struct Row {
    req: Req,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
    /// The same request with the fault fixed: it must not be refused as bad input.
    control: Option<Req>,
}

/// 400 `invalid_request` naming `field`.
fn invalid(req: Req, field: &'static str) -> Row {
    Row { req, status: 400, code: "invalid_request", field: Some(field), control: None }
}

/// 404 `not_found`, no field.
fn not_found(req: Req) -> Row {
    Row { req, status: 404, code: "not_found", field: None, control: None }
}

/// 422 `cannot_plan`, no field: well-formed, but nothing to restore.
fn cannot_plan(req: Req) -> Row {
    Row { req, status: 422, code: "cannot_plan", field: None, control: None }
}

/// 413 `payload_too_large`, no field.
fn too_large(req: Req) -> Row {
    Row { req, status: 413, code: "payload_too_large", field: None, control: None }
}

impl Row {
    fn control(mut self, req: Req) -> Self {
        self.control = Some(req);
        self
    }
}

/// A user's bucket: an S3 location, method `s3`, credentials as given.
fn s3_bucket(credentials: &str) -> Value {
    json!({"bucket": "s3://nope-bucket/x?region=us-east-1", "method": "s3", "credentials": credentials})
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

const AWS_INI: &str = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = SUPERSECRETVALUE123\n";

#[allow(clippy::too_many_lines)] // one table
fn rows() -> Vec<Row> {
    let schedules = "/v1/backups/schedules";
    let schedule = format!("/v1/backups/schedules/{NONEXISTENT_ID}");
    let backup = format!("/v1/backups/{NONEXISTENT_ID}");
    let copy = format!("/v1/backups/{NONEXISTENT_ID}/copy");
    let restores = "/v1/restores";
    let replication = "/v1/services/shop/replication";
    let report = "/v1/services/shop/backup_to_another_region/report";
    let cron = json!({"service_id": "shop", "backup_type": "full", "schedule": "0 3 * * *"});
    let once =
        json!({"service_id": "shop", "backup_type": "full", "schedule": "once", "start_time": "2099-12-01T03:00:00Z"});
    let latest = json!({"service_id": "shop", "latest": true});
    let good_credentials = base64(AWS_INI);
    let good_bucket = s3_bucket(&good_credentials);
    let secondaries = json!({"secondaries": ["us"], "enabled": true});

    vec![
        // ---- POST /v1/backups/schedules -----------------------------------------------------
        invalid(post(schedules, &with(&cron, "x", json!(1))), "x").control(post(schedules, &cron)),
        invalid(post(schedules, &with(&cron, "schedule", json!("61 * * * *"))), "schedule")
            .control(post(schedules, &cron)),
        invalid(post(schedules, &with(&cron, "schedule", json!("0 3 * * * *"))), "schedule"),
        invalid(post(schedules, &with(&cron, "schedule", json!("every day"))), "schedule"),
        invalid(post(schedules, &with(&cron, "schedule", json!(""))), "schedule"),
        invalid(post(schedules, &with(&cron, "schedule", Value::Null)), "schedule"),
        invalid(post(schedules, &with(&once, "start_time", json!("tomorrow"))), "start_time")
            .control(post(schedules, &once)),
        invalid(post(schedules, &with(&once, "start_time", json!("2099-12-01 03:00"))), "start_time"),
        invalid(post(schedules, &with(&cron, "start_time", json!("2099-12-01T03:00:00Z"))), "start_time")
            .control(post(schedules, &cron)),
        invalid(post(schedules, &with(&cron, "backup_type", json!("weekly"))), "backup_type")
            .control(post(schedules, &cron)),
        invalid(post(schedules, &with(&cron, "backup_type", json!(7))), "backup_type"),
        invalid(post(schedules, &with(&cron, "service_id", Value::Null)), "service_id"),
        invalid(post(schedules, &with(&cron, "service_id", json!("nope"))), "service_id")
            .control(post(schedules, &cron)),
        invalid(post(schedules, &with(&cron, "service_id", json!("../etc"))), "service_id"),
        invalid(post(schedules, &with(&cron, "service_id", json!(42))), "service_id"),
        invalid(raw("POST", schedules, r#"{"service_id": "shop","#), "body").control(post(schedules, &cron)),
        invalid(raw("POST", schedules, r#"{"service_id": "shop""#), "body"),
        invalid(raw("POST", schedules, r#"{"service_id": "#), "body"),
        invalid(raw("POST", schedules, r#"{"service_id": "shop",}"#), "body"),
        invalid(raw("POST", schedules, r#"{"service_id" "shop"}"#), "body"),
        invalid(raw("PUT", replication, r#"{"secondaries": ["us","#), "body"),
        invalid(raw("POST", schedules, "hello"), "body"),
        invalid(raw("POST", schedules, ""), "body"),
        invalid(raw("POST", schedules, "[]"), "body"),
        invalid(raw("POST", schedules, format!("{cron} {{}}")), "body"),
        too_large(raw("POST", schedules, format!(r#"{{"service_id": "{}"}}"#, "a".repeat(70_000)))),
        // ---- GET /v1/backups/schedules -------------------------------------------------------
        invalid(get("/v1/backups/schedules?bogus=1"), "bogus").control(get(schedules)),
        invalid(get("/v1/backups/schedules?page=0"), "page").control(get("/v1/backups/schedules?page=1")),
        invalid(get("/v1/backups/schedules?page_size=0"), "page_size")
            .control(get("/v1/backups/schedules?page_size=1")),
        invalid(get("/v1/backups/schedules?page_size=1001"), "page_size")
            .control(get("/v1/backups/schedules?page_size=1000")),
        invalid(get("/v1/backups/schedules?page_size=ten"), "page_size"),
        invalid(get("/v1/backups/schedules?service_id=..%2Fx"), "service_id")
            .control(get("/v1/backups/schedules?service_id=shop")),
        // ---- /v1/backups/schedules/{id} ------------------------------------------------------
        invalid(patch(&schedule, &json!({"schedule": "once"})), "schedule")
            .control(patch(&schedule, &json!({"schedule": "0 4 * * *"}))),
        invalid(patch(&schedule, &json!({"schedule": "61 * * * *"})), "schedule"),
        invalid(patch(&schedule, &json!({"schedule": "0 3 * * * *"})), "schedule"),
        invalid(patch(&schedule, &json!({"enabled": "yes"})), "enabled")
            .control(patch(&schedule, &json!({"enabled": true}))),
        invalid(patch(&schedule, &json!({"paused": true})), "paused"),
        invalid(patch("/v1/backups/schedules/not%20an%20id", &json!({"enabled": true})), "id")
            .control(patch(&schedule, &json!({"enabled": true}))),
        invalid(get("/v1/backups/schedules/not%20an%20id"), "id").control(get(&schedule)),
        // Not UTF-8 once decoded: still the API's error shape, naming the parameter.
        invalid(get("/v1/backups/schedules/%FF%FE"), "id").control(get(&schedule)),
        invalid(delete("/v1/backups/schedules/..%2F"), "id").control(delete(&schedule)),
        // ---- GET /v1/backups -----------------------------------------------------------------
        invalid(get("/v1/backups?bogus=1"), "bogus").control(get("/v1/backups")),
        invalid(get("/v1/backups?page=0"), "page").control(get("/v1/backups?page=1")),
        invalid(get("/v1/backups?page=-1"), "page"),
        invalid(get("/v1/backups?page_size=0"), "page_size").control(get("/v1/backups?page_size=1")),
        invalid(get("/v1/backups?page_size=1001"), "page_size").control(get("/v1/backups?page_size=1000")),
        invalid(get("/v1/backups?page_size=ten"), "page_size"),
        invalid(get("/v1/backups?from=not-a-time"), "from").control(get("/v1/backups?from=2026-01-01T00:00:00Z")),
        invalid(get("/v1/backups?to=yesterday"), "to").control(get("/v1/backups?to=2026-01-01T00:00:00Z")),
        invalid(get("/v1/backups?status=bogus"), "status").control(get("/v1/backups?status=succeeded")),
        invalid(get("/v1/backups?region=mars"), "region").control(get("/v1/backups?region=us")),
        invalid(get("/v1/backups?backup_type=weekly"), "backup_type").control(get("/v1/backups?backup_type=full")),
        invalid(get("/v1/backups?service_id=..%2Fx"), "service_id").control(get("/v1/backups?service_id=shop")),
        // ---- /v1/backups/{id} ----------------------------------------------------------------
        invalid(get("/v1/backups/..%2F"), "id").control(get(&backup)),
        invalid(get("/v1/backups/not%20an%20id"), "id"),
        invalid(get(format!("{backup}?region=mars")), "region").control(get(format!("{backup}?region=us"))),
        invalid(get(format!("{backup}?bogus=1")), "bogus"),
        invalid(delete("/v1/backups/not%20an%20id"), "id").control(delete(&backup)),
        invalid(delete(format!("{backup}?region=mars")), "region"),
        // ---- POST /v1/backups/{id}/copy ------------------------------------------------------
        invalid(post(&copy, &json!({})), "region").control(post(&copy, &json!({"region": "us"}))),
        invalid(post(&copy, &json!({"region": "us", "external_destination": good_bucket})), "region"),
        invalid(post(&copy, &json!({"region": "mars"})), "region"),
        invalid(post(&copy, &json!({"region": "us", "x": 1})), "x"),
        invalid(post("/v1/backups/not%20an%20id/copy", &json!({"region": "us"})), "id")
            .control(post(&copy, &json!({"region": "us"}))),
        invalid(
            post(&copy, &json!({"external_destination": s3_bucket("not base64!")})),
            "external_destination.credentials",
        ),
        invalid(
            post(&copy, &json!({"external_destination": with(&good_bucket, "method", json!("gcs"))})),
            "external_destination.bucket",
        ),
        invalid(
            post(&copy, &json!({"external_destination": with(&good_bucket, "bucket", json!("not a location"))})),
            "external_destination.bucket",
        ),
        invalid(
            post(&copy, &json!({"external_destination": with(&good_bucket, "x", json!(1))})),
            "external_destination.x",
        ),
        // ---- POST /v1/restores ---------------------------------------------------------------
        invalid(post(restores, &json!({"service_id": "shop"})), "point_in_time").control(post(restores, &latest)),
        invalid(post(restores, &with(&latest, "latest", json!(false))), "point_in_time"),
        invalid(post(restores, &with(&latest, "backup_id", json!(NONEXISTENT_ID))), "point_in_time"),
        invalid(
            post(
                restores,
                &json!({
                    "service_id": "shop",
                    "point_in_time": "2026-01-01T00:00:00Z",
                    "position": "mariadb:mysql-bin.000001:4",
                }),
            ),
            "point_in_time",
        ),
        invalid(post(restores, &json!({"service_id": "shop", "point_in_time": "yesterday"})), "point_in_time")
            .control(post(restores, &json!({"service_id": "shop", "point_in_time": "2026-01-01T00:00:00Z"}))),
        invalid(post(restores, &json!({"service_id": "shop", "position": "bogus"})), "position")
            .control(post(restores, &json!({"service_id": "shop", "position": "mariadb:mysql-bin.000001:4"}))),
        invalid(post(restores, &json!({"backup_id": "not an id"})), "backup_id")
            .control(post(restores, &json!({"backup_id": NONEXISTENT_ID}))),
        invalid(post(restores, &with(&latest, "region", json!("mars"))), "region")
            .control(post(restores, &with(&latest, "region", json!("us")))),
        invalid(
            post(restores, &with(&with(&latest, "region", json!("us")), "external_source", good_bucket.clone())),
            "external_source",
        ),
        // A service that is not (or no longer) configured may still be restored from its backups;
        // with none, the planner says so.
        cannot_plan(post(restores, &with(&latest, "service_id", json!("nope")))),
        invalid(post(restores, &with(&latest, "service_id", json!("../etc"))), "service_id")
            .control(post(restores, &latest)),
        invalid(post(restores, &with(&latest, "service_id", Value::Null)), "service_id"),
        invalid(post(restores, &with(&latest, "x", json!(1))), "x").control(post(restores, &latest)),
        invalid(post(restores, &with(&latest, "latest", json!("yes"))), "latest"),
        invalid(
            post(restores, &with(&latest, "external_source", s3_bucket("not base64!"))),
            "external_source.credentials",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "credentials", Value::Null))),
            "external_source.credentials",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "method", json!("gcs")))),
            "external_source.bucket",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "bucket", json!("not a location")))),
            "external_source.bucket",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "bucket", json!("ftp://host/x")))),
            "external_source.bucket",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "method", json!("ftp")))),
            "external_source.method",
        ),
        invalid(
            post(restores, &with(&latest, "external_source", with(&good_bucket, "x", json!(1)))),
            "external_source.x",
        ),
        // ---- /v1/restores, /v1/restores/{id} -------------------------------------------------
        invalid(get("/v1/restores?bogus=1"), "bogus").control(get(restores)),
        invalid(get("/v1/restores?page=0"), "page").control(get("/v1/restores?page=1")),
        invalid(get("/v1/restores?page_size=1001"), "page_size").control(get("/v1/restores?page_size=1000")),
        invalid(get("/v1/restores?service_id=..%2Fx"), "service_id"),
        invalid(get("/v1/restores/not%20an%20id"), "id").control(get(format!("/v1/restores/{NONEXISTENT_ID}"))),
        invalid(delete("/v1/restores/..%2F"), "id").control(delete(format!("/v1/restores/{NONEXISTENT_ID}"))),
        // ---- /v1/services/{id}/... -----------------------------------------------------------
        not_found(get("/v1/services/nope/recovery-windows")).control(get("/v1/services/shop/recovery-windows")),
        not_found(get("/v1/services/nope/replication")).control(get(replication)),
        not_found(put("/v1/services/nope/replication", &secondaries)).control(put(replication, &secondaries)),
        not_found(post("/v1/services/nope/backup_to_another_region/report", &json!({"period": "day"})))
            .control(post(report, &json!({"period": "day"}))),
        invalid(put(replication, &json!({"secondaries": ["eu"], "enabled": true})), "secondaries[0]")
            .control(put(replication, &secondaries)),
        invalid(put(replication, &json!({"secondaries": ["mars"], "enabled": true})), "secondaries[0]"),
        invalid(put(replication, &json!({"secondaries": ["us", "mars"], "enabled": true})), "secondaries[1]"),
        invalid(put(replication, &json!({"secondaries": "us", "enabled": true})), "secondaries"),
        invalid(put(replication, &json!({"secondaries": ["us"]})), "enabled"),
        invalid(put(replication, &with(&secondaries, "paused_reason", json!("  "))), "paused_reason")
            .control(put(replication, &with(&secondaries, "paused_reason", json!("maintenance")))),
        invalid(put(replication, &with(&secondaries, "x", json!(1))), "x"),
        invalid(post(report, &json!({"period": "decade"})), "period").control(post(report, &json!({"period": "day"}))),
        invalid(post(report, &json!({})), "period"),
        invalid(post(report, &json!({"period": "day", "x": 1})), "x"),
    ]
}

/// Sends `req` with the admin token: the status and the raw body.
async fn send(api: &common::Served, req: &Req) -> (u16, String) {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
    let mut request = api.client.request(method, api.url(&req.path)).bearer_auth(common::ADMIN);
    if let Some(body) = &req.body {
        request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The code, message and field of an error body, checking its shape is exactly
/// `{"error": {"code", "message", "field"?}}` with a non-empty message.
fn error_parts(body: &str) -> Result<(String, String, Option<String>), String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    let outer = value.as_object().ok_or("not an object")?;
    if outer.keys().ne(["error"].iter()) {
        return Err(format!("top-level keys {:?}, not just `error`", outer.keys().collect::<Vec<_>>()));
    }
    let error = outer["error"].as_object().ok_or("`error` is not an object")?;
    if let Some(key) = error.keys().find(|k| !["code", "message", "field"].contains(&k.as_str())) {
        return Err(format!("unexpected key `{key}`"));
    }
    let code = error.get("code").and_then(Value::as_str).ok_or("no code")?;
    let message = error.get("message").and_then(Value::as_str).ok_or("no message")?;
    if message.trim().is_empty() {
        return Err("empty message".into());
    }
    let field = match error.get("field") {
        None => None,
        Some(f) => Some(f.as_str().ok_or("field is not a string")?.to_owned()),
    };
    Ok((code.to_owned(), message.to_owned(), field))
}

/// What is wrong with the answer to a row (nothing: `None`).
fn check(row: &Row, status: u16, body: &str) -> Option<String> {
    let (code, _, field) = match error_parts(body) {
        Ok(parts) => parts,
        Err(e) => return Some(format!("bad error body: {e}")),
    };
    let expected = (row.status, row.code, row.field);
    let got = (status, code.as_str(), field.as_deref());
    (got != expected).then(|| format!("expected {expected:?}, got {got:?}"))
}

fn describe(req: &Req) -> String {
    let body: String = req.body.as_deref().unwrap_or_default().chars().take(160).collect();
    format!("{} {} {body}", req.method, req.path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_is_refused_naming_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let rows = rows();
    let mut fields = BTreeSet::new();
    let mut controls = 0;
    // Every row is checked, and every failure reported at the end.
    let mut failures = Vec::new();
    for row in &rows {
        let (status, body) = send(&api, &row.req).await;
        if let Some(failure) = check(row, status, &body) {
            failures.push(format!("{}\n    {failure}\n    answer: {status} {body}", describe(&row.req)));
        }
        fields.extend(error_parts(&body).ok().and_then(|(_, _, field)| field));

        if let Some(control) = &row.control {
            let (status, body) = send(&api, control).await;
            if [400, 401, 403, 405].contains(&status) || status >= 500 {
                failures.push(format!(
                    "control {} (of {})\n    refused too, so the row proves nothing\n    answer: {status} {body}",
                    describe(control),
                    describe(&row.req),
                ));
            }
            controls += 1;
        }
    }
    println!("{} bad-input rows ({controls} with a control), {} distinct fields: {fields:?}", rows.len(), fields.len());
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
    assert_eq!(rows.len(), 109, "rows in the table");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_sent_are_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let passphrase = "my-passphrase-xyz";
    let secret = "SUPERSECRETVALUE123";
    let good = base64(AWS_INI);
    let unreachable = "s3://nope-bucket/x?endpoint=http://127.0.0.1:9&region=us-east-1";
    let connecting = format!("{unreachable}&allow_http=true&http_retries=0&attempts=1&timeout_secs=5");
    // (bucket, method, credentials): valid credentials to unreachable buckets, and credentials
    // that are wrong in ways whose error could quote them.
    let cases = [
        (unreachable, "s3", good.clone()),
        (connecting.as_str(), "s3", good.clone()),
        ("s3://AKIAEXAMPLE:SUPERSECRETVALUE123@nope-bucket/x", "s3", good.clone()),
        (unreachable, "s3", format!("{secret}!!")),
        (unreachable, "s3", base64(&format!("aws_secret_access_key = {secret}\n"))),
        (
            unreachable,
            "s3",
            base64(&format!("[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key {secret}\n")),
        ),
        ("gs://nope-bucket/x", "gcs", base64(&format!(r#"{{"type": "service_account", "private_key": "{secret}""#))),
        ("gs://nope-bucket/x", "gcs", good.clone()),
    ];
    let mut checked = 0;
    for (case, (bucket, method, credentials)) in cases.iter().enumerate() {
        let external =
            json!({"bucket": bucket, "method": method, "credentials": credentials, "encryption_key": passphrase});
        let requests = [
            post("/v1/restores", &json!({"service_id": "shop", "latest": true, "external_source": external})),
            post(format!("/v1/backups/{NONEXISTENT_ID}/copy"), &json!({"external_destination": external})),
            post(
                "/v1/restores",
                &json!({"service_id": "shop", "latest": true, "external_source": with(&external, "x", json!(1))}),
            ),
        ];
        for (i, req) in requests.iter().enumerate() {
            let (status, body) = send(&api, req).await;
            println!("{} {} ({bucket}, {method}): {status} {body}", req.method, req.path);
            for leak in [secret, credentials.as_str(), good.as_str(), passphrase] {
                assert!(!body.contains(leak), "`{leak}` is returned: {status} {body}");
            }
            if (200..300).contains(&status) {
                let echoed: Value = serde_json::from_str(&body).unwrap();
                let echoed = &echoed["request"];
                let bucket = if echoed["external_source"].is_null() {
                    &echoed["external_destination"]
                } else {
                    &echoed["external_source"]
                };
                assert_eq!(bucket["credentials"], "[secret]", "{body}");
                assert_eq!(bucket["encryption_key"], "[secret]", "{body}");
            } else {
                let (_, _, field) = error_parts(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
                if case < 2 && i == 0 {
                    // Valid credentials, a valid bucket: the restore got as far as the bucket, so
                    // the secrets were in play.
                    let refused = ["external_source.credentials", "external_source.bucket"];
                    assert!(!refused.contains(&field.as_deref().unwrap_or_default()), "{status} {body}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len() * 3);
    api.stop().await;
}
