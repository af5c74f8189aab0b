use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use memberops_app::lists;
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
    /// Another member's invite code (转介绍): binds the referral as a `member.registered`
    /// event's `invite_code` does.
    pub invite_code: Option<String>,
    /// Home store (门店) code; must name an active store.
    pub store_code: Option<String>,
    /// Owning staff member (导购) code; must name an active staff member. Without
    /// `store_code`, the staff member's store becomes the home store.
    pub staff_code: Option<String>,
}

/// Profile fields, and the member's home store and owning staff member.
#[derive(utoipa::ToSchema)]
pub struct MemberPatch {
    #[serde(flatten)]
    pub profile: ProfileIn,
    /// Home store code; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub store_code: Option<Option<String>>,
    /// Owning staff member's code; `null` clears it. Without `store_code`, the staff
    /// member's store becomes the home store.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub staff_code: Option<Option<String>>,
}

/// Distinguishes an absent field (outer `None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Splits a body into the fields of its own part and the profile. By hand rather than with
/// `#[serde(flatten)]`, which hands the profile only the fields it knows and so drops a
/// misspelt one silently: here a field neither part takes is refused by name.
fn split_profile<'de, D, Own>(d: D, own_fields: &[&str]) -> Result<(Own, ProfileIn), D::Error>
where
    D: serde::Deserializer<'de>,
    Own: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    let own: serde_json::Map<String, serde_json::Value> = own_fields
        .iter()
        .filter_map(|f| map.remove(*f).map(|v| ((*f).to_owned(), v)))
        .collect();
    let own: Own =
        serde_json::from_value(serde_json::Value::Object(own)).map_err(D::Error::custom)?;
    let mut unknown = Vec::new();
    let profile: ProfileIn = serde_ignored::deserialize(serde_json::Value::Object(map), |p| {
        unknown.push(p.to_string())
    })
    .map_err(D::Error::custom)?;
    if let Some(field) = unknown.first() {
        return Err(D::Error::custom(format!("unknown field `{field}`")));
    }
    Ok((own, profile))
}

impl<'de> Deserialize<'de> for MemberIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Own {
            external_id: String,
            invite_code: Option<String>,
            store_code: Option<String>,
            staff_code: Option<String>,
        }
        let (own, profile): (Own, _) = split_profile(
            d,
            &["external_id", "invite_code", "store_code", "staff_code"],
        )?;
        Ok(MemberIn {
            external_id: own.external_id,
            profile,
            invite_code: own.invite_code,
            store_code: own.store_code,
            staff_code: own.staff_code,
        })
    }
}

impl<'de> Deserialize<'de> for MemberPatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Own {
            #[serde(default, deserialize_with = "present")]
            store_code: Option<Option<String>>,
            #[serde(default, deserialize_with = "present")]
            staff_code: Option<Option<String>>,
        }
        let (own, profile): (Own, _) = split_profile(d, &["store_code", "staff_code"])?;
        Ok(MemberPatch {
            profile,
            store_code: own.store_code,
            staff_code: own.staff_code,
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
    /// Position in the event log.
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
    /// `next_cursor` of the previous page (an unknown one is 422 `invalid_cursor`).
    pub cursor: Option<String>,
    /// Older form of `cursor`: events before this log position.
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
    let extra = members::NewMemberExtras {
        invite_code: body.invite_code,
        assignment: memberops_core::store::AssignmentPatch {
            store_code: body.store_code.map(Some),
            staff_code: body.staff_code.map(Some),
        },
    };
    let m = members::create(
        state.store.as_ref(),
        &auth.ws,
        &body.external_id,
        body.profile,
        extra,
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

/// Change profile fields, home store and owning staff member: absent fields stay as they
/// are, `null` clears a field. Store and staff changes are audited (`/v1/store-audit`).
#[utoipa::path(patch, path = "/v1/members/{id}", tag = super::MEMBERS, params(("id" = String, Path)), request_body = MemberPatch,
    security(("api_key" = [])),
    responses((status = 200, body = Member), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(patch): ValidJson<MemberPatch>,
) -> ApiResult<Json<Member>> {
    let assignment = memberops_core::store::AssignmentPatch {
        store_code: patch.store_code,
        staff_code: patch.staff_code,
    };
    Ok(Json(
        members::update(
            state.store.as_ref(),
            &auth.ws,
            &id,
            patch.profile,
            &assignment,
            &auth.key.id,
        )
        .await?,
    ))
}

/// A member's events, newest first; `?type=` keeps only some types (repeat it or separate
/// types with commas: `?type=order.paid,order.refunded`).
#[utoipa::path(get, path = "/v1/members/{id}/events", tag = super::MEMBERS,
    params(("id" = String, Path), EventPage,
        ("type" = Option<Vec<String>>, Query, description = "Event types to keep; repeatable, or comma-separated")),
    security(("api_key" = [])),
    responses((status = 200, body = EventList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn member_events(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<EventPage>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<EventList>> {
    // `type` may repeat, which the typed query cannot hold: read it from the raw string.
    let pairs: Vec<(String, String)> = raw
        .as_deref()
        .and_then(|r| serde_urlencoded::from_str(r).ok())
        .unwrap_or_default();
    let types = lists::split_types(
        pairs
            .iter()
            .filter(|(k, _)| k == "type")
            .map(|(_, v)| v.as_str()),
    );
    let cursor = q.cursor.or(q.before.map(|b| b.to_string()));
    let page = lists::member_events(
        state.store.as_ref(),
        &auth.ws,
        &id,
        &types,
        cursor.as_deref(),
        q.limit,
    )
    .await?;
    Ok(Json(EventList {
        next_before: page.next_cursor.as_deref().and_then(|c| c.parse().ok()),
        next_cursor: page.next_cursor,
        data: page.data.into_iter().map(EventOut::from).collect(),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_member, list_members))
        .routes(routes!(get_member, update_member))
        .routes(routes!(member_events))
}
