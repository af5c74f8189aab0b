//! Earning as events land: called from `hooks::after_events` inside the batch transaction.
//!
//! Batched: the state of every member of the batch is loaded with a handful of `IN (…)`
//! queries, the events are evaluated in batch order in memory, and the ledger lines, lots
//! and cached balances are written with multi-row statements at the end.
//!
//! Tier upgrades are decided once per member per batch, after its events: the member's
//! window growth (the measure reviews use) is then checked against the thresholds at every
//! moment from the batch's earliest growth until now, whatever the events' dates, and only
//! for members whose lifetime growth could reach the next tier (window growth never
//! exceeds it). Events later in the same batch therefore earn at the tier the member had
//! when the batch began; events sent one by one always see the latest tier.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use memberops_core::event::{self as ev, Effect};
use memberops_core::time::{Millis, now_millis};
use memberops_loyalty::points::{Earning, OrderEarning, PointsAccount, refund_reversal};
use memberops_loyalty::rules::{EventFacts, MemberState, RuleUsage};
use memberops_loyalty::tiers::{self, GrowthEntry, TierChange};
use memberops_loyalty::{Award, Program, checkin, evaluate, referral};
use memberops_store::{
    CheckinRow, GrowthLine, LoyaltyMemberRow, LoyaltyOrderRow, NewEvent, PointsLine, ReferralRow,
    UsageRow, WriteTx,
};

mod orders;
mod referrals;
mod upgrade;

use crate::error::Result;
use crate::hooks::{AppliedEvent, BatchMembers};
use crate::loyalty::{line, lot_from_row, lot_to_row, new_state, program_in_tx};
use crate::workspace::Workspace;
use referrals::qualify_referral;
pub(crate) use upgrade::tier_event;
use upgrade::{rule_trials, upgrades};

/// One member's loyalty state while the batch is evaluated.
struct Acc {
    row: LoyaltyMemberRow,
    tz: Tz,
    account: PointsAccount,
    /// Remaining of lots as loaded, to write back only what changed.
    loaded: HashMap<String, i64>,
    /// Growth lines of this batch, for the upgrade check.
    batch_growth: Vec<GrowthEntry>,
    /// The last event that added growth: (event id, instant).
    last_growth_event: Option<(String, Millis)>,
}

struct Out {
    points: Vec<PointsLine>,
    growth: Vec<GrowthLine>,
    usage: HashMap<(String, String, String), UsageRow>,
    orders: HashMap<String, LoyaltyOrderRow>,
    checkins: Vec<CheckinRow>,
    referrals: HashMap<String, ReferralRow>,
    events: Vec<NewEvent>,
    /// Temporary tiers earning rules grant: (member, the rule's reward, rule id).
    trials: Vec<(String, memberops_loyalty::rules::TrialReward, String)>,
}

fn day_key(d: NaiveDate) -> String {
    format!("d:{}", d.format("%Y-%m-%d"))
}

fn month_key(d: NaiveDate) -> String {
    format!("m:{:04}-{:02}", d.year(), d.month())
}

fn amount_of(e: &AppliedEvent) -> Option<i64> {
    match &e.event.effect {
        Effect::OrderPaid { amount, .. } => Some(amount.minor),
        Effect::OrderRefunded { amount, .. } => amount.map(|a| a.minor),
        Effect::None | Effect::Registered(_) => e
            .event
            .properties
            .get("amount_minor")
            .and_then(|v| v.as_i64()),
    }
}

fn facts(e: &AppliedEvent) -> EventFacts {
    let (channel, order_id) = match &e.event.effect {
        Effect::OrderPaid {
            order_id, channel, ..
        } => (channel.clone(), Some(order_id.clone())),
        _ => (
            e.event
                .properties
                .get("channel")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            None,
        ),
    };
    let categories = match e.event.properties.get("categories") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    EventFacts {
        event_id: e.event.id.clone(),
        event_type: e.event.kind.clone(),
        occurred_at: e.occurred_at,
        amount_minor: amount_of(e),
        channel,
        categories,
        order_id,
    }
}

