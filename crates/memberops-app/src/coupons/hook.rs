//! Reactions to accepted events, inside the batch's transaction: `order.paid` confirms the
//! coupons locked to the order (and grants 满返 rewards, and counts friends' first orders
//! for share-to-claim), `order.cancelled` releases them, a full `order.refunded` restores
//! them (per template), and a partial one keeps them used. 满返 points go into the loyalty
//! points ledger. Event rules run after the commit, as a consumer (`coupons::rules`).

use std::collections::HashSet;

use memberops_core::event::{ORDER_CANCELLED, ORDER_PAID, ORDER_REFUNDED};
use memberops_core::id::new_id;
use memberops_core::time::Millis;
use memberops_coupons::template::{
    Benefit, CouponOrderStatus, CouponStatus, RedemptionStatus, RefundPolicy, SpendReward,
};
use memberops_store::{RewardRow, WriteTx};

use super::{Grant, REWARD, issue_grants, templates_in_tx};
use crate::error::{AppError, Result};
use crate::hooks::{AppliedEvent, BatchMembers};
use crate::workspace::Workspace;

pub async fn on_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
    members: &mut BatchMembers,
) -> Result<()> {
    if applied.is_empty() {
        return Ok(());
    }
    // Coupon orders and share claims are made through the API, never by events, so two
    // look-ups for the whole batch find every event that has work here.
    let order_ids: Vec<&str> = applied
        .iter()
        .filter(|a| [ORDER_PAID, ORDER_CANCELLED, ORDER_REFUNDED].contains(&a.event.kind.as_str()))
        .filter_map(order_of)
        .collect();
    let with_coupons: HashSet<String> = tx
        .orders_with_coupons(&order_ids)
        .await?
        .into_iter()
        .collect();
    let payers: Vec<&str> = applied
        .iter()
        .filter(|a| a.event.kind == ORDER_PAID)
        .map(|a| a.member_id.as_str())
        .collect();
    let claimants: HashSet<String> = tx
        .members_with_open_claims(&payers)
        .await?
        .into_iter()
        .collect();
    for a in applied {
        let order_id = order_of(a);
        let coupon_order = order_id.filter(|o| with_coupons.contains(*o));
        match (a.event.kind.as_str(), coupon_order) {
            (ORDER_PAID, Some(o)) => confirm(tx, ws, o, a.occurred_at, members).await?,
            (ORDER_CANCELLED, Some(o)) => close(tx, o, a.occurred_at, false).await?,
            (ORDER_REFUNDED, Some(o)) => {
                let fully = tx.orders_by_ids(&[o]).await?.first().is_none_or(|r| {
                    memberops_core::order::is_fully_refunded(r.amount_minor, r.refunded_minor)
                });
                if fully {
                    close(tx, o, a.occurred_at, true).await?;
                } else {
                    // A partial refund keeps every coupon used (see docs/coupons.md).
                    partial_refund(tx, o, a.occurred_at).await?;
                }
            }
            _ => {}
        }
        if let (ORDER_PAID, Some(o)) = (a.event.kind.as_str(), order_id)
            && claimants.contains(&a.member_id)
        {
            super::share::on_first_order(tx, ws, &a.member_id, o, a.occurred_at).await?;
        }
    }
    Ok(())
}

fn order_of(a: &AppliedEvent) -> Option<&str> {
    a.event.properties.get("order_id").and_then(|v| v.as_str())
}

