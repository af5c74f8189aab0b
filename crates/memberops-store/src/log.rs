//! The event log as its consumers read it, and their cursors.
//!
//! A consumer reads pages of events after its cursor, in `seq` order, inside a workspace
//! write transaction ([`crate::Store::begin_write`]), and moves its cursor in that same
//! transaction as its own writes. Writers of one workspace are serialised (the single
//! SQLite writer; a transaction-scoped advisory lock on PostgreSQL) and every event insert
//! happens inside such a writer, so within a workspace `seq` order is commit order: a page
//! read under the lock never passes over a row that commits later with a smaller `seq`.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

/// A consumer's place in the log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConsumerRow {
    pub workspace_id: String,
    pub name: String,
    /// The last event handled (0: none).
    pub cursor_seq: i64,
    /// When that event was received.
    pub cursor_at: Option<Millis>,
    /// Events handled since the consumer was created.
    pub handled: i64,
    /// Failed pages in a row (0 after a success).
    pub failures: i32,
    pub last_error: Option<String>,
    /// Not before this time after a failure.
    pub retry_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An event as consumers read it: the log row with the member's external id.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogEvent {
    pub seq: i64,
    pub id: String,
    /// Internal member id.
    pub member_id: String,
    /// None when the member row is gone.
    pub external_id: Option<String>,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub occurred_at: Millis,
    pub received_at: Millis,
    /// JSON object.
    pub properties: String,
}

/// How far the log's end is from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Events after the cursor.
    pub events: i64,
    /// When the oldest of them was received (None: none).
    pub oldest_received_at: Option<Millis>,
}

/// Where a consumer seen for the first time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The first event ever (aggregates rebuilt from the whole history).
    Beginning,
    /// After the last event committed now (reactions to what happens from now on).
    Head,
}

#[async_trait]
pub trait LogStore: Send + Sync {
    async fn consumers(&self, ws: &str) -> Result<Vec<ConsumerRow>>;
    /// Up to `limit` events after `after_seq`, in commit order, read outside any write
    /// transaction: a consumer reads its next page here before it takes the writer, and
    /// uses it if its cursor has not moved meanwhile (every snapshot of the log is a prefix
    /// in `seq` order, since event writers of a workspace are serialised).
    async fn log_page(&self, ws: &str, after_seq: i64, limit: i64) -> Result<Vec<LogEvent>>;
    /// The last event of the workspace: `(seq, received_at)`.
    async fn log_head(&self, ws: &str) -> Result<Option<(i64, Millis)>>;
    async fn log_backlog(&self, ws: &str, after_seq: i64) -> Result<Backlog>;
    /// Whether the workspace has received an event of this type (a scan where the type is
    /// rare: for validating configuration, not for hot paths).
    async fn event_type_seen(&self, ws: &str, kind: &str) -> Result<bool>;
    /// Records a failed page (the page's own writes were rolled back): not before
    /// `retry_at`. `row` is the consumer as the failed page read it (a consumer whose
    /// first page failed is stored at its start).
    async fn consumer_failed(
        &self,
        row: &ConsumerRow,
        error: &str,
        retry_at: Millis,
        now: Millis,
    ) -> Result<()>;
}

#[async_trait]
pub trait LogTx: Send {
    /// The consumer's row, created at `start` when it has none yet.
    async fn consumer(&mut self, name: &str, start: StartAt, now: Millis) -> Result<ConsumerRow>;
    /// Up to `limit` events after `after_seq`, in commit order.
    async fn log_after(&mut self, after_seq: i64, limit: i64) -> Result<Vec<LogEvent>>;
    /// The seq of the workspace's last event (0: none).
    async fn log_head_seq(&mut self) -> Result<i64>;
    /// Moves the cursor past `last` (the page's last event) and clears a failure streak.
    async fn advance_consumer(
        &mut self,
        name: &str,
        last: &LogEvent,
        handled: i64,
        now: Millis,
    ) -> Result<()>;
}

/// Events as [`LogEvent`]s; the caller adds `WHERE`, over `e`.
macro_rules! log_select {
    () => {
        "SELECT e.seq, e.id, e.member_id, m.external_id, e.type, e.occurred_at, \
         e.received_at, e.properties FROM events e LEFT JOIN members m ON m.id = e.member_id"
    };
}
pub(crate) const LOG_SELECT: &str = log_select!();
/// A page of the log after `$2`.
pub(crate) const LOG_AFTER: &str = concat!(
    log_select!(),
    " WHERE e.workspace_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3"
);

pub(crate) const HEAD_SEQ: &str =
    "SELECT seq, received_at FROM events WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1";

