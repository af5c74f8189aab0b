//! The reports as use cases: parse the parameters, read the rows, compute.

use chrono::{Days, NaiveDate};
use memberops_analytics::reports::channels::{self, ChannelQuery, ChannelRow};
use memberops_analytics::reports::cohorts::{self, CohortBy, CohortQuery, CohortRow, Measure};
use memberops_analytics::reports::decomposition::{self, DecompositionRow};
use memberops_analytics::reports::overview::{self, Overview, OverviewQuery};
use memberops_analytics::reports::repurchase::{self, Repurchase};
use memberops_analytics::reports::{Grain, local_day};
use memberops_core::time::now_millis;
use memberops_store::Store;

use super::Needs;
use crate::error::Result;
use crate::segments::parse_date;
use crate::workspace::Workspace;

/// Members with their channels, order days with amounts and active days.
fn all_of(orders: (NaiveDate, NaiveDate), active: (NaiveDate, NaiveDate)) -> Needs {
    Needs {
        orders: Some(orders),
        counting_only: false,
        active: Some(active),
        members: true,
        channels: true,
    }
}

/// Today in the workspace's zone.
pub fn today(ws: &Workspace) -> NaiveDate {
    local_day(now_millis(), ws.time_zone)
}

/// A date parameter, or `default` when absent.
pub fn date_or(text: Option<&str>, field: &str, default: NaiveDate) -> Result<NaiveDate> {
    text.map_or(Ok(default), |t| parse_date(t, field))
}

/// The cohort parameters as sent (`None`: the default).
#[derive(Debug, Clone, Default)]
pub struct CohortParams {
    /// `first_order` (default) or `registration`.
    pub by: Option<String>,
    /// `month` (default) or `week`.
    pub period: Option<String>,
    /// `ordered` (default) or `active`.
    pub measure: Option<String>,
    /// YYYY-MM-DD; default today in the workspace's zone.
    pub as_of: Option<String>,
}

impl CohortParams {
    pub fn parse(&self, ws: &Workspace) -> Result<CohortQuery> {
        let period = match self.period.as_deref() {
            None => Grain::Month,
            Some(p @ ("week" | "month")) => Grain::parse(p, "period")?,
            Some(_) => {
                return Err(memberops_core::Invalid::one(
                    &["period"],
                    "invalid_value",
                    "expected week or month",
                )
                .into());
            }
        };
        Ok(CohortQuery {
            by: self
                .by
                .as_deref()
                .map_or(Ok(CohortBy::FirstOrder), |b| CohortBy::parse(b, "by"))?,
            period,
            measure: self
                .measure
                .as_deref()
                .map_or(Ok(Measure::Ordered), |m| Measure::parse(m, "measure"))?,
            as_of: date_or(self.as_of.as_deref(), "as_of", today(ws))?,
        })
    }
}

/// The cohort retention matrix (docs/analytics.md, "Cohorts").
pub async fn cohorts(store: &dyn Store, ws: &Workspace, q: &CohortQuery) -> Result<Vec<CohortRow>> {
    let all = (NaiveDate::MIN, q.as_of);
    let needs = Needs {
        orders: (q.by == CohortBy::FirstOrder || q.measure == Measure::Ordered).then_some(all),
        counting_only: true,
        active: (q.measure == Measure::Active).then_some(all),
        members: q.by == CohortBy::Registration,
        channels: false,
    };
    let book = super::load(store, ws, needs).await?;
    Ok(cohorts::cohorts_of(q, &book))
}

/// The overview parameters as sent.
#[derive(Debug, Clone, Default)]
pub struct OverviewParams {
    /// YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// `day` (default), `week` or `month`.
    pub interval: Option<String>,
}

/// The overview (docs/analytics.md, "Overview"); churn follows the lifecycle rule in force.
pub async fn overview(store: &dyn Store, ws: &Workspace, p: &OverviewParams) -> Result<Overview> {
    let to = date_or(p.to.as_deref(), "to", today(ws))?;
    let from = date_or(p.from.as_deref(), "from", to - Days::new(29))?;
    let interval = p
        .interval
        .as_deref()
        .map_or(Ok(Grain::Day), |i| Grain::parse(i, "interval"))?;
    let rules = crate::segments::settings::in_force(store, ws).await?;
    let churn = u32::try_from(rules.lifecycle.churned_after_days).unwrap_or(u32::MAX);
    let q = OverviewQuery::new(from, to, interval, churn)?;
    let days = (q.first_day_needed(), to);
    let needs = Needs {
        orders: Some(days),
        counting_only: false,
        active: Some(days),
        members: true,
        channels: false,
    };
    let book = super::load(store, ws, needs).await?;
    Ok(overview::overview_of(&q, &book))
}

/// The channel report's parameters as sent.
#[derive(Debug, Clone, Default)]
pub struct ChannelParams {
    /// First join day, YYYY-MM-DD; default 29 days before `to`.
    pub from: Option<String>,
    /// Last join day, YYYY-MM-DD; default today in the workspace's zone.
    pub to: Option<String>,
    /// YYYY-MM-DD; default today in the workspace's zone (at least `to`).
    pub as_of: Option<String>,
}

/// Acquisition channels (docs/analytics.md, "Channels").
pub async fn channels(
    store: &dyn Store,
    ws: &Workspace,
    p: &ChannelParams,
) -> Result<Vec<ChannelRow>> {
    let to = date_or(p.to.as_deref(), "to", today(ws))?;
    let from = date_or(p.from.as_deref(), "from", to - Days::new(29))?;
    let as_of = date_or(p.as_of.as_deref(), "as_of", today(ws).max(to))?;
    if to < from {
        return Err(memberops_core::Invalid::one(
            &["to"],
            "invalid_range",
            "`to` is before `from`",
        )
        .into());
    }
    if as_of < to {
        return Err(memberops_core::Invalid::one(
            &["as_of"],
            "invalid_range",
            "`as_of` is before `to`",
        )
        .into());
    }
    let q = ChannelQuery { from, to, as_of };
    // Orders from the beginning (a first order); activity from the first join day on.
    let (members, orders, active) =
        super::load(store, ws, all_of((NaiveDate::MIN, as_of), (from, as_of)))
            .await?
            .rows();
    Ok(channels::channels(&q, &members, &orders, &active))
}

/// Repurchase as of a date (docs/analytics.md, "Repurchase"); default today.
pub async fn repurchase(
    store: &dyn Store,
    ws: &Workspace,
    as_of: Option<&str>,
) -> Result<Repurchase> {
    let as_of = date_or(as_of, "as_of", today(ws))?;
    let needs = Needs {
        orders: Some((NaiveDate::MIN, as_of)),
        counting_only: false,
        active: None,
        members: false,
        channels: false,
    };
    let (_, orders, _) = super::load(store, ws, needs).await?.rows();
    Ok(repurchase::repurchase(&orders, as_of))
}

/// Sales decomposition of `[from, to]` against the previous period of as many days
/// (docs/analytics.md, "Sales decomposition"); default the 30 days ending today.
pub async fn decomposition(
    store: &dyn Store,
    ws: &Workspace,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<DecompositionRow>> {
    let to = date_or(to, "to", today(ws))?;
    let from = date_or(from, "from", to - Days::new(29))?;
    // The overview's range rules (order, length) and previous period.
    let q = OverviewQuery::new(from, to, Grain::Month, 1)?;
    let previous = q.previous();
    let (members, orders, active) =
        super::load(store, ws, all_of((previous.0, to), (previous.0, to)))
            .await?
            .rows();
    Ok(decomposition::decomposition(
        previous,
        (from, to),
        &members,
        &orders,
        &active,
    ))
}
