//! Report tables built from plain rows: overview, cohorts, funnels, channel retention,
//! repurchase, decomposition, portrait, loyalty economics.
//!
//! Every report reads the same three kinds of row (see docs/analytics.md):
//! - [`MemberRow`]: a member's join day (registration, else the day MemberOps first knew
//!   them) and acquisition channel;
//! - [`DayRow`]: a day on which a member did something (any event but the system events
//!   MemberOps records itself);
//! - [`OrderDay`]: a day on which a member paid orders, with how many count as orders
//!   ([`memberops_core::order::counts_as_order`]) and the amounts paid and refunded.
//!
//! Days are local dates in the workspace's zone. Members are numbered (`MemberIx`) by the
//! caller, so the tables here hold no strings.

pub mod book;
pub mod channels;
pub mod cohorts;
pub mod decomposition;
pub mod funnel;
pub mod overview;
pub mod portrait;
pub mod repurchase;

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::order::counts_as_order;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

/// A member, numbered by the caller.
pub type MemberIx = u32;

/// A member as the reports see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub member: MemberIx,
    /// Local day of registration (else of the member's creation).
    pub joined: NaiveDate,
    /// Acquisition channel (`None`: not given).
    pub channel: Option<String>,
}

/// A local day on which a member was active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayRow {
    pub member: MemberIx,
    pub day: NaiveDate,
}

/// A member's orders paid on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderDay {
    pub member: MemberIx,
    pub day: NaiveDate,
    /// Orders that count (not fully refunded).
    pub orders: u32,
    /// Paid amounts of every order of the day, counting or not.
    pub paid_minor: i64,
    /// Refunded amounts of those orders.
    pub refunded_minor: i64,
}

impl OrderDay {
    pub fn net_minor(&self) -> i64 {
        self.paid_minor.saturating_sub(self.refunded_minor)
    }
}

/// The local day of an instant in a zone.
pub fn local_day(ms: Millis, tz: Tz) -> NaiveDate {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).date_naive(),
        None if ms < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// How reports cut time: calendar days, ISO weeks (Monday first) or calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Week,
    Month,
}

impl Grain {
    pub fn parse(text: &str, field: &str) -> Result<Grain, Invalid> {
        match text {
            "day" => Ok(Grain::Day),
            "week" => Ok(Grain::Week),
            "month" => Ok(Grain::Month),
            _ => Err(Invalid::one(
                &[field],
                "invalid_value",
                "expected day, week or month",
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        }
    }

    /// A running number of the period holding `d`: consecutive periods differ by one.
    pub fn index(self, d: NaiveDate) -> i64 {
        match self {
            Grain::Day => i64::from(d.num_days_from_ce()),
            // Day 1 of the common era was a Monday.
            Grain::Week => (i64::from(d.num_days_from_ce()) - 1).div_euclid(7),
            Grain::Month => i64::from(d.year()) * 12 + i64::from(d.month0()),
        }
    }

    /// The first day of the period holding `d`.
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Grain::Day => d,
            Grain::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Grain::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// The first day of the period after the one holding `d`.
    pub fn next(self, d: NaiveDate) -> NaiveDate {
        let s = self.start(d);
        let next = match self {
            Grain::Day => s.checked_add_days(Days::new(1)),
            Grain::Week => s.checked_add_days(Days::new(7)),
            Grain::Month => s.checked_add_months(Months::new(1)),
        };
        next.unwrap_or(NaiveDate::MAX)
    }

    /// The period's name: `2026-03-05`, `2026-W10` (ISO week) or `2026-03`.
    pub fn label(self, d: NaiveDate) -> String {
        match self {
            Grain::Day => d.format("%Y-%m-%d").to_string(),
            Grain::Week => d.format("%G-W%V").to_string(),
            Grain::Month => d.format("%Y-%m").to_string(),
        }
    }
}

/// `part / whole` rounded to 6 decimals (0 when `whole` is 0).
pub fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 1e6).round() / 1e6
}

/// `total / n` rounded half away from zero; `None` when `n` is 0.
pub fn per(total: i64, n: u64) -> Option<i64> {
    let n = i64::try_from(n).ok().filter(|n| *n > 0)?;
    let q = total / n;
    let r = total % n;
    Some(if 2 * r.abs() >= n {
        q + total.signum()
    } else {
        q
    })
}

/// Orders of one member and local day, as the daily aggregates keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayTotals {
    /// Orders that count ([`memberops_core::order::counts_as_order`]).
    pub orders: u32,
    pub paid_minor: i64,
    pub refunded_minor: i64,
}

