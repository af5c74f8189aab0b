use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use memberops_app::ingest::{self, BatchOptions, BatchReport, RowError, RowResult, RowStatus};
use memberops_core::event::EventIn;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::members::EventOut;
use crate::auth::{Admin, Ingest};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{RowsJson, ValidJson};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchIn {
    /// Up to 10,000 events. A row of the wrong shape is rejected on its own.
    #[schema(value_type = Vec<EventIn>)]
    pub events: Vec<Box<serde_json::value::RawValue>>,
    /// All rows or none: one rejected row and nothing is written.
    #[serde(default)]
    pub atomic: bool,
}

/// Record one event. Sending an event id again changes nothing and answers `duplicate`.
#[utoipa::path(post, path = "/v1/events", tag = super::EVENTS, request_body = EventIn,
    security(("api_key" = [])),
    responses(
        (status = 201, body = RowResult, description = "accepted"),
        (status = 200, body = RowResult, description = "duplicate: already recorded"),
        (status = 404, body = ErrorBody, description = "`member_not_found`"),
        (status = 409, body = ErrorBody, description = "`order_exists`, `order_not_found`, `refund_exceeds_order`, …"),
        (status = 422, body = ErrorBody)))]
async fn post_event(
    State(state): State<AppState>,
    auth: Ingest,
    ValidJson(event): ValidJson<EventIn>,
) -> ApiResult<(StatusCode, Json<RowResult>)> {
    let report = ingest::apply_batch(
        state.store.as_ref(),
        &auth.ws,
        vec![event],
        BatchOptions { atomic: true },
    )
    .await?;
    let Some(row) = report.results.into_iter().next() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "empty batch report",
        ));
    };
    match row.status {
        RowStatus::Accepted => Ok((StatusCode::CREATED, Json(row))),
        RowStatus::Duplicate => Ok((StatusCode::OK, Json(row))),
        RowStatus::Rejected | RowStatus::Skipped => Err(row_error(row.error)),
    }
}

/// A rejected single event as an HTTP error: bad fields 422, unknown member 404, a
/// clash with stored orders 409.
fn row_error(e: Option<RowError>) -> ApiError {
    let Some(e) = e else {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "the event was rejected",
        );
    };
    if !e.fields.is_empty() {
        return ApiError::validation(e.fields);
    }
    let status = match e.code.as_str() {
        "member_not_found" => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    ApiError::new(status, &e.code, e.message)
}

/// A 422 of the batch route: an atomic batch's report, or the shared error body for a
/// body that is not a batch.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum BatchRefusal {
    Report(BatchReport),
    Error(crate::error::ErrorBody),
}

/// Record up to 10,000 events in one transaction; the answer says what happened to each
/// row (`accepted`, `duplicate`, `rejected` with its reason, or `skipped` when an atomic
/// batch was refused).
#[utoipa::path(post, path = "/v1/events:batch", tag = super::EVENTS, request_body = BatchIn,
    security(("api_key" = [])),
    responses(
        (status = 200, body = BatchReport, description = "processed; see `committed` and each row"),
        (status = 422, body = BatchRefusal, description = "atomic batch with a rejected row (the report; nothing written), or a body of the wrong shape (the error body)"),
        (status = 400, body = ErrorBody)))]
async fn post_batch(
    State(state): State<AppState>,
    auth: Ingest,
    RowsJson(body): RowsJson<BatchIn>,
) -> ApiResult<(StatusCode, Json<BatchReport>)> {
    let report = ingest::apply_rows(
        state.store.as_ref(),
        &auth.ws,
        body.events,
        BatchOptions {
            atomic: body.atomic,
        },
    )
    .await?;
    let status = if report.committed {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report)))
}

/// One stored event by its id.
#[utoipa::path(get, path = "/v1/events/{id}", tag = super::EVENTS, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = EventOut), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<EventOut>> {
    let e = state
        .store
        .event(&auth.ws.id, &id)
        .await
        .map_err(memberops_app::AppError::from)?;
    e.map(|e| Json(EventOut::from(e))).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no event `{id}`"),
        )
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_event))
        .routes(routes!(get_event))
        .merge(OpenApiRouter::new().routes(routes!(post_batch)).layer(
            axum::extract::DefaultBodyLimit::max(crate::limits::BATCH_BODY_BYTES),
        ))
}