/// `locked` → `redeemed`; then 满返 rewards.
async fn confirm(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    order_id: &str,
    at: Millis,
    members: &mut BatchMembers,
) -> Result<()> {
    let Some(order) = tx.tx_coupon_order(order_id).await? else {
        return Ok(());
    };
    if CouponOrderStatus::parse(&order.status) != Some(CouponOrderStatus::Locked) {
        return Ok(());
    }
    let reds = tx.order_redemptions(order_id).await?;
    let ids: Vec<&str> = reds.iter().map(|r| r.coupon_id.as_str()).collect();
    tx.move_coupons(
        &ids,
        CouponStatus::Locked.as_str(),
        CouponStatus::Redeemed.as_str(),
        at,
    )
    .await?;
    let mut redeemed = Vec::with_capacity(reds.len());
    for r in &reds {
        if tx
            .set_redemption_status(
                order_id,
                &r.coupon_id,
                RedemptionStatus::Locked.as_str(),
                RedemptionStatus::Redeemed.as_str(),
                true,
                at,
            )
            .await?
        {
            redeemed.push(r.coupon_id.as_str());
        }
    }
    tx.set_coupon_order_status(order_id, CouponOrderStatus::Paid.as_str(), at)
        .await?;
    // `coupon.redeemed`, once per order (a coupon order is paid once).
    if !redeemed.is_empty() {
        let kind = memberops_core::event::SystemEvent::CouponRedeemed;
        let event = crate::system_events::system_event(
            ws,
            kind,
            format!("{}:{order_id}", kind.as_str()),
            &order.member_id,
            at,
            serde_json::json!({"coupon_ids": redeemed, "order_id": order_id}),
        );
        crate::system_events::insert_new(tx, vec![event], |_| None).await?;
    }
    let tids: Vec<&str> = reds.iter().map(|r| r.template_id.as_str()).collect();
    for t in templates_in_tx(tx, &tids).await? {
        let Benefit::SpendReturn { reward, .. } = &t.spec.benefit else {
            continue;
        };
        let (points, coupon_id) = match reward {
            SpendReward::Points { points } => {
                // Into the loyalty ledger: a lot usable at once, one `adjust` line.
                crate::loyalty::ops::credit_points_in_tx(
                    tx,
                    ws,
                    &order.member_id,
                    *points,
                    &format!("spend_return/{order_id}/{}", t.row.id),
                    Some(order_id),
                    "coupon spend-and-get-back (满返)",
                )
                .await?;
                // The loyalty hook ran before: the state it left is no longer the stored one.
                members.loyalty_written(&order.member_id, None);
                (Some(*points), None)
            }
            SpendReward::Coupon { template_id } => {
                let follow = templates_in_tx(tx, &[template_id]).await?;
                let grants = [Grant {
                    template: 0,
                    member_id: order.member_id.clone(),
                    quantity: 1,
                }];
                match issue_grants(
                    tx,
                    ws,
                    &follow,
                    &grants,
                    "spend_return",
                    at.max(memberops_core::time::now_millis()),
                )
                .await
                {
                    Ok(rows) => (None, rows.first().map(|c| c.id.clone())),
                    Err(AppError::Conflict { code, .. }) => {
                        tracing::warn!(order = order_id, code, "spend-return coupon not issued");
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        tx.insert_reward(&RewardRow {
            id: new_id(REWARD),
            member_id: order.member_id.clone(),
            template_id: t.row.id.clone(),
            order_id: Some(order_id.to_owned()),
            kind: if points.is_some() { "points" } else { "coupon" }.into(),
            points,
            coupon_id,
            created_at: at,
        })
        .await?;
    }
    Ok(())
}

/// A partial refund: the coupons stay `redeemed` (a coupon cannot be split, and giving it
/// back would let the member use it again while keeping the rest of the discounted order);
/// the coupon order is marked `partially_refunded`. The refund that makes the order fully
/// refunded then restores coupons per template, as a single full refund would.
async fn partial_refund(tx: &mut dyn WriteTx, order_id: &str, at: Millis) -> Result<()> {
    if let Some(order) = tx.tx_coupon_order(order_id).await?
        && CouponOrderStatus::parse(&order.status) == Some(CouponOrderStatus::Paid)
    {
        tx.set_coupon_order_status(order_id, CouponOrderStatus::PartiallyRefunded.as_str(), at)
            .await?;
    }
    Ok(())
}

/// Cancel or full refund. Unpaid: the coupons go back to the member. Paid and refunded:
/// coupons whose template restores on refund go back; the others stay used.
async fn close(tx: &mut dyn WriteTx, order_id: &str, at: Millis, refund: bool) -> Result<()> {
    let Some(order) = tx.tx_coupon_order(order_id).await? else {
        return Ok(());
    };
    let reds = tx.order_redemptions(order_id).await?;
    match CouponOrderStatus::parse(&order.status) {
        Some(CouponOrderStatus::Locked) => {
            for r in &reds {
                if tx
                    .set_redemption_status(
                        order_id,
                        &r.coupon_id,
                        RedemptionStatus::Locked.as_str(),
                        RedemptionStatus::Released.as_str(),
                        false,
                        at,
                    )
                    .await?
                {
                    tx.move_coupons(
                        &[&r.coupon_id],
                        CouponStatus::Locked.as_str(),
                        CouponStatus::Issued.as_str(),
                        at,
                    )
                    .await?;
                    tx.spend_coupon_budget(&r.template_id, -r.discount_minor)
                        .await?;
                }
            }
            tx.set_coupon_order_status(order_id, CouponOrderStatus::Released.as_str(), at)
                .await?;
        }
        Some(CouponOrderStatus::Paid | CouponOrderStatus::PartiallyRefunded) => {
            let tids: Vec<&str> = reds.iter().map(|r| r.template_id.as_str()).collect();
            let templates = templates_in_tx(tx, &tids).await?;
            for r in &reds {
                let restore = templates
                    .iter()
                    .find(|t| t.row.id == r.template_id)
                    .is_none_or(|t| t.spec.on_refund == RefundPolicy::Restore);
                if restore
                    && tx
                        .set_redemption_status(
                            order_id,
                            &r.coupon_id,
                            RedemptionStatus::Redeemed.as_str(),
                            RedemptionStatus::Restored.as_str(),
                            false,
                            at,
                        )
                        .await?
                {
                    tx.move_coupons(
                        &[&r.coupon_id],
                        CouponStatus::Redeemed.as_str(),
                        CouponStatus::Issued.as_str(),
                        at,
                    )
                    .await?;
                    tx.spend_coupon_budget(&r.template_id, -r.discount_minor)
                        .await?;
                }
            }
            let closed = if refund {
                CouponOrderStatus::Refunded
            } else {
                CouponOrderStatus::Cancelled
            };
            tx.set_coupon_order_status(order_id, closed.as_str(), at)
                .await?;
        }
        _ => {}
    }
    Ok(())
}