/// Awards points and growth for the batch's accepted events, reverses refunded orders,
/// records check-ins and referrals, and upgrades tiers.
pub async fn on_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
    batch: &mut BatchMembers,
) -> Result<()> {
    if applied.is_empty() {
        return Ok(());
    }
    let program = program_in_tx(tx).await?;
    if !program.enabled {
        return Ok(());
    }
    let laps = crate::laps::Laps::start("loyalty hook");
    let rule_types: HashSet<&str> = program
        .rules
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.event_type.as_str())
        .collect();
    let relevant: Vec<&AppliedEvent> = applied
        .iter()
        .filter(|e| {
            rule_types.contains(e.event.kind.as_str())
                || matches!(
                    e.event.effect,
                    Effect::OrderRefunded { .. } | Effect::OrderPaid { .. } | Effect::Registered(_)
                )
                || e.event.kind == ev::CHECKIN
        })
        .collect();
    if relevant.is_empty() {
        return Ok(());
    }

    // Referrals: bindings of invitees in the batch, and new ones from invite codes.
    let mut referrals: HashMap<String, ReferralRow> = HashMap::new();
    let invitees: Vec<&str> = unique(
        relevant
            .iter()
            .filter(|e| {
                matches!(
                    e.event.effect,
                    Effect::OrderPaid { .. } | Effect::Registered(_)
                )
            })
            .map(|e| e.member_id.as_str()),
    );
    for r in tx.referrals_of(&invitees).await? {
        referrals.insert(r.invitee_id.clone(), r);
    }
    let mut new_bindings: Vec<ReferralRow> = Vec::new();
    for e in &relevant {
        if !matches!(e.event.effect, Effect::Registered(_)) {
            continue;
        }
        let Some(code) = e
            .event
            .properties
            .get("invite_code")
            .and_then(|v| v.as_str())
        else {
            continue;
        };
        let Ok(code) = referral::parse_invite_code(code) else {
            continue;
        };
        let Some(referrer) = tx.member_by_invite_code(&code).await? else {
            continue;
        };
        let existing = referrals.get(&e.member_id).map(|r| r.referrer_id.as_str());
        // Refused bindings (self-referral, already referred) simply do not happen; the
        // registration itself stands.
        if let Ok(b) = referral::bind(&referrer, &e.member_id, existing, false, e.occurred_at) {
            let row = ReferralRow {
                invitee_id: b.invitee,
                referrer_id: b.referrer,
                bound_at: b.bound_at,
                status: "pending".into(),
                qualified_at: None,
                referrer_paid: false,
            };
            referrals.insert(row.invitee_id.clone(), row.clone());
            new_bindings.push(row);
        }
    }

    // Member states: everyone with a relevant event, and referrers who may be rewarded.
    let mut ids: Vec<&str> = relevant.iter().map(|e| e.member_id.as_str()).collect();
    ids.extend(
        referrals
            .values()
            .filter(|r| r.status == "pending")
            .map(|r| r.referrer_id.as_str()),
    );
    let ids = unique(ids.into_iter());
    let mut accs: HashMap<String, Acc> = HashMap::with_capacity(ids.len());
    // States the batch already knows (see `member_cache`), then the others from the store.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for id in ids {
        // Taken: every account read here is written back below, and put back then.
        match batch.get_mut(id).and_then(|m| m.loyalty.take()) {
            Some(row) => known.push(row),
            None => unknown.push(id),
        }
    }
    known.extend(tx.loyalty_members(&unknown).await?);
    for row in known {
        let tz = row.time_zone.parse::<Tz>().unwrap_or(ws.time_zone);
        accs.insert(
            row.member_id.clone(),
            Acc {
                row,
                tz,
                account: PointsAccount::default(),
                loaded: HashMap::new(),
                batch_growth: Vec::new(),
                last_growth_event: None,
            },
        );
    }
    laps.lap("accounts_read");
    let mut new_codes = Vec::new();
    for e in &relevant {
        if !accs.contains_key(&e.member_id) {
            accs.insert(
                e.member_id.clone(),
                fresh(&program, &e.member_id, e.member_tz, e.occurred_at),
            );
            new_codes.push(e.member_id.clone());
        }
    }
    for r in referrals.values() {
        if !accs.contains_key(&r.referrer_id) {
            accs.insert(
                r.referrer_id.clone(),
                fresh(&program, &r.referrer_id, ws.time_zone, r.bound_at),
            );
        }
    }
    for acc in accs.values_mut() {
        acc.account.debt = acc.row.points_debt;
    }
    // The member's zone as the batch knows it (the latest profile).
    for e in &relevant {
        if let Some(acc) = accs.get_mut(&e.member_id)
            && acc.tz != e.member_tz
        {
            acc.tz = e.member_tz;
            acc.row.time_zone = e.member_tz.name().to_owned();
        }
    }
    // Lots are only needed where a refund takes points back.
    let refunders: Vec<&str> = unique(
        relevant
            .iter()
            .filter(|e| matches!(e.event.effect, Effect::OrderRefunded { .. }))
            .map(|e| e.member_id.as_str()),
    );
    for lot in tx.open_lots(&refunders).await? {
        if let Some(acc) = accs.get_mut(&lot.member_id) {
            acc.loaded.insert(lot.id.clone(), lot.remaining);
            acc.account.lots.push(lot_from_row(&lot));
        }
    }

    // Caps: usage of capped rules on the events' days and months.
    let capped: HashSet<&str> = program
        .rules
        .iter()
        .filter(|r| has_caps(r))
        .map(|r| r.id.as_str())
        .collect();
    let capped_types: HashSet<&str> = program
        .rules
        .iter()
        .filter(|r| has_caps(r))
        .map(|r| r.event_type.as_str())
        .collect();
    let mut out = Out {
        points: Vec::new(),
        growth: Vec::new(),
        usage: HashMap::new(),
        orders: HashMap::new(),
        checkins: Vec::new(),
        referrals: HashMap::new(),
        events: Vec::new(),
        trials: Vec::new(),
    };
    let capped_events: Vec<&&AppliedEvent> = relevant
        .iter()
        .filter(|e| capped_types.contains(e.event.kind.as_str()))
        .collect();
    if !capped_events.is_empty() {
        let members = unique(capped_events.iter().map(|e| e.member_id.as_str()));
        let mut periods: Vec<String> = vec!["all".into()];
        for e in &capped_events {
            periods.push(day_key(e.local_date));
            periods.push(month_key(e.local_date));
        }
        periods.sort();
        periods.dedup();
        let p: Vec<&str> = periods.iter().map(String::as_str).collect();
        for u in tx.loyalty_usage(&members, &p).await? {
            out.usage.insert(
                (u.member_id.clone(), u.rule_id.clone(), u.period.clone()),
                u,
            );
        }
    }

    // Orders being refunded, and where their refunds now stand.
    let refunded: Vec<&str> = unique(relevant.iter().filter_map(|e| match &e.event.effect {
        Effect::OrderRefunded { order_id, .. } => Some(order_id.as_str()),
        _ => None,
    }));
    for o in tx.loyalty_orders(&refunded).await? {
        out.orders.insert(o.order_id.clone(), o);
    }
    let refunded_now: HashMap<String, i64> = tx
        .orders_by_ids(&refunded)
        .await?
        .into_iter()
        .map(|o| (o.order_id, o.refunded_minor))
        .collect();
    let last_refund: HashMap<&str, &str> = relevant
        .iter()
        .filter_map(|e| match &e.event.effect {
            Effect::OrderRefunded { order_id, .. } => {
                Some((order_id.as_str(), e.event.id.as_str()))
            }
            _ => None,
        })
        .collect();
    let mut order_members: Vec<&str> = Vec::new();

    // Check-ins: the latest stored one per member.
    let checkers = unique(
        relevant
            .iter()
            .filter(|e| e.event.kind == ev::CHECKIN)
            .map(|e| e.member_id.as_str()),
    );
    let mut last_checkin: HashMap<String, (NaiveDate, u32)> = HashMap::new();
    for c in tx.last_checkins(&checkers).await? {
        if let Ok(d) = NaiveDate::parse_from_str(&c.local_date, "%Y-%m-%d") {
            last_checkin.insert(
                c.member_id.clone(),
                (d, u32::try_from(c.streak).unwrap_or(0)),
            );
        }
    }

    let order_times = orders::order_times(tx, &program, &relevant).await?;

    laps.lap("reads");
    for e in &relevant {
        let mut awards: Vec<Award> = Vec::new();
        if e.event.kind == ev::CHECKIN {
            let Some(streak) =
                checkin::streak_after(last_checkin.get(&e.member_id).copied(), e.local_date)
            else {
                continue; // A second check-in the same local day earns nothing.
            };
            last_checkin.insert(e.member_id.clone(), (e.local_date, streak));
            out.checkins.push(CheckinRow {
                member_id: e.member_id.clone(),
                local_date: e.local_date.format("%Y-%m-%d").to_string(),
                at: e.occurred_at,
                event_id: e.event.id.clone(),
                streak: i64::from(streak),
            });
            awards.extend(checkin::streak_awards(&program, streak, &e.event.id));
        }
        if let Some(acc) = accs.get(&e.member_id) {
            let f = facts(e);
            let state = MemberState {
                tier: acc.row.tier.clone(),
                tz: e.member_tz,
                order_times: order_times.get(&e.member_id).cloned().unwrap_or_default(),
                usage: usage_for(
                    &program,
                    &capped,
                    &out.usage,
                    &e.member_id,
                    e.local_date,
                    &e.event.kind,
                ),
            };
            let mut rule_awards = evaluate(&program, &f, &state);
            rule_awards.append(&mut awards);
            awards = rule_awards;
        }
        let order_id = match &e.event.effect {
            Effect::OrderPaid { order_id, .. } => Some(order_id.as_str()),
            _ => None,
        };
        for a in &awards {
            grant(
                &program,
                &mut accs,
                &mut out,
                &e.member_id,
                a,
                e.occurred_at,
                e.local_date,
                order_id,
                &capped,
            )?;
        }
        if let Effect::OrderPaid {
            order_id, amount, ..
        } = &e.event.effect
        {
            let (p, g) = awards
                .iter()
                .fold((0, 0), |(p, g), a| (p + a.points, g + a.growth));
            if p > 0 || g > 0 {
                out.orders.insert(
                    order_id.clone(),
                    LoyaltyOrderRow {
                        order_id: order_id.clone(),
                        member_id: e.member_id.clone(),
                        paid_minor: amount.minor,
                        points_earned: p,
                        growth_earned: g,
                        points_reversed: 0,
                        growth_reversed: 0,
                    },
                );
            }
            order_members.push(&e.member_id);
            qualify_referral(
                tx,
                &program,
                ws,
                &mut accs,
                &mut out,
                &mut referrals,
                e,
                &capped,
            )
            .await?;
        }
        if matches!(e.event.effect, Effect::Registered(_)) {
            qualify_referral(
                tx,
                &program,
                ws,
                &mut accs,
                &mut out,
                &mut referrals,
                e,
                &capped,
            )
            .await?;
        }
        if let Effect::OrderRefunded { order_id, .. } = &e.event.effect
            && last_refund.get(order_id.as_str()) == Some(&e.event.id.as_str())
        {
            reverse(
                &program,
                &mut accs,
                &mut out,
                e,
                order_id,
                refunded_now.get(order_id).copied().unwrap_or(0),
            )?;
        }
    }

    laps.lap("earn");
    let received = now_millis();
    let changes = upgrades(tx, &program, &mut accs, received).await?;
    for (member_id, cause, c) in changes {
        out.events.push(tier_event(
            ws,
            &member_id,
            &format!("tier.changed:{cause}"),
            &c,
            received,
        ));
    }

    // The upgrades go in the log before the trials rules grant on top of them.
    tx.insert_events(&std::mem::take(&mut out.events)).await?;
    rule_trials(
        tx,
        ws,
        &program,
        &mut accs,
        std::mem::take(&mut out.trials),
        received,
    )
    .await?;
    laps.lap("upgrades");
    // Writes.
    tx.insert_growth_lines(&out.growth).await?;
    tx.insert_points_lines(&out.points).await?;
    laps.lap("ledgers");
    let (mut new_lots, mut changed_lots, mut members) = (Vec::new(), Vec::new(), Vec::new());
    for acc in accs.into_values() {
        for l in &acc.account.lots {
            match acc.loaded.get(&l.id) {
                None => new_lots.push(lot_to_row(&acc.row.member_id, l)),
                Some(r) if *r != l.remaining => {
                    changed_lots.push(lot_to_row(&acc.row.member_id, l))
                }
                Some(_) => {}
            }
        }
        let mut row = acc.row;
        row.points_debt = acc.account.debt;
        members.push(row);
    }
    tx.insert_lots(&new_lots).await?;
    tx.update_lots(&changed_lots).await?;
    laps.lap("lots");
    tx.upsert_loyalty_members(&members).await?;
    for row in members {
        // A member outside the batch: a referrer rewarded for an invitee's event.
        let id = row.member_id.clone();
        batch.loyalty_written(&id, Some(row));
    }
    laps.lap("accounts");
    let usage: Vec<UsageRow> = out.usage.into_values().collect();
    tx.upsert_loyalty_usage(&usage).await?;
    let orders: Vec<LoyaltyOrderRow> = out.orders.into_values().collect();
    tx.upsert_loyalty_orders(&orders).await?;
    laps.lap("orders");
    tx.insert_checkins(&out.checkins).await?;
    let mut refs: Vec<ReferralRow> = new_bindings
        .into_iter()
        .filter(|r| !out.referrals.contains_key(&r.invitee_id))
        .collect();
    refs.extend(out.referrals.into_values());
    tx.upsert_referrals(&refs).await?;
    let codes: Vec<(String, String)> = new_codes
        .into_iter()
        .map(|m| {
            let c = referral::invite_code(&m, &ws.id, 0);
            (m, c)
        })
        .collect();
    tx.insert_invite_codes(&codes).await?;
    laps.lap("rest");
    Ok(())
}

