//! RFM (recency, frequency, monetary) scores and the 8 classic RFM classes (RFM 模型).
//!
//! Scores are computed over *buying members* only (at least one order): a member who never
//! bought has no recency and would drag every quintile down.
//!
//! # Quintile rule (the default)
//! For each dimension the buyers' values are sorted from worst to best (R: recency days
//! descending, since a smaller recency is better; F and M: ascending). Let `n` be the number
//! of buyers and `p` the 0-based position of the **first occurrence** of a member's value in
//! that order (the number of buyers strictly worse than the member). The score is
//! `1 + floor(5 * p / n)`, so it is 1..=5, and all members with equal values get the same
//! score: ties never split one value across two scores. A consequence worth knowing: when a
//! value is very common (say 60% of buyers bought once) the next score up can be skipped,
//! and if every buyer has the same value, everyone scores 1.
//!
//! # Threshold rule
//! Operators may instead give four ascending cut points per dimension. F and M:
//! `score = 1 + #{cut <= value}`. R (cuts in days): `score = 5 - #{cut < recency_days}`,
//! i.e. recency ≤ cut₁ scores 5, recency > cut₄ scores 1.
//!
//! # Classes
//! Each of R, F, M is "high" or "low" against a per-dimension reference, chosen by
//! [`ClassBasis`]: the buyers' mean score (default; high = score strictly above the mean),
//! the buyers' mean raw value (high = recency strictly below / frequency or monetary
//! strictly above the mean), or a fixed score threshold (high = score ≥ threshold).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Problems, SegmentError};

/// What one member's RFM is computed from. Dates are local calendar days in the member's
/// zone. Members are positional (results come back in input order), so no id is carried:
/// scoring a million members allocates nothing per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmInput {
    pub first_order: Option<NaiveDate>,
    pub last_order: Option<NaiveDate>,
    pub orders: u32,
    /// Distinct local days with an order.
    pub order_days: u32,
    /// Paid minus refunded, minor units.
    pub monetary: i64,
}

impl RfmInput {
    /// A buyer has at least one order and a last order date.
    pub fn is_buyer(&self) -> bool {
        self.orders > 0 && self.last_order.is_some()
    }
}

/// Which count is the F in RFM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyBasis {
    /// Number of orders.
    #[default]
    Orders,
    /// Distinct days with an order (several orders on one day count once).
    OrderDays,
}

/// How scores are assigned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scoring {
    /// Rank-based quintiles over buyers (see the module docs).
    #[default]
    Quintiles,
    /// Four ascending cut points per dimension; R cuts are recency days, M cuts minor units.
    Thresholds {
        r: [i64; 4],
        f: [i64; 4],
        m: [i64; 4],
    },
}

/// The reference each score is compared with to call it high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClassBasis {
    #[default]
    MeanScore,
    MeanValue,
    ScoreThreshold {
        r: u8,
        f: u8,
        m: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RfmConfig {
    /// `orders` (default) or `order_days`.
    pub frequency: FrequencyBasis,
    /// `{"kind": "quintiles"}` (default) or `{"kind": "thresholds", "r": [4 ascending
    /// days], "f": [4 ascending counts ≥ 1], "m": [4 ascending minor units ≥ 1]}`.
    pub scoring: Scoring,
    /// `{"kind": "mean_score"}` (default), `{"kind": "mean_value"}` or
    /// `{"kind": "score_threshold", "r": 1..=5, "f": …, "m": …}`.
    pub class_basis: ClassBasis,
}

impl RfmConfig {
    pub fn validate(&self) -> Result<(), SegmentError> {
        Problems::first(|p| self.check(p))
    }

    /// Cut points ascending (R in days, at least 0; F and M at least 1), score thresholds
    /// 1..=5.
    pub(crate) fn check(&self, p: &mut Problems<'_>) {
        if let Scoring::Thresholds { r, f, m } = &self.scoring {
            for (name, cuts, min) in [
                ("scoring.r", r, 0),
                ("scoring.f", f, 1),
                ("scoring.m", m, 1),
            ] {
                if cuts.iter().any(|&c| c < min) {
                    p.add(name, format!("cut points must be at least {min}"));
                } else if cuts.windows(2).any(|w| w[0] >= w[1]) {
                    p.add(name, "cut points must be strictly ascending");
                }
            }
        }
        if let ClassBasis::ScoreThreshold { r, f, m } = self.class_basis {
            for (name, s) in [("r", r), ("f", f), ("m", m)] {
                if !(1..=5).contains(&s) {
                    p.add(&format!("class_basis.{name}"), "score thresholds are 1..=5");
                }
            }
        }
    }
}

/// The 8 classic RFM classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfmClass {
    ImportantValue,
    ImportantDevelopment,
    ImportantRetention,
    ImportantWinBack,
    GeneralValue,
    GeneralDevelopment,
    GeneralRetention,
    GeneralWinBack,
}

