//! Staff call tasks (回访): create, list (`?assignee=&due=today`), read, log an outcome.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use memberops_app::campaigns::tasks::{self, OutcomeIn, SlaOut, TaskIn, TaskOut, TaskQuery};
use memberops_app::lists::Page;
use memberops_core::time::now_millis;
use serde::Deserialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{no_action, split_action};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

const TAG: &str = super::CAMPAIGNS;

/// Create a call task for a member, assigned to a staff member or a pool, due within a
/// window of a day in the member's zone.
#[utoipa::path(post, path = "/v1/tasks", tag = TAG, request_body = TaskIn, security(("api_key" = [])),
    responses((status = 201, body = TaskOut), (status = 200, body = TaskOut, description = "the same idempotency_key again"),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<TaskIn>,
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
    let (out, created) = tasks::create(state.store.as_ref(), &auth.ws, body, now_millis()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(out)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TasksQuery {
    /// A staff code.
    pub assignee: Option<String>,
    pub pool: Option<String>,
    /// A member's id or external id.
    pub member: Option<String>,
    /// Tasks of members whose home store (门店) is this code.
    pub store: Option<String>,
    /// Tasks of members owned by this staff (导购) code (`assignee` is who makes the call).
    pub staff: Option<String>,
    /// `today` (open tasks due today in each member's zone), `overdue` (open, window
    /// passed) or a day `YYYY-MM-DD`.
    pub due: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// Tasks, oldest first.
#[utoipa::path(get, path = "/v1/tasks", tag = TAG, params(TasksQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<TaskOut>), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<TasksQuery>,
) -> ApiResult<Json<Page<TaskOut>>> {
    let q = TaskQuery {
        assignee: q.assignee,
        pool: q.pool,
        member: q.member,
        store: q.store,
        staff: q.staff,
        due: q.due,
        cursor: q.cursor,
        limit: q.limit,
    };
    Ok(Json(
        tasks::list(state.store.as_ref(), &auth.ws, q, now_millis()).await?,
    ))
}

#[utoipa::path(get, path = "/v1/tasks/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = TaskOut), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskOut>> {
    Ok(Json(tasks::get(state.store.as_ref(), &auth.ws, &id).await?))
}

/// Log a call's outcome (`reached`, `no_answer`, `callback_at`, `not_interested`, notes):
/// shown on the member's timeline as a `task.logged` event.
#[utoipa::path(post, path = "/v1/tasks/{id}:log", tag = TAG, params(("id" = String, Path)),
    request_body = OutcomeIn, security(("api_key" = [])),
    responses((status = 200, body = TaskOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn log(
    State(state): State<AppState>,
    auth: Admin,
    Path(path): Path<String>,
    ValidJson(body): ValidJson<OutcomeIn>,
) -> Result<Json<TaskOut>, ApiError> {
    let (id, v) = split_action(&path)?;
    if v != "log" {
        return Err(no_action(&path));
    }
    Ok(Json(
        tasks::log_outcome(
            state.store.as_ref(),
            &auth.ws,
            &id,
            body,
            &auth.key.id,
            now_millis(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// First day, `YYYY-MM-DD` (the workspace's zone).
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// One staff member's tasks.
    pub assignee: Option<String>,
}

/// The SLA of call tasks due in a period: done within their window, done late, overdue,
/// still open.
#[utoipa::path(get, path = "/v1/tasks/sla", tag = TAG, params(SlaQuery), security(("api_key" = [])),
    responses((status = 200, body = SlaOut), (status = 422, body = ErrorBody)))]
async fn sla(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<SlaQuery>,
) -> ApiResult<Json<SlaOut>> {
    Ok(Json(
        tasks::sla(
            state.store.as_ref(),
            &auth.ws,
            &q.from,
            &q.to,
            q.assignee.as_deref(),
            now_millis(),
        )
        .await?,
    ))
}

#[derive(OpenApi)]
#[openapi(paths(log))]
struct Actions;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Actions::openapi())
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(sla))
        .route("/v1/tasks/{id}", post(log))
}
