//! Funnels: ordered steps of event types, each with property filters and a window after
//! the step before (registered → an order within 30 days → another within 60 days), counted
//! per step with the conversion and the median time between steps, in all and per group
//! (acquisition channel, segment).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::time::Millis;
use serde::Serialize;

use super::{MemberIx, local_day, rate};

/// Most steps a funnel may have.
pub const MAX_STEPS: usize = 10;
/// The window of a step when none is given, in days.
pub const DEFAULT_WITHIN_DAYS: u32 = 30;
const DAY_MS: i64 = 86_400_000;

/// How a filter compares a property with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `key op value` over an event's properties: numbers compare as numbers, anything else
/// as text; a missing property matches only `!=`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub key: String,
    pub op: Op,
    pub value: String,
}

impl Filter {
    fn parse(text: &str) -> Option<Filter> {
        // Two-character operators first.
        for (sym, op) in [
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ] {
            if let Some((k, v)) = text.split_once(sym) {
                let key = k.trim();
                if key.is_empty() {
                    return None;
                }
                return Some(Filter {
                    key: key.to_owned(),
                    op,
                    value: v.trim().to_owned(),
                });
            }
        }
        None
    }

    /// Whether `properties` (a JSON object) passes.
    pub fn passes(&self, properties: &serde_json::Value) -> bool {
        let Some(found) = properties.get(&self.key).filter(|v| !v.is_null()) else {
            return self.op == Op::Ne;
        };
        let text = match found {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let ord = match (text.parse::<f64>(), self.value.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b),
            _ => Some(text.as_str().cmp(self.value.as_str())),
        };
        let Some(ord) = ord else { return false };
        match self.op {
            Op::Eq => ord.is_eq(),
            Op::Ne => ord.is_ne(),
            Op::Gt => ord.is_gt(),
            Op::Ge => ord.is_ge(),
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
        }
    }
}

/// One step: an event type, its filters, and (after the first) the days allowed since the
/// step before.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub event_type: String,
    pub filters: Vec<Filter>,
    pub within_days: u32,
}

impl Step {
    /// `type` or `type[key op value;key op value]`.
    fn parse(text: &str) -> Option<Step> {
        let text = text.trim();
        let (kind, filters) = match text.split_once('[') {
            Some((k, rest)) => (k.trim(), rest.strip_suffix(']')?),
            None => (text, ""),
        };
        if kind.is_empty() || kind.contains(']') {
            return None;
        }
        let filters = filters
            .split(';')
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .collect::<Option<Vec<Filter>>>()?;
        Some(Step {
            event_type: kind.to_owned(),
            filters,
            within_days: DEFAULT_WITHIN_DAYS,
        })
    }

    /// Whether an event of `kind` with `properties` is this step.
    pub fn matches(&self, kind: &str, properties: Option<&serde_json::Value>) -> bool {
        kind == self.event_type
            && self
                .filters
                .iter()
                .all(|f| properties.is_some_and(|p| f.passes(p)))
    }
}

