//! Journeys, their versions, enrollments and the steps members went through.
//!
//! An enrollment is also the queue of the journey's timed work: an active enrollment runs
//! its step when `due_at` comes (a wait ends at `due_at`). The runner claims due
//! enrollments of active journeys under a lease (`lease_id`, `due_at` = the lease's end;
//! PostgreSQL `FOR UPDATE SKIP LOCKED`), runs the steps in one workspace write
//! transaction that first checks the lease is still its own, and clears the lease in the
//! same transaction: a worker that dies mid-step rolls everything back and the enrollment
//! is claimed again when its lease runs out, so each step takes effect once.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

pub const J_DRAFT: &str = "draft";
pub const J_ACTIVE: &str = "active";
pub const J_PAUSED: &str = "paused";
pub const J_ARCHIVED: &str = "archived";

pub const E_ACTIVE: &str = "active";
pub const E_DONE: &str = "done";
pub const E_EXITED: &str = "exited";
pub const E_CONVERTED: &str = "converted";
pub const E_HOLDOUT: &str = "holdout";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JourneyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub status: String,
    pub version: i32,
    pub trigger_kind: String,
    pub trigger_event: Option<String>,
    pub template: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub activated_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EnrollmentRow {
    pub id: String,
    pub workspace_id: String,
    pub journey_id: String,
    pub version: i32,
    pub member_id: String,
    pub occurrence: String,
    pub grp: String,
    pub status: String,
    pub step: String,
    pub waiting: i32,
    pub wait_event: Option<String>,
    pub resume_step: Option<String>,
    pub due_at: Millis,
    pub lease_id: Option<String>,
    pub attempts: i32,
    pub visits: i32,
    pub entered_at: Millis,
    pub updated_at: Millis,
    pub ended_at: Option<Millis>,
    pub end_reason: Option<String>,
}

/// A journey's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JourneyCounts {
    /// Enrollments per status.
    pub by_status: Vec<(String, i64)>,
    /// Active enrollments per step they are at (waiting or due).
    pub at_step: Vec<(String, i64)>,
    /// Ended enrollments per (step, reason).
    pub ended: Vec<(String, String, i64)>,
    /// Step visits per (step, outcome).
    pub outcomes: Vec<(String, String, i64)>,
    /// Messages per (step, status, held reason or deferral).
    pub messages: Vec<(String, String, String, i64)>,
}

/// One enrollment's outcome for an experiment: its group, whether the goal event came
/// within the window after entry, and the amounts of those events.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupRow {
    pub grp: String,
    pub converted: i64,
    pub revenue_minor: i64,
}

pub(crate) const JOURNEY_COLS: &str = "id, workspace_id, name, status, version, trigger_kind, trigger_event, template, \
     created_at, updated_at, activated_at";
pub(crate) const ENROLLMENT_COLS: &str = "id, workspace_id, journey_id, version, member_id, occurrence, grp, status, step, \
     waiting, wait_event, resume_step, due_at, lease_id, attempts, visits, entered_at, updated_at, ended_at, end_reason";

