//! Tier privileges together with coupons: the ordering (先满减后折扣 or member price
//! first), free shipping before coupons, and the properties a cashier relies on.

use proptest::prelude::*;

use crate::cart::{Cart, CartLine};
use crate::checkout::{Context, HeldCoupon, best_combination, combine, evaluate};
use crate::member::{AdjustmentKind, MemberDiscountOrder, MemberPricing, discount_of};
use crate::template::{
    Benefit, CouponStatus, Limits, RefundPolicy, Scope, Stacking, TemplateSpec, Validity,
};
use crate::{Combination, Reason};

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

fn line(sku: &str, price: i64, special: bool) -> CartLine {
    CartLine {
        sku: sku.into(),
        category: None,
        brand: None,
        unit_price_minor: price,
        quantity: 1,
        special_price: special,
    }
}

fn gold(order: MemberDiscountOrder) -> MemberPricing {
    MemberPricing {
        tier: "gold".into(),
        discount_bp: 9_500,
        free_shipping: true,
        order,
        exclude_special_price: true,
    }
}

fn ctx(member: Option<MemberPricing>) -> Context<'static> {
    Context {
        now: 1,
        member,
        ..Context::default()
    }
}

fn best(coupons: &[HeldCoupon<'_>], ctx: &Context<'_>, cart: &Cart) -> Option<Combination> {
    let evals = evaluate(coupons, ctx, cart);
    best_combination(coupons, &evals, ctx, cart)
}

fn man_jian() -> TemplateSpec {
    spec(
        Benefit::AmountOff {
            off_minor: 3_000,
            min_spend_minor: 20_000,
        },
        Stacking::Exclusive,
    )
}

#[test]
fn amount_off_first_then_the_member_discount_by_default() {
    let t = man_jian();
    let coupons = [held("a", &t)];
    let cart = Cart {
        lines: vec![line("x", 30_000, false)],
        shipping_minor: 1_000,
    };
    let after = best(
        &coupons,
        &ctx(Some(gold(MemberDiscountOrder::AfterCoupons))),
        &cart,
    )
    .expect("best");
    // 300 − 30 = 270, 95折 → 13.50 off; shipping waived by the tier.
    assert_eq!(after.discount_minor, 3_000);
    assert_eq!(after.member_discount_minor, 1_350);
    assert_eq!(after.member_shipping_minor, 1_000);
    assert_eq!(after.payable_minor, 25_650);
    let kinds: Vec<_> = after.adjustments.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AdjustmentKind::MemberShipping,
            AdjustmentKind::MemberDiscount
        ]
    );
    // Member price first: 300 × 0.95 = 285, then 30 off.
    let before = best(
        &coupons,
        &ctx(Some(gold(MemberDiscountOrder::BeforeCoupons))),
        &cart,
    )
    .expect("best");
    assert_eq!(before.member_discount_minor, 1_500);
    assert_eq!(before.payable_minor, 25_500);
}

#[test]
fn member_prices_first_can_fall_below_a_coupon_minimum() {
    let t = man_jian();
    let coupons = [held("a", &t)];
    let cart = Cart {
        lines: vec![line("x", 20_500, false)],
        shipping_minor: 0,
    };
    // 205 × 0.95 = 194.75: below 满200.
    let c = ctx(Some(gold(MemberDiscountOrder::BeforeCoupons)));
    assert_eq!(
        evaluate(&coupons, &c, &cart)[0].reason,
        Some(Reason::BelowMinimum)
    );
    let b = best(&coupons, &c, &cart).expect("the privileges alone");
    assert!(b.coupon_ids.is_empty());
    assert_eq!(b.payable_minor, 19_475);
    // After coupons, the minimum is met on full prices.
    let c = ctx(Some(gold(MemberDiscountOrder::AfterCoupons)));
    let b = best(&coupons, &c, &cart).expect("best");
    assert_eq!(b.coupon_ids, ["a"]);
    assert_eq!(b.payable_minor, 17_500 - 875);
}

#[test]
fn a_free_shipping_coupon_is_not_spent_on_a_fee_the_tier_waives() {
    let t = spec(
        Benefit::FreeShipping {
            min_spend_minor: 0,
            cap_minor: None,
        },
        Stacking::Exclusive,
    );
    let coupons = [held("ship", &t)];
    let cart = Cart {
        lines: vec![line("x", 5_000, false)],
        shipping_minor: 800,
    };
    let silver = MemberPricing {
        discount_bp: 10_000,
        ..gold(MemberDiscountOrder::AfterCoupons)
    };
    let b = best(&coupons, &ctx(Some(silver)), &cart).expect("shipping privilege");
    assert!(b.coupon_ids.is_empty(), "{b:?}");
    assert_eq!((b.member_shipping_minor, b.payable_minor), (800, 5_000));
    // A guest still uses the coupon.
    let b = best(&coupons, &ctx(None), &cart).expect("coupon");
    assert_eq!((b.coupon_ids.len(), b.payable_minor), (1, 5_000));
    assert!(b.adjustments.is_empty());
}

#[test]
fn special_price_lines_keep_their_price_when_excluded() {
    let cart = Cart {
        lines: vec![line("x", 10_000, false), line("y", 10_000, true)],
        shipping_minor: 0,
    };
    let m = gold(MemberDiscountOrder::AfterCoupons);
    let b = combine(&[], &ctx(Some(m.clone())), &cart).expect("combine");
    assert_eq!(b.member_discount_minor, 500);
    assert_eq!(b.adjustments[0].line_discounts_minor, [500, 0]);
    let all = MemberPricing {
        exclude_special_price: false,
        ..m
    };
    let b = combine(&[], &ctx(Some(all)), &cart).expect("combine");
    assert_eq!(b.member_discount_minor, 1_000);
}

