//! Earning rules: which event earns how much growth (成长值) and how many points (积分).
//!
//! `evaluate` is a pure decision. The caller supplies what the member already earned from
//! each rule today, this month (both in the member's local calendar, on the event's date)
//! and ever, so caps are enforced without this crate reading storage.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Weekday};
use chrono_tz::Tz;
use memberops_core::FieldError;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::calendar::local_date;
use crate::program::{BP_ONE, Program};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarningRule {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `order.paid`, `checkin`, … or any custom event type.
    pub event_type: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub reward: Reward,
    #[serde(default)]
    pub points_multiplier: PointsMultiplier,
    #[serde(default)]
    pub caps: Caps,
    /// Campaign rules: active from (inclusive) … to (exclusive), RFC 3339.
    #[serde(default, with = "memberops_core::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Millis>,
    #[serde(default, with = "memberops_core::time::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<Millis>,
}

/// How a weekday is written in rules (chrono also reads the full English name).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the OpenAPI document only
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

fn yes() -> bool {
    true
}

/// All conditions must hold; an empty list means "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conditions {
    /// The event's amount must be at least this (minor units); events without an amount fail.
    #[serde(default)]
    pub min_amount_minor: Option<i64>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// At least one of the event's product categories must be listed.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Day of week of the event in the member's zone.
    #[serde(default)]
    #[schema(value_type = Vec<WeekdayName>)]
    pub weekdays: Vec<Weekday>,
    /// Day of the month of the event in the member's zone (会员日 on the 8th: `[8]`); a day
    /// a month does not have (31 in June) simply never comes that month.
    #[serde(default)]
    pub month_days: Vec<u32>,
    /// Fixed dates of the year, `MM-DD` in the member's zone (店庆 on `"09-18"`).
    #[serde(default)]
    #[schema(example = json!(["09-18"]))]
    pub dates: Vec<String>,
    /// Member's current tier codes.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Repeat purchase (复购): the order is at least the member's nth counted order, by time
    /// paid, itself included (`2` rewards every order after the first). Only orders match.
    #[serde(default)]
    pub min_order_number: Option<u32>,
    /// Frequent purchase: the member has at least `orders` counted orders in the `days` days
    /// that end with this one, itself included. Only orders match.
    #[serde(default)]
    pub min_orders_in_days: Option<OrdersInDays>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrdersInDays {
    pub orders: u32,
    pub days: u32,
}

