//! The points ledger (积分账户): points live in lots, one per earning, each with the instant
//! it becomes usable and the instant it expires. Every change is a `PointsEntry`; the
//! account (lots + debt) is what replaying the entries gives, and the balance is the sum of
//! the entries' `points`.
//!
//! Decisions (`earn`, `spend`, `expire`, `reverse_order`, `adjust`) read the account and
//! return entries without changing it; `apply` then books them. The caller stores the same
//! entries in the transaction that records the event.
//!
//! Debt: a refund may take back points that were already spent. What is still in unexpired
//! lots is taken first; the shortfall becomes debt, which later earnings pay off before the
//! member sees them. With `ShortfallPolicy::NegativeBalance` the debt counts against the
//! balance (it goes negative); with `RecordDebt` it is a receivable kept beside the balance,
//! which then never goes below zero. Either way: balance = Σ lot remaining − debt charged to
//! the balance.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use memberops_core::FieldError;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::calendar::{local_date, start_of_day};
use crate::error::LoyaltyError;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointsPolicy {
    /// Earned points stay pending this many days (the return window), so points from an
    /// order that is returned are never spent. 0 = usable at once.
    pub pending_days: u32,
    pub expiry: Expiry,
    pub shortfall: ShortfallPolicy,
}

impl Default for PointsPolicy {
    fn default() -> Self {
        Self {
            pending_days: 7,
            expiry: Expiry::EndOfNextYear,
            shortfall: ShortfallPolicy::RecordDebt,
        }
    }
}

impl PointsPolicy {
    pub(crate) fn check(&self, errs: &mut Vec<FieldError>) {
        if let Expiry::AfterDays { days: 0 } = self.expiry {
            errs.push(FieldError::new(
                &["points", "expiry", "days"],
                "out_of_range",
                "points must live at least one day",
            ));
        }
    }

