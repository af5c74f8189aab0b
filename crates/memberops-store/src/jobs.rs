//! The jobs table: background work (expiry, tier reviews, recomputes, birthday gifts) as a
//! database-backed queue that several workers drain safely.
//!
//! - **Enqueue** is idempotent by `(workspace, key)` (`points_expiry:2026-11-27`): a second
//!   enqueue of the same key changes nothing, whatever state the first one is in.
//! - **Claim** takes the most overdue job that is queued and due, or running with a lease
//!   that ran out (its worker died), and gives it a fresh lease (`lease_id`, `due_at` = end of
//!   the lease), counting an attempt. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent
//!   workers pick different rows; SQLite: the single writer connection in `BEGIN IMMEDIATE`.
//! - **Heartbeat**, **complete** and **fail** name the lease: a worker that lost its lease
//!   (it was too slow, another worker took the job over) can no longer touch the job.
//! - A failed attempt goes back to the queue at the retry time the caller chose (backoff), or
//!   ends as `failed`; a job whose lease runs out after its last attempt ends as `failed`.
//!
//! Jobs are not part of a workspace's write transaction: running one takes the workspace's
//! write lock only through the use cases it calls.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

pub const JOB_QUEUED: &str = "queued";
pub const JOB_RUNNING: &str = "running";
pub const JOB_DONE: &str = "done";
pub const JOB_FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub workspace_id: String,
    /// Unique per workspace: what makes enqueueing idempotent.
    pub key: String,
    pub kind: String,
    /// JSON the job's handler reads.
    pub payload: String,
    /// Not before.
    pub run_at: Millis,
    pub max_attempts: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub workspace_id: String,
    pub key: String,
    pub kind: String,
    pub payload: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Queued: when it may run. Running: when its lease ends.
    pub due_at: Millis,
    /// Claims so far (this one included, once claimed).
    pub attempts: i32,
    pub max_attempts: i32,
    /// The current claim; only its holder may extend, complete or fail the job.
    pub lease_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
}

#[async_trait]
pub trait JobsStore: Send + Sync {
    /// Adds the job unless its key exists; true if it was added.
    async fn enqueue_job(&self, job: &NewJob, now: Millis) -> Result<bool>;
    /// Claims one due job (queued and due, or running with an expired lease) under
    /// `lease_id` until `now + lease_ms`. None when nothing is due.
    async fn claim_job(&self, lease_id: &str, now: Millis, lease_ms: i64) -> Result<Option<Job>>;
    /// Extends the lease to `until`; false if the lease is no longer ours.
    async fn extend_job_lease(
        &self,
        ws: &str,
        key: &str,
        lease_id: &str,
        until: Millis,
    ) -> Result<bool>;
    /// Marks the job done; false if the lease is no longer ours (nothing changed).
    async fn complete_job(&self, ws: &str, key: &str, lease_id: &str, now: Millis) -> Result<bool>;
    /// Records a failed attempt: queued again at `retry_at`, or `failed` for good when
    /// `retry_at` is None. False if the lease is no longer ours.
    async fn fail_job(
        &self,
        ws: &str,
        key: &str,
        lease_id: &str,
        error: &str,
        retry_at: Option<Millis>,
        now: Millis,
    ) -> Result<bool>;
    async fn job(&self, ws: &str, key: &str) -> Result<Option<Job>>;
    /// The most recently updated jobs of a workspace.
    async fn recent_jobs(&self, ws: &str, limit: i64) -> Result<Vec<Job>>;
}

const COLS: &str = "workspace_id, key, kind, payload, status, due_at, attempts, max_attempts, lease_id, last_error, created_at, updated_at, finished_at";

