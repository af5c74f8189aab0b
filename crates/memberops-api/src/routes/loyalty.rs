//! Loyalty HTTP API: the program configuration, the member center, points and stored-value
//! operations, check-in. All with admin keys (the brand's backend calls them for its app).

use axum::Json;
use axum::extract::{Path, State};
use memberops_app::lists::seq_cursor;
use memberops_app::loyalty::center::{self, CheckinResult, LedgerPage, LoyaltyOut, SvLedgerPage};
use memberops_app::loyalty::growth::{self, GrowthResult};
use memberops_app::loyalty::makeup::{self, MakeupResult};
use memberops_app::loyalty::ops::{self, PointsResult, SvOp, SvResult};
use memberops_app::loyalty::trial::{self, TrialIn, TrialOut};
use memberops_app::loyalty::{current_program, save_program};
use memberops_core::time::{When, now_millis};
use memberops_loyalty::Program;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

/// Get the loyalty program in force (the seed program until one is saved).
#[utoipa::path(get, path = "/v1/loyalty/program", tag = super::LOYALTY, security(("api_key" = [])),
    responses((status = 200, body = Program)))]
async fn get_program(State(state): State<AppState>, auth: Admin) -> ApiResult<Json<Program>> {
    Ok(Json(current_program(state.store.as_ref(), &auth.ws).await?))
}

/// Replace the program. Saved as the next version; who saved it and which sections
/// changed go to the audit. Invalid programs → 422 with every problem located.
#[utoipa::path(put, path = "/v1/loyalty/program", tag = super::LOYALTY, security(("api_key" = [])),
    request_body = Program,
    responses((status = 200, body = Program), (status = 422, body = ErrorBody)))]
async fn put_program(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(p): ValidJson<Program>,
) -> ApiResult<Json<Program>> {
    Ok(Json(
        save_program(state.store.as_ref(), &auth.ws, p, &auth.key.id).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// RFC 3339 instant to evaluate at (default now): what expires in 30 days, today's check-in.
    pub at: Option<String>,
}

fn at_of(at: Option<&str>, ws: &memberops_app::Workspace) -> ApiResult<i64> {
    match at {
        None | Some("") => Ok(now_millis()),
        Some(t) => Ok(When::parse(t, "at")
            .map_err(memberops_app::AppError::from)?
            .resolve(ws.time_zone)
            .0),
    }
}

/// Member center: tier and progress to the next, privileges, growth, points (available,
/// pending, expiring in 30 days), stored value, check-in streak, invite code and referrals.
#[utoipa::path(get, path = "/v1/members/{id}/loyalty", tag = super::LOYALTY, params(("id" = String, Path), AtQuery),
    security(("api_key" = [])), responses((status = 200, body = LoyaltyOut), (status = 404, body = ErrorBody)))]
