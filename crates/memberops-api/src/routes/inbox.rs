//! The member center's inbox and the one-click unsubscribe link.

use axum::Json;
use axum::extract::{Path, State};
use memberops_app::campaigns::inbox::{
    self, InboxMessageOut, MarkReadIn, MarkReadOut, UnsubscribeOut,
};
use memberops_app::lists::Page;
use memberops_core::time::now_millis;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::PageQuery;
use crate::state::AppState;

const TAG: &str = super::CAMPAIGNS;

/// A member's inbox (messages of the `inapp` channel), newest first.
#[utoipa::path(get, path = "/v1/members/{id}/inbox", tag = TAG, params(("id" = String, Path), PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<InboxMessageOut>), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<InboxMessageOut>>> {
    Ok(Json(
        inbox::list(
            state.store.as_ref(),
            &auth.ws,
            &id,
            q.cursor.as_deref(),
            q.limit,
        )
        .await?,
    ))
}

/// Marks inbox messages read.
#[utoipa::path(post, path = "/v1/members/{id}/inbox:read", tag = TAG, params(("id" = String, Path)),
    request_body = MarkReadIn, security(("api_key" = [])),
    responses((status = 200, body = MarkReadOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<MarkReadIn>,
) -> ApiResult<Json<MarkReadOut>> {
    Ok(Json(
        inbox::mark_read(state.store.as_ref(), &auth.ws, &id, &body.ids, now_millis()).await?,
    ))
}

/// One-click unsubscribe (no key: the link in the message is the proof). Withdraws the
/// member's consent to the message's channel and records it as a `consent.withdrawn`
/// event. Following it again changes nothing.
#[utoipa::path(get, path = "/u/{token}", tag = TAG, params(("token" = String, Path)),
    responses((status = 200, body = UnsubscribeOut), (status = 404, body = ErrorBody)))]
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<UnsubscribeOut>> {
    let ws_id = inbox::token_workspace(state.store.as_ref(), &token).await?;
    let ws = state.workspace(&ws_id).await?;
    Ok(Json(
        inbox::unsubscribe(state.store.as_ref(), &ws, &token, now_millis()).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mark_read))
        .routes(routes!(unsubscribe))
}
