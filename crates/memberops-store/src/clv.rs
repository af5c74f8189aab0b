//! Storage of predicted member value (migration `0045_predicted_value.sql`): the order days
//! the models are fitted on, the per-member predictions of the last fit (replaced whole by
//! each refresh) and the fitted parameters of each fit.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

/// One member's predictions as stored (money in minor units of the workspace currency).
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub member_id: String,
    /// The as-of date (YYYY-MM-DD) of the fit that made them.
    pub as_of: String,
    pub p_alive: f64,
    pub expected_orders_90d: f64,
    pub expected_aov_minor: i64,
    pub clv_12m_minor: i64,
    pub fitted_at: Millis,
}

/// The fitted parameters of one refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct ClvFitRow {
    pub as_of: String,
    /// Members with an order by as-of (those with a prediction), and those with a repeat
    /// order day (the Gamma-Gamma fit's base).
    pub members: i64,
    pub repeat_members: i64,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub p: f64,
    pub q: f64,
    pub v_minor: f64,
    pub fitted_at: Millis,
}

/// The predicted values segments read (beside the segment index source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictedFields {
    pub p_alive: f64,
    pub expected_orders_90d: f64,
    pub clv_12m_minor: i64,
}

// Stored values are finite (the fit refuses anything else), so equality is total.
impl Eq for PredictedFields {}

/// Visits one order day: member id, local date (YYYY-MM-DD), net value in minor units.
pub type OrderDayVisitor<'a> = dyn FnMut(&str, &str, i64) + Send + 'a;

#[async_trait]
pub trait ClvStore: Send + Sync {
    /// Every order day of the workspace up to `as_of` (a local date, inclusive), ordered by
    /// member id then day: the orders that count as orders (not fully refunded), grouped by
    /// member and local day, valued at paid minus refunded.
    async fn order_days(
        &self,
        workspace_id: &str,
        as_of: &str,
        visit: &mut OrderDayVisitor<'_>,
    ) -> Result<()>;
    async fn member_prediction(
        &self,
        workspace_id: &str,
        member_id: &str,
    ) -> Result<Option<PredictionRow>>;
    /// The fit of the stored predictions, if a refresh ever ran.
    async fn latest_clv_fit(&self, workspace_id: &str) -> Result<Option<ClvFitRow>>;
    /// Predicted fields of members with ids in `first..=last`.
    async fn predicted_between(
        &self,
        workspace_id: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, PredictedFields)>>;
}

#[async_trait]
pub trait ClvTx: Send {
    /// Replaces every prediction of the workspace with `rows` and records the fit (a fit for
    /// the same as-of date again replaces its row).
    async fn replace_predictions(&mut self, fit: &ClvFitRow, rows: &[PredictionRow]) -> Result<()>;
}

/// The order days of a workspace up to a date (`$1` workspace, `$2` as-of date).
pub(crate) fn order_days_sql() -> String {
    format!(
        "SELECT member_id, local_date, CAST(SUM(amount_minor - refunded_minor) AS BIGINT) FROM orders \
         WHERE workspace_id = $1 AND local_date <= $2 AND {} \
         GROUP BY member_id, local_date ORDER BY member_id, local_date",
        crate::backend::COUNTS_AS_ORDER_SQL
    )
}

pub(crate) const PREDICTION_COLUMNS: &str =
    "member_id, as_of, p_alive, expected_orders_90d, expected_aov_minor, clv_12m_minor, fitted_at";
pub(crate) const FIT_COLUMNS: &str =
    "as_of, members, repeat_members, r, alpha, a, b, p, q, v_minor, fitted_at";

