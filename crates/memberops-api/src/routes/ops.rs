//! `/readyz` (may this process take traffic?) and `/metrics` (Prometheus text format).
//! Neither needs a key; neither shows member data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use memberops_app::ops::HEARTBEAT_EVERY;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// The database answers.
    database: bool,
    /// Every migration of this build is applied.
    migrations_current: bool,
    /// A worker wrote its heartbeat within the last minute.
    worker_fresh: bool,
    /// RFC 3339: the freshest worker heartbeat, if any.
    worker_seen_at: Option<String>,
}

/// Readiness: the database is reachable, its migrations are current, and a worker's
/// heartbeat is fresh (503 otherwise, saying which). Needs no key.
#[utoipa::path(get, path = "/readyz", tag = super::SYSTEM,
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let store = state.store.as_ref();
    let pending = store.pending_migrations().await;
    let beat = store.last_beat().await.ok().flatten();
    let database = pending.is_ok();
    let migrations_current = matches!(pending, Ok(0));
    let fresh_ms = i64::try_from((HEARTBEAT_EVERY * 4).as_millis()).unwrap_or(i64::MAX);
    let worker_fresh =
        beat.is_some_and(|t| memberops_core::time::now_millis().saturating_sub(t) <= fresh_ms);
    let ok = database && migrations_current && worker_fresh;
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Ready {
            status: if ok { "ready" } else { "not_ready" },
            database,
            migrations_current,
            worker_fresh,
            worker_seen_at: beat.map(memberops_core::time::millis_to_rfc3339),
        }),
    )
}

/// Prometheus metrics (text exposition format). Needs no key.
#[utoipa::path(get, path = "/metrics", tag = super::SYSTEM,
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(ws) = state.workspace(memberops_core::id::DEFAULT_WORKSPACE).await {
        crate::metrics::read_gauges(&state, &ws).await;
    }
    let text = crate::metrics::handle()
        .map(|h| h.render())
        .unwrap_or_default();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}
