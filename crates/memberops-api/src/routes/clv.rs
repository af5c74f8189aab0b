//! Predicted member value over HTTP (docs/predicted-value.md): a member's stored
//! predictions, and the refresh the daily job runs, on demand.

use axum::Json;
use axum::extract::{Path, State};
use memberops_app::clv::{self, RefreshReport};
use memberops_core::time::{millis_to_rfc3339, now_millis};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ValidJson;
use crate::state::AppState;

/// One member's predictions from the last refresh.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PredictedOut {
    /// Internal id (`mbr_…`).
    pub member_id: String,
    /// The as-of date (`YYYY-MM-DD`) of the fit.
    pub as_of: String,
    /// Probability that the member is still active (BG/NBD); 1 for a single-day buyer.
    pub p_alive: f64,
    /// Expected orders (order days) in the 90 days after as-of.
    pub expected_orders_90d: f64,
    /// Expected value of an order (Gamma-Gamma), minor units.
    pub expected_aov_minor: i64,
    /// Customer lifetime value over 12 months, discounted 1% a month, minor units.
    pub clv_12m_minor: i64,
    /// When the fit ran, RFC 3339 UTC.
    pub fitted_at: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshIn {
    /// YYYY-MM-DD; default today in the workspace zone.
    pub as_of: Option<String>,
}

/// A member's predicted value (P(alive), expected orders in 90 days, expected order value,
/// 12-month CLV), by internal or external id. 404 `not_found` for an unknown member, and for
/// a member without a prediction (no order by the last fit's as-of date, or no fit yet).
#[utoipa::path(get, path = "/v1/members/{id}/predicted", tag = super::MEMBERS, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = PredictedOut), (status = 404, body = ErrorBody)))]
async fn member_predicted(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<PredictedOut>> {
    let r = clv::member(state.store.as_ref(), &auth.ws, &id)
        .await?
        .ok_or(memberops_app::error::AppError::NotFound { what: "prediction" })?;
    Ok(Json(PredictedOut {
        member_id: r.member_id,
        as_of: r.as_of,
        p_alive: r.p_alive,
        expected_orders_90d: r.expected_orders_90d,
        expected_aov_minor: r.expected_aov_minor,
        clv_12m_minor: r.clv_12m_minor,
        fitted_at: millis_to_rfc3339(r.fitted_at),
    }))
}

/// The daily refresh on demand: fits BG/NBD and Gamma-Gamma on the member base as of the
/// date and replaces every stored prediction (segment fields `p_alive`,
/// `expected_orders_90d`, `clv_12m` follow). 422 `not_enough_data` when there are too few
/// buyers or repeat buyers to fit; nothing is changed then.
#[utoipa::path(post, path = "/v1/predicted-value:refresh", tag = super::SEGMENTS, request_body = RefreshIn,
    security(("api_key" = [])), responses((status = 200, body = RefreshReport), (status = 422, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<RefreshIn>,
) -> ApiResult<Json<RefreshReport>> {
    let now = now_millis();
    let as_of = match &body.as_of {
        Some(d) => memberops_app::segments::parse_date(d, "as_of")?,
        None => memberops_segments::row::local_day(now, auth.ws.time_zone),
    };
    let store = state.store.as_ref();
    let report = clv::refresh(store, &auth.ws, as_of, now).await?;
    state.segments.refresh(store, &auth.ws).await?;
    Ok(Json(report))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(member_predicted))
        .routes(routes!(refresh))
}
