//! RFM, lifecycle stages and value classes over the stored members: the `report rfm` rows,
//! the event hook that keeps stages current as events land, and the daily recompute job.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use memberops_core::event::CHECKIN;
use memberops_core::money::format_minor;
use memberops_core::time::Millis;
use memberops_segments::lifecycle::{LifecycleFacts, Stage, stage};
use memberops_segments::rfm::{RfmClass, RfmInput, RfmModel, RfmScore};
use memberops_segments::row::local_day;
use memberops_segments::value_class::{ValueClass, ValueClassifier, ValueInput};
use memberops_store::{IntelRow, MemberFacts, NewEvent, Store, Transition, WriteTx};
use serde::Serialize;

use super::settings::{self, Settings};
use super::{LIFECYCLE_CHANGED, seg_err};
use crate::error::Result;
use crate::hooks::{AppliedEvent, BatchMembers};
use crate::workspace::Workspace;

/// Cart events counted for prospects' engagement.
pub const CART_EVENT: &str = "cart.added";

/// One member's RFM line (the columns of `memberops report rfm`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RfmRow {
    /// The member's external id.
    pub member_id: String,
    #[serde(skip)]
    pub internal_id: String,
    /// Local day of the first order (not fully refunded) on or before the as-of date.
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    pub orders: i64,
    pub order_days: i64,
    /// Paid minus refunded, decimal major units ("12.50").
    pub monetary: String,
    #[serde(skip)]
    pub monetary_minor: i64,
    pub recency_days: Option<i64>,
    pub tenure_days: Option<i64>,
    pub r_score: Option<u8>,
    pub f_score: Option<u8>,
    pub m_score: Option<u8>,
    pub rfm_class: Option<String>,
    pub lifecycle_stage: String,
}

pub const RFM_COLUMNS: [&str; 13] = [
    "member_id",
    "first_order_at",
    "last_order_at",
    "orders",
    "order_days",
    "monetary",
    "recency_days",
    "tenure_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm_class",
    "lifecycle_stage",
];

impl RfmRow {
    pub fn csv_record(&self) -> [String; 13] {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        let s = |v: Option<u8>| v.map(|x| x.to_string()).unwrap_or_default();
        [
            self.member_id.clone(),
            o(&self.first_order_at),
            o(&self.last_order_at),
            self.orders.to_string(),
            self.order_days.to_string(),
            self.monetary.clone(),
            n(self.recency_days),
            n(self.tenure_days),
            s(self.r_score),
            s(self.f_score),
            s(self.m_score),
            o(&self.rfm_class),
            self.lifecycle_stage.clone(),
        ]
    }
}

fn parse_day(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(day_of)
}

/// `YYYY-MM-DD` without the general format parser (a million of these per recompute).
fn day_of(d: &str) -> Option<NaiveDate> {
    let b = d.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let y = i32::try_from(num(0..4)?).ok()?;
        NaiveDate::from_ymd_opt(y, num(5..7)?, num(8..10)?)
    } else {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
    }
}

fn zone(name: &str, ws: &Workspace) -> Tz {
    name.parse::<Tz>().unwrap_or(ws.time_zone)
}

/// The first instant of the day after `as_of` in the workspace zone: activity before it
/// counts as on or before the as-of date.
pub fn cutoff_after(as_of: NaiveDate, ws: &Workspace) -> Millis {
    let next = as_of.checked_add_days(Days::new(1)).unwrap_or(as_of);
    super::sql::day_start(next, ws.time_zone)
}

fn lifecycle_facts(f: &MemberFacts, tz: Tz, as_of: NaiveDate) -> LifecycleFacts {
    let clamp = |d: NaiveDate| d.min(as_of);
    LifecycleFacts {
        registered_on: f.registered_at.map(|ms| clamp(local_day(ms, tz))),
        last_order: parse_day(&f.last_order_day),
        last_active: f.last_active_at.map(|ms| clamp(local_day(ms, tz))),
        orders: u32::try_from(f.orders).unwrap_or(u32::MAX),
        monetary: f.monetary,
    }
}

