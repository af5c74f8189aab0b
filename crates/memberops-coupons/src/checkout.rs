//! Checkout validation: for every coupon a member holds, does it apply to this cart on this
//! channel now, and if not, why; then the best combination under the stacking rules.
//!
//! Best combination: at most one coupon per template; an exclusive coupon stands alone;
//! stackable coupons combine when every pair shares a group. Coupons of one combination
//! are applied in a fixed order (product vouchers, amount off, percent off, shipping,
//! gifts, spend-and-return), each on what the earlier ones left payable, and each must
//! still meet its own minimum on that remainder. The search is exact over up to
//! [`EXACT_LIMIT`] stackable candidates (every group-compatible subset, depth first in
//! application order so each step applies one coupon, pruned by an upper bound: what the
//! remaining candidates give alone); beyond that it keeps the [`EXACT_LIMIT`] biggest
//! single discounts and searches those. The winner has
//! the largest total discount, then the most gifts/rewards, then the fewest coupons.

use std::collections::HashMap;

use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::cart::Cart;
use crate::discount::{Outcome, Payable, apply};
use crate::member::{Adjustment, AdjustmentKind, MemberPricing, after_coupons, before_coupons};
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
    /// The member's tier privileges (None: a guest, no tier, or a disabled program).
    pub member: Option<MemberPricing>,
}

impl Context<'_> {
    /// What coupons start from: the cart less the privileges that come before them.
    fn start(&self, cart: &Cart) -> Payable {
        before_coupons(self.member.as_ref(), cart).0
    }
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
    #[serde(serialize_with = "memberops_core::time::rfc3339::serialize")]
    #[schema(value_type = String, format = DateTime)]
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

