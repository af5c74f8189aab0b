//! Tier upgrades at the end of a batch, and the `tier.changed` event.

use super::*;

/// Upgrades members whose window growth now reaches a higher tier. Only members whose
/// lifetime growth reaches the next threshold are checked against the ledger. Growth dated
/// in the past counts with whatever came after it (see `tiers::upgrade_since`), so a late
/// or backdated order that crosses a threshold upgrades at once.
pub(super) async fn upgrades(
    tx: &mut dyn WriteTx,
    program: &Program,
    accs: &mut HashMap<String, Acc>,
    now: Millis,
) -> Result<Vec<(String, String, TierChange)>> {
    let mut candidates: Vec<&str> = Vec::new();
    let mut since = Millis::MAX;
    for (id, acc) in accs.iter() {
        if acc.last_growth_event.is_none() {
            continue;
        }
        let Some(from) = acc.batch_growth.iter().map(|g| g.at).min() else {
            continue;
        };
        let Ok((cur, _)) = program.tier(&acc.row.tier) else {
            continue;
        };
        if program
            .tiers
            .get(cur + 1)
            .is_some_and(|next| acc.row.growth_total >= next.threshold)
        {
            candidates.push(id.as_str());
            // Every window checked starts at or after the one of the earliest growth.
            since = since.min(tiers::window_start(program, from, acc.tz));
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let candidates: Vec<String> = candidates.into_iter().map(str::to_owned).collect();
    let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let mut stored: HashMap<String, Vec<GrowthEntry>> = HashMap::new();
    for g in tx.growth_since(&refs, since).await? {
        stored
            .entry(g.member_id.clone())
            .or_default()
            .push(GrowthEntry {
                at: g.at,
                growth: g.growth,
                reference: g.event_id,
                rule_id: g.rule_id,
            });
    }
    let mut out = Vec::new();
    for id in candidates {
        let Some(acc) = accs.get_mut(&id) else {
            continue;
        };
        let Some((cause, _)) = acc.last_growth_event.clone() else {
            continue;
        };
        let Some(from) = acc.batch_growth.iter().map(|g| g.at).min() else {
            continue;
        };
        let mut entries = stored.remove(&id).unwrap_or_default();
        entries.extend(acc.batch_growth.iter().cloned());
        if let Some(mut c) =
            tiers::upgrade_since(program, &acc.row.tier, &entries, from, now, acc.tz)?
        {
            // A change is never dated before the holding it replaces began.
            c.at = c.at.max(acc.row.tier_since);
            acc.row.tier = c.to.clone();
            acc.row.tier_since = c.at;
            out.push((id, cause, c));
        }
    }
    Ok(out)
}

/// Starts the temporary tiers earning rules granted in the batch, after its upgrades (so the
/// earned tier a trial returns to includes them). A member already on a trial or holding
/// that tier or a higher one is passed over: a rule's grant is an offer, not an order.
pub(super) async fn rule_trials(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    program: &Program,
    accs: &mut HashMap<String, Acc>,
    grants: Vec<(String, memberops_loyalty::rules::TrialReward, String)>,
    now: Millis,
) -> Result<()> {
    use crate::loyalty::trial::{Grant, apply_grant};
    for (member_id, reward, rule_id) in grants {
        let Some(acc) = accs.get_mut(&member_id) else {
            continue;
        };
        let reason = format!("rule {rule_id}");
        let actor = format!("rule:{rule_id}");
        let grant = Grant {
            tier: &reward.tier,
            days: reward.days,
            reason: &reason,
            actor: &actor,
        };
        match apply_grant(tx, ws, program, &mut acc.row, acc.tz, &grant, now).await {
            Ok(_) => {}
            Err(crate::AppError::Conflict { code, .. }) => {
                tracing::debug!(member = %member_id, rule = %rule_id, code, "trial tier not granted");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The `tier.changed` event (recorded by MemberOps itself; clients cannot send this type).
pub(crate) fn tier_event(
    ws: &Workspace,
    member_id: &str,
    id: &str,
    c: &TierChange,
    received_at: Millis,
) -> NewEvent {
    let props = serde_json::json!({"from": c.from, "to": c.to, "kind": c.kind, "growth": c.growth});
    NewEvent {
        workspace_id: ws.id.clone(),
        id: id.to_owned(),
        member_id: member_id.to_owned(),
        kind: memberops_core::event::SystemEvent::TierChanged
            .as_str()
            .into(),
        occurred_at: c.at,
        received_at,
        properties: props.to_string(),
        order: None,
    }
}
