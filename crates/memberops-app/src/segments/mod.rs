//! Member intelligence use cases (人群): RFM reports, lifecycle stages kept current by events
//! and by a daily job, value classes, tags and tag rules, saved segments evaluated through
//! the in-memory index (or SQL), and churn warnings.
//!
//! Rules live in `memberops-segments`; this module feeds them stored data and stores what
//! they decide.

pub mod index;
pub mod intel;
pub mod purchases;
pub mod saved;
pub mod settings;
pub mod sql;

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::time::Millis;
use memberops_core::{FieldError, Invalid};
use memberops_segments::churn::{ChurnConfig, ChurnInput, ChurnWarning, churn_warnings};
use memberops_segments::lifecycle::Stage;
use memberops_segments::{Node, SegmentError};
use memberops_store::{IntelRow, Store, WriteTx};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::hooks::AppliedEvent;
use crate::workspace::Workspace;

pub use index::IndexCache;
pub use intel::{RecomputeSummary, RfmRow, compute, recompute};
pub use settings::{Settings, SettingsVersion};

/// The event recorded for every stage change.
pub const LIFECYCLE_CHANGED: &str = memberops_core::event::SystemEvent::LifecycleChanged.as_str();

/// Segment-rule errors as validation failures: `loc` is the JSON path in the input.
pub(crate) fn seg_err(e: SegmentError) -> AppError {
    let loc: Vec<String> = e
        .path()
        .or(e.setting())
        .map(|p| p.split('.').map(str::to_owned).collect())
        .unwrap_or_default();
    // The message says the path once: `loc` carries it, and the answer's detail joins the
    // two ("condition.all[0].value: expected …").
    let text = e.to_string();
    let msg = e
        .path()
        .and_then(|p| text.strip_prefix(&format!("{p}: ")))
        .map_or_else(|| text.clone(), str::to_owned);
    AppError::Invalid(Invalid(vec![FieldError {
        loc,
        code: e.code().to_owned(),
        msg,
    }]))
}

/// Parses a condition tree given under `at` in the request (errors name `at.<path>`).
pub fn parse_tree(v: &serde_json::Value, at: &str) -> Result<Node> {
    Node::from_json_at(v, at).map_err(seg_err)
}

pub fn parse_date(s: &str, field: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| Invalid::one(&[field], "invalid_date", "expected a date YYYY-MM-DD").into())
}

/// The hook line of `hooks::after_events`: stages of the touched members, in the batch's
/// transaction.
pub async fn on_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
    members: &mut crate::hooks::BatchMembers,
) -> Result<()> {
    purchases::on_events(tx, applied).await?;
    intel::on_events(tx, ws, applied, members, memberops_core::time::now_millis()).await
}

/// A member's stored intelligence and tags.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Intelligence {
    pub member_id: String,
    pub external_id: String,
    /// Current lifecycle stage (kept current as events land and by the daily job).
    pub stage: Option<String>,
    pub stage_since: Option<String>,
    pub previous_stage: Option<String>,
    /// RFM scores, class and value class as of `scored_on` (the last daily recompute).
    pub r_score: Option<i64>,
    pub f_score: Option<i64>,
    pub m_score: Option<i64>,
    pub rfm_class: Option<String>,
    pub value_class: Option<String>,
    pub scored_on: Option<String>,
    /// Profile, manual and rule tags.
    pub tags: Vec<String>,
}

pub async fn intelligence(store: &dyn Store, ws: &Workspace, id: &str) -> Result<Intelligence> {
    let m = crate::members::get(store, ws, id).await?;
    let g: Option<IntelRow> = store.member_intel(&ws.id, &m.id).await?;
    let mut tags = m.tags.clone();
    tags.extend(store.member_extra_tags(&ws.id, &m.id).await?);
    tags.sort_unstable();
    tags.dedup();
    let g = g.unwrap_or_default();
    let opt = |s: String| (!s.is_empty()).then_some(s);
    Ok(Intelligence {
        member_id: m.id,
        external_id: m.external_id,
        stage: opt(g.stage),
        stage_since: opt(g.stage_since),
        previous_stage: g.previous_stage,
        r_score: g.r,
        f_score: g.f,
        m_score: g.m,
        rfm_class: g.rfm_class,
        value_class: g.value_class,
        scored_on: g.scored_on,
        tags,
    })
}

