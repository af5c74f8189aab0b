//! Privacy (PIPL / GDPR): everything held about one member, and its erasure. Both need an
//! admin key; the erasure is audited like every admin write.

use axum::Json;
use axum::extract::{Path, State};
use memberops_app::privacy::{self, EraseOut, MemberExport};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

/// Everything held about one member as JSON: profile, consent history, and every stored
/// row naming the member (identities, events, ledgers, coupons, segments and tags,
/// messages), by table.
#[utoipa::path(get, path = "/v1/members/{id}/export", tag = super::MEMBERS,
    params(("id" = String, Path, description = "Internal (`mbr_…`) or external id")),
    security(("api_key" = [])),
    responses((status = 200, body = MemberExport), (status = 404, body = ErrorBody)))]
async fn export(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<MemberExport>> {
    Ok(Json(
        privacy::export(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Erase a member's personal data, irreversibly: name, phone, email, gender, birthday,
/// income band, region and attributes cleared, the external id replaced, identities
/// deleted, free text removed from its events, consent withdrawn. Ledgers, orders,
/// coupons and aggregates stay, so balances still equal their ledgers and reports still
/// count the member. Sending it again changes nothing (`erased_now: false`).
#[utoipa::path(post, path = "/v1/members/{id}:erase", tag = super::MEMBERS,
    params(("id" = String, Path, description = "Internal (`mbr_…`) or external id")),
    security(("api_key" = [])),
    responses((status = 200, body = EraseOut), (status = 404, body = ErrorBody)))]
async fn erase(
    State(state): State<AppState>,
    auth: Admin,
    Path(path): Path<String>,
) -> ApiResult<Json<EraseOut>> {
    // `POST /v1/members/{id}` takes the whole segment; the verb is split off here.
    let (id, verb) = super::split_action(&path)?;
    if verb != "erase" {
        return Err(super::no_action(&path));
    }
    Ok(Json(
        privacy::erase(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

#[derive(OpenApi)]
#[openapi(paths(erase))]
struct EraseDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(EraseDoc::openapi())
        .routes(routes!(export))
        .route("/v1/members/{id}", axum::routing::post(erase))
}
