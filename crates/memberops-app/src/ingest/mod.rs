//! Applying events: the one write path for the API, imports, demo data and (later) SDK
//! ingestion. A batch is validated, planned against what is stored, and written in one
//! transaction.
//!
//! Batch semantics (documented in docs/events.md): rows are applied in the order given.
//! Each row ends `accepted`, `duplicate` (its id is already stored, or repeats an earlier
//! row of the batch: nothing changes) or `rejected` (with the reason). By default the
//! accepted rows land together and the rejected ones are reported; with `atomic`, one
//! rejected row means nothing lands and the accepted rows are reported `skipped`.

mod rows;

use rows::validate_rows;
pub use rows::{RowError, apply_rows};

use foldhash::{HashMap, HashMapExt, HashSet};

use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::event::{Effect, Event, EventIn};
use memberops_core::id;
use memberops_core::member::Profile;
use memberops_core::time::{Millis, now_millis};
use memberops_store::{
    EventOrder, LoyaltyMemberRow, MemberRecord, MemberRef, MemberState, NewEvent, OrderRow,
    StatsRow, Store, WriteTx,
};
use serde::Serialize;

use crate::error::Result;
use crate::hooks::{AppliedEvent, BatchMembers, MemberNow};
use crate::member_cache::{HotMember, HotMembers};
use crate::workspace::Workspace;

/// Most events one API or SDK batch may carry.
pub const MAX_BATCH: usize = 10_000;

/// Most events [`apply_batch`] writes in one transaction, for internal callers (imports,
/// demo data) that batch larger: a member-keyed index page dirtied once carries more rows.
pub const MAX_TRANSACTION_ROWS: usize = 50_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOptions {
    /// All rows or none.
    pub atomic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Accepted,
    Duplicate,
    Rejected,
    /// Valid, but not written because the atomic batch had a rejected row.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowResult {
    /// Position of the row in the batch, from 0.
    pub index: usize,
    pub id: String,
    pub status: RowStatus,
    /// The member's internal id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// Why the row was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RowError>,
}

/// What happened to a batch, row by row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    /// True when the accepted rows were written.
    pub committed: bool,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub members_created: usize,
    pub results: Vec<RowResult>,
}

/// A stored order as the planner tracks it through the batch.
struct OrderState {
    row: OrderRow,
    /// Stored before this batch (refunds then update it in place).
    stored: bool,
    refund_changed: bool,
}

/// Applies a batch in one transaction and says what happened to every row.
pub async fn apply_batch(
    store: &dyn Store,
    ws: &Workspace,
    events: Vec<EventIn>,
    opts: BatchOptions,
) -> Result<BatchReport> {
    if events.len() > MAX_TRANSACTION_ROWS {
        return Err(Invalid::one(
            &["events"],
            "batch_too_large",
            format!("one transaction holds at most {MAX_TRANSACTION_ROWS} events"),
        )
        .into());
    }
    let received_at = now_millis();
    let kinds = crate::ops::type_labels(&events);
    let (mut results, valid) = validate_rows(events, ws);

    let mut hot = ws.members.lock().await;
    let mut tx = store.begin_write(&ws.id).await?;
    hot.check(tx.write_epoch().await?);
    let laps = crate::laps::Laps::start("batch");
    let plan = plan(tx.as_mut(), ws, valid, &mut results, received_at, &mut hot).await?;
    laps.lap("plan");
    let rejected = results
        .iter()
        .filter(|r| r.status == RowStatus::Rejected)
        .count();
    let committed = !(opts.atomic && rejected > 0);
    let members_created = if committed { plan.new_members.len() } else { 0 };
    if committed {
        let (settled, changed_outside) = plan.write(tx.as_mut(), ws).await?;
        let end = tx.write_epoch().await?;
        laps.lap("write");
        tx.commit().await?;
        if changed_outside {
            hot.check(None);
        }
        hot.settle(end, settled);
        if plan_accepted(&results) {
            ws.committed.notify_one();
        }
        laps.lap("commit");
    } else {
        drop(tx);
        for r in results
            .iter_mut()
            .filter(|r| r.status == RowStatus::Accepted)
        {
            r.status = RowStatus::Skipped;
        }
    }
    drop(hot);
    if committed {
        crate::planner::after_growth(store).await;
    }
    crate::ops::count_ingested(&kinds, &results);
    let count = |s: RowStatus| results.iter().filter(|r| r.status == s).count();
    Ok(BatchReport {
        committed,
        accepted: count(RowStatus::Accepted),
        duplicates: count(RowStatus::Duplicate),
        rejected,
        members_created,
        results,
    })
}