impl Conditions {
    /// Whether deciding these needs the member's past orders (the caller loads them only
    /// then), and from how many days before the event (`None`: all of them).
    pub fn order_history(&self) -> Option<Option<u32>> {
        match (self.min_order_number, self.min_orders_in_days) {
            (Some(_), _) => Some(None),
            (None, Some(w)) => Some(Some(w.days)),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reward {
    #[serde(default)]
    pub growth: RewardAmount,
    #[serde(default)]
    pub points: RewardAmount,
    /// A temporary tier (体验会员) the event grants, e.g. 7 days of gold for a first order
    /// over ¥1,000 (with `caps.lifetime_count: 1`, once per member). Given only to members
    /// below that tier and not on a trial already (see `trial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_tier: Option<TrialReward>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialReward {
    /// A tier code of the program.
    pub tier: String,
    /// 1–366.
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RewardAmount {
    #[default]
    None,
    Fixed {
        amount: i64,
    },
    /// `units` for every whole `per_minor` of the event's amount (floor: 1.99 yuan earns 1).
    PerAmount {
        per_minor: i64,
        units: i64,
    },
}

impl RewardAmount {
    fn of(&self, amount_minor: Option<i64>) -> i64 {
        match *self {
            RewardAmount::None => 0,
            RewardAmount::Fixed { amount } => amount,
            RewardAmount::PerAmount { per_minor, units } => match amount_minor {
                Some(a) if a > 0 && per_minor > 0 => (a / per_minor).saturating_mul(units),
                _ => 0,
            },
        }
    }

    fn check(&self, field: &str, errs: &mut Vec<FieldError>) {
        let bad = match *self {
            RewardAmount::None => None,
            RewardAmount::Fixed { amount } if amount < 0 => Some("amount cannot be negative"),
            RewardAmount::PerAmount { per_minor, .. } if per_minor <= 0 => {
                Some("per_minor must be positive")
            }
            RewardAmount::PerAmount { units, .. } if units < 0 => Some("units cannot be negative"),
            _ => None,
        };
        if let Some(msg) = bad {
            errs.push(FieldError::new(&["reward", field], "out_of_range", msg));
        }
    }
}

/// How the member's tier scales points. Growth is never multiplied: it decides the tier,
/// and multiplying it by the tier would make tiers self-reinforcing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointsMultiplier {
    #[default]
    None,
    /// The tier's `points_multiplier_bp` privilege.
    Tier,
    /// Rule-specific basis points per tier code (e.g. a double-points day for gold);
    /// unlisted tiers get ×1.
    PerTier(BTreeMap<String, u32>),
}

/// Per-member caps for one rule. Amount caps trim the award; count caps skip it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Caps {
    #[serde(default)]
    pub daily_growth: Option<i64>,
    #[serde(default)]
    pub daily_points: Option<i64>,
    #[serde(default)]
    pub monthly_growth: Option<i64>,
    #[serde(default)]
    pub monthly_points: Option<i64>,
    #[serde(default)]
    pub daily_count: Option<u32>,
    /// E.g. 1 for registration or profile completion.
    #[serde(default)]
    pub lifetime_count: Option<u32>,
}

impl EarningRule {
    pub(crate) fn check(&self, tiers: &BTreeSet<&str>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.id.trim().is_empty() {
            errs.push(FieldError::new(&["id"], "required", "rule id is empty"));
        }
        if self.event_type.trim().is_empty() {
            errs.push(FieldError::new(
                &["event_type"],
                "required",
                "event_type is empty",
            ));
        }
        self.reward.growth.check("growth", &mut errs);
        self.reward.points.check("points", &mut errs);
        if let Some(t) = &self.reward.trial_tier {
            if !tiers.contains(t.tier.as_str()) {
                errs.push(FieldError::new(
                    &["reward", "trial_tier", "tier"],
                    "unknown_tier",
                    format!("`{}` is not a tier of the program", t.tier),
                ));
            }
            if !(1..=crate::trial::MAX_DAYS).contains(&t.days) {
                errs.push(FieldError::new(
                    &["reward", "trial_tier", "days"],
                    "out_of_range",
                    format!("days is 1 to {}", crate::trial::MAX_DAYS),
                ));
            }
        }
        if let (Some(f), Some(t)) = (self.valid_from, self.valid_to)
            && f >= t
        {
            errs.push(FieldError::new(
                &["valid_to"],
                "out_of_range",
                "valid_to must be after valid_from",
            ));
        }
        for (i, d) in self.conditions.month_days.iter().enumerate() {
            if !(1..=31).contains(d) {
                errs.push(FieldError::new(
                    &["conditions", "month_days", &i.to_string()],
                    "out_of_range",
                    "a day of the month is 1–31",
                ));
            }
        }
        for (i, d) in self.conditions.dates.iter().enumerate() {
            if month_day(d).is_none() {
                errs.push(FieldError::new(
                    &["conditions", "dates", &i.to_string()],
                    "invalid_date",
                    format!("`{d}` is not a date of the year as MM-DD"),
                ));
            }
        }
        if self.conditions.min_order_number == Some(0) {
            errs.push(FieldError::new(
                &["conditions", "min_order_number"],
                "out_of_range",
                "the first order is number 1",
            ));
        }
        if let Some(w) = self.conditions.min_orders_in_days
            && (w.orders == 0 || w.days == 0)
        {
            errs.push(FieldError::new(
                &["conditions", "min_orders_in_days"],
                "out_of_range",
                "orders and days are at least 1",
            ));
        }
        for t in &self.conditions.tiers {
            if !tiers.contains(t.as_str()) {
                errs.push(FieldError::new(
                    &["conditions", "tiers"],
                    "unknown_tier",
                    format!("no tier `{t}`"),
                ));
            }
        }
        if let PointsMultiplier::PerTier(m) = &self.points_multiplier {
            for (t, bp) in m {
                if !tiers.contains(t.as_str()) || *bp == 0 {
                    errs.push(FieldError::new(
                        &["points_multiplier"],
                        "out_of_range",
                        format!("`{t}`: tier must exist and the multiplier be positive"),
                    ));
                }
            }
        }
        let c = &self.caps;
        if [
            c.daily_growth,
            c.daily_points,
            c.monthly_growth,
            c.monthly_points,
        ]
        .iter()
        .flatten()
        .any(|v| *v < 0)
        {
            errs.push(FieldError::new(
                &["caps"],
                "out_of_range",
                "caps cannot be negative",
            ));
        }
        errs
    }

    fn active_at(&self, at: Millis) -> bool {
        self.enabled
            && self.valid_from.is_none_or(|f| at >= f)
            && self.valid_to.is_none_or(|t| at < t)
    }
}

/// The facts of one event that rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFacts {
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: Millis,
    #[serde(default)]
    pub amount_minor: Option<i64>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub order_id: Option<String>,
}

/// What one member already earned from one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Earned {
    pub growth: i64,
    pub points: i64,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleUsage {
    /// On the event's local day.
    pub day: Earned,
    /// In the event's local calendar month.
    pub month: Earned,
    pub lifetime: Earned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub tier: String,
    pub tz: Tz,
    /// When the member's counted orders were paid (this batch's included), for the
    /// repeat-purchase conditions; empty when the program has none.
    pub order_times: Vec<Millis>,
    /// By rule id; missing = nothing earned yet.
    pub usage: BTreeMap<String, RuleUsage>,
}

/// One rule's reward for one event. The caller turns `points` into a lot
/// (`points::PointsAccount::earn`) and `growth` into a growth entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    pub rule_id: String,
    pub event_id: String,
    pub program_version: u32,
    pub growth: i64,
    pub points: i64,
    /// True when a cap trimmed the reward.
    pub capped: bool,
    /// The temporary tier the rule grants, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialReward>,
}

