//! Who is calling: API keys in `Authorization: Bearer <key>`, checked in extractors so that
//! no handler can forget to.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use memberops_app::Workspace;
use memberops_store::{ApiKey, KeyScope};

use crate::error::ApiError;
use crate::state::AppState;

/// A key that may send events.
pub struct Ingest {
    pub key: ApiKey,
    pub ws: Arc<Workspace>,
}

/// A key allowed on the route by its scope (see [`crate::scopes`]); on a route the guard
/// does not check, a key with the admin scope.
pub struct Admin {
    pub key: ApiKey,
    pub ws: Arc<Workspace>,
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send an API key as `Authorization: Bearer <key>`",
        )
    })?;
    let value = header.to_str().map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the Authorization header is not text",
        )
    })?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the Authorization header must be `Bearer <key>`",
            )
        })
}

async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<(ApiKey, Arc<Workspace>), ApiError> {
    let secret = bearer(parts)?;
    let key = state.verify_key(secret).await?;
    let ws = state.workspace(&key.workspace_id).await?;
    Ok((key, ws))
}

/// Who is calling, set on the request by [`crate::guard`] once the key, its scope and its
/// rate are checked.
#[derive(Clone)]
pub struct Caller {
    pub key: ApiKey,
    pub ws: Arc<Workspace>,
}

/// The caller the guard checked, or (on a route the guard leaves public) a key checked here
/// for `scope`.
async fn caller(parts: &Parts, state: &AppState, scope: KeyScope) -> Result<Caller, ApiError> {
    if let Some(c) = parts.extensions.get::<Caller>() {
        return Ok(c.clone());
    }
    let (key, ws) = authenticate(parts, state).await?;
    if !crate::scopes::allows(&key.scopes, &parts.method, scope) {
        return Err(insufficient_scope(&parts.method, scope));
    }
    Ok(Caller { key, ws })
}

/// For handlers that check their own key (the Tracking API's write keys): 403
/// `insufficient_scope` unless the key reaches a POST needing `need`.
pub fn require(key: &ApiKey, need: KeyScope) -> Result<(), ApiError> {
    let post = axum::http::Method::POST;
    if crate::scopes::allows(&key.scopes, &post, need) {
        Ok(())
    } else {
        Err(insufficient_scope(&post, need))
    }
}

/// 403 `insufficient_scope`, naming the scope the route needs.
pub fn insufficient_scope(method: &axum::http::Method, need: KeyScope) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        crate::scopes::refusal(method, need),
    )
}

pub(crate) async fn authenticate_parts(
    parts: &Parts,
    state: &AppState,
) -> Result<(ApiKey, Arc<Workspace>), ApiError> {
    authenticate(parts, state).await
}

impl FromRequestParts<AppState> for Ingest {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller { key, ws } = caller(parts, state, KeyScope::Ingest).await?;
        Ok(Ingest { key, ws })
    }
}

/// The scope itself is checked by the guard, from the route's line in [`crate::scopes`];
/// this extractor only hands the handler its key and workspace.
impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller { key, ws } = caller(parts, state, KeyScope::Admin).await?;
        Ok(Admin { key, ws })
    }
}
