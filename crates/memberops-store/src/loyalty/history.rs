//! The member's past that a loyalty decision reads beyond its batch: the stored check-in days
//! a make-up (补签) mends and the monthly count it is limited by, and the times of the orders
//! a repeat-purchase rule counts.

use async_trait::async_trait;

use memberops_core::time::Millis;

use super::CheckinRow;
use crate::error::Result;

/// Inside the workspace's write transaction, so that the count, the new day and the mended
/// streaks commit together with the points the make-up costs.
#[async_trait]
pub trait LoyaltyHistoryTx: Send {
    /// The member's check-ins on `from` (YYYY-MM-DD) and after, oldest first.
    async fn checkins_from(&mut self, member_id: &str, from: &str) -> Result<Vec<CheckinRow>>;
    /// Make-ups the member did in the local month `month` (YYYY-MM).
    async fn makeups_in_month(&mut self, member_id: &str, month: &str) -> Result<i64>;
    /// Stores a made-up day.
    async fn insert_makeup(&mut self, row: &CheckinRow, month: &str) -> Result<()>;
    /// Rewrites the streak of stored days: `(local_date, streak)`.
    async fn set_checkin_streaks(&mut self, member_id: &str, rows: &[(String, i64)]) -> Result<()>;
    /// `(member_id, paid_at)` of these members' orders that count as orders (a fully
    /// refunded one does not), paid at or after `since`.
    async fn order_times(
        &mut self,
        member_ids: &[&str],
        since: Millis,
    ) -> Result<Vec<(String, Millis)>>;
}

macro_rules! impl_loyalty_history {
    ($Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;

            use crate::error::Result;
            use crate::loyalty::CheckinRow;
            use crate::loyalty::history::LoyaltyHistoryTx;
            use memberops_core::time::Millis;
            use sqlx::QueryBuilder;

            #[async_trait]
            impl LoyaltyHistoryTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn checkins_from(
                    &mut self,
                    member_id: &str,
                    from: &str,
                ) -> Result<Vec<CheckinRow>> {
                    Ok(sqlx::query_as(
                        "SELECT member_id, local_date, at, event_id, streak FROM checkins \
                         WHERE workspace_id = $1 AND member_id = $2 AND local_date >= $3 \
                         ORDER BY local_date",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .bind(from)
                    .fetch_all(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn makeups_in_month(&mut self, member_id: &str, month: &str) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT COUNT(*) FROM checkins \
                         WHERE workspace_id = $1 AND member_id = $2 AND makeup_month = $3",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .bind(month)
                    .fetch_one(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_makeup(&mut self, row: &CheckinRow, month: &str) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO checkins \
                         (member_id, local_date, workspace_id, at, event_id, streak, makeup_month) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&row.member_id)
                    .bind(&row.local_date)
                    .bind(&self.ws)
                    .bind(row.at)
                    .bind(&row.event_id)
                    .bind(row.streak)
                    .bind(month)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_checkin_streaks(
                    &mut self,
                    member_id: &str,
                    rows: &[(String, i64)],
                ) -> Result<()> {
                    for (day, streak) in rows {
                        sqlx::query(
                            "UPDATE checkins SET streak = $1 \
                             WHERE workspace_id = $2 AND member_id = $3 AND local_date = $4",
                        )
                        .bind(streak)
                        .bind(&self.ws)
                        .bind(member_id)
                        .bind(day)
                        .execute(&mut *self.tx)
                        .await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn order_times(
                    &mut self,
                    member_ids: &[&str],
                    since: Millis,
                ) -> Result<Vec<(String, Millis)>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, paid_at FROM orders WHERE workspace_id = ",
                        );
                        q.push_bind(self.ws.clone());
                        q.push(" AND paid_at >= ").push_bind(since);
                        q.push(" AND ").push(crate::backend::COUNTS_AS_ORDER_SQL);
                        q.push(" AND member_id IN (");
                        let mut ids = q.separated(", ");
                        for id in chunk {
                            ids.push_bind(id.to_string());
                        }
                        q.push(")");
                        out.extend(
                            q.build_query_as::<(String, Millis)>()
                                .fetch_all(&mut *self.tx)
                                .await?,
                        );
                    }
                    Ok(out)
                }
            }
        };
    };
}
pub(crate) use impl_loyalty_history;
