//! The overview: members, activity, orders, revenue, repurchase and churn for a date range,
//! its previous period beside it, and a series by day, week or month.

use chrono::{Days, NaiveDate};
use memberops_core::Invalid;
use serde::Serialize;

use super::book::{Book, DayNum, day_number, days_within};
use super::{DayRow, Grain, MemberRow, OrderDay, per, rate};

/// Most periods a series may hold.
pub const MAX_BUCKETS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverviewQuery {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    pub interval: Grain,
    /// Days without activity after which a member is churned (the lifecycle rule's
    /// `churned_after_days`).
    pub churned_after_days: u32,
}

impl OverviewQuery {
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        interval: Grain,
        churned_after_days: u32,
    ) -> Result<Self, Invalid> {
        if to < from {
            return Err(Invalid::one(
                &["to"],
                "invalid_range",
                "`to` is before `from`",
            ));
        }
        let q = OverviewQuery {
            from,
            to,
            interval,
            churned_after_days: churned_after_days.max(1),
        };
        if q.buckets().len() > MAX_BUCKETS {
            return Err(Invalid::one(
                &["interval"],
                "range_too_long",
                format!("more than {MAX_BUCKETS} periods: choose a coarser interval"),
            ));
        }
        Ok(q)
    }

    /// Days in the range.
    pub fn days(&self) -> u64 {
        u64::try_from((self.to - self.from).num_days() + 1).unwrap_or(1)
    }

    /// The previous period: as many days, ending the day before `from`.
    pub fn previous(&self) -> (NaiveDate, NaiveDate) {
        let to = self.from - Days::new(1);
        (to - Days::new(self.days() - 1), to)
    }

    /// The first day whose rows the overview reads: activity before it cannot change any
    /// figure (trailing 30 days of the previous period, and the churn window before it).
    pub fn first_day_needed(&self) -> NaiveDate {
        let (pa, pb) = self.previous();
        let churn = pa - Days::new(u64::from(self.churned_after_days) + 1);
        churn.min(pb - Days::new(29))
    }

    /// The series' periods, clipped to the range.
    pub fn buckets(&self) -> Vec<(NaiveDate, NaiveDate)> {
        let mut out = Vec::new();
        let mut a = self.from;
        while a <= self.to && out.len() <= MAX_BUCKETS {
            let next = self.interval.next(a);
            let b = (next - Days::new(1)).min(self.to);
            out.push((a, b));
            a = next;
        }
        out
    }
}

/// The figures of one window of days.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Members joined on or before the last day.
    pub members_total: u64,
    /// Members joined in the window.
    pub new_members: u64,
    /// Members with at least one event of their own (no system event) in the window.
    pub active_members: u64,
    /// Members with at least one order (that counts) in the window.
    pub paying_members: u64,
    /// Orders that count, paid in the window.
    pub orders: u64,
    /// Paid minus refunded, over every order paid in the window.
    pub revenue_minor: i64,
    /// `revenue_minor / orders` (null without orders).
    pub aov_minor: Option<i64>,
    /// `revenue_minor / active_members` (null without active members).
    pub arpu_minor: Option<i64>,
    /// Share of paying members with at least two orders in the window.
    pub repurchase_rate: Option<f64>,
    /// Members whose inactivity reached `churned_after_days` on a day of the window.
    pub newly_churned: u64,
    /// `newly_churned / (members not churned the day before the window + new_members)`.
    pub churn_rate: Option<f64>,
}

/// Active members over trailing windows ending on the last day, and on average per day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activity {
    /// Mean over the window's days of the members active that day.
    pub dau: f64,
    /// Members active in the 7 days ending on the last day.
    pub wau: u64,
    /// Members active in the 30 days ending on the last day.
    pub mau: u64,
    /// The same three counting only members who ordered.
    pub dau_orders: f64,
    pub wau_orders: u64,
    pub mau_orders: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// YYYY-MM-DD.
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: Figures,
    #[serde(flatten)]
    pub activity: Activity,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// The period's name (`2026-03-05`, `2026-W10`, `2026-03`).
    pub period: String,
    /// Its days within the range, YYYY-MM-DD.
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub interval: Grain,
    pub current: Summary,
    pub previous: Summary,
    pub series: Vec<Bucket>,
}

