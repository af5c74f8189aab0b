//! The members' past orders, for the repeat-purchase conditions (`min_order_number`,
//! `min_orders_in_days`): loaded only when an enabled rule has one, only for the members
//! with an order in the batch, and only as far back as the widest window needs.

use std::collections::HashMap;

use memberops_core::event::Effect;
use memberops_core::time::Millis;
use memberops_loyalty::Program;
use memberops_store::WriteTx;

use crate::error::Result;
use crate::hooks::AppliedEvent;

const DAY: Millis = 86_400_000;

/// Paid-at times of each member's counted orders (the batch's own orders are stored before
/// the reactors run, so they are there), sorted.
pub(super) async fn order_times(
    tx: &mut dyn WriteTx,
    program: &Program,
    events: &[&AppliedEvent],
) -> Result<HashMap<String, Vec<Millis>>> {
    let mut reach: Option<Option<u32>> = None;
    for r in program.rules.iter().filter(|r| r.enabled) {
        match (r.conditions.order_history(), reach) {
            (None, _) => {}
            (Some(None), _) | (_, Some(None)) => reach = Some(None),
            (Some(Some(d)), Some(Some(e))) => reach = Some(Some(d.max(e))),
            (Some(Some(d)), None) => reach = Some(Some(d)),
        }
    }
    let Some(days) = reach else {
        return Ok(HashMap::new());
    };
    let orders: Vec<&AppliedEvent> = events
        .iter()
        .copied()
        .filter(|e| matches!(e.event.effect, Effect::OrderPaid { .. }))
        .collect();
    let Some(earliest) = orders.iter().map(|e| e.occurred_at).min() else {
        return Ok(HashMap::new());
    };
    let since = days.map_or(Millis::MIN, |d| {
        earliest.saturating_sub(i64::from(d).saturating_add(1).saturating_mul(DAY))
    });
    let mut ids: Vec<&str> = orders.iter().map(|e| e.member_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: HashMap<String, Vec<Millis>> = HashMap::new();
    for (member, at) in tx.order_times(&ids, since).await? {
        out.entry(member).or_default().push(at);
    }
    for times in out.values_mut() {
        times.sort_unstable();
    }
    Ok(out)
}