fn any_benefit() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (1i64..20_000, 0i64..40_000).prop_map(|(off, min)| Benefit::AmountOff {
            off_minor: off,
            min_spend_minor: min
        }),
        (1i64..=100, proptest::option::of(1i64..10_000), 0i64..30_000).prop_map(|(p, cap, min)| {
            Benefit::PercentOff {
                percent_off: p,
                cap_minor: cap,
                min_spend_minor: min,
            }
        }),
        (0i64..30_000).prop_map(|min| Benefit::FreeShipping {
            min_spend_minor: min,
            cap_minor: None
        }),
        (0i64..30_000).prop_map(|min| Benefit::FreeGift {
            gift_sku: "G".into(),
            gift_quantity: 1,
            min_spend_minor: min,
        }),
        proptest::option::of(1i64..5_000).prop_map(|cap| Benefit::Trial {
            sku: "s0".into(),
            cap_minor: cap
        }),
    ]
}

fn any_stacking() -> impl Strategy<Value = Stacking> {
    prop_oneof![
        1 => Just(Stacking::Exclusive),
        3 => proptest::collection::vec(0usize..2, 1..3).prop_map(|gs| Stacking::Stackable {
            groups: gs.into_iter().map(|g| ["a", "b"][g].to_owned()).collect(),
        }),
    ]
}

fn any_member() -> impl Strategy<Value = Option<MemberPricing>> {
    proptest::option::weighted(
        0.9,
        (1u32..=10_000, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(bp, ship, before, excl)| MemberPricing {
                tier: "t".into(),
                discount_bp: bp,
                free_shipping: ship,
                order: if before {
                    MemberDiscountOrder::BeforeCoupons
                } else {
                    MemberDiscountOrder::AfterCoupons
                },
                exclude_special_price: excl,
            },
        ),
    )
}

fn any_cart() -> impl Strategy<Value = Cart> {
    (
        proptest::collection::vec((0i64..50_000, 1i64..4, any::<bool>()), 1..6),
        0i64..3_000,
    )
        .prop_map(|(ls, ship)| Cart {
            lines: ls
                .into_iter()
                .enumerate()
                .map(|(i, (p, q, sp))| CartLine {
                    quantity: q,
                    ..line(&format!("s{i}"), p, sp)
                })
                .collect(),
            shipping_minor: ship,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn payable_stays_between_zero_and_the_cart_and_redeem_repeats_validate(
        specs in proptest::collection::vec((any_benefit(), any_stacking()), 0..6),
        cart in any_cart(),
        member in any_member(),
    ) {
        let specs: Vec<TemplateSpec> = specs.into_iter().map(|(b, s)| spec(b, s)).collect();
        let ids: Vec<String> = (0..specs.len()).map(|i| format!("c{i}")).collect();
        let coupons: Vec<HeldCoupon<'_>> = ids.iter().zip(&specs).map(|(id, t)| held(id, t)).collect();
        let ctx = ctx(member.clone());
        let full = cart.subtotal() + cart.shipping_minor;
        // With no coupon chosen, the privileges alone.
        let alone = combine(&[], &ctx, &cart).expect("no coupons");
        let Some(b) = best(&coupons, &ctx, &cart) else {
            prop_assert!(alone.adjustments.is_empty());
            return Ok(());
        };
        prop_assert!(b.payable_minor >= 0);
        prop_assert!(b.payable_minor <= full);
        prop_assert_eq!(
            b.payable_minor,
            full - b.discount_minor - b.member_discount_minor - b.member_shipping_minor
        );
        prop_assert!(b.member_shipping_minor <= cart.shipping_minor);
        for a in &b.adjustments {
            prop_assert!(a.discount_minor > 0 && a.discount_minor <= a.eligible_minor);
        }
        if let Some(d) = b.adjustments.iter().find(|a| a.kind == AdjustmentKind::MemberDiscount) {
            let m = member.as_ref().expect("a member");
            prop_assert_eq!(d.discount_minor, discount_of(d.eligible_minor, m.discount_bp));
            prop_assert_eq!(d.line_discounts_minor.iter().sum::<i64>(), d.discount_minor);
            for (i, l) in cart.lines.iter().enumerate() {
                let took = b.line_discounts_minor[i] + d.line_discounts_minor[i];
                prop_assert!(took <= l.amount());
                if m.exclude_special_price && l.special_price {
                    prop_assert_eq!(d.line_discounts_minor[i], 0);
                }
            }
            // The discount only ever applies to the eligible lines at their full price or less.
            let eligible_full: i64 = cart.lines.iter()
                .filter(|l| !(m.exclude_special_price && l.special_price))
                .map(CartLine::amount)
                .sum();
            prop_assert!(d.eligible_minor <= eligible_full);
        }
        if member.as_ref().is_none_or(|m| !m.gives_anything()) {
            prop_assert!(b.adjustments.is_empty());
        }
        // Redeeming the best coupons gives exactly what validate showed.
        let chosen: Vec<&HeldCoupon<'_>> = b.coupon_ids.iter()
            .map(|id| coupons.iter().find(|c| c.id == id).expect("chosen coupon"))
            .collect();
        prop_assert_eq!(combine(&chosen, &ctx, &cart).expect("redeem"), b.clone());
        // Privileges never make the member pay more than the same coupons without them.
        let plain = super::checkout::Context { member: None, ..ctx.clone() };
        if let Ok(p) = combine(&chosen, &plain, &cart) {
            prop_assert!(b.payable_minor <= p.payable_minor);
        }
    }
}
