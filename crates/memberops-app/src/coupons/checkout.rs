//! Checkout: which of a member's coupons apply to a cart (and the best combination), and
//! locking the chosen ones to an order, idempotently by order id.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use memberops_core::time::{Millis, now_millis};
use memberops_core::{FieldError, Invalid};
use memberops_coupons::checkout::{Context, combine};
use memberops_coupons::{
    Cart, Combination, CouponOrderStatus, CouponStatus, Evaluation, HeldCoupon, RedemptionStatus,
    TemplateSpec, best_combination, evaluate,
};
use memberops_store::{CouponOrderRow, CouponRow, RedemptionRow, Store, StoreError};
use serde::{Deserialize, Serialize};

use super::{Loaded, conflict, load, member_in_tx, templates_in_tx};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ValidateIn {
    /// The member's external id.
    pub member: String,
    /// Where the order is placed (`app`, `store`, `mini_program`…).
    #[serde(default)]
    pub channel: Option<String>,
    pub cart: Cart,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidateOut {
    pub member_id: String,
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    /// What is left to pay: the best combination's, or subtotal plus shipping when no
    /// coupon applies (always given, so a shop need not compute it).
    pub payable_minor: i64,
    /// Every coupon the member holds, applicable or not (with the reason).
    pub coupons: Vec<Evaluation>,
    /// The combination that saves the most, if any coupon applies.
    pub best: Option<Combination>,
}

fn held<'a>(rows: &'a [CouponRow], templates: &'a HashMap<String, Loaded>) -> Vec<HeldCoupon<'a>> {
    rows.iter()
        .filter_map(|c| {
            let t = templates.get(&c.template_id)?;
            Some(HeldCoupon {
                id: &c.id,
                template_id: &c.template_id,
                template: &t.spec,
                status: CouponStatus::parse(&c.status).unwrap_or(CouponStatus::Void),
                valid_from: c.valid_from.unwrap_or(0),
                valid_to: c.valid_to.unwrap_or(0),
            })
        })
        .collect()
}

/// A coupon that counts as used for the template's per-order limits: locked to an order or
/// redeemed.
fn in_use(status: &str) -> bool {
    matches!(
        CouponStatus::parse(status),
        Some(CouponStatus::Locked | CouponStatus::Redeemed)
    )
}

fn context<'a>(
    rows: &'a [CouponRow],
    templates: &'a HashMap<String, Loaded>,
    now: Millis,
    channel: Option<&'a str>,
) -> Context<'a> {
    let mut ctx = Context {
        now,
        channel,
        ..Context::default()
    };
    for c in rows {
        if in_use(&c.status) {
            *ctx.uses.entry(c.template_id.as_str()).or_insert(0) += 1;
        }
    }
    for (id, t) in templates {
        if let Some(b) = t.row.budget_minor {
            ctx.budget_left
                .insert(id.as_str(), b - t.row.budget_used_minor);
        }
    }
    ctx
}

/// Parsed template rules by `(workspace, template id)`, with the `updated_at` they were
/// parsed at: every edit moves `updated_at`, so a hit is never stale. Checkout reads the
/// live counters (budget) with the coupons on every request and the rules only on a miss.
type SpecCache = HashMap<(String, String), (Millis, Arc<TemplateSpec>)>;

static SPECS: LazyLock<RwLock<SpecCache>> = LazyLock::new(Default::default);
const SPEC_CACHE_MAX: usize = 10_000;