fn fresh(program: &Program, member_id: &str, tz: Tz, at: Millis) -> Acc {
    Acc {
        row: new_state(program, member_id, tz, at),
        tz,
        account: PointsAccount::default(),
        loaded: HashMap::new(),
        batch_growth: Vec::new(),
        last_growth_event: None,
    }
}

fn unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn has_caps(r: &memberops_loyalty::rules::EarningRule) -> bool {
    let c = &r.caps;
    c.daily_growth.is_some()
        || c.daily_points.is_some()
        || c.monthly_growth.is_some()
        || c.monthly_points.is_some()
        || c.daily_count.is_some()
        || c.lifetime_count.is_some()
}

fn usage_for(
    program: &Program,
    capped: &HashSet<&str>,
    usage: &HashMap<(String, String, String), UsageRow>,
    member: &str,
    day: NaiveDate,
    kind: &str,
) -> BTreeMap<String, RuleUsage> {
    let mut m = BTreeMap::new();
    for r in program
        .rules
        .iter()
        .filter(|r| r.event_type == kind && capped.contains(r.id.as_str()))
    {
        let get = |p: String| {
            usage
                .get(&(member.to_owned(), r.id.clone(), p))
                .map(|u| memberops_loyalty::rules::Earned {
                    growth: u.growth,
                    points: u.points,
                    count: u32::try_from(u.count).unwrap_or(u32::MAX),
                })
                .unwrap_or_default()
        };
        m.insert(
            r.id.clone(),
            RuleUsage {
                day: get(day_key(day)),
                month: get(month_key(day)),
                lifetime: get("all".into()),
            },
        );
    }
    m
}

