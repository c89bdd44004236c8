//! The authorization matrix, over real HTTP: every operation of the OpenAPI document × every
//! kind of caller (no `Authorization` header, a wrong bearer token, a header of another scheme,
//! and the viewer, operator and admin tokens).
//!
//! What it proves:
//! - the access policy is pinned: a table in this file lists the role each documented operation
//!   needs, it must cover exactly the operations of `tern_api::openapi()` and agree with
//!   `tern_api::auth::required_role`, so the policy cannot change (or grow) silently;
//! - public routes (`/health`, `/ready`, `/openapi.json`) answer anyone, whatever header they
//!   send;
//! - on every other route, a missing, wrong or non-bearer credential gets 401 `unauthorized` with
//!   `WWW-Authenticate: Bearer`, a role below the route's gets 403 `forbidden`, and a role at or
//!   above it gets through to the handler (neither 401 nor 403, nor a server error);
//! - no response (body or header) ever contains a valid token, and a 401 does not tell a token
//!   that nearly matches (or that is the stored hash of a real token) from any other wrong one.

mod common;

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::{Value, json};
use tern_api::auth::required_role;
use tern_service::Role;

/// A syntactically valid id that names no schedule, backup or restore.
const NONEXISTENT_ID: &str = "20261121T000000.000Z-00000000";

/// The policy, pinned: the role each documented operation needs (`None`: public).
const POLICY: &[(&str, &str, Option<Role>)] = &[
    // Schedules.
    ("POST", "/v1/backups/schedules", Some(Role::Operator)),
    ("GET", "/v1/backups/schedules", Some(Role::Viewer)),
    ("GET", "/v1/backups/schedules/{id}", Some(Role::Viewer)),
    ("PATCH", "/v1/backups/schedules/{id}", Some(Role::Operator)),
    ("DELETE", "/v1/backups/schedules/{id}", Some(Role::Operator)),
    // Backups.
    ("GET", "/v1/backups", Some(Role::Viewer)),
    ("GET", "/v1/backups/{id}", Some(Role::Viewer)),
    ("DELETE", "/v1/backups/{id}", Some(Role::Admin)),
    ("POST", "/v1/backups/{id}/copy", Some(Role::Operator)),
    // Restores.
    ("POST", "/v1/restores", Some(Role::Operator)),
    ("GET", "/v1/restores", Some(Role::Viewer)),
    ("GET", "/v1/restores/{id}", Some(Role::Viewer)),
    ("DELETE", "/v1/restores/{id}", Some(Role::Operator)),
    // Services.
    ("GET", "/v1/services/{id}/recovery-windows", Some(Role::Viewer)),
    ("GET", "/v1/services/{id}/replication", Some(Role::Viewer)),
    ("PUT", "/v1/services/{id}/replication", Some(Role::Admin)),
    ("POST", "/v1/services/{id}/backup_to_another_region/report", Some(Role::Viewer)),
    // System.
    ("GET", "/health", None),
    ("GET", "/ready", None),
    ("GET", "/openapi.json", None),
    ("GET", "/metrics", Some(Role::Viewer)),
];

/// Who calls.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// A bearer token nobody configured.
    WrongToken,
    /// A header of another scheme.
    Malformed,
    /// The configured token of this role.
    Token(Role),
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::WrongToken,
    Caller::Malformed,
    Caller::Token(Role::Viewer),
    Caller::Token(Role::Operator),
    Caller::Token(Role::Admin),
];

const VALID_TOKENS: [&str; 3] = [common::ADMIN, common::OPERATOR, common::VIEWER];

impl Caller {
    /// The `Authorization` header it sends.
    fn header(self) -> Option<String> {
        match self {
            Self::Anonymous => None,
            Self::WrongToken => Some("Bearer wrong-token-xxxxxxxxxxxx".into()),
            Self::Malformed => Some("Basic abc".into()),
            Self::Token(role) => Some(format!("Bearer {}", token_of(role))),
        }
    }
}

fn token_of(role: Role) -> &'static str {
    match role {
        Role::Viewer => common::VIEWER,
        Role::Operator => common::OPERATOR,
        Role::Admin => common::ADMIN,
    }
}

/// Every (method, path template) of the OpenAPI document.
fn documented_operations() -> BTreeSet<(String, String)> {
    let spec = tern_api::openapi();
    let mut operations = BTreeSet::new();
    for (path, item) in &spec.paths.paths {
        for (method, _) in common::operations(item) {
            operations.insert((method.to_owned(), path.clone()));
        }
    }
    operations
}

/// A concrete URL path for a path template, and a body (valid where that is easy: authorization
/// is decided before the body is read, but a handler that is reached should have something to
/// chew on).
fn sample_request(method: &str, template: &str) -> (String, Option<Value>) {
    let id = if template.starts_with("/v1/services/") { "shop" } else { NONEXISTENT_ID };
    let path = template.replace("{id}", id);
    let body = match (method, template) {
        ("GET" | "DELETE", _) => None,
        ("POST", "/v1/backups/schedules") => {
            Some(json!({"service_id": "shop", "backup_type": "full", "schedule": "0 3 * * *"}))
        }
        ("PATCH", "/v1/backups/schedules/{id}") => Some(json!({"enabled": false})),
        ("POST", "/v1/backups/{id}/copy") => Some(json!({"region": "us"})),
        ("POST", "/v1/restores") => Some(json!({"service_id": "shop", "latest": true})),
        ("PUT", "/v1/services/{id}/replication") => Some(json!({"secondaries": ["us"], "enabled": false})),
        ("POST", "/v1/services/{id}/backup_to_another_region/report") => Some(json!({"period": "day"})),
        _ => Some(json!({})),
    };
    (path, body)
}