impl RfmClass {
    pub const ALL: [RfmClass; 8] = [
        RfmClass::ImportantValue,
        RfmClass::ImportantDevelopment,
        RfmClass::ImportantRetention,
        RfmClass::ImportantWinBack,
        RfmClass::GeneralValue,
        RfmClass::GeneralDevelopment,
        RfmClass::GeneralRetention,
        RfmClass::GeneralWinBack,
    ];

    /// The classic mapping: M decides 重要/一般; R and F decide 价值/发展/保持/挽留.
    pub fn from_highs(r_high: bool, f_high: bool, m_high: bool) -> RfmClass {
        match (m_high, r_high, f_high) {
            (true, true, true) => RfmClass::ImportantValue,
            (true, true, false) => RfmClass::ImportantDevelopment,
            (true, false, true) => RfmClass::ImportantRetention,
            (true, false, false) => RfmClass::ImportantWinBack,
            (false, true, true) => RfmClass::GeneralValue,
            (false, true, false) => RfmClass::GeneralDevelopment,
            (false, false, true) => RfmClass::GeneralRetention,
            (false, false, false) => RfmClass::GeneralWinBack,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RfmClass::ImportantValue => "important_value",
            RfmClass::ImportantDevelopment => "important_development",
            RfmClass::ImportantRetention => "important_retention",
            RfmClass::ImportantWinBack => "important_win_back",
            RfmClass::GeneralValue => "general_value",
            RfmClass::GeneralDevelopment => "general_development",
            RfmClass::GeneralRetention => "general_retention",
            RfmClass::GeneralWinBack => "general_win_back",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            RfmClass::ImportantValue => "重要价值",
            RfmClass::ImportantDevelopment => "重要发展",
            RfmClass::ImportantRetention => "重要保持",
            RfmClass::ImportantWinBack => "重要挽留",
            RfmClass::GeneralValue => "一般价值",
            RfmClass::GeneralDevelopment => "一般发展",
            RfmClass::GeneralRetention => "一般保持",
            RfmClass::GeneralWinBack => "一般挽留",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            RfmClass::ImportantValue => "important value",
            RfmClass::ImportantDevelopment => "important development",
            RfmClass::ImportantRetention => "important retention",
            RfmClass::ImportantWinBack => "important win-back",
            RfmClass::GeneralValue => "general value",
            RfmClass::GeneralDevelopment => "general development",
            RfmClass::GeneralRetention => "general retention",
            RfmClass::GeneralWinBack => "general win-back",
        }
    }

    pub fn parse(code: &str) -> Option<RfmClass> {
        RfmClass::ALL
            .into_iter()
            .find(|c| c.code() == code || c.zh() == code)
    }
}

/// One member's RFM result. Scores and class are `None` for members who never bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    /// As-of date minus last order date, in days.
    pub recency_days: Option<i64>,
    /// As-of date minus first order date, in days.
    pub tenure_days: Option<i64>,
    pub frequency: u32,
    pub monetary: i64,
    pub r: Option<u8>,
    pub f: Option<u8>,
    pub m: Option<u8>,
    pub class: Option<RfmClass>,
}

