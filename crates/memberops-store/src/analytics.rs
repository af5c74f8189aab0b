//! The analytics aggregates (`analytics_active_days`, `analytics_order_days`, keyed by the
//! integer member keys of `analytics_members`, days as numbers) and the rows the reports
//! read. What counts as an order and as activity is the domain's rule
//! ([`crate::backend::COUNTS_AS_ORDER_SQL`], [`crate::backend::activity_only`]); which
//! local day an instant falls on is decided by the caller (the workspace's zone).
//!
//! The reports read each member's days as one row (SQL aggregates them per member, in the
//! primary key's order), so a report over a million member-days reads a row per member.

use std::collections::HashMap;

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

/// A local date as days since 1970-01-01.
pub type DayNumber = i32;

/// A member as the reports see them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AnalyticsMember {
    /// `None`: the member has no key yet (no event of theirs reached the aggregates).
    pub member_key: Option<i64>,
    /// Registration instant, else when the member was created.
    pub joined_at: Millis,
    /// Only when asked for.
    pub channel: Option<String>,
}

/// One member's days, as `analytics_active_lists` and `analytics_order_lists` give them:
/// comma-separated, each a day number (active days) or `day:orders:paid:refunded` (order
/// days).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayList {
    pub member_key: i64,
    pub days: String,
}

/// A member's events of one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActiveDay {
    pub member_key: i64,
    pub day: DayNumber,
    pub events: i64,
}

/// A member's orders paid on one local day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderDayRow {
    pub member_key: i64,
    pub day: DayNumber,
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

/// An event a funnel reads.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FunnelEventRow {
    pub seq: i64,
    pub member_id: String,
    pub kind: String,
    pub occurred_at: Millis,
    /// The properties (JSON), only when asked for.
    pub properties: Option<String>,
}

/// A member's profile, tier and segments, as the portrait reads them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PortraitRow {
    pub id: String,
    pub gender: Option<String>,
    /// YYYY-MM-DD.
    pub birthday: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub tier: Option<String>,
    pub stage: Option<String>,
    pub rfm_class: Option<String>,
    pub value_class: Option<String>,
}

#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Every member's profile, tier, stage, RFM and value class.
    async fn portrait_rows(&self, ws: &str) -> Result<Vec<PortraitRow>>;
    /// Events of these types with `from <= occurred_at <= to` (properties only with
    /// `properties`).
    async fn funnel_events(
        &self,
        ws: &str,
        types: &[String],
        from: Millis,
        to: Millis,
        properties: bool,
    ) -> Result<Vec<FunnelEventRow>>;
    /// Every member's id and acquisition channel.
    async fn member_channels(&self, ws: &str) -> Result<Vec<(String, Option<String>)>>;
    /// Every member of the workspace with their key (the channel only with `channel`).
    async fn analytics_members(&self, ws: &str, channel: bool) -> Result<Vec<AnalyticsMember>>;
    /// Per member, the active days in `[from, to]`.
    async fn analytics_active_lists(
        &self,
        ws: &str,
        from: DayNumber,
        to: DayNumber,
    ) -> Result<Vec<DayList>>;
    /// Per member, the order days in `[from, to]`; with `counting`, only days with an
    /// order that counts.
    async fn analytics_order_lists(
        &self,
        ws: &str,
        from: DayNumber,
        to: DayNumber,
        counting: bool,
    ) -> Result<Vec<DayList>>;
}

#[async_trait]
pub trait AnalyticsTx: Send {
    /// The keys of these members, giving one to each member that has none.
    async fn member_keys(&mut self, member_ids: &[&str]) -> Result<HashMap<String, i64>>;
    /// Gives every member of the workspace a key; returns them all.
    async fn all_member_keys(&mut self) -> Result<HashMap<String, i64>>;
    /// Adds events to members' active days (creating the days).
    async fn add_active_days(&mut self, rows: &[ActiveDay]) -> Result<()>;
    /// Every paid order of these members.
    async fn orders_of(&mut self, member_ids: &[&str]) -> Result<Vec<OrderFact>>;
    /// Replaces these members' order days by `rows`.
    async fn replace_order_days(&mut self, member_keys: &[i64], rows: &[OrderDayRow])
    -> Result<()>;
    /// Deletes the workspace's aggregates (not its member keys) and the cursor of consumer
    /// `consumer`.
    async fn clear_analytics(&mut self, consumer: &str) -> Result<()>;
    /// Every event of the members' own (no system event) up to `seq`.
    async fn activity_up_to(&mut self, seq: i64) -> Result<Vec<ActivityFact>>;
    /// Every paid order of the workspace.
    async fn all_orders(&mut self) -> Result<Vec<OrderFact>>;
}

