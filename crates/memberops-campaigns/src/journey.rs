//! Journeys: a trigger and a graph of steps. The rules a journey obeys, without storage:
//!
//! - [`check_graph`]: every step reachable from the start, every reference names a step,
//!   and no cycle without a wait (a member would loop forever in one instant);
//! - [`Entry`]: once ever, once per N days, or every time;
//! - [`PropCond`]: the property conditions of an event trigger;
//! - [`wait_until`]: when a wait ends (a duration, or the next local time of day);
//! - [`bucket`] and [`Experiment::group`]: random splits and experiment groups, stable per
//!   member (the same member always lands in the same group of a journey).

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use memberops_core::error::FieldError;
use memberops_core::time::Millis;
use serde_json::Value;

/// One node of the graph as validation sees it.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub id: &'a str,
    /// Whether time passes here (a wait): a cycle through it is allowed.
    pub waits: bool,
    /// Outgoing edges: the field naming the target, and the target's id.
    pub edges: Vec<(&'a str, &'a str)>,
}

fn err(step: &str, field: &str, code: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(&["body", "steps", step, field], code, msg)
}

/// Checks a journey's graph from `start`: unknown targets, unreachable steps, and cycles
/// that pass no wait. Errors name the step and field (`["body", "steps", "<id>", "next"]`).
pub fn check_graph(start: &str, nodes: &[Node<'_>]) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut by_id: HashMap<&str, &Node<'_>> = HashMap::new();
    for n in nodes {
        if by_id.insert(n.id, n).is_some() {
            out.push(err(n.id, "id", "duplicate_step", "two steps have this id"));
        }
    }
    if !by_id.contains_key(start) {
        out.push(FieldError::new(
            &["body", "start"],
            "unknown_step",
            format!("no step `{start}`"),
        ));
        return out;
    }
    for n in nodes {
        for (field, to) in &n.edges {
            if !by_id.contains_key(to) {
                out.push(err(n.id, field, "unknown_step", format!("no step `{to}`")));
            }
        }
    }
    // Reachability.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(n) = by_id.get(id) {
            stack.extend(
                n.edges
                    .iter()
                    .map(|(_, t)| *t)
                    .filter(|t| by_id.contains_key(t)),
            );
        }
    }
    for n in nodes {
        if !seen.contains(n.id) {
            out.push(err(
                n.id,
                "id",
                "unreachable_step",
                "no path from the start reaches this step",
            ));
        }
    }
    // Cycles through non-wait steps only: depth-first search over the graph without the
    // edges leaving a wait.
    let mut state: HashMap<&str, u8> = HashMap::new();
    for n in nodes {
        if let Some(e) = cycle_from(n.id, &by_id, &mut state) {
            out.push(e);
            break;
        }
    }
    out
}

/// 1: on the path, 2: done.
fn cycle_from<'a>(
    id: &'a str,
    by_id: &HashMap<&'a str, &Node<'a>>,
    state: &mut HashMap<&'a str, u8>,
) -> Option<FieldError> {
    if state.contains_key(id) {
        return None;
    }
    let n = by_id.get(id)?;
    state.insert(id, 1);
    if !n.waits {
        for &(field, to) in &n.edges {
            if state.get(to) == Some(&1) {
                return Some(err(
                    n.id,
                    field,
                    "cycle_without_wait",
                    format!("`{to}` leads back here without a wait"),
                ));
            }
            if let Some(e) = cycle_from(to, by_id, state) {
                return Some(e);
            }
        }
    }
    state.insert(id, 2);
    None
}

/// Who may enter again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Once in the member's life.
    Once,
    /// Again once `days` have passed since the last entry.
    OncePer { days: u32 },
    /// On every trigger.
    EveryTime,
}

impl Entry {
    /// Whether a member whose last entry was at `last` may enter at `now`.
    pub fn allows(self, last: Option<Millis>, now: Millis) -> bool {
        match (self, last) {
            (_, None) | (Entry::EveryTime, _) => true,
            (Entry::Once, Some(_)) => false,
            (Entry::OncePer { days }, Some(t)) => now - t >= i64::from(days) * 86_400_000,
        }
    }
}

/// A condition on one property of the trigger event.
#[derive(Debug, Clone, PartialEq)]
pub struct PropCond {
    pub property: String,
    pub op: PropOp,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Exists,
}

impl PropOp {
    pub const NAMES: &'static str = "eq, ne, gt, gte, lt, lte, in, exists";

    pub fn parse(s: &str) -> Option<PropOp> {
        Some(match s {
            "eq" => PropOp::Eq,
            "ne" => PropOp::Ne,
            "gt" => PropOp::Gt,
            "gte" => PropOp::Gte,
            "lt" => PropOp::Lt,
            "lte" => PropOp::Lte,
            "in" => PropOp::In,
            "exists" => PropOp::Exists,
            _ => return None,
        })
    }
}

/// A property as a number: JSON numbers and decimal strings (`"129.00"`).
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) if !a.is_string() || !b.is_string() => x == y,
        _ => a == b,
    }
}