/// Books one award: a growth line, a lot with its earn line (and debt settlement), usage.
#[allow(clippy::too_many_arguments)]
fn grant(
    program: &Program,
    accs: &mut HashMap<String, Acc>,
    out: &mut Out,
    member_id: &str,
    a: &Award,
    at: Millis,
    day: NaiveDate,
    order_id: Option<&str>,
    capped: &HashSet<&str>,
) -> Result<()> {
    let Some(acc) = accs.get_mut(member_id) else {
        return Ok(());
    };
    if a.growth != 0 {
        out.growth.push(GrowthLine {
            seq: 0,
            member_id: member_id.to_owned(),
            at,
            growth: a.growth,
            kind: "earn".into(),
            event_id: a.event_id.clone(),
            rule_id: Some(a.rule_id.clone()),
            order_id: order_id.map(str::to_owned),
        });
        acc.row.growth_total = add(acc.row.growth_total, a.growth, "growth")?;
        acc.batch_growth.push(GrowthEntry {
            at,
            growth: a.growth,
            reference: a.event_id.clone(),
            rule_id: Some(a.rule_id.clone()),
        });
        acc.last_growth_event = Some((a.event_id.clone(), at));
    }
    let lot_id = format!("{}/{}", a.event_id, a.rule_id);
    if let Some(earning) = Earning::from_award(a, lot_id, at, order_id.map(str::to_owned)) {
        let entries = acc.account.earn(&program.points, earning, acc.tz)?;
        acc.account.apply(&entries)?;
        for e in &entries {
            acc.row.points_balance = add(acc.row.points_balance, e.points, "points balance")?;
            out.points
                .push(line(member_id, e, Some(&a.rule_id), order_id, None));
        }
    }
    acc.row.updated_at = acc.row.updated_at.max(at);
    if let Some(t) = &a.trial {
        out.trials
            .push((member_id.to_owned(), t.clone(), a.rule_id.clone()));
    }
    if capped.contains(a.rule_id.as_str()) {
        for p in [day_key(day), month_key(day), "all".to_owned()] {
            let u = out
                .usage
                .entry((member_id.to_owned(), a.rule_id.clone(), p.clone()))
                .or_insert(UsageRow {
                    member_id: member_id.to_owned(),
                    rule_id: a.rule_id.clone(),
                    period: p,
                    growth: 0,
                    points: 0,
                    count: 0,
                });
            u.growth += a.growth;
            u.points += a.points;
            u.count += 1;
        }
    }
    Ok(())
}