macro_rules! impl_log {
    ($Store:ty, $Tx:ty, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;

            use $crate::error::Result;
            use $crate::log::*;

            #[async_trait]
            impl LogStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn consumers(&self, ws: &str) -> Result<Vec<ConsumerRow>> {
                    Ok(sqlx::query_as::<_, ConsumerRow>(
                        "SELECT * FROM consumers WHERE workspace_id = $1 ORDER BY name",
                    )
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn log_page(&self, ws: &str, after_seq: i64, limit: i64) -> Result<Vec<LogEvent>> {
                    Ok(sqlx::query_as::<_, LogEvent>(LOG_AFTER)
                    .bind(ws)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn log_head(&self, ws: &str) -> Result<Option<(i64, Millis)>> {
                    Ok(sqlx::query_as::<_, (i64, Millis)>(HEAD_SEQ)
                        .bind(ws)
                        .fetch_optional(self.reader())
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn log_backlog(&self, ws: &str, after_seq: i64) -> Result<Backlog> {
                    let (events, oldest): (i64, Option<Millis>) = sqlx::query_as(
                        "SELECT CAST(COUNT(*) AS BIGINT), MIN(received_at) FROM events \
                         WHERE workspace_id = $1 AND seq > $2",
                    )
                    .bind(ws)
                    .bind(after_seq)
                    .fetch_one(self.reader())
                    .await?;
                    Ok(Backlog {
                        events,
                        oldest_received_at: oldest,
                    })
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn event_type_seen(&self, ws: &str, kind: &str) -> Result<bool> {
                    Ok(sqlx::query_as::<_, (i64,)>(
                        "SELECT seq FROM events WHERE workspace_id = $1 AND type = $2 LIMIT 1",
                    )
                    .bind(ws)
                    .bind(kind)
                    .fetch_optional(self.reader())
                    .await?
                    .is_some())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn consumer_failed(
                    &self,
                    row: &ConsumerRow,
                    error: &str,
                    retry_at: Millis,
                    now: Millis,
                ) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO consumers (workspace_id, name, cursor_seq, cursor_at, failures, last_error, \
                         retry_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7) \
                         ON CONFLICT (workspace_id, name) DO UPDATE SET failures = consumers.failures + 1, \
                         last_error = excluded.last_error, retry_at = excluded.retry_at, updated_at = excluded.updated_at",
                    )
                    .bind(&row.workspace_id)
                    .bind(&row.name)
                    .bind(row.cursor_seq)
                    .bind(row.cursor_at)
                    .bind(error)
                    .bind(retry_at)
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl LogTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn consumer(
                    &mut self,
                    name: &str,
                    start: StartAt,
                    now: Millis,
                ) -> Result<ConsumerRow> {
                    let found = sqlx::query_as::<_, ConsumerRow>(
                        "SELECT * FROM consumers WHERE workspace_id = $1 AND name = $2",
                    )
                    .bind(&self.ws)
                    .bind(name)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    if let Some(row) = found {
                        return Ok(row);
                    }
                    let (seq, at) = match start {
                        StartAt::Beginning => (0, None),
                        StartAt::Head => sqlx::query_as::<_, (i64, Millis)>(HEAD_SEQ)
                            .bind(&self.ws)
                            .fetch_optional(&mut *self.tx)
                            .await?
                            .map_or((0, None), |(s, a)| (s, Some(a))),
                    };
                    Ok(sqlx::query_as::<_, ConsumerRow>(
                        "INSERT INTO consumers (workspace_id, name, cursor_seq, cursor_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) RETURNING *",
                    )
                    .bind(&self.ws)
                    .bind(name)
                    .bind(seq)
                    .bind(at)
                    .bind(now)
                    .fetch_one(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn log_after(&mut self, after_seq: i64, limit: i64) -> Result<Vec<LogEvent>> {
                    Ok(sqlx::query_as::<_, LogEvent>(LOG_AFTER)
                    .bind(&self.ws)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn log_head_seq(&mut self) -> Result<i64> {
                    Ok(sqlx::query_as::<_, (i64, Millis)>(HEAD_SEQ)
                        .bind(&self.ws)
                        .fetch_optional(&mut *self.tx)
                        .await?
                        .map_or(0, |(s, _)| s))
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn advance_consumer(
                    &mut self,
                    name: &str,
                    last: &LogEvent,
                    handled: i64,
                    now: Millis,
                ) -> Result<()> {
                    sqlx::query(
                        "UPDATE consumers SET cursor_seq = $3, cursor_at = $4, handled = handled + $5, \
                         failures = 0, last_error = NULL, retry_at = NULL, updated_at = $6 \
                         WHERE workspace_id = $1 AND name = $2",
                    )
                    .bind(&self.ws)
                    .bind(name)
                    .bind(last.seq)
                    .bind(last.received_at)
                    .bind(handled)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_log;