/// The parsed rules of these templates (at these versions), from the cache or the store.
async fn cached_specs(
    store: &dyn Store,
    ws: &str,
    wanted: &[(&str, Millis)],
) -> Result<HashMap<String, Arc<TemplateSpec>>> {
    let mut out = HashMap::with_capacity(wanted.len());
    let mut missing: Vec<&str> = Vec::new();
    {
        let cache = SPECS.read().unwrap_or_else(|p| p.into_inner());
        for (id, at) in wanted {
            match cache.get(&(ws.to_owned(), (*id).to_owned())) {
                Some((v, spec)) if v == at => {
                    out.insert((*id).to_owned(), spec.clone());
                }
                _ => missing.push(id),
            }
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let rows = store.coupon_templates_by_ids(ws, &missing).await?;
    let mut cache = SPECS.write().unwrap_or_else(|p| p.into_inner());
    if cache.len() + rows.len() > SPEC_CACHE_MAX {
        cache.clear();
    }
    for r in rows {
        let l = load(r)?;
        let spec = Arc::new(l.spec);
        cache.insert(
            (ws.to_owned(), l.row.id.clone()),
            (l.row.updated_at, spec.clone()),
        );
        out.insert(l.row.id, spec);
    }
    Ok(out)
}

pub async fn validate(store: &dyn Store, ws: &Workspace, req: ValidateIn) -> Result<ValidateOut> {
    req.cart.validate()?;
    let view = store
        .checkout_coupons(&ws.id, &req.member)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    let mut wanted: Vec<(&str, Millis)> = view
        .coupons
        .iter()
        .map(|(c, t)| (c.template_id.as_str(), t.updated_at))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let specs = cached_specs(store, &ws.id, &wanted).await?;
    let coupons: Vec<HeldCoupon<'_>> = view
        .coupons
        .iter()
        .filter_map(|(c, _)| {
            Some(HeldCoupon {
                id: &c.id,
                template_id: &c.template_id,
                template: specs.get(&c.template_id)?,
                status: CouponStatus::parse(&c.status).unwrap_or(CouponStatus::Void),
                valid_from: c.valid_from.unwrap_or(0),
                valid_to: c.valid_to.unwrap_or(0),
            })
        })
        .collect();
    let mut ctx = Context {
        now: now_millis(),
        channel: req.channel.as_deref(),
        ..Context::default()
    };
    for (c, t) in &view.coupons {
        if in_use(&c.status) {
            *ctx.uses.entry(c.template_id.as_str()).or_insert(0) += 1;
        }
        if let Some(b) = t.budget_minor {
            ctx.budget_left
                .insert(c.template_id.as_str(), b - t.budget_used_minor);
        }
    }
    let evals = evaluate(&coupons, &ctx, &req.cart);
    let best = best_combination(&coupons, &evals, &ctx, &req.cart);
    let payable_minor = best.as_ref().map_or_else(
        || req.cart.subtotal().saturating_add(req.cart.shipping_minor),
        |b| b.payable_minor,
    );
    Ok(ValidateOut {
        member_id: view.member_id,
        subtotal_minor: req.cart.subtotal(),
        shipping_minor: req.cart.shipping_minor,
        payable_minor,
        coupons: evals,
        best,
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RedeemIn {
    pub member: String,
    /// The shop's order id: redeeming again with it returns the first answer.
    pub order_id: String,
    #[serde(default)]
    pub channel: Option<String>,
    pub cart: Cart,
    /// The coupons to use together.
    pub coupon_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RedeemOut {
    pub order_id: String,
    pub member_id: String,
    /// `locked` until `order.paid` makes it `paid`; `released` after a cancel,
    /// `refunded` after a full refund.
    pub status: String,
    pub combination: Combination,
}

fn check_redeem(req: &RedeemIn) -> Result<()> {
    let mut errs = Vec::new();
    if req.order_id.trim().is_empty() || req.order_id.len() > 200 {
        errs.push(FieldError::new(
            &["order_id"],
            "invalid_order_id",
            "order_id must be 1–200 characters",
        ));
    }
    if req.coupon_ids.is_empty() || req.coupon_ids.len() > 20 {
        errs.push(FieldError::new(
            &["coupon_ids"],
            "out_of_range",
            "choose 1–20 coupons",
        ));
    }
    let mut sorted = req.coupon_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != req.coupon_ids.len() {
        errs.push(FieldError::new(
            &["coupon_ids"],
            "duplicate",
            "a coupon is named twice",
        ));
    }
    if let Err(Invalid(e)) = req.cart.validate() {
        errs.extend(e);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errs).into())
    }
}

pub async fn redeem(store: &dyn Store, ws: &Workspace, req: RedeemIn) -> Result<RedeemOut> {
    check_redeem(&req)?;
    let now = now_millis();
    let order_id = req.order_id.trim();
    let mut tx = store.begin_write(&ws.id).await?;
    let member = member_in_tx(tx.as_mut(), &req.member).await?;
    if let Some(saved) = tx.tx_coupon_order(order_id).await? {
        let ids: Vec<String> = serde_json::from_str(&saved.coupon_ids)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if saved.member_id != member.id || ids != req.coupon_ids {
            return Err(conflict(
                "order_already_redeemed",
                format!("order {order_id} already has other coupons"),
            ));
        }
        let mut out: RedeemOut =
            serde_json::from_str(&saved.result).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.status = saved.status;
        return Ok(out);
    }
    let chosen_ids: Vec<&str> = req.coupon_ids.iter().map(String::as_str).collect();
    let chosen_rows = tx.tx_coupons(&chosen_ids).await?;
    for id in &chosen_ids {
        match chosen_rows.iter().find(|c| c.id == *id) {
            None => return Err(AppError::NotFound { what: "coupon" }),
            Some(c) if c.member_id.as_deref() != Some(member.id.as_str()) => {
                return Err(conflict(
                    "not_owner",
                    format!("coupon {id} belongs to another member"),
                ));
            }
            Some(_) => {}
        }
    }
    let all = tx.tx_member_coupons(&member.id).await?;
    let mut tids: Vec<&str> = chosen_rows.iter().map(|c| c.template_id.as_str()).collect();
    tids.sort_unstable();
    tids.dedup();
    let templates: HashMap<String, Loaded> = templates_in_tx(tx.as_mut(), &tids)
        .await?
        .into_iter()
        .map(|l| (l.row.id.clone(), l))
        .collect();
    // In the client's order, so the saved answer lines up with the request.
    let ordered: Vec<CouponRow> = chosen_ids
        .iter()
        .filter_map(|id| chosen_rows.iter().find(|c| c.id == *id).cloned())
        .collect();
    let coupons = held(&ordered, &templates);
    let ctx = context(&all, &templates, now, req.channel.as_deref());
    let refs: Vec<&HeldCoupon<'_>> = coupons.iter().collect();
    let combo = combine(&refs, &ctx, &req.cart).map_err(|(id, reason)| {
        conflict(reason.as_str(), format!("coupon {id}: {}", reason.as_str()))
    })?;
    let mut redemptions = Vec::with_capacity(coupons.len());
    for (c, discount) in coupons.iter().zip(&combo.discounts_minor) {
        if !tx.lock_coupon(c.id, &member.id, order_id, now).await? {
            return Err(conflict(
                "already_used",
                format!("coupon {} is no longer available", c.id),
            ));
        }
        if *discount > 0 && !tx.spend_coupon_budget(c.template_id, *discount).await? {
            return Err(conflict(
                "budget_exhausted",
                format!("template {} has no budget left", c.template_id),
            ));
        }
        redemptions.push(RedemptionRow {
            order_id: order_id.to_owned(),
            coupon_id: c.id.to_owned(),
            template_id: c.template_id.to_owned(),
            member_id: member.id.clone(),
            discount_minor: *discount,
            status: RedemptionStatus::Locked.as_str().into(),
            locked_at: now,
            paid_at: None,
            closed_at: None,
        });
    }
    tx.insert_redemptions(&redemptions).await?;
    let out = RedeemOut {
        order_id: order_id.to_owned(),
        member_id: member.id.clone(),
        status: CouponOrderStatus::Locked.as_str().into(),
        combination: combo,
    };
    tx.insert_coupon_order(&CouponOrderRow {
        order_id: order_id.to_owned(),
        member_id: member.id.clone(),
        coupon_ids: super::to_json(&req.coupon_ids)?,
        result: super::to_json(&out)?,
        status: CouponOrderStatus::Locked.as_str().into(),
        created_at: now,
        updated_at: now,
    })
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// The redemption saved for an order.
pub async fn order(store: &dyn Store, ws: &Workspace, order_id: &str) -> Result<RedeemOut> {
    let saved = store
        .coupon_order(&ws.id, order_id)
        .await?
        .ok_or(AppError::NotFound {
            what: "coupon order",
        })?;
    let mut out: RedeemOut =
        serde_json::from_str(&saved.result).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    out.status = saved.status;
    Ok(out)
}
