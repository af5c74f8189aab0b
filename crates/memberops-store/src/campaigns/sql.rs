//! Campaigns and their messages on both backends.

pub(crate) const CAMPAIGN_COLS: &str = "id, workspace_id, name, kind, status, spec, segment_id, channel, \
     idempotency_key, created_at, updated_at, launched_at";

pub(crate) const MESSAGE_COLS: &str = "id, workspace_id, campaign_id, step, member_id, occurrence, channel, \
     transactional, status, held_reason, deferred, due_at, lease_id, attempts, last_error, token, sent_at, \
     created_at, updated_at";

/// `$begin`: how the dispatcher's own transactions start; `$lock`: the claim's row lock.
macro_rules! impl_campaigns {
    ($Store:ty, $Tx:ty, $Db:ty, $begin:literal, $lock:literal) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::QueryBuilder;

            use $crate::campaigns::sql::{CAMPAIGN_COLS, MESSAGE_COLS};
            use $crate::campaigns::*;
            use $crate::error::Result;

            /// `… IN (ids)` for a list of ids.
            fn push_ids(q: &mut QueryBuilder<$Db>, ids: &[String]) {
                q.push(" IN (");
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(id.clone());
                }
                list.push_unseparated(")");
            }

            #[async_trait]
            impl CampaignsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn campaigns_page(&self, ws: &str, after: Option<&str>, limit: i64) -> Result<Vec<CampaignRow>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {CAMPAIGN_COLS} FROM campaigns WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    if let Some(a) = after {
                        q.push(" AND id > ").push_bind(a.to_owned());
                    }
                    q.push(" ORDER BY id LIMIT ").push_bind(limit);
                    Ok(q.build_query_as::<CampaignRow>().fetch_all(self.reader()).await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn campaign(&self, ws: &str, id: &str) -> Result<Option<CampaignRow>> {
                    Ok(sqlx::query_as::<_, CampaignRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn campaign_by_key(&self, ws: &str, key: &str) -> Result<Option<CampaignRow>> {
                    Ok(sqlx::query_as::<_, CampaignRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE workspace_id = $1 AND idempotency_key = $2"
                    )))
                    .bind(ws)
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_zones(&self, ws: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("SELECT id, time_zone FROM members WHERE workspace_id = ");
                        q.push_bind(ws.to_owned()).push(" AND id");
                        push_ids(&mut q, chunk);
                        out.extend(
                            q.build_query_as::<(String, String)>()
                                .persistent(crate::reusable(chunk.len(), crate::CHUNK))
                                .fetch_all(self.reader())
                                .await?,
                        );
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn claim_messages(&self, lease_id: &str, now: Millis, lease_ms: i64, limit: i64) -> Result<Vec<MessageRow>> {
                    let mut tx = self.writer().begin_with($begin).await?;
                    // Any due rows of running campaigns, not the most overdue: every
                    // claim takes some, so none waits long.
                    let rows = sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "UPDATE campaign_messages SET status = 'sending', attempts = attempts + 1, \
                         lease_id = $1, due_at = $2, updated_at = $3 WHERE id IN (SELECT m.id FROM campaign_messages m \
                         WHERE m.status IN ('pending', 'sending') AND m.due_at <= $3 \
                         AND (m.campaign_id IN (SELECT c.id FROM campaigns c WHERE c.status = 'running') \
                         OR m.campaign_id IN (SELECT j.id FROM journeys j WHERE j.status = 'active')) \
                         LIMIT $4 {}) RETURNING {MESSAGE_COLS}",
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

                #[tracing::instrument(level = "debug", skip_all)]
                async fn settle_messages(&self, settles: &[MessageSettle]) -> Result<()> {
                    if settles.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.writer().begin_with($begin).await?;
                    for s in settles {
                        sqlx::query(
                            "UPDATE campaign_messages SET status = $3, held_reason = $4, \
                             deferred = COALESCE($5, deferred), due_at = $6, last_error = $7, \
                             sent_at = COALESCE($8, sent_at), lease_id = NULL, updated_at = $9, \
                             attempts = attempts - $10 WHERE id = $1 AND lease_id = $2",
                        )
                        .bind(&s.id)
                        .bind(&s.lease_id)
                        .bind(s.status)
                        .bind(&s.held_reason)
                        .bind(&s.deferred)
                        .bind(s.due_at)
                        .bind(&s.error)
                        .bind(s.sent_at)
                        .bind(s.at)
                        .bind(if s.attempt { 0i32 } else { 1i32 })
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn marketing_sent(&self, ws: &str, member_ids: &[String], since: Millis) -> Result<Vec<(String, Millis, String)>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, sent_at, channel FROM campaign_messages WHERE workspace_id = ",
                        );
                        q.push_bind(ws.to_owned())
                            .push(" AND transactional = 0 AND status IN ('sent', 'delivered') AND sent_at >= ")
                            .push_bind(since)
                            .push(" AND member_id");
                        push_ids(&mut q, chunk);
                        out.extend(
                            q.build_query_as::<(String, Millis, String)>()
                                .persistent(false)
                                .fetch_all(self.reader())
                                .await?,
                        );
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn unsubscribes(&self, ws: &str, member_ids: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, channel FROM campaign_unsubscribes WHERE workspace_id = ",
                        );
                        q.push_bind(ws.to_owned()).push(" AND member_id");
                        push_ids(&mut q, chunk);
                        out.extend(
                            q.build_query_as::<(String, String)>()
                                .persistent(false)
                                .fetch_all(self.reader())
                                .await?,
                        );
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn message_by_token(&self, token: &str) -> Result<Option<MessageRow>> {
                    Ok(sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {MESSAGE_COLS} FROM campaign_messages WHERE token = $1"
                    )))
                    .bind(token)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn message(&self, ws: &str, id: &str) -> Result<Option<MessageRow>> {
                    Ok(sqlx::query_as::<_, MessageRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {MESSAGE_COLS} FROM campaign_messages WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(ws)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn campaign_counts(&self, ws: &str, id: &str, goal: Option<(&str, i64)>) -> Result<CampaignCounts> {
                    let grouped = |col: &str, cond: &str| {
                        format!(
                            "SELECT {col}, CAST(COUNT(*) AS BIGINT) FROM campaign_messages \
                             WHERE workspace_id = $1 AND campaign_id = $2 AND {cond} GROUP BY {col} ORDER BY {col}"
                        )
                    };
                    let mut out = CampaignCounts::default();
                    for (i, sql) in [
                        grouped("status", "1 = 1"),
                        grouped("held_reason", "status = 'held'"),
                        grouped("deferred", "deferred IS NOT NULL"),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let rows = sqlx::query_as::<_, (Option<String>, i64)>(sqlx::AssertSqlSafe(sql))
                            .bind(ws)
                            .bind(id)
                            .fetch_all(self.reader())
                            .await?;
                        let rows = rows.into_iter().map(|(k, n)| (k.unwrap_or_default(), n)).collect();
                        match i {
                            0 => out.by_status = rows,
                            1 => out.held = rows,
                            _ => out.deferred = rows,
                        }
                    }
                    if let Some((event_type, window_ms)) = goal {
                        // Each member once, with the orders of their window.
                        let (converted, revenue): (i64, i64) = sqlx::query_as(
                            "SELECT CAST(COUNT(DISTINCT m.member_id) AS BIGINT), \
                             CAST(COALESCE(SUM(COALESCE(e.amount_minor, 0) - COALESCE(e.refunded_minor, 0)), 0) AS BIGINT) \
                             FROM campaign_messages m JOIN events e ON e.workspace_id = m.workspace_id \
                             AND e.member_id = m.member_id AND e.type = $3 AND e.occurred_at >= m.sent_at \
                             AND e.occurred_at < m.sent_at + $4 \
                             WHERE m.workspace_id = $1 AND m.campaign_id = $2 AND m.sent_at IS NOT NULL",
                        )
                        .bind(ws)
                        .bind(id)
                        .bind(event_type)
                        .bind(window_ms)
                        .fetch_one(self.reader())
                        .await?;
                        out.converted = converted;
                        out.revenue_minor = revenue;
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_inbox(&self, row: &InboxRow) -> Result<bool> {
                    let r = sqlx::query(
                        "INSERT INTO inbox_messages (id, workspace_id, member_id, title, body, created_at, read_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&row.id)
                    .bind(&row.workspace_id)
                    .bind(&row.member_id)
                    .bind(&row.title)
                    .bind(&row.body)
                    .bind(row.created_at)
                    .bind(row.read_at)
                    .execute(self.writer())
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn inbox_page(&self, ws: &str, member_id: &str, before: Option<&str>, limit: i64) -> Result<Vec<InboxRow>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT id, workspace_id, member_id, title, body, created_at, read_at FROM inbox_messages WHERE workspace_id = ",
                    );
                    q.push_bind(ws.to_owned()).push(" AND member_id = ").push_bind(member_id.to_owned());
                    if let Some(b) = before {
                        q.push(" AND id < ").push_bind(b.to_owned());
                    }
                    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
                    Ok(q.build_query_as::<InboxRow>().fetch_all(self.reader()).await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tasks_page(&self, ws: &str, f: &TaskFilter, after: Option<&str>, limit: i64) -> Result<Vec<TaskRow>> {
                    let mut q = QueryBuilder::<$Db>::new("SELECT * FROM staff_tasks WHERE workspace_id = ");
                    q.push_bind(ws.to_owned());
                    if let Some(a) = &f.assignee {
                        q.push(" AND assignee = ").push_bind(a.clone());
                    }
                    if let Some(p) = &f.pool {
                        q.push(" AND pool = ").push_bind(p.clone());
                    }
                    if let Some(m) = &f.member_id {
                        q.push(" AND member_id = ").push_bind(m.clone());
                    }
                    if let Some(c) = &f.member_store {
                        q.push(" AND member_id IN (SELECT member_id FROM member_stores WHERE workspace_id = ")
                            .push_bind(ws.to_owned()).push(" AND store_code = ").push_bind(c.clone()).push(")");
                    }
                    if let Some(c) = &f.member_staff {
                        q.push(" AND member_id IN (SELECT member_id FROM member_stores WHERE workspace_id = ")
                            .push_bind(ws.to_owned()).push(" AND staff_code = ").push_bind(c.clone()).push(")");
                    }
                    if let Some(d) = &f.due_date {
                        q.push(" AND status = 'open' AND due_date = ").push_bind(d.clone());
                    }
                    if let Some(t) = f.due_on_day_of {
                        q.push(" AND status = 'open' AND day_start <= ").push_bind(t).push(" AND day_end > ").push_bind(t);
                    }
                    if let Some(t) = f.overdue_at {
                        q.push(" AND status = 'open' AND due_to < ").push_bind(t);
                    }
                    if let Some(a) = after {
                        q.push(" AND id > ").push_bind(a.to_owned());
                    }
                    q.push(" ORDER BY id LIMIT ").push_bind(limit);
                    Ok(q.build_query_as::<TaskRow>().fetch_all(self.reader()).await?)
                }

                async fn task_sla(&self, ws: &str, from: Millis, to: Millis, assignee: Option<&str>, now: Millis) -> Result<[i64; 4]> {
                    let count = |cond: &str| {
                        format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)")
                    };
                    let sql = format!(
                        "SELECT {}, {}, {}, {} FROM staff_tasks WHERE workspace_id = $2 AND due_from >= $3 \
                         AND due_from < $4 AND ($5 IS NULL OR assignee = $5)",
                        count("status = 'done' AND done_at <= due_to"),
                        count("status = 'done' AND done_at > due_to"),
                        count("status = 'open' AND due_to < $1"),
                        count("status = 'open' AND due_to >= $1"),
                    );
                    let (a, b, c, d): (i64, i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(now)
                        .bind(ws)
                        .bind(from)
                        .bind(to)
                        .bind(assignee)
                        .fetch_one(self.reader())
                        .await?;
                    Ok([a, b, c, d])
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn task(&self, ws: &str, id: &str) -> Result<Option<TaskRow>> {
                    Ok(sqlx::query_as::<_, TaskRow>("SELECT * FROM staff_tasks WHERE workspace_id = $1 AND id = $2")
                        .bind(ws)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?)
                }
            }

            #[async_trait]
            impl CampaignsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_campaign(&mut self, row: &CampaignRow) -> Result<bool> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO campaigns ({CAMPAIGN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (workspace_id, idempotency_key) DO NOTHING"
                    )))
                    .bind(&row.id)
                    .bind(&row.workspace_id)
                    .bind(&row.name)
                    .bind(&row.kind)
                    .bind(&row.status)
                    .bind(&row.spec)
                    .bind(&row.segment_id)
                    .bind(&row.channel)
                    .bind(&row.idempotency_key)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.launched_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn campaign_in_tx(&mut self, id: &str) -> Result<Option<CampaignRow>> {
                    Ok(sqlx::query_as::<_, CampaignRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {CAMPAIGN_COLS} FROM campaigns WHERE workspace_id = $1 AND id = $2"
                    )))
                    .bind(&self.ws)
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_campaign_status(&mut self, id: &str, status: &str, at: Millis, launched_at: Option<Millis>) -> Result<()> {
                    sqlx::query(
                        "UPDATE campaigns SET status = $3, updated_at = $4, launched_at = COALESCE(launched_at, $5) \
                         WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(&self.ws)
                    .bind(id)
                    .bind(status)
                    .bind(at)
                    .bind(launched_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_messages(&mut self, rows: &[MessageRow]) -> Result<u64> {
                    let mut added = 0;
                    for chunk in rows.chunks(crate::CHUNK / 20) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO campaign_messages ({MESSAGE_COLS}) "));
                        q.push_values(chunk, |mut b, m| {
                            b.push_bind(m.id.clone())
                                .push_bind(m.workspace_id.clone())
                                .push_bind(m.campaign_id.clone())
                                .push_bind(m.step.clone())
                                .push_bind(m.member_id.clone())
                                .push_bind(m.occurrence.clone())
                                .push_bind(m.channel.clone())
                                .push_bind(m.transactional)
                                .push_bind(m.status.clone())
                                .push_bind(m.held_reason.clone())
                                .push_bind(m.deferred.clone())
                                .push_bind(m.due_at)
                                .push_bind(m.lease_id.clone())
                                .push_bind(m.attempts)
                                .push_bind(m.last_error.clone())
                                .push_bind(m.token.clone())
                                .push_bind(m.sent_at)
                                .push_bind(m.created_at)
                                .push_bind(m.updated_at);
                        });
                        q.push(" ON CONFLICT (workspace_id, campaign_id, step, member_id, occurrence) DO NOTHING");
                        added += q
                            .build()
                            .persistent(crate::reusable(chunk.len(), crate::CHUNK / 20))
                            .execute(&mut *self.tx)
                            .await?
                            .rows_affected();
                    }
                    Ok(added)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn cancel_messages(&mut self, campaign_id: &str, at: Millis) -> Result<u64> {
                    let r = sqlx::query(
                        "UPDATE campaign_messages SET status = 'cancelled', lease_id = NULL, updated_at = $3 \
                         WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'pending'",
                    )
                    .bind(&self.ws)
                    .bind(campaign_id)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_unsubscribe(&mut self, member_id: &str, channel: &str, message_id: &str, at: Millis) -> Result<bool> {
                    let r = sqlx::query(
                        "INSERT INTO campaign_unsubscribes (workspace_id, member_id, channel, message_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, member_id, channel) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .bind(channel)
                    .bind(message_id)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn mark_inbox_read(&mut self, member_id: &str, id: &str, at: Millis) -> Result<bool> {
                    let r = sqlx::query(
                        "UPDATE inbox_messages SET read_at = COALESCE(read_at, $4) \
                         WHERE workspace_id = $1 AND member_id = $2 AND id = $3",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .bind(id)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_task(&mut self, row: &TaskRow) -> Result<bool> {
                    let r = sqlx::query(
                        "INSERT INTO staff_tasks (id, workspace_id, member_id, assignee, pool, title, note, due_from, \
                         due_to, due_date, day_start, day_end, status, outcome, notes, callback_at, idempotency_key, created_at, \
                         updated_at, done_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                         ON CONFLICT (workspace_id, idempotency_key) DO NOTHING",
                    )
                    .bind(&row.id)
                    .bind(&row.workspace_id)
                    .bind(&row.member_id)
                    .bind(&row.assignee)
                    .bind(&row.pool)
                    .bind(&row.title)
                    .bind(&row.note)
                    .bind(row.due_from)
                    .bind(row.due_to)
                    .bind(&row.due_date)
                    .bind(row.day_start)
                    .bind(row.day_end)
                    .bind(&row.status)
                    .bind(&row.outcome)
                    .bind(&row.notes)
                    .bind(row.callback_at)
                    .bind(&row.idempotency_key)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .bind(row.done_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn task_in_tx(&mut self, id: &str) -> Result<Option<TaskRow>> {
                    Ok(sqlx::query_as::<_, TaskRow>("SELECT * FROM staff_tasks WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .fetch_optional(&mut *self.tx)
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_task(&mut self, row: &TaskRow) -> Result<()> {
                    sqlx::query(
                        "UPDATE staff_tasks SET assignee = $3, pool = $4, due_from = $5, due_to = $6, due_date = $7, \
                         status = $8, outcome = $9, notes = $10, callback_at = $11, updated_at = $12, done_at = $13, \
                         day_start = $14, day_end = $15 \
                         WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(&self.ws)
                    .bind(&row.id)
                    .bind(&row.assignee)
                    .bind(&row.pool)
                    .bind(row.due_from)
                    .bind(row.due_to)
                    .bind(&row.due_date)
                    .bind(&row.status)
                    .bind(&row.outcome)
                    .bind(&row.notes)
                    .bind(row.callback_at)
                    .bind(row.updated_at)
                    .bind(row.done_at)
                    .bind(row.day_start)
                    .bind(row.day_end)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_campaigns;
