//! Checkout validation: for every coupon a member holds, does it apply to this cart on this
//! channel now, and if not, why; then the best combination under the stacking rules.
//!
//! Best combination: at most one coupon per template; an exclusive coupon stands alone;
//! stackable coupons combine when every pair shares a group. Coupons of one combination
//! are applied in a fixed order (product vouchers, amount off, percent off, shipping,
//! gifts, spend-and-return), each on what the earlier ones left payable, and each must
//! still meet its own minimum on that remainder. The search is exact over up to
//! [`EXACT_LIMIT`] stackable candidates (every group-compatible subset); beyond that it
//! keeps the [`EXACT_LIMIT`] biggest single discounts and searches those. The winner has
//! the largest total discount, then the most gifts/rewards, then the fewest coupons.

use std::collections::HashMap;

use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::cart::Cart;
use crate::discount::{Outcome, Payable, apply};
use crate::template::{CouponStatus, SpendReward, Stacking, TemplateSpec};

pub const EXACT_LIMIT: usize = 12;

/// Why a coupon does not apply (stable snake_case codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    AlreadyUsed,
    Locked,
    Void,
    Expired,
    NotStarted,
    NotOwner,
    ChannelNotAllowed,
    LimitReached,
    BudgetExhausted,
    OutOfScope,
    BelowMinimum,
    NotStackable,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::AlreadyUsed => "already_used",
            Reason::Locked => "locked",
            Reason::Void => "void",
            Reason::Expired => "expired",
            Reason::NotStarted => "not_started",
            Reason::NotOwner => "not_owner",
            Reason::ChannelNotAllowed => "channel_not_allowed",
            Reason::LimitReached => "limit_reached",
            Reason::BudgetExhausted => "budget_exhausted",
            Reason::OutOfScope => "out_of_scope",
            Reason::BelowMinimum => "below_minimum",
            Reason::NotStackable => "not_stackable",
        }
    }
}

/// A coupon as checkout sees it.
#[derive(Debug, Clone)]
pub struct HeldCoupon<'a> {
    pub id: &'a str,
    pub template_id: &'a str,
    pub template: &'a TemplateSpec,
    pub status: CouponStatus,
    pub valid_from: Millis,
    pub valid_to: Millis,
}

/// What else checkout needs to know about the member and the templates.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    pub now: Millis,
    pub channel: Option<&'a str>,
    /// Coupons of each template the member has locked or redeemed.
    pub uses: HashMap<&'a str, i64>,
    /// Budget left per template, where the template has a budget.
    pub budget_left: HashMap<&'a str, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gift {
    pub sku: String,
    pub quantity: i64,
}

/// One coupon's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    pub coupon_id: String,
    pub template_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub applicable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Money off if used alone.
    pub discount_minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift: Option<Gift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<SpendReward>,
    pub valid_to: Millis,
}

/// Checks everything but the cart, in the order a member would want to hear it.
pub fn precheck(c: &HeldCoupon<'_>, ctx: &Context<'_>) -> Result<(), Reason> {
    match c.status {
        CouponStatus::Redeemed => return Err(Reason::AlreadyUsed),
        CouponStatus::Locked => return Err(Reason::Locked),
        CouponStatus::Void => return Err(Reason::Void),
        CouponStatus::Expired => return Err(Reason::Expired),
        CouponStatus::Issued => {}
    }
    if ctx.now >= c.valid_to {
        return Err(Reason::Expired);
    }
    if ctx.now < c.valid_from {
        return Err(Reason::NotStarted);
    }
    let channels = &c.template.channels;
    if !channels.is_empty()
        && !ctx
            .channel
            .is_some_and(|ch| channels.iter().any(|a| a == ch))
    {
        return Err(Reason::ChannelNotAllowed);
    }
    if let Some(max) = c.template.limits.per_member_uses
        && ctx.uses.get(c.template_id).copied().unwrap_or(0) >= max
    {
        return Err(Reason::LimitReached);
    }
    if ctx
        .budget_left
        .get(c.template_id)
        .is_some_and(|left| *left <= 0)
    {
        return Err(Reason::BudgetExhausted);
    }
    Ok(())
}

