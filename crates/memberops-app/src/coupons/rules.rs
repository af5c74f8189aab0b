//! Coupon event rules: issue a template or a gift pack to the member of every event of a
//! type, optionally only when the event says something (`tier.changed` to gold,
//! `lifecycle.changed` to churned). Rules run as a consumer of the event log, after the
//! event's commit, so a rule that cannot issue never rejects the event; each rule fires at
//! most once per event (and so per member and event), and records why when it could not
//! issue.

use async_trait::async_trait;
use memberops_core::Invalid;
use memberops_core::event::SystemEvent;
use memberops_core::id::new_id;
use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_segments::lifecycle::Stage;
use memberops_store::{EventRuleRow, LogEvent, Store, StoreError, WriteTx};
use serde::{Deserialize, Serialize};

use super::{RULE, issue_grants, to_json};
use crate::consumers::Consumer;
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// What an event must say for the rule to fire. Every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCondition {
    /// `tier.changed` only: the member's new tier code (e.g. `gold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_tier: Option<String>,
    /// `tier.changed` only: `upgrade` or `downgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// `lifecycle.changed` only: the member's new stage (`new`, `growing`, `mature`,
    /// `silent`, `churned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_stage: Option<String>,
}

impl RuleCondition {
    fn is_empty(&self) -> bool {
        *self == RuleCondition::default()
    }

    /// Whether an event's properties satisfy the condition.
    pub fn matches(&self, props: &serde_json::Map<String, serde_json::Value>) -> bool {
        let says = |key: &str, want: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| props.get(key).and_then(|v| v.as_str()) == Some(w))
        };
        says("to", &self.to_tier) && says("kind", &self.change) && says("to", &self.to_stage)
    }
}

/// Issue a template or a gift pack to the member of every event of a type.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    #[schema(example = "tier.changed")]
    pub event_type: String,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub pack_id: Option<String>,
    #[serde(default)]
    #[schema(example = json!({"to_tier": "gold"}))]
    pub condition: Option<RuleCondition>,
}

/// A rule can be switched off and on; `DELETE` removes it for good.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleOut {
    pub id: String,
    pub event_type: String,
    pub template_id: Option<String>,
    pub pack_id: Option<String>,
    pub condition: RuleCondition,
    pub disabled: bool,
    /// Events that issued the rule's coupons.
    pub issued_count: i64,
    /// Events on which the rule could not issue (stock, limits, archived template).
    pub skipped_count: i64,
    /// Why the last skipped event issued nothing (`out_of_stock`, `limit_reached`…).
    pub last_skip_reason: Option<String>,
    pub last_skip_at: Option<String>,
    pub created_at: String,
}

fn rule_out(r: EventRuleRow) -> Result<RuleOut> {
    let condition = serde_json::from_str(&r.condition)
        .map_err(|e| StoreError::Corrupt(format!("rule {} condition: {e}", r.id)))?;
    Ok(RuleOut {
        id: r.id,
        event_type: r.event_type,
        template_id: r.template_id,
        pack_id: r.pack_id,
        condition,
        disabled: r.disabled_at.is_some(),
        issued_count: r.issued_count,
        skipped_count: r.skipped_count,
        last_skip_reason: r.last_skip_code,
        last_skip_at: r.last_skip_at.map(millis_to_rfc3339),
        created_at: millis_to_rfc3339(r.created_at),
    })
}

/// Checks a condition against the rule's event type and the workspace's tiers and stages.
async fn check_condition(
    store: &dyn Store,
    ws: &Workspace,
    event_type: &str,
    c: &RuleCondition,
) -> Result<()> {
    let only_on = |field: &str, kind: SystemEvent| -> Result<()> {
        if event_type == kind.as_str() {
            Ok(())
        } else {
            Err(Invalid::one(
                &["condition", field],
                "condition_not_for_type",
                format!("`{field}` applies to `{kind}` rules only"),
            )
            .into())
        }
    };
    if let Some(tier) = &c.to_tier {
        only_on("to_tier", SystemEvent::TierChanged)?;
        let program = crate::loyalty::current_program(store, ws).await?;
        if !program.tiers.iter().any(|t| &t.code == tier) {
            let known: Vec<&str> = program.tiers.iter().map(|t| t.code.as_str()).collect();
            return Err(Invalid::one(
                &["condition", "to_tier"],
                "unknown_tier",
                format!(
                    "no tier `{tier}` in the loyalty program (tiers: {})",
                    known.join(", ")
                ),
            )
            .into());
        }
    }
    if let Some(change) = &c.change {
        only_on("change", SystemEvent::TierChanged)?;
        if !["upgrade", "downgrade"].contains(&change.as_str()) {
            return Err(Invalid::one(
                &["condition", "change"],
                "invalid_change",
                "change is `upgrade` or `downgrade`",
            )
            .into());
        }
    }
    if let Some(stage) = &c.to_stage {
        only_on("to_stage", SystemEvent::LifecycleChanged)?;
        if Stage::parse(stage).is_none() {
            return Err(Invalid::one(
                &["condition", "to_stage"],
                "unknown_stage",
                format!("no lifecycle stage `{stage}` (new, growing, mature, silent, churned)"),
            )
            .into());
        }
    }
    Ok(())
}

