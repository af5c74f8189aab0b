//! Cohort retention matrix: members grouped by the period of their first order (or of
//! their registration), and for each later period the members of the cohort who ordered
//! (or were active) in it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use memberops_core::Invalid;
use serde::{Deserialize, Serialize};

use super::book::{Book, DayNum, date_of, day_number};
use super::{DayRow, Grain, MemberIx, MemberRow, OrderDay, rate};

/// What puts a member in a cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CohortBy {
    /// The local day of the member's first order (one that counts).
    FirstOrder,
    /// The member's join day.
    Registration,
}

impl CohortBy {
    pub fn parse(text: &str, field: &str) -> Result<CohortBy, Invalid> {
        match text {
            "first_order" => Ok(CohortBy::FirstOrder),
            "registration" => Ok(CohortBy::Registration),
            _ => Err(Invalid::one(
                &[field],
                "invalid_value",
                "expected first_order or registration",
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            CohortBy::FirstOrder => "first_order",
            CohortBy::Registration => "registration",
        }
    }
}

/// What keeps a member of a cohort retained in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// At least one order (that counts) in the period: "ordered again".
    Ordered,
    /// At least one event of the member's own (no system event) in the period: "active again".
    Active,
}

impl Measure {
    pub fn parse(text: &str, field: &str) -> Result<Measure, Invalid> {
        match text {
            "ordered" => Ok(Measure::Ordered),
            "active" => Ok(Measure::Active),
            _ => Err(Invalid::one(
                &[field],
                "invalid_value",
                "expected ordered or active",
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Measure::Ordered => "ordered",
            Measure::Active => "active",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CohortQuery {
    pub by: CohortBy,
    /// `Week` or `Month` (a `Day` grain works too).
    pub period: Grain,
    pub measure: Measure,
    /// Nothing after this day counts; the last period is the one holding it.
    pub as_of: NaiveDate,
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortRow {
    /// The cohort's period: `YYYY-MM` (month) or `YYYY-Www` (ISO week).
    pub cohort: String,
    /// Periods after the cohort's own (0 = the cohort's period).
    pub period: u32,
    pub cohort_size: u64,
    /// Members of the cohort retained in period `cohort + period`.
    pub retained: u64,
    /// `retained / cohort_size`, 6 decimals.
    pub rate: f64,
}

/// The CSV columns of [`CohortRow`], in order (a contract: see docs/analytics.md).
pub const COHORT_COLUMNS: [&str; 5] = ["cohort", "period", "cohort_size", "retained", "rate"];

impl CohortRow {
    pub fn csv_record(&self) -> [String; 5] {
        [
            self.cohort.clone(),
            self.period.to_string(),
            self.cohort_size.to_string(),
            self.retained.to_string(),
            self.rate.to_string(),
        ]
    }
}

/// The first day each member ordered (an order that counts), up to `as_of`.
pub fn first_order_days(orders: &[OrderDay], as_of: NaiveDate) -> HashMap<MemberIx, NaiveDate> {
    let mut first: HashMap<MemberIx, NaiveDate> = HashMap::new();
    for o in orders.iter().filter(|o| o.orders > 0 && o.day <= as_of) {
        first
            .entry(o.member)
            .and_modify(|d| *d = (*d).min(o.day))
            .or_insert(o.day);
    }
    first
}

/// The retention matrix, cohorts oldest first, each with periods 0 up to the period
/// holding `as_of`. Cohorts without members are left out.
pub fn cohorts(
    q: &CohortQuery,
    members: &[MemberRow],
    orders: &[OrderDay],
    active: &[DayRow],
) -> Vec<CohortRow> {
    cohorts_of(q, &Book::from_rows(members, orders, active))
}

/// The period index of each day number from `first` on, computed once per day.
struct PeriodOf {
    first: DayNum,
    index: Vec<i64>,
}

impl PeriodOf {
    fn new(g: Grain, first: DayNum, last: DayNum) -> Self {
        let index = (first..=last).map(|d| g.index(date_of(d))).collect();
        PeriodOf { first, index }
    }

    fn get(&self, day: DayNum) -> i64 {
        usize::try_from(day - self.first)
            .ok()
            .and_then(|i| self.index.get(i))
            .copied()
            .unwrap_or(i64::MIN)
    }
}

/// The retention matrix over a [`Book`]: `orders` lists need only hold days with an order
/// that counts when `q.measure` is `Ordered` and `q.by` is `FirstOrder`.
pub fn cohorts_of(q: &CohortQuery, book: &Book) -> Vec<CohortRow> {
    let g = q.period;
    let as_of = day_number(q.as_of);
    let ordered = |slot: usize| {
        let list = book.orders.of(slot);
        let end = list.partition_point(|o| o.day <= as_of);
        list[..end].iter().filter(|o| o.orders > 0).map(|o| o.day)
    };
    // Each member's cohort day.
    let mut start: Vec<(usize, DayNum)> = Vec::new();
    for slot in 0..book.slots() {
        let day = match q.by {
            CohortBy::FirstOrder => ordered(slot).next(),
            CohortBy::Registration => book.joined.get(slot).copied().flatten(),
        };
        if let Some(d) = day.filter(|d| *d <= as_of) {
            start.push((slot, d));
        }
    }
    let Some(first) = start.iter().map(|s| s.1).min() else {
        return Vec::new();
    };
    let periods = PeriodOf::new(g, first, as_of);
    let last = periods.get(as_of);
    // cohort index → (a day in it, size, retained per period)
    let mut cells: BTreeMap<i64, (DayNum, u64, Vec<u64>)> = BTreeMap::new();
    for (slot, day) in start {
        let c = periods.get(day);
        let span = usize::try_from(last - c + 1).unwrap_or(0);
        let cell = cells.entry(c).or_insert_with(|| (day, 0, vec![0; span]));
        cell.1 += 1;
        let mut mark = |p: i64, previous: &mut i64| {
            if p >= c
                && p != *previous
                && let Some(slot) = usize::try_from(p - c).ok().and_then(|k| cell.2.get_mut(k))
            {
                *slot += 1;
                *previous = p;
            }
        };
        // Days ascend, so a period's days come together: count each period once.
        let mut previous = i64::MIN;
        match q.measure {
            Measure::Ordered => {
                for d in ordered(slot) {
                    mark(periods.get(d), &mut previous);
                }
            }
            Measure::Active => {
                let list = book.active.of(slot);
                let end = list.partition_point(|d| *d <= as_of);
                for d in &list[..end] {
                    mark(periods.get(*d), &mut previous);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (day, size, retained) in cells.values() {
        let name = g.label(date_of(*day));
        for (k, r) in retained.iter().enumerate() {
            out.push(CohortRow {
                cohort: name.clone(),
                period: u32::try_from(k).unwrap_or(u32::MAX),
                cohort_size: *size,
                retained: *r,
                rate: rate(*r, *size),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn order(member: MemberIx, day: &str, orders: u32) -> OrderDay {
        OrderDay {
            member,
            day: d(day),
            orders,
            paid_minor: 1000 * i64::from(orders.max(1)),
            refunded_minor: if orders == 0 { 1000 } else { 0 },
        }
    }

    fn member(member: MemberIx, joined: &str) -> MemberRow {
        MemberRow {
            member,
            joined: d(joined),
            channel: None,
        }
    }

    fn q(by: CohortBy, period: Grain, measure: Measure, as_of: &str) -> CohortQuery {
        CohortQuery {
            by,
            period,
            measure,
            as_of: d(as_of),
        }
    }

    fn cells(rows: &[CohortRow]) -> Vec<(String, u32, u64, u64)> {
        rows.iter()
            .map(|r| (r.cohort.clone(), r.period, r.cohort_size, r.retained))
            .collect()
    }

    /// January: members 1, 2, 3 first order; 1 orders again in February and April, 2 in
    /// March, 3 never. February: member 4, again in March. Member 5's only order was fully
    /// refunded (not an order), member 6 orders after the as-of date.
    fn shop() -> Vec<OrderDay> {
        vec![
            order(1, "2026-01-03", 1),
            order(1, "2026-02-10", 2),
            order(1, "2026-04-30", 1),
            order(2, "2026-01-31", 1),
            order(2, "2026-03-01", 1),
            order(3, "2026-01-15", 1),
            order(4, "2026-02-01", 1),
            order(4, "2026-03-20", 1),
            order(5, "2026-01-20", 0),
            order(6, "2026-05-01", 1),
            order(1, "2026-05-02", 1),
        ]
    }

    #[test]
    fn first_order_month_cohorts_count_members_ordering_in_each_later_month() {
        let rows = cohorts(
            &q(
                CohortBy::FirstOrder,
                Grain::Month,
                Measure::Ordered,
                "2026-04-30",
            ),
            &[],
            &shop(),
            &[],
        );
        let s = |c: &str, k, n, r| (c.to_owned(), k, n, r);
        assert_eq!(
            cells(&rows),
            vec![
                s("2026-01", 0, 3, 3),
                s("2026-01", 1, 3, 1),
                s("2026-01", 2, 3, 1),
                s("2026-01", 3, 3, 1),
                s("2026-02", 0, 1, 1),
                s("2026-02", 1, 1, 1),
                s("2026-02", 2, 1, 0),
            ]
        );
        assert_eq!(rows[1].rate, 0.333333);
        assert_eq!(rows[0].rate, 1.0);
        assert_eq!(rows[1].csv_record().join(","), "2026-01,1,3,1,0.333333");
    }

    #[test]
    fn registration_cohorts_by_week_and_the_active_variant() {
        let members = [
            member(1, "2026-03-02"),
            member(2, "2026-03-08"),
            member(3, "2026-03-09"),
        ];
        let active = [
            DayRow {
                member: 1,
                day: d("2026-03-02"),
            },
            DayRow {
                member: 2,
                day: d("2026-03-08"),
            },
            DayRow {
                member: 1,
                day: d("2026-03-10"),
            },
            DayRow {
                member: 1,
                day: d("2026-03-11"),
            },
            DayRow {
                member: 3,
                day: d("2026-03-16"),
            },
        ];
        let rows = cohorts(
            &q(
                CohortBy::Registration,
                Grain::Week,
                Measure::Active,
                "2026-03-16",
            ),
            &members,
            &[],
            &active,
        );
        let s = |c: &str, k, n, r| (c.to_owned(), k, n, r);
        assert_eq!(
            cells(&rows),
            vec![
                s("2026-W10", 0, 2, 2),
                s("2026-W10", 1, 2, 1),
                s("2026-W10", 2, 2, 0),
                s("2026-W11", 0, 1, 0),
                s("2026-W11", 1, 1, 1),
            ]
        );
        // Ordered by registration: nobody ordered.
        let ordered = cohorts(
            &q(
                CohortBy::Registration,
                Grain::Month,
                Measure::Ordered,
                "2026-03-31",
            ),
            &members,
            &[],
            &active,
        );
        assert_eq!(cells(&ordered), vec![s("2026-03", 0, 3, 0)]);
    }
}