/// Every award the event earns, in rule order. Rules whose conditions fail, whose campaign
/// is not running, or whose caps are used up give nothing (no zero awards).
pub fn evaluate(program: &Program, facts: &EventFacts, member: &MemberState) -> Vec<Award> {
    let tier = program.tier(&member.tier).ok().map(|(_, t)| t);
    let day = local_date(facts.occurred_at, member.tz);
    let mut out = Vec::new();
    for rule in &program.rules {
        if rule.event_type != facts.event_type
            || !rule.active_at(facts.occurred_at)
            || !matches(&rule.conditions, facts, member, day)
        {
            continue;
        }
        let usage = member.usage.get(&rule.id).copied().unwrap_or_default();
        let caps = &rule.caps;
        if caps.daily_count.is_some_and(|c| usage.day.count >= c)
            || caps
                .lifetime_count
                .is_some_and(|c| usage.lifetime.count >= c)
        {
            continue;
        }
        let raw_growth = rule.reward.growth.of(facts.amount_minor);
        let bp = match &rule.points_multiplier {
            PointsMultiplier::None => BP_ONE,
            PointsMultiplier::Tier => tier.map_or(BP_ONE, |t| t.privileges.points_multiplier_bp),
            PointsMultiplier::PerTier(m) => m.get(&member.tier).copied().unwrap_or(BP_ONE),
        };
        let raw_points = scale_bp(rule.reward.points.of(facts.amount_minor), bp);
        let growth = capped(
            raw_growth,
            &[
                caps.daily_growth.map(|c| c - usage.day.growth),
                caps.monthly_growth.map(|c| c - usage.month.growth),
            ],
        );
        let points = capped(
            raw_points,
            &[
                caps.daily_points.map(|c| c - usage.day.points),
                caps.monthly_points.map(|c| c - usage.month.points),
            ],
        );
        if growth == 0 && points == 0 && rule.reward.trial_tier.is_none() {
            continue;
        }
        out.push(Award {
            rule_id: rule.id.clone(),
            event_id: facts.event_id.clone(),
            program_version: program.version,
            growth,
            points,
            capped: growth < raw_growth || points < raw_points,
            trial: rule.reward.trial_tier.clone(),
        });
    }
    out
}

/// `value × bp / 10_000`, rounded down, without overflow.
pub fn scale_bp(value: i64, bp: u32) -> i64 {
    let v = i128::from(value) * i128::from(bp) / i128::from(BP_ONE);
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn capped(raw: i64, rooms: &[Option<i64>]) -> i64 {
    rooms
        .iter()
        .flatten()
        .fold(raw, |v, room| v.min(*room))
        .max(0)
}

/// `MM-DD` as (month, day); 02-29 is a date of the year (it comes in leap years).
fn month_day(text: &str) -> Option<(u32, u32)> {
    let (m, d) = text.trim().split_once('-')?;
    let (m, d) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
    chrono::NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

fn matches(c: &Conditions, f: &EventFacts, m: &MemberState, day: chrono::NaiveDate) -> bool {
    let weekday = day.weekday();
    c.min_amount_minor
        .is_none_or(|min| f.amount_minor.is_some_and(|a| a >= min))
        && (c.channels.is_empty() || f.channel.as_ref().is_some_and(|ch| c.channels.contains(ch)))
        && (c.categories.is_empty() || f.categories.iter().any(|x| c.categories.contains(x)))
        && (c.weekdays.is_empty() || c.weekdays.contains(&weekday))
        && (c.month_days.is_empty() || c.month_days.contains(&day.day()))
        && (c.dates.is_empty()
            || c.dates
                .iter()
                .any(|d| month_day(d) == Some((day.month(), day.day()))))
        && (c.tiers.is_empty() || c.tiers.contains(&m.tier))
        && c.min_order_number
            .is_none_or(|n| f.order_id.is_some() && orders_up_to(m, f.occurred_at, None) >= n)
        && c.min_orders_in_days.is_none_or(|w| {
            f.order_id.is_some() && orders_up_to(m, f.occurred_at, Some(w.days)) >= w.orders
        })
}

/// The member's counted orders paid at or before `at`, within `days` before it if given.
fn orders_up_to(m: &MemberState, at: Millis, days: Option<u32>) -> u32 {
    let from = days.map_or(Millis::MIN, |d| {
        at.saturating_sub(i64::from(d) * 86_400_000)
    });
    let n = m
        .order_times
        .iter()
        .filter(|t| **t <= at && **t > from)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