fn rfm_input(f: &MemberFacts) -> RfmInput {
    RfmInput {
        first_order: parse_day(&f.first_order_day),
        last_order: parse_day(&f.last_order_day),
        orders: u32::try_from(f.orders).unwrap_or(u32::MAX),
        order_days: u32::try_from(f.order_days).unwrap_or(u32::MAX),
        monetary: f.monetary,
    }
}

/// One member's intelligence as of a date, in numbers and enums: what the recompute
/// compares with the stored row. Nothing here is a string, so scoring a million members
/// allocates nothing per member.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub rfm: RfmScore,
    pub stage: Stage,
    /// When asked for: it needs every member's recent check-ins and cart events.
    pub value: Option<ValueClass>,
}

/// Scores of each member of `facts` (same order) as of `as_of`, against the population
/// `facts` is.
async fn score_facts(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    facts: &[MemberFacts],
    settings: &Settings,
    with_value_classes: bool,
) -> Result<Vec<Scores>> {
    settings.lifecycle.validate().map_err(seg_err)?;
    let inputs: Vec<RfmInput> = facts.iter().map(rfm_input).collect();
    let model = RfmModel::fit(&inputs, as_of, &settings.rfm).map_err(seg_err)?;
    // Zones parsed once per distinct name, not once per member.
    let mut zone_of: HashMap<&str, Tz> = HashMap::new();
    let lifecycle: Vec<LifecycleFacts> = facts
        .iter()
        .map(|f| {
            let tz = *zone_of
                .entry(f.time_zone.as_str())
                .or_insert_with(|| zone(&f.time_zone, ws));
            lifecycle_facts(f, tz, as_of)
        })
        .collect();
    drop(zone_of);
    let classifier = if with_value_classes {
        let values = value_inputs(store, ws, as_of, facts, &lifecycle).await?;
        let c = ValueClassifier::fit(&values, as_of, &settings.value).map_err(seg_err)?;
        Some((c, values))
    } else {
        None
    };
    Ok((0..facts.len())
        .map(|i| Scores {
            rfm: model.score(&inputs[i]),
            stage: stage(&lifecycle[i], as_of, &settings.lifecycle),
            value: classifier.as_ref().map(|(c, v)| c.classify(&v[i])),
        })
        .collect())
}

/// What value classes are decided from, per member of `facts` (same order).
async fn value_inputs(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    facts: &[MemberFacts],
    lifecycle: &[LifecycleFacts],
) -> Result<Vec<ValueInput>> {
    let cutoff = cutoff_after(as_of, ws);
    let since = cutoff - 30 * 86_400_000;
    let mut counts: HashMap<String, (u32, u32)> = HashMap::new();
    for (kind, slot) in [(CHECKIN, 0), (CART_EVENT, 1)] {
        for (id, n) in store.event_counts(&ws.id, kind, since, cutoff - 1).await? {
            let e = counts.entry(id).or_default();
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            if slot == 0 { e.0 = n } else { e.1 = n }
        }
    }
    Ok(facts
        .iter()
        .zip(lifecycle)
        .map(|(f, lf)| {
            let (checkins, carts) = counts.get(&f.member_id).copied().unwrap_or_default();
            ValueInput {
                orders: lf.orders,
                monetary: f.monetary,
                last_active: lf.last_active,
                profile_completeness_pct: u8::try_from(f.profile_filled * 100 / 6).unwrap_or(100),
                checkins_30d: checkins,
                cart_events_30d: carts,
            }
        })
        .collect())
}

/// Every member's facts as of `as_of` (store order) and their scores (same order), value
/// classes included: the computation of the daily recompute.
pub struct Scored {
    pub facts: Vec<MemberFacts>,
    pub scores: Vec<Scores>,
}

/// Members' facts as of the end of `as_of` (orders that day included), in store order.
async fn facts_as_of(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
) -> Result<Vec<MemberFacts>> {
    let day = as_of.format("%Y-%m-%d").to_string();
    Ok(store
        .facts_as_of(&ws.id, &day, cutoff_after(as_of, ws) - 1)
        .await?)
}

