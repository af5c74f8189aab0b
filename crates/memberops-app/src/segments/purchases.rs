//! What orders bought, kept for segment conditions on SKU and category: written in the
//! batch's transaction with the order, so a segment sees an order's products as soon as
//! it sees the order.

use memberops_core::event::Effect;
use memberops_segments::products::order_products;
use memberops_store::{OrderItem, WriteTx};

use crate::error::Result;
use crate::hooks::AppliedEvent;

/// Records the SKUs and categories of the batch's paid orders.
pub async fn on_events(tx: &mut dyn WriteTx, applied: &[AppliedEvent]) -> Result<()> {
    let mut rows = Vec::new();
    for a in applied {
        let Effect::OrderPaid { order_id, .. } = &a.event.effect else {
            continue;
        };
        for (key, value) in order_products(&a.event.properties) {
            rows.push(OrderItem {
                member_id: a.member_id.clone(),
                order_id: order_id.clone(),
                kind: key.name().to_owned(),
                value,
            });
        }
    }
    if !rows.is_empty() {
        tx.insert_order_items(&rows).await?;
    }
    Ok(())
}