macro_rules! impl_clv {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::clv::*;
            use crate::error::Result;
            use crate::CHUNK;

            type DbRow = <$Db as sqlx::Database>::Row;

            fn prediction_from(r: &DbRow) -> Result<PredictionRow> {
                Ok(PredictionRow {
                    member_id: r.try_get("member_id")?,
                    as_of: r.try_get("as_of")?,
                    p_alive: r.try_get("p_alive")?,
                    expected_orders_90d: r.try_get("expected_orders_90d")?,
                    expected_aov_minor: r.try_get("expected_aov_minor")?,
                    clv_12m_minor: r.try_get("clv_12m_minor")?,
                    fitted_at: r.try_get("fitted_at")?,
                })
            }

            fn fit_from(r: &DbRow) -> Result<ClvFitRow> {
                Ok(ClvFitRow {
                    as_of: r.try_get("as_of")?,
                    members: r.try_get("members")?,
                    repeat_members: r.try_get("repeat_members")?,
                    r: r.try_get("r")?,
                    alpha: r.try_get("alpha")?,
                    a: r.try_get("a")?,
                    b: r.try_get("b")?,
                    p: r.try_get("p")?,
                    q: r.try_get("q")?,
                    v_minor: r.try_get("v_minor")?,
                    fitted_at: r.try_get("fitted_at")?,
                })
            }

            #[async_trait]
            impl ClvStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn order_days(
                    &self,
                    workspace_id: &str,
                    as_of: &str,
                    visit: &mut OrderDayVisitor<'_>,
                ) -> Result<()> {
                    use futures_util::TryStreamExt;
                    let mut rows = sqlx::query(sqlx::AssertSqlSafe(order_days_sql()))
                        .bind(workspace_id)
                        .bind(as_of)
                        .fetch(self.reader());
                    while let Some(r) = rows.try_next().await? {
                        let member: &str = r.try_get(0)?;
                        let day: &str = r.try_get(1)?;
                        let value: i64 = r.try_get(2)?;
                        visit(member, day, value);
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_prediction(
                    &self,
                    workspace_id: &str,
                    member_id: &str,
                ) -> Result<Option<PredictionRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {PREDICTION_COLUMNS} FROM member_predictions WHERE workspace_id = $1 AND member_id = $2"
                    )))
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_optional(self.reader())
                    .await?;
                    r.map(|r| prediction_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn latest_clv_fit(&self, workspace_id: &str) -> Result<Option<ClvFitRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {FIT_COLUMNS} FROM clv_fits WHERE workspace_id = $1 \
                         ORDER BY fitted_at DESC, as_of DESC LIMIT 1"
                    )))
                    .bind(workspace_id)
                    .fetch_optional(self.reader())
                    .await?;
                    r.map(|r| fit_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn predicted_between(
                    &self,
                    workspace_id: &str,
                    first: &str,
                    last: &str,
                ) -> Result<Vec<(String, PredictedFields)>> {
                    let rows = sqlx::query(
                        "SELECT member_id, p_alive, expected_orders_90d, clv_12m_minor FROM member_predictions \
                         WHERE workspace_id = $1 AND member_id >= $2 AND member_id <= $3",
                    )
                    .bind(workspace_id)
                    .bind(first)
                    .bind(last)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok((
                                r.try_get(0)?,
                                PredictedFields {
                                    p_alive: r.try_get(1)?,
                                    expected_orders_90d: r.try_get(2)?,
                                    clv_12m_minor: r.try_get(3)?,
                                },
                            ))
                        })
                        .collect()
                }
            }

            #[async_trait]
            impl ClvTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn replace_predictions(
                    &mut self,
                    fit: &ClvFitRow,
                    rows: &[PredictionRow],
                ) -> Result<()> {
                    sqlx::query("DELETE FROM member_predictions WHERE workspace_id = $1")
                        .bind(&self.ws)
                        .execute(&mut *self.tx)
                        .await?;
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!(
                            "INSERT INTO member_predictions (workspace_id, {PREDICTION_COLUMNS}) "
                        ));
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.as_of.clone())
                                .push_bind(r.p_alive)
                                .push_bind(r.expected_orders_90d)
                                .push_bind(r.expected_aov_minor)
                                .push_bind(r.clv_12m_minor)
                                .push_bind(r.fitted_at);
                        });
                        q.build().execute(&mut *self.tx).await?;
                    }
                    sqlx::query("DELETE FROM clv_fits WHERE workspace_id = $1 AND as_of = $2")
                        .bind(&self.ws)
                        .bind(&fit.as_of)
                        .execute(&mut *self.tx)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO clv_fits (workspace_id, {FIT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    )))
                    .bind(&self.ws)
                    .bind(&fit.as_of)
                    .bind(fit.members)
                    .bind(fit.repeat_members)
                    .bind(fit.r)
                    .bind(fit.alpha)
                    .bind(fit.a)
                    .bind(fit.b)
                    .bind(fit.p)
                    .bind(fit.q)
                    .bind(fit.v_minor)
                    .bind(fit.fitted_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_clv;

/// Sets the predicted fields of a page of segment index sources (ordered by id).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn fill_predictions(
    store: &dyn ClvStore,
    ws: &str,
    out: &mut [crate::IndexSource],
) -> Result<()> {
    let (Some(first), Some(last)) = (out.first(), out.last()) else {
        return Ok(());
    };
    let found = store.predicted_between(ws, &first.id, &last.id).await?;
    if found.is_empty() {
        return Ok(());
    }
    let pos: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for (id, p) in found {
        if let Some(&i) = pos.get(&id) {
            out[i].predicted = Some(p);
        }
    }
    Ok(())
}
