//! The OpenAPI document matches the router, over real HTTP.
//!
//! What it proves:
//! - `GET /openapi.json` serves exactly `tern_api::openapi()`, needing no token;
//! - the documented paths are exactly the 14 listed here;
//! - every documented (path, method) is routed: with the admin token it never gets the router's
//!   fallback answers (404 "no such route", 405 `method_not_allowed`);
//! - every method a documented path does not document (among GET, POST, PUT, PATCH, DELETE) is
//!   405 `method_not_allowed`, and an undocumented path is 404 `not_found`;
//! - every operation has a unique operationId and at least one response, and every operation but
//!   the public ones (`/health`, `/ready`, `/openapi.json`) declares the `bearer` security
//!   requirement (and the public ones declare none).

mod common;

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// A syntactically valid id that names no schedule, backup or restore.
const NONEXISTENT_ID: &str = "20261121T000000.000Z-00000000";

/// Every path the API documents.
const PATHS: [&str; 14] = [
    "/v1/backups/schedules",
    "/v1/backups/schedules/{id}",
    "/v1/backups",
    "/v1/backups/{id}",
    "/v1/backups/{id}/copy",
    "/v1/restores",
    "/v1/restores/{id}",
    "/v1/services/{id}/recovery-windows",
    "/v1/services/{id}/replication",
    "/v1/services/{id}/backup_to_another_region/report",
    "/health",
    "/ready",
    "/metrics",
    "/openapi.json",
];

/// The routes that need no token.
const PUBLIC: [&str; 3] = ["/health", "/ready", "/openapi.json"];

/// The methods the API could take.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn concrete(template: &str) -> String {
    let id = if template.starts_with("/v1/services/") { "shop" } else { NONEXISTENT_ID };
    template.replace("{id}", id)
}

/// Sends `method path` with the admin token (and a `{}` body when the method takes one); the
/// status and the body, parsed when it is JSON.
async fn send(api: &common::Served, method: &str, path: &str) -> (u16, Value) {
    let mut request = api
        .client
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), api.url(path))
        .bearer_auth(common::ADMIN);
    if matches!(method, "POST" | "PUT" | "PATCH") {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Whether an answer is the router's own (no handler matched), not a handler's.
fn is_fallback(status: u16, body: &Value) -> bool {
    (status == 404 && body["error"]["message"] == "no such route")
        || (status == 405 && body["error"]["code"] == "method_not_allowed")
}

#[test]
fn the_documented_paths_are_exactly_these() {
    let spec = tern_api::openapi();
    let documented: BTreeSet<&str> = spec.paths.paths.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = PATHS.into_iter().collect();
    assert_eq!(expected.len(), 14);
    assert_eq!(documented, expected);
    let count: usize = spec.paths.paths.values().map(|item| common::operations(item).len()).sum();
    assert_eq!(count, 21, "documented operations");
}

#[test]
fn every_operation_has_an_id_a_response_and_the_right_security() {
    let spec = tern_api::openapi();
    let schemes = serde_json::to_value(&spec.components).unwrap();
    assert_eq!(schemes["securitySchemes"]["bearer"], json!({"type": "http", "scheme": "bearer"}));
    let mut ids = BTreeSet::new();
    for (path, item) in &spec.paths.paths {
        for (method, operation) in common::operations(item) {
            let what = format!("{method} {path}");
            let id = operation.operation_id.as_deref().unwrap_or_else(|| panic!("{what}: no operationId"));
            assert!(!id.is_empty(), "{what}: empty operationId");
            assert!(ids.insert(id.to_owned()), "{what}: operationId `{id}` is used twice");
            assert!(!operation.responses.responses.is_empty(), "{what}: no response");
            let security = serde_json::to_value(&operation.security).unwrap();
            let requirements = security.as_array().map(Vec::as_slice).unwrap_or_default();
            if PUBLIC.contains(&path.as_str()) {
                assert!(requirements.is_empty(), "{what} is public but declares {security}");
            } else {
                assert_eq!(requirements, [json!({"bearer": []})], "{what}: security {security}");
            }
        }
    }
    assert_eq!(ids.len(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_generated_one() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let response = api.client.get(api.url("/openapi.json")).send().await.unwrap(); // no token
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, serde_json::to_value(tern_api::openapi()).unwrap());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_what_is_documented_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let spec = tern_api::openapi();
    let (mut routed, mut refused) = (0, 0);
    for (template, item) in &spec.paths.paths {
        let path = concrete(template);
        let documented: Vec<&str> = common::operations(item).into_iter().map(|(m, _)| m).collect();
        assert!(documented.iter().all(|m| METHODS.contains(m)), "{template} documents {documented:?}");
        for method in METHODS {
            let (status, body) = send(&api, method, &path).await;
            let what = format!("{method} {path}: {status} {body}");
            if documented.contains(&method) {
                assert!(!is_fallback(status, &body), "documented but not routed: {what}");
                assert!(status != 401 && status != 403, "the admin token is refused: {what}");
                routed += 1;
            } else {
                assert_eq!(status, 405, "undocumented method: {what}");
                assert_eq!(body["error"]["code"], "method_not_allowed", "{what}");
                refused += 1;
            }
        }
    }
    assert_eq!(routed, 21);
    assert_eq!(refused, 14 * METHODS.len() - 21);

    for path in ["/v1/nothing", "/v1", "/", "/v1/backups/schedules/x/y", "/v1/services/shop", "/openapi.yaml"] {
        for token in [Some(common::ADMIN), None] {
            let mut request = api.client.get(api.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, 404, "GET {path} ({token:?}): {body}");
            assert_eq!(body["error"]["code"], "not_found", "GET {path}: {body}");
            assert_eq!(body["error"]["message"], "no such route", "GET {path}: {body}");
        }
    }
    api.stop().await;
}
