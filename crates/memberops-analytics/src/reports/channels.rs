//! Acquisition channels: new members, conversion to a first order, N-day retention (as
//! PostHog defines it: calendar days, "first time" from joining and "recurring" from every
//! active day), and the seed's formula retained = Σ channel new members × retention, with
//! each channel's share of it.

use std::collections::{BTreeMap, HashSet};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::cohorts::first_order_days;
use super::{DayRow, MemberIx, MemberRow, OrderDay, rate, within};

/// The days retention is measured on.
pub const RETENTION_DAYS: [u64; 4] = [1, 7, 30, 90];

/// The day whose retention enters the seed's formula.
pub const FORMULA_DAY: u64 = 30;

/// The name of members without a channel, and of the total row.
pub const NO_CHANNEL: &str = "(none)";
pub const ALL_CHANNELS: &str = "(all)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelQuery {
    /// Members who joined on these days (inclusive) are the new members.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Nothing after this day counts; day N is measured only where it is on or before it.
    pub as_of: NaiveDate,
}

/// Retention on day N: of the members whose day N is on or before the as-of date
/// (`eligible`), those active on exactly that calendar day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Retention {
    pub day: u64,
    /// First time: new members, counted from their join day.
    pub eligible: u64,
    pub retained: u64,
    /// `retained / eligible`; null when nobody is eligible.
    pub rate: Option<f64>,
    /// Recurring: every (member, active day) of the range whose day N is on or before the
    /// as-of date, and how many of those were followed by activity on day N.
    pub recurring_eligible: u64,
    pub recurring_retained: u64,
    pub recurring_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChannelRow {
    /// The member's acquisition channel; `(none)` when not given; `(all)` for the total.
    pub channel: String,
    /// Members who joined in the range.
    pub new_members: u64,
    /// Of them, members with an order on or before the as-of date.
    pub first_order_members: u64,
    /// `first_order_members / new_members`.
    pub conversion_rate: Option<f64>,
    /// Day 1, 7, 30 and 90.
    pub retention: Vec<Retention>,
    /// The seed's term for this channel: `new_members × day-30 rate` (first time), rounded.
    pub retained_d30: u64,
    /// This channel's share of Σ `retained_d30` over the channels.
    pub contribution_share: Option<f64>,
}

pub const CHANNEL_COLUMNS: [&str; 16] = [
    "channel",
    "new_members",
    "first_order_members",
    "conversion_rate",
    "d1_rate",
    "d7_rate",
    "d30_rate",
    "d90_rate",
    "d1_recurring_rate",
    "d7_recurring_rate",
    "d30_recurring_rate",
    "d90_recurring_rate",
    "retained_d30",
    "contribution_share",
    "d30_eligible",
    "d30_retained",
];

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl ChannelRow {
    pub fn csv_record(&self) -> Vec<String> {
        let mut out = vec![
            self.channel.clone(),
            self.new_members.to_string(),
            self.first_order_members.to_string(),
            opt(self.conversion_rate),
        ];
        out.extend(self.retention.iter().map(|r| opt(r.rate)));
        out.extend(self.retention.iter().map(|r| opt(r.recurring_rate)));
        out.push(self.retained_d30.to_string());
        out.push(opt(self.contribution_share));
        let d30 = self.retention.iter().find(|r| r.day == FORMULA_DAY);
        out.push(d30.map(|r| r.eligible.to_string()).unwrap_or_default());
        out.push(d30.map(|r| r.retained.to_string()).unwrap_or_default());
        out
    }
}

#[derive(Default)]
struct Tally {
    new_members: u64,
    first_order: u64,
    first: [(u64, u64); 4],
    recurring: [(u64, u64); 4],
}

