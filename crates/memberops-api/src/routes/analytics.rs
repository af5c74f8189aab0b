//! Analytics reports over HTTP (docs/analytics.md): JSON, or CSV with `format=csv`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use memberops_app::analytics::funnel::{Funnel, FunnelParams};
use memberops_app::analytics::portrait::Portrait;
use memberops_app::analytics::reports::{self, ChannelParams, CohortParams, OverviewParams};
use memberops_app::analytics::tables::Grain;
use memberops_app::analytics::tables::channels::{CHANNEL_COLUMNS, ChannelRow};
use memberops_app::analytics::tables::cohorts::{COHORT_COLUMNS, CohortBy, CohortRow, Measure};
use memberops_app::analytics::tables::decomposition::{DECOMPOSITION_COLUMNS, DecompositionRow};
use memberops_app::analytics::tables::funnel::{FUNNEL_COLUMNS, FunnelGroup};
use memberops_app::analytics::tables::overview::Overview;
use memberops_app::analytics::tables::portrait::PORTRAIT_COLUMNS;
use memberops_app::analytics::tables::repurchase::Repurchase;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::segments::{csv_bytes, csv_response};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ValidQuery;
use crate::page;
use crate::state::AppState;

const TAG: &str = super::ANALYTICS;

/// `json` (default) or `csv`.
fn wants_csv(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::from(memberops_app::AppError::from(
            memberops_core::Invalid::one(&["format"], "invalid_value", "expected json or csv"),
        ))),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CohortQueryIn {
    /// `first_order` (default: the local day of the first order that counts) or `registration`.
    pub by: Option<String>,
    /// `month` (default) or `week` (ISO weeks, Monday first).
    pub period: Option<String>,
    /// `ordered` (default: at least one order in the period, "ordered again") or `active`
    /// (at least one event of the member's own, "active again").
    pub measure: Option<String>,
    /// YYYY-MM-DD; default today in the workspace's zone. Nothing after it counts.
    pub as_of: Option<String>,
    /// `json` (default, a page at a time) or `csv` (every row: `cohort,period,cohort_size,retained,rate`).
    pub format: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CohortReport {
    pub by: CohortBy,
    pub period: Grain,
    pub measure: Measure,
    /// YYYY-MM-DD.
    pub as_of: String,
    /// Cells, cohorts oldest first, periods 0, 1, … up to the as-of period.
    pub data: Vec<CohortRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The cohort retention matrix: members by the month (or week) of their first order or
/// registration, and how many of each cohort ordered (or were active) in each later
/// period. Local days in the workspace's zone.
#[utoipa::path(get, path = "/v1/analytics/cohorts", tag = TAG, params(CohortQueryIn),
    security(("api_key" = [])), responses((status = 200, body = CohortReport), (status = 422, body = ErrorBody)))]