/// Paid orders `(member, paid_at, amount_minor, refunded_minor)` summed by member and
/// local day in `tz`.
pub fn orders_by_day<K: Eq + Hash>(
    orders: impl IntoIterator<Item = (K, Millis, i64, i64)>,
    tz: Tz,
) -> HashMap<(K, NaiveDate), DayTotals> {
    let mut out: HashMap<(K, NaiveDate), DayTotals> = HashMap::new();
    for (k, at, amount, refunded) in orders {
        let t = out.entry((k, local_day(at, tz))).or_default();
        t.orders += u32::from(counts_as_order(amount, refunded));
        t.paid_minor = t.paid_minor.saturating_add(amount);
        t.refunded_minor = t.refunded_minor.saturating_add(refunded);
    }
    out
}

/// Events `(member, occurred_at)` counted by member and local day in `tz`.
pub fn events_by_day<K: Eq + Hash>(
    events: impl IntoIterator<Item = (K, Millis)>,
    tz: Tz,
) -> HashMap<(K, NaiveDate), i64> {
    let mut out: HashMap<(K, NaiveDate), i64> = HashMap::new();
    for (k, at) in events {
        *out.entry((k, local_day(at, tz))).or_default() += 1;
    }
    out
}

/// Whether `d` lies in `[from, to]`.
pub(crate) fn within(d: NaiveDate, from: NaiveDate, to: NaiveDate) -> bool {
    from <= d && d <= to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn periods_are_calendar_days_iso_weeks_and_months() {
        assert_eq!(
            Grain::Week.start(d("2026-03-08")),
            d("2026-03-02"),
            "Sunday → Monday before"
        );
        assert_eq!(Grain::Week.start(d("2026-03-09")), d("2026-03-09"));
        assert_eq!(
            Grain::Week.index(d("2026-03-09")) - Grain::Week.index(d("2026-03-08")),
            1
        );
        assert_eq!(
            Grain::Week.index(d("2026-03-02")),
            Grain::Week.index(d("2026-03-08"))
        );
        assert_eq!(Grain::Week.label(d("2026-01-01")), "2026-W01");
        assert_eq!(Grain::Week.label(d("2027-01-01")), "2026-W53");
        assert_eq!(
            Grain::Month.index(d("2027-01-31")) - Grain::Month.index(d("2026-12-01")),
            1
        );
        assert_eq!(Grain::Month.next(d("2026-12-15")), d("2027-01-01"));
        assert_eq!(Grain::Month.label(d("2026-12-15")), "2026-12");
        assert_eq!(Grain::Day.next(d("2026-02-28")), d("2026-03-01"));
        assert!(Grain::parse("quarter", "period").is_err());
    }

    #[test]
    fn local_days_follow_the_zone() {
        // 2026-01-31T16:30Z is 1 February 00:30 in Shanghai.
        let ms = 1_769_877_000_000;
        assert_eq!(local_day(ms, chrono_tz::UTC), d("2026-01-31"));
        assert_eq!(local_day(ms, chrono_tz::Asia::Shanghai), d("2026-02-01"));
    }

    #[test]
    fn orders_and_events_sum_by_local_day() {
        let tz = chrono_tz::Asia::Shanghai;
        // 15:59Z and 16:00Z on 31 January: 23:59 and 00:00 in Shanghai.
        let before = 1_769_875_140_000;
        let after = before + 60_000;
        let days = orders_by_day(
            [
                ("a", before, 1000, 0),
                ("a", after, 500, 500),
                ("a", after, 0, 0),
                ("b", after, 300, 100),
            ],
            tz,
        );
        assert_eq!(
            days[&("a", d("2026-01-31"))],
            DayTotals {
                orders: 1,
                paid_minor: 1000,
                refunded_minor: 0
            }
        );
        assert_eq!(
            days[&("a", d("2026-02-01"))],
            DayTotals {
                orders: 1,
                paid_minor: 500,
                refunded_minor: 500
            },
            "the fully refunded order is not an order; the free one is"
        );
        assert_eq!(days[&("b", d("2026-02-01"))].orders, 1);
        let events = events_by_day([("a", before), ("a", after), ("a", after)], tz);
        assert_eq!(
            (
                events[&("a", d("2026-01-31"))],
                events[&("a", d("2026-02-01"))]
            ),
            (1, 2)
        );
    }

    #[test]
    fn rates_and_averages_round() {
        assert_eq!(rate(1, 3), 0.333333);
        assert_eq!(rate(2, 3), 0.666667);
        assert_eq!(rate(0, 0), 0.0);
        assert_eq!(per(10, 4), Some(3), "2.5 rounds up");
        assert_eq!(per(-10, 4), Some(-3));
        assert_eq!(per(10, 3), Some(3));
        assert_eq!(per(5, 0), None);
    }
}
