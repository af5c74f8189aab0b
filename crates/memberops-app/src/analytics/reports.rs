//! The reports as use cases: parse the parameters, read the rows, compute.

use chrono::{Days, NaiveDate};
use memberops_analytics::reports::cohorts::{self, CohortBy, CohortQuery, CohortRow, Measure};
use memberops_analytics::reports::overview::{self, Overview, OverviewQuery};
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
    let rows = super::load(store, ws, NaiveDate::MIN, q.as_of, with_active).await?;
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
    let rows = super::load(store, ws, q.first_day_needed(), to, true).await?;
    Ok(overview::overview(
        &q,
        &rows.members,
        &rows.orders,
        &rows.active,
    ))
}
