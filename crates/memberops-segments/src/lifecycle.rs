//! Lifecycle stages (生命周期): 引入期 new → 成长期 growing → 成熟期 mature → 沉默期 silent →
//! 流失期 churned.
//!
//! # Rules, in order of precedence
//! `last_seen` is the latest of the last order day, the last activity day and the
//! registration day (a member who registered and did nothing since has been inactive since
//! registering); `inactive_days = as_of - last_seen`. A member with none of those dates is
//! treated as seen today.
//! 1. `inactive_days >= churned_after_days` (180) → churned.
//! 2. `inactive_days >= silent_after_days` (60) → silent.
//! 3. no order → new.
//! 4. `orders > mature_orders_over` (2) or `monetary > mature_spend_over_minor` (50,000 =
//!    500 yuan) → mature. "Active in the last 60 days" is what rule 2 already guarantees.
//! 5. otherwise (1–2 orders, modest spend) → growing.
//!
//! Inactivity wins over order counts because the stage answers "what should we do with this
//! member now": a big spender who has not been seen for half a year needs a win-back, not a
//! mature-member promotion. So a registered member with no order, inactive for 180 days, is
//! churned, not new.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Problems, SegmentError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    New,
    Growing,
    Mature,
    Silent,
    Churned,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::New,
        Stage::Growing,
        Stage::Mature,
        Stage::Silent,
        Stage::Churned,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Growing => "growing",
            Stage::Mature => "mature",
            Stage::Silent => "silent",
            Stage::Churned => "churned",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Stage::New => "引入期",
            Stage::Growing => "成长期",
            Stage::Mature => "成熟期",
            Stage::Silent => "沉默期",
            Stage::Churned => "流失期",
        }
    }

    pub fn parse(code: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| s.code() == code || s.zh() == code)
    }

    /// How far gone the member is: 0 active (new/growing/mature), 1 silent, 2 churned.
    pub fn inactivity_level(self) -> u8 {
        match self {
            Stage::New | Stage::Growing | Stage::Mature => 0,
            Stage::Silent => 1,
            Stage::Churned => 2,
        }
    }
}

/// Facts the stage is decided from; dates are local days in the member's zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleFacts {
    pub registered_on: Option<NaiveDate>,
    pub last_order: Option<NaiveDate>,
    /// Last day with any event (check-in, share, login…), orders included or not.
    pub last_active: Option<NaiveDate>,
    pub orders: u32,
    /// Paid minus refunded, minor units.
    pub monetary: i64,
}