fn one(
    c: &HeldCoupon<'_>,
    ctx: &Context<'_>,
    cart: &Cart,
    payable: &Payable,
) -> Result<Outcome, Reason> {
    precheck(c, ctx)?;
    let mut o = apply(&c.template.benefit, &c.template.scope, cart, payable)?;
    // A budget caps the discount at what is left of it.
    if let Some(left) = ctx.budget_left.get(c.template_id)
        && o.discount_minor > *left
    {
        if o.shipping_minor > 0 {
            o.shipping_minor = o.shipping_minor.min(*left);
            o.discount_minor = o.shipping_minor;
        } else {
            let idx: Vec<i64> = o.per_line.clone();
            o.discount_minor = *left;
            o.per_line = crate::discount::allocate(*left, &idx);
        }
    }
    Ok(o)
}

/// Every coupon's verdict against the full cart.
pub fn evaluate(coupons: &[HeldCoupon<'_>], ctx: &Context<'_>, cart: &Cart) -> Vec<Evaluation> {
    let payable = Payable::of(cart);
    coupons
        .iter()
        .map(|c| {
            let r = one(c, ctx, cart, &payable);
            let (reason, o) = match r {
                Ok(o) => (None, o),
                Err(e) => (Some(e), Outcome::default()),
            };
            Evaluation {
                coupon_id: c.id.to_owned(),
                template_id: c.template_id.to_owned(),
                name: c.template.name.clone(),
                kind: c.template.benefit.kind(),
                applicable: reason.is_none(),
                reason,
                discount_minor: o.discount_minor,
                gift: o.gift.map(|(sku, quantity)| Gift { sku, quantity }),
                reward: o.reward,
                valid_to: c.valid_to,
            }
        })
        .collect()
}

/// A set of coupons used together, and what they give.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Combination {
    pub coupon_ids: Vec<String>,
    pub discount_minor: i64,
    /// Discount per coupon, in `coupon_ids` order.
    pub discounts_minor: Vec<i64>,
    /// Product discount per cart line.
    pub line_discounts_minor: Vec<i64>,
    pub shipping_discount_minor: i64,
    pub gifts: Vec<Gift>,
    pub rewards: Vec<SpendReward>,
    /// What is left to pay: lines plus shipping, minus the discount.
    pub payable_minor: i64,
}

