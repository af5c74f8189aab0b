use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    status: &'static str,
    version: &'static str,
    database: &'static str,
}

/// Liveness and database reachability; needs no key.
#[utoipa::path(get, path = "/healthz", tag = super::SYSTEM,
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let db_ok = state
        .store
        .workspace(memberops_core::id::DEFAULT_WORKSPACE)
        .await
        .is_ok();
    let body = Health {
        status: if db_ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        database: match state.store.backend() {
            memberops_store::Backend::Sqlite => "sqlite",
            memberops_store::Backend::Postgres => "postgres",
        },
    };
    (
        if db_ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}