/// Takes back, in proportion to what is now refunded of the order, the points and growth
/// it earned (cumulative, so several refunds in one batch add up exactly). Either the
/// order's reversal, its ledger lines and the balances all change, or the error goes up and
/// the batch's transaction is rolled back: a reversal is never recorded without its lines.
fn reverse(
    program: &Program,
    accs: &mut HashMap<String, Acc>,
    out: &mut Out,
    e: &AppliedEvent,
    order_id: &str,
    refunded_total: i64,
) -> Result<()> {
    let Some(o) = out.orders.get_mut(order_id) else {
        return Ok(());
    };
    if o.paid_minor <= 0 || refunded_total <= 0 {
        return Ok(());
    }
    let earning = OrderEarning {
        paid_minor: o.paid_minor,
        points_earned: o.points_earned,
        growth_earned: o.growth_earned,
        refunded_minor: 0,
        points_reversed: o.points_reversed,
        growth_reversed: o.growth_reversed,
    };
    let r = refund_reversal(&earning, refunded_total.min(o.paid_minor))?;
    let Some(acc) = accs.get_mut(&e.member_id) else {
        return Ok(());
    };
    // Everything is computed first and applied only when all of it fits.
    let points_reversed = add(o.points_reversed, r.points, "points reversed")?;
    let growth_reversed = add(o.growth_reversed, r.growth, "growth reversed")?;
    let growth_total = sub(acc.row.growth_total, r.growth, "growth")?;
    let mut account = acc.account.clone();
    let mut balance = acc.row.points_balance;
    let mut lines = Vec::new();
    if r.points > 0 {
        let entries = account.reverse_order(
            &program.points,
            order_id,
            r.points,
            e.occurred_at,
            &e.event.id,
        );
        account.apply(&entries)?;
        for en in &entries {
            balance = add(balance, en.points, "points balance")?;
            lines.push(line(&e.member_id, en, None, Some(order_id), None));
        }
    }
    acc.account = account;
    acc.row.points_balance = balance;
    out.points.extend(lines);
    if r.growth > 0 {
        out.growth.push(GrowthLine {
            seq: 0,
            member_id: e.member_id.clone(),
            at: e.occurred_at,
            growth: -r.growth,
            kind: "reverse".into(),
            event_id: e.event.id.clone(),
            rule_id: None,
            order_id: Some(order_id.to_owned()),
        });
        acc.row.growth_total = growth_total;
        acc.batch_growth.push(GrowthEntry {
            at: e.occurred_at,
            growth: -r.growth,
            reference: e.event.id.clone(),
            rule_id: None,
        });
    }
    o.points_reversed = points_reversed;
    o.growth_reversed = growth_reversed;
    Ok(())
}

fn add(a: i64, b: i64, what: &'static str) -> Result<i64> {
    a.checked_add(b)
        .ok_or_else(|| memberops_loyalty::LoyaltyError::BalanceOverflow(what).into())
}

fn sub(a: i64, b: i64, what: &'static str) -> Result<i64> {
    a.checked_sub(b)
        .ok_or_else(|| memberops_loyalty::LoyaltyError::BalanceOverflow(what).into())
}
