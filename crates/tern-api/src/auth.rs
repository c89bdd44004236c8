//! Bearer tokens and roles.
//!
//! Tokens come from the configuration as BLAKE3 hashes; a request's token is hashed and compared
//! with every configured hash in constant time (`blake3::Hash`'s equality), so neither the
//! tokens nor their hashes leak through timing. Who may do what is one table, [`required_role`]:
//!
//! | role | may |
//! |---|---|
//! | `viewer` | every `GET` (including `/metrics`) and the lag report |
//! | `operator` | as viewer, and create, change and delete schedules, start and cancel restores, copy backups |
//! | `admin` | everything: also delete backups and change replication settings |
//!
//! `/health`, `/ready` and `/openapi.json` need no token.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tern_service::Role;
use tern_service::config::TokenConfig;

use crate::ApiState;
use crate::error::ApiError;

/// The configured tokens.
#[derive(Clone)]
pub struct Auth {
    tokens: Vec<(String, Role, blake3::Hash)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<(&str, Role)> = self.tokens.iter().map(|(n, r, _)| (n.as_str(), *r)).collect();
        f.debug_struct("Auth").field("tokens", &names).finish()
    }
}

/// Who called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Auth {
    /// Tokens from the configuration (hashes checked by [`tern_service::Config::check`]; two
    /// entries with one hash are refused, as the role would be ambiguous).
    pub fn new(tokens: &[TokenConfig]) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        if let Some(t) = tokens.iter().find(|t| !seen.insert(t.blake3.to_ascii_lowercase())) {
            return Err(format!("token {}: the same token as another entry", t.name));
        }
        let tokens = tokens
            .iter()
            .map(|t| {
                blake3::Hash::from_hex(&t.blake3)
                    .map(|h| (t.name.clone(), t.role, h))
                    .map_err(|e| format!("token {}: bad hash: {e}", t.name))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { tokens })
    }

    /// The caller a token belongs to.
    pub fn check(&self, token: &str) -> Option<Caller> {
        let hash = blake3::hash(token.as_bytes());
        // Compare with every hash (constant time each), so the position of a match does not
        // show in the timing either.
        let mut found = None;
        for (name, role, expected) in &self.tokens {
            if hash == *expected && found.is_none() {
                found = Some(Caller { name: name.clone(), role: *role });
            }
        }
        found
    }
}

/// The role a request needs: `None` for public routes.
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    match (method.as_str(), path) {
        (_, "/health" | "/ready" | "/openapi.json") => None,
        ("GET" | "HEAD", _) | ("POST", "/v1/services/{id}/backup_to_another_region/report") => Some(Role::Viewer),
        ("DELETE", "/v1/backups/{id}") | ("PUT", "/v1/services/{id}/replication") => Some(Role::Admin),
        _ => Some(Role::Operator),
    }
}

/// Middleware: 401 without a valid token, 403 when its role is short of the route's.
pub async fn authorize(State(state): State<ApiState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(path) = path else { return Ok(next.run(request).await) }; // 404/405 fall through
    let Some(needed) = required_role(request.method(), &path) else { return Ok(next.run(request).await) };
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a bearer token is required"));
    };
    let Some(caller) = state.auth.check(token) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the bearer token is not valid"));
    };
    if caller.role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{} {path} needs the {needed} role; token `{}` is {}", request.method(), caller.name, caller.role),
        ));
    }
    let mut request = request;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use tern_service::config::hash_token;

    use super::*;

    #[test]
    fn one_token_in_two_entries_is_refused() {
        let token =
            |name: &str, role| TokenConfig { name: name.into(), role, blake3: hash_token("same-token-0123456789") };
        let err = Auth::new(&[token("a", Role::Viewer), token("b", Role::Admin)]).unwrap_err();
        assert!(err.contains("token b: the same token"), "{err}");
        let auth = Auth::new(&[token("a", Role::Viewer)]).unwrap();
        assert_eq!(auth.check("same-token-0123456789").map(|c| c.role), Some(Role::Viewer));
        assert_eq!(auth.check("other-token-0123456789"), None);
    }
}
