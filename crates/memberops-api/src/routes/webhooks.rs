//! Outgoing webhooks: endpoints, their delivery log, retries and recovery; and the lag of
//! the event log's consumers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use memberops_app::consumers::{self, ConsumerLag};
use memberops_app::webhooks::{
    self, DeliveryOut, EndpointIn, EndpointOut, EndpointPatch, RecoverIn, RecoverOut,
};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::{self, Page, PageQuery};
use crate::state::AppState;

const TAG: &str = super::WEBHOOKS;

/// Subscribe a URL to event types. The answer carries the signing `secret` (`whsec_…`),
/// shown this once. Deliveries follow the Standard Webhooks specification.
#[utoipa::path(post, path = "/v1/webhooks/endpoints", tag = TAG, request_body = EndpointIn, security(("api_key" = [])),
    responses((status = 201, body = EndpointOut), (status = 422, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let out =
        webhooks::create_endpoint(state.store.as_ref(), &auth.ws, state.webhooks, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/v1/webhooks/endpoints", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<EndpointOut>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<EndpointOut>>> {
    Ok(Json(page::in_memory(
        webhooks::list_endpoints(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

#[utoipa::path(get, path = "/v1/webhooks/endpoints/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointOut>> {
    Ok(Json(
        webhooks::get_endpoint(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Change the URL, the types or the description; `disabled` switches it off or back on.
#[utoipa::path(patch, path = "/v1/webhooks/endpoints/{id}", tag = TAG, params(("id" = String, Path)),
    request_body = EndpointPatch, security(("api_key" = [])),
    responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_endpoint(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    Ok(Json(
        webhooks::patch_endpoint(state.store.as_ref(), &auth.ws, state.webhooks, &id, body).await?,
    ))
}

/// A new signing secret, shown once; deliveries from now on are signed with it.
#[utoipa::path(post, path = "/v1/webhooks/endpoints/{id}/rotate-secret", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = EndpointOut), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointOut>> {
    Ok(Json(
        webhooks::rotate_secret(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// The endpoint's delivery log, newest first: status, attempts, last response.
#[utoipa::path(get, path = "/v1/webhooks/endpoints/{id}/deliveries", tag = TAG,
    params(("id" = String, Path), PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<DeliveryOut>), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<DeliveryOut>>> {
    let page = webhooks::deliveries(
        state.store.as_ref(),
        &auth.ws,
        &id,
        q.cursor.as_deref(),
        q.limit,
    )
    .await?;
    Ok(Json(Page::new(page.data, page.next_cursor)))
}

/// Send one delivery again, with the same `webhook-id`.
#[utoipa::path(post, path = "/v1/webhooks/endpoints/{id}/deliveries/{delivery_id}/retry", tag = TAG,
    params(("id" = String, Path), ("delivery_id" = String, Path)), security(("api_key" = [])),
    responses((status = 202, body = DeliveryOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    auth: Admin,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<DeliveryOut>)> {
    let out = webhooks::retry_delivery(state.store.as_ref(), &auth.ws, &id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// Send again every failed delivery created since a time (after a receiver's outage).
#[utoipa::path(post, path = "/v1/webhooks/endpoints/{id}/recover", tag = TAG, params(("id" = String, Path)),
    request_body = RecoverIn, security(("api_key" = [])),
    responses((status = 202, body = RecoverOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn recover(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RecoverIn>,
) -> ApiResult<(StatusCode, Json<RecoverOut>)> {
    let out = webhooks::recover(state.store.as_ref(), &auth.ws, &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// The consumers of the event log (coupon rules, webhooks…): where each stands and how far
/// behind the log's head, in events and seconds.
#[utoipa::path(get, path = "/v1/consumers", tag = super::SYSTEM, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<ConsumerLag>)))]
async fn list_consumers(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<ConsumerLag>>> {
    Ok(Json(page::in_memory(
        consumers::lag(state.store.as_ref(), &auth.ws, &state.consumers).await?,
        &q,
    )?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, patch_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(recover))
        .routes(routes!(list_consumers))
}