/// The population statistics needed to score any member: four cut points per dimension
/// and the class references. Fit once per run (three sorts), then each member costs a few
/// comparisons: no search over the population, which at a million members was most of the
/// scoring time (cache misses).
#[derive(Debug, Clone)]
pub struct RfmModel {
    as_of: NaiveDate,
    config: RfmConfig,
    buyers: usize,
    /// Per dimension, "goodness" keys (R is -recency, so bigger is better everywhere):
    /// score = 1 + how many of the four the member's key exceeds.
    cuts: [[i64; 4]; 3],
    /// Reference per dimension in the space chosen by the class basis.
    reference: [f64; 3],
}

/// Quintile cut points of ascending keys: score `1 + floor(5p / n)` (p = keys strictly
/// below) reaches `k + 1` exactly when `p >= ceil(k n / 5)`, i.e. when the key exceeds the
/// `ceil(k n / 5)`-th smallest key.
fn quintile_cuts(sorted: &[i64]) -> [i64; 4] {
    let n = sorted.len() as u64;
    if n == 0 {
        return [i64::MAX; 4];
    }
    [1u64, 2, 3, 4].map(|k| sorted[((k * n).div_ceil(5) - 1) as usize])
}

impl RfmModel {
    pub fn fit(
        members: &[RfmInput],
        as_of: NaiveDate,
        config: &RfmConfig,
    ) -> Result<RfmModel, SegmentError> {
        config.validate()?;
        let mut sorted: [Vec<i64>; 3] = Default::default();
        for m in members.iter().filter(|m| m.is_buyer()) {
            let k = keys(m, as_of, config.frequency);
            for d in 0..3 {
                sorted[d].push(k[d]);
            }
        }
        for v in &mut sorted {
            v.sort_unstable();
        }
        let cuts = match &config.scoring {
            Scoring::Quintiles => sorted.each_ref().map(|v| quintile_cuts(v)),
            // Integers: `cut <= value` is `value > cut - 1`; R cuts are days, its key is
            // -recency, and `recency <= cut` scores above the cut.
            Scoring::Thresholds { r, f, m } => [
                r.map(|c| c.saturating_neg().saturating_sub(1)),
                f.map(|c| c.saturating_sub(1)),
                m.map(|c| c.saturating_sub(1)),
            ],
        };
        let mut model = RfmModel {
            as_of,
            config: config.clone(),
            buyers: sorted[0].len(),
            cuts,
            reference: [0.0; 3],
        };
        model.reference = model.compute_reference(&sorted);
        Ok(model)
    }

    pub fn buyers(&self) -> usize {
        self.buyers
    }

    fn compute_reference(&self, sorted: &[Vec<i64>; 3]) -> [f64; 3] {
        let n = self.buyers;
        let mut out = [0.0; 3];
        if n == 0 {
            return out;
        }
        for (d, slot) in out.iter_mut().enumerate() {
            let v = &sorted[d];
            *slot = match self.config.class_basis {
                ClassBasis::MeanValue => v.iter().map(|&x| x as f64).sum::<f64>() / n as f64,
                _ => {
                    v.iter()
                        .map(|&k| u64::from(self.score_key(d, k)))
                        .sum::<u64>() as f64
                        / n as f64
                }
            };
        }
        out
    }

    /// Score of a goodness key in dimension `d`.
    fn score_key(&self, d: usize, key: i64) -> u8 {
        1 + self.cuts[d].iter().filter(|&&c| key > c).count() as u8
    }

