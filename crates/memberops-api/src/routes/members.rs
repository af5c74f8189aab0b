use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use memberops_app::members::{self, Search};
use memberops_core::member::{Member, ProfileIn};
use memberops_core::time::millis_to_rfc3339;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::state::AppState;

#[derive(utoipa::ToSchema)]
pub struct MemberIn {
    /// The brand's own id for the member; unique in the workspace.
    #[schema(example = "u1001")]
    pub external_id: String,
    #[serde(flatten)]
    pub profile: ProfileIn,
}

/// By hand rather than with `#[serde(flatten)]`, which hands the profile only the fields it
/// knows and so drops a misspelt one silently: here a field neither part takes is refused.
impl<'de> Deserialize<'de> for MemberIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let external_id = match map.remove("external_id") {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "external_id: expected a string, got {other}"
                )));
            }
            None => return Err(D::Error::missing_field("external_id")),
        };
        let mut unknown = Vec::new();
        let profile: ProfileIn = serde_ignored::deserialize(serde_json::Value::Object(map), |p| {
            unknown.push(p.to_string())
        })
        .map_err(D::Error::custom)?;
        if let Some(field) = unknown.first() {
            return Err(D::Error::custom(format!("unknown field `{field}`")));
        }
        Ok(MemberIn {
            external_id,
            profile,
        })
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberSearch {
    pub external_id: Option<String>,
    /// Normalised before matching, so any spacing finds the member; a number with or
    /// without its country code (`13800138000`, `+86 138 0013 8000`) finds either form.
    pub phone: Option<String>,
    /// Case-insensitive.
    pub email: Option<String>,
    /// Members whose name starts with this.
    pub name_prefix: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub data: Vec<Member>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub member_id: String,
    pub occurred_at: String,
    pub received_at: String,
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
    /// Position in the event log; pass as `before` to page back.
    pub seq: i64,
}

impl From<memberops_store::EventRow> for EventOut {
    fn from(e: memberops_store::EventRow) -> Self {
        EventOut {
            id: e.id,
            kind: e.kind,
            member_id: e.member_id,
            occurred_at: millis_to_rfc3339(e.occurred_at),
            received_at: millis_to_rfc3339(e.received_at),
            properties: serde_json::from_str(&e.properties).unwrap_or(serde_json::Value::Null),
            seq: e.seq,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventList {
    pub data: Vec<EventOut>,
    /// Pass as `cursor` for older events; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// The same position as a number, for `before` (kept for older clients).
    pub next_before: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventPage {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The older form of `cursor` (`next_before`), kept for existing clients.
    pub before: Option<i64>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// Create a member (records its `member.registered` event).
#[utoipa::path(post, path = "/v1/members", tag = super::MEMBERS, request_body = MemberIn,
    security(("api_key" = [])),
    responses((status = 201, body = Member), (status = 409, body = ErrorBody, description = "`member_exists`"),
        (status = 422, body = ErrorBody)))]
async fn create_member(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<MemberIn>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let m = members::create(
        state.store.as_ref(),
        &auth.ws,
        &body.external_id,
        body.profile,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// List or search members (all filters must match), oldest first.
#[utoipa::path(get, path = "/v1/members", tag = super::MEMBERS, params(MemberSearch),
    security(("api_key" = [])), responses((status = 200, body = MemberList), (status = 422, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<MemberSearch>,
) -> ApiResult<Json<MemberList>> {
    let page = members::list(
        state.store.as_ref(),
        &auth.ws,
        Search {
            external_id: q.external_id,
            phone: q.phone,
            email: q.email,
            name_prefix: q.name_prefix,
            cursor: q.cursor,
            limit: q.limit,
        },
    )
    .await?;
    Ok(Json(MemberList {
        data: page.members,
        next_cursor: page.next_cursor,
    }))
}

/// One member with its aggregates, by internal id (`mbr_…`) or external id.
#[utoipa::path(get, path = "/v1/members/{id}", tag = super::MEMBERS, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = Member), (status = 404, body = ErrorBody)))]
async fn get_member(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        members::get(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// Change profile fields: absent fields stay as they are, `null` clears a field.
#[utoipa::path(patch, path = "/v1/members/{id}", tag = super::MEMBERS, params(("id" = String, Path)), request_body = ProfileIn,
    security(("api_key" = [])),
    responses((status = 200, body = Member), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(patch): ValidJson<ProfileIn>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        members::update(state.store.as_ref(), &auth.ws, &id, patch).await?,
    ))
}

/// A member's events, newest first.
#[utoipa::path(get, path = "/v1/members/{id}/events", tag = super::MEMBERS, params(("id" = String, Path), EventPage),
    security(("api_key" = [])), responses((status = 200, body = EventList), (status = 404, body = ErrorBody)))]
async fn member_events(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<EventPage>,
) -> ApiResult<Json<EventList>> {
    let limit = members::page_limit(q.limit)?;
    let before = members::seq_cursor(q.cursor.as_deref())?.or(q.before);
    let m = members::get(state.store.as_ref(), &auth.ws, &id).await?;
    let mut rows = state
        .store
        .member_events(&auth.ws.id, &m.id, before, limit + 1)
        .await
        .map_err(memberops_app::AppError::from)?;
    let next_cursor = members::cut_page(&mut rows, limit, |e| e.seq.to_string());
    Ok(Json(EventList {
        data: rows.into_iter().map(EventOut::from).collect(),
        next_before: next_cursor.as_deref().and_then(|c| c.parse().ok()),
        next_cursor,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_member, list_members))
        .routes(routes!(get_member, update_member))
        .routes(routes!(member_events))
}