/// A response, read whole.
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

async fn send(
    api: &common::Served,
    method: &str,
    path: &str,
    body: Option<&Value>,
    authorization: Option<&str>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = api.client.request(method, api.url(path));
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let www_authenticate =
        response.headers().get(reqwest::header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_owned());
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap();
    Answer { status, www_authenticate, headers, body }
}

#[test]
fn the_pinned_policy_is_the_code_s_and_covers_exactly_the_documented_operations() {
    let pinned: BTreeSet<(String, String)> =
        POLICY.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(pinned.len(), POLICY.len(), "the policy table lists an operation twice");
    assert_eq!(pinned, documented_operations(), "the policy table and the OpenAPI document differ");
    for (method, path, expected) in POLICY {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        assert_eq!(required_role(&method, path), *expected, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_times_every_caller() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let operations = documented_operations();
    let mut cells = 0;
    for (method, template) in &operations {
        let needed = required_role(&Method::from_bytes(method.as_bytes()).unwrap(), template);
        let (path, body) = sample_request(method, template);
        for caller in CALLERS {
            let header = caller.header();
            let answer = send(&api, method, &path, body.as_ref(), header.as_deref()).await;
            let what = format!("{method} {path} as {caller:?}: {} {}", answer.status, answer.body);
            cells += 1;

            for token in VALID_TOKENS {
                assert!(!answer.body.contains(token), "a token is echoed in the body: {what}");
                assert!(!answer.headers.contains(token), "a token is echoed in a header: {what}");
            }
            match (needed, caller) {
                (None, _) => {
                    assert!(answer.status != 401 && answer.status != 403, "public route refused: {what}");
                    assert!(answer.status < 500, "public route failed: {what}");
                }
                (Some(_), Caller::Anonymous | Caller::WrongToken | Caller::Malformed) => {
                    assert_eq!(answer.status, 401, "{what}");
                    assert_eq!(answer.code(), "unauthorized", "{what}");
                    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{what}");
                }
                (Some(needed), Caller::Token(role)) if role < needed => {
                    assert_eq!(answer.status, 403, "{what}");
                    assert_eq!(answer.code(), "forbidden", "{what}");
                    assert_eq!(answer.www_authenticate, None, "{what}");
                }
                (Some(_), Caller::Token(_)) => {
                    assert!(answer.status != 401 && answer.status != 403, "allowed caller refused: {what}");
                    assert!(answer.status < 500, "allowed caller got a server error: {what}");
                }
            }
        }
    }
    println!(
        "authorization matrix: {} operations x {} callers = {cells} cells checked",
        operations.len(),
        CALLERS.len()
    );
    assert_eq!(cells, operations.len() * CALLERS.len());
    assert_eq!(cells, 21 * 6, "21 documented operations, 6 callers");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_does_not_tell_one_wrong_token_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::served_shop(dir.path()).await;
    let admin = common::ADMIN;
    let mut near_miss = admin.to_owned();
    near_miss.pop();
    let stored_hash = tern_service::config::hash_token(admin);
    let wrong_tokens = [
        "wrong-token-xxxxxxxxxxxx".to_owned(),
        format!("{near_miss}X"),   // a valid token with its last character changed
        near_miss.clone(),         // a prefix of a valid token
        format!("{admin}{admin}"), // a valid token, twice
        format!("{admin} extra"),  // a valid token, then more
        stored_hash.clone(),       // the hash the server stores is not a token
        admin.to_uppercase(),      // tokens are case-sensitive
    ];
    let reference = send(&api, "GET", "/v1/backups", None, Some("Bearer wrong-token-xxxxxxxxxxxx")).await;
    assert_eq!(reference.status, 401);
    for token in &wrong_tokens {
        let answer = send(&api, "GET", "/v1/backups", None, Some(&format!("Bearer {token}"))).await;
        assert_eq!(answer.status, 401, "Bearer {token}: {}", answer.body);
        assert_eq!(answer.body, reference.body, "Bearer {token}");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
        assert!(!answer.body.contains(token.as_str()), "the sent token is echoed: {}", answer.body);
    }
    // Without a usable bearer credential, the answer is the same whatever else was sent.
    let missing = send(&api, "GET", "/v1/backups", None, None).await;
    assert_eq!(missing.status, 401);
    for header in ["Basic abc", &format!("Basic {admin}"), &format!("Token {admin}"), "Bearer", "Bearer    "] {
        let answer = send(&api, "GET", "/v1/backups", None, Some(header)).await;
        assert_eq!(answer.status, 401, "{header}: {}", answer.body);
        assert_eq!(answer.body, missing.body, "{header}");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    }
    // Neither kind of 401 names a configured token, its role or its hash.
    for answer in [&reference, &missing] {
        let message = answer.json()["error"]["message"].as_str().unwrap().to_lowercase();
        for leak in ["admin", "operator", "viewer", stored_hash.as_str()] {
            assert!(!message.contains(leak), "a 401 mentions `{leak}`: {message}");
        }
    }
    api.stop().await;
}
