//! One error type for the coupons domain; `code()` is the stable reason the API returns.

use memberops_core::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A code pattern cannot hold that many distinct codes with a safe margin.
    #[error("the pattern allows {capacity} codes; {wanted} need a larger length or charset")]
    PatternTooSmall { capacity: u128, wanted: u128 },
}

impl CouponError {
    pub fn code(&self) -> &str {
        match self {
            CouponError::Invalid(i) => i.code(),
            CouponError::PatternTooSmall { .. } => "pattern_too_small",
        }
    }
}