/// The CSV columns of the overview: one row for the range (`current`), one for the
/// previous period, one per period of the series (activity columns empty there).
pub const OVERVIEW_COLUMNS: [&str; 21] = [
    "scope",
    "period",
    "from",
    "to",
    "members_total",
    "new_members",
    "active_members",
    "paying_members",
    "orders",
    "revenue_minor",
    "aov_minor",
    "arpu_minor",
    "repurchase_rate",
    "newly_churned",
    "churn_rate",
    "dau",
    "wau",
    "mau",
    "dau_orders",
    "wau_orders",
    "mau_orders",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl Figures {
    fn csv_fields(&self) -> [String; 11] {
        [
            self.members_total.to_string(),
            self.new_members.to_string(),
            self.active_members.to_string(),
            self.paying_members.to_string(),
            self.orders.to_string(),
            self.revenue_minor.to_string(),
            opt(self.aov_minor),
            opt(self.arpu_minor),
            opt(self.repurchase_rate),
            self.newly_churned.to_string(),
            opt(self.churn_rate),
        ]
    }
}

impl Overview {
    /// Rows in [`OVERVIEW_COLUMNS`] order.
    pub fn csv_records(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for (scope, s) in [("current", &self.current), ("previous", &self.previous)] {
            let a = &s.activity;
            let mut row = vec![
                scope.to_owned(),
                String::new(),
                s.from.clone(),
                s.to.clone(),
            ];
            row.extend(s.figures.csv_fields());
            row.extend([
                a.dau.to_string(),
                a.wau.to_string(),
                a.mau.to_string(),
                a.dau_orders.to_string(),
                a.wau_orders.to_string(),
                a.mau_orders.to_string(),
            ]);
            out.push(row);
        }
        for b in &self.series {
            let mut row = vec![
                "series".to_owned(),
                b.period.clone(),
                b.from.clone(),
                b.to.clone(),
            ];
            row.extend(b.figures.csv_fields());
            row.extend(std::iter::repeat_n(String::new(), 6));
            out.push(row);
        }
        out
    }
}

/// The book cut to the days the overview reads, ready for window queries.
struct Tables<'a> {
    book: &'a Book,
    /// Join days, sorted.
    joined: Vec<DayNum>,
    /// First day each member was seen in the days read.
    first_seen: Vec<DayNum>,
    /// Churn episodes: the day inactivity reached the limit, and the day the member came
    /// back (if they did). Sorted.
    churned: Vec<DayNum>,
    returned: Vec<DayNum>,
}

