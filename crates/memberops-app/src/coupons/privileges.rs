//! The member's tier privileges as checkout needs them: the loyalty program's tier
//! (`discount_bp`, `free_shipping`) and its `member_discount` policy, turned into the
//! coupons crate's `MemberPricing`. The arithmetic is in `memberops_coupons::member`.

use memberops_coupons::{MemberDiscountOrder, MemberPricing};
use memberops_loyalty::Program;
use memberops_loyalty::program::MemberDiscountApply;
use memberops_store::{Store, WriteTx};

use crate::error::Result;
use crate::workspace::Workspace;

/// What a member of `tier` gets at checkout: nothing for a disabled program, a member
/// the program has not seen (no tier), a tier the program no longer has, or a tier
/// without checkout privileges.
pub fn member_pricing(program: &Program, tier: Option<&str>) -> Option<MemberPricing> {
    if !program.enabled {
        return None;
    }
    let (_, t) = program.tier(tier?).ok()?;
    let policy = &program.member_discount;
    let m = MemberPricing {
        tier: t.code.clone(),
        discount_bp: t.privileges.discount_bp,
        free_shipping: t.privileges.free_shipping,
        order: match policy.apply {
            MemberDiscountApply::AfterCoupons => MemberDiscountOrder::AfterCoupons,
            MemberDiscountApply::BeforeCoupons => MemberDiscountOrder::BeforeCoupons,
        },
        exclude_special_price: policy.exclude_special_price,
    };
    m.gives_anything().then_some(m)
}

/// For validate, on the reader pool: the program is read only for a member with a tier.
pub async fn read(
    store: &dyn Store,
    ws: &Workspace,
    tier: Option<&str>,
) -> Result<Option<MemberPricing>> {
    if tier.is_none() {
        return Ok(None);
    }
    let program = crate::loyalty::current_program(store, ws).await?;
    Ok(member_pricing(&program, tier))
}

/// For redeem, inside its transaction, so the privileges are those the order commits
/// with.
pub async fn in_tx(tx: &mut dyn WriteTx, member_id: &str) -> Result<Option<MemberPricing>> {
    let Some(state) = tx.loyalty_members(&[member_id]).await?.into_iter().next() else {
        return Ok(None);
    };
    let program = crate::loyalty::program_in_tx(tx).await?;
    Ok(member_pricing(&program, Some(&state.tier)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_enabled_program_and_a_known_tier_with_privileges_give_anything() {
        let mut p = Program::default();
        assert_eq!(member_pricing(&p, None), None);
        assert_eq!(member_pricing(&p, Some("normal")), None, "95折-less tier");
        assert_eq!(member_pricing(&p, Some("bronze")), None, "unknown tier");
        let gold = member_pricing(&p, Some("gold")).expect("gold");
        assert_eq!(
            (gold.discount_bp, gold.free_shipping, gold.order),
            (9_500, true, MemberDiscountOrder::AfterCoupons)
        );
        assert!(gold.exclude_special_price);
        p.member_discount.apply = MemberDiscountApply::BeforeCoupons;
        assert_eq!(
            member_pricing(&p, Some("silver")).map(|m| (m.order, m.free_shipping)),
            Some((MemberDiscountOrder::BeforeCoupons, false))
        );
        p.enabled = false;
        assert_eq!(member_pricing(&p, Some("gold")), None);
    }
}
