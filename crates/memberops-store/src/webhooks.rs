//! Outgoing webhooks: endpoints and the outbox of deliveries.
//!
//! The webhooks consumer writes one delivery per (endpoint, event) in its page's
//! transaction (`UNIQUE (endpoint_id, event_seq)`, so a repeated page adds nothing). A
//! delivery holds no body: the body is built from the event row, which never changes, each
//! time it is sent. The
//! dispatcher claims due deliveries with a lease (status `sending`, `due_at` = lease end;
//! PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several workers take different rows), sends
//! them, and settles each under its lease: a worker that lost its lease changes nothing.
//! A claim whose worker died is claimed again when its lease runs out, with the same
//! delivery id, which is the `webhook-id` receivers dedupe on.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

pub const DELIVERY_PENDING: &str = "pending";
pub const DELIVERY_SENDING: &str = "sending";
pub const DELIVERY_DELIVERED: &str = "delivered";
pub const DELIVERY_FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub workspace_id: String,
    pub url: String,
    pub description: String,
    /// JSON array of event types.
    pub event_types: String,
    pub secret: String,
    /// Events after this sequence number are delivered.
    pub since_seq: i64,
    pub disabled_at: Option<Millis>,
    pub disabled_reason: Option<String>,
    /// The first failure since the last success.
    pub failing_since: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    /// The `webhook-id`.
    pub id: String,
    pub workspace_id: String,
    pub endpoint_id: String,
    pub event_seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    /// Pending: when it may be sent; sending: when its lease ends.
    pub due_at: Millis,
    pub lease_id: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<Millis>,
    pub delivered_at: Option<Millis>,
    pub created_at: Millis,
}

/// A delivery claimed for sending, with where and how to sign it and the event it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: DeliveryRow,
    pub url: String,
    pub secret: String,
    /// None only if the event row is gone.
    pub event: Option<crate::LogEvent>,
}

/// How one attempt ended, written under the claim's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettle {
    pub id: String,
    pub lease_id: String,
    /// `delivered`, `pending` (to be retried at `due_at`) or `failed`.
    pub status: &'static str,
    pub due_at: Millis,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub attempted_at: Millis,
}

/// Endpoint health after a round of attempts.
#[derive(Debug, Clone, Default)]
pub struct EndpointHealth {
    /// Endpoints with at least one success: no longer failing.
    pub succeeded: Vec<String>,
    /// Endpoints whose attempts all failed.
    pub failed: Vec<String>,
    /// Failing since at least this long ago: disabled.
    pub disable_after_ms: i64,
}