async fn cohorts(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<CohortQueryIn>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let params = CohortParams {
        by: q.by,
        period: q.period,
        measure: q.measure,
        as_of: q.as_of,
    };
    let query = params.parse(&auth.ws)?;
    let rows = reports::cohorts(state.store.as_ref(), &auth.ws, &query).await?;
    if csv {
        let body = csv_bytes(
            &COHORT_COLUMNS,
            rows.iter().map(|r| r.csv_record().to_vec()),
        );
        return Ok(csv_response("cohorts.csv", body));
    }
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(CohortReport {
        by: query.by,
        period: query.period,
        measure: query.measure,
        as_of: query.as_of.format("%Y-%m-%d").to_string(),
        data: page.data,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQueryIn {
    /// First day, YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last day (inclusive), YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// `day` (default), `week` or `month`: the series' periods.
    pub interval: Option<String>,
}

/// Members, activity (DAU/WAU/MAU by any event and by orders), paying members, revenue net
/// of refunds, orders, AOV, ARPU, repurchase and churn for a date range, with the previous
/// period of as many days beside it and a series by day, week or month.
#[utoipa::path(get, path = "/v1/analytics/overview", tag = TAG, params(OverviewQueryIn),
    security(("api_key" = [])), responses((status = 200, body = Overview), (status = 422, body = ErrorBody)))]
async fn overview(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<OverviewQueryIn>,
) -> ApiResult<Json<Overview>> {
    let params = OverviewParams {
        from: q.from,
        to: q.to,
        interval: q.interval,
    };
    Ok(Json(
        reports::overview(state.store.as_ref(), &auth.ws, &params).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelQueryIn {
    /// First join day, YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last join day (inclusive), YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// YYYY-MM-DD, not before `to`; default today. Nothing after it counts.
    pub as_of: Option<String>,
    /// `json` (default, a page at a time) or `csv` (every row).
    pub format: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelReport {
    pub from: String,
    pub to: String,
    /// One row per channel by name (`(none)`: no channel given), then `(all)`.
    pub data: Vec<ChannelRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Acquisition channels: members who joined in the range per channel, conversion to a
/// first order, day 1/7/30/90 retention (first time and recurring, calendar days in the
/// workspace's zone) and the seed's formula retained = Σ new members × day-30 retention,
/// with each channel's share.
#[utoipa::path(get, path = "/v1/analytics/channels", tag = TAG, params(ChannelQueryIn),
    security(("api_key" = [])), responses((status = 200, body = ChannelReport), (status = 422, body = ErrorBody)))]
async fn channels(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<ChannelQueryIn>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let params = ChannelParams {
        from: q.from.clone(),
        to: q.to.clone(),
        as_of: q.as_of,
    };
    let rows = reports::channels(state.store.as_ref(), &auth.ws, &params).await?;
    if csv {
        let body = csv_bytes(&CHANNEL_COLUMNS, rows.iter().map(ChannelRow::csv_record));
        return Ok(csv_response("channels.csv", body));
    }
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(ChannelReport {
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        data: page.data,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfIn {
    /// YYYY-MM-DD; default today in the workspace's zone. Nothing after it counts.
    pub as_of: Option<String>,
}

/// Repurchase: the "magic number" table (of members with n orders, how many placed
/// another), the distribution of days between consecutive orders, and the time from the
/// first order to the second.
#[utoipa::path(get, path = "/v1/analytics/repurchase", tag = TAG, params(AsOfIn),
    security(("api_key" = [])), responses((status = 200, body = Repurchase), (status = 422, body = ErrorBody)))]
async fn repurchase(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<AsOfIn>,
) -> ApiResult<Json<Repurchase>> {
    Ok(Json(
        reports::repurchase(state.store.as_ref(), &auth.ws, q.as_of.as_deref()).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecompositionQueryIn {
    /// First day, YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last day (inclusive), YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// `json` (default, a page at a time) or `csv` (every row).
    pub format: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DecompositionReport {
    /// One row per channel by name, then `(all)`.
    pub data: Vec<DecompositionRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Sales decomposition: revenue = active members × conversion × purchase frequency × AOV,
/// for the range and the previous period of as many days, per channel and in all, with each
/// factor's contribution to the change (LMDI, docs/analytics.md).
#[utoipa::path(get, path = "/v1/analytics/decomposition", tag = TAG, params(DecompositionQueryIn),
    security(("api_key" = [])), responses((status = 200, body = DecompositionReport), (status = 422, body = ErrorBody)))]
async fn decomposition(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<DecompositionQueryIn>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let rows = reports::decomposition(
        state.store.as_ref(),
        &auth.ws,
        q.from.as_deref(),
        q.to.as_deref(),
    )
    .await?;
    if csv {
        let body = csv_bytes(
            &DECOMPOSITION_COLUMNS,
            rows.iter().map(DecompositionRow::csv_record),
        );
        return Ok(csv_response("decomposition.csv", body));
    }
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(DecompositionReport {
        data: page.data,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQueryIn {
    /// Comma-separated steps, 2 to 10: an event type, optionally with property filters in
    /// brackets, `;`-separated, each `key op value` with op one of `= != > >= < <=`
    /// (e.g. `member.registered,order.paid[amount>=100],order.paid`).
    pub steps: String,
    /// Days allowed after the step before, comma-separated, one per step after the first
    /// (default 30 each).
    pub within: Option<String>,
    /// First entry day (the first step's local day), YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last entry day (inclusive), YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// `channel` (one group per acquisition channel) or `segment` (one per `segment_id`).
    pub split: Option<String>,
    /// Comma-separated saved segment ids, with `split=segment`.
    pub segment_id: Option<String>,
    /// `json` (default) or `csv` (`group,step,event_type,members,conversion,step_conversion,median_days`).
    pub format: Option<String>,
}

/// A funnel: members entering with the first step in the range, and how many then reached
/// each later step, in order, within its window after the step before: per step the
/// members, the conversion from the first step and from the step before, and the median
/// days between the two; in all and split by channel or segment.
#[utoipa::path(get, path = "/v1/analytics/funnel", tag = TAG, params(FunnelQueryIn),
    security(("api_key" = [])), responses((status = 200, body = Funnel), (status = 422, body = ErrorBody)))]
async fn funnel(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<FunnelQueryIn>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let params = FunnelParams {
        steps: q.steps,
        within: q.within,
        from: q.from,
        to: q.to,
        split: q.split,
        segment_id: q.segment_id,
    };
    let f = memberops_app::analytics::funnel::funnel(
        state.store.as_ref(),
        &state.segments,
        &auth.ws,
        &params,
    )
    .await?;
    if csv {
        let body = csv_bytes(
            &FUNNEL_COLUMNS,
            f.groups.iter().flat_map(FunnelGroup::csv_records),
        );
        return Ok(csv_response("funnel.csv", body));
    }
    Ok(Json(f).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortraitQueryIn {
    /// A saved segment: describe its members (default every member).
    pub segment_id: Option<String>,
    /// Ages are counted on this day, YYYY-MM-DD; default today in the workspace's zone.
    pub as_of: Option<String>,
    /// `json` (default) or `csv` (`dimension,value,members,share`).
    pub format: Option<String>,
}

/// Member portrait: how the members (or a saved segment's) divide by gender, age band,
/// region, acquisition channel, tier, lifecycle stage, RFM class and value class.
#[utoipa::path(get, path = "/v1/analytics/portrait", tag = TAG, params(PortraitQueryIn),
    security(("api_key" = [])), responses((status = 200, body = Portrait), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn portrait(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PortraitQueryIn>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let p = memberops_app::analytics::portrait::portrait(
        state.store.as_ref(),
        &state.segments,
        &auth.ws,
        q.segment_id.as_deref(),
        q.as_of.as_deref(),
    )
    .await?;
    if csv {
        let body = csv_bytes(
            &PORTRAIT_COLUMNS,
            p.distribution.iter().map(|r| r.csv_record()),
        );
        return Ok(csv_response("portrait.csv", body));
    }
    Ok(Json(p).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cohorts))
        .routes(routes!(overview))
        .routes(routes!(channels))
        .routes(routes!(repurchase))
        .routes(routes!(decomposition))
        .routes(routes!(funnel))
        .routes(routes!(portrait))
}
