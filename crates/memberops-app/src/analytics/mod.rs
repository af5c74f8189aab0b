//! Analytics use cases: the reports of docs/analytics.md, read from the daily aggregates
//! the `analytics` consumer keeps ([`days`]), computed by `memberops-analytics`.
//!
//! Every report first brings the aggregates up to the log's head ([`days::catch_up`]), so
//! it counts every event committed before it was asked, whether or not a worker runs.

pub mod days;
pub mod funnel;
pub mod portrait;
pub mod reports;

use chrono::NaiveDate;
use memberops_analytics::reports::book::{Book, DayNum, DayOrders, day_number};
use memberops_analytics::reports::local_day;
use memberops_store::{Store, StoreError};

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub use days::{AnalyticsDays, catch_up, rebuild};
/// The report tables and their parameters (the domain crate).
pub use memberops_analytics::reports as tables;

/// What a report reads, beside the members' join days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Order days in this range (inclusive); `None`: none.
    pub orders: Option<(NaiveDate, NaiveDate)>,
    /// Only days with an order that counts (their amounts are then not read).
    pub counting_only: bool,
    /// Active days in this range (inclusive); `None`: none.
    pub active: Option<(NaiveDate, NaiveDate)>,
    /// The members' join days (and channels with `channels`).
    pub members: bool,
    pub channels: bool,
}

fn corrupt(what: &str) -> AppError {
    AppError::Store(StoreError::Corrupt(format!("analytics list `{what}`")))
}

fn number<T: std::str::FromStr>(text: Option<&str>, list: &str) -> Result<T> {
    text.and_then(|t| t.parse().ok())
        .ok_or_else(|| corrupt(list))
}

/// A member's day list (`d,d,…`), ascending.
fn day_list(text: &str) -> Result<Vec<DayNum>> {
    let mut out = text
        .split(',')
        .map(|t| number(Some(t), text))
        .collect::<Result<Vec<DayNum>>>()?;
    if !out.is_sorted() {
        out.sort_unstable();
    }
    Ok(out)
}

/// A member's order list (`day:orders:paid:refunded,…`), ascending.
fn order_list(text: &str) -> Result<Vec<DayOrders>> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let mut f = item.split(':');
        out.push(DayOrders {
            day: number(f.next(), text)?,
            orders: number(f.next(), text)?,
            paid_minor: number(f.next(), text)?,
            refunded_minor: number(f.next(), text)?,
        });
    }
    if !out.is_sorted_by_key(|o| o.day) {
        out.sort_unstable_by_key(|o| o.day);
    }
    Ok(out)
}

/// Reads the aggregates a report needs, members numbered by their integer key (members
/// without a key, who have no rows, after the largest key).
pub async fn load(store: &dyn Store, ws: &Workspace, needs: Needs) -> Result<Book> {
    catch_up(store, ws).await?;
    let members = if needs.members {
        store.analytics_members(&ws.id, needs.channels).await?
    } else {
        Vec::new()
    };
    let slot = |key: i64| usize::try_from(key).map_err(|_| corrupt("member key"));
    let mut book = Book::default();
    let span = |r: (NaiveDate, NaiveDate)| (day_number(r.0), day_number(r.1));
    if let Some((a, b)) = needs.active.map(span) {
        for l in store.analytics_active_lists(&ws.id, a, b).await? {
            book.active.set(slot(l.member_key)?, day_list(&l.days)?);
        }
    }
    if let Some((a, b)) = needs.orders.map(span) {
        let lists = store
            .analytics_order_lists(&ws.id, a, b, needs.counting_only)
            .await?;
        for l in lists {
            let list = if needs.counting_only {
                day_list(&l.days)?
                    .into_iter()
                    .map(|day| DayOrders {
                        day,
                        orders: 1,
                        paid_minor: 0,
                        refunded_minor: 0,
                    })
                    .collect()
            } else {
                order_list(&l.days)?
            };
            book.orders.set(slot(l.member_key)?, list);
        }
    }
    let keyed = members
        .iter()
        .filter_map(|m| m.member_key)
        .max()
        .unwrap_or(0)
        .max(i64::try_from(book.active.slots().max(book.orders.slots())).unwrap_or(0));
    let mut spare = slot(keyed)? + 1;
    for m in members {
        let s = match m.member_key {
            Some(k) => slot(k)?,
            None => {
                let s = spare;
                spare += 1;
                s
            }
        };
        if s >= book.joined.len() {
            book.joined.resize(s + 1, None);
            book.channels.resize(s + 1, None);
        }
        book.joined[s] = Some(day_number(local_day(m.joined_at, ws.time_zone)));
        book.channels[s] = m.channel;
    }
    Ok(book)
}