/// `$begin`: how a claim's transaction starts; `$lock`: the row lock of the claim's select.
macro_rules! impl_jobs {
    ($Store:ty, $Db:ty, $begin:literal, $lock:literal) => {
        const _: () = {
            use sqlx::Row;

            type DbRow = <$Db as sqlx::Database>::Row;

            fn job_row(r: &DbRow) -> Result<Job> {
                Ok(Job {
                    workspace_id: r.try_get("workspace_id")?,
                    key: r.try_get("key")?,
                    kind: r.try_get("kind")?,
                    payload: r.try_get("payload")?,
                    status: r.try_get("status")?,
                    due_at: r.try_get("due_at")?,
                    attempts: r.try_get("attempts")?,
                    max_attempts: r.try_get("max_attempts")?,
                    lease_id: r.try_get("lease_id")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            }

            #[async_trait]
            impl JobsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn enqueue_job(&self, job: &NewJob, now: Millis) -> Result<bool> {
                    let r = sqlx::query(
                        "INSERT INTO jobs (workspace_id, key, kind, payload, status, due_at, attempts, max_attempts, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, $7) \
                         ON CONFLICT (workspace_id, key) DO NOTHING",
                    )
                    .bind(&job.workspace_id)
                    .bind(&job.key)
                    .bind(&job.kind)
                    .bind(&job.payload)
                    .bind(job.run_at)
                    .bind(job.max_attempts)
                    .bind(now)
                    .execute(self.pool())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn claim_job(
                    &self,
                    lease_id: &str,
                    now: Millis,
                    lease_ms: i64,
                ) -> Result<Option<Job>> {
                    let mut tx = self.pool().begin_with($begin).await?;
                    // A lease that ran out after the last attempt: the job is given up.
                    sqlx::query(
                        "UPDATE jobs SET status = 'failed', finished_at = $1, updated_at = $1, lease_id = NULL, \
                         last_error = COALESCE(last_error, 'lease expired on the last attempt') \
                         WHERE status = 'running' AND due_at <= $1 AND attempts >= max_attempts",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let row = sqlx::query(concat!(
                        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_id = $1, \
                         due_at = $2, updated_at = $3 \
                         WHERE (workspace_id, key) IN (SELECT workspace_id, key FROM jobs \
                         WHERE status IN ('queued', 'running') AND due_at <= $3 \
                         ORDER BY due_at LIMIT 1 ",
                        $lock,
                        ") RETURNING workspace_id, key, kind, payload, status, due_at, attempts, max_attempts, lease_id, last_error, created_at, updated_at, finished_at"
                    ))
                    .bind(lease_id)
                    .bind(now.saturating_add(lease_ms))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let job = row.as_ref().map(job_row).transpose()?;
                    tx.commit().await?;
                    Ok(job)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn extend_job_lease(
                    &self,
                    ws: &str,
                    key: &str,
                    lease_id: &str,
                    until: Millis,
                ) -> Result<bool> {
                    let r = sqlx::query(
                        "UPDATE jobs SET due_at = $4, updated_at = $4 \
                         WHERE workspace_id = $1 AND key = $2 AND lease_id = $3 AND status = 'running'",
                    )
                    .bind(ws)
                    .bind(key)
                    .bind(lease_id)
                    .bind(until)
                    .execute(self.pool())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn complete_job(
                    &self,
                    ws: &str,
                    key: &str,
                    lease_id: &str,
                    now: Millis,
                ) -> Result<bool> {
                    let r = sqlx::query(
                        "UPDATE jobs SET status = 'done', finished_at = $4, updated_at = $4, lease_id = NULL, last_error = NULL \
                         WHERE workspace_id = $1 AND key = $2 AND lease_id = $3 AND status = 'running'",
                    )
                    .bind(ws)
                    .bind(key)
                    .bind(lease_id)
                    .bind(now)
                    .execute(self.pool())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn fail_job(
                    &self,
                    ws: &str,
                    key: &str,
                    lease_id: &str,
                    error: &str,
                    retry_at: Option<Millis>,
                    now: Millis,
                ) -> Result<bool> {
                    let (status, due, finished) = match retry_at {
                        Some(t) => (JOB_QUEUED, t, None),
                        None => (JOB_FAILED, now, Some(now)),
                    };
                    let r = sqlx::query(
                        "UPDATE jobs SET status = $4, due_at = $5, finished_at = $6, last_error = $7, \
                         lease_id = NULL, updated_at = $8 \
                         WHERE workspace_id = $1 AND key = $2 AND lease_id = $3 AND status = 'running'",
                    )
                    .bind(ws)
                    .bind(key)
                    .bind(lease_id)
                    .bind(status)
                    .bind(due)
                    .bind(finished)
                    .bind(error)
                    .bind(now)
                    .execute(self.pool())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn job(&self, ws: &str, key: &str) -> Result<Option<Job>> {
                    let sql = format!("SELECT {COLS} FROM jobs WHERE workspace_id = $1 AND key = $2");
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .bind(key)
                        .fetch_optional(self.pool())
                        .await?;
                    row.as_ref().map(job_row).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn recent_jobs(&self, ws: &str, limit: i64) -> Result<Vec<Job>> {
                    let sql = format!(
                        "SELECT {COLS} FROM jobs WHERE workspace_id = $1 ORDER BY updated_at DESC, key LIMIT $2"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?;
                    rows.iter().map(job_row).collect()
                }
            }
        };
    };
}

impl_jobs!(crate::SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
impl_jobs!(
    crate::PgStore,
    sqlx::Postgres,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED"
);
