//! Value classes (客户价值分级): customers (at least one order) are VIP / large / medium /
//! small by spend percentile; prospects (潜在客户, no order yet) are A / B / C / D by an
//! engagement score.
//!
//! # Customer rule
//! With `n` customers and `g` = the number of customers with strictly greater spend, a
//! customer's "top share" is `g / n`. VIP when `g/n < vip_bp/10000`, large when below
//! `(vip_bp + large_bp)/10000`, medium when below `(vip_bp + large_bp + medium_bp)/10000`,
//! else small. Equal spends get the same class (same `g`); the comparison is done in
//! integers, so 5% of 20 customers is exactly one.
//!
//! # Prospect engagement score (0–100)
//! - recency of the last activity: within 7 days 40, within 30 days 25, within 90 days 10,
//!   else 0;
//! - profile completeness: `completeness_pct * 20 / 100` (0–20);
//! - check-ins in the last 30 days: 2 points each, at most 20;
//! - cart events in the last 30 days: 4 points each, at most 20.
//!
//! Grade A at `a_min` (60) or more, B at `b_min` (35), C at `c_min` (15), else D.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Problems, SegmentError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueClass {
    Vip,
    Large,
    Medium,
    Small,
    ProspectA,
    ProspectB,
    ProspectC,
    ProspectD,
}

