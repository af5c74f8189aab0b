//! Growth adjustment (成长值调整): an operator's correction, with a reason, audited, once per
//! idempotency key. Added growth upgrades at once, like earned growth (decided on the
//! window growth as of now); taken growth never downgrades here: downgrades belong to the
//! tier review, after the tier's protection period.

use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::time::{Millis, now_millis};
use memberops_loyalty::tiers::{self, GrowthEntry};
use memberops_store::{AuditRow, GrowthLine, Store, WriteTx};
use serde::{Deserialize, Serialize};

use super::engine::tier_event;
use super::ops::{begin, finish, refused, resolve, state};
use super::program_in_tx;
use crate::error::Result;
use crate::system_events::insert_new;
use crate::workspace::Workspace;

const OP: &str = "growth.adjust";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GrowthResult {
    pub idempotency_key: String,
    pub member_id: String,
    /// The change made (the request's `growth`).
    pub growth: i64,
    /// Lifetime growth after the change.
    pub growth_total: i64,
    /// The tier now; an upgrade this caused is also a `tier.changed` event.
    pub tier: String,
    /// The tier before, when this adjustment upgraded the member.
    pub upgraded_from: Option<String>,
}

/// Adds (or with a negative `growth`, takes) growth. A reason is required (422 `required`);
/// 0 or a change that would leave lifetime growth below zero is 422 `invalid_amount`.
pub async fn adjust_growth(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    growth: i64,
    key: &str,
    reason: &str,
    actor: &str,
) -> Result<GrowthResult> {
    if reason.trim().is_empty() {
        return Err(memberops_loyalty::LoyaltyError::ReasonRequired.into());
    }
    if growth == 0 {
        return Err(Invalid::one(&["growth"], "invalid_amount", "growth must not be 0").into());
    }
    memberops_core::money::check_bound(growth, "growth")?;
    let (member_id, tz) = resolve(store, ws, member).await?;
    let mut tx = match begin::<GrowthResult>(store, ws, key, OP, &member_id).await? {
        Ok(saved) => return Ok(saved),
        Err(tx) => tx,
    };
    let change = Change {
        growth,
        key,
        reason: reason.trim(),
        actor,
        now: now_millis(),
    };
    match adjust_tx(tx.as_mut(), ws, &member_id, tz, &change).await {
        Ok(out) => Ok(finish(store, ws, tx, key, OP, &member_id, out).await?.0),
        Err(e) => refused(tx.as_mut(), key, OP, &member_id, e).await,
    }
}

struct Change<'a> {
    growth: i64,
    key: &'a str,
    reason: &'a str,
    actor: &'a str,
    now: Millis,
}

async fn adjust_tx(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    tz: Tz,
    c: &Change<'_>,
) -> Result<GrowthResult> {
    let program = program_in_tx(tx).await?;
    let mut row = state(tx, &program, member_id, tz).await?;
    let total = row
        .growth_total
        .checked_add(c.growth)
        .filter(|t| *t >= 0)
        .ok_or_else(|| {
            Invalid::one(
                &["growth"],
                "invalid_amount",
                format!(
                    "growth {} would take lifetime growth {} below zero",
                    c.growth, row.growth_total
                ),
            )
        })?;
    let reference = format!("{OP}:{}", c.key);
    let line = GrowthLine {
        seq: 0,
        member_id: member_id.to_owned(),
        at: c.now,
        growth: c.growth,
        kind: "adjust".into(),
        event_id: reference.clone(),
        rule_id: None,
        order_id: None,
    };
    tx.insert_growth_lines(std::slice::from_ref(&line)).await?;
    row.growth_total = total;
    row.updated_at = c.now;
    let before = row.tier.clone();
    let mut upgraded_from = None;
    if c.growth > 0 {
        let since = tiers::window_start(&program, c.now, tz);
        let mut entries: Vec<GrowthEntry> = tx
            .growth_since(&[member_id], since)
            .await?
            .into_iter()
            .map(|g| GrowthEntry {
                at: g.at,
                growth: g.growth,
                reference: g.event_id,
                rule_id: g.rule_id,
            })
            .collect();
        if !entries.iter().any(|e| e.reference == reference) {
            entries.push(GrowthEntry {
                at: c.now,
                growth: c.growth,
                reference: reference.clone(),
                rule_id: None,
            });
        }
        if let Some(mut change) =
            tiers::upgrade_since(&program, &row.tier, &entries, c.now, c.now, tz)?
        {
            change.at = change.at.max(row.tier_since);
            row.tier = change.to.clone();
            row.tier_since = change.at;
            let id = format!("tier.changed:{reference}");
            insert_new(
                tx,
                vec![tier_event(ws, member_id, &id, &change, c.now)],
                |_| None,
            )
            .await?;
            upgraded_from = Some(before);
        }
    }
    tx.upsert_loyalty_members(std::slice::from_ref(&row))
        .await?;
    tx.insert_loyalty_audit(&AuditRow {
        at: c.now,
        actor: c.actor.to_owned(),
        action: OP.to_owned(),
        member_id: Some(member_id.to_owned()),
        detail: serde_json::json!({
            "growth": c.growth,
            "reason": c.reason,
            "idempotency_key": c.key,
            "growth_total": {"before": total - c.growth, "after": total},
            "tier": {"before": upgraded_from.as_ref().unwrap_or(&row.tier), "after": row.tier},
        })
        .to_string(),
    })
    .await?;
    Ok(GrowthResult {
        idempotency_key: c.key.to_owned(),
        member_id: member_id.to_owned(),
        growth: c.growth,
        growth_total: total,
        tier: row.tier,
        upgraded_from,
    })
}
