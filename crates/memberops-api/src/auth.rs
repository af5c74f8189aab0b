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

/// Any live key: may send events.
pub struct Ingest {
    pub key: ApiKey,
    pub ws: Arc<Workspace>,
}

/// A key with the admin scope: may read and manage everything in its workspace.
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

impl FromRequestParts<AppState> for Ingest {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (key, ws) = authenticate(parts, state).await?;
        Ok(Ingest { key, ws })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (key, ws) = authenticate(parts, state).await?;
        if key.scope != KeyScope::Admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key may only send events (scope `ingest`)",
            ));
        }
        Ok(Admin { key, ws })
    }
}
