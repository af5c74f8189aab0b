//! Repurchase: how likely a member with n orders places another ("one repurchase lifts
//! retention, five make a loyal customer", seed 004), the time between purchases, and the
//! time to the second order.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{MemberIx, OrderDay, rate};

/// Rows of the magic-number table: n = 1 … this.
pub const MAX_ORDERS: u64 = 10;

/// Gap buckets in days: `[low, high]`, the last open.
pub const GAP_BUCKETS: [(i64, Option<i64>); 8] = [
    (0, Some(7)),
    (8, Some(14)),
    (15, Some(30)),
    (31, Some(60)),
    (61, Some(90)),
    (91, Some(180)),
    (181, Some(365)),
    (366, None),
];

/// Members with at least n orders, and of them those with at least n + 1.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MagicRow {
    pub orders: u64,
    pub members: u64,
    pub repurchased: u64,
    /// `repurchased / members`; null without members.
    pub rate: Option<f64>,
}

pub const MAGIC_COLUMNS: [&str; 4] = ["orders", "members", "repurchased", "rate"];

impl MagicRow {
    pub fn csv_record(&self) -> Vec<String> {
        vec![
            self.orders.to_string(),
            self.members.to_string(),
            self.repurchased.to_string(),
            self.rate.map(|r| r.to_string()).unwrap_or_default(),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GapBucket {
    /// Days between two consecutive orders, from…
    pub from_days: i64,
    /// …to (inclusive); null: no upper bound.
    pub to_days: Option<i64>,
    pub gaps: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SecondOrder {
    /// Members with an order.
    pub buyers: u64,
    /// Of them, members with a second order.
    pub repeat_buyers: u64,
    /// Median days from the first order to the second (0: both on one day).
    pub median_days: Option<f64>,
    /// Share of buyers whose second order came within 30, 60 and 90 days of the first.
    pub within_30_days: f64,
    pub within_60_days: f64,
    pub within_90_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Repurchase {
    /// YYYY-MM-DD.
    pub as_of: String,
    pub by_orders: Vec<MagicRow>,
    /// Days between consecutive orders of a member (orders of one day: 0).
    pub gaps: Vec<GapBucket>,
    pub median_gap_days: Option<f64>,
    pub second_order: SecondOrder,
}

fn median(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

/// The report as of `as_of` (orders that count, paid on or before it).
pub fn repurchase(orders: &[OrderDay], as_of: NaiveDate) -> Repurchase {
    // Per member, order days with their orders, in day order.
    let mut by_member: HashMap<MemberIx, Vec<(NaiveDate, u32)>> = HashMap::new();
    for o in orders.iter().filter(|o| o.orders > 0 && o.day <= as_of) {
        by_member
            .entry(o.member)
            .or_default()
            .push((o.day, o.orders));
    }
    let mut counts: Vec<u64> = Vec::with_capacity(by_member.len());
    let mut gaps: Vec<i64> = Vec::new();
    let mut seconds: Vec<i64> = Vec::new();
    for days in by_member.values_mut() {
        days.sort_unstable();
        counts.push(days.iter().map(|(_, n)| u64::from(*n)).sum());
        // Every order after the first, as the days since the order before it.
        let mut prev: Option<NaiveDate> = None;
        for (day, n) in days.iter() {
            for _ in 0..*n {
                if let Some(p) = prev {
                    gaps.push((*day - p).num_days());
                }
                prev = Some(*day);
            }
        }
        let first = days[0];
        let second = if first.1 >= 2 {
            Some(first.0)
        } else {
            days.get(1).map(|d| d.0)
        };
        if let Some(s) = second {
            seconds.push((s - first.0).num_days());
        }
    }
    let by_orders = (1..=MAX_ORDERS)
        .map(|n| {
            let members = counts.iter().filter(|c| **c >= n).count() as u64;
            let repurchased = counts.iter().filter(|c| **c > n).count() as u64;
            MagicRow {
                orders: n,
                members,
                repurchased,
                rate: (members > 0).then(|| rate(repurchased, members)),
            }
        })
        .collect();
    let total = gaps.len() as u64;
    let buckets = GAP_BUCKETS
        .iter()
        .map(|(lo, hi)| {
            let n = gaps
                .iter()
                .filter(|g| **g >= *lo && hi.is_none_or(|h| **g <= h))
                .count() as u64;
            GapBucket {
                from_days: *lo,
                to_days: *hi,
                gaps: n,
                share: rate(n, total),
            }
        })
        .collect();
    let buyers = counts.len() as u64;
    let within = |d: i64| rate(seconds.iter().filter(|s| **s <= d).count() as u64, buyers);
    let second_order = SecondOrder {
        buyers,
        repeat_buyers: seconds.len() as u64,
        within_30_days: within(30),
        within_60_days: within(60),
        within_90_days: within(90),
        median_days: median(&mut seconds),
    };
    Repurchase {
        as_of: as_of.format("%Y-%m-%d").to_string(),
        by_orders,
        gaps: buckets,
        median_gap_days: median(&mut gaps),
        second_order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn o(member: MemberIx, day: &str, orders: u32) -> OrderDay {
        OrderDay {
            member,
            day: d(day),
            orders,
            paid_minor: 100,
            refunded_minor: 0,
        }
    }

    /// 1: two orders on 1 Mar, one on 11 Mar (3 orders; gaps 0, 10). 2: 1 Mar and 31 May
    /// (gap 91). 3: one order. 4: a refunded order only (no order). 5: 1 Mar, then after the
    /// as-of date.
    #[test]
    fn magic_numbers_gaps_and_the_second_order() {
        let orders = [
            o(1, "2026-03-01", 2),
            o(1, "2026-03-11", 1),
            o(2, "2026-03-01", 1),
            o(2, "2026-05-31", 1),
            o(3, "2026-04-01", 1),
            o(4, "2026-04-01", 0),
            o(5, "2026-03-01", 1),
            o(5, "2026-07-01", 1),
        ];
        let r = repurchase(&orders, d("2026-06-30"));
        let t: Vec<(u64, u64, u64)> = r.by_orders[..4]
            .iter()
            .map(|m| (m.orders, m.members, m.repurchased))
            .collect();
        assert_eq!(t, [(1, 4, 2), (2, 2, 1), (3, 1, 0), (4, 0, 0)]);
        assert_eq!(r.by_orders[0].rate, Some(0.5));
        assert_eq!(r.by_orders[3].rate, None);
        assert_eq!(r.by_orders[1].csv_record().join(","), "2,2,1,0.5");
        let g: Vec<u64> = r.gaps.iter().map(|b| b.gaps).collect();
        assert_eq!(g, [1, 1, 0, 0, 0, 1, 0, 0], "0, 10 and 91 days");
        assert_eq!(r.median_gap_days, Some(10.0));
        let s = &r.second_order;
        assert_eq!((s.buyers, s.repeat_buyers), (4, 2));
        assert_eq!(s.median_days, Some(45.5), "0 and 91 days");
        assert_eq!((s.within_30_days, s.within_90_days), (0.25, 0.25));
    }
}
