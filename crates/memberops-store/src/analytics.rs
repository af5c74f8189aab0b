//! The analytics aggregates (`analytics_active_days`, `analytics_order_days`) and the rows
//! the reports read. What counts as an order and as activity is the domain's rule
//! ([`crate::backend::COUNTS_AS_ORDER_SQL`], [`crate::backend::activity_only`]); which
//! local day an instant falls on is decided by the caller (the workspace's zone).

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

/// A member as the reports see them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AnalyticsMember {
    pub id: String,
    /// Registration instant, else when the member was created.
    pub joined_at: Millis,
    pub channel: Option<String>,
}

/// A member's events of one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveDay {
    pub member_id: String,
    /// YYYY-MM-DD.
    pub day: String,
    pub events: i64,
}

/// A member's orders paid on one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderDayRow {
    pub member_id: String,
    /// YYYY-MM-DD.
    pub day: String,
    /// Orders that count (not fully refunded).
    pub orders: i64,
    pub paid_minor: i64,
    pub refunded_minor: i64,
}

/// A paid order, as the aggregates are computed from it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderFact {
    pub member_id: String,
    pub paid_at: Millis,
    pub amount_minor: i64,
    pub refunded_minor: i64,
}

/// An event of a member's own (no system event).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActivityFact {
    pub member_id: String,
    pub occurred_at: Millis,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Every member of the workspace.
    async fn analytics_members(&self, ws: &str) -> Result<Vec<AnalyticsMember>>;
    /// Active days in `[from, to]` (YYYY-MM-DD, inclusive).
    async fn analytics_active_days(&self, ws: &str, from: &str, to: &str)
    -> Result<Vec<ActiveDay>>;
    /// Order days in `[from, to]` (YYYY-MM-DD, inclusive).
    async fn analytics_order_days(
        &self,
        ws: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<OrderDayRow>>;
}

#[async_trait]
pub trait AnalyticsTx: Send {
    /// Adds events to members' active days (creating the days).
    async fn add_active_days(&mut self, rows: &[ActiveDay]) -> Result<()>;
    /// Every paid order of these members.
    async fn orders_of(&mut self, member_ids: &[&str]) -> Result<Vec<OrderFact>>;
    /// Replaces these members' order days by `rows`.
    async fn replace_order_days(&mut self, member_ids: &[&str], rows: &[OrderDayRow])
    -> Result<()>;
    /// Deletes the workspace's aggregates and the cursor of consumer `consumer`.
    async fn clear_analytics(&mut self, consumer: &str) -> Result<()>;
    /// Every event of the members' own (no system event) up to `seq`.
    async fn activity_up_to(&mut self, seq: i64) -> Result<Vec<ActivityFact>>;
    /// Every paid order of the workspace.
    async fn all_orders(&mut self) -> Result<Vec<OrderFact>>;
}

macro_rules! impl_analytics {
    ($Store:ty, $Tx:ty, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::QueryBuilder;

            use $crate::analytics::*;
            use $crate::error::Result;

            const ORDER_FACTS: &str =
                "SELECT member_id, paid_at, amount_minor, refunded_minor FROM orders WHERE workspace_id = ";

            #[async_trait]
            impl AnalyticsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn analytics_members(&self, ws: &str) -> Result<Vec<AnalyticsMember>> {
                    Ok(sqlx::query_as::<_, AnalyticsMember>(
                        "SELECT id, COALESCE(registered_at, created_at) AS joined_at, channel \
                         FROM members WHERE workspace_id = $1",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn analytics_active_days(&self, ws: &str, from: &str, to: &str) -> Result<Vec<ActiveDay>> {
                    Ok(sqlx::query_as::<_, ActiveDay>(
                        "SELECT member_id, day, events FROM analytics_active_days \
                         WHERE workspace_id = $1 AND day >= $2 AND day <= $3",
                    )
                    .bind(ws)
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn analytics_order_days(&self, ws: &str, from: &str, to: &str) -> Result<Vec<OrderDayRow>> {
                    Ok(sqlx::query_as::<_, OrderDayRow>(
                        "SELECT member_id, day, orders, paid_minor, refunded_minor FROM analytics_order_days \
                         WHERE workspace_id = $1 AND day >= $2 AND day <= $3",
                    )
                    .bind(ws)
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.reader())
                    .await?)
                }
            }

            #[async_trait]
            impl AnalyticsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn add_active_days(&mut self, rows: &[ActiveDay]) -> Result<()> {
                    for chunk in rows.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO analytics_active_days (member_id, day, workspace_id, events) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.member_id.clone())
                                .push_bind(r.day.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(r.events);
                        });
                        q.push(
                            " ON CONFLICT (member_id, day) DO UPDATE \
                             SET events = analytics_active_days.events + excluded.events",
                        );
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn orders_of(&mut self, member_ids: &[&str]) -> Result<Vec<OrderFact>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks($crate::CHUNK) {
                        // Member ids are unique across workspaces: no workspace term (see
                        // `REFRESH_ORDER_STATS_TAIL`), so the member index is used.
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, paid_at, amount_minor, refunded_minor FROM orders WHERE member_id IN (",
                        );
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind(id.to_string());
                        }
                        q.push(")");
                        out.extend(q.build_query_as::<OrderFact>().fetch_all(&mut *self.tx).await?);
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn replace_order_days(&mut self, member_ids: &[&str], rows: &[OrderDayRow]) -> Result<()> {
                    for chunk in member_ids.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("DELETE FROM analytics_order_days WHERE member_id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind(id.to_string());
                        }
                        q.push(")");
                        q.build().execute(&mut *self.tx).await?;
                    }
                    for chunk in rows.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO analytics_order_days \
                             (member_id, day, workspace_id, orders, paid_minor, refunded_minor) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.member_id.clone())
                                .push_bind(r.day.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(r.orders)
                                .push_bind(r.paid_minor)
                                .push_bind(r.refunded_minor);
                        });
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn clear_analytics(&mut self, consumer: &str) -> Result<()> {
                    for table in ["analytics_active_days", "analytics_order_days"] {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE workspace_id = $1")))
                            .bind(&self.ws)
                            .execute(&mut *self.tx)
                            .await?;
                    }
                    sqlx::query("DELETE FROM consumers WHERE workspace_id = $1 AND name = $2")
                        .bind(&self.ws)
                        .bind(consumer)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn activity_up_to(&mut self, seq: i64) -> Result<Vec<ActivityFact>> {
                    let sql = format!(
                        "SELECT member_id, occurred_at FROM events WHERE workspace_id = $1 AND seq <= $2 AND {}",
                        $crate::backend::activity_only("type")
                    );
                    Ok(sqlx::query_as::<_, ActivityFact>(sqlx::AssertSqlSafe(sql))
                        .bind(&self.ws)
                        .bind(seq)
                        .fetch_all(&mut *self.tx)
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn all_orders(&mut self) -> Result<Vec<OrderFact>> {
                    let mut q = QueryBuilder::<$Db>::new(ORDER_FACTS);
                    q.push_bind(self.ws.clone());
                    Ok(q.build_query_as::<OrderFact>().fetch_all(&mut *self.tx).await?)
                }
            }
        };
    };
}
pub(crate) use impl_analytics;
