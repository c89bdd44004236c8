//! A Tern API served over real HTTP on 127.0.0.1, with one token per role.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tern_engine::{InitOptions, Repository};
use tern_service::config::{Role, TokenConfig, hash_token};
use tern_service::{ManualClock, Node, NodeOptions, ServiceSpec};

/// The tokens the server accepts.
pub const ADMIN: &str = "admin-token-0123456789";
pub const OPERATOR: &str = "operator-token-0123456789";
pub const VIEWER: &str = "viewer-token-0123456789";

pub fn tokens() -> Vec<TokenConfig> {
    [("admin", Role::Admin, ADMIN), ("operator", Role::Operator, OPERATOR), ("viewer", Role::Viewer, VIEWER)]
        .into_iter()
        .map(|(name, role, token)| TokenConfig { name: name.into(), role, blake3: hash_token(token) })
        .collect()
}

/// A served API.
pub struct Served {
    pub base: String,
    pub node: Node,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Serves `node` on a free port of 127.0.0.1.
pub async fn serve(node: Node) -> Served {
    let app = tern_api::router(node.clone(), &tokens()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tern_api::serve(listener, app, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Served { base, node, client: reqwest::Client::new(), shutdown: Some(tx), task: Some(task) }
}

/// A repository in a local directory (fsync on), unencrypted.
pub async fn local_repo(dir: &Path) -> Repository {
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(tern_storage::LocalStore::open(dir, true).unwrap());
    Repository::init(store, InitOptions::unencrypted()).await.unwrap()
}

/// A node with regions `eu` (primary) and `us` in `dir`, the given services and clock.
pub async fn node(dir: &Path, services: Vec<ServiceSpec>, clock: Arc<ManualClock>) -> Node {
    let eu = local_repo(&dir.join("eu")).await;
    let us_store: Arc<dyn object_store::ObjectStore> =
        Arc::new(tern_storage::LocalStore::open(&dir.join("us"), true).unwrap());
    let us = tern_replicator::copy::destination(&eu, us_store, None).await.unwrap();
    let mut options =
        NodeOptions::new("eu", BTreeMap::from([("eu".to_owned(), eu), ("us".to_owned(), us)]), dir.join("restores"));
    options.clock = clock;
    options.services = services;
    // The tests point users' buckets at local servers (and at closed ports).
    options.allow_external_endpoints = true;
    Node::new(options).unwrap()
}

/// A service "shop" whose database is never reached (its option file does not exist): for tests
/// of the API surface, where no schedule falls due.
pub fn shop() -> ServiceSpec {
    ServiceSpec {
        name: "shop".into(),
        source: Arc::new(tern_db::mariadb::MariadbSource::new("/nonexistent/my.cnf")),
        retention: tern_service::retention::Retention::default(),
        log_interval: None,
        replication_interval: None,
    }
}

/// The API over a node with the service "shop", regions eu and us in `dir`, and a clock that
/// never moves.
pub async fn served_shop(dir: &Path) -> Served {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    serve(node(dir, vec![shop()], clock).await).await
}

/// The operations of an OpenAPI path item, by method (all of OpenAPI's methods, so none is
/// missed).
pub fn operations(item: &utoipa::openapi::PathItem) -> Vec<(&'static str, &utoipa::openapi::path::Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|o| (method, o)))
    .collect()
}