    /// Scores one member against the fitted population. A member outside the population
    /// is scored by where they would fall in it.
    pub fn score(&self, m: &RfmInput) -> RfmScore {
        let recency = m.last_order.map(|d| (self.as_of - d).num_days());
        let tenure = m.first_order.map(|d| (self.as_of - d).num_days());
        let frequency = match self.config.frequency {
            FrequencyBasis::Orders => m.orders,
            FrequencyBasis::OrderDays => m.order_days,
        };
        let mut out = RfmScore {
            recency_days: recency,
            tenure_days: tenure,
            frequency,
            monetary: m.monetary,
            r: None,
            f: None,
            m: None,
            class: None,
        };
        if !m.is_buyer() {
            return out;
        }
        let k = keys(m, self.as_of, self.config.frequency);
        let s = [
            self.score_key(0, k[0]),
            self.score_key(1, k[1]),
            self.score_key(2, k[2]),
        ];
        let high = |d: usize| -> bool {
            match self.config.class_basis {
                ClassBasis::MeanScore => f64::from(s[d]) > self.reference[d],
                // Keys are goodness (R negated), so "above the mean key" is high for all.
                ClassBasis::MeanValue => k[d] as f64 > self.reference[d],
                ClassBasis::ScoreThreshold { r, f, m } => s[d] >= [r, f, m][d],
            }
        };
        out.r = Some(s[0]);
        out.f = Some(s[1]);
        out.m = Some(s[2]);
        out.class = Some(RfmClass::from_highs(high(0), high(1), high(2)));
        out
    }
}

/// Goodness keys: bigger is better in every dimension.
fn keys(m: &RfmInput, as_of: NaiveDate, basis: FrequencyBasis) -> [i64; 3] {
    let recency = m.last_order.map(|d| (as_of - d).num_days()).unwrap_or(0);
    let f = match basis {
        FrequencyBasis::Orders => m.orders,
        FrequencyBasis::OrderDays => m.order_days,
    };
    [-recency, i64::from(f), m.monetary]
}