impl LifecycleFacts {
    pub fn inactive_days(&self, as_of: NaiveDate) -> i64 {
        [self.last_order, self.last_active, self.registered_on]
            .into_iter()
            .flatten()
            .max()
            .map(|d| (as_of - d).num_days().max(0))
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LifecycleRules {
    /// Silent (沉默期) after this many days without an order or any activity (at least 1).
    pub silent_after_days: i64,
    /// Churned (流失期) after this many days; greater than `silent_after_days`.
    pub churned_after_days: i64,
    /// Mature when orders are strictly more than this…
    pub mature_orders_over: u32,
    /// …or spend is strictly more than this (minor units).
    pub mature_spend_over_minor: i64,
}

impl Default for LifecycleRules {
    fn default() -> Self {
        LifecycleRules {
            silent_after_days: 60,
            churned_after_days: 180,
            mature_orders_over: 2,
            mature_spend_over_minor: 50_000,
        }
    }
}

impl LifecycleRules {
    pub fn validate(&self) -> Result<(), SegmentError> {
        Problems::first(|p| self.check(p))
    }

    pub(crate) fn check(&self, p: &mut Problems<'_>) {
        if self.silent_after_days < 1 {
            p.add("silent_after_days", "must be at least 1");
        }
        if self.churned_after_days <= self.silent_after_days {
            p.add(
                "churned_after_days",
                "must be greater than silent_after_days",
            );
        }
        if self.mature_spend_over_minor < 0 {
            p.add("mature_spend_over_minor", "must be at least 0");
        }
    }
}

/// The member's stage on `as_of` (see the module docs for the precedence).
pub fn stage(facts: &LifecycleFacts, as_of: NaiveDate, rules: &LifecycleRules) -> Stage {
    let inactive = facts.inactive_days(as_of);
    if inactive >= rules.churned_after_days {
        Stage::Churned
    } else if inactive >= rules.silent_after_days {
        Stage::Silent
    } else if facts.orders == 0 {
        Stage::New
    } else if facts.orders > rules.mature_orders_over
        || facts.monetary > rules.mature_spend_over_minor
    {
        Stage::Mature
    } else {
        Stage::Growing
    }
}

/// `Some((from, to))` when the stage changed.
pub fn transition(old: Stage, new: Stage) -> Option<(Stage, Stage)> {
    (old != new).then_some((old, new))
}

/// A decline: the member became less active (active → silent → churned) or fell back from
/// mature to growing (refunds brought spend and orders below the bar).
pub fn is_decline(from: Stage, to: Stage) -> bool {
    to.inactivity_level() > from.inactivity_level()
        || (from == Stage::Mature && matches!(to, Stage::Growing | Stage::New))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn stages_follow_the_documented_precedence() {
        let as_of = d("2026-07-01");
        let r = LifecycleRules::default();
        let mut f = LifecycleFacts {
            registered_on: Some(d("2026-06-20")),
            ..Default::default()
        };
        assert_eq!(stage(&f, as_of, &r), Stage::New);
        f.orders = 2;
        f.last_order = Some(d("2026-06-25"));
        f.monetary = 50_000;
        assert_eq!(stage(&f, as_of, &r), Stage::Growing);
        f.monetary = 50_001;
        assert_eq!(stage(&f, as_of, &r), Stage::Mature);
        f.monetary = 100;
        f.orders = 3;
        assert_eq!(stage(&f, as_of, &r), Stage::Mature);
        f.registered_on = Some(d("2025-01-01"));
        f.last_order = Some(d("2026-05-02")); // 60 days
        assert_eq!(stage(&f, as_of, &r), Stage::Silent);
        f.last_active = Some(d("2026-06-30"));
        assert_eq!(stage(&f, as_of, &r), Stage::Mature);
        f.last_active = None;
        f.last_order = Some(d("2026-01-02")); // 180 days
        assert_eq!(stage(&f, as_of, &r), Stage::Churned);
        f.last_order = Some(d("2026-01-03")); // 179 days
        assert_eq!(stage(&f, as_of, &r), Stage::Silent);
        // Registered long ago, never bought, never came back: churned, not new.
        let never = LifecycleFacts {
            registered_on: Some(d("2025-12-01")),
            ..Default::default()
        };
        assert_eq!(stage(&never, as_of, &r), Stage::Churned);
    }

    #[test]
    fn transitions_and_declines() {
        assert_eq!(transition(Stage::New, Stage::New), None);
        assert_eq!(
            transition(Stage::Mature, Stage::Silent),
            Some((Stage::Mature, Stage::Silent))
        );
        assert!(is_decline(Stage::Mature, Stage::Silent));
        assert!(is_decline(Stage::Silent, Stage::Churned));
        assert!(is_decline(Stage::Mature, Stage::Growing));
        assert!(!is_decline(Stage::Growing, Stage::Mature));
        assert!(!is_decline(Stage::Churned, Stage::Growing));
        let bad = LifecycleRules {
            churned_after_days: 30,
            ..Default::default()
        };
        assert_eq!(bad.validate().expect_err("bad").code(), "invalid_config");
        let json: LifecycleRules =
            serde_json::from_str(r#"{"silent_after_days": 30}"#).expect("json");
        assert_eq!(json.churned_after_days, 180);
    }
}