async fn member_loyalty(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<AtQuery>,
) -> ApiResult<Json<LoyaltyOut>> {
    let at = at_of(q.at.as_deref(), &auth.ws)?;
    Ok(Json(
        center::member_center(state.store.as_ref(), &auth.ws, &id, at).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The older form of `cursor` (`next_before`), kept for existing clients.
    pub before: Option<i64>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// The points ledger, newest first: every line names the event (or request) and rule.
#[utoipa::path(get, path = "/v1/members/{id}/points/ledger", tag = super::LOYALTY, params(("id" = String, Path), LedgerQuery),
    security(("api_key" = [])), responses((status = 200, body = LedgerPage), (status = 404, body = ErrorBody)))]
async fn points_ledger(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<LedgerQuery>,
) -> ApiResult<Json<LedgerPage>> {
    Ok(Json(
        center::points_ledger(
            state.store.as_ref(),
            &auth.ws,
            &id,
            seq_cursor(q.cursor.as_deref())?.or(q.before),
            q.limit,
        )
        .await?,
    ))
}

/// The stored-value (储值) ledger, newest first: principal and bonus apart on every line.
#[utoipa::path(get, path = "/v1/members/{id}/stored-value/ledger", tag = super::LOYALTY, params(("id" = String, Path), LedgerQuery),
    security(("api_key" = [])), responses((status = 200, body = SvLedgerPage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sv_ledger(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<LedgerQuery>,
) -> ApiResult<Json<SvLedgerPage>> {
    Ok(Json(
        center::sv_ledger(
            state.store.as_ref(),
            &auth.ws,
            &id,
            seq_cursor(q.cursor.as_deref())?.or(q.before),
            q.limit,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SpendIn {
    pub points: i64,
    /// The client's key: a replay returns the first answer and spends nothing more.
    pub idempotency_key: String,
    /// What the points paid for (e.g. a points-mall order id).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Spend points (available lots, soonest-expiring first). 409 `insufficient_points`.
#[utoipa::path(post, path = "/v1/members/{id}/points:spend", tag = super::LOYALTY, params(("id" = String, Path)), request_body = SpendIn,
    security(("api_key" = [])),
    responses((status = 200, body = PointsResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`insufficient_points`, `idempotency_key_reused`"), (status = 422, body = ErrorBody)))]
async fn spend(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<SpendIn>,
) -> ApiResult<Json<PointsResult>> {
    Ok(Json(
        ops::spend_points(
            state.store.as_ref(),
            &auth.ws,
            &id,
            b.points,
            &b.idempotency_key,
            b.reason,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AdjustIn {
    /// Positive adds a lot usable at once; negative takes from unexpired lots.
    pub points: i64,
    pub idempotency_key: String,
    /// Required: why (audited with the key that did it).
    #[serde(default)]
    pub reason: String,
}

/// Manual adjustment by an operator; a reason is required (422 otherwise); audited.
#[utoipa::path(post, path = "/v1/members/{id}/points:adjust", tag = super::LOYALTY, params(("id" = String, Path)), request_body = AdjustIn,
    security(("api_key" = [])),
    responses((status = 200, body = PointsResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn adjust(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<AdjustIn>,
) -> ApiResult<Json<PointsResult>> {
    Ok(Json(
        ops::adjust_points(
            state.store.as_ref(),
            &auth.ws,
            &id,
            b.points,
            &b.idempotency_key,
            &b.reason,
            &auth.key.id,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SvIn {
    pub amount_minor: i64,
    pub idempotency_key: String,
}

async fn sv(
    state: &AppState,
    auth: &Admin,
    id: &str,
    op: SvOp,
    b: SvIn,
) -> ApiResult<Json<SvResult>> {
    Ok(Json(
        ops::stored_value(
            state.store.as_ref(),
            &auth.ws,
            id,
            op,
            b.amount_minor,
            &b.idempotency_key,
            &auth.key.id,
        )
        .await?,
    ))
}

/// Stored value top-up; the program's bonus rules add bonus kept apart from principal.
#[utoipa::path(post, path = "/v1/members/{id}/stored-value:top-up", tag = super::LOYALTY, params(("id" = String, Path)), request_body = SvIn,
    security(("api_key" = [])), responses((status = 200, body = SvResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sv_top_up(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<SvIn>,
) -> ApiResult<Json<SvResult>> {
    sv(&state, &auth, &id, SvOp::TopUp, b).await
}

/// Pay with stored value: principal first, then bonus. 409 `insufficient_balance`.
#[utoipa::path(post, path = "/v1/members/{id}/stored-value:spend", tag = super::LOYALTY, params(("id" = String, Path)), request_body = SvIn,
    security(("api_key" = [])), responses((status = 200, body = SvResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sv_spend(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<SvIn>,
) -> ApiResult<Json<SvResult>> {
    sv(&state, &auth, &id, SvOp::Spend, b).await
}

/// Refund unspent principal; bonus is forfeited in proportion. 409 `refund_exceeds_principal`.
#[utoipa::path(post, path = "/v1/members/{id}/stored-value:refund", tag = super::LOYALTY, params(("id" = String, Path)), request_body = SvIn,
    security(("api_key" = [])), responses((status = 200, body = SvResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sv_refund(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<SvIn>,
) -> ApiResult<Json<SvResult>> {
    sv(&state, &auth, &id, SvOp::Refund, b).await
}

/// Today's check-in (签到), in the member's time zone. 409 `already_checked_in`.
#[utoipa::path(post, path = "/v1/members/{id}/checkin", tag = super::LOYALTY, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CheckinResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn checkin(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckinResult>> {
    Ok(Json(
        center::check_in(state.store.as_ref(), &auth.ws, &id, now_millis()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MakeupIn {
    /// The missed local day to make up (YYYY-MM-DD, the member's zone).
    pub date: String,
    pub idempotency_key: String,
}

/// Make-up check-in (补签) for a missed day: costs the program's `checkin.makeup.cost_points`,
/// within its `max_days_back` and `max_per_month`; mends the streak, earns nothing. 409
/// `makeup_disabled`, `makeup_out_of_range`, `makeup_limit_reached`, `already_checked_in`,
/// `insufficient_points`.
#[utoipa::path(post, path = "/v1/members/{id}/checkin:makeup", tag = super::LOYALTY, params(("id" = String, Path)), request_body = MakeupIn,
    security(("api_key" = [])), responses((status = 200, body = MakeupResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn checkin_makeup(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<MakeupIn>,
) -> ApiResult<Json<MakeupResult>> {
    let at = now_millis();
    let store = state.store.as_ref();
    Ok(Json(
        makeup::make_up(store, &auth.ws, &id, &b.date, &b.idempotency_key, at).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct GrowthAdjustIn {
    /// Positive adds growth (and upgrades at once when a threshold is reached); negative
    /// takes it back (a downgrade waits for the tier review).
    pub growth: i64,
    pub idempotency_key: String,
    /// Required: why (audited with the key that did it).
    #[serde(default)]
    pub reason: String,
}

/// Growth adjustment (成长值调整) by an operator; a reason is required; audited in
/// `/v1/loyalty/audit`.
#[utoipa::path(post, path = "/v1/members/{id}/growth:adjust", tag = super::LOYALTY, params(("id" = String, Path)), request_body = GrowthAdjustIn,
    security(("api_key" = [])), responses((status = 200, body = GrowthResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn growth_adjust(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<GrowthAdjustIn>,
) -> ApiResult<Json<GrowthResult>> {
    Ok(Json(
        growth::adjust_growth(
            state.store.as_ref(),
            &auth.ws,
            &id,
            b.growth,
            &b.idempotency_key,
            &b.reason,
            &auth.key.id,
        )
        .await?,
    ))
}

/// Temporary tier (体验会员): the member holds `tier` for `days` days, with its privileges,
/// then returns to the tier they earned (growth earned meanwhile counts). A `tier.changed`
/// event at each end; audited in `/v1/loyalty/audit`. 409 `tier_not_higher` when the
/// member already holds that tier or a higher one, `trial_active` during another trial.
#[utoipa::path(post, path = "/v1/members/{id}/tier:trial", tag = super::LOYALTY, params(("id" = String, Path)), request_body = TrialIn,
    security(("api_key" = [])), responses((status = 200, body = TrialOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tier_trial(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(b): ValidJson<TrialIn>,
) -> ApiResult<Json<TrialOut>> {
    Ok(Json(
        trial::grant(
            state.store.as_ref(),
            &auth.ws,
            &id,
            b,
            &auth.key.id,
            now_millis(),
        )
        .await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_program, put_program))
        .routes(routes!(member_loyalty))
        .routes(routes!(points_ledger))
        .routes(routes!(sv_ledger))
        .routes(routes!(spend))
        .routes(routes!(adjust))
        .routes(routes!(sv_top_up))
        .routes(routes!(sv_spend))
        .routes(routes!(sv_refund))
        .routes(routes!(checkin))
        .routes(routes!(checkin_makeup))
        .routes(routes!(growth_adjust))
        .routes(routes!(tier_trial))
}
