//! The funnel report (docs/analytics.md, "Funnels"): the events of the steps' types read
//! from the event log, matched to the steps, counted in all and per group.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Days, NaiveDate, NaiveTime};
use memberops_analytics::reports::MemberIx;
use memberops_analytics::reports::funnel::{
    self, FunnelEvent, FunnelGroup, FunnelQuery, parse_steps,
};
use memberops_core::Invalid;
use memberops_core::time::Millis;
use memberops_store::Store;
use serde::Serialize;

use super::reports::{date_or, today};
use crate::error::{AppError, Result};
use crate::segments::{IndexCache, saved};
use crate::workspace::Workspace;

/// The funnel's parameters as sent.
#[derive(Debug, Clone, Default)]
pub struct FunnelParams {
    /// Comma-separated steps: `type` or `type[key op value;…]`.
    pub steps: String,
    /// Days allowed after the step before, one per step after the first (default 30 each).
    pub within: Option<String>,
    /// First entry day, YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last entry day, YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// `channel` or `segment` (with `segment_id`); none: `(all)` only.
    pub split: Option<String>,
    /// Comma-separated saved segment ids, for `split=segment`.
    pub segment_id: Option<String>,
}

/// How the rows are grouped beside `(all)`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Split {
    None,
    Channel,
    Segments(Vec<String>),
}

/// The funnel's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    /// First and last entry day, YYYY-MM-DD.
    pub from: String,
    pub to: String,
    /// Days allowed after the step before, per step (0 for the first).
    pub within_days: Vec<u32>,
    /// `(all)` first, then the groups by name (segments in the order asked).
    pub groups: Vec<FunnelGroup>,
}

fn split_of(p: &FunnelParams) -> Result<Split> {
    let bad = |field: &str, msg: &str| {
        AppError::from(Invalid::one(&[field], "invalid_value", msg.to_owned()))
    };
    match (p.split.as_deref(), p.segment_id.as_deref()) {
        (None, None) => Ok(Split::None),
        (Some("channel"), None) => Ok(Split::Channel),
        (Some("segment"), Some(ids)) => {
            let ids: Vec<String> = ids
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if ids.is_empty() {
                return Err(bad("segment_id", "one or more segment ids"));
            }
            Ok(Split::Segments(ids))
        }
        (Some("segment"), None) => Err(bad("segment_id", "`split=segment` needs `segment_id`")),
        (_, Some(_)) => Err(bad("segment_id", "`segment_id` goes with `split=segment`")),
        (Some(_), None) => Err(bad("split", "expected channel or segment")),
    }
}

/// The UTC instant of a local midnight, a day early (the zone's offset is at most a day).
fn early(d: NaiveDate) -> Millis {
    (d - Days::new(1))
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
}

pub async fn funnel(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    p: &FunnelParams,
) -> Result<Funnel> {
    let steps = parse_steps(&p.steps, p.within.as_deref())?;
    let to = date_or(p.to.as_deref(), "to", today(ws))?;
    let from = date_or(p.from.as_deref(), "from", to - Days::new(29))?;
    if to < from {
        return Err(Invalid::one(&["to"], "invalid_range", "`to` is before `from`").into());
    }
    let split = split_of(p)?;
    let q = FunnelQuery { steps, from, to };
    let types: Vec<String> = q
        .steps
        .iter()
        .map(|s| s.event_type.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let filtered = q.steps.iter().any(|s| !s.filters.is_empty());
    let last = to
        .checked_add_days(Days::new(q.span_days() + 2))
        .unwrap_or(NaiveDate::MAX);
    let rows = store
        .funnel_events(&ws.id, &types, early(from), early(last), filtered)
        .await?;
    let mut numbers: HashMap<String, MemberIx> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let props = match (&r.properties, filtered) {
            (Some(text), true) => serde_json::from_str::<serde_json::Value>(text).ok(),
            _ => None,
        };
        let mut mask = 0u16;
        for (k, s) in q.steps.iter().enumerate() {
            if s.matches(&r.kind, props.as_ref()) {
                mask |= 1 << k;
            }
        }
        if mask == 0 {
            continue;
        }
        let next = MemberIx::try_from(ids.len()).unwrap_or(MemberIx::MAX);
        let member = *numbers.entry(r.member_id).or_insert_with_key(|id| {
            ids.push(id.clone());
            next
        });
        events.push(FunnelEvent {
            member,
            at: r.occurred_at,
            seq: r.seq,
            steps: mask,
        });
    }
    let times = funnel::reach(&q, ws.time_zone, &mut events);
    let mut groups = vec![funnel::group_rows(&q, "(all)", times.values())];
    let id_of = |m: &MemberIx| ids.get(*m as usize).map(String::as_str).unwrap_or_default();
    match split {
        Split::None => {}
        Split::Channel => {
            let channels: HashMap<String, Option<String>> =
                store.member_channels(&ws.id).await?.into_iter().collect();
            let mut by_channel: BTreeMap<String, Vec<&Vec<Millis>>> = BTreeMap::new();
            for (m, t) in &times {
                let ch = channels
                    .get(id_of(m))
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "(none)".to_owned());
                by_channel.entry(ch).or_default().push(t);
            }
            for (name, t) in by_channel {
                groups.push(funnel::group_rows(&q, &name, t.into_iter()));
            }
        }
        Split::Segments(segments) => {
            let now = memberops_core::time::now_millis();
            for id in segments {
                let (_, node) = saved::get(store, ws, &id).await?;
                let inside: HashSet<String> = saved::all_members(store, cache, ws, &node, now)
                    .await?
                    .into_iter()
                    .map(|m| m.id)
                    .collect();
                let t = times
                    .iter()
                    .filter(|(m, _)| inside.contains(id_of(m)))
                    .map(|(_, t)| t);
                groups.push(funnel::group_rows(&q, &id, t));
            }
        }
    }
    Ok(Funnel {
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        within_days: q
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| if k == 0 { 0 } else { s.within_days })
            .collect(),
        groups,
    })
}