/// RFM, stage and value class of every member as of `as_of`.
pub async fn scored(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    settings: &Settings,
) -> Result<Scored> {
    let facts = facts_as_of(store, ws, as_of).await?;
    let scores = score_facts(store, ws, as_of, &facts, settings, true).await?;
    Ok(Scored { facts, scores })
}

/// The RFM report as of `as_of`: one row per member, sorted by external id.
pub async fn compute(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    settings: &Settings,
) -> Result<Vec<RfmRow>> {
    let mut facts = facts_as_of(store, ws, as_of).await?;
    facts.sort_unstable_by(|a, b| a.external_id.cmp(&b.external_id));
    let scores = score_facts(store, ws, as_of, &facts, settings, false).await?;
    let exp = ws.currency.exponent();
    Ok(facts
        .into_iter()
        .zip(scores)
        .map(|(f, s)| RfmRow {
            member_id: f.external_id,
            internal_id: f.member_id,
            first_order_at: f.first_order_day,
            last_order_at: f.last_order_day,
            orders: f.orders,
            order_days: f.order_days,
            monetary: format_minor(f.monetary, exp),
            monetary_minor: f.monetary,
            recency_days: s.rfm.recency_days,
            tenure_days: s.rfm.tenure_days,
            r_score: s.rfm.r,
            f_score: s.rfm.f,
            m_score: s.rfm.m,
            rfm_class: s.rfm.class.map(|c| c.code().to_owned()),
            lifecycle_stage: s.stage.code().to_owned(),
        })
        .collect())
}

/// Deterministic id of a stage change.
fn transition_id(member_id: &str, cause: &str) -> String {
    format!("{LIFECYCLE_CHANGED}:{member_id}:{cause}")
}

/// The `lifecycle.changed` event: `{"from", "to", "cause", "on", "reason"}`. `cause` is the
/// id of the event that moved the stage (the event hook) or `daily` (the recompute, where
/// time moved it); `reason` says which of the two (`event` or `daily`).
fn change_event(
    ws: &Workspace,
    t: &Transition,
    received_at: Millis,
    reason: &str,
    cause: &str,
) -> NewEvent {
    NewEvent {
        workspace_id: ws.id.clone(),
        id: t.event_id.clone(),
        member_id: t.member_id.clone(),
        kind: LIFECYCLE_CHANGED.to_owned(),
        occurred_at: t.at,
        received_at,
        properties: serde_json::json!({"from": t.from_stage, "to": t.to_stage, "cause": cause,
            "on": t.on_date, "reason": reason})
        .to_string(),
        order: None,
    }
}

/// Writes stage changes (row, transition, event), skipping events already stored.
async fn write_changes(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    rows: &[IntelRow],
    transitions: Vec<Transition>,
    now: Millis,
    reason: &str,
    cause: impl Fn(&Transition) -> String,
) -> Result<usize> {
    tx.upsert_intel(rows).await?;
    let ids: Vec<&str> = transitions.iter().map(|t| t.event_id.as_str()).collect();
    let mut existing = HashSet::new();
    for chunk in ids.chunks(10_000) {
        existing.extend(tx.existing_event_ids(chunk).await?);
    }
    let fresh: Vec<Transition> = transitions
        .into_iter()
        .filter(|t| !existing.contains(&t.event_id))
        .collect();
    let events: Vec<NewEvent> = fresh
        .iter()
        .map(|t| change_event(ws, t, now, reason, &cause(t)))
        .collect();
    tx.insert_transitions(&fresh).await?;
    tx.insert_events(&events).await?;
    Ok(fresh.len())
}