/// The steps as sent: `steps` comma-separated (`member.registered,order.paid[amount>=100]`),
/// `within` the days of each step after the first (comma-separated, default 30 each).
pub fn parse_steps(steps: &str, within: Option<&str>) -> Result<Vec<Step>, Invalid> {
    let bad_step = |msg: &str| Invalid::one(&["steps"], "invalid_value", msg.to_owned());
    let mut out = steps
        .split(',')
        .map(|s| {
            Step::parse(s).ok_or_else(|| {
                bad_step("a step is `type` or `type[key op value;…]` (op: = != > >= < <=)")
            })
        })
        .collect::<Result<Vec<Step>, Invalid>>()?;
    if out.len() < 2 || out.len() > MAX_STEPS {
        return Err(bad_step(&format!("between 2 and {MAX_STEPS} steps")));
    }
    if let Some(w) = within {
        let days = w
            .split(',')
            .map(|d| d.trim().parse::<u32>().ok().filter(|d| *d > 0))
            .collect::<Option<Vec<u32>>>()
            .filter(|d| d.len() == out.len() - 1)
            .ok_or_else(|| {
                Invalid::one(
                    &["within"],
                    "invalid_value",
                    "one whole number of days (≥ 1) per step after the first",
                )
            })?;
        for (s, d) in out.iter_mut().skip(1).zip(days) {
            s.within_days = d;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunnelQuery {
    pub steps: Vec<Step>,
    /// Entry days: the first step's event falls on a local day in `[from, to]`.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl FunnelQuery {
    /// The most days a member's last step can come after their entry.
    pub fn span_days(&self) -> u64 {
        self.steps
            .iter()
            .skip(1)
            .map(|s| u64::from(s.within_days))
            .sum()
    }
}

/// An event the funnel reads: which steps it is (a bit per step), when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelEvent {
    pub member: MemberIx,
    pub at: Millis,
    /// Its place in the event log: orders events of one instant.
    pub seq: i64,
    /// Bit k set: the event is step k.
    pub steps: u16,
}

/// Per member who entered, when they reached each step, as far as they went. Events are
/// taken in time order (log order within an instant); each step is the member's first
/// event of it after the step before.
pub fn reach(
    q: &FunnelQuery,
    tz: Tz,
    events: &mut [FunnelEvent],
) -> BTreeMap<MemberIx, Vec<Millis>> {
    events.sort_unstable_by_key(|e| (e.member, e.at, e.seq));
    let mut out = BTreeMap::new();
    for member in events.chunk_by(|a, b| a.member == b.member) {
        let entry = member.iter().position(|e| {
            e.steps & 1 == 1 && {
                let d = local_day(e.at, tz);
                q.from <= d && d <= q.to
            }
        });
        let Some(mut i) = entry else { continue };
        let mut times = vec![member[i].at];
        for (k, step) in q.steps.iter().enumerate().skip(1) {
            let limit = member[i]
                .at
                .saturating_add(i64::from(step.within_days).saturating_mul(DAY_MS));
            match member
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(_, e)| e.steps & (1 << k) != 0)
            {
                Some((j, e)) if e.at <= limit => {
                    times.push(e.at);
                    i = j;
                }
                _ => break,
            }
        }
        out.insert(member[0].member, times);
    }
    out
}

/// One step of one group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StepRow {
    /// 1 for the first step.
    pub step: u32,
    pub event_type: String,
    /// Members who reached the step.
    pub members: u64,
    /// `members` over the group's members at step 1 (null at step 1 without entries).
    pub conversion: Option<f64>,
    /// `members` over those at the step before (null at step 1 and after an empty step).
    pub step_conversion: Option<f64>,
    /// Median days from the step before to this one (2 decimals; null at step 1 and
    /// when nobody reached the step).
    pub median_days: Option<f64>,
}

/// The CSV columns of [`StepRow`].
pub const FUNNEL_COLUMNS: [&str; 7] = [
    "group",
    "step",
    "event_type",
    "members",
    "conversion",
    "step_conversion",
    "median_days",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The funnel of one group of members.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FunnelGroup {
    /// `(all)`, a channel (`(none)`: not given) or a segment id.
    pub group: String,
    pub steps: Vec<StepRow>,
}

impl FunnelGroup {
    /// One row per step, in [`FUNNEL_COLUMNS`] order.
    pub fn csv_records(&self) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .map(|r| {
                vec![
                    self.group.clone(),
                    r.step.to_string(),
                    r.event_type.clone(),
                    r.members.to_string(),
                    opt(r.conversion),
                    opt(r.step_conversion),
                    opt(r.median_days),
                ]
            })
            .collect()
    }
}

fn median_days(mut gaps: Vec<Millis>) -> Option<f64> {
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let n = gaps.len();
    let mid = if n % 2 == 1 {
        gaps[n / 2] as f64
    } else {
        (gaps[n / 2 - 1] as f64 + gaps[n / 2] as f64) / 2.0
    };
    Some((mid / DAY_MS as f64 * 100.0).round() / 100.0)
}

/// The steps of one group of members, from their times.
pub fn group_rows<'a>(
    q: &FunnelQuery,
    group: &str,
    times: impl Iterator<Item = &'a Vec<Millis>> + Clone,
) -> FunnelGroup {
    let mut out: Vec<StepRow> = Vec::with_capacity(q.steps.len());
    let first = times.clone().count() as u64;
    for (k, step) in q.steps.iter().enumerate() {
        let reached = times.clone().filter(|t| t.len() > k);
        let members = reached.clone().count() as u64;
        let before = out.last().map(|r| r.members);
        let gaps: Vec<Millis> = if k == 0 {
            Vec::new()
        } else {
            reached.map(|t| t[k] - t[k - 1]).collect()
        };
        out.push(StepRow {
            step: u32::try_from(k + 1).unwrap_or(u32::MAX),
            event_type: step.event_type.clone(),
            members,
            conversion: (first > 0).then(|| rate(members, first)),
            step_conversion: before.filter(|b| *b > 0).map(|b| rate(members, b)),
            median_days: median_days(gaps),
        });
    }
    FunnelGroup {
        group: group.to_owned(),
        steps: out,
    }
}

#[cfg(test)]
#[path = "funnel_tests.rs"]
mod tests;