pub async fn create_rule(store: &dyn Store, ws: &Workspace, r: RuleIn) -> Result<RuleOut> {
    let kind = r.event_type.trim().to_owned();
    if kind.is_empty() || kind.len() > 100 {
        return Err(Invalid::one(
            &["event_type"],
            "invalid_type",
            "event_type must be 1–100 characters",
        )
        .into());
    }
    if kind == SystemEvent::CouponIssued.as_str() {
        // The rule's own issue records `coupon.issued`: it would fire on itself forever.
        return Err(Invalid::one(
            &["event_type"],
            "self_triggering_type",
            "a coupon rule cannot fire on `coupon.issued` (its own coupons would trigger it again)",
        )
        .into());
    }
    let condition = r.condition.unwrap_or_default();
    if !condition.is_empty() {
        check_condition(store, ws, &kind, &condition).await?;
    }
    let mut tx = store.begin_write(&ws.id).await?;
    match (&r.template_id, &r.pack_id) {
        (Some(t), None) => {
            if tx.tx_coupon_templates(&[t]).await?.is_empty() {
                return Err(Invalid::one(
                    &["template_id"],
                    "template_not_found",
                    format!("no coupon template `{t}`"),
                )
                .into());
            }
        }
        (None, Some(p)) => {
            if tx.tx_gift_pack(p).await?.is_none() {
                return Err(Invalid::one(
                    &["pack_id"],
                    "pack_not_found",
                    format!("no gift pack `{p}`"),
                )
                .into());
            }
        }
        _ => {
            return Err(Invalid::one(
                &["template_id"],
                "one_required",
                "give exactly one of template_id and pack_id",
            )
            .into());
        }
    }
    let row = EventRuleRow {
        id: new_id(RULE),
        event_type: kind,
        template_id: r.template_id,
        pack_id: r.pack_id,
        created_at: now_millis(),
        archived_at: None,
        condition: to_json(&condition)?,
        // Events from now on: the log's head, read under the workspace's write lock.
        since_seq: tx.log_head_seq().await?,
        disabled_at: None,
        issued_count: 0,
        skipped_count: 0,
        last_skip_code: None,
        last_skip_at: None,
    };
    tx.insert_event_rule(&row).await?;
    tx.commit().await?;
    rule_out(row)
}

pub async fn list_rules(store: &dyn Store, ws: &Workspace) -> Result<Vec<RuleOut>> {
    store
        .coupon_event_rules(&ws.id)
        .await?
        .into_iter()
        .filter(|r| r.archived_at.is_none())
        .map(rule_out)
        .collect()
}

async fn live_rule(tx: &mut dyn WriteTx, id: &str) -> Result<EventRuleRow> {
    tx.tx_event_rule(id)
        .await?
        .filter(|r| r.archived_at.is_none())
        .ok_or(AppError::NotFound {
            what: "coupon event rule",
        })
}

pub async fn get_rule(store: &dyn Store, ws: &Workspace, id: &str) -> Result<RuleOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    rule_out(live_rule(tx.as_mut(), id).await?)
}

/// Switches a rule off (it ignores events from then on) or back on (it fires on events
/// after that moment, not on those it missed while off).
pub async fn patch_rule(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    p: RulePatch,
) -> Result<RuleOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    let mut row = live_rule(tx.as_mut(), id).await?;
    let now = now_millis();
    match (p.disabled, row.disabled_at) {
        (true, None) => row.disabled_at = Some(now),
        (false, Some(_)) => row.disabled_at = None,
        _ => return rule_out(row),
    }
    tx.set_event_rule_state(id, row.disabled_at, None).await?;
    tx.commit().await?;
    rule_out(row)
}