fn plan_accepted(results: &[RowResult]) -> bool {
    results.iter().any(|r| r.status == RowStatus::Accepted)
}

/// Applies a batch inside a transaction the caller owns and will commit (for use cases
/// that write more in the same transaction, like SDK tracking). Rejected rows are reported;
/// the others are written.
pub async fn apply_in_tx(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    events: Vec<EventIn>,
) -> Result<BatchReport> {
    let received_at = now_millis();
    let (mut results, valid) = validate_rows(events, ws);
    // The caller's transaction may write more than events: nothing is taken from or left
    // in the member cache (its writes move the epoch, so the next batch reads the store).
    let mut none = HotMembers::default();
    let plan = plan(tx, ws, valid, &mut results, received_at, &mut none).await?;
    let members_created = plan.new_members.len();
    plan.write(tx, ws).await?;
    let count = |s: RowStatus| results.iter().filter(|r| r.status == s).count();
    Ok(BatchReport {
        committed: true,
        accepted: count(RowStatus::Accepted),
        duplicates: count(RowStatus::Duplicate),
        rejected: count(RowStatus::Rejected),
        members_created,
        results,
    })
}

/// The writes a batch decided on.
#[derive(Default)]
struct Plan {
    new_members: Vec<MemberRecord>,
    updated_members: Vec<MemberRecord>,
    events: Vec<NewEvent>,
    orders: HashMap<String, OrderState>,
    /// What the batch adds to each member's aggregates.
    deltas: HashMap<String, StatsDelta>,
    /// Zone and registration time of each member with an accepted event, by internal id.
    profiles: HashMap<String, (Tz, Option<Millis>)>,
    applied: Vec<AppliedEvent>,
    /// Stored aggregates and stage of the stored members of the batch, by internal id.
    stored: HashMap<String, Stored>,
    /// Every member of the batch by external id.
    slots: HashMap<String, MemberSlot>,
}

/// A stored member's aggregates and stage as the batch found them, and its loyalty state
/// when the cache held it.
#[derive(Default)]
struct Stored {
    stats: Option<StatsRow>,
    stage: Option<String>,
    loyalty: Option<LoyaltyMemberRow>,
}

