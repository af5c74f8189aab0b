//! Applying events: the one write path for the API, imports, demo data and (later) SDK
//! ingestion. A batch is validated, planned against what is stored, and written in one
//! transaction.
//!
//! Batch semantics (documented in docs/events.md): rows are applied in the order given.
//! Each row ends `accepted`, `duplicate` (its id is already stored, or repeats an earlier
//! row of the batch: nothing changes) or `rejected` (with the reason). By default the
//! accepted rows land together and the rejected ones are reported; with `atomic`, one
//! rejected row means nothing lands and the accepted rows are reported `skipped`.

use std::collections::{HashMap, HashSet};

use chrono_tz::Tz;
use memberops_core::event::{Effect, Event, EventIn};
use memberops_core::id;
use memberops_core::member::Profile;
use memberops_core::time::{Millis, When, now_millis};
use memberops_core::{FieldError, Invalid};
use memberops_store::{
    MemberRecord, MemberRef, NewEvent, OrderRow, StatsAddition, StatsRow, Store, WriteTx,
};
use serde::Serialize;

use crate::error::Result;
use crate::hooks::{AppliedEvent, BatchMembers, MemberNow};
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Stable machine-readable reason, e.g. `member_not_found`, `invalid_amount`.
    pub code: String,
    pub message: String,
    /// Field-level problems, when the row failed validation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl RowError {
    fn new(code: &str, message: impl Into<String>) -> Self {
        RowError {
            code: code.to_owned(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn invalid(e: Invalid) -> Self {
        RowError {
            code: e.code().to_owned(),
            message: e.to_string(),
            fields: e.0,
        }
    }
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
    let (mut results, valid) = validate_rows(events, ws);

    let mut tx = store.begin_write(&ws.id).await?;
    let planning = std::time::Instant::now();
    let rows = valid.len();
    let plan = plan(tx.as_mut(), ws, valid, &mut results, received_at).await?;
    tracing::debug!(
        elapsed_ms = planning.elapsed().as_secs_f64() * 1e3,
        rows,
        "batch planned"
    );
    let rejected = results
        .iter()
        .filter(|r| r.status == RowStatus::Rejected)
        .count();
    let committed = !(opts.atomic && rejected > 0);
    let members_created = if committed { plan.new_members.len() } else { 0 };
    if committed {
        plan.write(tx.as_mut(), ws).await?;
        let committing = std::time::Instant::now();
        tx.commit().await?;
        tracing::debug!(
            elapsed_ms = committing.elapsed().as_secs_f64() * 1e3,
            "batch committed"
        );
    } else {
        drop(tx);
        for r in results
            .iter_mut()
            .filter(|r| r.status == RowStatus::Accepted)
        {
            r.status = RowStatus::Skipped;
        }
    }
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
    let plan = plan(tx, ws, valid, &mut results, received_at).await?;
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

/// Checks every row; the valid ones are returned with their positions.
fn validate_rows(events: Vec<EventIn>, ws: &Workspace) -> (Vec<RowResult>, Vec<(usize, Event)>) {
    let now = When::Instant(chrono::Utc::now());
    let mut results: Vec<RowResult> = Vec::with_capacity(events.len());
    let mut valid: Vec<(usize, Event)> = Vec::with_capacity(events.len());
    for (index, e) in events.into_iter().enumerate() {
        let id = e.id.clone();
        match e.validate(now, ws.currency) {
            Ok(ev) => {
                results.push(RowResult {
                    index,
                    id,
                    status: RowStatus::Accepted,
                    member_id: None,
                    error: None,
                });
                valid.push((index, ev));
            }
            Err(err) => results.push(RowResult {
                index,
                id,
                status: RowStatus::Rejected,
                member_id: None,
                error: Some(RowError::invalid(err)),
            }),
        }
    }

    (results, valid)
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
}

impl Plan {
    async fn write(self, tx: &mut dyn WriteTx, ws: &Workspace) -> Result<()> {
        let started = std::time::Instant::now();
        let lap = |what: &str| {
            tracing::debug!(
                step = what,
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "batch write"
            )
        };
        tx.insert_members(&self.new_members).await?;
        for m in &self.updated_members {
            tx.update_member(m).await?;
        }
        tx.insert_events(&self.events).await?;
        lap("events");
        let mut new_orders = Vec::new();
        let mut refunds = Vec::new();
        for o in self.orders.into_values() {
            if !o.stored {
                new_orders.push(o.row);
            } else if o.refund_changed {
                refunds.push((o.row.order_id, o.row.refunded_minor));
            }
        }
        // In key order, each page of the orders key is visited once per batch.
        new_orders.sort_unstable_by(|a, b| a.order_id.cmp(&b.order_id));
        tx.insert_orders(&new_orders).await?;
        tx.set_refunded(&refunds).await?;
        lap("orders");
        // Aggregates: each member's delta is added to the stored row in SQL (one write per
        // member, no read); members new to the aggregates are inserted whole. Members whose
        // orders changed in ways a delta cannot follow (refunds, orders older than the last
        // order day) are then recomputed from their orders.
        let mut additions: Vec<StatsAddition> = Vec::with_capacity(self.deltas.len());
        let mut recompute: HashSet<String> = HashSet::new();
        for (id, delta) in self.deltas {
            let mut add = StatsRow::default();
            let incremental = delta.apply(&mut add);
            if !incremental {
                recompute.insert(id.clone());
            }
            additions.push(StatsAddition {
                member_id: id,
                add,
                first_order_date: incremental
                    .then(|| delta.orders.iter().map(|o| &o.1).min().cloned())
                    .flatten(),
            });
        }
        additions.sort_unstable_by(|a, b| a.member_id.cmp(&b.member_id));
        let mut rows: HashMap<String, StatsRow> =
            tx.add_to_stats(&additions).await?.into_iter().collect();
        lap("add_stats");
        let mut fresh = Vec::new();
        for a in additions {
            match rows.get(&a.member_id) {
                Some(row) if row.order_days < 0 => {
                    recompute.insert(a.member_id);
                }
                Some(_) => {}
                None => fresh.push((a.member_id, a.add)),
            }
        }
        tx.save_stats(&fresh).await?;
        rows.extend(fresh);
        lap("save_stats");
        let mut recompute: Vec<&str> = recompute.iter().map(String::as_str).collect();
        recompute.sort_unstable();
        tx.refresh_order_stats(&recompute).await?;
        if !recompute.is_empty() {
            rows.extend(tx.load_stats(&recompute).await?);
        }
        lap("refresh_stats");
        let mut members = BatchMembers::with_capacity(rows.len());
        for (id, row) in rows {
            let (time_zone, registered_at) = self
                .profiles
                .get(&id)
                .copied()
                .unwrap_or((ws.time_zone, None));
            members.insert(
                id,
                MemberNow {
                    time_zone,
                    registered_at,
                    stats: row,
                },
            );
        }
        crate::hooks::after_events(tx, ws, &self.applied, &members).await?;
        Ok(())
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

async fn plan(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    valid: Vec<(usize, Event)>,
    results: &mut [RowResult],
    received_at: Millis,
) -> Result<Plan> {
    let ids: Vec<&str> = valid.iter().map(|(_, e)| e.id.as_str()).collect();
    let mut seen: HashSet<String> = tx.existing_event_ids(&ids).await?;

    let mut ext: Vec<&str> = valid.iter().map(|(_, e)| e.member.as_str()).collect();
    ext.sort_unstable();
    ext.dedup();
    let mut members: HashMap<String, MemberSlot> = tx
        .members_by_external_ids(&ext)
        .await?
        .into_iter()
        .map(
            |MemberRef {
                 id,
                 external_id,
                 time_zone,
                 registered_at,
             }| {
                let tz = time_zone.parse::<Tz>().unwrap_or(ws.time_zone);
                (
                    external_id,
                    MemberSlot {
                        id,
                        tz,
                        registered_at,
                        new_index: None,
                        updated_index: None,
                    },
                )
            },
        )
        .collect();

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
    let mut plan = Plan::default();
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
                let (paid_at, day) = ev.when.resolve(slot.tz);
                let day = iso_day(day);
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
                let d = plan.deltas.entry(slot.id.clone()).or_default();
                d.orders.push((paid_at, day, amount.minor));
            }
            Effect::OrderRefunded { order_id, amount } => {
                if let Some(order) = plan.orders.get_mut(order_id) {
                    let left = order.row.amount_minor - order.row.refunded_minor;
                    order.row.refunded_minor += amount.map(|a| a.minor).unwrap_or(left);
                    order.refund_changed = true;
                }
                plan.deltas.entry(slot.id.clone()).or_default().recompute = true;
            }
            Effect::None => {}
        }

        let (occurred_at, local_date) = ev.when.resolve(slot.tz);
        let (tz, registered_at) = members
            .get(&ev.member)
            .map_or((slot.tz, slot.registered_at), |s| (s.tz, s.registered_at));
        plan.profiles.insert(slot.id.clone(), (tz, registered_at));
        let d = plan.deltas.entry(slot.id.clone()).or_default();
        d.last_active_at = d.last_active_at.max(occurred_at);
        d.events += 1;
        plan.events.push(NewEvent {
            workspace_id: ws.id.clone(),
            id: ev.id.clone(),
            member_id: slot.id.clone(),
            kind: ev.kind.clone(),
            occurred_at,
            received_at,
            // A map of JSON values always serializes.
            properties: serde_json::to_string(&ev.properties).unwrap_or_default(),
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
            row.order_count += 1;
            row.paid_minor += amount;
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
