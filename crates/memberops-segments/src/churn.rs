//! Churn warning (流失预警): members who are overdue against their own buying rhythm, or who
//! just dropped a lifecycle stage, ranked so the most valuable are called first (高价值用户
//! 优先挽留).
//!
//! # Rule
//! - Typical gap: with `order_days >= 2`, `(last_order - first_order) / (order_days - 1)`
//!   days, the mean gap between distinct order days. (Measured to the last order, not to
//!   the as-of date: the open gap since the last order is what is being judged, so it must
//!   not be averaged into the norm.)
//! - Overdue: `recency_days > factor * typical_gap` and `recency_days >= min_recency_days`
//!   (the floor keeps a daily buyer who skipped three days off the list). Members with a
//!   single order day have no rhythm yet and are never overdue.
//! - Stage drop: `lifecycle::is_decline(previous, current)`.
//! - Ranking: monetary descending, then overdue ratio descending, then member id.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Problems, SegmentError};
use crate::lifecycle::{Stage, is_decline};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ChurnConfig {
    /// Overdue when the days since the last order exceed this × the member's typical gap
    /// (at least 1).
    pub factor: f64,
    /// Never overdue before this many days since the last order.
    pub min_recency_days: i64,
}

impl Default for ChurnConfig {
    fn default() -> Self {
        ChurnConfig {
            factor: 2.0,
            min_recency_days: 14,
        }
    }
}

impl ChurnConfig {
    pub fn validate(&self) -> Result<(), SegmentError> {
        Problems::first(|p| self.check(p))
    }

    pub(crate) fn check(&self, p: &mut Problems<'_>) {
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            p.add("factor", "must be a number >= 1");
        }
        if self.min_recency_days < 0 {
            p.add("min_recency_days", "must be >= 0");
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChurnInput {
    pub member_id: String,
    pub first_order: Option<NaiveDate>,
    pub last_order: Option<NaiveDate>,
    pub order_days: u32,
    pub monetary: i64,
    pub previous_stage: Option<Stage>,
    pub current_stage: Option<Stage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnReason {
    /// Gap since the last order exceeds the member's own typical gap by the factor.
    OverdueRepurchase,
    /// The member moved to a less active lifecycle stage.
    StageDropped,
}

impl ChurnReason {
    pub fn code(self) -> &'static str {
        match self {
            ChurnReason::OverdueRepurchase => "overdue_repurchase",
            ChurnReason::StageDropped => "stage_dropped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnWarning {
    pub member_id: String,
    /// One or both reasons, overdue first.
    pub reasons: Vec<ChurnReason>,
    pub monetary: i64,
    pub recency_days: Option<i64>,
    pub typical_gap_days: Option<f64>,
    /// recency / typical gap.
    pub overdue_ratio: Option<f64>,
    pub stage_change: Option<(Stage, Stage)>,
}

/// The warning for one member, if any.
pub fn assess(m: &ChurnInput, as_of: NaiveDate, cfg: &ChurnConfig) -> Option<ChurnWarning> {
    let recency = m.last_order.map(|d| (as_of - d).num_days());
    let typical = match (m.first_order, m.last_order) {
        (Some(first), Some(last)) if m.order_days >= 2 => {
            Some((last - first).num_days() as f64 / f64::from(m.order_days - 1))
        }
        _ => None,
    };
    let ratio = match (recency, typical) {
        (Some(r), Some(t)) if t > 0.0 => Some(r as f64 / t),
        _ => None,
    };
    let mut reasons = Vec::new();
    if let (Some(r), Some(t)) = (recency, typical)
        && r as f64 > cfg.factor * t
        && r >= cfg.min_recency_days
    {
        reasons.push(ChurnReason::OverdueRepurchase);
    }
    let stage_change = match (m.previous_stage, m.current_stage) {
        (Some(a), Some(b)) if is_decline(a, b) => Some((a, b)),
        _ => None,
    };
    if stage_change.is_some() {
        reasons.push(ChurnReason::StageDropped);
    }
    (!reasons.is_empty()).then(|| ChurnWarning {
        member_id: m.member_id.clone(),
        reasons,
        monetary: m.monetary,
        recency_days: recency,
        typical_gap_days: typical,
        overdue_ratio: ratio,
        stage_change,
    })
}

/// All warnings, most valuable first.
pub fn churn_warnings(
    members: &[ChurnInput],
    as_of: NaiveDate,
    cfg: &ChurnConfig,
) -> Result<Vec<ChurnWarning>, SegmentError> {
    cfg.validate()?;
    let mut out: Vec<ChurnWarning> = members
        .iter()
        .filter_map(|m| assess(m, as_of, cfg))
        .collect();
    out.sort_by(|a, b| {
        b.monetary
            .cmp(&a.monetary)
            .then_with(|| {
                let (x, y) = (
                    a.overdue_ratio.unwrap_or(0.0),
                    b.overdue_ratio.unwrap_or(0.0),
                );
                y.total_cmp(&x)
            })
            .then_with(|| a.member_id.cmp(&b.member_id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn input(id: &str, first: &str, last: &str, days: u32, monetary: i64) -> ChurnInput {
        ChurnInput {
            member_id: id.into(),
            first_order: Some(d(first)),
            last_order: Some(d(last)),
            order_days: days,
            monetary,
            previous_stage: None,
            current_stage: None,
        }
    }

    #[test]
    fn overdue_against_own_rhythm_ranked_by_value() {
        let as_of = d("2026-06-30");
        let ms = vec![
            // Buys every 10 days, last 21 days ago: overdue (21 > 20).
            input("a", "2025-12-31", "2026-06-09", 17, 10_000),
            // Same rhythm, 20 days ago: not yet.
            input("b", "2026-01-01", "2026-06-10", 17, 99_000),
            // Monthly buyer, 70 days ago: overdue, more valuable.
            input("c", "2025-06-01", "2026-04-21", 11, 50_000),
            // One order only: no rhythm.
            input("d", "2025-01-01", "2025-01-01", 1, 1_000_000),
        ];
        let w = churn_warnings(&ms, as_of, &ChurnConfig::default()).expect("ok");
        let ids: Vec<&str> = w.iter().map(|x| x.member_id.as_str()).collect();
        assert_eq!(ids, vec!["c", "a"]);
        assert_eq!(w[1].reasons, vec![ChurnReason::OverdueRepurchase]);
        assert_eq!(w[1].typical_gap_days, Some(10.0));
    }

    #[test]
    fn stage_drops_warn_with_their_reason() {
        let mut m = input("x", "2026-01-01", "2026-01-01", 1, 500);
        m.previous_stage = Some(Stage::Mature);
        m.current_stage = Some(Stage::Silent);
        let w = assess(&m, d("2026-03-05"), &ChurnConfig::default()).expect("warning");
        assert_eq!(w.reasons, vec![ChurnReason::StageDropped]);
        assert_eq!(w.stage_change, Some((Stage::Mature, Stage::Silent)));
        assert_eq!(w.reasons[0].code(), "stage_dropped");
        m.previous_stage = Some(Stage::Silent);
        m.current_stage = Some(Stage::Mature);
        assert!(assess(&m, d("2026-03-05"), &ChurnConfig::default()).is_none());
    }
}
