//! Referral rewards on the invitee's qualifying event.

use super::*;

/// Rewards a pending referral when the invitee's event qualifies it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn qualify_referral(
    tx: &mut dyn WriteTx,
    program: &Program,
    ws: &Workspace,
    accs: &mut HashMap<String, Acc>,
    out: &mut Out,
    referrals: &mut HashMap<String, ReferralRow>,
    e: &AppliedEvent,
    capped: &HashSet<&str>,
) -> Result<()> {
    let Some(r) = referrals.get_mut(&e.member_id) else {
        return Ok(());
    };
    if r.status != "pending" {
        return Ok(());
    }
    let binding = referral::Binding {
        referrer: r.referrer_id.clone(),
        invitee: r.invitee_id.clone(),
        bound_at: r.bound_at,
    };
    let is_order = matches!(e.event.effect, Effect::OrderPaid { .. });
    let qualifying_is_order = matches!(
        program.referral.qualifying,
        referral::Qualifying::FirstPaidOrder { .. }
    );
    if is_order != qualifying_is_order {
        return Ok(());
    }
    let month = e.local_date.with_day(1).unwrap_or(e.local_date);
    let next = month
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month);
    let from = memberops_loyalty::calendar::start_of_day(month, e.member_tz);
    let to = memberops_loyalty::calendar::start_of_day(next, e.member_tz);
    let mut paid = u32::try_from(
        tx.referrer_rewards_between(&r.referrer_id, from, to)
            .await?,
    )
    .unwrap_or(u32::MAX);
    paid += u32::try_from(
        out.referrals
            .values()
            .filter(|x| x.referrer_id == r.referrer_id && x.referrer_paid)
            .count(),
    )
    .unwrap_or(0);
    let ie = referral::InviteeEvent {
        event_id: e.event.id.clone(),
        event_type: e.event.kind.clone(),
        at: e.occurred_at,
        amount_minor: amount_of(e),
        first_paid_order: true,
    };
    match referral::qualify(program, &binding, false, &ie, paid) {
        None => r.status = "lapsed".into(),
        Some(o) => {
            r.status = "rewarded".into();
            r.qualified_at = Some(e.occurred_at);
            r.referrer_paid = o.referrer_award.is_some();
            if let Some(a) = &o.invitee_award {
                grant(
                    program,
                    accs,
                    out,
                    &e.member_id,
                    a,
                    e.occurred_at,
                    e.local_date,
                    None,
                    capped,
                )?;
            }
            let referrer = r.referrer_id.clone();
            let accepted_id = format!("referral.accepted:{}", r.invitee_id);
            if let Some(mut a) = o.referrer_award {
                a.event_id = accepted_id.clone();
                grant(
                    program,
                    accs,
                    out,
                    &referrer,
                    &a,
                    e.occurred_at,
                    e.local_date,
                    None,
                    capped,
                )?;
            }
            // The referrer's own behaviour event, which the earning rules may reward too.
            let tier = accs
                .get(&referrer)
                .map(|a| a.row.tier.clone())
                .unwrap_or_default();
            let facts = EventFacts {
                event_id: accepted_id.clone(),
                event_type: ev::REFERRAL_ACCEPTED.into(),
                occurred_at: e.occurred_at,
                amount_minor: None,
                channel: None,
                categories: Vec::new(),
                order_id: None,
            };
            let state = MemberState {
                tier,
                tz: e.member_tz,
                order_times: Vec::new(),
                usage: usage_for(
                    program,
                    capped,
                    &out.usage,
                    &referrer,
                    e.local_date,
                    ev::REFERRAL_ACCEPTED,
                ),
            };
            for a in evaluate(program, &facts, &state) {
                grant(
                    program,
                    accs,
                    out,
                    &referrer,
                    &a,
                    e.occurred_at,
                    e.local_date,
                    None,
                    capped,
                )?;
            }
            let props =
                serde_json::json!({"invitee_id": r.invitee_id, "qualifying_event": e.event.id});
            out.events.push(NewEvent {
                workspace_id: ws.id.clone(),
                id: accepted_id,
                member_id: referrer,
                kind: ev::REFERRAL_ACCEPTED.into(),
                occurred_at: e.occurred_at,
                received_at: now_millis(),
                properties: props.to_string(),
                order: None,
            });
        }
    }
    out.referrals.insert(r.invitee_id.clone(), r.clone());
    Ok(())
}
