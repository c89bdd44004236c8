//! Request extractors whose errors name the field at fault: a JSON body ([`Body`]) and a query
//! string ([`Query`]), both refusing unknown fields.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Bodies larger than this are refused.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body.
#[derive(Debug)]
pub struct Body<T>(pub T);

/// The field a serde error is about: the path serde_path_to_error tracked, or the field an
/// "unknown field" / "missing field" message quotes.
fn field_of(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    let quoted =
        |prefix: &str| message.split_once(prefix).and_then(|(_, rest)| rest.split('`').nth(1)).map(str::to_owned);
    let path = path.to_string();
    let base = (path != "." && !path.is_empty()).then_some(path);
    let named = quoted("unknown field").or_else(|| quoted("missing field"));
    match (base, named) {
        (Some(base), Some(name)) if message.contains("unknown field") || message.contains("missing field") => {
            // The path points at the object holding the field.
            Some(if base.ends_with(&name) { base } else { format!("{base}.{name}") })
        }
        (Some(base), _) => Some(base),
        (None, named) => named,
    }
}

/// The message without serde's " at line 1 column 42" tail.
fn clean(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let too_large = || {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is over {MAX_BODY} bytes"),
            )
        };
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::invalid("body", format!("cannot read the request body: {}", e.body_text()))
            }
        })?;
        if bytes.len() > MAX_BODY {
            return Err(too_large());
        }
        // Broken JSON is the body's fault, wherever the parser stopped; only well-formed JSON
        // is matched against the fields.
        let raw: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid("body", format!("invalid JSON body: {}", clean(&e.to_string()))))?;
        let value: T = serde_path_to_error::deserialize(raw).map_err(|e| {
            let message = clean(&e.inner().to_string());
            let field = field_of(e.path(), &message)
                .filter(|f| !f.split('.').any(|part| part == "?"))
                .unwrap_or_else(|| "body".to_owned());
            ApiError::invalid(field, format!("invalid JSON body: {message}"))
        })?;
        Ok(Self(value))
    }
}

/// A query string.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
            let message = clean(&e.inner().to_string());
            let field = field_of(e.path(), &message).unwrap_or_else(|| "query".to_owned());
            ApiError::invalid(field, format!("invalid query: {message}"))
        })?;
        Ok(Self(value))
    }
}

/// The `{id}` of a path, as text (the handler parses it); a path that does not decode is a 400
/// naming `id`, in the API's error shape.
#[derive(Debug)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| Self(id))
            .map_err(|e| ApiError::invalid("id", format!("invalid path: {}", e.body_text())))
    }
}
