//! The loyalty jobs: points expiry and the tier review, for a given `as_of` instant.
//!
//! Both are idempotent: expiry only touches lots that still hold expired points (and
//! empties them), and the review's `tier.changed` events have ids made of the review day
//! and the member, so re-running a day writes nothing new. Each page of members is its own
//! transaction, so a long run never holds the write lock for long.
//!
//! Expiry records one `points.expired` event per member and run, `{"points", "as_of",
//! "lots"}`, with the id `points.expired:{member}:{as_of}` (`as_of` in milliseconds).

use std::collections::HashMap;

use chrono_tz::Tz;
use memberops_core::event::SystemEvent;
use memberops_core::time::{Millis, millis_to_rfc3339, now_millis};
use memberops_loyalty::calendar::local_date;
use memberops_loyalty::tiers::{self, GrowthEntry, TierHolding};
use memberops_store::{NewEvent, PointsLine, Store};
use serde::Serialize;

use super::engine::tier_event;
use super::program_in_tx;
use crate::error::Result;
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExpiryReport {
    pub lots: usize,
    pub points: i64,
    pub members: usize,
}

/// Writes `expire` lines for whatever is left in lots expired at `as_of`.
pub async fn expire(store: &dyn Store, ws: &Workspace, as_of: Millis) -> Result<ExpiryReport> {
    let mut report = ExpiryReport::default();
    let run = format!("expire:{}", millis_to_rfc3339(as_of));
    loop {
        let mut tx = store.begin_write(&ws.id).await?;
        // Expired lots are emptied as they are processed, so each page starts from the top.
        let mut lots = tx.expired_lots(as_of, "", PAGE).await?;
        if lots.is_empty() {
            break;
        }
        // Whole members per page (lots come in member order), so that a member's expiry is
        // one event: the last member of a full page waits for the next one, unless it
        // fills the page alone.
        if lots.len() as i64 == PAGE
            && let Some(last) = lots.last().map(|l| l.member_id.clone())
            && lots.first().is_some_and(|l| l.member_id != last)
        {
            lots.retain(|l| l.member_id != last);
        }
        let ids: Vec<String> = {
            let mut v: Vec<String> = lots.iter().map(|l| l.member_id.clone()).collect();
            v.dedup();
            v
        };
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut members: HashMap<String, _> = tx
            .loyalty_members(&refs)
            .await?
            .into_iter()
            .map(|m| (m.member_id.clone(), m))
            .collect();
        let mut lines = Vec::with_capacity(lots.len());
        for l in &mut lots {
            let n = l.remaining;
            lines.push(PointsLine {
                seq: 0,
                member_id: l.member_id.clone(),
                kind: "expire".into(),
                at: l.expires_at.unwrap_or(as_of),
                points: -n,
                lot_id: Some(l.id.clone()),
                lot_delta: -n,
                debt_delta: 0,
                event_id: run.clone(),
                rule_id: None,
                order_id: None,
                reason: None,
                actor: None,
            });
            if let Some(m) = members.get_mut(&l.member_id) {
                m.points_balance -= n;
                m.updated_at = now_millis();
            }
            l.remaining = 0;
            report.points += n;
        }
        report.lots += lots.len();
        report.members += members.len();
        tx.insert_points_lines(&lines).await?;
        tx.update_lots(&lots).await?;
        let rows: Vec<_> = members.into_values().collect();
        tx.upsert_loyalty_members(&rows).await?;
        // A taken id is the rest of a member whose lots filled a page alone.
        insert_new(tx.as_mut(), expiry_events(ws, &lines, as_of), |e| {
            lines
                .iter()
                .find(|l| l.member_id == e.member_id)
                .and_then(|l| l.lot_id.as_ref())
                .map(|lot| format!("{}:{lot}", e.id))
        })
        .await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// One `points.expired` per member of a page's `expire` lines (which come in member order).
fn expiry_events(ws: &Workspace, lines: &[PointsLine], as_of: Millis) -> Vec<NewEvent> {
    let mut out = Vec::new();
    for mine in lines.chunk_by(|a, b| a.member_id == b.member_id) {
        let m = &mine[0].member_id;
        let points: i64 = mine.iter().map(|l| -l.points).sum();
        let lots: Vec<&str> = mine.iter().filter_map(|l| l.lot_id.as_deref()).collect();
        let props =
            serde_json::json!({"points": points, "as_of": millis_to_rfc3339(as_of), "lots": lots});
        let id = format!("{}:{m}:{as_of}", SystemEvent::PointsExpired.as_str());
        out.push(system_event(
            ws,
            SystemEvent::PointsExpired,
            id,
            m,
            as_of,
            props,
        ));
    }
    out
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewReport {
    pub reviewed: usize,
    pub upgraded: usize,
    pub downgraded: usize,
}

/// Re-evaluates every member's tier on the review date: window growth, protection period,
/// at most `max_drop` tiers down. Changes are recorded as `tier.changed` events.
pub async fn review(store: &dyn Store, ws: &Workspace, as_of: Millis) -> Result<ReviewReport> {
    let mut report = ReviewReport::default();
    let mut after = String::new();
    loop {
        let mut tx = store.begin_write(&ws.id).await?;
        let program = program_in_tx(tx.as_mut()).await?;
        let page = tx.loyalty_member_page(&after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.member_id.clone();
        let zone = |m: &memberops_store::LoyaltyMemberRow| {
            m.time_zone.parse::<Tz>().unwrap_or(ws.time_zone)
        };
        let since = page
            .iter()
            .map(|m| tiers::window_start(&program, as_of, zone(m)))
            .min()
            .unwrap_or(as_of);
        let ids: Vec<&str> = page.iter().map(|m| m.member_id.as_str()).collect();
        // A member on a temporary tier is reviewed when the trial ends (see `trial`).
        let on_trial: std::collections::HashSet<String> =
            tx.members_on_trial(&ids).await?.into_iter().collect();
        let mut growth: HashMap<String, Vec<GrowthEntry>> = HashMap::new();
        for g in tx.growth_since(&ids, since).await? {
            growth
                .entry(g.member_id.clone())
                .or_default()
                .push(GrowthEntry {
                    at: g.at,
                    growth: g.growth,
                    reference: g.event_id,
                    rule_id: g.rule_id,
                });
        }
        let mut changed = Vec::new();
        let mut events = Vec::new();
        let received = now_millis();
        for m in &page {
            if on_trial.contains(&m.member_id) {
                continue;
            }
            report.reviewed += 1;
            let tz = zone(m);
            let holding = TierHolding {
                tier: m.tier.clone(),
                since: m.tier_since,
            };
            let entries = growth.remove(&m.member_id).unwrap_or_default();
            let Some(c) = tiers::review(&program, &holding, &entries, as_of, tz)? else {
                continue;
            };
            let id = format!(
                "tier.changed:review:{}:{}",
                local_date(as_of, tz),
                m.member_id
            );
            match c.kind {
                tiers::TierChangeKind::Upgrade => report.upgraded += 1,
                tiers::TierChangeKind::Downgrade => report.downgraded += 1,
            }
            events.push(tier_event(ws, &m.member_id, &id, &c, received));
            let mut row = m.clone();
            row.tier = c.to.clone();
            row.tier_since = as_of;
            row.updated_at = received;
            changed.push(row);
        }
        // A re-run of the same day finds its events stored and writes nothing.
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let done = tx.existing_event_ids(&ids).await?;
        if !done.is_empty() {
            let keep: Vec<bool> = events.iter().map(|e| !done.contains(&e.id)).collect();
            let mut k = keep.iter();
            events.retain(|_| *k.next().unwrap_or(&true));
            let mut k = keep.iter();
            changed.retain(|_| *k.next().unwrap_or(&true));
        }
        tx.insert_events(&events).await?;
        tx.upsert_loyalty_members(&changed).await?;
        tx.commit().await?;
    }
    Ok(report)
}
