//! The audit log of writes by operator and admin keys (admin keys read it).

use axum::Json;
use axum::extract::State;
use memberops_app::audit::{self, AuditLogOut};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ValidQuery;
use crate::page::Page;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only writes about this member (its id).
    pub member: Option<String>,
    /// Only writes by this key (its id).
    pub actor: Option<String>,
    /// Only writes at or after this instant (RFC 3339, or a date in the workspace's zone).
    pub since: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// Every write made by an operator or admin key, newest first: who (the key), when, which
/// endpoint, which member, and for settings and balances the state before and after.
/// Append-only.
#[utoipa::path(get, path = "/v1/audit", tag = super::SYSTEM, params(AuditQuery),
    security(("api_key" = [])),
    responses((status = 200, body = Page<AuditLogOut>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditLogOut>>> {
    let query = audit::Query {
        member: q.member,
        actor: q.actor,
        since: q.since,
        cursor: q.cursor,
        limit: q.limit,
    };
    Ok(Json(
        audit::page(state.store.as_ref(), &auth.ws, query).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}