/// Scores every member (output in input order).
pub fn score_all(
    members: &[RfmInput],
    as_of: NaiveDate,
    config: &RfmConfig,
) -> Result<Vec<RfmScore>, SegmentError> {
    let model = RfmModel::fit(members, as_of, config)?;
    Ok(members.iter().map(|m| model.score(m)).collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn buyer(last: &str, orders: u32, monetary: i64) -> RfmInput {
        RfmInput {
            first_order: Some(d("2025-01-01")),
            last_order: Some(d(last)),
            orders,
            order_days: orders,
            monetary,
        }
    }

    #[test]
    fn quintiles_spread_distinct_values_evenly() {
        let ms: Vec<RfmInput> = (0..10)
            .map(|i| buyer("2026-01-01", i + 1, i64::from(i) * 100))
            .collect();
        let out = score_all(&ms, d("2026-01-31"), &RfmConfig::default()).expect("ok");
        let f: Vec<u8> = out.iter().map(|s| s.f.expect("f")).collect();
        assert_eq!(f, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Everyone bought the same day: ties share the lowest score.
        assert!(out.iter().all(|s| s.r == Some(1)));
        assert_eq!(out[0].recency_days, Some(30));
        assert_eq!(out[0].tenure_days, Some(395));
    }

    #[test]
    fn ties_never_split() {
        let mut ms = vec![buyer("2026-01-01", 1, 500); 7];
        ms.extend([buyer("2026-01-20", 3, 900); 3]);
        let out = score_all(&ms, d("2026-01-31"), &RfmConfig::default()).expect("ok");
        assert!(out[..7].iter().all(|s| s.f == Some(1) && s.m == Some(1)));
        // First occurrence of 3 orders is position 7 of 10 → 1 + 35/10 = 4.
        assert!(out[7..].iter().all(|s| s.f == Some(4) && s.r == Some(4)));
        assert_eq!(out[7].class, Some(RfmClass::ImportantValue));
        assert_eq!(out[0].class, Some(RfmClass::GeneralWinBack));
    }

    #[test]
    fn non_buyers_are_not_scored() {
        let ms = vec![
            RfmInput {
                first_order: None,
                last_order: None,
                orders: 0,
                order_days: 0,
                monetary: 0,
            },
            buyer("2026-01-01", 1, 100),
        ];
        let out = score_all(&ms, d("2026-01-31"), &RfmConfig::default()).expect("ok");
        assert_eq!(out[0].r, None);
        assert_eq!(out[0].class, None);
        assert_eq!(out[1].r, Some(1));
    }

    #[test]
    fn thresholds_and_validation() {
        let cfg = RfmConfig {
            scoring: Scoring::Thresholds {
                r: [7, 30, 90, 180],
                f: [2, 3, 5, 10],
                m: [10_000, 50_000, 100_000, 500_000],
            },
            class_basis: ClassBasis::ScoreThreshold { r: 3, f: 3, m: 3 },
            ..RfmConfig::default()
        };
        let ms = vec![
            buyer("2026-01-24", 5, 100_000),
            buyer("2025-06-01", 1, 9_999),
        ];
        let out = score_all(&ms, d("2026-01-31"), &cfg).expect("ok");
        assert_eq!((out[0].r, out[0].f, out[0].m), (Some(5), Some(4), Some(4)));
        assert_eq!((out[1].r, out[1].f, out[1].m), (Some(1), Some(1), Some(1)));
        assert_eq!(out[0].class, Some(RfmClass::ImportantValue));
        let bad = RfmConfig {
            scoring: Scoring::Thresholds {
                r: [7, 7, 90, 180],
                f: [2, 3, 5, 10],
                m: [1, 2, 3, 4],
            },
            ..RfmConfig::default()
        };
        let err = score_all(&ms, d("2026-01-31"), &bad).expect_err("bad");
        assert_eq!(err.code(), "invalid_config");
    }

    #[test]
    fn class_names() {
        assert_eq!(RfmClass::from_highs(true, false, true).zh(), "重要发展");
        assert_eq!(RfmClass::from_highs(false, true, true).zh(), "重要保持");
        assert_eq!(RfmClass::from_highs(false, false, false).zh(), "一般挽留");
        for c in RfmClass::ALL {
            assert_eq!(RfmClass::parse(c.code()), Some(c));
            let json = serde_json::to_string(&c).expect("json");
            assert_eq!(json, format!("\"{}\"", c.code()));
        }
    }

    /// The rules as the module docs state them, position by position.
    fn documented_score(
        buyers: &[RfmInput],
        as_of: NaiveDate,
        cfg: &RfmConfig,
        m: &RfmInput,
    ) -> [u8; 3] {
        let k = keys(m, as_of, cfg.frequency);
        std::array::from_fn(|d| match &cfg.scoring {
            Scoring::Quintiles => {
                let n = buyers.len() as u64;
                let worse = buyers
                    .iter()
                    .filter(|b| keys(b, as_of, cfg.frequency)[d] < k[d])
                    .count() as u64;
                (1 + 5 * worse / n).min(5) as u8
            }
            Scoring::Thresholds { r, f, m: mc } => {
                let cuts = [r, f, mc][d];
                if d == 0 {
                    5 - cuts.iter().filter(|&&c| c < -k[0]).count() as u8
                } else {
                    1 + cuts.iter().filter(|&&c| c <= k[d]).count() as u8
                }
            }
        })
    }

    fn arb_buyer() -> impl Strategy<Value = RfmInput> {
        (0u64..60, 1u32..8, 0i64..2_000).prop_map(|(ago, orders, monetary)| RfmInput {
            first_order: Some(d("2025-01-01")),
            last_order: Some(d("2026-03-01") - chrono::Days::new(ago)),
            orders,
            order_days: orders,
            monetary: monetary * 50,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The cut points give exactly the documented scores, for members of the
        /// population and for members outside it, with many ties.
        #[test]
        fn cut_points_score_like_the_documented_rules(
            buyers in proptest::collection::vec(arb_buyer(), 1..40),
            outsiders in proptest::collection::vec(arb_buyer(), 0..5),
            thresholds in proptest::bool::ANY,
        ) {
            let as_of = d("2026-03-01");
            let cfg = RfmConfig {
                scoring: if thresholds {
                    Scoring::Thresholds { r: [0, 7, 20, 45], f: [2, 3, 4, 6], m: [1, 200, 5_000, 50_000] }
                } else {
                    Scoring::Quintiles
                },
                ..RfmConfig::default()
            };
            let model = RfmModel::fit(&buyers, as_of, &cfg).expect("fit");
            for m in buyers.iter().chain(&outsiders) {
                let s = model.score(m);
                let got = [s.r.expect("r"), s.f.expect("f"), s.m.expect("m")];
                prop_assert_eq!(got, documented_score(&buyers, as_of, &cfg, m));
            }
        }
    }
}
