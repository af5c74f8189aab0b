//! One error type for the loyalty domain. `code()` is the stable, machine-readable reason the
//! API returns; messages are for people and may change.

use memberops_core::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoyaltyError {
    #[error("program configuration is invalid: {0}")]
    InvalidProgram(Invalid),
    #[error("amount must be positive, got {0}")]
    InvalidAmount(i64),
    #[error("unknown tier `{0}`")]
    UnknownTier(String),
    #[error("not enough points: {requested} requested, {available} available")]
    InsufficientPoints { requested: i64, available: i64 },
    #[error("a manual adjustment needs a reason")]
    ReasonRequired,
    #[error("refund of {requested} exceeds the {refundable} left to refund on the order")]
    RefundExceedsOrder { requested: i64, refundable: i64 },
    #[error("ledger entry refers to unknown lot `{0}`")]
    UnknownLot(String),
    #[error("lot `{0}` already exists")]
    DuplicateLot(String),
    #[error("not enough stored value: {requested} requested, {available} available")]
    InsufficientBalance { requested: i64, available: i64 },
    #[error("refund of {requested} exceeds the unspent principal {refundable}")]
    RefundExceedsPrincipal { requested: i64, refundable: i64 },
    #[error("already checked in on {0}")]
    AlreadyCheckedIn(chrono::NaiveDate),
    #[error("make-up check-in is not enabled")]
    MakeupDisabled,
    #[error("make-up check-in is only possible for the past {max_days_back} days")]
    MakeupOutOfRange { max_days_back: u32 },
    #[error("no make-up check-ins left this month (limit {limit})")]
    MakeupLimitReached { limit: u32 },
    #[error("a member cannot invite themselves")]
    SelfReferral,
    #[error("this member already has a referrer")]
    AlreadyReferred,
    #[error("`{0}` is not an invite code")]
    InvalidInviteCode(String),
    #[error("the invitee is not a new member")]
    NotNewMember,
    /// A balance, lot or debt would leave the range of a 64-bit integer.
    #[error("{0} would overflow")]
    BalanceOverflow(&'static str),
}

impl LoyaltyError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidProgram(_) => "invalid_program",
            Self::InvalidAmount(_) => "invalid_amount",
            Self::UnknownTier(_) => "unknown_tier",
            Self::InsufficientPoints { .. } => "insufficient_points",
            Self::ReasonRequired => "reason_required",
            Self::RefundExceedsOrder { .. } => "refund_exceeds_order",
            Self::UnknownLot(_) => "unknown_lot",
            Self::DuplicateLot(_) => "duplicate_lot",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::RefundExceedsPrincipal { .. } => "refund_exceeds_principal",
            Self::AlreadyCheckedIn(_) => "already_checked_in",
            Self::MakeupDisabled => "makeup_disabled",
            Self::MakeupOutOfRange { .. } => "makeup_out_of_range",
            Self::MakeupLimitReached { .. } => "makeup_limit_reached",
            Self::SelfReferral => "self_referral",
            Self::AlreadyReferred => "already_referred",
            Self::InvalidInviteCode(_) => "invalid_invite_code",
            Self::NotNewMember => "not_new_member",
            Self::BalanceOverflow(_) => "balance_overflow",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case() {
        let all = [
            LoyaltyError::ReasonRequired,
            LoyaltyError::InsufficientPoints {
                requested: 2,
                available: 1,
            },
            LoyaltyError::SelfReferral,
            LoyaltyError::MakeupDisabled,
        ];
        for e in all {
            assert!(
                e.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
        assert_eq!(
            LoyaltyError::AlreadyCheckedIn(chrono::NaiveDate::default()).code(),
            "already_checked_in"
        );
    }
}
