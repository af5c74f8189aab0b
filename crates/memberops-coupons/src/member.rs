//! Tier privileges at checkout (会员价, 会员包邮): the member discount a tier gives
//! (`discount_bp`, 9_500 = 95折) and its free shipping, and where they sit among coupons.
//!
//! - **Free shipping** is a privilege that costs the member nothing, so it always comes
//!   first: coupons see the fee already waived, and a free-shipping coupon is never spent
//!   on a fee the tier pays.
//! - **The member discount** comes after the coupons by default (先满减后折扣: coupon
//!   minimums are met on full prices, the discount applies to what the coupons left) or,
//!   when the program says `before_coupons`, first (coupons then see member prices, and
//!   their minimums are checked against them).
//! - **Rounding**: the discount is computed once, on the eligible total, and rounded
//!   *down* to the minor unit (the shop's favour, as percent coupons do); it is then split
//!   over the eligible lines by largest remainder, so the parts sum exactly to it.
//! - Special-price (特价) lines are left out when the program excludes them.

use serde::{Deserialize, Serialize};

use crate::cart::Cart;
use crate::discount::{Payable, allocate};

/// Basis points of the full price: 10_000 = no discount.
pub const BP_ONE: u32 = 10_000;

/// Where the member discount sits among coupons.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MemberDiscountOrder {
    /// On what the coupons left payable (先满减后折扣).
    #[default]
    AfterCoupons,
    /// On the cart first; coupons see member prices.
    BeforeCoupons,
}

/// A member's checkout privileges, from their tier and the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPricing {
    /// The tier code the privileges come from (shown on each adjustment).
    pub tier: String,
    /// Price paid in basis points; 10_000 (or more) = no discount.
    pub discount_bp: u32,
    pub free_shipping: bool,
    pub order: MemberDiscountOrder,
    pub exclude_special_price: bool,
}

impl MemberPricing {
    /// Whether the privileges change anything at all.
    pub fn gives_anything(&self) -> bool {
        self.discount_bp < BP_ONE || self.free_shipping
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// The tier's price discount (会员折扣) on the eligible lines.
    MemberDiscount,
    /// The tier's free shipping (会员包邮).
    MemberShipping,
}

/// One privilege line of a checkout answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    /// The tier that gives it.
    #[schema(example = "gold")]
    pub tier: String,
    /// Money off.
    pub discount_minor: i64,
    /// What it applied to: the eligible lines still payable (discount) or the shipping fee.
    pub eligible_minor: i64,
    /// The tier's price in basis points (`member_discount` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 9500)]
    pub discount_bp: Option<u32>,
    /// Per cart line, summing to `discount_minor` (`member_discount` only; empty for
    /// shipping).
    #[serde(default)]
    pub line_discounts_minor: Vec<i64>,
}

/// The member discount on `eligible` minor units at `discount_bp`: rounded down, never
/// negative, never above `eligible`.
pub fn discount_of(eligible: i64, discount_bp: u32) -> i64 {
    if eligible <= 0 || discount_bp >= BP_ONE {
        return 0;
    }
    let off = i128::from(BP_ONE - discount_bp);
    // i128: eligible × 10_000 cannot overflow; integer division floors (shop's favour).
    (i128::from(eligible) * off / i128::from(BP_ONE)) as i64
}

/// Waives what is left of the shipping fee (free shipping); None when nothing is waived.
fn shipping(m: &MemberPricing, payable: &mut Payable) -> Option<Adjustment> {
    if !m.free_shipping || payable.shipping <= 0 {
        return None;
    }
    let fee = payable.shipping;
    payable.shipping = 0;
    Some(Adjustment {
        kind: AdjustmentKind::MemberShipping,
        tier: m.tier.clone(),
        discount_minor: fee,
        eligible_minor: fee,
        discount_bp: None,
        line_discounts_minor: Vec::new(),
    })
}

/// Takes the member discount off what is payable on the eligible lines; None when it
/// comes to nothing.
fn discount(m: &MemberPricing, cart: &Cart, payable: &mut Payable) -> Option<Adjustment> {
    let eligible: Vec<i64> = cart
        .lines
        .iter()
        .zip(&payable.lines)
        .map(|(l, p)| {
            if m.exclude_special_price && l.special_price {
                0
            } else {
                (*p).max(0)
            }
        })
        .collect();
    let base: i64 = eligible.iter().sum();
    let off = discount_of(base, m.discount_bp);
    if off <= 0 {
        return None;
    }
    let parts = allocate(off, &eligible);
    for (p, d) in payable.lines.iter_mut().zip(&parts) {
        *p -= d;
    }
    Some(Adjustment {
        kind: AdjustmentKind::MemberDiscount,
        tier: m.tier.clone(),
        discount_minor: off,
        eligible_minor: base,
        discount_bp: Some(m.discount_bp),
        line_discounts_minor: parts,
    })
}

