//! The expiry sweep: owned coupons still `issued` after their window closed become
//! `expired`. Checkout already refuses them by time; the sweep makes the stored status
//! (and every list and report) say so. Idempotent: a second run at the same time finds
//! nothing to move. Meant to be scheduled (see the jobs worker) or run from the CLI.
//!
//! Each member whose coupons a sweep expires gets one `coupon.expired` event,
//! `{"coupon_ids"}`, with the id `coupon.expired:{member}:{now}` (`now` in milliseconds).

use std::collections::HashMap;

use memberops_core::event::SystemEvent;
use memberops_core::time::Millis;
use memberops_store::{NewEvent, Store};
use serde::Serialize;

use crate::error::Result;
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

/// Coupons moved per transaction, so the write lock is never held for long.
pub const EXPIRE_BATCH: i64 = 5_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExpireOut {
    /// Coupons moved from `issued` to `expired` by this run.
    pub expired: u64,
    /// Transactions it took.
    pub batches: u64,
}

/// Expires every owned coupon whose window ended at or before `now`.
pub async fn expire_due(store: &dyn Store, ws: &Workspace, now: Millis) -> Result<ExpireOut> {
    let mut out = ExpireOut::default();
    loop {
        let mut tx = store.begin_write(&ws.id).await?;
        let coupons = tx.expire_due_coupons(now, EXPIRE_BATCH).await?;
        let moved = coupons.len() as u64;
        // A batch holds all of a member's due coupons: a taken id is a coupon that became
        // due after an earlier sweep at the same `now`, recorded under its first coupon.
        insert_new(tx.as_mut(), expired_events(ws, &coupons, now), |e| {
            first_coupon(e).map(|c| format!("{}:{c}", e.id))
        })
        .await?;
        tx.commit().await?;
        out.expired += moved;
        if moved > 0 {
            out.batches += 1;
        }
        if moved < EXPIRE_BATCH as u64 {
            return Ok(out);
        }
    }
}

/// One `coupon.expired` per member of `(coupon_id, member_id)`, in first-seen order.
fn expired_events(ws: &Workspace, coupons: &[(String, String)], now: Millis) -> Vec<NewEvent> {
    let mut by_member: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut order = Vec::new();
    for (coupon, member) in coupons {
        by_member
            .entry(member.as_str())
            .or_insert_with(|| {
                order.push(member.as_str());
                Vec::new()
            })
            .push(coupon.as_str());
    }
    order
        .into_iter()
        .map(|m| {
            let mut ids = by_member.remove(m).unwrap_or_default();
            ids.sort_unstable();
            system_event(
                ws,
                SystemEvent::CouponExpired,
                format!("{}:{m}:{now}", SystemEvent::CouponExpired.as_str()),
                m,
                now,
                serde_json::json!({ "coupon_ids": ids }),
            )
        })
        .collect()
}

/// The first coupon id of a `coupon.expired` event's properties.
fn first_coupon(e: &NewEvent) -> Option<String> {
    let props: serde_json::Value = serde_json::from_str(&e.properties).ok()?;
    props["coupon_ids"][0].as_str().map(str::to_owned)
}