#[async_trait]
pub trait WebhooksStore: Send + Sync {
    async fn insert_endpoint(&self, e: &EndpointRow) -> Result<()>;
    async fn endpoints(&self, ws: &str) -> Result<Vec<EndpointRow>>;
    async fn endpoint(&self, ws: &str, id: &str) -> Result<Option<EndpointRow>>;
    /// Rewrites url, description, types, secret and the disabled state; false if missing.
    async fn update_endpoint(&self, e: &EndpointRow) -> Result<bool>;
    /// An endpoint's deliveries, newest event first, before the event `before_seq`.
    async fn deliveries(
        &self,
        ws: &str,
        endpoint_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>>;
    async fn delivery(&self, ws: &str, id: &str) -> Result<Option<DeliveryRow>>;
    /// Sends a delivered or failed delivery again from a fresh schedule; false if it is
    /// missing or still on its way.
    async fn requeue_delivery(
        &self,
        ws: &str,
        endpoint_id: &str,
        id: &str,
        now: Millis,
    ) -> Result<bool>;
    /// Sends again every failed delivery of the endpoint created at or after `since`.
    async fn requeue_failed_since(
        &self,
        ws: &str,
        endpoint_id: &str,
        since: Millis,
        now: Millis,
    ) -> Result<u64>;
    /// Enabled endpoints of every workspace: the dispatcher claims endpoint by endpoint,
    /// so that one receiver's backlog never takes another's slots.
    async fn enabled_endpoint_ids(&self) -> Result<Vec<String>>;
    /// Claims up to `limit` due deliveries of one enabled endpoint under `lease_id` until
    /// `now + lease_ms`; each claim counts an attempt.
    async fn claim_deliveries(
        &self,
        lease_id: &str,
        now: Millis,
        lease_ms: i64,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Records attempts (each only under its lease) and endpoint health in one
    /// transaction; returns the endpoints it disabled.
    async fn settle_deliveries(
        &self,
        settles: &[DeliverySettle],
        health: &EndpointHealth,
        now: Millis,
    ) -> Result<Vec<String>>;
    /// Deliveries waiting or on their way, per status: the outbox depth.
    async fn outbox_depth(&self, ws: &str) -> Result<Vec<(String, i64)>>;
}

#[async_trait]
pub trait WebhooksTx: Send {
    /// Enabled endpoints of the workspace.
    async fn active_endpoints(&mut self) -> Result<Vec<EndpointRow>>;
    /// Adds deliveries; one already there for the same (endpoint, event) is kept.
    async fn insert_deliveries(&mut self, rows: &[DeliveryRow]) -> Result<()>;
}

pub(crate) const DELIVERY_COLS: &str = "id, workspace_id, endpoint_id, event_seq, event_id, event_type, status, \
     attempts, due_at, lease_id, last_status_code, last_error, last_attempt_at, delivered_at, created_at";

/// `$begin`: how the dispatcher's own transactions start; `$lock`: the claim's row lock.
macro_rules! impl_webhooks {
    ($Store:ty, $Tx:ty, $Db:ty, $begin:literal, $lock:literal) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::QueryBuilder;

            use $crate::error::Result;
            use $crate::webhooks::*;

            #[async_trait]
            impl WebhooksStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_endpoint(&self, e: &EndpointRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, secret, \
                         since_seq, disabled_at, disabled_reason, failing_since, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&e.id)
                    .bind(&e.workspace_id)
                    .bind(&e.url)
                    .bind(&e.description)
                    .bind(&e.event_types)
                    .bind(&e.secret)
                    .bind(e.since_seq)
                    .bind(e.disabled_at)
                    .bind(&e.disabled_reason)
                    .bind(e.failing_since)
                    .bind(e.created_at)
                    .bind(e.updated_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn endpoints(&self, ws: &str) -> Result<Vec<EndpointRow>> {
                    Ok(sqlx::query_as::<_, EndpointRow>(
                        "SELECT * FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn endpoint(&self, ws: &str, id: &str) -> Result<Option<EndpointRow>> {
                    Ok(sqlx::query_as::<_, EndpointRow>(
                        "SELECT * FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_endpoint(&self, e: &EndpointRow) -> Result<bool> {
                    let r = sqlx::query(
                        "UPDATE webhook_endpoints SET url = $3, description = $4, event_types = $5, secret = $6, \
                         disabled_at = $7, disabled_reason = $8, failing_since = $9, updated_at = $10 \
                         WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(&e.workspace_id)
                    .bind(&e.id)
                    .bind(&e.url)
                    .bind(&e.description)
                    .bind(&e.event_types)
                    .bind(&e.secret)
                    .bind(e.disabled_at)
                    .bind(&e.disabled_reason)
                    .bind(e.failing_since)
                    .bind(e.updated_at)
                    .execute(self.writer())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn deliveries(
                    &self,
                    ws: &str,
                    endpoint_id: &str,
                    before_seq: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<DeliveryRow>> {
                    let mut q = QueryBuilder::<$Db>::new(format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE workspace_id = "
                    ));
                    q.push_bind(ws.to_owned())
                        .push(" AND endpoint_id = ")
                        .push_bind(endpoint_id.to_owned());
                    if let Some(b) = before_seq {
                        q.push(" AND event_seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY event_seq DESC LIMIT ").push_bind(limit);
                    Ok(q.build_query_as::<DeliveryRow>()
                        .fetch_all(self.reader())
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn delivery(&self, ws: &str, id: &str) -> Result<Option<DeliveryRow>> {
                    Ok(sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn requeue_delivery(
                    &self,
                    ws: &str,
                    endpoint_id: &str,
                    id: &str,
                    now: Millis,
                ) -> Result<bool> {
                    let r = sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, due_at = $4, lease_id = NULL \
                         WHERE workspace_id = $1 AND endpoint_id = $2 AND id = $3 \
                         AND status IN ('delivered', 'failed')",
                    )
                    .bind(ws)
                    .bind(endpoint_id)
                    .bind(id)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn requeue_failed_since(
                    &self,
                    ws: &str,
                    endpoint_id: &str,
                    since: Millis,
                    now: Millis,
                ) -> Result<u64> {
                    let r = sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, due_at = $4, lease_id = NULL \
                         WHERE workspace_id = $1 AND endpoint_id = $2 AND created_at >= $3 AND status = 'failed'",
                    )
                    .bind(ws)
                    .bind(endpoint_id)
                    .bind(since)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(r.rows_affected())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn enabled_endpoint_ids(&self) -> Result<Vec<String>> {
                    let rows: Vec<(String,)> = sqlx::query_as(
                        "SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL ORDER BY id",
                    )
                    .fetch_all(self.reader())
                    .await?;
                    Ok(rows.into_iter().map(|(id,)| id).collect())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn claim_deliveries(
                    &self,
                    lease_id: &str,
                    now: Millis,
                    lease_ms: i64,
                    endpoint_id: &str,
                    limit: i64,
                ) -> Result<Vec<ClaimedDelivery>> {
                    let mut tx = self.writer().begin_with($begin).await?;
                    // Any due rows, not the most overdue: ordering them would sort the
                    // whole due backlog on every claim. Each row is due, and every claim
                    // takes some, so none waits long.
                    let Some((ws, url, secret)) = sqlx::query_as::<_, (String, String, String)>(
                        "SELECT workspace_id, url, secret FROM webhook_endpoints WHERE id = $1 AND disabled_at IS NULL",
                    )
                    .bind(endpoint_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    else {
                        return Ok(Vec::new());
                    };
                    let mut rows = sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(format!(
                        "UPDATE webhook_deliveries SET status = 'sending', attempts = attempts + 1, \
                         lease_id = $1, due_at = $2 WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                         WHERE d.endpoint_id = $3 AND d.status IN ('pending', 'sending') AND d.due_at <= $4 \
                         LIMIT $5 {}) RETURNING {DELIVERY_COLS}",
                        $lock
                    )))
                    .bind(lease_id)
                    .bind(now.saturating_add(lease_ms))
                    .bind(endpoint_id)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    if rows.is_empty() {
                        return Ok(Vec::new());
                    }
                    rows.sort_by_key(|d| d.event_seq);
                    // The bodies' events, read after the commit: off the writer.
                    let mut q = QueryBuilder::<$Db>::new(format!("{} WHERE e.workspace_id = ", crate::log::LOG_SELECT));
                    q.push_bind(ws).push(" AND e.seq IN (");
                    let mut list = q.separated(", ");
                    for d in &rows {
                        list.push_bind(d.event_seq);
                    }
                    q.push(")");
                    let mut events: std::collections::HashMap<i64, crate::LogEvent> = q
                        .build_query_as::<crate::LogEvent>()
                        .persistent(false)
                        .fetch_all(self.reader())
                        .await?
                        .into_iter()
                        .map(|e| (e.seq, e))
                        .collect();
                    Ok(rows
                        .into_iter()
                        .map(|delivery| ClaimedDelivery {
                            event: events.remove(&delivery.event_seq),
                            delivery,
                            url: url.clone(),
                            secret: secret.clone(),
                        })
                        .collect())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn settle_deliveries(
                    &self,
                    settles: &[DeliverySettle],
                    health: &EndpointHealth,
                    now: Millis,
                ) -> Result<Vec<String>> {
                    let mut tx = self.writer().begin_with($begin).await?;
                    for s in settles {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET status = $3, due_at = $4, last_status_code = $5, \
                             last_error = $6, last_attempt_at = $7, lease_id = NULL, \
                             delivered_at = CASE WHEN $3 = 'delivered' THEN $7 ELSE delivered_at END \
                             WHERE id = $1 AND lease_id = $2",
                        )
                        .bind(&s.id)
                        .bind(&s.lease_id)
                        .bind(s.status)
                        .bind(s.due_at)
                        .bind(s.status_code)
                        .bind(&s.error)
                        .bind(s.attempted_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let mut disabled = Vec::new();
                    if !health.succeeded.is_empty() {
                        let mut q = QueryBuilder::<$Db>::new(
                            "UPDATE webhook_endpoints SET failing_since = NULL WHERE failing_since IS NOT NULL AND id IN (",
                        );
                        let mut list = q.separated(", ");
                        for id in &health.succeeded {
                            list.push_bind(id.clone());
                        }
                        q.push(")");
                        q.build().persistent(false).execute(&mut *tx).await?;
                    }
                    if !health.failed.is_empty() {
                        let mut q = QueryBuilder::<$Db>::new(
                            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ",
                        );
                        q.push_bind(now).push(") WHERE id IN (");
                        let mut list = q.separated(", ");
                        for id in &health.failed {
                            list.push_bind(id.clone());
                        }
                        q.push(")");
                        q.build().persistent(false).execute(&mut *tx).await?;
                        let mut q = QueryBuilder::<$Db>::new(
                            "UPDATE webhook_endpoints SET disabled_at = ",
                        );
                        q.push_bind(now)
                            .push(", disabled_reason = 'failing', updated_at = ")
                            .push_bind(now)
                            .push(" WHERE disabled_at IS NULL AND failing_since <= ")
                            .push_bind(now.saturating_sub(health.disable_after_ms))
                            .push(" AND id IN (");
                        let mut list = q.separated(", ");
                        for id in &health.failed {
                            list.push_bind(id.clone());
                        }
                        q.push(") RETURNING id");
                        let rows: Vec<(String,)> =
                            q.build_query_as().persistent(false).fetch_all(&mut *tx).await?;
                        disabled.extend(rows.into_iter().map(|(id,)| id));
                    }
                    tx.commit().await?;
                    Ok(disabled)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn outbox_depth(&self, ws: &str) -> Result<Vec<(String, i64)>> {
                    Ok(sqlx::query_as::<_, (String, i64)>(
                        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM webhook_deliveries \
                         WHERE workspace_id = $1 AND status IN ('pending', 'sending') GROUP BY status ORDER BY status",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }
            }

            #[async_trait]
            impl WebhooksTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn active_endpoints(&mut self) -> Result<Vec<EndpointRow>> {
                    Ok(sqlx::query_as::<_, EndpointRow>(
                        "SELECT * FROM webhook_endpoints WHERE workspace_id = $1 AND disabled_at IS NULL ORDER BY id",
                    )
                    .bind(&self.ws)
                    .fetch_all(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_deliveries(&mut self, rows: &[DeliveryRow]) -> Result<()> {
                    for chunk in rows.chunks(crate::CHUNK / 10) {
                        let mut q = QueryBuilder::<$Db>::new(format!(
                            "INSERT INTO webhook_deliveries ({DELIVERY_COLS}) "
                        ));
                        q.push_values(chunk, |mut b, d| {
                            b.push_bind(d.id.clone())
                                .push_bind(d.workspace_id.clone())
                                .push_bind(d.endpoint_id.clone())
                                .push_bind(d.event_seq)
                                .push_bind(d.event_id.clone())
                                .push_bind(d.event_type.clone())
                                .push_bind(d.status.clone())
                                .push_bind(d.attempts)
                                .push_bind(d.due_at)
                                .push_bind(d.lease_id.clone())
                                .push_bind(d.last_status_code)
                                .push_bind(d.last_error.clone())
                                .push_bind(d.last_attempt_at)
                                .push_bind(d.delivered_at)
                                .push_bind(d.created_at);
                        });
                        q.push(" ON CONFLICT (endpoint_id, event_seq) DO NOTHING");
                        q.build()
                            .persistent(crate::reusable(chunk.len(), crate::CHUNK / 10))
                            .execute(&mut *self.tx)
                            .await?;
                    }
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_webhooks;
