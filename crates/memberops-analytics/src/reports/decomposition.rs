//! Sales decomposition (seed 002: sales = traffic × conversion × average order value ×
//! repurchase): revenue = active members × conversion × purchase frequency × AOV, per
//! period and per channel, with each factor's contribution to the change between the
//! previous period and this one split by the log-mean Divisia index (LMDI-I).
//!
//! For R = A·C·F·V, the contribution of factor X is L(R₁, R₀) · ln(X₁ / X₀) with the
//! logarithmic mean L(a, b) = (a − b) / (ln a − ln b) (L(a, a) = a). The four contributions
//! add up to R₁ − R₀ exactly. They are undefined when a factor is 0 in either period.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use super::channels::{ALL_CHANNELS, NO_CHANNEL};
use super::{DayRow, MemberIx, MemberRow, OrderDay, within};

/// One period's factors.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Factors {
    /// Paid minus refunded over the orders paid in the period.
    pub revenue_minor: i64,
    /// Members with an activity in the period.
    pub active_members: u64,
    /// Members with an order in the period.
    pub paying_members: u64,
    pub orders: u64,
    /// `paying_members / active_members`.
    pub conversion: Option<f64>,
    /// Purchase frequency: `orders / paying_members`.
    pub frequency: Option<f64>,
    /// `revenue_minor / orders`.
    pub aov_minor: Option<f64>,
}

/// Each factor's share of the revenue change, in minor units (2 decimals).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Contributions {
    pub active_members: f64,
    pub conversion: f64,
    pub frequency: f64,
    pub aov: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DecompositionRow {
    /// The members' acquisition channel (`(none)`: not given; `(all)`: every member).
    pub channel: String,
    pub previous: Factors,
    pub current: Factors,
    /// `current.revenue_minor - previous.revenue_minor`.
    pub change_minor: i64,
    /// Null when a factor is 0 in either period (its logarithm is undefined).
    pub contributions: Option<Contributions>,
}

pub const DECOMPOSITION_COLUMNS: [&str; 16] = [
    "channel",
    "previous_revenue_minor",
    "current_revenue_minor",
    "change_minor",
    "previous_active_members",
    "current_active_members",
    "previous_conversion",
    "current_conversion",
    "previous_frequency",
    "current_frequency",
    "previous_aov_minor",
    "current_aov_minor",
    "contribution_active_members",
    "contribution_conversion",
    "contribution_frequency",
    "contribution_aov",
];

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl DecompositionRow {
    pub fn csv_record(&self) -> Vec<String> {
        let (p, c) = (&self.previous, &self.current);
        let k = self.contributions.as_ref();
        vec![
            self.channel.clone(),
            p.revenue_minor.to_string(),
            c.revenue_minor.to_string(),
            self.change_minor.to_string(),
            p.active_members.to_string(),
            c.active_members.to_string(),
            opt(p.conversion),
            opt(c.conversion),
            opt(p.frequency),
            opt(c.frequency),
            opt(p.aov_minor),
            opt(c.aov_minor),
            opt(k.map(|k| k.active_members)),
            opt(k.map(|k| k.conversion)),
            opt(k.map(|k| k.frequency)),
            opt(k.map(|k| k.aov)),
        ]
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| round(a / b, 6))
}

#[derive(Default)]
struct Tally {
    active: HashSet<MemberIx>,
    buyers: HashSet<MemberIx>,
    orders: u64,
    revenue: i64,
}

impl Tally {
    fn factors(&self) -> Factors {
        let (a, b, o) = (
            self.active.len() as f64,
            self.buyers.len() as f64,
            self.orders as f64,
        );
        Factors {
            revenue_minor: self.revenue,
            active_members: self.active.len() as u64,
            paying_members: self.buyers.len() as u64,
            orders: self.orders,
            conversion: ratio(b, a),
            frequency: ratio(o, b),
            aov_minor: (o != 0.0).then(|| round(self.revenue as f64 / o, 2)),
        }
    }

    /// Unrounded A, C, F, V.
    fn terms(&self) -> [f64; 4] {
        let (a, b, o) = (
            self.active.len() as f64,
            self.buyers.len() as f64,
            self.orders as f64,
        );
        let safe = |x: f64, y: f64| if y == 0.0 { 0.0 } else { x / y };
        [a, safe(b, a), safe(o, b), safe(self.revenue as f64, o)]
    }
}

fn log_mean(a: f64, b: f64) -> f64 {
    if (a - b).abs() < f64::EPSILON * a.abs().max(1.0) {
        a
    } else {
        (a - b) / (a.ln() - b.ln())
    }
}

fn lmdi(previous: &Tally, current: &Tally) -> Option<Contributions> {
    let (x0, x1) = (previous.terms(), current.terms());
    if x0.iter().chain(x1.iter()).any(|x| *x <= 0.0) {
        return None;
    }
    let l = log_mean(current.revenue as f64, previous.revenue as f64);
    let c = |i: usize| round(l * (x1[i] / x0[i]).ln(), 2);
    Some(Contributions {
        active_members: c(0),
        conversion: c(1),
        frequency: c(2),
        aov: c(3),
    })
}