/// The event hook: recomputes the stage of every member the batch touched, on today's
/// local calendar, inside the batch's transaction. Scores and value class are left as the
/// last recompute set them (they depend on the whole population).
pub async fn on_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
    members: &mut BatchMembers,
    now: Millis,
) -> Result<()> {
    // The last event per member names the transition (deterministic, unique per cause).
    let mut cause: HashMap<&str, &str> = HashMap::new();
    for a in applied {
        if a.event.kind != LIFECYCLE_CHANGED {
            cause.insert(a.member_id.as_str(), a.event.id.as_str());
        }
    }
    if cause.is_empty() {
        return Ok(());
    }
    let laps = crate::laps::Laps::start("stage hook");
    let mut ids: Vec<&str> = cause.keys().copied().collect();
    ids.sort_unstable();
    let settings = settings::for_batch(tx, ws).await?;
    let rules = &settings.lifecycle;
    // The batch knows each member's stored stage: only members that move are read whole
    // (their scores and classes carry over).
    let mut moving = Vec::new();
    for (member_id, f) in ids.iter().filter_map(|id| Some((*id, members.get(*id)?))) {
        let tz = f.time_zone;
        let today = local_day(now, tz);
        let s = &f.stats;
        let lf = LifecycleFacts {
            registered_on: f.registered_at.map(|ms| local_day(ms, tz).min(today)),
            last_order: s.last_order_at.map(|ms| local_day(ms, tz).min(today)),
            last_active: s.last_active_at.map(|ms| local_day(ms, tz).min(today)),
            orders: u32::try_from(s.order_count).unwrap_or(u32::MAX),
            monetary: s.paid_minor - s.refunded_minor,
        };
        let st = stage(&lf, today, rules);
        if f.stage.as_deref() != Some(st.code()) {
            moving.push((member_id, st, today, f.stage.is_some()));
        }
    }
    laps.lap("compute");
    if moving.is_empty() {
        return Ok(());
    }
    let with_row: Vec<&str> = moving.iter().filter(|m| m.3).map(|m| m.0).collect();
    let old: HashMap<String, IntelRow> = tx
        .intel_rows(&with_row)
        .await?
        .into_iter()
        .map(|r| (r.member_id.clone(), r))
        .collect();
    let mut rows = Vec::with_capacity(moving.len());
    let mut transitions = Vec::new();
    for (member_id, st, today, _) in moving {
        let prev = old.get(member_id);
        let on = today.format("%Y-%m-%d").to_string();
        let mut row = prev.cloned().unwrap_or_else(|| IntelRow {
            member_id: member_id.to_owned(),
            ..Default::default()
        });
        row.previous_stage = prev.map(|p| p.stage.clone());
        row.stage = st.code().to_owned();
        row.stage_since = on.clone();
        // A member's first stage is an assignment, not a move: no event.
        if prev.is_none() {
            rows.push(row);
            continue;
        }
        transitions.push(Transition {
            event_id: transition_id(member_id, cause.get(member_id).copied().unwrap_or("")),
            member_id: member_id.to_owned(),
            from_stage: row.previous_stage.clone(),
            to_stage: row.stage.clone(),
            on_date: on,
            at: now,
        });
        rows.push(row);
    }
    let changed = rows.len();
    let cause_of = |t: &Transition| {
        cause
            .get(t.member_id.as_str())
            .copied()
            .unwrap_or_default()
            .to_owned()
    };
    write_changes(tx, ws, &rows, transitions, now, "event", cause_of).await?;
    for row in rows {
        if let Some(m) = members.get_mut(&row.member_id) {
            m.stage = Some(row.stage);
        }
    }
    tracing::debug!(changed, "stage hook moved members");
    laps.lap("write");
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RecomputeSummary {
    pub as_of: String,
    pub members: usize,
    /// Rows whose stored intelligence changed.
    pub updated: usize,
    /// Stage changes recorded (each also a `lifecycle.changed` event).
    pub transitions: usize,
    /// Members per stage after the run.
    pub stages: HashMap<String, usize>,
    /// Milliseconds spent computing and writing.
    pub compute_ms: u128,
    pub write_ms: u128,
}

/// The daily job: RFM, value class and stage of every member as of `as_of`, stored; stage
/// changes (including those time alone causes) recorded. Running it again for the same
/// date changes nothing.
pub async fn recompute(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    settings: &Settings,
    now: Millis,
) -> Result<RecomputeSummary> {
    let t0 = std::time::Instant::now();
    // The stored rows are read on another reader connection while the facts are read and
    // scored: SQLite steps each query on its connection's own thread, so the two reads
    // overlap on a second core instead of following each other.
    let (Scored { facts, scores }, stored) =
        tokio::try_join!(scored(store, ws, as_of, settings), async {
            Ok(store.all_intel(&ws.id).await?)
        })?;
    let old: HashMap<&str, &IntelRow> = stored.iter().map(|r| (r.member_id.as_str(), r)).collect();
    let on = as_of.format("%Y-%m-%d").to_string();
    let at = now.min(cutoff_after(as_of, ws) - 1);
    let mut summary = RecomputeSummary {
        as_of: on.clone(),
        members: facts.len(),
        ..Default::default()
    };
    let mut per_stage = [0usize; Stage::ALL.len()];
    // Stages can move back and forth on one day (settings saved twice, each followed by a
    // recompute): the run's own id keeps each move's transition id from colliding with an
    // earlier run's, so every stored change is recorded.
    let run = ulid::Ulid::generate().to_string().to_lowercase();
    let mut rows = Vec::new();
    let mut transitions = Vec::new();
    for (f, s) in facts.iter().zip(&scores) {
        // Stage::ALL lists the variants in declaration order.
        per_stage[s.stage as usize] += 1;
        let prev = old.get(f.member_id.as_str()).copied();
        let stage = s.stage.code();
        let changed = prev.is_none_or(|p| p.stage != stage);
        let (r, fs, m) = (
            s.rfm.r.map(i64::from),
            s.rfm.f.map(i64::from),
            s.rfm.m.map(i64::from),
        );
        let class = s.rfm.class.map(RfmClass::code);
        let value = s.value.map(ValueClass::code);
        // Compared where they lie, so only rows that change are built. Rows equal but for
        // the day they were scored need no write.
        let same = !changed
            && prev.is_some_and(|p| {
                (p.r, p.f, p.m) == (r, fs, m)
                    && p.rfm_class.as_deref() == class
                    && p.value_class.as_deref() == value
            });
        if same {
            continue;
        }
        let row = IntelRow {
            member_id: f.member_id.clone(),
            stage: stage.to_owned(),
            stage_since: match prev {
                Some(p) if !changed => p.stage_since.clone(),
                _ => on.clone(),
            },
            previous_stage: match prev {
                Some(p) if changed => Some(p.stage.clone()),
                Some(p) => p.previous_stage.clone(),
                None => None,
            },
            r,
            f: fs,
            m,
            rfm_class: class.map(str::to_owned),
            value_class: value.map(str::to_owned),
            scored_on: Some(on.clone()),
        };
        if let Some(p) = prev.filter(|_| changed) {
            transitions.push(Transition {
                event_id: transition_id(&f.member_id, &format!("{on}:{}:{stage}:{run}", p.stage)),
                member_id: f.member_id.clone(),
                from_stage: Some(p.stage.clone()),
                to_stage: stage.to_owned(),
                on_date: on.clone(),
                at,
            });
        }
        rows.push(row);
    }
    summary.stages = Stage::ALL
        .into_iter()
        .zip(per_stage)
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| (st.code().to_owned(), n))
        .collect();
    summary.updated = rows.len();
    summary.compute_ms = t0.elapsed().as_millis();
    let t1 = std::time::Instant::now();
    let mut tx = store.begin_write(&ws.id).await?;
    summary.transitions = write_changes(tx.as_mut(), ws, &rows, transitions, now, "daily", |_| {
        "daily".to_owned()
    })
    .await?;
    if !rows.is_empty() {
        tx.bump_segments_version().await?;
    }
    tx.commit().await?;
    summary.write_ms = t1.elapsed().as_millis();
    Ok(summary)
}
