//! Stores (门店) and staff (导购): records, a member's home store and owning staff member,
//! bulk reassignment when a staff member leaves, and the audit of assignment changes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use memberops_app::lists::Page;
use memberops_app::stores::{
    self, AssignmentOut, ReassignOut, StaffIn, StaffOut, StaffPatch, StoreAuditOut, StoreIn,
    StoreOut, StorePatch,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::PageQuery;
use crate::state::AppState;

const TAG: &str = super::STORES;

/// Create a store. Its `code` never changes: members, orders, segments and reports name
/// the store by it.
#[utoipa::path(post, path = "/v1/stores", tag = TAG, request_body = StoreIn, security(("api_key" = [])),
    responses((status = 201, body = StoreOut), (status = 409, body = ErrorBody, description = "`store_exists`"),
        (status = 422, body = ErrorBody)))]
async fn create_store(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<StoreIn>,
) -> ApiResult<(StatusCode, Json<StoreOut>)> {
    let out = stores::create_store(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Stores by code.
#[utoipa::path(get, path = "/v1/stores", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<StoreOut>), (status = 422, body = ErrorBody)))]
async fn list_stores(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<StoreOut>>> {
    Ok(Json(
        stores::list_stores(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

#[utoipa::path(get, path = "/v1/stores/{code}", tag = TAG, params(("code" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = StoreOut), (status = 404, body = ErrorBody)))]
async fn get_store(
    State(state): State<AppState>,
    auth: Admin,
    Path(code): Path<String>,
) -> ApiResult<Json<StoreOut>> {
    Ok(Json(
        stores::get_store(state.store.as_ref(), &auth.ws, &code).await?,
    ))
}

/// Rename a store or set it `inactive` (closed: no new members or staff are assigned to
/// it; members keep it as their home store).
#[utoipa::path(patch, path = "/v1/stores/{code}", tag = TAG, params(("code" = String, Path)),
    request_body = StorePatch, security(("api_key" = [])),
    responses((status = 200, body = StoreOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_store(
    State(state): State<AppState>,
    auth: Admin,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<StorePatch>,
) -> ApiResult<Json<StoreOut>> {
    Ok(Json(
        stores::patch_store(state.store.as_ref(), &auth.ws, &code, body).await?,
    ))
}

/// Create a staff member (导购), optionally at a store.
#[utoipa::path(post, path = "/v1/staff", tag = TAG, request_body = StaffIn, security(("api_key" = [])),
    responses((status = 201, body = StaffOut), (status = 409, body = ErrorBody, description = "`staff_exists`"),
        (status = 422, body = ErrorBody)))]
async fn create_staff(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<StaffIn>,
) -> ApiResult<(StatusCode, Json<StaffOut>)> {
    let out = stores::create_staff(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffQuery {
    /// Only the staff of this store.
    pub store: Option<String>,
    /// `next_cursor` of the previous page (an unknown one is 422 `invalid_cursor`).
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// Staff by code, of one store with `?store=`.
#[utoipa::path(get, path = "/v1/staff", tag = TAG, params(StaffQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<StaffOut>), (status = 422, body = ErrorBody)))]
async fn list_staff(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<StaffQuery>,
) -> ApiResult<Json<Page<StaffOut>>> {
    Ok(Json(
        stores::list_staff(
            state.store.as_ref(),
            &auth.ws,
            q.store.as_deref(),
            q.cursor.as_deref(),
            q.limit,
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/staff/{code}", tag = TAG, params(("code" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = StaffOut), (status = 404, body = ErrorBody)))]
async fn get_staff(
    State(state): State<AppState>,
    auth: Admin,
    Path(code): Path<String>,
) -> ApiResult<Json<StaffOut>> {
    Ok(Json(
        stores::get_staff(state.store.as_ref(), &auth.ws, &code).await?,
    ))
}

/// Rename, move to another store, or set `inactive` when the staff member leaves (their
/// members stay theirs until reassigned).
#[utoipa::path(patch, path = "/v1/staff/{code}", tag = TAG, params(("code" = String, Path)),
    request_body = StaffPatch, security(("api_key" = [])),
    responses((status = 200, body = StaffOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_staff(
    State(state): State<AppState>,
    auth: Admin,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<StaffPatch>,
) -> ApiResult<Json<StaffOut>> {
    Ok(Json(
        stores::patch_staff(state.store.as_ref(), &auth.ws, &code, body).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReassignIn {
    /// The active staff member who takes the members over.
    pub to_staff: String,
}

/// Hand every member of a staff member to another (when a 导购 leaves), in one
/// transaction, audited. Home stores stay as they are. Running it again moves nothing.
#[utoipa::path(post, path = "/v1/staff/{code}/members:reassign", tag = TAG, params(("code" = String, Path)),
    request_body = ReassignIn, security(("api_key" = [])),
    responses((status = 200, body = ReassignOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reassign(
    State(state): State<AppState>,
    auth: Admin,
    Path(code): Path<String>,
    ValidJson(body): ValidJson<ReassignIn>,
) -> ApiResult<Json<ReassignOut>> {
    Ok(Json(
        stores::reassign(
            state.store.as_ref(),
            &auth.ws,
            &code,
            &body.to_staff,
            &auth.key.id,
        )
        .await?,
    ))
}

/// Who changed members' stores and staff, and when (operator edits, reassignments),
/// newest first.
#[utoipa::path(get, path = "/v1/store-audit", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<StoreAuditOut>), (status = 422, body = ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<StoreAuditOut>>> {
    Ok(Json(
        stores::audit(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

/// A member's home store and owning staff member (change them with `PATCH
/// /v1/members/{id}`).
#[utoipa::path(get, path = "/v1/members/{id}/store", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody)))]
async fn member_store(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AssignmentOut>> {
    Ok(Json(
        stores::member_assignment(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_store, list_stores))
        .routes(routes!(get_store, patch_store))
        .routes(routes!(create_staff, list_staff))
        .routes(routes!(get_staff, patch_staff))
        .routes(routes!(reassign))
        .routes(routes!(audit))
        .routes(routes!(member_store))
}