impl Plan {
    /// Writes the batch and runs the hooks; returns what the member cache should hold for
    /// the batch's members once it commits.
    /// Writes the plan and runs the reactors; returns the batch's members as they stand
    /// once it commits, and whether a reactor changed a member outside the batch.
    async fn write(
        self,
        tx: &mut dyn WriteTx,
        ws: &Workspace,
    ) -> Result<(Vec<(String, HotMember)>, bool)> {
        let Plan {
            new_members,
            updated_members,
            events,
            orders,
            deltas,
            profiles,
            applied,
            mut stored,
            slots,
        } = self;
        let laps = crate::laps::Laps::start("batch write");
        tx.insert_members(&new_members).await?;
        for m in &updated_members {
            tx.update_member(m).await?;
        }
        // A paid order is stored on its event row. Orders refunded in the batch that paid
        // them go in with the refund; orders stored before are updated in place.
        let mut events = events;
        let mut refunds = Vec::new();
        let mut refunded_new: HashMap<String, i64> = HashMap::new();
        for o in orders.into_values() {
            if !o.stored {
                if o.row.refunded_minor != 0 {
                    refunded_new.insert(o.row.order_id, o.row.refunded_minor);
                }
            } else if o.refund_changed {
                refunds.push((o.row.order_id, o.row.refunded_minor));
            }
        }
        if !refunded_new.is_empty() {
            for order in events.iter_mut().filter_map(|e| e.order.as_mut()) {
                if let Some(refunded) = refunded_new.get(&order.order_id) {
                    order.refunded_minor = *refunded;
                }
            }
        }
        tx.insert_events(&events).await?;
        laps.lap("events");
        tx.set_refunded(&refunds).await?;
        laps.lap("refunds");
        // Aggregates: each member's delta is added to the row the plan found (read in this
        // transaction, or left by the previous batch when nothing was written since), and
        // the whole row is written. Members whose orders changed in ways a delta cannot
        // follow (refunds, orders older than the last order day) are then recomputed from
        // their orders.
        let mut existing: Vec<(String, StatsRow)> = Vec::with_capacity(deltas.len());
        let mut fresh: Vec<(String, StatsRow)> = Vec::new();
        let mut recompute: Vec<String> = Vec::new();
        for (id, delta) in deltas {
            let before = stored.get_mut(&id).and_then(|s| s.stats.take());
            let known = before.is_some();
            let mut row = before.unwrap_or_default();
            if !delta.apply(&mut row) {
                recompute.push(id.clone());
            }
            if known {
                existing.push((id, row));
            } else {
                fresh.push((id, row));
            }
        }
        // In key order, each page of the aggregates is visited once per batch.
        existing.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        fresh.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        tx.update_stats(&existing).await?;
        tx.save_stats(&fresh).await?;
        laps.lap("stats");
        let mut rows: HashMap<String, StatsRow> = existing.into_iter().chain(fresh).collect();
        if !recompute.is_empty() {
            recompute.sort_unstable();
            let ids: Vec<&str> = recompute.iter().map(String::as_str).collect();
            tx.refresh_order_stats(&ids).await?;
            rows.extend(tx.load_stats(&ids).await?);
        }
        laps.lap("refresh_stats");
        let mut members = BatchMembers::with_capacity(rows.len());
        for (id, row) in rows {
            let (time_zone, registered_at) =
                profiles.get(&id).copied().unwrap_or((ws.time_zone, None));
            let (stage, loyalty) = stored
                .get_mut(&id)
                .map_or((None, None), |s| (s.stage.take(), s.loyalty.take()));
            members.insert(
                id,
                MemberNow {
                    time_zone,
                    registered_at,
                    stats: row,
                    stage,
                    loyalty,
                },
            );
        }
        crate::hooks::after_events(tx, ws, &applied, &mut members).await?;
        // The batch's members as they stand once it commits. Members whose every event was
        // rejected or a duplicate keep what the store said, except their loyalty state: a
        // hook may still have credited them (a referrer's reward, a 满返 credit) without
        // their row passing through `members`, so the next batch reads it afresh.
        let mut settled = Vec::with_capacity(slots.len());
        for (external_id, slot) in slots {
            let (stats, stage, loyalty) = match members.remove(&slot.id) {
                Some(now) => (Some(now.stats), now.stage, now.loyalty),
                None => match stored.remove(&slot.id) {
                    Some(s) => (s.stats, s.stage, None),
                    // Created by a rejected row's plan: nothing was stored.
                    None => continue,
                },
            };
            settled.push((
                external_id,
                HotMember {
                    id: slot.id,
                    time_zone: slot.tz,
                    registered_at: slot.registered_at,
                    stats,
                    stage,
                    loyalty,
                },
            ));
        }
        Ok((settled, members.changed_outside()))
    }
}

/// Where a member of the batch stands: stored before, or created by this batch
/// (`new_members[i]`), and whether a stored profile has pending changes
/// (`updated_members[i]`).
#[derive(Clone)]
struct MemberSlot {
    id: String,
    tz: Tz,
    registered_at: Option<Millis>,
    new_index: Option<usize>,
    updated_index: Option<usize>,
}

impl MemberSlot {
    fn stored(h: &HotMember) -> Self {
        MemberSlot {
            id: h.id.clone(),
            tz: h.time_zone,
            registered_at: h.registered_at,
            new_index: None,
            updated_index: None,
        }
    }
}