/// One row per channel (by name; `(none)` last among equals of the sort), then `(all)`.
pub fn channels(
    q: &ChannelQuery,
    members: &[MemberRow],
    orders: &[OrderDay],
    active: &[DayRow],
) -> Vec<ChannelRow> {
    let seen: HashSet<(MemberIx, NaiveDate)> = active
        .iter()
        .filter(|a| a.day <= q.as_of)
        .map(|a| (a.member, a.day))
        .collect();
    let buyers = first_order_days(orders, q.as_of);
    let channel_of: std::collections::HashMap<MemberIx, &str> = members
        .iter()
        .map(|m| (m.member, m.channel.as_deref().unwrap_or(NO_CHANNEL)))
        .collect();
    let plus = |d: NaiveDate, n: u64| d.checked_add_days(Days::new(n));
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for m in members
        .iter()
        .filter(|m| within(m.joined, q.from, q.to) && m.joined <= q.as_of)
    {
        let channel = m.channel.as_deref().unwrap_or(NO_CHANNEL);
        let t = tallies.entry(channel).or_default();
        t.new_members += 1;
        t.first_order += u64::from(buyers.contains_key(&m.member));
        for (i, n) in RETENTION_DAYS.iter().enumerate() {
            if let Some(day) = plus(m.joined, *n).filter(|d| *d <= q.as_of) {
                t.first[i].0 += 1;
                t.first[i].1 += u64::from(seen.contains(&(m.member, day)));
            }
        }
    }
    for (member, day) in seen.iter().filter(|(_, d)| within(*d, q.from, q.to)) {
        let Some(channel) = channel_of.get(member) else {
            continue;
        };
        let t = tallies.entry(channel).or_default();
        for (i, n) in RETENTION_DAYS.iter().enumerate() {
            if let Some(later) = plus(*day, *n).filter(|d| *d <= q.as_of) {
                t.recurring[i].0 += 1;
                t.recurring[i].1 += u64::from(seen.contains(&(*member, later)));
            }
        }
    }
    let mut all = Tally::default();
    for t in tallies.values() {
        all.new_members += t.new_members;
        all.first_order += t.first_order;
        for i in 0..RETENTION_DAYS.len() {
            all.first[i].0 += t.first[i].0;
            all.first[i].1 += t.first[i].1;
            all.recurring[i].0 += t.recurring[i].0;
            all.recurring[i].1 += t.recurring[i].1;
        }
    }
    let formula = RETENTION_DAYS
        .iter()
        .position(|d| *d == FORMULA_DAY)
        .unwrap_or(0);
    let term = |t: &Tally| {
        let (eligible, retained) = t.first[formula];
        if eligible == 0 {
            0
        } else {
            (t.new_members as f64 * retained as f64 / eligible as f64).round() as u64
        }
    };
    let total: u64 = tallies.values().map(term).sum();
    let row = |name: &str, t: &Tally, share: Option<f64>| ChannelRow {
        channel: name.to_owned(),
        new_members: t.new_members,
        first_order_members: t.first_order,
        conversion_rate: (t.new_members > 0).then(|| rate(t.first_order, t.new_members)),
        retention: RETENTION_DAYS
            .iter()
            .enumerate()
            .map(|(i, day)| Retention {
                day: *day,
                eligible: t.first[i].0,
                retained: t.first[i].1,
                rate: (t.first[i].0 > 0).then(|| rate(t.first[i].1, t.first[i].0)),
                recurring_eligible: t.recurring[i].0,
                recurring_retained: t.recurring[i].1,
                recurring_rate: (t.recurring[i].0 > 0)
                    .then(|| rate(t.recurring[i].1, t.recurring[i].0)),
            })
            .collect(),
        retained_d30: term(t),
        contribution_share: share,
    };
    let mut out: Vec<ChannelRow> = tallies
        .iter()
        .map(|(name, t)| row(name, t, (total > 0).then(|| rate(term(t), total))))
        .collect();
    let mut sum = row(ALL_CHANNELS, &all, (total > 0).then_some(1.0));
    sum.retained_d30 = total;
    out.push(sum);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn m(member: MemberIx, joined: &str, channel: Option<&str>) -> MemberRow {
        MemberRow {
            member,
            joined: d(joined),
            channel: channel.map(str::to_owned),
        }
    }

    fn a(member: MemberIx, day: &str) -> DayRow {
        DayRow {
            member,
            day: d(day),
        }
    }

    /// Ads: 1 (joined 1 Mar, back 2 Mar and 31 Mar, ordered 2 Mar), 2 (joined 2 Mar, back
    /// 9 Mar), 3 (joined 1 Mar, never back). Shop: 4 (joined 10 Mar, ordered that day, back
    /// 9 Apr). 5 (no channel) joined 20 Mar. 6 joined in February: not new.
    #[test]
    fn new_members_conversion_retention_and_the_seed_formula() {
        let members = [
            m(1, "2026-03-01", Some("ads")),
            m(2, "2026-03-02", Some("ads")),
            m(3, "2026-03-01", Some("ads")),
            m(4, "2026-03-10", Some("shop")),
            m(5, "2026-03-20", None),
            m(6, "2026-02-01", Some("shop")),
        ];
        let active = [
            a(1, "2026-03-01"),
            a(1, "2026-03-02"),
            a(1, "2026-03-31"),
            a(2, "2026-03-02"),
            a(2, "2026-03-09"),
            a(3, "2026-03-01"),
            a(4, "2026-03-10"),
            a(4, "2026-04-09"),
            a(5, "2026-03-20"),
        ];
        let order = |member, day| OrderDay {
            member,
            day: d(day),
            orders: 1,
            paid_minor: 100,
            refunded_minor: 0,
        };
        let orders = [order(1, "2026-03-02"), order(4, "2026-03-10")];
        let q = ChannelQuery {
            from: d("2026-03-01"),
            to: d("2026-03-31"),
            as_of: d("2026-04-15"),
        };
        let rows = channels(&q, &members, &orders, &active);
        let names: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
        assert_eq!(names, ["(none)", "ads", "shop", "(all)"]);
        let ads = &rows[1];
        assert_eq!((ads.new_members, ads.first_order_members), (3, 1));
        assert_eq!(ads.conversion_rate, Some(0.333333));
        let r = |row: &ChannelRow, i: usize| (row.retention[i].eligible, row.retention[i].retained);
        assert_eq!(r(ads, 0), (3, 1), "day 1: member 1 on 2 Mar");
        assert_eq!(r(ads, 1), (3, 1), "day 7: member 2 on 9 Mar");
        assert_eq!(r(ads, 2), (3, 1), "day 30: member 1 on 31 Mar");
        assert_eq!(r(ads, 3), (0, 0), "day 90 is after the as-of date");
        assert_eq!(ads.retention[3].rate, None);
        // Recurring day 1: active days 1, 2, 31 Mar (member 1), 2, 9 Mar (2), 1 Mar (3):
        // followed the next day only 1 Mar of member 1.
        assert_eq!(
            (
                ads.retention[0].recurring_eligible,
                ads.retention[0].recurring_retained
            ),
            (6, 1)
        );
        let shop = &rows[2];
        assert_eq!((shop.new_members, shop.first_order_members), (1, 1));
        assert_eq!(r(shop, 2), (1, 1), "day 30: 9 Apr");
        // Seed formula: ads 3 × 1/3 = 1, shop 1 × 1 = 1, (none) 1 × 0 = 0: 2 retained.
        assert_eq!(
            (ads.retained_d30, shop.retained_d30, rows[0].retained_d30),
            (1, 1, 0)
        );
        assert_eq!(
            (ads.contribution_share, shop.contribution_share),
            (Some(0.5), Some(0.5))
        );
        let all = &rows[3];
        assert_eq!(
            (all.new_members, all.first_order_members, all.retained_d30),
            (5, 2, 2)
        );
        assert_eq!(
            r(all, 2),
            (4, 2),
            "member 5's day 30 is after the as-of date"
        );
        assert_eq!(
            ads.csv_record()[..8].join(","),
            "ads,3,1,0.333333,0.333333,0.333333,0.333333,"
        );
    }
}
