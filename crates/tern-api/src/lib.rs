//! Tern's HTTP API: an axum [`Router`] over a [`tern_service::Node`], to serve (`tern serve`)
//! or to mount inside another service.
//!
//! Routes (JSON unless noted; the OpenAPI document at `/openapi.json` is generated from the same
//! handler annotations that build the router, so the two cannot drift):
//!
//! | method | path | role |
//! |---|---|---|
//! | POST, GET | `/v1/backups/schedules` | operator, viewer |
//! | GET, PATCH, DELETE | `/v1/backups/schedules/{id}` | viewer, operator, operator |
//! | GET | `/v1/backups` | viewer |
//! | GET, DELETE | `/v1/backups/{id}` | viewer, admin |
//! | POST | `/v1/backups/{id}/copy` | operator |
//! | POST, GET | `/v1/restores` | operator, viewer |
//! | GET, DELETE | `/v1/restores/{id}` | viewer, operator |
//! | GET | `/v1/services/{id}/recovery-windows` | viewer |
//! | GET, PUT | `/v1/services/{id}/replication` | viewer, admin |
//! | POST | `/v1/services/{id}/backup_to_another_region/report` | viewer |
//! | GET | `/health`, `/ready`, `/openapi.json` | none |
//! | GET | `/metrics` (Prometheus text) | viewer |
//!
//! Errors are `{"error": {"code", "message", "field"}}` with a stable `code`
//! ([`error::ErrorDetail`]); invalid input is a 400 naming the field, unknown fields included.
//! Credentials and keys sent in a request are echoed back only as `"[secret]"`. See [`auth`] for
//! tokens and roles.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::collections::BTreeMap;
//! use tern_engine::{InitOptions, Repository};
//! use tern_service::config::{Role, TokenConfig, hash_token};
//! use tern_service::{Node, NodeOptions};
//!
//! let store = std::sync::Arc::new(object_store::memory::InMemory::new());
//! let repo = Repository::init(store, InitOptions::unencrypted()).await?;
//! let dir = tempfile::tempdir()?;
//! let node = Node::new(NodeOptions::new("eu", BTreeMap::from([("eu".to_owned(), repo)]), dir.path().into()))?;
//! let tokens = [TokenConfig { name: "ops".into(), role: Role::Viewer, blake3: hash_token("s3cr3t") }];
//! let app: axum::Router = tern_api::router(node, &tokens)?;
//! let spec = tern_api::openapi();
//! assert!(spec.paths.paths.contains_key("/v1/backups/schedules"));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod extract;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tern_service::Node;
use tern_service::config::TokenConfig;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// The node doing the work.
    pub node: Node,
    /// The tokens.
    pub auth: Arc<auth::Auth>,
}

/// The routes and the OpenAPI document, built together.
fn parts() -> (Router<ApiState>, OpenApi) {
    let mut info = utoipa::openapi::Info::new("Tern API", env!("CARGO_PKG_VERSION"));
    info.description =
        Some("Backups, point-in-time restores and cross-region copies of MariaDB and PostgreSQL services.".into());
    let base = utoipa::openapi::OpenApiBuilder::new().info(info).build();
    let (router, mut api) = OpenApiRouter::with_openapi(base)
        .routes(routes!(routes::create_schedule, routes::list_schedules))
        .routes(routes!(routes::get_schedule, routes::patch_schedule, routes::delete_schedule))
        .routes(routes!(routes::list_backups))
        .routes(routes!(routes::get_backup, routes::delete_backup))
        .routes(routes!(routes::copy_backup))
        .routes(routes!(routes::create_restore, routes::list_restores))
        .routes(routes!(routes::get_restore, routes::delete_restore))
        .routes(routes!(routes::recovery_windows))
        .routes(routes!(routes::get_replication, routes::put_replication))
        .routes(routes!(routes::lag_report))
        .routes(routes!(routes::health))
        .routes(routes!(routes::ready))
        .routes(routes!(routes::metrics))
        .split_for_parts();
    let components = api.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    let mut openapi_op = utoipa::openapi::path::OperationBuilder::new()
        .summary(Some("This document"))
        .tag("system")
        .response("200", utoipa::openapi::ResponseBuilder::new().description("The OpenAPI document").build())
        .build();
    openapi_op.operation_id = Some("openapi".into());
    api.paths.paths.insert(
        "/openapi.json".into(),
        utoipa::openapi::path::PathItem::new(utoipa::openapi::HttpMethod::Get, openapi_op),
    );
    (router, api)
}

/// The OpenAPI document of [`router`].
pub fn openapi() -> OpenApi {
    parts().1
}

/// The API over `node`, accepting `tokens`.
pub fn router(node: Node, tokens: &[TokenConfig]) -> Result<Router, String> {
    let state = ApiState { node, auth: Arc::new(auth::Auth::new(tokens)?) };
    let (routes, api) = parts();
    let document = Arc::new(api.to_json().map_err(|e| e.to_string())?);
    let routes = routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document.as_str().to_owned()) }
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(|| async { ApiError::not_found("no such route").into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
                .into_response()
        });
    Ok(routes.with_state(state))
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