/// What coupons start from: the cart with the privileges that come before them applied
/// (free shipping always; the discount when it comes first), and those privilege lines.
pub fn before_coupons(m: Option<&MemberPricing>, cart: &Cart) -> (Payable, Vec<Adjustment>) {
    let mut payable = Payable::of(cart);
    let mut lines = Vec::new();
    if let Some(m) = m {
        lines.extend(shipping(m, &mut payable));
        if m.order == MemberDiscountOrder::BeforeCoupons {
            lines.extend(discount(m, cart, &mut payable));
        }
    }
    (payable, lines)
}

/// Applies the privileges that come after the coupons to what they left payable.
pub fn after_coupons(
    m: Option<&MemberPricing>,
    cart: &Cart,
    payable: &mut Payable,
    lines: &mut Vec<Adjustment>,
) {
    if let Some(m) = m
        && m.order == MemberDiscountOrder::AfterCoupons
    {
        lines.extend(discount(m, cart, payable));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::CartLine;

    fn line(price: i64, qty: i64, special: bool) -> CartLine {
        CartLine {
            sku: "s".into(),
            category: None,
            brand: None,
            unit_price_minor: price,
            quantity: qty,
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

    #[test]
    fn the_discount_rounds_down_in_the_shops_favour() {
        // 5% of 19.99 is 0.9995: the member gets 0.99.
        assert_eq!(discount_of(1999, 9_500), 99);
        assert_eq!(discount_of(2000, 9_500), 100);
        // 88折 of 0.09 is 0.0108: nothing.
        assert_eq!(discount_of(9, 8_800), 1);
        assert_eq!(discount_of(8, 8_800), 0);
        assert_eq!(discount_of(1000, 10_000), 0);
        assert_eq!(discount_of(1000, 1), 999);
        assert_eq!(discount_of(-5, 9_000), 0);
    }

    #[test]
    fn shipping_first_then_the_discount_where_the_program_puts_it() {
        let cart = Cart {
            lines: vec![line(10_000, 1, false), line(5_000, 1, true)],
            shipping_minor: 800,
        };
        let m = gold(MemberDiscountOrder::BeforeCoupons);
        let (p, adj) = before_coupons(Some(&m), &cart);
        assert_eq!(p.shipping, 0);
        // The special-price line keeps its price.
        assert_eq!(p.lines, vec![9_500, 5_000]);
        assert_eq!(
            adj.iter().map(|a| a.kind).collect::<Vec<_>>(),
            vec![
                AdjustmentKind::MemberShipping,
                AdjustmentKind::MemberDiscount
            ]
        );
        assert_eq!(adj[1].eligible_minor, 10_000);
        assert_eq!(adj[1].line_discounts_minor, vec![500, 0]);

        let m = gold(MemberDiscountOrder::AfterCoupons);
        let (mut p, mut adj) = before_coupons(Some(&m), &cart);
        assert_eq!(
            (p.lines.clone(), p.shipping, adj.len()),
            (vec![10_000, 5_000], 0, 1)
        );
        p.lines[0] -= 3_000;
        after_coupons(Some(&m), &cart, &mut p, &mut adj);
        assert_eq!(adj[1].discount_minor, 350);
        assert_eq!(p.lines, vec![6_650, 5_000]);
    }

    #[test]
    fn nothing_for_no_member_or_a_tier_without_privileges() {
        let cart = Cart {
            lines: vec![line(10_000, 1, false)],
            shipping_minor: 800,
        };
        let (p, adj) = before_coupons(None, &cart);
        assert_eq!((p, adj), (Payable::of(&cart), vec![]));
        let plain = MemberPricing {
            discount_bp: 10_000,
            free_shipping: false,
            ..gold(MemberDiscountOrder::BeforeCoupons)
        };
        assert!(!plain.gives_anything());
        let (mut p, mut adj) = before_coupons(Some(&plain), &cart);
        after_coupons(Some(&plain), &cart, &mut p, &mut adj);
        assert_eq!((p, adj), (Payable::of(&cart), vec![]));
    }
}
