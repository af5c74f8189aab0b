//! Share-to-claim (分享裂变): a member shares a link for a template, friends claim a coupon
//! with it, and the sharer earns a reward coupon for every `threshold` claims (or friends'
//! first paid orders, counted in the `order.paid` hook).

use memberops_core::id::new_id;
use memberops_core::time::{Millis, millis_to_rfc3339, now_millis};
use memberops_coupons::template::{ShareRule, ShareTrigger};
use memberops_store::{CouponRow, RewardRow, ShareClaimRow, ShareLinkRow, Store, WriteTx};
use serde::{Deserialize, Serialize};

use super::{
    CouponOut, Grant, LINK, REWARD, conflict, issue_grants, member_in_tx, templates_in_tx,
};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LinkIn {
    pub template_id: String,
    /// The sharer's external id.
    pub member: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkOut {
    pub id: String,
    pub template_id: String,
    pub sharer_id: String,
    pub claims: i64,
    pub conversions: i64,
    pub rewards: i64,
    pub created_at: String,
}

fn link_out(l: &ShareLinkRow) -> LinkOut {
    LinkOut {
        id: l.id.clone(),
        template_id: l.template_id.clone(),
        sharer_id: l.sharer_id.clone(),
        claims: l.claims,
        conversions: l.conversions,
        rewards: l.rewards,
        created_at: millis_to_rfc3339(l.created_at),
    }
}

/// The sharer's link for a template (one per sharer and template; asking again returns it).
pub async fn create_link(store: &dyn Store, ws: &Workspace, req: LinkIn) -> Result<LinkOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    let sharer = member_in_tx(tx.as_mut(), &req.member).await?;
    let Some(t) = templates_in_tx(tx.as_mut(), &[&req.template_id])
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    };
    if t.spec.share.is_none() {
        return Err(conflict(
            "not_shareable",
            format!("template {} has no share rule", t.row.id),
        ));
    }
    if let Some(l) = tx.share_link_of(&t.row.id, &sharer.id).await? {
        return Ok(link_out(&l));
    }
    let link = ShareLinkRow {
        id: new_id(LINK),
        template_id: t.row.id.clone(),
        sharer_id: sharer.id,
        claims: 0,
        conversions: 0,
        rewards: 0,
        created_at: now_millis(),
    };
    tx.insert_share_link(&link).await?;
    tx.commit().await?;
    Ok(link_out(&link))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LinkClaimIn {
    /// The friend's external id.
    pub member: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkClaimOut {
    pub coupon: CouponOut,
    pub link: LinkOut,
    /// The coupon the sharer earned with this claim, if it completed a round.
    pub sharer_reward: Option<CouponOut>,
}

pub async fn claim_link(
    store: &dyn Store,
    ws: &Workspace,
    link_id: &str,
    req: LinkClaimIn,
) -> Result<LinkClaimOut> {
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    let claimant = member_in_tx(tx.as_mut(), &req.member).await?;
    let mut link = tx
        .tx_share_link(link_id)
        .await?
        .ok_or(AppError::NotFound { what: "share link" })?;
    let templates = templates_in_tx(tx.as_mut(), &[&link.template_id]).await?;
    let Some(rule) = templates.first().and_then(|t| t.spec.share.clone()) else {
        return Err(conflict(
            "not_shareable",
            "the template no longer has a share rule",
        ));
    };
    if claimant.id == link.sharer_id {
        return Err(conflict(
            "own_link",
            "a sharer cannot claim from their own link",
        ));
    }
    if rule.max_claims_per_link.is_some_and(|m| link.claims >= m) {
        return Err(conflict("limit_reached", "this link has no claims left"));
    }
    let before = tx
        .count_share_claims(&link.template_id, &claimant.id)
        .await?;
    if before >= rule.max_claims_per_claimant {
        return Err(conflict(
            "limit_reached",
            "this member has claimed this share offer already",
        ));
    }
    let grants = [Grant {
        template: 0,
        member_id: claimant.id.clone(),
        quantity: 1,
    }];
    let coupon = issue_grants(tx.as_mut(), ws, &templates, &grants, "share", now).await?;
    let Some(coupon) = coupon.into_iter().next() else {
        return Err(AppError::NotFound { what: "coupon" });
    };
    tx.insert_share_claim(&ShareClaimRow {
        link_id: link.id.clone(),
        template_id: link.template_id.clone(),
        claimant_id: claimant.id.clone(),
        coupon_id: coupon.id.clone(),
        claimed_at: now,
        converted_order_id: None,
        converted_at: None,
    })
    .await
    .map_err(|e| match e {
        memberops_store::StoreError::Conflict(_) => {
            conflict("already_claimed", "this member has claimed from this link")
        }
        e => e.into(),
    })?;
    tx.bump_share_link(&link.id, 1, 0, 0).await?;
    link.claims += 1;
    let reward = if rule.trigger == ShareTrigger::Claims {
        let count = link.claims;
        reward_if_due(tx.as_mut(), ws, &mut link, &rule, count, None, now).await?
    } else {
        None
    };
    tx.commit().await?;
    Ok(LinkClaimOut {
        coupon: CouponOut::from(&coupon),
        link: link_out(&link),
        sharer_reward: reward.as_ref().map(CouponOut::from),
    })
}

/// Gives the sharer a reward coupon when `count` completes a round of `threshold`, within
/// the per-sharer cap. A reward template out of stock (or over its per-member limit) means
/// no reward, not a failed claim.
pub(crate) async fn reward_if_due(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    link: &mut ShareLinkRow,
    rule: &ShareRule,
    count: i64,
    order_id: Option<&str>,
    now: Millis,
) -> Result<Option<CouponRow>> {
    if count % rule.threshold != 0
        || rule
            .max_rewards_per_sharer
            .is_some_and(|m| link.rewards >= m)
    {
        return Ok(None);
    }
    let templates = templates_in_tx(tx, &[&rule.reward_template_id]).await?;
    let grants = [Grant {
        template: 0,
        member_id: link.sharer_id.clone(),
        quantity: 1,
    }];
    let rows = match issue_grants(tx, ws, &templates, &grants, "share_reward", now).await {
        Ok(rows) => rows,
        Err(AppError::Conflict { code, .. }) => {
            tracing::warn!(link = %link.id, code, "share reward not issued");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let Some(c) = rows.into_iter().next() else {
        return Ok(None);
    };
    tx.bump_share_link(&link.id, 0, 0, 1).await?;
    link.rewards += 1;
    tx.insert_reward(&RewardRow {
        id: new_id(REWARD),
        member_id: link.sharer_id.clone(),
        template_id: link.template_id.clone(),
        order_id: order_id.map(str::to_owned),
        kind: "coupon".into(),
        points: None,
        coupon_id: Some(c.id.clone()),
        created_at: now,
    })
    .await?;
    Ok(Some(c))
}

/// A friend's first paid order converts their open share claims.
pub(crate) async fn on_first_order(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    order_id: &str,
    now: Millis,
) -> Result<()> {
    let open = tx.open_share_claims(member_id).await?;
    if open.is_empty() || tx.member_order_count(member_id).await? != 1 {
        return Ok(());
    }
    for claim in open {
        tx.convert_share_claim(&claim.link_id, member_id, order_id, now)
            .await?;
        let Some(mut link) = tx.tx_share_link(&claim.link_id).await? else {
            continue;
        };
        tx.bump_share_link(&link.id, 0, 1, 0).await?;
        link.conversions += 1;
        let rule = templates_in_tx(tx, &[&link.template_id])
            .await?
            .into_iter()
            .next()
            .and_then(|t| t.spec.share);
        if let Some(rule) = rule
            && rule.trigger == ShareTrigger::FirstOrders
        {
            let count = link.conversions;
            reward_if_due(tx, ws, &mut link, &rule, count, Some(order_id), now).await?;
        }
    }
    Ok(())
}
