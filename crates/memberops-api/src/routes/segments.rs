//! Member intelligence over HTTP: RFM (per member and as a report), lifecycle (recompute,
//! stage flow), segments (create, preview, members, export, size history, index rebuild),
//! tags and tag rules, churn warnings.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use memberops_app::segments::saved::{
    self, Engine, MemberPage, Preview, SegmentOut, SegmentVersionOut, SizePoint, TagChange,
    TagRuleOut,
};
use memberops_app::segments::{
    self as seg, ChurnRow, FlowRow, Intelligence, RecomputeSummary, RfmRow,
};
use memberops_core::time::now_millis;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ValidJson, ValidQuery};
use crate::page::{self, Page, PageQuery};
use crate::state::AppState;

const TAG: &str = super::SEGMENTS;

fn today(ws: &memberops_app::Workspace) -> chrono::NaiveDate {
    memberops_segments::row::local_day(now_millis(), ws.time_zone)
}

fn as_of(q: &Option<String>, ws: &memberops_app::Workspace) -> ApiResult<chrono::NaiveDate> {
    Ok(match q {
        Some(d) => seg::parse_date(d, "as_of")?,
        None => today(ws),
    })
}

pub(crate) fn csv_response(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn csv_bytes<I: IntoIterator<Item = Vec<String>>>(
    header_row: &[&str],
    rows: I,
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header_row);
    for r in rows {
        let _ = w.write_record(&r);
    }
    w.into_inner().unwrap_or_default()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// YYYY-MM-DD; default today in the workspace zone.
    pub as_of: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A member's stored intelligence: stage, RFM scores and class, value class, tags.
#[utoipa::path(get, path = "/v1/members/{id}/intelligence", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = Intelligence), (status = 404, body = ErrorBody)))]
async fn member_intelligence(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Intelligence>> {
    Ok(Json(
        seg::intelligence(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

/// A member's RFM line as of a date (the same numbers as `memberops report rfm`).
#[utoipa::path(get, path = "/v1/members/{id}/rfm", tag = TAG, params(("id" = String, Path), AsOfQuery),
    security(("api_key" = [])), responses((status = 200, body = RfmRow), (status = 404, body = ErrorBody)))]
async fn member_rfm(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<AsOfQuery>,
) -> ApiResult<Json<RfmRow>> {
    let d = as_of(&q.as_of, &auth.ws)?;
    Ok(Json(
        seg::member_rfm(state.store.as_ref(), &auth.ws, &id, d).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// YYYY-MM-DD; default today in the workspace zone.
    pub as_of: Option<String>,
    /// `json` (default, a page at a time) or `csv` (every row).
    pub format: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
    /// Only members whose home store is this store code.
    pub store: Option<String>,
    /// Only members owned by this staff code.
    pub staff: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RfmReport {
    pub as_of: String,
    /// Members in the report, all pages together.
    pub total: usize,
    pub data: Vec<RfmRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// RFM of every member as of a date, as JSON or CSV (`format=csv`).
#[utoipa::path(get, path = "/v1/reports/rfm", tag = TAG, params(ReportQuery),
    security(("api_key" = [])), responses((status = 200, body = RfmReport), (status = 422, body = ErrorBody)))]
async fn rfm_report(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<ReportQuery>,
) -> ApiResult<Response> {
    let d = as_of(&q.as_of, &auth.ws)?;
    let store = state.store.as_ref();
    let rules = seg::settings::in_force(store, &auth.ws).await?;
    let mut rows = seg::compute(store, &auth.ws, d, &rules).await?;
    let only = memberops_app::stores::report_members(
        store,
        &auth.ws,
        q.store.as_deref(),
        q.staff.as_deref(),
    )
    .await?;
    if let Some(only) = only {
        rows.retain(|r| only.contains(&r.internal_id));
    }
    if q.format.as_deref() == Some("csv") {
        let body = csv_bytes(
            &seg::intel::RFM_COLUMNS,
            rows.iter().map(|r| r.csv_record().to_vec()),
        );
        return Ok(csv_response("rfm.csv", body));
    }
    let total = rows.len();
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(RfmReport {
        as_of: d.format("%Y-%m-%d").to_string(),
        total,
        data: page.data,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RecomputeIn {
    /// YYYY-MM-DD; default today in the workspace zone.
    pub as_of: Option<String>,
}

/// The daily job on demand: RFM, value classes and stages of every member as of a date;
/// stage changes recorded as `lifecycle.changed` events; rule tags and segment sizes
/// refreshed. Idempotent per date.
#[utoipa::path(post, path = "/v1/lifecycle:recompute", tag = TAG, request_body = RecomputeIn,
    security(("api_key" = [])), responses((status = 200, body = RecomputeSummary), (status = 422, body = ErrorBody)))]
async fn recompute(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<RecomputeIn>,
) -> ApiResult<Json<RecomputeSummary>> {
    let d = as_of(&body.as_of, &auth.ws)?;
    let store = state.store.as_ref();
    let now = now_millis();
    let rules = seg::settings::in_force(store, &auth.ws).await?;
    let s = seg::recompute(store, &auth.ws, d, &rules, now).await?;
    saved::refresh_rules(store, &auth.ws, now).await?;
    state.segments.refresh(store, &auth.ws).await?;
    saved::record_all_sizes(store, &state.segments, &auth.ws, now).await?;
    Ok(Json(s))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD (inclusive).
    pub to: String,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
    /// Only members whose home store is this store code.
    pub store: Option<String>,
    /// Only members owned by this staff code.
    pub staff: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowOut {
    pub from: String,
    pub to: String,
    pub data: Vec<FlowRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// How many members moved between stages on days in a range (e.g. mature → silent in
/// October).
#[utoipa::path(get, path = "/v1/lifecycle/flow", tag = TAG, params(FlowQuery),
    security(("api_key" = [])), responses((status = 200, body = FlowOut), (status = 422, body = ErrorBody)))]
async fn flow(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<FlowQuery>,
) -> ApiResult<Json<FlowOut>> {
    let from = seg::parse_date(&q.from, "from")?;
    let to = seg::parse_date(&q.to, "to")?;
    let rows = if q.store.is_some() || q.staff.is_some() {
        memberops_app::stores::stage_flow(
            state.store.as_ref(),
            &auth.ws,
            from,
            to,
            q.store.as_deref(),
            q.staff.as_deref(),
        )
        .await?
    } else {
        seg::stage_flow(state.store.as_ref(), &auth.ws, from, to).await?
    };
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(FlowOut {
        from: q.from,
        to: q.to,
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SegmentIn {
    pub name: String,
    /// Condition tree: `{"all"|"any": [...]}`, `{"not": ...}`,
    /// `{"field", "op", "value"}`, `{"event", "within_last_days", "op", "value"}`,
    /// `{"field": "points_expiring", "within_next_days", "op", "value"}`,
    /// `{"purchased": {"sku"|"category"|"store": …}, "within_last_days"?, "op"?, "value"?}`.
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
}

/// Save a segment. Unknown fields or type mismatches → 422 naming the path in the tree.
#[utoipa::path(post, path = "/v1/segments", tag = TAG, request_body = SegmentIn,
    security(("api_key" = [])), responses((status = 201, body = SegmentOut), (status = 422, body = ErrorBody)))]
async fn create_segment(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<SegmentIn>,
) -> ApiResult<(StatusCode, Json<SegmentOut>)> {
    let s = saved::create(
        state.store.as_ref(),
        &auth.ws,
        &body.name,
        &body.condition,
        now_millis(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(get, path = "/v1/segments", tag = TAG, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<SegmentOut>)))]
async fn list_segments(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<SegmentOut>>> {
    Ok(Json(page::in_memory(
        saved::list(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SegmentDetail {
    #[serde(flatten)]
    pub segment: SegmentOut,
    /// Current size (also recorded in the size history for today).
    pub size: u64,
}

#[utoipa::path(get, path = "/v1/segments/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, body = SegmentDetail), (status = 404, body = ErrorBody)))]
async fn get_segment(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<SegmentDetail>> {
    let store = state.store.as_ref();
    let (segment, _) = saved::get(store, &auth.ws, &id).await?;
    let size = saved::size(store, &state.segments, &auth.ws, &id, now_millis()).await?;
    Ok(Json(SegmentDetail { segment, size }))
}

#[utoipa::path(delete, path = "/v1/segments/{id}", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_segment(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    saved::delete(state.store.as_ref(), &auth.ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An edit of a saved segment: fields left out stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub condition: Option<serde_json::Value>,
}

/// Edit a saved segment (name, condition or both). The edit is saved as the next version;
/// earlier versions stay readable under `/versions`, and the size history goes on.
#[utoipa::path(patch, path = "/v1/segments/{id}", tag = TAG, params(("id" = String, Path)),
    request_body = SegmentPatch, security(("api_key" = [])),
    responses((status = 200, body = SegmentOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_segment(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<SegmentPatch>,
) -> ApiResult<Json<SegmentOut>> {
    let s = saved::update(
        state.store.as_ref(),
        &auth.ws,
        &id,
        body.name.as_deref(),
        body.condition.as_ref(),
        now_millis(),
    )
    .await?;
    Ok(Json(s))
}

/// Every saved version of a segment, newest first.
#[utoipa::path(get, path = "/v1/segments/{id}/versions", tag = TAG, params(("id" = String, Path), PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<SegmentVersionOut>), (status = 404, body = ErrorBody)))]
async fn segment_versions(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<SegmentVersionOut>>> {
    Ok(Json(page::in_memory(
        saved::versions(state.store.as_ref(), &auth.ws, &id).await?,
        &q,
    )?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PreviewIn {
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
    /// Members to return as a sample (0–100, default 10).
    pub sample: Option<usize>,
    /// `index` (default) or `sql` (the database, for checking).
    pub engine: Option<String>,
}

fn engine(e: &Option<String>) -> ApiResult<Engine> {
    match e.as_deref() {
        None | Some("index") => Ok(Engine::Index),
        Some("sql") => Ok(Engine::Sql),
        Some(_) => Err(crate::error::ApiError::validation(vec![
            memberops_core::FieldError::new(
                &["engine"],
                "invalid_engine",
                "engine is `index` or `sql`",
            ),
        ])),
    }
}

/// Count of a condition tree with a sample of members, without saving it.
#[utoipa::path(post, path = "/v1/segments:preview", tag = TAG, request_body = PreviewIn,
    security(("api_key" = [])), responses((status = 200, body = Preview), (status = 422, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    auth: Admin,
    ValidJson(body): ValidJson<PreviewIn>,
) -> ApiResult<Json<Preview>> {
    let node = seg::parse_tree(&body.condition, "condition")?;
    let sample = body.sample.unwrap_or(10).min(100);
    let e = engine(&body.engine)?;
    Ok(Json(
        saved::preview(
            state.store.as_ref(),
            &state.segments,
            &auth.ws,
            &node,
            sample,
            e,
            now_millis(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
    /// `index` (default) or `sql`.
    pub engine: Option<String>,
}

/// Members of a saved segment, by id, a page at a time.
#[utoipa::path(get, path = "/v1/segments/{id}/members", tag = TAG, params(("id" = String, Path), MembersQuery),
    security(("api_key" = [])), responses((status = 200, body = MemberPage), (status = 404, body = ErrorBody)))]
async fn segment_members(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<MembersQuery>,
) -> ApiResult<Json<MemberPage>> {
    let store = state.store.as_ref();
    let (_, node) = saved::get(store, &auth.ws, &id).await?;
    let e = engine(&q.engine)?;
    Ok(Json(
        saved::members(
            store,
            &state.segments,
            &auth.ws,
            &node,
            saved::PageReq {
                limit: page::limit(q.limit)?,
                cursor: q.cursor.as_deref(),
            },
            e,
            now_millis(),
        )
        .await?,
    ))
}

/// Every member of a saved segment as CSV (`member_id,external_id`).
#[utoipa::path(get, path = "/v1/segments/{id}/export", tag = TAG, params(("id" = String, Path)),
    security(("api_key" = [])), responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = ErrorBody)))]
async fn export_segment(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let store = state.store.as_ref();
    let (_, node) = saved::get(store, &auth.ws, &id).await?;
    let all = saved::all_members(store, &state.segments, &auth.ws, &node, now_millis()).await?;
    let body = csv_bytes(
        &["member_id", "external_id"],
        all.into_iter().map(|m| vec![m.id, m.external_id]),
    );
    Ok(csv_response(&format!("{id}.csv"), body))
}

/// Size of a saved segment per day (recorded when it is read and by the daily job).
#[utoipa::path(get, path = "/v1/segments/{id}/sizes", tag = TAG, params(("id" = String, Path), PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<SizePoint>), (status = 404, body = ErrorBody)))]
async fn segment_sizes(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<SizePoint>>> {
    Ok(Json(page::in_memory(
        saved::sizes(state.store.as_ref(), &auth.ws, &id).await?,
        &q,
    )?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IndexInfo {
    pub members: usize,
    pub memory_bytes: usize,
}

/// Reload the in-memory segment index from the database.
#[utoipa::path(post, path = "/v1/segments:rebuild-index", tag = TAG,
    security(("api_key" = [])), responses((status = 200, body = IndexInfo)))]
async fn rebuild_index(State(state): State<AppState>, auth: Admin) -> ApiResult<Json<IndexInfo>> {
    state
        .segments
        .rebuild(state.store.as_ref(), &auth.ws)
        .await?;
    let (members, memory_bytes) = state.segments.stats(&auth.ws).await.unwrap_or_default();
    Ok(Json(IndexInfo {
        members,
        memory_bytes,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TagMembersIn {
    /// Member ids (internal `mbr_…` or external) to tag.
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Add or remove a manual tag on many members.
#[utoipa::path(post, path = "/v1/tags/{tag}/members", tag = TAG, params(("tag" = String, Path)), request_body = TagMembersIn,
    security(("api_key" = [])), responses((status = 200, body = TagChange), (status = 422, body = ErrorBody)))]
async fn tag_members(
    State(state): State<AppState>,
    auth: Admin,
    Path(tag): Path<String>,
    ValidJson(body): ValidJson<TagMembersIn>,
) -> ApiResult<Json<TagChange>> {
    Ok(Json(
        saved::change_tags(
            state.store.as_ref(),
            &state.segments,
            &auth.ws,
            &tag,
            &body.add,
            &body.remove,
            now_millis(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvTagQuery {
    /// `add` (default) or `remove`.
    pub action: Option<String>,
}

/// Add (or with `action=remove`, remove) a manual tag on the members listed in a CSV body
/// (column `member_id`, `external_id` or `id`, else the first column).
#[utoipa::path(post, path = "/v1/tags/{tag}/members.csv", tag = TAG, params(("tag" = String, Path), CsvTagQuery),
    request_body(content = String, content_type = "text/csv"),
    security(("api_key" = [])), responses((status = 200, body = TagChange), (status = 422, body = ErrorBody)))]
async fn tag_members_csv(
    State(state): State<AppState>,
    auth: Admin,
    Path(tag): Path<String>,
    ValidQuery(q): ValidQuery<CsvTagQuery>,
    body: String,
) -> ApiResult<Json<TagChange>> {
    let ids = saved::ids_from_csv(&body)?;
    let (add, remove) = if q.action.as_deref() == Some("remove") {
        (Vec::new(), ids)
    } else {
        (ids, Vec::new())
    };
    Ok(Json(
        saved::change_tags(
            state.store.as_ref(),
            &state.segments,
            &auth.ws,
            &tag,
            &add,
            &remove,
            now_millis(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TagRuleIn {
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
}

/// Create or replace a rule tag: members matching the condition carry the tag, kept up
/// to date by the daily job.
#[utoipa::path(put, path = "/v1/tag-rules/{tag}", tag = TAG, params(("tag" = String, Path)), request_body = TagRuleIn,
    security(("api_key" = [])), responses((status = 200, body = TagRuleOut), (status = 422, body = ErrorBody)))]
async fn put_rule(
    State(state): State<AppState>,
    auth: Admin,
    Path(tag): Path<String>,
    ValidJson(body): ValidJson<TagRuleIn>,
) -> ApiResult<Json<TagRuleOut>> {
    Ok(Json(
        saved::put_rule(
            state.store.as_ref(),
            &state.segments,
            &auth.ws,
            &tag,
            &body.condition,
            now_millis(),
        )
        .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/tag-rules/{tag}", tag = TAG, params(("tag" = String, Path)),
    security(("api_key" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    auth: Admin,
    Path(tag): Path<String>,
) -> ApiResult<StatusCode> {
    saved::delete_rule(state.store.as_ref(), &state.segments, &auth.ws, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/tag-rules", tag = TAG, params(PageQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<TagRuleOut>)))]
async fn list_rules(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> ApiResult<Json<Page<TagRuleOut>>> {
    Ok(Json(page::in_memory(
        saved::rules(state.store.as_ref(), &auth.ws).await?,
        &q,
    )?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChurnQuery {
    pub as_of: Option<String>,
    /// Overdue when the gap since the last order exceeds this × the member's typical gap
    /// (default: `churn.factor` of the intelligence settings, seed 2).
    pub factor: Option<f64>,
    /// Never warn before this many days since the last order (default:
    /// `churn.min_recency_days` of the settings, seed 14).
    pub min_recency_days: Option<i64>,
    /// 1–1000, default 50 (`csv` gives every row).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChurnList {
    pub as_of: String,
    /// Warnings in all, all pages together.
    pub total: usize,
    pub data: Vec<ChurnRow>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Churn warnings (流失预警), most valuable first, with reasons; `format=csv` exports.
#[utoipa::path(get, path = "/v1/churn-warnings", tag = TAG, params(ChurnQuery),
    security(("api_key" = [])), responses((status = 200, body = ChurnList), (status = 422, body = ErrorBody)))]
async fn churn(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<ChurnQuery>,
) -> ApiResult<Response> {
    let d = as_of(&q.as_of, &auth.ws)?;
    let mut cfg = seg::settings::in_force(state.store.as_ref(), &auth.ws)
        .await?
        .churn;
    if let Some(f) = q.factor {
        cfg.factor = f;
    }
    if let Some(m) = q.min_recency_days {
        cfg.min_recency_days = m;
    }
    let rows = seg::churn(state.store.as_ref(), &auth.ws, d, &cfg).await?;
    let total = rows.len();
    if q.format.as_deref() == Some("csv") {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_default();
        let body = csv_bytes(
            &[
                "member_id",
                "external_id",
                "reasons",
                "monetary_minor",
                "value_class",
                "recency_days",
                "typical_gap_days",
                "overdue_ratio",
                "stage_from",
                "stage_to",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.member_id,
                    r.external_id,
                    r.reasons.join(";"),
                    r.monetary_minor.to_string(),
                    r.value_class.unwrap_or_default(),
                    r.recency_days.map(|v| v.to_string()).unwrap_or_default(),
                    opt(r.typical_gap_days),
                    opt(r.overdue_ratio),
                    r.stage_from.unwrap_or_default(),
                    r.stage_to.unwrap_or_default(),
                ]
            }),
        );
        return Ok(csv_response("churn-warnings.csv", body));
    }
    let page = page::in_memory_with(rows, q.limit, q.cursor.as_deref())?;
    Ok(Json(ChurnList {
        as_of: d.format("%Y-%m-%d").to_string(),
        total,
        data: page.data,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(member_intelligence))
        .routes(routes!(member_rfm))
        .routes(routes!(rfm_report))
        .routes(routes!(recompute))
        .routes(routes!(flow))
        .routes(routes!(create_segment, list_segments))
        .routes(routes!(get_segment, delete_segment, patch_segment))
        .routes(routes!(segment_versions))
        .routes(routes!(preview))
        .routes(routes!(segment_members))
        .routes(routes!(export_segment))
        .routes(routes!(segment_sizes))
        .routes(routes!(rebuild_index))
        .routes(routes!(tag_members))
        .routes(routes!(tag_members_csv))
        .routes(routes!(put_rule, delete_rule))
        .routes(routes!(list_rules))
        .routes(routes!(churn))
}