impl PropCond {
    /// Whether the event's properties meet the condition (`a.b` reaches into objects).
    pub fn matches(&self, props: &Value) -> bool {
        let got = self.property.split('.').try_fold(props, |v, k| v.get(k));
        let Some(got) = got.filter(|v| !v.is_null()) else {
            return false;
        };
        let cmp = |f: fn(f64, f64) -> bool| match (num(got), num(&self.value)) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        match self.op {
            PropOp::Exists => true,
            PropOp::Eq => same(got, &self.value),
            PropOp::Ne => !same(got, &self.value),
            PropOp::Gt => cmp(|a, b| a > b),
            PropOp::Gte => cmp(|a, b| a >= b),
            PropOp::Lt => cmp(|a, b| a < b),
            PropOp::Lte => cmp(|a, b| a <= b),
            PropOp::In => self
                .value
                .as_array()
                .is_some_and(|xs| xs.iter().any(|x| same(got, x))),
        }
    }
}

/// How long a wait lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A fixed time.
    For { ms: i64 },
    /// Until the next time the member's clock shows this time of day (today if still
    /// ahead, else tomorrow).
    UntilTime { at: NaiveTime },
}

/// When a wait that starts at `now` ends for a member in `tz`.
pub fn wait_until(w: Wait, tz: Tz, now: Millis) -> Millis {
    match w {
        Wait::For { ms } => now.saturating_add(ms),
        Wait::UntilTime { at } => {
            let Some(utc) = Utc.timestamp_millis_opt(now).single() else {
                return now;
            };
            let local = utc.with_timezone(&tz).date_naive();
            for d in 0..3 {
                let day = local + Duration::days(d);
                if let Some(t) = crate::schedule::local_instant(tz, day.and_time(at)) {
                    let t = t.timestamp_millis();
                    if t > now {
                        return t;
                    }
                }
            }
            now
        }
    }
}

/// A stable number in 0..100 for `(salt, key)`: FNV-1a, so the same member of the same
/// journey always gets the same number, on every process and version.
pub fn bucket(salt: &str, key: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([0u8]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(h % 100).unwrap_or(0)
}

/// Picks the branch whose share of 0..100 holds `n`: shares are cumulative percentages.
pub fn pick(shares: &[u32], n: u32) -> usize {
    let mut acc = 0;
    for (i, s) in shares.iter().enumerate() {
        acc += s;
        if n < acc {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

/// Variants with split percentages and a holdout that receives nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Experiment {
    /// `(name, percent, start step)`.
    pub variants: Vec<(String, u32, String)>,
    pub holdout_percent: u32,
}

pub const HOLDOUT: &str = "holdout";

impl Experiment {
    /// The member's group: a variant's name and its start step, or the holdout (None).
    pub fn group(&self, journey_id: &str, member_id: &str) -> Option<(&str, &str)> {
        let n = bucket(journey_id, member_id);
        if n < self.holdout_percent {
            return None;
        }
        let rest = n - self.holdout_percent;
        let shares: Vec<u32> = self.variants.iter().map(|v| v.1).collect();
        let total: u32 = shares.iter().sum::<u32>().max(1);
        // Spread the non-holdout range over the variants in proportion to their shares.
        let scaled = rest * total / (100 - self.holdout_percent).max(1);
        let i = pick(&shares, scaled);
        self.variants.get(i).map(|v| (v.0.as_str(), v.2.as_str()))
    }
}

/// One group's outcome in an experiment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupStats {
    pub members: u64,
    pub converted: u64,
    pub revenue_minor: i64,
    /// Σ revenue² per member, for the variance of revenue per member.
    pub revenue_sq: f64,
}

impl GroupStats {
    pub fn rate(&self) -> f64 {
        if self.members == 0 {
            0.0
        } else {
            self.converted as f64 / self.members as f64
        }
    }

    pub fn revenue_per_member(&self) -> f64 {
        if self.members == 0 {
            0.0
        } else {
            self.revenue_minor as f64 / self.members as f64
        }
    }

    fn revenue_var(&self) -> f64 {
        let n = self.members as f64;
        if n < 2.0 {
            return 0.0;
        }
        let mean = self.revenue_per_member();
        ((self.revenue_sq - n * mean * mean) / (n - 1.0)).max(0.0)
    }
}

/// A difference between a group and the holdout with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uplift {
    pub diff: f64,
    pub low: f64,
    pub high: f64,
}

const Z95: f64 = 1.959_963_984_540_054;

/// Uplift of the conversion rate (difference of proportions, normal approximation).
pub fn conversion_uplift(g: &GroupStats, holdout: &GroupStats) -> Option<Uplift> {
    if g.members == 0 || holdout.members == 0 {
        return None;
    }
    let (p1, p0) = (g.rate(), holdout.rate());
    let se = (p1 * (1.0 - p1) / g.members as f64 + p0 * (1.0 - p0) / holdout.members as f64).sqrt();
    let diff = p1 - p0;
    Some(Uplift {
        diff,
        low: diff - Z95 * se,
        high: diff + Z95 * se,
    })
}

/// Uplift of revenue per member (difference of means, Welch's normal approximation).
pub fn revenue_uplift(g: &GroupStats, holdout: &GroupStats) -> Option<Uplift> {
    if g.members == 0 || holdout.members == 0 {
        return None;
    }
    let se = (g.revenue_var() / g.members as f64 + holdout.revenue_var() / holdout.members as f64)
        .sqrt();
    let diff = g.revenue_per_member() - holdout.revenue_per_member();
    Some(Uplift {
        diff,
        low: diff - Z95 * se,
        high: diff + Z95 * se,
    })
}

#[cfg(test)]
#[path = "journey_tests.rs"]
mod tests;
