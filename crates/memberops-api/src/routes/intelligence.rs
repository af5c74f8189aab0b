//! The member-intelligence rules of a workspace over HTTP: read, replace (saved as a new
//! version), list versions.

use axum::Json;
use axum::extract::State;
use memberops_app::segments::settings::{self, Settings, SettingsVersion};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::{self, Page, PageQuery};
use crate::state::AppState;

const TAG: &str = super::SEGMENTS;

/// The rules in force: RFM scoring, lifecycle thresholds, value classes, churn factor.
/// Version 0 means none was saved and the seed defaults apply.
#[utoipa::path(get, path = "/v1/intelligence/settings", tag = TAG,
    security(("api_key" = [])), responses((status = 200, body = SettingsVersion)))]
async fn get_settings(
    State(state): State<AppState>,
    auth: Admin,
) -> ApiResult<Json<SettingsVersion>> {
    Ok(Json(
        settings::current(state.store.as_ref(), &auth.ws).await?,
    ))
}

/// Replace the rules (fields left out take the seed default). Saved as the next version,
/// unless they equal the rules in force (then nothing is written and the current version
/// is returned). Every problem → 422 naming its path (`["lifecycle", "churned_after_days"]`),
/// nothing saved. Stored stages and scores follow at the next recompute; reports use the
/// new rules at once.
#[utoipa::path(put, path = "/v1/intelligence/settings", tag = TAG, request_body = Settings,
    security(("api_key" = [])), responses((status = 200, body = SettingsVersion), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<serde_json::Value>,
) -> ApiResult<Json<SettingsVersion>> {
    Ok(Json(
        settings::save(state.store.as_ref(), &auth.ws, &body, &auth.key.id).await?,
    ))
}

/// Every saved version of the rules, newest first (empty while the seed defaults apply).
#[utoipa::path(get, path = "/v1/intelligence/settings/versions", tag = TAG, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<SettingsVersion>)))]
async fn list_versions(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<SettingsVersion>>> {
    Ok(Json(page::in_memory(
        settings::versions(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_versions))
}
