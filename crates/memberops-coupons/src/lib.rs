//! The coupons domain (优惠券): templates and their rules, carts, discount arithmetic,
//! checkout validation with the best stacking combination and the member's tier
//! privileges (member discount, free shipping), and bulk code generation.
//!
//! Plain data in, plain data out: no storage, no HTTP. Money is integer minor units and
//! every division rounds in the merchant's favour, so a discount never exceeds what it
//! applies to and an allocation over lines sums exactly to the discount.

pub mod cart;
pub mod checkout;
pub mod codes;
pub mod discount;
pub mod error;
pub mod member;
#[cfg(test)]
mod member_tests;
pub mod template;

pub use cart::{Cart, CartLine};
pub use checkout::{Combination, Evaluation, HeldCoupon, Reason, best_combination, evaluate};
pub use error::CouponError;
pub use member::{Adjustment, AdjustmentKind, MemberDiscountOrder, MemberPricing};
pub use template::{
    Benefit, CouponOrderStatus, CouponStatus, RedemptionStatus, Scope, Stacking, TemplateSpec,
    Validity,
};