fn fmt(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// How many of the sorted `days` are on or before `d`.
fn upto(days: &[DayNum], d: DayNum) -> u64 {
    days.partition_point(|x| *x <= d) as u64
}

fn in_range(days: &[DayNum], a: DayNum, b: DayNum) -> u64 {
    upto(days, b).saturating_sub(days.partition_point(|x| *x < a) as u64)
}

/// Orders of a window: paying members, orders, members with two or more, revenue.
#[derive(Default)]
struct Buyers {
    paying: u64,
    orders: u64,
    repeat: u64,
    revenue: i64,
}

impl<'a> Tables<'a> {
    fn new(q: &OverviewQuery, book: &'a Book) -> Self {
        let start = day_number(q.first_day_needed());
        let to = day_number(q.to);
        let mut joined: Vec<DayNum> = book.joined.iter().flatten().copied().collect();
        joined.sort_unstable();
        let n = DayNum::try_from(q.churned_after_days).unwrap_or(DayNum::MAX);
        let (mut first_seen, mut churned, mut returned) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen: Vec<DayNum> = Vec::new();
        for slot in 0..book.slots() {
            seen.clear();
            seen.extend_from_slice(days_within(book.active.of(slot), |d| *d, start, to));
            if let Some(Some(j)) = book.joined.get(slot)
                && (start..=to).contains(j)
                && seen.binary_search(j).is_err()
            {
                seen.push(*j);
                seen.sort_unstable();
            }
            let Some(first) = seen.first() else { continue };
            first_seen.push(*first);
            for (i, s) in seen.iter().enumerate() {
                let churn_day = s.saturating_add(n);
                match seen.get(i + 1) {
                    Some(next) if *next <= churn_day => {}
                    Some(next) => {
                        churned.push(churn_day);
                        returned.push(*next);
                    }
                    None => churned.push(churn_day),
                }
            }
        }
        first_seen.sort_unstable();
        churned.sort_unstable();
        returned.sort_unstable();
        Tables {
            book,
            joined,
            first_seen,
            churned,
            returned,
        }
    }

    fn distinct_active(&self, a: DayNum, b: DayNum) -> u64 {
        let active = &self.book.active;
        (0..active.slots())
            .filter(|s| !days_within(active.of(*s), |d| *d, a, b).is_empty())
            .count() as u64
    }

    fn buyers(&self, a: DayNum, b: DayNum) -> Buyers {
        let mut out = Buyers::default();
        for (_, list) in self.book.orders.iter() {
            let mut n = 0u64;
            for o in days_within(list, |o| o.day, a, b) {
                n += u64::from(o.orders);
                out.revenue = out.revenue.saturating_add(o.net_minor());
            }
            out.orders += n;
            out.paying += u64::from(n > 0);
            out.repeat += u64::from(n >= 2);
        }
        out
    }

    /// Members seen (in the days read) and not churned on day `d`.
    fn not_churned(&self, d: DayNum) -> u64 {
        (upto(&self.first_seen, d) + upto(&self.returned, d)).saturating_sub(upto(&self.churned, d))
    }

    fn figures(&self, from: NaiveDate, to: NaiveDate) -> Figures {
        let (a, b) = (day_number(from), day_number(to));
        let active_members = self.distinct_active(a, b);
        let buyers = self.buyers(a, b);
        let new_members = in_range(&self.joined, a, b);
        let newly_churned = in_range(&self.churned, a, b);
        let at_risk = self.not_churned(a - 1) + new_members;
        Figures {
            members_total: upto(&self.joined, b),
            new_members,
            active_members,
            paying_members: buyers.paying,
            orders: buyers.orders,
            revenue_minor: buyers.revenue,
            aov_minor: per(buyers.revenue, buyers.orders),
            arpu_minor: per(buyers.revenue, active_members),
            repurchase_rate: (buyers.paying > 0).then(|| rate(buyers.repeat, buyers.paying)),
            newly_churned,
            churn_rate: (at_risk > 0).then(|| rate(newly_churned, at_risk)),
        }
    }

    fn activity(&self, from: NaiveDate, to: NaiveDate) -> Activity {
        let (a, b) = (day_number(from), day_number(to));
        let days = f64::from((b - a + 1).max(1));
        let mean = |total: usize| (total as f64 / days * 100.0).round() / 100.0;
        let daily: usize = self
            .book
            .active
            .iter()
            .map(|(_, l)| days_within(l, |d| *d, a, b).len())
            .sum();
        let daily_orders: usize = self
            .book
            .orders
            .iter()
            .map(|(_, l)| {
                days_within(l, |o| o.day, a, b)
                    .iter()
                    .filter(|o| o.orders > 0)
                    .count()
            })
            .sum();
        Activity {
            dau: mean(daily),
            wau: self.distinct_active(b - 6, b),
            mau: self.distinct_active(b - 29, b),
            dau_orders: mean(daily_orders),
            wau_orders: self.buyers(b - 6, b).paying,
            mau_orders: self.buyers(b - 29, b).paying,
        }
    }

    fn summary(&self, a: NaiveDate, b: NaiveDate) -> Summary {
        Summary {
            from: fmt(a),
            to: fmt(b),
            figures: self.figures(a, b),
            activity: self.activity(a, b),
        }
    }
}

/// The overview of `q`. `orders` hold one row per member and day (as the store keeps
/// them), `active` one row per member and active day.
pub fn overview(
    q: &OverviewQuery,
    members: &[MemberRow],
    orders: &[OrderDay],
    active: &[DayRow],
) -> Overview {
    overview_of(q, &Book::from_rows(members, orders, active))
}

/// The overview of `q` over a [`Book`] (its lists may hold more days than needed).
pub fn overview_of(q: &OverviewQuery, book: &Book) -> Overview {
    let t = Tables::new(q, book);
    let (pa, pb) = q.previous();
    let series = q
        .buckets()
        .into_iter()
        .map(|(a, b)| Bucket {
            period: q.interval.label(a),
            from: fmt(a),
            to: fmt(b),
            figures: t.figures(a, b),
        })
        .collect();
    Overview {
        interval: q.interval,
        current: t.summary(q.from, q.to),
        previous: t.summary(pa, pb),
        series,
    }
}

#[cfg(test)]
#[path = "overview_tests.rs"]
mod tests;
