//! Coupons and checkout: templates, issuing, gift packs, event rules, codes, share links,
//! checkout validation and redemption, reports. Handlers call `memberops_app::coupons`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use memberops_app::coupons::CouponOut;
use memberops_app::coupons::checkout::{self, RedeemIn, RedeemOut, ValidateIn, ValidateOut};
use memberops_app::coupons::issue::{
    self, ClaimIn, CodesIn, CodesOut, IssueIn, IssueOut, SegmentIssueIn, SegmentIssueOut,
};
use memberops_app::coupons::report::{self, TemplateReport};
use memberops_app::coupons::rules::{self, RuleIn, RuleOut, RulePatch};
use memberops_app::coupons::share::{self, LinkClaimIn, LinkClaimOut, LinkIn, LinkOut};
use memberops_app::coupons::templates::{self, PackIn, PackOut, TemplateOut};
use memberops_coupons::TemplateSpec;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::{self, Page, PageQuery};
use crate::state::AppState;

/// Tag of these operations in the OpenAPI document.
const TAG: &str = "coupons";

/// Create a coupon template (满减, percent off, 满赠, 满返, free shipping, trial voucher).
#[utoipa::path(post, path = "/v1/coupons/templates", tag = TAG, request_body = TemplateSpec,
    security(("api_key" = [])),
    responses((status = 201, body = TemplateOut), (status = 409, body = ErrorBody, description = "`code_taken`"),
        (status = 422, body = ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(spec): ValidJson<TemplateSpec>,
) -> ApiResult<(StatusCode, Json<TemplateOut>)> {
    let t = templates::create(state.store.as_ref(), &auth.ws, spec).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// All coupon templates, archived ones included.
#[utoipa::path(get, path = "/v1/coupons/templates", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<TemplateOut>)))]
async fn list_templates(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<TemplateOut>>> {
    Ok(Json(page::in_memory(
        templates::list(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

#[utoipa::path(get, path = "/v1/coupons/templates/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = TemplateOut), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(
        templates::get(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Replace a template's rules; coupons already issued keep their validity window.
#[utoipa::path(put, path = "/v1/coupons/templates/{id}", tag = TAG, params(("id" = String, Path)),
    request_body = TemplateSpec, security(("api_key" = [])),
    responses((status = 200, body = TemplateOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_template(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(spec): ValidJson<TemplateSpec>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(
        templates::update(state.store.as_ref(), &auth.ws, &id, spec).await?,
    ))
}

/// Archive a template: nothing more is issued from it; issued coupons stay usable.
#[utoipa::path(delete, path = "/v1/coupons/templates/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = TemplateOut), (status = 404, body = ErrorBody)))]
async fn archive_template(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateOut>> {
    Ok(Json(
        templates::archive(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Issued, claimed, redeemed and expired coupons, discount given, orders and revenue.
#[utoipa::path(get, path = "/v1/coupons/templates/{id}/report", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = TemplateReport), (status = 404, body = ErrorBody)))]
async fn template_report(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateReport>> {
    Ok(Json(
        report::template_report(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Generate up to 100,000 unique codes for a template; members claim them with `/v1/coupons/claim`.
#[utoipa::path(post, path = "/v1/coupons/templates/{id}/codes", tag = TAG, params(("id" = String, Path)),
    request_body = CodesIn, security(("api_key" = [])),
    responses((status = 201, body = CodesOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`out_of_stock`, `template_archived`"), (status = 422, body = ErrorBody)))]
async fn generate_codes(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<CodesIn>,
) -> ApiResult<(StatusCode, Json<CodesOut>)> {
    let out = issue::generate_codes(state.store.as_ref(), &auth.ws, &id, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Issue a template or a gift pack to one or more members, all or nothing.
#[utoipa::path(post, path = "/v1/coupons/issue", tag = TAG, request_body = IssueIn, security(("api_key" = [])),
    responses((status = 201, body = IssueOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`out_of_stock`, `limit_reached`, `template_archived`"),
        (status = 422, body = ErrorBody)))]
async fn issue_coupons(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<IssueIn>,
) -> ApiResult<(StatusCode, Json<IssueOut>)> {
    let out = issue::issue(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Issue a template or a gift pack to every member of a saved segment, in batches;
/// idempotent by `idempotency_key` (a retry resumes and never issues twice). Members at a
/// per-member limit, and members left when the stock runs out, are skipped and counted.
#[utoipa::path(post, path = "/v1/coupons/issue/segment", tag = TAG, request_body = SegmentIssueIn,
    security(("api_key" = [])),
    responses((status = 200, body = SegmentIssueOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`template_archived`, `key_reused`"),
        (status = 422, body = ErrorBody)))]
async fn issue_to_segment(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<SegmentIssueIn>,
) -> ApiResult<Json<SegmentIssueOut>> {
    let out =
        issue::issue_to_segment(state.store.as_ref(), &state.segments, &auth.ws, body).await?;
    Ok(Json(out))
}

/// A member claims a coupon: from a claimable template, with a generated code or a shared code.
#[utoipa::path(post, path = "/v1/coupons/claim", tag = TAG, request_body = ClaimIn, security(("api_key" = [])),
    responses((status = 201, body = CouponOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`already_claimed`, `limit_reached`, `out_of_stock`, `not_claimable`"),
        (status = 422, body = ErrorBody)))]
async fn claim_coupon(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<ClaimIn>,
) -> ApiResult<(StatusCode, Json<CouponOut>)> {
    let out = issue::claim(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/v1/coupons/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = CouponOut), (status = 404, body = ErrorBody)))]
async fn get_coupon(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<CouponOut>> {
    Ok(Json(issue::get(state.store.as_ref(), &auth.ws, &id).await?))
}

/// Void an issued coupon.
#[utoipa::path(post, path = "/v1/coupons/{id}/void", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])),
    responses((status = 200, body = CouponOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn void_coupon(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<CouponOut>> {
    Ok(Json(
        issue::void(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// A member's coupons (by internal or external id), oldest first.
#[utoipa::path(get, path = "/v1/members/{id}/coupons", tag = TAG, params(("id" = String, Path), PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<CouponOut>), (status = 404, body = ErrorBody)))]
async fn member_coupons(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<CouponOut>>> {
    Ok(Json(page::in_memory(
        issue::member_coupons(state.store.as_ref(), &auth.ws, &id).await?,
        &q,
    )?))
}

/// Create a gift pack (新人大礼包): several templates issued together.
#[utoipa::path(post, path = "/v1/coupons/gift-packs", tag = TAG, request_body = PackIn, security(("api_key" = [])),
    responses((status = 201, body = PackOut), (status = 422, body = ErrorBody)))]
async fn create_pack(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<PackIn>,
) -> ApiResult<(StatusCode, Json<PackOut>)> {
    let out = templates::create_pack(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/v1/coupons/gift-packs", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<PackOut>)))]
async fn list_packs(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<PackOut>>> {
    Ok(Json(page::in_memory(
        templates::list_packs(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

/// Issue a template or gift pack to the member of every event of a type, after the event
/// commits (e.g. a new-member pack on `member.registered`; a gold welcome on `tier.changed`
/// with `{"condition": {"to_tier": "gold"}}`; a win-back coupon on `lifecycle.changed` with
/// `{"to_stage": "churned"}`). At most once per rule and event.
#[utoipa::path(post, path = "/v1/coupons/rules", tag = TAG, request_body = RuleIn, security(("api_key" = [])),
    responses((status = 201, body = RuleOut), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<RuleIn>,
) -> ApiResult<(StatusCode, Json<RuleOut>)> {
    let out = rules::create_rule(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/v1/coupons/rules", tag = TAG, params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<RuleOut>)))]
async fn list_rules(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<RuleOut>>> {
    Ok(Json(page::in_memory(
        rules::list_rules(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

/// A rule with its counts: events it issued on, events it skipped and why.
#[utoipa::path(get, path = "/v1/coupons/rules/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody)))]
async fn get_rule(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(
        rules::get_rule(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Switch a rule off or back on (`{"disabled": true}`).
#[utoipa::path(patch, path = "/v1/coupons/rules/{id}", tag = TAG, params(("id" = String, Path)),
    request_body = RulePatch, security(("api_key" = [])),
    responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_rule(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RulePatch>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(
        rules::patch_rule(state.store.as_ref(), &auth.ws, &id, body).await?,
    ))
}

/// Delete a rule: it fires no more; what it issued stays.
#[utoipa::path(delete, path = "/v1/coupons/rules/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    rules::delete_rule(state.store.as_ref(), &auth.ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's share link for a template with a share rule (one per member and template).
#[utoipa::path(post, path = "/v1/coupons/share-links", tag = TAG, request_body = LinkIn, security(("api_key" = [])),
    responses((status = 201, body = LinkOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_link(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<LinkIn>,
) -> ApiResult<(StatusCode, Json<LinkOut>)> {
    let out = share::create_link(state.store.as_ref(), &auth.ws, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A friend claims a coupon through a share link.
#[utoipa::path(post, path = "/v1/coupons/share-links/{id}/claims", tag = TAG, params(("id" = String, Path)),
    request_body = LinkClaimIn, security(("api_key" = [])),
    responses((status = 201, body = LinkClaimOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`own_link`, `already_claimed`, `limit_reached`, `out_of_stock`")))]
async fn claim_link(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<LinkClaimIn>,
) -> ApiResult<(StatusCode, Json<LinkClaimOut>)> {
    let out = share::claim_link(state.store.as_ref(), &auth.ws, &id, body).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Every coupon of the member against this cart: applicable or not (with the reason code),
/// the discount each gives, and the best combination under the stacking rules.
#[utoipa::path(post, path = "/v1/checkout/validate", tag = TAG, request_body = ValidateIn,
    security(("api_key" = [])),
    responses((status = 200, body = ValidateOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "negative price, quantity below 1…")))]
async fn validate(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<ValidateIn>,
) -> ApiResult<Json<ValidateOut>> {
    Ok(Json(
        checkout::validate(state.store.as_ref(), &auth.ws, body).await?,
    ))
}

/// Lock the chosen coupons to an order (idempotent by order id); `order.paid` confirms,
/// `order.cancelled` releases, a full `order.refunded` restores.
#[utoipa::path(post, path = "/v1/checkout/redeem", tag = TAG, request_body = RedeemIn,
    security(("api_key" = [])),
    responses((status = 200, body = RedeemOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the reason code: `already_used`, `expired`, `not_owner`, `below_minimum`, `not_stackable`…"),
        (status = 422, body = ErrorBody)))]
async fn redeem(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<RedeemIn>,
) -> ApiResult<Json<RedeemOut>> {
    Ok(Json(
        checkout::redeem(state.store.as_ref(), &auth.ws, body).await?,
    ))
}

/// The coupons locked to an order and their state.
#[utoipa::path(get, path = "/v1/checkout/orders/{order_id}", tag = TAG, params(("order_id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = RedeemOut), (status = 404, body = ErrorBody)))]
async fn checkout_order(
    State(state): State<AppState>,
    auth: Admin,
    Path(order_id): Path<String>,
) -> ApiResult<Json<RedeemOut>> {
    Ok(Json(
        checkout::order(state.store.as_ref(), &auth.ws, &order_id).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_template, list_templates))
        .routes(routes!(get_template, update_template, archive_template))
        .routes(routes!(template_report))
        .routes(routes!(generate_codes))
        .routes(routes!(issue_coupons))
        .routes(routes!(issue_to_segment))
        .routes(routes!(claim_coupon))
        .routes(routes!(get_coupon))
        .routes(routes!(void_coupon))
        .routes(routes!(member_coupons))
        .routes(routes!(create_pack, list_packs))
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(get_rule, patch_rule, delete_rule))
        .routes(routes!(create_link))
        .routes(routes!(claim_link))
        .routes(routes!(validate))
        .routes(routes!(redeem))
        .routes(routes!(checkout_order))
}
