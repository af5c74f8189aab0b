//! The events MemberOps records itself ([`SystemEvent`]): every change of a member's state
//! (tier, lifecycle stage, points expiry, coupons issued, redeemed or expired, birthday
//! gifts) is also an event row, written in the transaction of the change, so that the
//! consumers of the event log see them in one order with the clients' events.
//!
//! Ids are made of what the change is about (`coupon.issued:{first coupon id}`,
//! `points.expired:{member}:{as_of}`…), so a re-run that finds its id stored writes
//! nothing twice.

use std::collections::HashSet;

use memberops_core::event::SystemEvent;
use memberops_core::time::{Millis, now_millis};
use memberops_store::{NewEvent, WriteTx};

use crate::error::Result;
use crate::workspace::Workspace;

/// A system event of `member_id` (internal id) that happened at `occurred_at`, received now.
pub(crate) fn system_event(
    ws: &Workspace,
    kind: SystemEvent,
    id: String,
    member_id: &str,
    occurred_at: Millis,
    properties: serde_json::Value,
) -> NewEvent {
    NewEvent {
        workspace_id: ws.id.clone(),
        id,
        member_id: member_id.to_owned(),
        kind: kind.as_str().to_owned(),
        occurred_at,
        received_at: now_millis(),
        properties: properties.to_string(),
        order: None,
    }
}

/// Which of these ids are stored, asked in pages (the store chunks each call again).
async fn stored(tx: &mut dyn WriteTx, ids: &[&str]) -> Result<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(10_000) {
        found.extend(tx.existing_event_ids(chunk).await?);
    }
    Ok(found)
}

/// Inserts the events whose ids are not stored yet (in bulk). An event whose id is taken
/// goes in under `retry(event)` instead when that gives another id (the same change
/// recorded in two parts, e.g. a member's expiry cut across two pages), and is left out
/// otherwise or when that id is taken too (a re-run: recorded already). Returns how many
/// were written.
pub(crate) async fn insert_new(
    tx: &mut dyn WriteTx,
    mut events: Vec<NewEvent>,
    retry: impl Fn(&NewEvent) -> Option<String>,
) -> Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let taken = stored(tx, &ids).await?;
    if !taken.is_empty() {
        let mut renamed = false;
        events.retain_mut(|e| {
            if !taken.contains(&e.id) {
                return true;
            }
            match retry(e) {
                Some(id) if id != e.id => {
                    e.id = id;
                    renamed = true;
                    true
                }
                _ => false,
            }
        });
        if renamed {
            let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
            let again = stored(tx, &ids).await?;
            events.retain(|e| !again.contains(&e.id));
        }
    }
    // Two events of one call under one id (only a retry id can repeat): keep the first.
    let mut seen = HashSet::new();
    events.retain(|e| seen.insert(e.id.clone()));
    tx.insert_events(&events).await?;
    Ok(events.len())
}