impl ValueClass {
    pub const ALL: [ValueClass; 8] = [
        ValueClass::Vip,
        ValueClass::Large,
        ValueClass::Medium,
        ValueClass::Small,
        ValueClass::ProspectA,
        ValueClass::ProspectB,
        ValueClass::ProspectC,
        ValueClass::ProspectD,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ValueClass::Vip => "vip",
            ValueClass::Large => "large",
            ValueClass::Medium => "medium",
            ValueClass::Small => "small",
            ValueClass::ProspectA => "prospect_a",
            ValueClass::ProspectB => "prospect_b",
            ValueClass::ProspectC => "prospect_c",
            ValueClass::ProspectD => "prospect_d",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            ValueClass::Vip => "VIP客户",
            ValueClass::Large => "大客户",
            ValueClass::Medium => "中客户",
            ValueClass::Small => "小客户",
            ValueClass::ProspectA => "A类潜在客户",
            ValueClass::ProspectB => "B类潜在客户",
            ValueClass::ProspectC => "C类潜在客户",
            ValueClass::ProspectD => "D类潜在客户",
        }
    }

    pub fn parse(code: &str) -> Option<ValueClass> {
        ValueClass::ALL
            .into_iter()
            .find(|c| c.code() == code || c.zh() == code)
    }

    pub fn is_prospect(self) -> bool {
        matches!(
            self,
            ValueClass::ProspectA
                | ValueClass::ProspectB
                | ValueClass::ProspectC
                | ValueClass::ProspectD
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ValueClassRules {
    /// Top share that is VIP, in basis points (500 = 5%).
    pub vip_bp: u32,
    /// The next share that is large.
    pub large_bp: u32,
    /// The next share that is medium; the rest is small. The three shares add up to at
    /// most 10000 (100%), each at least 1.
    pub medium_bp: u32,
    /// Prospect grade A at this engagement score (0–100) or more…
    pub a_min: u32,
    /// …B at this (less than `a_min`)…
    pub b_min: u32,
    /// …C at this (less than `b_min`); below it, D.
    pub c_min: u32,
}

impl Default for ValueClassRules {
    fn default() -> Self {
        ValueClassRules {
            vip_bp: 500,
            large_bp: 1500,
            medium_bp: 3000,
            a_min: 60,
            b_min: 35,
            c_min: 15,
        }
    }
}

impl ValueClassRules {
    pub fn validate(&self) -> Result<(), SegmentError> {
        Problems::first(|p| self.check(p))
    }

    /// Each share at least 1 basis point and together at most 100%; grade minimums
    /// descending from at most 100 (the highest engagement score).
    pub(crate) fn check(&self, p: &mut Problems<'_>) {
        for (name, bp) in [
            ("vip_bp", self.vip_bp),
            ("large_bp", self.large_bp),
            ("medium_bp", self.medium_bp),
        ] {
            if bp == 0 {
                p.add(name, "a share is at least 1 basis point (0.01%)");
            }
        }
        let total = u64::from(self.vip_bp) + u64::from(self.large_bp) + u64::from(self.medium_bp);
        if total > 10_000 {
            p.add(
                "medium_bp",
                "vip, large and medium shares add up to more than 100% (10000 basis points)",
            );
        }
        if self.a_min > 100 {
            p.add("a_min", "engagement scores are 0..=100");
        }
        if self.a_min <= self.b_min {
            p.add("b_min", "must be less than a_min");
        }
        if self.b_min <= self.c_min {
            p.add("c_min", "must be less than b_min");
        }
    }
}

/// What a member's value class is decided from (positional, like [`crate::rfm::RfmInput`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueInput {
    pub orders: u32,
    /// Paid minus refunded, minor units.
    pub monetary: i64,
    /// Last day with any event, member's local calendar.
    pub last_active: Option<NaiveDate>,
    /// Share of profile fields filled in, 0–100.
    pub profile_completeness_pct: u8,
    pub checkins_30d: u32,
    pub cart_events_30d: u32,
}

/// The engagement score of a prospect (formula in the module docs).
pub fn engagement_score(m: &ValueInput, as_of: NaiveDate) -> u32 {
    let recency = match m.last_active.map(|d| (as_of - d).num_days()) {
        Some(days) if days <= 7 => 40,
        Some(days) if days <= 30 => 25,
        Some(days) if days <= 90 => 10,
        _ => 0,
    };
    let profile = u32::from(m.profile_completeness_pct.min(100)) * 20 / 100;
    let checkins = m.checkins_30d.min(10) * 2;
    let cart = m.cart_events_30d.min(5) * 4;
    recency + profile + checkins + cart
}

/// The customer rule turned into spend cut points when fitted, so classifying a customer
/// is three comparisons, not a search over every customer's spend.
#[derive(Debug, Clone)]
pub struct ValueClassifier {
    rules: ValueClassRules,
    as_of: NaiveDate,
    /// Least spend that is VIP, large, medium (`None`: nobody is).
    cuts: [Option<i64>; 3],
}

impl ValueClassifier {
    pub fn fit(
        members: &[ValueInput],
        as_of: NaiveDate,
        rules: &ValueClassRules,
    ) -> Result<ValueClassifier, SegmentError> {
        rules.validate()?;
        let mut spends: Vec<i64> = members
            .iter()
            .filter(|m| m.orders > 0)
            .map(|m| m.monetary)
            .collect();
        spends.sort_unstable();
        let r = rules;
        let cuts = [
            r.vip_bp,
            r.vip_bp + r.large_bp,
            r.vip_bp + r.large_bp + r.medium_bp,
        ]
        .map(|bp| share_cut(&spends, bp));
        Ok(ValueClassifier {
            rules: rules.clone(),
            as_of,
            cuts,
        })
    }

    pub fn classify(&self, m: &ValueInput) -> ValueClass {
        if m.orders == 0 {
            let s = engagement_score(m, self.as_of);
            let r = &self.rules;
            return if s >= r.a_min {
                ValueClass::ProspectA
            } else if s >= r.b_min {
                ValueClass::ProspectB
            } else if s >= r.c_min {
                ValueClass::ProspectC
            } else {
                ValueClass::ProspectD
            };
        }
        let reaches = |i: usize| self.cuts[i].is_some_and(|c| m.monetary >= c);
        if reaches(0) {
            ValueClass::Vip
        } else if reaches(1) {
            ValueClass::Large
        } else if reaches(2) {
            ValueClass::Medium
        } else {
            ValueClass::Small
        }
    }
}

/// Least spend whose top share is below `bp`: with `g` customers spending more, `g/n <
/// bp/10000` holds exactly for `g < ceil(bp n / 10000)`, i.e. for spends at least the
/// `ceil(bp n / 10000)`-th largest. Without customers (n taken as 1) every spend is in.
fn share_cut(spends: &[i64], bp: u32) -> Option<i64> {
    let n = spends.len().max(1) as u128;
    let g = (u128::from(bp) * n).div_ceil(10_000).min(n) as usize;
    match g {
        0 => None,
        _ if spends.is_empty() => Some(i64::MIN),
        _ => Some(spends[spends.len() - g]),
    }
}

/// Classes for every member, in input order.
pub fn classify_all(
    members: &[ValueInput],
    as_of: NaiveDate,
    rules: &ValueClassRules,
) -> Result<Vec<ValueClass>, SegmentError> {
    let c = ValueClassifier::fit(members, as_of, rules)?;
    Ok(members.iter().map(|m| c.classify(m)).collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn customers_by_spend_share() {
        let ms: Vec<ValueInput> = (0..20)
            .map(|i| ValueInput {
                orders: 1,
                monetary: i64::from(i) * 100,
                ..Default::default()
            })
            .collect();
        let out = classify_all(&ms, d("2026-01-01"), &ValueClassRules::default()).expect("ok");
        let count = |c| out.iter().filter(|&&x| x == c).count();
        assert_eq!(count(ValueClass::Vip), 1);
        assert_eq!(count(ValueClass::Large), 3);
        assert_eq!(count(ValueClass::Medium), 6);
        assert_eq!(count(ValueClass::Small), 10);
        assert_eq!(out[19], ValueClass::Vip);
    }

    #[test]
    fn equal_spend_gets_equal_class() {
        let one = ValueInput {
            orders: 1,
            monetary: 100,
            ..Default::default()
        };
        let ms = vec![one; 10];
        let out = classify_all(&ms, d("2026-01-01"), &ValueClassRules::default()).expect("ok");
        assert!(out.iter().all(|&c| c == ValueClass::Vip));
    }

    #[test]
    fn prospects_by_engagement() {
        let as_of = d("2026-03-01");
        let mut p = ValueInput {
            last_active: Some(d("2026-02-27")),
            profile_completeness_pct: 100,
            ..Default::default()
        };
        assert_eq!(engagement_score(&p, as_of), 60);
        let c = ValueClassifier::fit(&[], as_of, &ValueClassRules::default()).expect("ok");
        assert_eq!(c.classify(&p), ValueClass::ProspectA);
        p.profile_completeness_pct = 0;
        p.checkins_30d = 50;
        assert_eq!(engagement_score(&p, as_of), 60);
        p.last_active = Some(d("2025-01-01"));
        p.checkins_30d = 0;
        p.cart_events_30d = 4;
        assert_eq!(c.classify(&p), ValueClass::ProspectC);
        p.cart_events_30d = 0;
        assert_eq!(c.classify(&p), ValueClass::ProspectD);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The cut points give the documented shares: VIP when fewer than vip_bp/10000 of
        /// the customers spend more, and so on, in and outside the population.
        #[test]
        fn cut_points_classify_like_the_documented_shares(
            spends in proptest::collection::vec(0i64..30, 0..60),
            outsiders in proptest::collection::vec(-5i64..40, 1..5),
            bp in (1u32..4000, 1u32..4000, 1u32..2001),
        ) {
            let rules = ValueClassRules { vip_bp: bp.0, large_bp: bp.1, medium_bp: bp.2, ..Default::default() };
            let customer = |monetary| ValueInput { orders: 1, monetary, ..Default::default() };
            let ms: Vec<ValueInput> = spends.iter().map(|&x| customer(x * 100)).collect();
            let c = ValueClassifier::fit(&ms, d("2026-01-01"), &rules).expect("fit");
            let n = ms.len().max(1) as u128;
            for m in ms.iter().copied().chain(outsiders.iter().map(|&x| customer(x * 100))) {
                let greater = ms.iter().filter(|o| o.monetary > m.monetary).count() as u128;
                let below = |bp: u32| greater * 10_000 < u128::from(bp) * n;
                let want = if below(bp.0) {
                    ValueClass::Vip
                } else if below(bp.0 + bp.1) {
                    ValueClass::Large
                } else if below(bp.0 + bp.1 + bp.2) {
                    ValueClass::Medium
                } else {
                    ValueClass::Small
                };
                prop_assert_eq!(c.classify(&m), want);
            }
        }
    }
}