#[async_trait]
pub trait JourneysStore: Send + Sync {
    async fn journeys_page(
        &self,
        ws: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JourneyRow>>;
    async fn journey(&self, ws: &str, id: &str) -> Result<Option<JourneyRow>>;
    async fn journey_version(&self, ws: &str, id: &str, version: i32) -> Result<Option<String>>;
    /// Active journeys of a workspace.
    async fn active_journeys(&self, ws: &str) -> Result<Vec<JourneyRow>>;
    /// Claims up to `limit` due enrollments of active journeys (any workspace) under
    /// `lease_id` until `now + lease_ms`.
    async fn claim_enrollments(
        &self,
        lease_id: &str,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<EnrollmentRow>>;
    async fn enrollment(&self, ws: &str, id: &str) -> Result<Option<EnrollmentRow>>;
    /// Enrollments of a member, newest first.
    async fn member_enrollments(&self, ws: &str, member_id: &str) -> Result<Vec<EnrollmentRow>>;
    async fn journey_counts(&self, ws: &str, id: &str) -> Result<JourneyCounts>;
    /// Per enrollment: group, converted (the goal within `window_ms` after entry), revenue.
    async fn journey_groups(
        &self,
        ws: &str,
        id: &str,
        goal_type: &str,
        window_ms: i64,
    ) -> Result<Vec<GroupRow>>;
}

#[async_trait]
pub trait JourneysTx: Send {
    async fn insert_journey(&mut self, row: &JourneyRow, spec: &str) -> Result<()>;
    async fn journey_in_tx(&mut self, id: &str) -> Result<Option<JourneyRow>>;
    /// Active journeys with the spec of their current version.
    async fn live_journeys(&mut self) -> Result<Vec<(JourneyRow, String)>>;
    /// Writes name, status, version, trigger and times.
    async fn update_journey(&mut self, row: &JourneyRow) -> Result<()>;
    /// Writes a version's spec (a new version, or the draft's own rewritten).
    async fn put_journey_version(
        &mut self,
        id: &str,
        version: i32,
        spec: &str,
        at: Millis,
    ) -> Result<()>;
    /// Adds an enrollment unless one exists for the same occurrence; true if added.
    async fn insert_enrollment(&mut self, row: &EnrollmentRow) -> Result<bool>;
    /// When the member last entered the journey.
    async fn last_entry(&mut self, journey_id: &str, member_id: &str) -> Result<Option<Millis>>;
    /// The enrollment if `lease_id` still holds it.
    async fn leased_enrollment(
        &mut self,
        id: &str,
        lease_id: &str,
    ) -> Result<Option<EnrollmentRow>>;
    /// Writes an enrollment's state and clears its lease.
    async fn save_enrollment(&mut self, row: &EnrollmentRow) -> Result<()>;
    /// Ends the member's active enrollments of a journey entered at or before `before`
    /// (`converted`, reason `goal`), and cancels the member's messages of the journey not
    /// sent yet (one moved by quiet hours, say); how many enrollments.
    async fn convert_enrollments(
        &mut self,
        journey_id: &str,
        member_id: &str,
        before: Millis,
        at: Millis,
    ) -> Result<u64>;
    /// Resumes the member's enrollments waiting for `event_type` (entered at or before
    /// `occurred_at`) at their resume step, due at `at`; how many.
    async fn resume_waiting(
        &mut self,
        member_id: &str,
        event_type: &str,
        occurred_at: Millis,
        at: Millis,
    ) -> Result<u64>;
    /// Ends a journey's active enrollments (archived).
    async fn end_enrollments(&mut self, journey_id: &str, reason: &str, at: Millis) -> Result<u64>;
    async fn insert_journey_step(
        &mut self,
        enrollment: &EnrollmentRow,
        step: &str,
        outcome: &str,
        at: Millis,
    ) -> Result<()>;
    /// The members of a segment trigger as last seen (`""` marks the baseline taken).
    async fn segment_snapshot(&mut self, journey_id: &str) -> Result<Vec<String>>;
    /// Adds and removes members of the snapshot.
    async fn change_snapshot(
        &mut self,
        journey_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<()>;
}

/// `$begin`: how the runner's claims start; `$lock`: the claim's row lock.
macro_rules! impl_journeys {
    ($Store:ty, $Tx:ty, $Db:ty, $begin:literal, $lock:literal) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;

            use $crate::error::Result;
            use $crate::journeys::*;

            fn one(sql: String) -> sqlx::AssertSqlSafe<String> {
                sqlx::AssertSqlSafe(sql)
            }

            #[async_trait]
            impl JourneysStore for $Store {
                async fn journeys_page(&self, ws: &str, after: Option<&str>, limit: i64) -> Result<Vec<JourneyRow>> {
                    Ok(sqlx::query_as::<_, JourneyRow>(one(format!(
                        "SELECT {JOURNEY_COLS} FROM journeys WHERE workspace_id = $1 AND ($2 IS NULL OR id > $2) \
                         ORDER BY id LIMIT $3"
                    )))
                    .bind(ws)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn journey(&self, ws: &str, id: &str) -> Result<Option<JourneyRow>> {
                    Ok(sqlx::query_as::<_, JourneyRow>(one(format!(
                        "SELECT {JOURNEY_COLS} FROM journeys WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn journey_version(&self, ws: &str, id: &str, version: i32) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar::<_, String>(
                        "SELECT spec FROM journey_versions WHERE workspace_id = $1 AND journey_id = $2 AND version = $3",
                    )
                    .bind(ws)
                    .bind(id)
                    .bind(version)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn active_journeys(&self, ws: &str) -> Result<Vec<JourneyRow>> {
                    Ok(sqlx::query_as::<_, JourneyRow>(one(format!(
                        "SELECT {JOURNEY_COLS} FROM journeys WHERE workspace_id = $1 AND status = 'active' ORDER BY id"
                    )))
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn claim_enrollments(&self, lease_id: &str, now: Millis, lease_ms: i64, limit: i64) -> Result<Vec<EnrollmentRow>> {
                    let mut tx = self.writer().begin_with($begin).await?;
                    let rows = sqlx::query_as::<_, EnrollmentRow>(one(format!(
                        "UPDATE journey_enrollments SET lease_id = $1, due_at = $2, attempts = attempts + 1, updated_at = $3 \
                         WHERE id IN (SELECT e.id FROM journey_enrollments e WHERE e.status = 'active' AND e.due_at <= $3 \
                         AND e.journey_id IN (SELECT j.id FROM journeys j WHERE j.status = 'active') \
                         ORDER BY e.due_at LIMIT $4 {}) RETURNING {ENROLLMENT_COLS}",
                        $lock
                    )))
                    .bind(lease_id)
                    .bind(now.saturating_add(lease_ms))
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(rows)
                }

                async fn enrollment(&self, ws: &str, id: &str) -> Result<Option<EnrollmentRow>> {
                    Ok(sqlx::query_as::<_, EnrollmentRow>(one(format!(
                        "SELECT {ENROLLMENT_COLS} FROM journey_enrollments WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                async fn member_enrollments(&self, ws: &str, member_id: &str) -> Result<Vec<EnrollmentRow>> {
                    Ok(sqlx::query_as::<_, EnrollmentRow>(one(format!(
                        "SELECT {ENROLLMENT_COLS} FROM journey_enrollments WHERE workspace_id = $1 AND member_id = $2 \
                         ORDER BY entered_at DESC, id DESC"
                    )))
                    .bind(ws)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn journey_counts(&self, ws: &str, id: &str) -> Result<JourneyCounts> {
                    let pairs = |sql: &'static str| async move {
                        sqlx::query_as::<_, (String, i64)>(sql)
                            .bind(ws)
                            .bind(id)
                            .fetch_all(self.reader())
                            .await
                    };
                    let triples = |sql: &'static str| async move {
                        sqlx::query_as::<_, (String, String, i64)>(sql)
                            .bind(ws)
                            .bind(id)
                            .fetch_all(self.reader())
                            .await
                    };
                    Ok(JourneyCounts {
                        by_status: pairs(
                            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM journey_enrollments \
                             WHERE workspace_id = $1 AND journey_id = $2 GROUP BY status ORDER BY status",
                        )
                        .await?,
                        at_step: pairs(
                            "SELECT step, CAST(COUNT(*) AS BIGINT) FROM journey_enrollments \
                             WHERE workspace_id = $1 AND journey_id = $2 AND status = 'active' GROUP BY step ORDER BY step",
                        )
                        .await?,
                        ended: triples(
                            "SELECT step, COALESCE(end_reason, ''), CAST(COUNT(*) AS BIGINT) FROM journey_enrollments \
                             WHERE workspace_id = $1 AND journey_id = $2 AND status IN ('done', 'exited', 'converted') \
                             GROUP BY step, end_reason ORDER BY step",
                        )
                        .await?,
                        outcomes: triples(
                            "SELECT step, outcome, CAST(COUNT(*) AS BIGINT) FROM journey_steps \
                             WHERE workspace_id = $1 AND journey_id = $2 GROUP BY step, outcome ORDER BY step",
                        )
                        .await?,
                        messages: sqlx::query_as::<_, (String, String, String, i64)>(
                            "SELECT step, status, COALESCE(held_reason, deferred, ''), CAST(COUNT(*) AS BIGINT) \
                             FROM campaign_messages WHERE workspace_id = $1 AND campaign_id = $2 \
                             GROUP BY step, status, COALESCE(held_reason, deferred, '') ORDER BY step",
                        )
                        .bind(ws)
                        .bind(id)
                        .fetch_all(self.reader())
                        .await?,
                    })
                }

                async fn journey_groups(&self, ws: &str, id: &str, goal_type: &str, window_ms: i64) -> Result<Vec<GroupRow>> {
                    Ok(sqlx::query_as::<_, GroupRow>(
                        "SELECT n.grp AS grp, \
                         CAST(CASE WHEN COUNT(e.seq) > 0 THEN 1 ELSE 0 END AS BIGINT) AS converted, \
                         CAST(COALESCE(SUM(COALESCE(e.amount_minor, 0) - COALESCE(e.refunded_minor, 0)), 0) AS BIGINT) AS revenue_minor \
                         FROM journey_enrollments n LEFT JOIN events e ON e.workspace_id = n.workspace_id \
                         AND e.member_id = n.member_id AND e.type = $3 AND e.occurred_at >= n.entered_at \
                         AND e.occurred_at < n.entered_at + $4 \
                         WHERE n.workspace_id = $1 AND n.journey_id = $2 GROUP BY n.id, n.grp",
                    )
                    .bind(ws)
                    .bind(id)
                    .bind(goal_type)
                    .bind(window_ms)
                    .fetch_all(self.reader())
                    .await?)
                }
            }

            #[async_trait]
            impl JourneysTx for $Tx {
                async fn insert_journey(&mut self, row: &JourneyRow, spec: &str) -> Result<()> {
                    sqlx::query(one(format!(
                        "INSERT INTO journeys ({JOURNEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                    )))
                    .bind(&row.id)
                    .bind(&self.ws)
                    .bind(&row.name)
                    .bind(&row.status)
                    .bind(row.version)
                    .bind(&row.trigger_kind)
                    .bind(&row.trigger_event)
                    .bind(&row.template)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.activated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    self.put_journey_version(&row.id, row.version, spec, row.created_at).await
                }

                async fn journey_in_tx(&mut self, id: &str) -> Result<Option<JourneyRow>> {
                    Ok(sqlx::query_as::<_, JourneyRow>(one(format!(
                        "SELECT {JOURNEY_COLS} FROM journeys WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(&self.ws)
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
                }

                async fn live_journeys(&mut self) -> Result<Vec<(JourneyRow, String)>> {
                    let rows = sqlx::query_as::<_, JourneyRow>(one(format!(
                        "SELECT {JOURNEY_COLS} FROM journeys WHERE workspace_id = $1 AND status = 'active' ORDER BY id"
                    )))
                    .bind(&self.ws)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let spec: Option<String> = sqlx::query_scalar(
                            "SELECT spec FROM journey_versions WHERE journey_id = $1 AND version = $2",
                        )
                        .bind(&r.id)
                        .bind(r.version)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                        if let Some(spec) = spec {
                            out.push((r, spec));
                        }
                    }
                    Ok(out)
                }

                async fn update_journey(&mut self, row: &JourneyRow) -> Result<()> {
                    sqlx::query(
                        "UPDATE journeys SET name = $3, status = $4, version = $5, trigger_kind = $6, trigger_event = $7, \
                         updated_at = $8, activated_at = $9 WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(&self.ws)
                    .bind(&row.id)
                    .bind(&row.name)
                    .bind(&row.status)
                    .bind(row.version)
                    .bind(&row.trigger_kind)
                    .bind(&row.trigger_event)
                    .bind(row.updated_at)
                    .bind(row.activated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn put_journey_version(&mut self, id: &str, version: i32, spec: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO journey_versions (workspace_id, journey_id, version, spec, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (journey_id, version) DO UPDATE SET spec = $4",
                    )
                    .bind(&self.ws)
                    .bind(id)
                    .bind(version)
                    .bind(spec)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn insert_enrollment(&mut self, r: &EnrollmentRow) -> Result<bool> {
                    let done = sqlx::query(one(format!(
                        "INSERT INTO journey_enrollments ({ENROLLMENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                         ON CONFLICT (workspace_id, journey_id, member_id, occurrence) DO NOTHING"
                    )))
                    .bind(&r.id)
                    .bind(&self.ws)
                    .bind(&r.journey_id)
                    .bind(r.version)
                    .bind(&r.member_id)
                    .bind(&r.occurrence)
                    .bind(&r.grp)
                    .bind(&r.status)
                    .bind(&r.step)
                    .bind(r.waiting)
                    .bind(&r.wait_event)
                    .bind(&r.resume_step)
                    .bind(r.due_at)
                    .bind(&r.lease_id)
                    .bind(r.attempts)
                    .bind(r.visits)
                    .bind(r.entered_at)
                    .bind(r.updated_at)
                    .bind(r.ended_at)
                    .bind(&r.end_reason)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn last_entry(&mut self, journey_id: &str, member_id: &str) -> Result<Option<Millis>> {
                    Ok(sqlx::query_scalar::<_, Option<i64>>(
                        "SELECT MAX(entered_at) FROM journey_enrollments WHERE workspace_id = $1 AND journey_id = $2 \
                         AND member_id = $3",
                    )
                    .bind(&self.ws)
                    .bind(journey_id)
                    .bind(member_id)
                    .fetch_one(&mut *self.tx)
                    .await?)
                }

                async fn leased_enrollment(&mut self, id: &str, lease_id: &str) -> Result<Option<EnrollmentRow>> {
                    Ok(sqlx::query_as::<_, EnrollmentRow>(one(format!(
                        "SELECT {ENROLLMENT_COLS} FROM journey_enrollments WHERE workspace_id = $1 AND id = $2 \
                         AND lease_id = $3 AND status = 'active'"
                    )))
                    .bind(&self.ws)
                    .bind(id)
                    .bind(lease_id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
                }

                async fn save_enrollment(&mut self, r: &EnrollmentRow) -> Result<()> {
                    sqlx::query(
                        "UPDATE journey_enrollments SET grp = $3, status = $4, step = $5, waiting = $6, wait_event = $7, \
                         resume_step = $8, due_at = $9, lease_id = NULL, visits = $10, updated_at = $11, ended_at = $12, \
                         end_reason = $13 WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(&self.ws)
                    .bind(&r.id)
                    .bind(&r.grp)
                    .bind(&r.status)
                    .bind(&r.step)
                    .bind(r.waiting)
                    .bind(&r.wait_event)
                    .bind(&r.resume_step)
                    .bind(r.due_at)
                    .bind(r.visits)
                    .bind(r.updated_at)
                    .bind(r.ended_at)
                    .bind(&r.end_reason)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn convert_enrollments(&mut self, journey_id: &str, member_id: &str, before: Millis, at: Millis) -> Result<u64> {
                    let r = sqlx::query(
                        "UPDATE journey_enrollments SET status = 'converted', end_reason = 'goal', ended_at = $5, \
                         updated_at = $5, lease_id = NULL WHERE workspace_id = $1 AND journey_id = $2 AND member_id = $3 \
                         AND status = 'active' AND entered_at <= $4",
                    )
                    .bind(&self.ws)
                    .bind(journey_id)
                    .bind(member_id)
                    .bind(before)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    if r.rows_affected() > 0 {
                        sqlx::query(
                            "UPDATE campaign_messages SET status = 'cancelled', updated_at = $4 \
                             WHERE workspace_id = $1 AND campaign_id = $2 AND member_id = $3 AND status = 'pending'",
                        )
                        .bind(&self.ws)
                        .bind(journey_id)
                        .bind(member_id)
                        .bind(at)
                        .execute(&mut *self.tx)
                        .await?;
                    }
                    Ok(r.rows_affected())
                }

                async fn resume_waiting(&mut self, member_id: &str, event_type: &str, occurred_at: Millis, at: Millis) -> Result<u64> {
                    let r = sqlx::query(
                        "UPDATE journey_enrollments SET step = resume_step, waiting = 0, wait_event = NULL, \
                         resume_step = NULL, due_at = $5, lease_id = NULL, updated_at = $5 \
                         WHERE workspace_id = $1 AND member_id = $2 AND status = 'active' AND waiting = 1 \
                         AND wait_event = $3 AND entered_at <= $4",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .bind(event_type)
                    .bind(occurred_at)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected())
                }

                async fn end_enrollments(&mut self, journey_id: &str, reason: &str, at: Millis) -> Result<u64> {
                    let r = sqlx::query(
                        "UPDATE journey_enrollments SET status = 'exited', end_reason = $3, ended_at = $4, updated_at = $4, \
                         lease_id = NULL WHERE workspace_id = $1 AND journey_id = $2 AND status = 'active'",
                    )
                    .bind(&self.ws)
                    .bind(journey_id)
                    .bind(reason)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected())
                }

                async fn segment_snapshot(&mut self, journey_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar::<_, String>(
                        "SELECT member_id FROM journey_segment_members WHERE journey_id = $1 AND workspace_id = $2",
                    )
                    .bind(journey_id)
                    .bind(&self.ws)
                    .fetch_all(&mut *self.tx)
                    .await?)
                }

                async fn change_snapshot(&mut self, journey_id: &str, add: &[String], remove: &[String]) -> Result<()> {
                    for m in add {
                        sqlx::query(
                            "INSERT INTO journey_segment_members (workspace_id, journey_id, member_id) VALUES ($1, $2, $3) \
                             ON CONFLICT (journey_id, member_id) DO NOTHING",
                        )
                        .bind(&self.ws)
                        .bind(journey_id)
                        .bind(m)
                        .execute(&mut *self.tx)
                        .await?;
                    }
                    for m in remove {
                        sqlx::query("DELETE FROM journey_segment_members WHERE journey_id = $1 AND member_id = $2")
                            .bind(journey_id)
                            .bind(m)
                            .execute(&mut *self.tx)
                            .await?;
                    }
                    Ok(())
                }

                async fn insert_journey_step(&mut self, e: &EnrollmentRow, step: &str, outcome: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO journey_steps (workspace_id, enrollment_id, visit, journey_id, step, outcome, at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (enrollment_id, visit) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(&e.id)
                    .bind(e.visits)
                    .bind(&e.journey_id)
                    .bind(step)
                    .bind(outcome)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_journeys;
