//! Temporary tiers (体验会员): an operator grants a member a higher tier for some days
//! (`POST /v1/members/{id}/tier:trial`); the member holds it, with its privileges, until
//! local midnight after the last day, and then returns to the tier they earned (growth
//! earned meanwhile counts). The rules are `memberops_loyalty::trial`'s.
//!
//! Each grant and each end is a `tier.changed` event (with a `trial` property) and an
//! audit row, in the transaction of the change. Ends run from the jobs table: a job due at
//! the trial's end is queued with the grant, and the daily jobs sweep any trial left due,
//! so a lost enqueue or a restart never leaves a member on trial for good.

use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::event::SystemEvent;
use memberops_core::time::{Millis, millis_to_rfc3339, now_millis};
use memberops_loyalty::calendar::local_date;
use memberops_loyalty::tiers::{self, GrowthEntry, TierChange};
use memberops_loyalty::trial::{self, GrantRefusal, Trial, TrialEnd};
use memberops_store::{AuditRow, LoyaltyMemberRow, NewJob, Store, TierTrialRow, WriteTx};
use serde::{Deserialize, Serialize};

use super::ops::{begin, finish, refused, resolve, state};
use super::program_in_tx;
use crate::error::{AppError, Result};
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

const OP: &str = "tier.trial";

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialIn {
    /// The tier to hold (a code of the program), above the member's tier.
    #[schema(example = "gold")]
    pub tier: String,
    /// 1–366: the trial ends at local midnight this many days after today (member's zone).
    #[schema(example = 7)]
    pub days: u32,
    /// Why (kept in the audit); required.
    pub reason: String,
    pub idempotency_key: String,
}

/// A trial as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrialOut {
    pub id: String,
    pub member_id: String,
    pub tier: String,
    /// The tier earned before the trial (what the member returns to, unless growth earned
    /// meanwhile reaches higher).
    pub earned_tier: String,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339: local midnight after the last day, in the member's zone.
    pub ends_at: String,
    pub reason: String,
    /// `active`, `returned`, `earned` (reached on their own) or `superseded` (a higher tier
    /// earned meanwhile).
    pub status: String,
    pub ended_at: Option<String>,
    /// The tier held once the trial ended.
    pub ended_tier: Option<String>,
}

impl From<TierTrialRow> for TrialOut {
    fn from(r: TierTrialRow) -> Self {
        TrialOut {
            id: r.id,
            member_id: r.member_id,
            tier: r.tier,
            earned_tier: r.earned_tier,
            starts_at: millis_to_rfc3339(r.starts_at),
            ends_at: millis_to_rfc3339(r.ends_at),
            reason: r.reason,
            status: r.status,
            ended_at: r.ended_at.map(millis_to_rfc3339),
            ended_tier: r.ended_tier,
        }
    }
}

/// Grants a trial. 422 for an unknown tier, days outside 1–366 or no reason; 409
/// `tier_not_higher` when the member holds that tier or a higher one, `trial_active` while
/// another trial runs. Replays of the key answer the first result.
pub async fn grant(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    body: TrialIn,
    actor: &str,
    now: Millis,
) -> Result<TrialOut> {
    if body.reason.trim().is_empty() {
        return Err(memberops_loyalty::LoyaltyError::ReasonRequired.into());
    }
    let (member_id, tz) = resolve(store, ws, member).await?;
    let mut tx = match begin::<TrialOut>(store, ws, &body.idempotency_key, OP, &member_id).await? {
        Ok(saved) => return Ok(saved),
        Err(tx) => tx,
    };
    let key = body.idempotency_key.clone();
    match grant_tx(tx.as_mut(), ws, &member_id, tz, &body, actor, now).await {
        Ok(row) => {
            let ends = row.ends_at;
            let (out, fresh) = finish(store, ws, tx, &key, OP, &member_id, row.into()).await?;
            if fresh {
                // The sweep in the daily jobs ends it too, should this enqueue be lost.
                schedule_end_at(store, ws, ends).await?;
            }
            Ok(out)
        }
        Err(e) => refused(tx.as_mut(), &key, OP, &member_id, e).await,
    }
}