async fn plan(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    valid: Vec<(usize, Event)>,
    results: &mut [RowResult],
    received_at: Millis,
    hot: &mut HotMembers,
) -> Result<Plan> {
    let laps = crate::laps::Laps::start("batch plan");
    let ids: Vec<&str> = valid.iter().map(|(_, e)| e.id.as_str()).collect();
    let mut seen: HashSet<String> = tx.existing_event_ids(&ids).await?.into_iter().collect();
    laps.lap("event_ids");

    let mut ext: Vec<&str> = valid.iter().map(|(_, e)| e.member.as_str()).collect();
    ext.sort_unstable();
    ext.dedup();
    // Members the cache holds (see `member_cache`), then the others from the store.
    let mut known: Vec<(String, HotMember)> = Vec::with_capacity(ext.len());
    let mut missing: Vec<&str> = Vec::new();
    for external_id in ext {
        match hot.take(external_id) {
            Some(entry) => known.push(entry),
            None => missing.push(external_id),
        }
    }
    for MemberState {
        member,
        stats,
        stage,
    } in tx.member_states(&missing).await?
    {
        let MemberRef {
            id,
            external_id,
            time_zone,
            registered_at,
        } = member;
        let hot = HotMember {
            id,
            time_zone: time_zone.parse::<Tz>().unwrap_or(ws.time_zone),
            registered_at,
            stats,
            stage,
            loyalty: None,
        };
        known.push((external_id, hot));
    }
    let mut members: HashMap<String, MemberSlot> = HashMap::with_capacity(known.len());
    let mut stored: HashMap<String, Stored> = HashMap::with_capacity(known.len());
    for (external_id, h) in known {
        members.insert(external_id, MemberSlot::stored(&h));
        stored.insert(
            h.id,
            Stored {
                stats: h.stats,
                stage: h.stage,
                loyalty: h.loyalty,
            },
        );
    }
    laps.lap("members");

    let mut order_ids: Vec<&str> = valid
        .iter()
        .filter_map(|(_, e)| match &e.effect {
            Effect::OrderPaid { order_id, .. } | Effect::OrderRefunded { order_id, .. } => {
                Some(order_id.as_str())
            }
            _ => None,
        })
        .collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    let mut plan = Plan {
        stored,
        ..Plan::default()
    };
    for row in tx.orders_by_ids(&order_ids).await? {
        plan.orders.insert(
            row.order_id.clone(),
            OrderState {
                row,
                stored: true,
                refund_changed: false,
            },
        );
    }

    laps.lap("orders");
    // Stored members whose profile a `member.registered` of this batch changes: read in
    // one query, each taken by the first event that needs it.
    let mut registering_ids: Vec<&str> = valid
        .iter()
        .filter(|(_, e)| {
            matches!(e.effect, Effect::Registered(_)) && members.contains_key(&e.member)
        })
        .map(|(_, e)| e.member.as_str())
        .collect();
    registering_ids.sort_unstable();
    registering_ids.dedup();
    let mut registering: HashMap<String, MemberRecord> = if registering_ids.is_empty() {
        HashMap::new()
    } else {
        tx.members_for_update(&registering_ids)
            .await?
            .into_iter()
            .map(|m| (m.external_id.clone(), m))
            .collect()
    };

    for (index, ev) in valid {
        let result = &mut results[index];
        if !seen.insert(ev.id.clone()) {
            result.status = RowStatus::Duplicate;
            continue;
        }
        let known = members.get(&ev.member).cloned();
        if known.is_none() && !ev.auto_create && !matches!(ev.effect, Effect::Registered(_)) {
            reject(
                result,
                "member_not_found",
                format!(
                    "no member with external id `{}` (set auto_create to create it)",
                    ev.member
                ),
            );
            seen.remove(&ev.id);
            continue;
        }
        // Checks that can still reject the row come before anything is planned for it, so a
        // rejected row leaves nothing behind (not even an auto-created member).
        if let Err(e) = check_order_effect(
            &ev.effect,
            &plan.orders,
            known.as_ref().map(|s| s.id.as_str()),
        ) {
            result.status = RowStatus::Rejected;
            result.error = Some(e);
            seen.remove(&ev.id);
            continue;
        }
        let slot = match known {
            Some(s) => s,
            None => {
                let mut profile = Profile::empty(ws.time_zone);
                profile.registered_at = Some(ev.when.resolve(ws.time_zone).0);
                let profile_registered_at = profile.registered_at;
                let member_id = id::new_id(id::MEMBER);
                plan.new_members.push(MemberRecord {
                    id: member_id.clone(),
                    workspace_id: ws.id.clone(),
                    external_id: ev.member.clone(),
                    profile,
                    created_at: received_at,
                    updated_at: received_at,
                    store_code: None,
                    staff_code: None,
                });
                let slot = MemberSlot {
                    id: member_id,
                    tz: ws.time_zone,
                    registered_at: profile_registered_at,
                    new_index: Some(plan.new_members.len() - 1),
                    updated_index: None,
                };
                members.insert(ev.member.clone(), slot.clone());
                slot
            }
        };
        result.member_id = Some(slot.id.clone());

        // In the member's zone as the batch found it (a `member.registered` below may
        // change the zone for later events).
        let (occurred_at, local_date) = ev.when.resolve(slot.tz);
        let mut new_order = None;
        let mut event_order = None;
        let mut refunded = false;
        match &ev.effect {
            Effect::Registered(patch) => {
                let record = match (slot.new_index, slot.updated_index) {
                    (Some(i), _) => &mut plan.new_members[i],
                    (None, Some(i)) => &mut plan.updated_members[i],
                    (None, None) => {
                        let Some(stored) = registering.remove(&ev.member) else {
                            return Err(memberops_store::StoreError::NotFound.into());
                        };
                        plan.updated_members.push(stored);
                        let i = plan.updated_members.len() - 1;
                        if let Some(s) = members.get_mut(&ev.member) {
                            s.updated_index = Some(i);
                        }
                        &mut plan.updated_members[i]
                    }
                };
                record.profile.apply(patch, ws.time_zone);
                if record.profile.registered_at.is_none() {
                    record.profile.registered_at =
                        Some(ev.when.resolve(record.profile.time_zone).0);
                }
                record.updated_at = received_at;
                if let Some(s) = members.get_mut(&ev.member) {
                    s.tz = record.profile.time_zone;
                    s.registered_at = record.profile.registered_at;
                }
            }
            Effect::OrderPaid {
                order_id,
                amount,
                channel,
            } => {
                let (paid_at, day) = (occurred_at, iso_day(local_date));
                event_order = Some(EventOrder {
                    order_id: order_id.clone(),
                    local_date: day.clone(),
                    amount_minor: amount.minor,
                    refunded_minor: 0,
                    currency: amount.currency.code().to_owned(),
                    channel: channel.clone(),
                });
                plan.orders.insert(
                    order_id.clone(),
                    OrderState {
                        row: OrderRow {
                            workspace_id: ws.id.clone(),
                            order_id: order_id.clone(),
                            member_id: slot.id.clone(),
                            paid_at,
                            local_date: day.clone(),
                            amount_minor: amount.minor,
                            refunded_minor: 0,
                            currency: amount.currency.code().to_owned(),
                            channel: channel.clone(),
                            event_id: ev.id.clone(),
                        },
                        stored: false,
                        refund_changed: false,
                    },
                );
                new_order = Some((paid_at, day, amount.minor));
            }
            Effect::OrderRefunded { order_id, amount } => {
                if let Some(order) = plan.orders.get_mut(order_id) {
                    let left = order.row.amount_minor - order.row.refunded_minor;
                    order.row.refunded_minor += amount.map(|a| a.minor).unwrap_or(left);
                    order.refund_changed = true;
                }
                refunded = true;
            }
            Effect::None => {}
        }

        let (tz, registered_at) = members
            .get(&ev.member)
            .map_or((slot.tz, slot.registered_at), |s| (s.tz, s.registered_at));
        plan.profiles.insert(slot.id.clone(), (tz, registered_at));
        let d = plan.deltas.entry(slot.id.clone()).or_default();
        d.last_active_at = d.last_active_at.max(occurred_at);
        d.events += 1;
        d.orders.extend(new_order);
        d.recompute |= refunded;
        plan.events.push(NewEvent {
            workspace_id: ws.id.clone(),
            id: ev.id.clone(),
            member_id: slot.id.clone(),
            kind: ev.kind.clone(),
            occurred_at,
            received_at,
            // A map of JSON values always serializes.
            properties: serde_json::to_string(&ev.properties).unwrap_or_default(),
            order: event_order,
        });
        plan.applied.push(AppliedEvent {
            event: ev,
            member_id: slot.id,
            member_tz: slot.tz,
            occurred_at,
            local_date,
            member_created: slot.new_index.is_some(),
        });
    }
    plan.slots = members;
    Ok(plan)
}

