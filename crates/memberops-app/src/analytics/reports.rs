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

use crate::error::Result;
use crate::segments::parse_date;
use crate::workspace::Workspace;

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
    let with_active = q.measure == Measure::Active;
    let rows = super::load(
        store,
        ws,
        (NaiveDate::MIN, q.as_of),
        with_active.then_some((NaiveDate::MIN, q.as_of)),
    )
    .await?;
    Ok(cohorts::cohorts(
        q,
        &rows.members,
        &rows.orders,
        &rows.active,
    ))
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
    let rows = super::load(
        store,
        ws,
        (q.first_day_needed(), to),
        Some((q.first_day_needed(), to)),
    )
    .await?;
    Ok(overview::overview(
        &q,
        &rows.members,
        &rows.orders,
        &rows.active,
    ))
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
    let rows = super::load(store, ws, (NaiveDate::MIN, as_of), Some((from, as_of))).await?;
    Ok(channels::channels(
        &q,
        &rows.members,
        &rows.orders,
        &rows.active,
    ))
}

/// Repurchase as of a date (docs/analytics.md, "Repurchase"); default today.
pub async fn repurchase(
    store: &dyn Store,
    ws: &Workspace,
    as_of: Option<&str>,
) -> Result<Repurchase> {
    let as_of = date_or(as_of, "as_of", today(ws))?;
    let rows = super::load(store, ws, (NaiveDate::MIN, as_of), None).await?;
    Ok(repurchase::repurchase(&rows.orders, as_of))
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
    let rows = super::load(store, ws, (previous.0, to), Some((previous.0, to))).await?;
    Ok(decomposition::decomposition(
        previous,
        (from, to),
        &rows.members,
        &rows.orders,
        &rows.active,
    ))
}
