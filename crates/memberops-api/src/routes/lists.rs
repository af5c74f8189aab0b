//! The lists operators page through: tags and a tag's members, a member's invitees and
//! growth ledger, the loyalty program's versions and audit. Each answers
//! `{"data": [...], "next_cursor": string|null}` and takes `?limit=` and `?cursor=`.

use axum::Json;
use axum::extract::{Path, State};
use memberops_app::lists::{
    self, AuditOut, GrowthLineOut, InviteeOut, Page, ProgramVersionOut, TagMemberOut, TagOut,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ValidQuery;
use crate::page::PageQuery;
use crate::state::AppState;

/// Every tag (profile, manual and rule tags) with the members holding it, by name.
#[utoipa::path(get, path = "/v1/tags", tag = super::SEGMENTS, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<TagOut>), (status = 422, body = ErrorBody)))]
async fn list_tags(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<TagOut>>> {
    Ok(Json(
        lists::tags(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

/// The members holding a tag, by member id, with where each holds it from.
#[utoipa::path(get, path = "/v1/tags/{tag}/members", tag = super::SEGMENTS,
    params(("tag" = String, Path), PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<TagMemberOut>), (status = 422, body = ErrorBody)))]
async fn tag_members(
    State(state): State<AppState>,
    auth: Admin,
    Path(tag): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<TagMemberOut>>> {
    Ok(Json(
        lists::tag_members(
            state.store.as_ref(),
            &auth.ws,
            &tag,
            q.cursor.as_deref(),
            q.limit,
        )
        .await?,
    ))
}

/// The members a member invited (转介绍), in the order they joined, with each referral's
/// status.
#[utoipa::path(get, path = "/v1/members/{id}/invitees", tag = super::LOYALTY,
    params(("id" = String, Path), PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<InviteeOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invitees(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<InviteeOut>>> {
    Ok(Json(
        lists::invitees(
            state.store.as_ref(),
            &auth.ws,
            &id,
            q.cursor.as_deref(),
            q.limit,
        )
        .await?,
    ))
}

/// A member's growth ledger (成长值明细), newest first: what each order, rule, refund or
/// adjustment added or took back.
#[utoipa::path(get, path = "/v1/members/{id}/growth/ledger", tag = super::LOYALTY,
    params(("id" = String, Path), PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<GrowthLineOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn growth_ledger(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<GrowthLineOut>>> {
    Ok(Json(
        lists::growth(
            state.store.as_ref(),
            &auth.ws,
            &id,
            q.cursor.as_deref(),
            q.limit,
        )
        .await?,
    ))
}

/// Every saved version of the loyalty program, newest first, with who saved it.
#[utoipa::path(get, path = "/v1/loyalty/program/versions", tag = super::LOYALTY, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<ProgramVersionOut>), (status = 422, body = ErrorBody)))]
async fn program_versions(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<ProgramVersionOut>>> {
    Ok(Json(
        lists::program_versions(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

/// The loyalty audit, newest first: who changed the program (and which sections), who
/// adjusted points, and when.
#[utoipa::path(get, path = "/v1/loyalty/audit", tag = super::LOYALTY, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<AuditOut>), (status = 422, body = ErrorBody)))]
async fn loyalty_audit(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<AuditOut>>> {
    Ok(Json(
        lists::loyalty_audit(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tags))
        .routes(routes!(tag_members))
        .routes(routes!(invitees))
        .routes(routes!(growth_ledger))
        .routes(routes!(program_versions))
        .routes(routes!(loyalty_audit))
}