/// `YYYY-MM-DD`, without chrono's format-string interpreter (on every order event).
fn iso_day(day: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day())
}

/// What one batch adds to one member's aggregates.
#[derive(Debug, Default)]
struct StatsDelta {
    last_active_at: Millis,
    events: i64,
    /// New paid orders: (paid at, local day, amount).
    orders: Vec<(Millis, String, i64)>,
    /// A refund touched the member's orders: only a recomputation is exact.
    recompute: bool,
}

impl StatsDelta {
    /// Adds the delta to a stored row. Returns false when the order aggregates cannot be
    /// updated incrementally and must be recomputed from the orders.
    fn apply(&self, row: &mut StatsRow) -> bool {
        row.last_active_at = Some(
            row.last_active_at
                .map_or(self.last_active_at, |t| t.max(self.last_active_at)),
        );
        row.event_count += self.events;
        if self.recompute {
            return false;
        }
        let mut orders: Vec<&(Millis, String, i64)> = self.orders.iter().collect();
        orders.sort();
        for (paid_at, day, amount) in orders {
            // An order on a day before the last order day may or may not start a new day:
            // that needs the member's other orders.
            match row.last_order_date.as_deref() {
                Some(last) if day.as_str() < last => return false,
                Some(last) if day.as_str() == last => {}
                _ => row.order_days += 1,
            }
            // Past i64 the stored sums decide (and refuse): never a wrapped total.
            let Some(paid) = row.paid_minor.checked_add(*amount) else {
                return false;
            };
            row.order_count += 1;
            row.paid_minor = paid;
            row.first_order_at = Some(row.first_order_at.map_or(*paid_at, |t| t.min(*paid_at)));
            row.last_order_at = Some(row.last_order_at.map_or(*paid_at, |t| t.max(*paid_at)));
            row.last_order_date = Some(day.clone());
        }
        true
    }
}