/// Applies these coupons together, or says which one fails and why.
pub fn combine(
    chosen: &[&HeldCoupon<'_>],
    ctx: &Context<'_>,
    cart: &Cart,
) -> Result<Combination, (String, Reason)> {
    for (i, a) in chosen.iter().enumerate() {
        for b in &chosen[i + 1..] {
            if a.template_id == b.template_id
                || !a.template.stacking.combines_with(&b.template.stacking)
            {
                return Err((b.id.to_owned(), Reason::NotStackable));
            }
        }
    }
    let mut order: Vec<&&HeldCoupon<'_>> = chosen.iter().collect();
    order.sort_by_key(|c| (c.template.benefit.rank(), c.id));
    let mut payable = Payable::of(cart);
    let mut out = Combination {
        line_discounts_minor: vec![0; cart.lines.len()],
        ..Combination::default()
    };
    let mut by_id: HashMap<&str, i64> = HashMap::new();
    for c in order {
        let o = one(c, ctx, cart, &payable).map_err(|r| (c.id.to_owned(), r))?;
        for (i, d) in o.per_line.iter().enumerate() {
            payable.lines[i] -= d;
            out.line_discounts_minor[i] += d;
        }
        payable.shipping -= o.shipping_minor;
        out.shipping_discount_minor += o.shipping_minor;
        out.discount_minor += o.discount_minor;
        by_id.insert(c.id, o.discount_minor);
        if let Some((sku, quantity)) = o.gift {
            out.gifts.push(Gift { sku, quantity });
        }
        out.rewards.extend(o.reward);
    }
    out.coupon_ids = chosen.iter().map(|c| c.id.to_owned()).collect();
    out.discounts_minor = chosen
        .iter()
        .map(|c| by_id.get(c.id).copied().unwrap_or(0))
        .collect();
    out.payable_minor = payable.total();
    Ok(out)
}

fn better(a: &Combination, b: &Combination) -> bool {
    let key = |c: &Combination| {
        (
            c.discount_minor,
            c.gifts.len() + c.rewards.len(),
            std::cmp::Reverse(c.coupon_ids.len()),
        )
    };
    key(a) > key(b)
}

/// The best combination of the applicable coupons (None when none applies).
pub fn best_combination(
    coupons: &[HeldCoupon<'_>],
    evals: &[Evaluation],
    ctx: &Context<'_>,
    cart: &Cart,
) -> Option<Combination> {
    // One candidate per template: the applicable coupon that expires first.
    let mut per_template: HashMap<&str, (&HeldCoupon<'_>, &Evaluation)> = HashMap::new();
    for (c, e) in coupons.iter().zip(evals) {
        if !e.applicable {
            continue;
        }
        let slot = per_template.entry(c.template_id).or_insert((c, e));
        if (c.valid_to, c.id) < (slot.0.valid_to, slot.0.id) {
            *slot = (c, e);
        }
    }
    let mut best: Option<Combination> = None;
    let mut consider = |combo: Combination| {
        if best.as_ref().is_none_or(|b| better(&combo, b)) {
            best = Some(combo);
        }
    };
    let mut stackable: Vec<&HeldCoupon<'_>> = Vec::new();
    let mut sorted: Vec<_> = per_template.into_values().collect();
    sorted.sort_by(|a, b| {
        b.1.discount_minor
            .cmp(&a.1.discount_minor)
            .then(a.0.id.cmp(b.0.id))
    });
    for (c, _) in sorted {
        match c.template.stacking {
            Stacking::Exclusive => {
                if let Ok(combo) = combine(&[c], ctx, cart) {
                    consider(combo);
                }
            }
            Stacking::Stackable { .. } => stackable.push(c),
        }
    }
    stackable.truncate(EXACT_LIMIT);
    let mut chosen: Vec<&HeldCoupon<'_>> = Vec::new();
    search(&stackable, 0, &mut chosen, ctx, cart, &mut consider);
    best
}

/// Every non-empty subset of `cands` whose members pairwise share a group.
fn search<'a, 'b>(
    cands: &[&'b HeldCoupon<'a>],
    from: usize,
    chosen: &mut Vec<&'b HeldCoupon<'a>>,
    ctx: &Context<'_>,
    cart: &Cart,
    consider: &mut impl FnMut(Combination),
) {
    for i in from..cands.len() {
        let c = cands[i];
        if chosen
            .iter()
            .any(|x| !x.template.stacking.combines_with(&c.template.stacking))
        {
            continue;
        }
        chosen.push(c);
        if let Ok(combo) = combine(chosen, ctx, cart) {
            consider(combo);
            search(cands, i + 1, chosen, ctx, cart, consider);
        }
        chosen.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::CartLine;
    use crate::template::{Benefit, Limits, RefundPolicy, Scope, Validity};

    fn spec(benefit: Benefit, stacking: Stacking) -> TemplateSpec {
        TemplateSpec {
            name: "t".into(),
            description: None,
            benefit,
            scope: Scope::default(),
            validity: Validity::DaysFromIssue { days: 1 },
            limits: Limits::default(),
            channels: vec![],
            stacking,
            claimable: false,
            shared_code: None,
            on_refund: RefundPolicy::Restore,
            share: None,
        }
    }

    fn held<'a>(id: &'a str, t: &'a TemplateSpec) -> HeldCoupon<'a> {
        HeldCoupon {
            id,
            template_id: id,
            template: t,
            status: CouponStatus::Issued,
            valid_from: 0,
            valid_to: 100,
        }
    }

    fn cart(amount: i64) -> Cart {
        Cart {
            lines: vec![CartLine {
                sku: "a".into(),
                category: None,
                brand: None,
                unit_price_minor: amount,
                quantity: 1,
                special_price: false,
            }],
            shipping_minor: 0,
        }
    }

    #[test]
    fn thresholds_apply_to_what_earlier_coupons_left() {
        let g = || Stacking::Stackable {
            groups: vec!["g".into()],
        };
        let a = spec(
            Benefit::AmountOff {
                off_minor: 3000,
                min_spend_minor: 20000,
            },
            g(),
        );
        let b = spec(
            Benefit::AmountOff {
                off_minor: 1000,
                min_spend_minor: 20000,
            },
            g(),
        );
        let coupons = [held("a", &a), held("b", &b)];
        let ctx = Context {
            now: 1,
            ..Context::default()
        };
        // 210: both apply alone, but after 30 off only 180 is left, below b's minimum.
        let c = cart(21000);
        let evals = evaluate(&coupons, &ctx, &c);
        assert!(evals.iter().all(|e| e.applicable));
        let refs: Vec<&HeldCoupon<'_>> = coupons.iter().collect();
        assert_eq!(
            combine(&refs, &ctx, &c).map(|_| ()),
            Err(("b".to_owned(), Reason::BelowMinimum))
        );
        let best = best_combination(&coupons, &evals, &ctx, &c).expect("best");
        assert_eq!(
            (best.coupon_ids, best.discount_minor),
            (vec!["a".to_owned()], 3000)
        );
        // 500: both fit.
        let c = cart(50000);
        let evals = evaluate(&coupons, &ctx, &c);
        let best = best_combination(&coupons, &evals, &ctx, &c).expect("best");
        assert_eq!(best.discount_minor, 4000);
    }

    #[test]
    fn status_time_and_channel_reasons() {
        let mut t = spec(
            Benefit::AmountOff {
                off_minor: 100,
                min_spend_minor: 0,
            },
            Stacking::Exclusive,
        );
        t.channels = vec!["app".into()];
        let ctx = |now, ch| Context {
            now,
            channel: ch,
            ..Context::default()
        };
        let mut c = held("x", &t);
        assert_eq!(
            precheck(&c, &ctx(1, Some("store"))),
            Err(Reason::ChannelNotAllowed)
        );
        assert_eq!(precheck(&c, &ctx(1, Some("app"))), Ok(()));
        assert_eq!(precheck(&c, &ctx(100, Some("app"))), Err(Reason::Expired));
        c.valid_from = 50;
        assert_eq!(precheck(&c, &ctx(10, Some("app"))), Err(Reason::NotStarted));
        c.status = CouponStatus::Redeemed;
        assert_eq!(
            precheck(&c, &ctx(60, Some("app"))),
            Err(Reason::AlreadyUsed)
        );
    }

    #[test]
    fn budget_caps_the_discount() {
        let t = spec(
            Benefit::AmountOff {
                off_minor: 3000,
                min_spend_minor: 0,
            },
            Stacking::Exclusive,
        );
        let coupons = [held("a", &t)];
        let mut ctx = Context {
            now: 1,
            ..Context::default()
        };
        ctx.budget_left.insert("a", 1200);
        let evals = evaluate(&coupons, &ctx, &cart(10000));
        assert_eq!(evals[0].discount_minor, 1200);
        ctx.budget_left.insert("a", 0);
        let evals = evaluate(&coupons, &ctx, &cart(10000));
        assert_eq!(evals[0].reason, Some(Reason::BudgetExhausted));
    }
}
