//! Stored value (储值): a prepaid balance in money, kept as two pots — principal (what the
//! member paid) and bonus (what the top-up promotion added). Entries carry both deltas
//! separately, so the books always show how much real money is owed back.
//!
//! Decisions documented here:
//! - Spending uses principal first, then bonus. Prepaid-card rules in China (单用途商业
//!   预付卡管理办法 and local 预付式消费 regulations) make unspent principal refundable; using
//!   principal first is the common merchant practice. Refunds therefore only ever concern
//!   principal that is still there.
//! - A refund of principal forfeits bonus in the same proportion (rounded up, so the member
//!   cannot keep a bonus for money taken back); refunding all principal forfeits all bonus.
//! - Top-up bonuses: the best single matching tier applies (pay ≥ 1000 get 100; ≥ 500 get
//!   40), optionally repeated per multiple ("每满 1000 送 100").

use memberops_core::FieldError;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::error::LoyaltyError;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredValuePolicy {
    pub bonus_rules: Vec<TopUpBonus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopUpBonus {
    /// Minimum top-up in minor units.
    pub min_minor: i64,
    pub bonus_minor: i64,
    /// Give the bonus for every whole `min_minor` of the top-up, not just once.
    #[serde(default)]
    pub per_multiple: bool,
}

impl StoredValuePolicy {
    pub(crate) fn check(&self, errs: &mut Vec<FieldError>) {
        for (i, r) in self.bonus_rules.iter().enumerate() {
            if r.min_minor <= 0 || r.bonus_minor < 0 {
                errs.push(FieldError::new(
                    &["stored_value", "bonus_rules", &i.to_string()],
                    "out_of_range",
                    "min_minor must be positive and bonus_minor not negative",
                ));
            }
        }
    }

    /// The bonus for a top-up of `amount_minor`: the best rule that matches.
    pub fn bonus_for(&self, amount_minor: i64) -> i64 {
        self.bonus_rules
            .iter()
            .filter(|r| r.min_minor > 0 && amount_minor >= r.min_minor)
            .map(|r| {
                if r.per_multiple {
                    (amount_minor / r.min_minor).saturating_mul(r.bonus_minor)
                } else {
                    r.bonus_minor
                }
            })
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvKind {
    TopUp,
    Spend,
    Refund,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvEntry {
    pub kind: SvKind,
    pub at: Millis,
    pub principal_delta: i64,
    pub bonus_delta: i64,
    /// Payment, order or refund id.
    pub reference: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SvBalance {
    pub principal: i64,
    pub bonus: i64,
}

impl SvBalance {
    pub fn from_entries(entries: &[SvEntry]) -> SvBalance {
        entries.iter().fold(SvBalance::default(), |b, e| SvBalance {
            principal: b.principal + e.principal_delta,
            bonus: b.bonus + e.bonus_delta,
        })
    }

    pub fn total(&self) -> i64 {
        self.principal + self.bonus
    }

    pub fn apply(&mut self, e: &SvEntry) {
        self.principal += e.principal_delta;
        self.bonus += e.bonus_delta;
    }

    pub fn top_up(
        &self,
        policy: &StoredValuePolicy,
        amount_minor: i64,
        at: Millis,
        reference: &str,
    ) -> Result<SvEntry, LoyaltyError> {
        if amount_minor <= 0 {
            return Err(LoyaltyError::InvalidAmount(amount_minor));
        }
        Ok(SvEntry {
            kind: SvKind::TopUp,
            at,
            principal_delta: amount_minor,
            bonus_delta: policy.bonus_for(amount_minor),
            reference: reference.to_owned(),
        })
    }

    /// Pays `amount_minor`: principal first, then bonus.
    pub fn spend(
        &self,
        amount_minor: i64,
        at: Millis,
        reference: &str,
    ) -> Result<SvEntry, LoyaltyError> {
        if amount_minor <= 0 {
            return Err(LoyaltyError::InvalidAmount(amount_minor));
        }
        if amount_minor > self.total() {
            return Err(LoyaltyError::InsufficientBalance {
                requested: amount_minor,
                available: self.total(),
            });
        }
        let from_principal = amount_minor.min(self.principal);
        Ok(SvEntry {
            kind: SvKind::Spend,
            at,
            principal_delta: -from_principal,
            bonus_delta: -(amount_minor - from_principal),
            reference: reference.to_owned(),
        })
    }

    /// Returns `amount_minor` of unspent principal to the member; forfeits bonus in
    /// proportion.
    pub fn refund(
        &self,
        amount_minor: i64,
        at: Millis,
        reference: &str,
    ) -> Result<SvEntry, LoyaltyError> {
        if amount_minor <= 0 {
            return Err(LoyaltyError::InvalidAmount(amount_minor));
        }
        if amount_minor > self.principal {
            return Err(LoyaltyError::RefundExceedsPrincipal {
                requested: amount_minor,
                refundable: self.principal,
            });
        }
        // ceil(bonus × amount / principal) in i128; principal > 0 here.
        let num = i128::from(self.bonus) * i128::from(amount_minor);
        let den = i128::from(self.principal);
        let forfeit = i64::try_from((num + den - 1) / den)
            .unwrap_or(self.bonus)
            .min(self.bonus);
        Ok(SvEntry {
            kind: SvKind::Refund,
            at,
            principal_delta: -amount_minor,
            bonus_delta: -forfeit,
            reference: reference.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> StoredValuePolicy {
        StoredValuePolicy {
            bonus_rules: vec![
                TopUpBonus {
                    min_minor: 100_000,
                    bonus_minor: 10_000,
                    per_multiple: false,
                },
                TopUpBonus {
                    min_minor: 50_000,
                    bonus_minor: 4_000,
                    per_multiple: false,
                },
            ],
        }
    }

    #[test]
    fn top_up_spend_refund() {
        let p = policy();
        let mut b = SvBalance::default();
        let e = b.top_up(&p, 100_000, 0, "pay-1").expect("top up");
        assert_eq!((e.principal_delta, e.bonus_delta), (100_000, 10_000));
        b.apply(&e);
        let e = b.spend(30_000, 1, "o-1").expect("spend");
        assert_eq!((e.principal_delta, e.bonus_delta), (-30_000, 0));
        b.apply(&e);
        assert_eq!(
            b.refund(70_001, 2, "r").map_err(|e| e.code()),
            Err("refund_exceeds_principal")
        );
        let e = b.refund(70_000, 2, "r").expect("refund");
        assert_eq!((e.principal_delta, e.bonus_delta), (-70_000, -10_000));
        b.apply(&e);
        assert_eq!(b, SvBalance::default());
        assert_eq!(
            b.spend(1, 3, "o").map_err(|e| e.code()),
            Err("insufficient_balance")
        );
        assert_eq!(p.bonus_for(60_000), 4_000);
        assert_eq!(p.bonus_for(49_999), 0);
    }

    #[test]
    fn per_multiple_bonus() {
        let p = StoredValuePolicy {
            bonus_rules: vec![TopUpBonus {
                min_minor: 100_000,
                bonus_minor: 10_000,
                per_multiple: true,
            }],
        };
        assert_eq!(p.bonus_for(350_000), 30_000);
    }

    #[derive(Debug, Clone)]
    enum Op {
        TopUp(i64),
        Spend(i64),
        Refund(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1i64..300_000).prop_map(Op::TopUp),
            (1i64..200_000).prop_map(Op::Spend),
            (1i64..200_000).prop_map(Op::Refund),
        ]
    }

    proptest! {
        #[test]
        fn pots_never_negative_and_refunds_bounded(ops in prop::collection::vec(op(), 1..60)) {
            let p = policy();
            let mut b = SvBalance::default();
            let mut entries = Vec::new();
            let (mut paid_in, mut refunded, mut spent_principal) = (0i64, 0i64, 0i64);
            for (i, o) in ops.into_iter().enumerate() {
                let at = i64::try_from(i).expect("small");
                let before = b;
                let r = match o {
                    Op::TopUp(a) => b.top_up(&p, a, at, "t"),
                    Op::Spend(a) => b.spend(a, at, "s"),
                    Op::Refund(a) => b.refund(a, at, "r"),
                };
                if let Ok(e) = r {
                    match e.kind {
                        SvKind::TopUp => paid_in += e.principal_delta,
                        SvKind::Refund => refunded -= e.principal_delta,
                        SvKind::Spend => spent_principal -= e.principal_delta,
                    }
                    b.apply(&e);
                    entries.push(e);
                } else {
                    prop_assert_eq!(b, before);
                }
                prop_assert!(b.principal >= 0 && b.bonus >= 0);
                prop_assert!(refunded <= paid_in - spent_principal);
                prop_assert_eq!(SvBalance::from_entries(&entries), b);
            }
        }
    }
}