/// Deletes a rule: it fires no more and leaves the list; what it issued stays.
pub async fn delete_rule(store: &dyn Store, ws: &Workspace, id: &str) -> Result<()> {
    let mut tx = store.begin_write(&ws.id).await?;
    let row = live_rule(tx.as_mut(), id).await?;
    tx.set_event_rule_state(id, row.disabled_at, Some(now_millis()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The consumer that runs the rules.
pub struct CouponRules;

#[async_trait]
impl Consumer for CouponRules {
    fn name(&self) -> &'static str {
        "coupon_rules"
    }

    /// Issuing coupons (and recording `coupon.issued`) changes no member fact the member
    /// cache holds.
    fn changes_members(&self) -> bool {
        false
    }

    async fn handle(&self, tx: &mut dyn WriteTx, ws: &Workspace, page: &[LogEvent]) -> Result<()> {
        let mut kinds: Vec<&str> = page.iter().map(|e| e.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let mut rules = Vec::new();
        for r in tx.event_rules_for(&kinds).await? {
            if r.disabled_at.is_some() {
                continue;
            }
            let c: RuleCondition = serde_json::from_str(&r.condition)
                .map_err(|e| StoreError::Corrupt(format!("rule {} condition: {e}", r.id)))?;
            rules.push((r, c));
        }
        if rules.is_empty() {
            return Ok(());
        }
        for e in page {
            let mut props = None;
            for (rule, cond) in &rules {
                if rule.event_type != e.kind || e.seq <= rule.since_seq {
                    continue;
                }
                if !cond.is_empty() {
                    let p = props.get_or_insert_with(|| {
                        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                            &e.properties,
                        )
                        .unwrap_or_default()
                    });
                    if !cond.matches(p) {
                        continue;
                    }
                }
                fire(tx, ws, rule, e).await?;
            }
        }
        Ok(())
    }
}

/// One rule on one event: issue, or record why not. A (rule, event) seen before (a page
/// handled again after a crash that kept its writes cannot happen, but a rule is cheap to
/// guard) does nothing.
async fn fire(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    rule: &EventRuleRow,
    e: &LogEvent,
) -> Result<()> {
    let now = now_millis();
    if !tx
        .record_rule_fire(&rule.id, &e.id, &e.member_id, "issued", now)
        .await?
    {
        return Ok(());
    }
    let planned = super::issue::plan_for(
        tx,
        rule.template_id.as_deref(),
        rule.pack_id.as_deref(),
        1,
        &[e.member_id.as_str()],
    )
    .await;
    let source = if rule.pack_id.is_some() {
        "pack"
    } else {
        "rule"
    };
    let outcome = match planned {
        Ok((templates, grants)) => {
            issue_grants(tx, ws, &templates, &grants, source, e.occurred_at.max(now))
                .await
                .map(|_| ())
        }
        Err(err) => Err(err),
    };
    // Out of stock, over a limit, a template gone: this member gets nothing, the rule says
    // why. Anything else (the database) fails the page, which is retried.
    let skip = match outcome {
        Ok(()) => None,
        Err(AppError::Conflict { code, .. }) => Some(code),
        Err(AppError::NotFound { .. }) => Some("template_not_found"),
        Err(err) => return Err(err),
    };
    if let Some(code) = skip {
        tracing::info!(rule = %rule.id, event = %e.id, code, "coupon rule issued nothing");
    }
    tx.count_rule_outcome(&rule.id, &e.id, skip, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_condition_matches_what_the_event_says() {
        let gold = RuleCondition {
            to_tier: Some("gold".into()),
            ..Default::default()
        };
        assert!(gold.matches(&props(
            json!({"from": "silver", "to": "gold", "kind": "upgrade"})
        )));
        assert!(!gold.matches(&props(
            json!({"from": "gold", "to": "silver", "kind": "downgrade"})
        )));
        let up = RuleCondition {
            change: Some("upgrade".into()),
            ..Default::default()
        };
        assert!(!up.matches(&props(json!({"to": "silver", "kind": "downgrade"}))));
        let churned = RuleCondition {
            to_stage: Some("churned".into()),
            ..Default::default()
        };
        assert!(churned.matches(&props(json!({"from": "silent", "to": "churned"}))));
        assert!(RuleCondition::default().matches(&props(json!({}))));
    }
}