/// `impl_analytics!(Store, Tx, Db, "list(", ")")`: the last two wrap an expression into the
/// backend's comma-separated list aggregate, in day order.
macro_rules! impl_analytics {
    ($Store:ty, $Tx:ty, $Db:ty, $agg_open:literal, $agg_close:literal) => {
        const _: () = {
            use std::collections::HashMap;

            use async_trait::async_trait;
            use sqlx::QueryBuilder;

            use $crate::analytics::*;
            use $crate::error::Result;

            const ORDER_FACTS: &str =
                "SELECT member_id, paid_at, amount_minor, refunded_minor FROM orders WHERE workspace_id = ";

            fn list_sql(table: &str, item: &str, extra: &str) -> String {
                // `+day`: no index on the day, so the scan follows the primary key and the
                // grouping streams, member after member.
                format!(
                    "SELECT member_key, {}{item}{} AS days FROM {table} \
                     WHERE workspace_id = $1 AND +day >= $2 AND +day <= $3{extra} GROUP BY member_key",
                    $agg_open, $agg_close
                )
            }

            #[async_trait]
            impl AnalyticsStore for $Store {
                async fn portrait_rows(&self, ws: &str) -> Result<Vec<PortraitRow>> {
                    Ok(sqlx::query_as::<_, PortraitRow>(
                        "SELECT m.id, m.gender, m.birthday, m.region, m.channel, l.tier, s.stage, \
                         s.rfm_class, s.value_class FROM members m \
                         LEFT JOIN loyalty_members l ON l.member_id = m.id \
                         LEFT JOIN member_segments s ON s.member_id = m.id \
                         WHERE m.workspace_id = $1",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn funnel_events(
                    &self,
                    ws: &str,
                    types: &[String],
                    from: memberops_core::time::Millis,
                    to: memberops_core::time::Millis,
                    properties: bool,
                ) -> Result<Vec<FunnelEventRow>> {
                    let props = if properties { "properties" } else { "NULL" };
                    let mut q = QueryBuilder::<$Db>::new(format!(
                        "SELECT seq, member_id, type AS kind, occurred_at, {props} AS properties FROM events \
                         WHERE workspace_id = "
                    ));
                    q.push_bind(ws.to_owned());
                    q.push(" AND occurred_at >= ");
                    q.push_bind(from);
                    q.push(" AND occurred_at <= ");
                    q.push_bind(to);
                    q.push(" AND type IN (");
                    let mut sep = q.separated(", ");
                    for t in types {
                        sep.push_bind(t.clone());
                    }
                    q.push(")");
                    Ok(q.build_query_as::<FunnelEventRow>().fetch_all(self.reader()).await?)
                }

                async fn member_channels(&self, ws: &str) -> Result<Vec<(String, Option<String>)>> {
                    Ok(sqlx::query_as::<_, (String, Option<String>)>(
                        "SELECT id, channel FROM members WHERE workspace_id = $1",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn analytics_members(&self, ws: &str, channel: bool) -> Result<Vec<AnalyticsMember>> {
                    let channel = if channel { "m.channel" } else { "NULL" };
                    let sql = format!(
                        "SELECT k.member_key, COALESCE(m.registered_at, m.created_at) AS joined_at, \
                         {channel} AS channel FROM members m \
                         LEFT JOIN analytics_members k ON k.member_id = m.id WHERE m.workspace_id = $1"
                    );
                    Ok(sqlx::query_as::<_, AnalyticsMember>(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .fetch_all(self.reader())
                        .await?)
                }

                async fn analytics_active_lists(
                    &self,
                    ws: &str,
                    from: DayNumber,
                    to: DayNumber,
                ) -> Result<Vec<DayList>> {
                    let sql = list_sql("analytics_active_days", "CAST(day AS TEXT)", "");
                    Ok(sqlx::query_as::<_, DayList>(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .bind(from)
                        .bind(to)
                        .fetch_all(self.reader())
                        .await?)
                }

                async fn analytics_order_lists(
                    &self,
                    ws: &str,
                    from: DayNumber,
                    to: DayNumber,
                    counting: bool,
                ) -> Result<Vec<DayList>> {
                    let sql = if counting {
                        list_sql("analytics_order_days", "CAST(day AS TEXT)", " AND orders > 0")
                    } else {
                        list_sql(
                            "analytics_order_days",
                            "CAST(day AS TEXT) || ':' || CAST(orders AS TEXT) || ':' || \
                             CAST(paid_minor AS TEXT) || ':' || CAST(refunded_minor AS TEXT)",
                            "",
                        )
                    };
                    Ok(sqlx::query_as::<_, DayList>(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .bind(from)
                        .bind(to)
                        .fetch_all(self.reader())
                        .await?)
                }
            }

            #[async_trait]
            impl AnalyticsTx for $Tx {
                async fn member_keys(&mut self, member_ids: &[&str]) -> Result<HashMap<String, i64>> {
                    let mut out = HashMap::with_capacity(member_ids.len());
                    for chunk in member_ids.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO analytics_members (member_id, workspace_id) ",
                        );
                        q.push_values(chunk, |mut b, id| {
                            b.push_bind(id.to_string()).push_bind(self.ws.clone());
                        });
                        q.push(" ON CONFLICT (member_id) DO NOTHING");
                        q.build().execute(&mut *self.tx).await?;
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, member_key FROM analytics_members WHERE member_id IN (",
                        );
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind(id.to_string());
                        }
                        q.push(")");
                        out.extend(q.build_query_as::<(String, i64)>().fetch_all(&mut *self.tx).await?);
                    }
                    Ok(out)
                }

                async fn all_member_keys(&mut self) -> Result<HashMap<String, i64>> {
                    sqlx::query(
                        "INSERT INTO analytics_members (member_id, workspace_id) \
                         SELECT id, workspace_id FROM members WHERE workspace_id = $1 \
                         ORDER BY created_at, id ON CONFLICT (member_id) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(sqlx::query_as::<_, (String, i64)>(
                        "SELECT member_id, member_key FROM analytics_members WHERE workspace_id = $1",
                    )
                    .bind(&self.ws)
                    .fetch_all(&mut *self.tx)
                    .await?
                    .into_iter()
                    .collect())
                }

                async fn add_active_days(&mut self, rows: &[ActiveDay]) -> Result<()> {
                    for chunk in rows.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO analytics_active_days (member_key, day, workspace_id, events) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.member_key)
                                .push_bind(r.day)
                                .push_bind(self.ws.clone())
                                .push_bind(r.events);
                        });
                        q.push(
                            " ON CONFLICT (member_key, day) DO UPDATE \
                             SET events = analytics_active_days.events + excluded.events",
                        );
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

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

                async fn replace_order_days(&mut self, member_keys: &[i64], rows: &[OrderDayRow]) -> Result<()> {
                    for chunk in member_keys.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("DELETE FROM analytics_order_days WHERE member_key IN (");
                        let mut sep = q.separated(", ");
                        for key in chunk {
                            sep.push_bind(*key);
                        }
                        q.push(")");
                        q.build().execute(&mut *self.tx).await?;
                    }
                    for chunk in rows.chunks($crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO analytics_order_days \
                             (member_key, day, workspace_id, orders, paid_minor, refunded_minor) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.member_key)
                                .push_bind(r.day)
                                .push_bind(self.ws.clone())
                                .push_bind(r.orders)
                                .push_bind(r.paid_minor)
                                .push_bind(r.refunded_minor);
                        });
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

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