/// Whether an order event fits the orders known so far (stored, or earlier in the batch).
fn check_order_effect(
    effect: &Effect,
    orders: &HashMap<String, OrderState>,
    member_id: Option<&str>,
) -> Result<(), RowError> {
    match effect {
        Effect::OrderPaid { order_id, .. } if orders.contains_key(order_id) => Err(RowError::new(
            "order_exists",
            format!("order `{order_id}` was already paid by another event"),
        )),
        Effect::OrderRefunded { order_id, amount } => {
            let Some(order) = orders.get(order_id) else {
                return Err(RowError::new(
                    "order_not_found",
                    format!("order `{order_id}` was never paid"),
                ));
            };
            if Some(order.row.member_id.as_str()) != member_id {
                return Err(RowError::new(
                    "order_member_mismatch",
                    format!("order `{order_id}` belongs to another member"),
                ));
            }
            let left = order.row.amount_minor - order.row.refunded_minor;
            if left <= 0 {
                return Err(RowError::new(
                    "order_fully_refunded",
                    format!("order `{order_id}` is already fully refunded"),
                ));
            }
            if amount.is_some_and(|a| a.minor > left) {
                return Err(RowError::new(
                    "refund_exceeds_order",
                    format!("only {left} minor units of order `{order_id}` are left to refund"),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn reject(result: &mut RowResult, code: &str, message: impl Into<String>) {
    result.status = RowStatus::Rejected;
    result.error = Some(RowError::new(code, message));
}

#[cfg(test)]
mod tests {
    use chrono::{Days, NaiveDate};

    #[test]
    fn iso_day_matches_chrono_for_every_day_of_four_centuries() {
        let mut day = NaiveDate::from_ymd_opt(1800, 1, 1).expect("valid date");
        let end = NaiveDate::from_ymd_opt(2200, 12, 31).expect("valid date");
        while day <= end {
            assert_eq!(super::iso_day(day), day.format("%Y-%m-%d").to_string());
            day = day + Days::new(1);
        }
    }
}
