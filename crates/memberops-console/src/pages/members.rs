//! Members: search by phone, name or external id, a paged list, the 360° page, and the
//! actions on it (adjust points with a reason, add a tag).

use std::collections::HashSet;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use memberops_app::campaigns::tasks::{self, TaskQuery};
use memberops_app::coupons::issue::member_coupons;
use memberops_app::loyalty::center;
use memberops_app::loyalty::ops::adjust_points as adjust;
use memberops_app::members::{self, Search};
use memberops_app::operators::{self, Permission};
use memberops_app::segments::{self, saved};
use memberops_app::{AppError, lists};
use memberops_core::member::Member;
use memberops_core::time::{millis_to_rfc3339, now_millis};
use serde::{Deserialize, Serialize};

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::{Ctx, see_other};
use crate::render;

const PAGE: i64 = 25;
/// Ledger lines, events and tasks shown on the member page.
const RECENT: i64 = 20;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// A lifecycle stage code; empty: every stage.
    #[serde(default)]
    stage: String,
    cursor: Option<String>,
}

/// The stages the list filters by.
const STAGES: [&str; 5] = ["new", "growing", "mature", "silent", "churned"];

/// A member as a list row, contacts masked for roles without the right.
#[derive(Serialize)]
struct Row {
    id: String,
    external_id: String,
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    gender: Option<String>,
    birthday: Option<String>,
    region: Option<String>,
    channel: Option<String>,
    registered_at: Option<String>,
    orders: i64,
    spend_minor: i64,
}

