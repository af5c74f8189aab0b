//! Analytics use cases: the reports of docs/analytics.md, read from the daily aggregates
//! the `analytics` consumer keeps ([`days`]), computed by `memberops-analytics`.
//!
//! Every report first brings the aggregates up to the log's head ([`days::catch_up`]), so
//! it counts every event committed before it was asked, whether or not a worker runs.

pub mod days;
pub mod reports;

use std::collections::HashMap;

use chrono::NaiveDate;
use memberops_analytics::reports::{DayRow, MemberIx, MemberRow, OrderDay, local_day};
use memberops_store::{Store, StoreError};

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub use days::{AnalyticsDays, catch_up, rebuild};
/// The report tables and their parameters (the domain crate).
pub use memberops_analytics::reports as tables;

/// The rows a report reads, members numbered.
#[derive(Debug, Default)]
pub struct Rows {
    /// Member ids by number.
    pub ids: Vec<String>,
    pub members: Vec<MemberRow>,
    pub orders: Vec<OrderDay>,
    pub active: Vec<DayRow>,
}

struct Numbering {
    ids: Vec<String>,
    by_id: HashMap<String, MemberIx>,
}

impl Numbering {
    fn of(&mut self, id: String) -> MemberIx {
        if let Some(n) = self.by_id.get(&id) {
            return *n;
        }
        let n = MemberIx::try_from(self.ids.len()).unwrap_or(MemberIx::MAX);
        self.ids.push(id.clone());
        self.by_id.insert(id, n);
        n
    }
}

fn day(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        AppError::Store(StoreError::Corrupt(format!(
            "analytics day `{text}` is not YYYY-MM-DD"
        )))
    })
}

pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Every member, the order days in `orders` and the active days in `active` (inclusive
/// ranges; no active days when `None`).
pub async fn load(
    store: &dyn Store,
    ws: &Workspace,
    orders: (NaiveDate, NaiveDate),
    active: Option<(NaiveDate, NaiveDate)>,
) -> Result<Rows> {
    catch_up(store, ws).await?;
    let (a, b) = (ymd(orders.0), ymd(orders.1));
    let members = store.analytics_members(&ws.id).await?;
    let mut n = Numbering {
        ids: Vec::with_capacity(members.len()),
        by_id: HashMap::with_capacity(members.len()),
    };
    let mut rows = Rows::default();
    for m in members {
        rows.members.push(MemberRow {
            member: n.of(m.id),
            joined: local_day(m.joined_at, ws.time_zone),
            channel: m.channel,
        });
    }
    for o in store.analytics_order_days(&ws.id, &a, &b).await? {
        rows.orders.push(OrderDay {
            day: day(&o.day)?,
            member: n.of(o.member_id),
            orders: u32::try_from(o.orders).unwrap_or(0),
            paid_minor: o.paid_minor,
            refunded_minor: o.refunded_minor,
        });
    }
    if let Some((from, to)) = active {
        for r in store
            .analytics_active_days(&ws.id, &ymd(from), &ymd(to))
            .await?
        {
            rows.active.push(DayRow {
                day: day(&r.day)?,
                member: n.of(r.member_id),
            });
        }
    }
    rows.ids = n.ids;
    Ok(rows)
}