/// Every coupon's verdict against the full cart (at member prices when the member
/// discount comes before coupons).
pub fn evaluate(coupons: &[HeldCoupon<'_>], ctx: &Context<'_>, cart: &Cart) -> Vec<Evaluation> {
    let payable = ctx.start(cart);
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

/// A set of coupons used together with the member's privileges, and what they give.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Combination {
    pub coupon_ids: Vec<String>,
    /// Money off by the coupons (lines and shipping); the member's privileges are apart.
    pub discount_minor: i64,
    /// Discount per coupon, in `coupon_ids` order.
    pub discounts_minor: Vec<i64>,
    /// Product discount per cart line.
    pub line_discounts_minor: Vec<i64>,
    pub shipping_discount_minor: i64,
    pub gifts: Vec<Gift>,
    pub rewards: Vec<SpendReward>,
    /// The tier's privileges, each its own line (`member_shipping` first, then
    /// `member_discount`). Saved answers from before privileges read as none.
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    /// The `member_discount` adjustment's amount (0 if none).
    #[serde(default)]
    pub member_discount_minor: i64,
    /// The `member_shipping` adjustment's amount (0 if none).
    #[serde(default)]
    pub member_shipping_minor: i64,
    /// What is left to pay: lines plus shipping, minus the coupons and the privileges.
    pub payable_minor: i64,
}

/// Applies these coupons together, with the member's privileges before and after them as
/// the program places them, or says which coupon fails and why. No coupons at all gives
/// the privileges alone.
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
    let (mut payable, mut adjustments) = before_coupons(ctx.member.as_ref(), cart);
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
    after_coupons(ctx.member.as_ref(), cart, &mut payable, &mut adjustments);
    let sum = |k: AdjustmentKind| -> i64 {
        adjustments
            .iter()
            .filter(|a| a.kind == k)
            .map(|a| a.discount_minor)
            .sum()
    };
    out.member_discount_minor = sum(AdjustmentKind::MemberDiscount);
    out.member_shipping_minor = sum(AdjustmentKind::MemberShipping);
    out.adjustments = adjustments;
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

/// The best combination of the applicable coupons, with the member's privileges; None when
/// no coupon is worth using and no privilege applies. A coupon that gives nothing here
/// (no money off, no gift, no reward: a free-shipping coupon on a fee the tier already
/// waives) is never chosen, so it is not spent for nothing.
pub fn best_combination(
    coupons: &[HeldCoupon<'_>],
    evals: &[Evaluation],
    ctx: &Context<'_>,
    cart: &Cart,
) -> Option<Combination> {
    // One candidate per template: the applicable coupon that expires first.
    let mut per_template: HashMap<&str, (&HeldCoupon<'_>, &Evaluation)> = HashMap::new();
    for (c, e) in coupons.iter().zip(evals) {
        if !e.applicable || (e.discount_minor == 0 && e.gift.is_none() && e.reward.is_none()) {
            continue;
        }
        let slot = per_template.entry(c.template_id).or_insert((c, e));
        if (c.valid_to, c.id) < (slot.0.valid_to, slot.0.id) {
            *slot = (c, e);
        }
    }
    let mut best: Option<Combination> = None;
    let consider = |best: &mut Option<Combination>, combo: Combination| {
        if best.as_ref().is_none_or(|b| better(&combo, b)) {
            *best = Some(combo);
        }
    };
    let mut stackable: Vec<(&HeldCoupon<'_>, &Evaluation)> = Vec::new();
    let mut sorted: Vec<_> = per_template.into_values().collect();
    sorted.sort_by(|a, b| {
        b.1.discount_minor
            .cmp(&a.1.discount_minor)
            .then(a.0.id.cmp(b.0.id))
    });
    for (c, e) in sorted {
        match c.template.stacking {
            Stacking::Exclusive => {
                if let Ok(combo) = combine(&[c], ctx, cart) {
                    consider(&mut best, combo);
                }
            }
            Stacking::Stackable { .. } => stackable.push((c, e)),
        }
    }
    stackable.truncate(EXACT_LIMIT);
    if !stackable.is_empty() {
        let floor = best.as_ref().map(|b| (b.discount_minor, extras(b)));
        if let Some(ids) = search_stackable(stackable, ctx, cart, floor)
            && let Ok(combo) = combine(&ids, ctx, cart)
        {
            consider(&mut best, combo);
        }
    }
    if best.is_none() {
        // No coupon: the privileges alone, when there are any.
        best = combine(&[], ctx, cart)
            .ok()
            .filter(|c| !c.adjustments.is_empty());
    }
    best
}

fn extras(c: &Combination) -> usize {
    c.gifts.len() + c.rewards.len()
}

/// The search state shared down the recursion.
struct Search<'s, 'a, 'b> {
    cands: &'s [&'b HeldCoupon<'a>],
    /// Sum of the stand-alone discounts of `cands[i..]` (an upper bound on what they can
    /// add: a coupon never gives more on what earlier ones left than on the full cart).
    rest_discount: Vec<i64>,
    /// How many of `cands[i..]` give a gift or a reward.
    rest_extras: Vec<usize>,
    ctx: &'s Context<'a>,
    cart: &'s Cart,
    chosen: Vec<usize>,
    /// `(discount, extras, coupons)` of the best found, or of the best exclusive coupon.
    best: Option<(i64, usize, usize)>,
    best_ids: Option<Vec<usize>>,
}

/// The best group-compatible subset of the stackable candidates. The candidates are
/// visited in application order, so each step of the depth-first search applies one
/// coupon to what the previous steps left payable (no re-application of the prefix), and a
/// branch stops as soon as its upper bound cannot beat the best found so far.
fn search_stackable<'a, 'b>(
    mut cands: Vec<(&'b HeldCoupon<'a>, &Evaluation)>,
    ctx: &Context<'a>,
    cart: &Cart,
    floor: Option<(i64, usize)>,
) -> Option<Vec<&'b HeldCoupon<'a>>> {
    cands.sort_by_key(|(c, _)| (c.template.benefit.rank(), c.id));
    let n = cands.len();
    let mut rest_discount = vec![0i64; n + 1];
    let mut rest_extras = vec![0usize; n + 1];
    for i in (0..n).rev() {
        let e = cands[i].1;
        rest_discount[i] = rest_discount[i + 1] + e.discount_minor;
        rest_extras[i] = rest_extras[i + 1] + usize::from(e.gift.is_some() || e.reward.is_some());
    }
    let refs: Vec<&'b HeldCoupon<'a>> = cands.iter().map(|(c, _)| *c).collect();
    let mut s = Search {
        cands: &refs,
        rest_discount,
        rest_extras,
        ctx,
        cart,
        chosen: Vec::new(),
        // An exclusive coupon wins ties, so only strictly better subsets are kept.
        best: floor.map(|(d, e)| (d, e, 0)),
        best_ids: None,
    };
    s.step(0, &ctx.start(cart), 0, 0);
    s.best_ids
        .map(|ids| ids.into_iter().map(|i| refs[i]).collect())
}

impl Search<'_, '_, '_> {
    fn step(&mut self, from: usize, payable: &Payable, discount: i64, extras: usize) {
        for i in from..self.cands.len() {
            // The bound only shrinks as `i` grows: once it cannot win, nothing later can.
            if let Some((bd, be, _)) = self.best
                && (
                    discount + self.rest_discount[i],
                    extras + self.rest_extras[i],
                ) < (bd, be)
            {
                return;
            }
            let c = self.cands[i];
            if self.chosen.iter().any(|&j| {
                !self.cands[j]
                    .template
                    .stacking
                    .combines_with(&c.template.stacking)
            }) {
                continue;
            }
            let Ok(o) = one(c, self.ctx, self.cart, payable) else {
                continue;
            };
            let mut next = payable.clone();
            for (p, d) in next.lines.iter_mut().zip(&o.per_line) {
                *p -= d;
            }
            next.shipping -= o.shipping_minor;
            let d = discount + o.discount_minor;
            let e = extras + usize::from(o.gift.is_some()) + usize::from(o.reward.is_some());
            self.chosen.push(i);
            let key = (d, e, std::cmp::Reverse(self.chosen.len()));
            if self
                .best
                .is_none_or(|(bd, be, bn)| key > (bd, be, std::cmp::Reverse(bn)))
            {
                self.best = Some((d, e, self.chosen.len()));
                self.best_ids = Some(self.chosen.clone());
            }
            self.step(i + 1, &next, d, e);
            self.chosen.pop();
        }
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

    /// Every subset of the candidates through `combine`: the reference for the pruned
    /// search.
    fn brute_force(
        coupons: &[HeldCoupon<'_>],
        ctx: &Context<'_>,
        cart: &Cart,
    ) -> Option<(i64, usize, usize)> {
        let n = coupons.len();
        let mut best: Option<(i64, usize, usize)> = None;
        for mask in 1u32..(1 << n) {
            let chosen: Vec<&HeldCoupon<'_>> = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| &coupons[i])
                .collect();
            if let Ok(c) = combine(&chosen, ctx, cart) {
                let key = (c.discount_minor, extras(&c), chosen.len());
                let wins = best.is_none_or(|(d, e, k)| {
                    (key.0, key.1, std::cmp::Reverse(key.2)) > (d, e, std::cmp::Reverse(k))
                });
                if wins {
                    best = Some(key);
                }
            }
        }
        best
    }

    fn any_benefit() -> impl Strategy<Value = Benefit> {
        prop_oneof![
            (1i64..20_000, 0i64..40_000).prop_map(|(off, min)| Benefit::AmountOff {
                off_minor: off,
                min_spend_minor: min
            }),
            (1i64..60, proptest::option::of(1i64..10_000), 0i64..30_000).prop_map(
                |(p, cap, min)| Benefit::PercentOff {
                    percent_off: p,
                    cap_minor: cap,
                    min_spend_minor: min,
                }
            ),
            (0i64..30_000).prop_map(|min| Benefit::FreeGift {
                gift_sku: "G".into(),
                gift_quantity: 1,
                min_spend_minor: min,
            }),
            (0i64..30_000).prop_map(|min| Benefit::FreeShipping {
                min_spend_minor: min,
                cap_minor: None
            }),
        ]
    }

    fn any_stacking() -> impl Strategy<Value = Stacking> {
        prop_oneof![
            1 => Just(Stacking::Exclusive),
            4 => proptest::collection::vec(0usize..3, 1..3).prop_map(|gs| Stacking::Stackable {
                groups: gs.into_iter().map(|g| ["a", "b", "c"][g].to_owned()).collect(),
            }),
        ]
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn pruned_search_finds_what_brute_force_finds(
            specs in proptest::collection::vec((any_benefit(), any_stacking()), 1..9),
            prices in proptest::collection::vec(100i64..20_000, 1..6),
        ) {
            let specs: Vec<TemplateSpec> = specs.into_iter().map(|(b, s)| spec(b, s)).collect();
            let ids: Vec<String> = (0..specs.len()).map(|i| format!("c{i}")).collect();
            let coupons: Vec<HeldCoupon<'_>> = ids.iter().zip(&specs).map(|(id, t)| held(id, t)).collect();
            let cart = Cart {
                lines: prices.iter().enumerate().map(|(i, p)| CartLine {
                    sku: format!("s{i}"), category: None, brand: None,
                    unit_price_minor: *p, quantity: 1, special_price: false,
                }).collect(),
                shipping_minor: 800,
            };
            let ctx = Context { now: 1, ..Context::default() };
            let evals = evaluate(&coupons, &ctx, &cart);
            let got = best_combination(&coupons, &evals, &ctx, &cart)
                .map(|c| (c.discount_minor, extras(&c), c.coupon_ids.len()));
            prop_assert_eq!(got, brute_force(&coupons, &ctx, &cart));
        }
    }
}