fn row(m: Member, full_contacts: bool) -> Row {
    let mask = |v: Option<String>, f: fn(&str) -> String| {
        if full_contacts { v } else { v.map(|s| f(&s)) }
    };
    Row {
        phone: mask(m.phone, memberops_core::mask::phone),
        email: mask(m.email, memberops_core::mask::email),
        id: m.id,
        external_id: m.external_id,
        name: m.name,
        gender: m
            .gender
            .and_then(|g| serde_json::to_value(g).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        birthday: m.birthday.map(|d| d.format("%Y-%m-%d").to_string()),
        region: m.region,
        channel: m.channel,
        registered_at: m.registered_at,
        orders: m.stats.order_count,
        spend_minor: m.stats.total_spend_minor,
    }
}

/// Whether `q` could be a phone number: digits with the usual separators.
fn phone_like(q: &str) -> bool {
    let digits = q.chars().filter(char::is_ascii_digit).count();
    digits >= 5
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'))
}

/// Exact matches by external id and phone first (first page only), then names starting
/// with `q` a page at a time.
async fn search(
    state: &ConsoleState,
    ctx: &Ctx,
    q: &str,
    cursor: Option<String>,
) -> ConsoleResult<(Vec<Member>, Option<String>)> {
    let store = state.store.as_ref();
    let page = |s: Search| members::list(store, &ctx.ws, s);
    if q.is_empty() {
        let p = page(Search {
            cursor,
            limit: Some(PAGE),
            ..Search::default()
        })
        .await?;
        return Ok((p.members, p.next_cursor));
    }
    let mut found = Vec::new();
    if cursor.is_none() {
        found.extend(
            page(Search {
                external_id: Some(q.to_owned()),
                ..Search::default()
            })
            .await?
            .members,
        );
        if phone_like(q) {
            // A number the workspace cannot read as a phone finds nothing.
            if let Ok(p) = page(Search {
                phone: Some(q.to_owned()),
                ..Search::default()
            })
            .await
            {
                found.extend(p.members);
            }
        }
    }
    let by_name = page(Search {
        name_prefix: Some(q.to_owned()),
        cursor,
        limit: Some(PAGE),
        ..Search::default()
    })
    .await?;
    found.extend(by_name.members);
    let mut seen = HashSet::new();
    found.retain(|m| seen.insert(m.id.clone()));
    Ok((found, by_name.next_cursor))
}

/// A page of the members in a stage, from the segment index.
async fn in_stage(
    state: &ConsoleState,
    ctx: &Ctx,
    stage: &str,
    cursor: Option<String>,
) -> ConsoleResult<(Vec<Member>, Option<String>)> {
    let store = state.store.as_ref();
    let cond = serde_json::json!({"field": "stage", "op": "eq", "value": stage});
    let node = segments::parse_tree(&cond, "stage")?;
    let page = saved::members(
        store,
        &state.segments,
        &ctx.ws,
        &node,
        saved::PageReq {
            limit: PAGE as usize,
            cursor: cursor.as_deref(),
        },
        saved::Engine::Index,
        now_millis(),
    )
    .await?;
    let mut found = Vec::with_capacity(page.data.len());
    for r in page.data {
        found.push(members::get(store, &ctx.ws, &r.id).await?);
    }
    Ok((found, page.next_cursor))
}

pub async fn list(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> ConsoleResult<Html<String>> {
    let text = q.q.trim();
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let stage = STAGES.into_iter().find(|s| *s == q.stage);
    let (found, next) = match stage {
        Some(stage) if text.is_empty() => in_stage(&state, &ctx, stage, cursor).await?,
        Some(stage) => {
            let (found, next) = search(&state, &ctx, text, cursor).await?;
            let mut kept = Vec::with_capacity(found.len());
            for m in found {
                let intel = segments::intelligence(state.store.as_ref(), &ctx.ws, &m.id).await?;
                if intel.stage.as_deref() == Some(stage) {
                    kept.push(m);
                }
            }
            (kept, next)
        }
        None => search(&state, &ctx, text, cursor).await?,
    };
    let full = ctx.can(Permission::SeeContacts);
    let rows: Vec<Row> = found.into_iter().map(|m| row(m, full)).collect();
    render::page(
        "members.html",
        &ctx,
        minijinja::context! {
            active => "members",
            q => text,
            stage => stage.unwrap_or(""),
            stages => STAGES,
            rows,
            next_href => super::next_href(
                "/members",
                &[("q", text), ("stage", stage.unwrap_or(""))],
                next.as_deref(),
            ),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    /// What the last action did (`points_adjusted`, `tag_added`).
    flash: Option<String>,
    /// Why the last action was refused (a code from the message catalog's `problem.`).
    error: Option<String>,
}

#[derive(Serialize)]
struct EventLine {
    at: String,
    kind: String,
}

/// Progress from the current tier's threshold to the next one, 0–100.
fn progress(l: &center::LoyaltyOut) -> i64 {
    match &l.next_tier {
        Some(next) if next.threshold > l.tier.threshold => {
            let span = next.threshold - l.tier.threshold;
            (100 - l.growth_needed.clamp(0, span) * 100 / span).clamp(0, 100)
        }
        _ => 100,
    }
}

/// Codes a redirect may carry; anything else is dropped, not echoed.
fn known(code: Option<String>, allowed: &[&str]) -> Option<String> {
    code.filter(|c| allowed.contains(&c.as_str()))
}

pub async fn show(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> ConsoleResult<Html<String>> {
    let store = state.store.as_ref();
    let ws = &ctx.ws;
    let now = now_millis();
    let m = members::get(store, ws, &id).await?;
    let loyalty = center::member_center(store, ws, &m.id, now).await?;
    let ledger = center::points_ledger(store, ws, &m.id, None, Some(RECENT)).await?;
    let coupons = member_coupons(store, ws, &m.id).await?;
    let intel = segments::intelligence(store, ws, &m.id).await?;
    let events = lists::member_events(store, ws, &m.id, &[], None, Some(RECENT)).await?;
    let events: Vec<EventLine> = events
        .data
        .into_iter()
        .map(|e| EventLine {
            at: millis_to_rfc3339(e.occurred_at),
            kind: e.kind,
        })
        .collect();
    let tasks = tasks::list(
        store,
        ws,
        TaskQuery {
            member: Some(m.id.clone()),
            limit: Some(RECENT),
            ..TaskQuery::default()
        },
        now,
    )
    .await?;
    let full = ctx.can(Permission::SeeContacts);
    render::page(
        "member.html",
        &ctx,
        minijinja::context! {
            active => "members",
            progress => progress(&loyalty),
            m => row(m, full),
            loyalty,
            ledger => ledger.data,
            coupons,
            intel,
            events,
            tasks => tasks.data,
            adjust_key => operators::random_token(),
            flash => known(q.flash, &["points_adjusted", "tag_added"]),
            error => known(q.error, &["reason_required", "points_invalid", "tag_invalid", "insufficient_points"]),
        },
    )
}

#[derive(Deserialize)]
pub struct AdjustForm {
    #[serde(default)]
    points: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    idempotency_key: String,
}

fn back(id: &str, query: &str) -> Response {
    let id: String = serde_urlencoded::to_string([("", id)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_owned();
    see_other(&format!("/members/{id}?{query}"))
}

/// The operator as the audit and ledgers name them.
pub(crate) fn actor(ctx: &Ctx) -> String {
    format!("console:{}", ctx.session.operator.email)
}

pub async fn adjust_points(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<AdjustForm>,
) -> ConsoleResult<Response> {
    let Ok(points) = f.points.trim().parse::<i64>() else {
        return Ok(back(&id, "error=points_invalid"));
    };
    if f.reason.trim().is_empty() {
        return Ok(back(&id, "error=reason_required"));
    }
    let key = if f.idempotency_key.is_empty() {
        operators::random_token()
    } else {
        format!("console:{}", f.idempotency_key)
    };
    let done = adjust(
        state.store.as_ref(),
        &ctx.ws,
        &id,
        points,
        &key,
        f.reason.trim(),
        &actor(&ctx),
    )
    .await;
    match done {
        Ok(_) => Ok(back(&id, "flash=points_adjusted")),
        Err(AppError::Invalid(_)) => Ok(back(&id, "error=points_invalid")),
        Err(e) if e.code() == "insufficient_points" => Ok(back(&id, "error=insufficient_points")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct TagForm {
    #[serde(default)]
    tag: String,
}

pub async fn add_tag(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<TagForm>,
) -> ConsoleResult<Response> {
    let store = state.store.as_ref();
    let m = members::get(store, &ctx.ws, &id).await?;
    let done = saved::change_tags(
        store,
        &state.segments,
        &ctx.ws,
        f.tag.trim(),
        std::slice::from_ref(&m.id),
        &[],
        now_millis(),
    )
    .await;
    match done {
        Ok(_) => Ok(back(&m.id, "flash=tag_added")),
        Err(AppError::Invalid(_)) => Ok(back(&m.id, "error=tag_invalid")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::phone_like;

    #[test]
    fn phones_are_told_from_names_and_ids() {
        assert!(phone_like("138 0013 8000"));
        assert!(phone_like("+86-13800138000"));
        assert!(!phone_like("u1001"));
        assert!(!phone_like("李"));
        assert!(!phone_like("1234"));
    }
}