/// Rows per channel (by name), then `(all)`, for `current` against `previous` (both
/// inclusive day ranges).
pub fn decomposition(
    previous: (NaiveDate, NaiveDate),
    current: (NaiveDate, NaiveDate),
    members: &[MemberRow],
    orders: &[OrderDay],
    active: &[DayRow],
) -> Vec<DecompositionRow> {
    let channel_of: HashMap<MemberIx, &str> = members
        .iter()
        .map(|m| (m.member, m.channel.as_deref().unwrap_or(NO_CHANNEL)))
        .collect();
    let channel = |m: MemberIx| channel_of.get(&m).copied().unwrap_or(NO_CHANNEL);
    // (channel, period 0 or 1) → tally; `(all)` beside.
    let mut t: BTreeMap<(&str, usize), Tally> = BTreeMap::new();
    let period = |d: NaiveDate| {
        if within(d, current.0, current.1) {
            Some(1)
        } else if within(d, previous.0, previous.1) {
            Some(0)
        } else {
            None
        }
    };
    for a in active {
        if let Some(p) = period(a.day) {
            for ch in [channel(a.member), ALL_CHANNELS] {
                t.entry((ch, p)).or_default().active.insert(a.member);
            }
        }
    }
    for o in orders {
        if let Some(p) = period(o.day) {
            for ch in [channel(o.member), ALL_CHANNELS] {
                let tally = t.entry((ch, p)).or_default();
                tally.revenue = tally.revenue.saturating_add(o.net_minor());
                if o.orders > 0 {
                    tally.orders += u64::from(o.orders);
                    tally.buyers.insert(o.member);
                }
            }
        }
    }
    let mut names: Vec<&str> = t
        .keys()
        .map(|(c, _)| *c)
        .filter(|c| *c != ALL_CHANNELS)
        .collect();
    names.dedup();
    names.push(ALL_CHANNELS);
    let empty = Tally::default();
    names
        .into_iter()
        .map(|name| {
            let p = t.get(&(name, 0)).unwrap_or(&empty);
            let c = t.get(&(name, 1)).unwrap_or(&empty);
            DecompositionRow {
                channel: name.to_owned(),
                previous: p.factors(),
                current: c.factors(),
                change_minor: c.revenue.saturating_sub(p.revenue),
                contributions: lmdi(p, c),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn m(member: MemberIx, channel: &str) -> MemberRow {
        MemberRow {
            member,
            joined: d("2026-01-01"),
            channel: Some(channel.to_owned()),
        }
    }

    fn a(member: MemberIx, day: &str) -> DayRow {
        DayRow {
            member,
            day: d(day),
        }
    }

    fn o(member: MemberIx, day: &str, orders: u32, paid: i64) -> OrderDay {
        OrderDay {
            member,
            day: d(day),
            orders,
            paid_minor: paid,
            refunded_minor: 0,
        }
    }

    /// February: 4 active, 2 buy 1 order each of 100.00 → 200.00.
    /// March: 5 active, 3 buy, 6 orders, 1,200.00 → conversion 0.5 → 0.6, frequency 1 → 2,
    /// AOV 100 → 200.
    #[test]
    fn the_four_factors_add_up_to_the_change() {
        let members: Vec<MemberRow> = (1..=5)
            .map(|i| m(i, if i <= 2 { "ads" } else { "shop" }))
            .collect();
        let mut active = vec![
            a(1, "2026-02-03"),
            a(2, "2026-02-03"),
            a(3, "2026-02-05"),
            a(4, "2026-02-06"),
        ];
        active.extend((1..=5).map(|i| a(i, "2026-03-10")));
        let orders = [
            o(1, "2026-02-03", 1, 10_000),
            o(3, "2026-02-05", 1, 10_000),
            o(1, "2026-03-10", 2, 40_000),
            o(2, "2026-03-10", 2, 40_000),
            o(5, "2026-03-10", 2, 40_000),
        ];
        let rows = decomposition(
            (d("2026-02-01"), d("2026-02-28")),
            (d("2026-03-01"), d("2026-03-31")),
            &members,
            &orders,
            &active,
        );
        let names: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
        assert_eq!(names, ["ads", "shop", "(all)"]);
        let all = &rows[2];
        assert_eq!(
            (
                all.previous.revenue_minor,
                all.current.revenue_minor,
                all.change_minor
            ),
            (20_000, 120_000, 100_000)
        );
        assert_eq!(
            (all.previous.conversion, all.current.conversion),
            (Some(0.5), Some(0.6))
        );
        assert_eq!(
            (all.current.frequency, all.current.aov_minor),
            (Some(2.0), Some(20_000.0))
        );
        let k = all.contributions.as_ref().expect("all factors positive");
        let sum = k.active_members + k.conversion + k.frequency + k.aov;
        assert!((sum - 100_000.0).abs() < 0.05, "{k:?}");
        // L(120000, 20000) = 100000 / ln 6; ln(5/4) / ln 6 of it for the members.
        let l = 100_000.0 / 6f64.ln();
        assert!((k.active_members - l * 1.25f64.ln()).abs() < 0.01, "{k:?}");
        assert!((k.frequency - l * 2f64.ln()).abs() < 0.01);
        assert_eq!(k.frequency, k.aov, "both doubled");
        // shop: active 3, 4 in February (3 buys), 3, 4, 5 in March (5 buys).
        let shop = &rows[1];
        assert_eq!(
            (shop.previous.active_members, shop.current.active_members),
            (2, 3)
        );
        assert!(shop.contributions.is_some());
        assert_eq!(rows[0].csv_record()[..4].join(","), "ads,10000,80000,70000");
    }

    #[test]
    fn a_zero_factor_leaves_the_split_undefined() {
        let members = [m(1, "ads")];
        let rows = decomposition(
            (d("2026-02-01"), d("2026-02-28")),
            (d("2026-03-01"), d("2026-03-31")),
            &members,
            &[o(1, "2026-03-02", 1, 500)],
            &[a(1, "2026-02-02"), a(1, "2026-03-02")],
        );
        assert_eq!(rows[1].change_minor, 500);
        assert_eq!(rows[1].contributions, None, "nobody bought in February");
    }
}