/// One member's RFM line as of a date (scored against the whole population then).
pub async fn member_rfm(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    as_of: NaiveDate,
) -> Result<RfmRow> {
    let m = crate::members::get(store, ws, id).await?;
    let settings = settings::in_force(store, ws).await?;
    compute(store, ws, as_of, &settings)
        .await?
        .into_iter()
        .find(|r| r.internal_id == m.id)
        .ok_or(AppError::NotFound {
            what: "member on that date",
        })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowRow {
    /// The stage left (a first stage is stored without a transition).
    pub from: Option<String>,
    pub to: String,
    pub members: i64,
}

/// Stage changes recorded with `from <= day <= to`, by (from, to).
pub async fn stage_flow(
    store: &dyn Store,
    ws: &Workspace,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FlowRow>> {
    let f = from.format("%Y-%m-%d").to_string();
    let t = to.format("%Y-%m-%d").to_string();
    Ok(store
        .stage_flow(&ws.id, &f, &t)
        .await?
        .into_iter()
        .map(|(from, to, members)| FlowRow { from, to, members })
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChurnRow {
    pub member_id: String,
    pub external_id: String,
    /// `overdue_repurchase` and/or `stage_dropped`.
    pub reasons: Vec<String>,
    /// Paid minus refunded, minor units (the ranking key).
    pub monetary_minor: i64,
    pub value_class: Option<String>,
    pub recency_days: Option<i64>,
    pub typical_gap_days: Option<f64>,
    pub overdue_ratio: Option<f64>,
    pub stage_from: Option<String>,
    pub stage_to: Option<String>,
}

/// Churn warnings as of a date, most valuable first.
pub async fn churn(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    cfg: &ChurnConfig,
) -> Result<Vec<ChurnRow>> {
    let cutoff = intel::cutoff_after(as_of, ws);
    let day = as_of.format("%Y-%m-%d").to_string();
    let facts = store.facts_as_of(&ws.id, &day, cutoff - 1).await?;
    let stored: HashMap<String, IntelRow> = store
        .all_intel(&ws.id)
        .await?
        .into_iter()
        .map(|r| (r.member_id.clone(), r))
        .collect();
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let inputs: Vec<ChurnInput> = facts
        .iter()
        .map(|f| {
            let g = stored.get(&f.member_id);
            ChurnInput {
                member_id: f.member_id.clone(),
                first_order: parse(&f.first_order_day),
                last_order: parse(&f.last_order_day),
                order_days: u32::try_from(f.order_days).unwrap_or(u32::MAX),
                monetary: f.monetary,
                previous_stage: g
                    .and_then(|g| g.previous_stage.as_deref())
                    .and_then(Stage::parse),
                current_stage: g.and_then(|g| Stage::parse(&g.stage)),
            }
        })
        .collect();
    let warnings: Vec<ChurnWarning> = churn_warnings(&inputs, as_of, cfg).map_err(seg_err)?;
    let ext: HashMap<&str, &str> = facts
        .iter()
        .map(|f| (f.member_id.as_str(), f.external_id.as_str()))
        .collect();
    Ok(warnings
        .into_iter()
        .map(|w| ChurnRow {
            external_id: ext
                .get(w.member_id.as_str())
                .copied()
                .unwrap_or("")
                .to_owned(),
            value_class: stored.get(&w.member_id).and_then(|g| g.value_class.clone()),
            reasons: w.reasons.iter().map(|r| r.code().to_owned()).collect(),
            monetary_minor: w.monetary,
            recency_days: w.recency_days,
            typical_gap_days: w.typical_gap_days,
            overdue_ratio: w.overdue_ratio,
            stage_from: w.stage_change.map(|(a, _)| a.code().to_owned()),
            stage_to: w.stage_change.map(|(_, b)| b.code().to_owned()),
            member_id: w.member_id,
        })
        .collect())
}

/// Zones of the workspace's members, for SQL rendering.
pub(crate) async fn zones(store: &dyn Store, ws: &Workspace) -> Result<Vec<Tz>> {
    let mut out: Vec<Tz> = store
        .distinct_zones(&ws.id)
        .await?
        .iter()
        .filter_map(|z| z.parse::<Tz>().ok())
        .collect();
    if !out.contains(&ws.time_zone) {
        out.push(ws.time_zone);
    }
    Ok(out)
}

/// The SQL `WHERE` clause of a tree for this workspace at `as_of`.
pub async fn tree_sql(
    store: &dyn Store,
    ws: &Workspace,
    node: &Node,
    as_of: Millis,
) -> Result<String> {
    let cx = sql::SqlContext {
        backend: store.backend(),
        workspace_id: ws.id.clone(),
        as_of,
        zones: zones(store, ws).await?,
        base_tier: index::base_tier(store, ws).await?,
        money_exponent: ws.currency.exponent(),
    };
    Ok(sql::where_sql(node, &cx))
}
