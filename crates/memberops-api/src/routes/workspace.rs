//! The workspace's own settings: name, currency and zone (fixed), calling code.

use axum::Json;
use axum::extract::State;
use memberops_app::workspace::{self, WorkspaceOut, WorkspacePatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ValidJson;
use crate::state::AppState;

/// The workspace's settings.
#[utoipa::path(get, path = "/v1/workspace", tag = super::SYSTEM, security(("api_key" = [])),
    responses((status = 200, body = WorkspaceOut)))]
async fn get_workspace(
    State(state): State<AppState>,
    auth: Admin,
) -> ApiResult<Json<WorkspaceOut>> {
    Ok(Json(
        workspace::settings(state.store.as_ref(), &auth.ws.id).await?,
    ))
}

/// Changes the name or the calling code that nationally written phones take (admin keys;
/// audited before and after). Phones already stored keep their E.164 form.
#[utoipa::path(patch, path = "/v1/workspace", tag = super::SYSTEM, request_body = WorkspacePatch,
    security(("api_key" = [])),
    responses((status = 200, body = WorkspaceOut), (status = 422, body = ErrorBody)))]
async fn patch_workspace(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(patch): ValidJson<WorkspacePatch>,
) -> ApiResult<Json<WorkspaceOut>> {
    Ok(Json(state.workspaces.update(&auth.ws.id, patch).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_workspace, patch_workspace))
}
