//! Campaigns (broadcasts): create, list, read, launch, pause, resume, cancel, preview on a
//! member, and the report.
//!
//! The actions are `POST /v1/campaigns/{id}:launch` (`:pause`, `:resume`, `:cancel`). The
//! router cannot match a parameter followed by text in one segment, so one route takes
//! `POST /v1/campaigns/{id}` and reads the verb after the colon; each verb is documented
//! under its own path.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use memberops_app::campaigns::{
    self, CampaignIn, CampaignOut, LaunchOut, PreviewIn, PreviewOut, ReportOut,
};
use memberops_app::lists::Page;
use memberops_core::time::now_millis;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::PageQuery;
use crate::state::AppState;

const TAG: &str = super::CAMPAIGNS;

/// Create a draft campaign. Subject and body are templates (`{{ member.name }}`,
/// `{{ member.tier }}`, `{{ points.balance }}`, `{{ coupon.code }}`,
/// `{{ unsubscribe_url }}`); an unknown segment is 422 naming `audience.segment_id`.
#[utoipa::path(post, path = "/v1/campaigns", tag = TAG, request_body = CampaignIn, security(("api_key" = [])),
    responses((status = 201, body = CampaignOut), (status = 200, body = CampaignOut, description = "the same idempotency_key again"),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<CampaignIn>,
) -> ApiResult<(StatusCode, Json<CampaignOut>)> {
    let (out, created) =
        campaigns::create(state.store.as_ref(), &auth.ws, body, now_millis()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

/// Campaigns, oldest first.
#[utoipa::path(get, path = "/v1/campaigns", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<CampaignOut>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<CampaignOut>>> {
    Ok(Json(
        campaigns::list(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignOut>> {
    Ok(Json(
        campaigns::get(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Plans one message per member of the audience (keyed, so launching again plans
/// nothing) and starts sending. No members → 422 `empty_audience`; a segment deleted since
/// → 422 `unknown_segment`.
#[utoipa::path(post, path = "/v1/campaigns/{id}:launch", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = LaunchOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`campaign_cancelled`"), (status = 422, body = ErrorBody)))]
async fn launch(state: AppState, auth: Admin, id: String) -> ApiResult<Json<LaunchOut>> {
    Ok(Json(
        campaigns::launch(
            state.store.as_ref(),
            &state.segments,
            &auth.ws,
            &id,
            now_millis(),
        )
        .await?,
    ))
}

/// Stops sending; messages wait.
#[utoipa::path(post, path = "/v1/campaigns/{id}:pause", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn pause(state: AppState, auth: Admin, id: String) -> ApiResult<Json<CampaignOut>> {
    verb(state, auth, id, "pause").await
}

/// Sends again what waited.
#[utoipa::path(post, path = "/v1/campaigns/{id}:resume", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn resume(state: AppState, auth: Admin, id: String) -> ApiResult<Json<CampaignOut>> {
    verb(state, auth, id, "resume").await
}

/// Stops for good; messages not sent yet are cancelled.
#[utoipa::path(post, path = "/v1/campaigns/{id}:cancel", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody)))]
async fn cancel(state: AppState, auth: Admin, id: String) -> ApiResult<Json<CampaignOut>> {
    verb(state, auth, id, "cancel").await
}

async fn verb(state: AppState, auth: Admin, id: String, v: &str) -> ApiResult<Json<CampaignOut>> {
    Ok(Json(
        campaigns::set_state(state.store.as_ref(), &auth.ws, &id, v, now_millis()).await?,
    ))
}

/// `POST /v1/campaigns/{id}:{verb}`.
async fn action(
    State(state): State<AppState>,
    auth: Admin,
    Path(path): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (id, v) = super::split_action(&path)?;
    Ok(match v {
        "launch" => launch(state, auth, id).await?.into_response(),
        "pause" => pause(state, auth, id).await?.into_response(),
        "resume" => resume(state, auth, id).await?.into_response(),
        "cancel" => cancel(state, auth, id).await?.into_response(),
        _ => return Err(super::no_action(&path)),
    })
}

/// Audience, sent, held by reason, delivered, failed, and members converted within the
/// goal window with their revenue.
#[utoipa::path(get, path = "/v1/campaigns/{id}/report", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = ReportOut), (status = 404, body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportOut>> {
    Ok(Json(
        campaigns::report(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// The message as a chosen member would receive it (their locale's variant). A template
/// that does not render for this member is 422 naming the field.
#[utoipa::path(post, path = "/v1/campaigns/{id}/preview", tag = TAG, params(("id" = String, Path)),
    request_body = PreviewIn, security(("api_key" = [])),
    responses((status = 200, body = PreviewOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    Ok(Json(
        campaigns::preview(
            state.store.as_ref(),
            &auth.ws,
            &id,
            &body.member,
            &campaigns::public_url(),
        )
        .await?,
    ))
}

#[derive(OpenApi)]
#[openapi(paths(launch, pause, resume, cancel))]
struct Actions;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Actions::openapi())
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .route("/v1/campaigns/{id}", post(action))
        .routes(routes!(report))
        .routes(routes!(preview))
}
