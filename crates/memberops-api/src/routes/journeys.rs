//! Journeys: create (or from a shipped template), list, read, edit, activate, pause,
//! archive, and the report. The actions are `POST /v1/journeys/{id}:activate` (`:pause`,
//! `:archive`), split off one route by [`super::split_action`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use memberops_app::journeys::{
    self, FromTemplateIn, JourneyIn, JourneyOut, JourneyPatch, JourneyReport, TemplateOut,
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

/// Create a draft journey: a trigger and a graph of steps. Bad input is 422 naming the step
/// and field (`["body", "steps", "<id>", "next"]`): a cycle with no wait, an unreachable
/// step, an unknown segment or coupon template, a template that does not render.
#[utoipa::path(post, path = "/v1/journeys", tag = TAG, request_body = JourneyIn, security(("api_key" = [])),
    responses((status = 201, body = JourneyOut), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<JourneyIn>,
) -> ApiResult<(StatusCode, Json<JourneyOut>)> {
    let out = journeys::create(state.store.as_ref(), &auth.ws, body, None, now_millis()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Create a draft from a shipped template (`GET /v1/journeys/templates`) with its
/// parameters.
#[utoipa::path(post, path = "/v1/journeys:from-template", tag = TAG, request_body = FromTemplateIn,
    security(("api_key" = [])), responses((status = 201, body = JourneyOut), (status = 422, body = ErrorBody)))]
async fn from_template(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<FromTemplateIn>,
) -> ApiResult<(StatusCode, Json<JourneyOut>)> {
    let out =
        journeys::create_from_template(state.store.as_ref(), &auth.ws, body, now_millis()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Journeys, oldest first.
#[utoipa::path(get, path = "/v1/journeys", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<JourneyOut>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<JourneyOut>>> {
    Ok(Json(
        journeys::list(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

/// The shipped templates: new-member welcome with gift pack, 333 follow-up, birthday,
/// silent-member reactivation, churn win-back, points-expiry reminder, tier-upgrade
/// congratulation.
#[utoipa::path(get, path = "/v1/journeys/templates", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<TemplateOut>), (status = 422, body = ErrorBody)))]
async fn templates(
    _auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<TemplateOut>>> {
    Ok(Json(journeys::templates::page(
        q.cursor.as_deref(),
        q.limit,
    )?))
}

#[utoipa::path(get, path = "/v1/journeys/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = JourneyOut), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<JourneyOut>> {
    Ok(Json(
        journeys::get(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Edit: a draft is rewritten; an active or paused journey gets a new version that new
/// entries follow (members already in keep theirs).
#[utoipa::path(patch, path = "/v1/journeys/{id}", tag = TAG, params(("id" = String, Path)),
    request_body = JourneyPatch, security(("api_key" = [])),
    responses((status = 200, body = JourneyOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn patch_one(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<JourneyPatch>,
) -> ApiResult<Json<JourneyOut>> {
    Ok(Json(
        journeys::patch(state.store.as_ref(), &auth.ws, &id, body, now_millis()).await?,
    ))
}

/// Members start entering (events received from now on; dates from the next daily run).
#[utoipa::path(post, path = "/v1/journeys/{id}:activate", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = JourneyOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn activate(state: AppState, auth: Admin, id: String) -> ApiResult<Json<JourneyOut>> {
    verb(state, auth, id, "activate").await
}

/// Nobody enters and no step runs; members wait where they are.
#[utoipa::path(post, path = "/v1/journeys/{id}:pause", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = JourneyOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn pause(state: AppState, auth: Admin, id: String) -> ApiResult<Json<JourneyOut>> {
    verb(state, auth, id, "pause").await
}

/// Stops for good; members still in leave (`archived`).
#[utoipa::path(post, path = "/v1/journeys/{id}:archive", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = JourneyOut), (status = 404, body = ErrorBody)))]
async fn archive(state: AppState, auth: Admin, id: String) -> ApiResult<Json<JourneyOut>> {
    verb(state, auth, id, "archive").await
}

async fn verb(state: AppState, auth: Admin, id: String, v: &str) -> ApiResult<Json<JourneyOut>> {
    Ok(Json(
        journeys::set_state(state.store.as_ref(), &auth.ws, &id, v, now_millis()).await?,
    ))
}

/// `POST /v1/journeys/{id}:{verb}`.
async fn action(
    State(state): State<AppState>,
    auth: Admin,
    Path(path): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (id, v) = super::split_action(&path)?;
    Ok(match v {
        "activate" => activate(state, auth, id).await?.into_response(),
        "pause" => pause(state, auth, id).await?.into_response(),
        "archive" => archive(state, auth, id).await?.into_response(),
        _ => return Err(super::no_action(&path)),
    })
}

/// Entered, per step (reached, sent, held by reason, waiting, exited, outcomes), converted,
/// and per experiment group conversion and revenue per member with the uplift against the
/// holdout (95% CI).
#[utoipa::path(get, path = "/v1/journeys/{id}/report", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = JourneyReport), (status = 404, body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<JourneyReport>> {
    Ok(Json(
        journeys::report(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

#[derive(OpenApi)]
#[openapi(paths(activate, pause, archive))]
struct Actions;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Actions::openapi())
        .routes(routes!(create, list))
        .routes(routes!(from_template))
        .routes(routes!(templates))
        .routes(routes!(get_one, patch_one))
        .route("/v1/journeys/{id}", post(action))
        .routes(routes!(report))
}