async fn grant_tx(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    tz: Tz,
    body: &TrialIn,
    actor: &str,
    now: Millis,
) -> Result<TierTrialRow> {
    let program = program_in_tx(tx).await?;
    let mut row = state(tx, &program, member_id, tz).await?;
    let grant = Grant {
        tier: &body.tier,
        days: body.days,
        reason: body.reason.trim(),
        actor,
    };
    let trial_row = apply_grant(tx, ws, &program, &mut row, tz, &grant, now).await?;
    tx.upsert_loyalty_members(std::slice::from_ref(&row))
        .await?;
    Ok(trial_row)
}

/// A grant, by an operator or an earning rule.
pub(crate) struct Grant<'a> {
    pub tier: &'a str,
    pub days: u32,
    pub reason: &'a str,
    pub actor: &'a str,
}

/// Starts a trial on `row` (the caller writes the row): the trial, its `tier.changed` event
/// and audit row. 422 for an unknown tier or days out of range; 409 `trial_active`,
/// `tier_not_higher`.
pub(crate) async fn apply_grant(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    program: &memberops_loyalty::Program,
    row: &mut LoyaltyMemberRow,
    tz: Tz,
    g: &Grant<'_>,
    now: Millis,
) -> Result<TierTrialRow> {
    if program.tier(g.tier).is_err() {
        return Err(Invalid::one(
            &["tier"],
            "unknown_tier",
            format!("`{}` is not a tier of the program", g.tier),
        )
        .into());
    }
    if let Some(active) = tx.active_trial(&row.member_id).await? {
        return Err(AppError::Conflict {
            code: "trial_active",
            detail: format!(
                "the member is on a {} trial until {}",
                active.tier,
                millis_to_rfc3339(active.ends_at)
            ),
        });
    }
    let change = match trial::grant(program, &row.tier, g.tier, g.days, now, row.growth_total)? {
        Ok(c) => c,
        Err(GrantRefusal::Days) => {
            return Err(Invalid::one(
                &["days"],
                "out_of_range",
                format!("days is 1 to {}", trial::MAX_DAYS),
            )
            .into());
        }
        Err(GrantRefusal::NotHigher { held }) => {
            return Err(AppError::Conflict {
                code: "tier_not_higher",
                detail: format!("the member holds `{held}`, not below `{}`", g.tier),
            });
        }
    };
    let trial_row = TierTrialRow {
        id: memberops_core::id::new_id("trl"),
        member_id: row.member_id.clone(),
        tier: g.tier.to_owned(),
        earned_tier: row.tier.clone(),
        earned_since: row.tier_since,
        starts_at: now,
        ends_at: trial::ends_at(now, g.days, tz),
        reason: g.reason.to_owned(),
        actor: g.actor.to_owned(),
        status: "active".into(),
        ended_at: None,
        ended_tier: None,
    };
    tx.insert_trial(&trial_row).await?;
    row.tier = g.tier.to_owned();
    row.tier_since = now;
    row.updated_at = now;
    record(tx, ws, &trial_row, &change, "granted", g.actor, now).await?;
    Ok(trial_row)
}

/// The `tier.changed` event and the audit row of a grant or an end.
async fn record(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    t: &TierTrialRow,
    change: &TierChange,
    what: &str,
    actor: &str,
    now: Millis,
) -> Result<()> {
    let props = serde_json::json!({
        "from": change.from, "to": change.to, "kind": change.kind, "growth": change.growth,
        "trial": {"id": t.id, "tier": t.tier, "ends_at": millis_to_rfc3339(t.ends_at), "status": what},
    });
    let id = format!("tier.changed:trial:{}:{what}", t.id);
    let event = system_event(ws, SystemEvent::TierChanged, id, &t.member_id, now, props);
    insert_new(tx, vec![event], |_| None).await?;
    tx.insert_loyalty_audit(&AuditRow {
        at: now,
        actor: actor.to_owned(),
        action: format!("{OP}.{what}"),
        member_id: Some(t.member_id.clone()),
        detail: serde_json::json!({
            "trial": t.id, "reason": t.reason, "ends_at": millis_to_rfc3339(t.ends_at),
            "tier": {"before": change.from, "after": change.to},
        })
        .to_string(),
    })
    .await?;
    Ok(())
}