    /// When points earned at `earned_at` expire. Counted from earning, not from becoming
    /// available, so the pending window does not extend a lot's life.
    pub fn expires_at(&self, earned_at: Millis, tz: Tz) -> Option<Millis> {
        match self.expiry {
            Expiry::Never => None,
            Expiry::AfterDays { days } => {
                Some(earned_at.saturating_add(i64::from(days).saturating_mul(DAY_MS)))
            }
            Expiry::EndOfNextYear => {
                let year = local_date(earned_at, tz).year();
                NaiveDate::from_ymd_opt(year + 2, 1, 1).map(|d| start_of_day(d, tz))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Expiry {
    Never,
    /// N × 24 h after earning.
    AfterDays {
        days: u32,
    },
    /// At the end of the calendar year after the year of earning, in the member's zone
    /// (earned 2025-03-10 → expires when 2027-01-01 starts locally): the common 年底清零
    /// rule that gives every point at least a full year.
    EndOfNextYear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShortfallPolicy {
    NegativeBalance,
    RecordDebt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: String,
    pub earned_at: Millis,
    pub available_at: Millis,
    pub expires_at: Option<Millis>,
    pub original: i64,
    pub remaining: i64,
    /// The order the lot was earned from, so a refund takes back those points first.
    pub order_id: Option<String>,
}

impl Lot {
    pub fn is_expired(&self, at: Millis) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }
    pub fn is_available(&self, at: Millis) -> bool {
        self.available_at <= at && !self.is_expired(at)
    }
    /// Soonest-expiring first; never-expiring last; then oldest; then id, for determinism.
    fn consume_order(&self) -> (i64, Millis, &str) {
        (
            self.expires_at.unwrap_or(i64::MAX),
            self.earned_at,
            self.id.as_str(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Earn,
    Spend,
    Expire,
    /// Taken back because the order that earned points was refunded.
    Reverse,
    Adjust,
    /// A refund's shortfall, recorded as debt.
    Debt,
    /// New points paying off debt.
    SettleDebt,
}

/// One ledger line. `lot_delta` changes the named lot, `debt_delta` the debt, and `points`
/// is the change to the member's balance (what a statement shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsEntry {
    pub kind: EntryKind,
    pub at: Millis,
    pub points: i64,
    pub lot_id: Option<String>,
    pub lot_delta: i64,
    pub debt_delta: i64,
    /// The event, order or operator command that caused it.
    pub reference: String,
    pub reason: Option<String>,
    /// Set on the entry that creates a lot.
    pub new_lot: Option<LotTerms>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotTerms {
    pub available_at: Millis,
    pub expires_at: Option<Millis>,
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PointsAccount {
    pub lots: Vec<Lot>,
    pub debt: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balance {
    /// Σ entry points: what the member sees as their points.
    pub total: i64,
    pub available: i64,
    /// In the return window.
    pub pending: i64,
    /// Past expiry but not yet swept by `expire`.
    pub expired_unswept: i64,
    pub debt: i64,
}

/// Input for earning: one lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub lot_id: String,
    pub points: i64,
    pub at: Millis,
    pub reference: String,
    pub order_id: Option<String>,
}

impl Earning {
    /// The lot for an award's points (`None` when the award has no points).
    pub fn from_award(
        award: &crate::rules::Award,
        lot_id: impl Into<String>,
        at: Millis,
        order_id: Option<String>,
    ) -> Option<Earning> {
        (award.points > 0).then(|| Earning {
            lot_id: lot_id.into(),
            points: award.points,
            at,
            reference: award.event_id.clone(),
            order_id,
        })
    }
}

/// Rebuilds the account from its entries (the ledger is the truth; lots are a cache).
pub fn replay(entries: &[PointsEntry]) -> Result<PointsAccount, LoyaltyError> {
    let mut acc = PointsAccount::default();
    acc.apply(entries)?;
    Ok(acc)
}

/// The balance as derived from the entries alone: `total` is the sum of their `points`,
/// the split into available / pending / expired comes from replaying the lots.
pub fn derive_balance(
    entries: &[PointsEntry],
    policy: &PointsPolicy,
    at: Millis,
) -> Result<Balance, LoyaltyError> {
    let acc = replay(entries)?;
    let mut b = acc.balance(policy, at);
    b.total = entries.iter().map(|e| e.points).sum();
    Ok(b)
}

impl PointsAccount {
    /// Books entries; all or nothing.
    pub fn apply(&mut self, entries: &[PointsEntry]) -> Result<(), LoyaltyError> {
        let mut next = self.clone();
        for e in entries {
            if let Some(terms) = &e.new_lot {
                let id = e.lot_id.clone().unwrap_or_default();
                if id.is_empty() {
                    return Err(LoyaltyError::UnknownLot(id));
                }
                if next.lots.iter().any(|l| l.id == id) {
                    return Err(LoyaltyError::DuplicateLot(id));
                }
                next.lots.push(Lot {
                    id,
                    earned_at: e.at,
                    available_at: terms.available_at,
                    expires_at: terms.expires_at,
                    original: e.lot_delta,
                    remaining: e.lot_delta,
                    order_id: terms.order_id.clone(),
                });
            } else if let Some(id) = &e.lot_id {
                let lot = next
                    .lots
                    .iter_mut()
                    .find(|l| &l.id == id)
                    .ok_or_else(|| LoyaltyError::UnknownLot(id.clone()))?;
                lot.remaining = lot
                    .remaining
                    .checked_add(e.lot_delta)
                    .ok_or(LoyaltyError::BalanceOverflow("lot"))?;
            }
            next.debt = next
                .debt
                .checked_add(e.debt_delta)
                .ok_or(LoyaltyError::BalanceOverflow("points debt"))?;
        }
        *self = next;
        Ok(())
    }

    /// The balance at `at`, split by lot state.
    pub fn balance(&self, policy: &PointsPolicy, at: Millis) -> Balance {
        let mut b = Balance {
            debt: self.debt,
            ..Balance::default()
        };
        for l in &self.lots {
            if l.is_expired(at) {
                b.expired_unswept += l.remaining;
            } else if l.available_at <= at {
                b.available += l.remaining;
            } else {
                b.pending += l.remaining;
            }
        }
        b.total = self.balance_total(policy);
        b
    }

    /// The member's balance: Σ remaining, minus the debt when it is charged to the balance.
    pub fn balance_total(&self, policy: &PointsPolicy) -> i64 {
        let lots: i64 = self.lots.iter().map(|l| l.remaining).sum();
        match policy.shortfall {
            ShortfallPolicy::NegativeBalance => lots - self.debt,
            ShortfallPolicy::RecordDebt => lots,
        }
    }

    /// Points from an earning rule or a task: a new lot, pending for the return window.
    pub fn earn(
        &self,
        policy: &PointsPolicy,
        input: Earning,
        tz: Tz,
    ) -> Result<Vec<PointsEntry>, LoyaltyError> {
        let pending = i64::from(policy.pending_days).saturating_mul(DAY_MS);
        self.new_lot(policy, input, EntryKind::Earn, pending, None, tz)
    }

    /// An operator's correction. Positive: a new lot, usable at once. Negative: taken from
    /// unexpired lots (pending ones too), soonest-expiring first; never into debt.
    pub fn adjust(
        &self,
        policy: &PointsPolicy,
        input: Earning,
        reason: &str,
        tz: Tz,
    ) -> Result<Vec<PointsEntry>, LoyaltyError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(LoyaltyError::ReasonRequired);
        }
        if input.points >= 0 {
            return self.new_lot(policy, input, EntryKind::Adjust, 0, Some(reason), tz);
        }
        let want = input.points.saturating_neg();
        let usable = |l: &Lot| !l.is_expired(input.at);
        let have: i64 = self
            .lots
            .iter()
            .filter(|l| usable(l))
            .map(|l| l.remaining)
            .sum();
        if want > have {
            return Err(LoyaltyError::InsufficientPoints {
                requested: want,
                available: have,
            });
        }
        let mut out = self.take(want, EntryKind::Adjust, input.at, &input.reference, |l| {
            usable(l)
        });
        for e in &mut out {
            e.reason = Some(reason.to_owned());
        }
        Ok(out)
    }

    fn new_lot(
        &self,
        policy: &PointsPolicy,
        input: Earning,
        kind: EntryKind,
        pending_ms: i64,
        reason: Option<&str>,
        tz: Tz,
    ) -> Result<Vec<PointsEntry>, LoyaltyError> {
        if input.points <= 0 {
            return Err(LoyaltyError::InvalidAmount(input.points));
        }
        if self.lots.iter().any(|l| l.id == input.lot_id) {
            return Err(LoyaltyError::DuplicateLot(input.lot_id));
        }
        let mut out = vec![PointsEntry {
            kind,
            at: input.at,
            points: input.points,
            lot_id: Some(input.lot_id.clone()),
            lot_delta: input.points,
            debt_delta: 0,
            reference: input.reference.clone(),
            reason: reason.map(str::to_owned),
            new_lot: Some(LotTerms {
                available_at: input.at.saturating_add(pending_ms),
                expires_at: policy.expires_at(input.at, tz),
                order_id: input.order_id,
            }),
        }];
        // Debt is paid from new points first: the member only sees what is left over.
        let settle = self.debt.min(input.points);
        if settle > 0 {
            out.push(PointsEntry {
                kind: EntryKind::SettleDebt,
                at: input.at,
                points: match policy.shortfall {
                    // The debt was already subtracted from the balance.
                    ShortfallPolicy::NegativeBalance => 0,
                    ShortfallPolicy::RecordDebt => -settle,
                },
                lot_id: Some(input.lot_id),
                lot_delta: -settle,
                debt_delta: -settle,
                reference: input.reference,
                reason: None,
                new_lot: None,
            });
        }
        Ok(out)
    }

    /// Spends available points, soonest-expiring lots first. Asking for more than is
    /// available is an error and decides nothing.
    pub fn spend(
        &self,
        points: i64,
        at: Millis,
        reference: &str,
    ) -> Result<Vec<PointsEntry>, LoyaltyError> {
        if points <= 0 {
            return Err(LoyaltyError::InvalidAmount(points));
        }
        let available: i64 = self
            .lots
            .iter()
            .filter(|l| l.is_available(at))
            .map(|l| l.remaining)
            .sum();
        if points > available {
            return Err(LoyaltyError::InsufficientPoints {
                requested: points,
                available,
            });
        }
        Ok(self.take(points, EntryKind::Spend, at, reference, |l| {
            l.is_available(at)
        }))
    }

    /// `expire` entries for everything left in lots expired at `at`.
    pub fn expire(&self, at: Millis) -> Vec<PointsEntry> {
        self.lots
            .iter()
            .filter(|l| l.is_expired(at) && l.remaining > 0)
            .map(|l| lot_entry(EntryKind::Expire, l, l.remaining, at, "expiry"))
            .collect()
    }

    /// Takes back `points` an order earned (see `refund_reversal` for how many): from the
    /// order's own lots first, then any unexpired lot soonest-expiring first, then debt.
    pub fn reverse_order(
        &self,
        policy: &PointsPolicy,
        order_id: &str,
        points: i64,
        at: Millis,
        reference: &str,
    ) -> Vec<PointsEntry> {
        if points <= 0 {
            return Vec::new();
        }
        let own = |l: &Lot| l.order_id.as_deref() == Some(order_id) && !l.is_expired(at);
        let mut out = self.take(points, EntryKind::Reverse, at, reference, own);
        let taken: i64 = out.iter().map(|e| -e.lot_delta).sum();
        let others = |l: &Lot| l.order_id.as_deref() != Some(order_id) && !l.is_expired(at);
        out.extend(self.take(points - taken, EntryKind::Reverse, at, reference, others));
        let taken: i64 = out.iter().map(|e| -e.lot_delta).sum();
        let short = points - taken;
        if short > 0 {
            out.push(PointsEntry {
                kind: EntryKind::Debt,
                at,
                points: match policy.shortfall {
                    ShortfallPolicy::NegativeBalance => -short,
                    ShortfallPolicy::RecordDebt => 0,
                },
                lot_id: None,
                lot_delta: 0,
                debt_delta: short,
                reference: reference.to_owned(),
                reason: None,
                new_lot: None,
            });
        }
        out
    }

    /// Up to `points` from the lots `eligible` accepts, in consumption order.
    fn take(
        &self,
        points: i64,
        kind: EntryKind,
        at: Millis,
        reference: &str,
        eligible: impl Fn(&Lot) -> bool,
    ) -> Vec<PointsEntry> {
        let mut lots: Vec<&Lot> = self
            .lots
            .iter()
            .filter(|l| l.remaining > 0 && eligible(l))
            .collect();
        lots.sort_by(|a, b| a.consume_order().cmp(&b.consume_order()));
        let mut left = points;
        let mut out = Vec::new();
        for l in lots {
            if left <= 0 {
                break;
            }
            let n = left.min(l.remaining);
            out.push(lot_entry(kind, l, n, at, reference));
            left -= n;
        }
        out
    }
}

fn lot_entry(kind: EntryKind, lot: &Lot, n: i64, at: Millis, reference: &str) -> PointsEntry {
    PointsEntry {
        kind,
        at,
        points: -n,
        lot_id: Some(lot.id.clone()),
        lot_delta: -n,
        debt_delta: 0,
        reference: reference.to_owned(),
        reason: None,
        new_lot: None,
    }
}

/// What an order earned and what has been refunded and reversed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderEarning {
    pub paid_minor: i64,
    pub points_earned: i64,
    pub growth_earned: i64,
    pub refunded_minor: i64,
    pub points_reversed: i64,
    pub growth_reversed: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reversal {
    pub points: i64,
    pub growth: i64,
}

/// How much a refund of `refund_minor` takes back. Computed on the cumulative refund —
/// floor(earned × refunded_total / paid) minus what was already reversed — so partial
/// refunds never add up to more than was earned and a full refund takes back exactly all.
pub fn refund_reversal(order: &OrderEarning, refund_minor: i64) -> Result<Reversal, LoyaltyError> {
    if refund_minor <= 0 {
        return Err(LoyaltyError::InvalidAmount(refund_minor));
    }
    let refundable = order.paid_minor - order.refunded_minor;
    if refund_minor > refundable {
        return Err(LoyaltyError::RefundExceedsOrder {
            requested: refund_minor,
            refundable,
        });
    }
    let cumulative = order.refunded_minor + refund_minor;
    let share = |earned: i64, reversed: i64| -> i64 {
        let target = i128::from(earned) * i128::from(cumulative) / i128::from(order.paid_minor);
        (i64::try_from(target).unwrap_or(earned) - reversed).clamp(0, earned - reversed)
    };
    Ok(Reversal {
        points: share(order.points_earned, order.points_reversed),
        growth: share(order.growth_earned, order.growth_reversed),
    })
}

/// Member center: lots that expire within `days` of `at`, soonest first, with their total.
pub fn expiring_within(lots: &[Lot], at: Millis, days: u32) -> (Vec<&Lot>, i64) {
    let until = at.saturating_add(i64::from(days).saturating_mul(DAY_MS));
    let mut soon: Vec<&Lot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && !l.is_expired(at))
        .filter(|l| l.expires_at.is_some_and(|e| e <= until))
        .collect();
    soon.sort_by(|a, b| a.consume_order().cmp(&b.consume_order()));
    let total = soon.iter().map(|l| l.remaining).sum();
    (soon, total)
}

/// Points per lot, for statements: lot id → remaining, as the entries say.
pub fn remaining_by_lot(entries: &[PointsEntry]) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for e in entries {
        if let Some(id) = &e.lot_id {
            *m.entry(id.clone()).or_insert(0) += e.lot_delta;
        }
    }
    m
}

#[cfg(test)]
#[path = "points_tests.rs"]
mod tests;
