//! The daily aggregates: a consumer of the event log keeps each member's active days and
//! order days (local days in the workspace's zone); [`rebuild`] recomputes them whole, for
//! after an import or a merge of members.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use memberops_analytics::reports::book::day_number;
use memberops_analytics::reports::{events_by_day, orders_by_day};
use memberops_core::event::{ORDER_PAID, ORDER_REFUNDED, SystemEvent};
use memberops_core::time::now_millis;
use memberops_store::analytics::{ActiveDay, OrderDayRow, OrderFact};
use memberops_store::{LogEvent, StartAt, Store, StoreError, WriteTx};
use serde::Serialize;

use crate::consumers::{Consumer, Step, step};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// The consumer's name (its cursor is stored under it).
pub const NAME: &str = "analytics";

/// Keeps `analytics_active_days` and `analytics_order_days` as events commit: each event
/// of a member's own adds to their active day; an order paid or refunded rewrites that
/// member's order days from their orders (a refund can stop an earlier order counting).
pub struct AnalyticsDays;

type Keys = HashMap<String, i64>;

fn key_of(keys: &Keys, member_id: &str) -> Result<i64> {
    keys.get(member_id).copied().ok_or_else(|| {
        AppError::Store(StoreError::Corrupt(format!(
            "member `{member_id}` has no analytics key"
        )))
    })
}

fn active_rows(
    ws: &Workspace,
    keys: &Keys,
    events: impl IntoIterator<Item = (String, i64)>,
) -> Result<Vec<ActiveDay>> {
    let mut rows = events_by_day(events, ws.time_zone)
        .into_iter()
        .map(|((member_id, d), events)| {
            Ok(ActiveDay {
                member_key: key_of(keys, &member_id)?,
                day: day_number(d),
                events,
            })
        })
        .collect::<Result<Vec<ActiveDay>>>()?;
    rows.sort_unstable_by_key(|r| (r.member_key, r.day));
    Ok(rows)
}

fn order_rows(ws: &Workspace, keys: &Keys, orders: Vec<OrderFact>) -> Result<Vec<OrderDayRow>> {
    let facts = orders
        .into_iter()
        .map(|o| (o.member_id, o.paid_at, o.amount_minor, o.refunded_minor));
    let mut rows = orders_by_day(facts, ws.time_zone)
        .into_iter()
        .map(|((member_id, d), t)| {
            Ok(OrderDayRow {
                member_key: key_of(keys, &member_id)?,
                day: day_number(d),
                orders: i64::from(t.orders),
                paid_minor: t.paid_minor,
                refunded_minor: t.refunded_minor,
            })
        })
        .collect::<Result<Vec<OrderDayRow>>>()?;
    rows.sort_unstable_by_key(|r| (r.member_key, r.day));
    Ok(rows)
}

#[async_trait]
impl Consumer for AnalyticsDays {
    fn name(&self) -> &'static str {
        NAME
    }

    fn changes_members(&self) -> bool {
        false
    }

    async fn handle(&self, tx: &mut dyn WriteTx, ws: &Workspace, page: &[LogEvent]) -> Result<()> {
        let members: BTreeSet<&str> = page.iter().map(|e| e.member_id.as_str()).collect();
        let ids: Vec<&str> = members.into_iter().collect();
        let keys = tx.member_keys(&ids).await?;
        let own = page
            .iter()
            .filter(|e| SystemEvent::parse(&e.kind).is_none())
            .map(|e| (e.member_id.clone(), e.occurred_at));
        tx.add_active_days(&active_rows(ws, &keys, own)?).await?;
        let buyers: BTreeSet<&str> = page
            .iter()
            .filter(|e| e.kind == ORDER_PAID || e.kind == ORDER_REFUNDED)
            .map(|e| e.member_id.as_str())
            .collect();
        if !buyers.is_empty() {
            let ids: Vec<&str> = buyers.into_iter().collect();
            let orders = tx.orders_of(&ids).await?;
            let member_keys = ids
                .iter()
                .map(|id| key_of(&keys, id))
                .collect::<Result<Vec<i64>>>()?;
            tx.replace_order_days(&member_keys, &order_rows(ws, &keys, orders)?)
                .await?;
        }
        Ok(())
    }
}

/// Brings the aggregates up to the log's head. A consumer that failed (or waits to retry)
/// is tried no further: the report then reads the aggregates as they stand, and says so
/// in the log.
pub async fn catch_up(store: &dyn Store, ws: &Workspace) -> Result<()> {
    loop {
        match step(store, ws, &AnalyticsDays, 1000).await? {
            Step::Handled(_) => {}
            Step::Idle => return Ok(()),
            Step::Waiting { .. } | Step::Failed { .. } => {
                tracing::warn!("analytics aggregates are behind the event log (consumer failing)");
                return Ok(());
            }
        }
    }
}

/// What a rebuild wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rebuilt {
    /// The log position the aggregates now stand at.
    pub head_seq: i64,
    pub active_days: usize,
    pub order_days: usize,
}

/// Recomputes the workspace's aggregates from every event and order, in one transaction,
/// and puts the consumer's cursor at the log's head.
pub async fn rebuild(store: &dyn Store, ws: &Workspace) -> Result<Rebuilt> {
    let mut hot = ws.members.lock().await;
    let mut tx = store.begin_write(&ws.id).await?;
    let from = tx.write_epoch().await?;
    tx.clear_analytics(NAME).await?;
    let head_seq = tx.log_head_seq().await?;
    let mut keys = tx.all_member_keys().await?;
    let events = tx.activity_up_to(head_seq).await?;
    let orders = tx.all_orders().await?;
    // Events or orders of a member row since erased or merged away keep a key of their own.
    let strays: BTreeSet<&str> = events
        .iter()
        .map(|e| e.member_id.as_str())
        .chain(orders.iter().map(|o| o.member_id.as_str()))
        .filter(|id| !keys.contains_key(*id))
        .collect();
    if !strays.is_empty() {
        let strays: Vec<&str> = strays.into_iter().collect();
        keys.extend(tx.member_keys(&strays).await?);
    }
    let active = active_rows(
        ws,
        &keys,
        events.into_iter().map(|e| (e.member_id, e.occurred_at)),
    )?;
    tx.add_active_days(&active).await?;
    let orders = order_rows(ws, &keys, orders)?;
    tx.replace_order_days(&[], &orders).await?;
    tx.consumer(NAME, StartAt::Head, now_millis()).await?;
    let to = tx.write_epoch().await?;
    tx.commit().await?;
    hot.carry(from, to);
    Ok(Rebuilt {
        head_seq,
        active_days: active.len(),
        order_days: orders.len(),
    })
}