/// Queues the job that ends trials when this one is due (keyed by its end, so trials ending
/// together share one job).
async fn schedule_end_at(store: &dyn Store, ws: &Workspace, ends: Millis) -> Result<()> {
    let payload =
        serde_json::json!({"date": local_date(ends, ws.time_zone).format("%Y-%m-%d").to_string()});
    store
        .enqueue_job(
            &NewJob {
                workspace_id: ws.id.clone(),
                key: format!("{}:{ends}", crate::jobs::TIER_TRIALS_END),
                kind: crate::jobs::TIER_TRIALS_END.to_owned(),
                payload: payload.to_string(),
                run_at: ends,
                max_attempts: 5,
            },
            now_millis(),
        )
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrialEndReport {
    /// Trials ended by going back to the earned tier.
    pub returned: usize,
    /// Trials whose tier the member reached on their own.
    pub earned: usize,
    /// Trials overtaken by a higher earned tier.
    pub superseded: usize,
}

const PAGE: i64 = 500;

/// Ends every trial due at `now`. Idempotent: ended trials are no longer active.
pub async fn end_due(store: &dyn Store, ws: &Workspace, now: Millis) -> Result<TrialEndReport> {
    let mut report = TrialEndReport::default();
    loop {
        let mut tx = store.begin_write(&ws.id).await?;
        let due = tx.trials_due(now, PAGE).await?;
        if due.is_empty() {
            break;
        }
        let program = program_in_tx(tx.as_mut()).await?;
        for t in &due {
            end_one(tx.as_mut(), ws, &program, t, now, &mut report).await?;
        }
        tx.commit().await?;
    }
    Ok(report)
}

async fn end_one(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    program: &memberops_loyalty::Program,
    t: &TierTrialRow,
    now: Millis,
    report: &mut TrialEndReport,
) -> Result<()> {
    let Some(mut row) = tx.loyalty_members(&[t.member_id.as_str()]).await?.pop() else {
        tx.close_trial(&t.id, "superseded", now, &t.tier).await?;
        report.superseded += 1;
        return Ok(());
    };
    let tz = row.time_zone.parse::<Tz>().unwrap_or(ws.time_zone);
    // One review window before the trial began covers every window checked since.
    let since = tiers::window_start(program, t.starts_at, tz);
    let entries: Vec<GrowthEntry> = tx
        .growth_since(&[t.member_id.as_str()], since)
        .await?
        .into_iter()
        .map(|g| GrowthEntry {
            at: g.at,
            growth: g.growth,
            reference: g.event_id,
            rule_id: g.rule_id,
        })
        .collect();
    let trial = Trial {
        tier: &t.tier,
        earned_tier: &t.earned_tier,
        earned_since: t.earned_since,
        starts_at: t.starts_at,
    };
    match trial::end(program, &trial, &row.tier, &entries, now, tz)? {
        TrialEnd::Superseded => {
            tx.close_trial(&t.id, "superseded", now, &row.tier).await?;
            report.superseded += 1;
        }
        TrialEnd::Earned { since } => {
            row.tier_since = since;
            row.updated_at = now;
            tx.upsert_loyalty_members(std::slice::from_ref(&row))
                .await?;
            tx.close_trial(&t.id, "earned", now, &row.tier).await?;
            report.earned += 1;
        }
        TrialEnd::Returned { since, change } => {
            row.tier = change.to.clone();
            row.tier_since = since;
            row.updated_at = now;
            tx.upsert_loyalty_members(std::slice::from_ref(&row))
                .await?;
            tx.close_trial(&t.id, "returned", now, &row.tier).await?;
            record(tx, ws, t, &change, "returned", "system", now).await?;
            report.returned += 1;
        }
    }
    Ok(())
}
