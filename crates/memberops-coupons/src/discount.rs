//! Discount arithmetic in integer minor units.
//!
//! A coupon is applied to what is still payable on each line (after coupons applied before
//! it in a combination). Percentages round down, caps and amounts are clamped to what is
//! payable, and the discount is split over the lines by largest remainder, so the split
//! sums exactly to the discount and never takes a line below zero.

use crate::cart::Cart;
use crate::checkout::Reason;
use crate::template::{Benefit, Scope, SpendReward};

/// What is still payable: per cart line, and shipping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payable {
    pub lines: Vec<i64>,
    pub shipping: i64,
}

impl Payable {
    pub fn of(cart: &Cart) -> Payable {
        Payable {
            lines: cart.lines.iter().map(|l| l.amount()).collect(),
            shipping: cart.shipping_minor,
        }
    }

    pub fn total(&self) -> i64 {
        self.lines.iter().sum::<i64>() + self.shipping
    }
}

/// The effect of one coupon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Payable amount of the in-scope lines the coupon looked at.
    pub eligible_minor: i64,
    /// Money off, lines and shipping together.
    pub discount_minor: i64,
    /// Per cart line, summing to the product part of the discount.
    pub per_line: Vec<i64>,
    pub shipping_minor: i64,
    /// Free gift: (sku, quantity).
    pub gift: Option<(String, i64)>,
    /// Granted after payment (满返).
    pub reward: Option<SpendReward>,
}

/// Applies one coupon to `payable`, or says why it does not apply.
pub fn apply(
    benefit: &Benefit,
    scope: &Scope,
    cart: &Cart,
    payable: &Payable,
) -> Result<Outcome, Reason> {
    let in_scope: Vec<bool> = cart.lines.iter().map(|l| scope.covers(l)).collect();
    let eligible: i64 = payable
        .lines
        .iter()
        .zip(&in_scope)
        .filter(|(_, s)| **s)
        .map(|(a, _)| *a)
        .sum();
    if !in_scope.iter().any(|s| *s) {
        return Err(Reason::OutOfScope);
    }
    if eligible < benefit.min_spend() {
        return Err(Reason::BelowMinimum);
    }
    let masked: Vec<i64> = payable
        .lines
        .iter()
        .zip(&in_scope)
        .map(|(a, s)| if *s { *a } else { 0 })
        .collect();
    let mut out = Outcome {
        eligible_minor: eligible,
        per_line: vec![0; cart.lines.len()],
        ..Outcome::default()
    };
    match benefit {
        Benefit::AmountOff { off_minor, .. } => {
            out.discount_minor = (*off_minor).min(eligible);
            out.per_line = allocate(out.discount_minor, &masked);
        }
        Benefit::PercentOff {
            percent_off,
            cap_minor,
            ..
        } => {
            // i128: eligible × 100 cannot overflow, and flooring favours the merchant.
            let raw = (i128::from(eligible) * i128::from(*percent_off) / 100) as i64;
            out.discount_minor = cap_minor.map_or(raw, |c| raw.min(c)).min(eligible);
            out.per_line = allocate(out.discount_minor, &masked);
        }
        Benefit::FreeGift {
            gift_sku,
            gift_quantity,
            ..
        } => {
            out.gift = Some((gift_sku.clone(), *gift_quantity));
        }
        Benefit::SpendReturn { reward, .. } => out.reward = Some(reward.clone()),
        Benefit::FreeShipping { cap_minor, .. } => {
            out.eligible_minor = payable.shipping;
            out.shipping_minor = cap_minor.map_or(payable.shipping, |c| payable.shipping.min(c));
            out.discount_minor = out.shipping_minor;
        }
        Benefit::Trial { sku, cap_minor } => {
            // The first in-scope line of the product; one unit of it is free.
            let Some(i) = cart
                .lines
                .iter()
                .enumerate()
                .position(|(i, l)| in_scope[i] && &l.sku == sku)
            else {
                return Err(Reason::OutOfScope);
            };
            let unit = cart.lines[i].unit_price_minor.min(payable.lines[i]);
            out.eligible_minor = payable.lines[i];
            out.discount_minor = cap_minor.map_or(unit, |c| unit.min(c));
            out.per_line[i] = out.discount_minor;
        }
    }
    Ok(out)
}

