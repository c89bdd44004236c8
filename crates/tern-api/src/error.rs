//! Errors as JSON: `{"error": {"code": "...", "message": "...", "field": "..."}}`, with a
//! stable `code` per kind of failure.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

/// The body of an error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `unauthorized`, `forbidden`, `invalid_request`, `not_found`, `conflict`,
    /// `schedule_runs_once`, `cannot_plan`, `method_not_allowed`, `payload_too_large`, `storage_unavailable`,
    /// `job_failed`, `internal`.
    pub code: String,
    /// Explanation.
    pub message: String,
    /// The request field at fault (`body.field`, a query parameter or a path parameter name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    /// 400, naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", message) }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message, field: self.field } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<tern_service::Error> for ApiError {
    fn from(e: tern_service::Error) -> Self {
        use tern_service::Error as E;
        match e {
            E::NotFound(m) => Self::not_found(m),
            E::Conflict(m) => Self::conflict(m),
            E::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            e @ E::Plan(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_plan", e.to_string()),
            e @ (E::Db(_) | E::Failed(_)) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "job_failed", e.to_string()),
            E::Engine(e) => Self::from(e),
            e => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<tern_engine::Error> for ApiError {
    fn from(e: tern_engine::Error) -> Self {
        use tern_engine::Error as E;
        match &e {
            E::InvalidArgument(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", m.clone()),
            E::Catalog(tern_catalog::Error::NotFound(_)) | E::BackupNotFound(_) => Self::not_found(e.to_string()),
            E::Catalog(tern_catalog::Error::Conflict(_) | tern_catalog::Error::HasDependents { .. }) => {
                Self::conflict(e.to_string())
            }
            E::WrongKey | E::KeyRequired | E::NotARepository { .. } | E::Location(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
            }
            E::Storage { .. } | E::Catalog(tern_catalog::Error::Storage { .. }) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", e.to_string())
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