/// Splits `discount` over `amounts` in proportion, by largest remainder: the parts sum to
/// `discount` exactly and no part exceeds its amount. `discount` must not exceed the sum.
pub fn allocate(discount: i64, amounts: &[i64]) -> Vec<i64> {
    let total: i128 = amounts.iter().map(|a| i128::from(*a)).sum();
    if discount <= 0 || total <= 0 {
        return vec![0; amounts.len()];
    }
    let d = i128::from(discount).min(total);
    let mut parts: Vec<i64> = Vec::with_capacity(amounts.len());
    let mut rems: Vec<(i128, usize)> = Vec::with_capacity(amounts.len());
    for (i, a) in amounts.iter().enumerate() {
        let num = d * i128::from(*a);
        parts.push((num / total) as i64);
        rems.push((num % total, i));
    }
    let mut left = (d - parts.iter().map(|p| i128::from(*p)).sum::<i128>()) as i64;
    // Biggest remainders first; ties go to the earlier line so the split is deterministic.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left == 0 {
            break;
        }
        if parts[i] < amounts[i] {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::CartLine;
    use proptest::prelude::*;

    fn line(sku: &str, price: i64, qty: i64) -> CartLine {
        CartLine {
            sku: sku.into(),
            category: Some("c".into()),
            brand: None,
            unit_price_minor: price,
            quantity: qty,
            special_price: false,
        }
    }

    #[test]
    fn thirds_split_exactly() {
        assert_eq!(allocate(100, &[100, 100, 100]), vec![34, 33, 33]);
        assert_eq!(allocate(1, &[0, 5, 5]), vec![0, 1, 0]);
        assert_eq!(allocate(10, &[3, 7]), vec![3, 7]);
    }

    #[test]
    fn percent_rounds_down_and_caps() {
        let cart = Cart {
            lines: vec![line("a", 333, 1)],
            shipping_minor: 0,
        };
        let b = Benefit::PercentOff {
            percent_off: 15,
            cap_minor: None,
            min_spend_minor: 0,
        };
        let o = apply(&b, &Scope::default(), &cart, &Payable::of(&cart)).expect("applies");
        assert_eq!(o.discount_minor, 49); // 49.95 rounds down
        let b = Benefit::PercentOff {
            percent_off: 50,
            cap_minor: Some(100),
            min_spend_minor: 0,
        };
        let o = apply(&b, &Scope::default(), &cart, &Payable::of(&cart)).expect("applies");
        assert_eq!(o.discount_minor, 100);
    }

    fn benefit() -> impl Strategy<Value = Benefit> {
        prop_oneof![
            (1i64..100_000, 0i64..50_000).prop_map(|(off, min)| Benefit::AmountOff {
                off_minor: off,
                min_spend_minor: min
            }),
            (1i64..=100, proptest::option::of(1i64..50_000)).prop_map(|(p, cap)| {
                Benefit::PercentOff {
                    percent_off: p,
                    cap_minor: cap,
                    min_spend_minor: 0,
                }
            }),
            proptest::option::of(1i64..5_000).prop_map(|cap| Benefit::Trial {
                sku: "s1".into(),
                cap_minor: cap
            }),
            proptest::option::of(1i64..5_000).prop_map(|cap| Benefit::FreeShipping {
                min_spend_minor: 0,
                cap_minor: cap
            }),
        ]
    }

    fn cart() -> impl Strategy<Value = Cart> {
        (
            proptest::collection::vec((0usize..4, 0i64..100_000, 1i64..20, any::<bool>()), 1..20),
            0i64..2_000,
        )
            .prop_map(|(ls, ship)| Cart {
                lines: ls
                    .into_iter()
                    .map(|(s, p, q, sp)| CartLine {
                        special_price: sp,
                        ..line(&format!("s{s}"), p, q)
                    })
                    .collect(),
                shipping_minor: ship,
            })
    }

    proptest! {
        #[test]
        fn discount_never_exceeds_eligible_and_split_is_exact(b in benefit(), cart in cart(), excl in any::<bool>()) {
            let scope = Scope { exclude_special_price: excl, exclude_skus: vec!["s3".into()], ..Scope::default() };
            let payable = Payable::of(&cart);
            if let Ok(o) = apply(&b, &scope, &cart, &payable) {
                prop_assert!(o.discount_minor >= 0);
                prop_assert!(o.discount_minor <= o.eligible_minor);
                prop_assert_eq!(o.per_line.iter().sum::<i64>() + o.shipping_minor, o.discount_minor);
                for (i, l) in cart.lines.iter().enumerate() {
                    prop_assert!(o.per_line[i] <= payable.lines[i]);
                    if !scope.covers(l) {
                        prop_assert_eq!(o.per_line[i], 0);
                    }
                }
            }
        }

        #[test]
        fn allocation_sums_exactly(d in 0i64..1_000_000, amounts in proptest::collection::vec(0i64..1_000_000, 1..30)) {
            let total: i64 = amounts.iter().sum();
            let d = d.min(total);
            let parts = allocate(d, &amounts);
            prop_assert_eq!(parts.iter().sum::<i64>(), d);
            for (p, a) in parts.iter().zip(&amounts) {
                prop_assert!(*p >= 0 && p <= a);
            }
        }
    }
}
