//! Storage for Segment-compatible tracking: anonymous ids and the members they belong to,
//! identity conflicts, rejected messages, and moving an anonymous profile's history onto
//! the member it turned out to be.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::MemberRecord;

pub const STATE_ANONYMOUS: &str = "anonymous";
pub const STATE_MERGED: &str = "merged";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub workspace_id: String,
    pub anonymous_id: String,
    pub member_id: String,
    pub member_external_id: String,
    /// [`STATE_ANONYMOUS`] or [`STATE_MERGED`].
    pub state: String,
    pub merged_from: Option<String>,
    pub first_seen_at: i64,
    pub merged_at: Option<i64>,
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConflictRow {
    pub workspace_id: String,
    pub anonymous_id: String,
    /// The member that claimed the id.
    pub member_id: String,
    /// The member the id was merged into first.
    pub owner_member_id: String,
    pub message_id: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingIssueRow {
    pub workspace_id: String,
    /// Stable per message and reason, so a replayed batch records nothing new.
    pub id: String,
    pub message_id: Option<String>,
    pub severity: String,
    pub code: String,
    pub detail: String,
    pub payload: String,
    pub received_at: i64,
}

/// Writes inside the batch transaction.
#[async_trait]
pub trait TrackingTx: Send {
    async fn identities_by_anonymous_ids(&mut self, ids: &[&str]) -> Result<Vec<IdentityRow>>;
    /// Inserts or replaces the rows of these anonymous ids (each at most once).
    async fn upsert_identities(&mut self, rows: &[IdentityRow]) -> Result<()>;
    /// Members by external id, for a profile update.
    async fn members_for_update(&mut self, external_ids: &[&str]) -> Result<Vec<MemberRecord>>;
    /// Rewrites the profile columns of these stored members in one statement.
    async fn save_member_profiles(&mut self, rows: &[MemberRecord]) -> Result<()>;
    /// Records a conflict once (a repeat is ignored).
    async fn insert_identity_conflict(&mut self, row: &IdentityConflictRow) -> Result<()>;
    /// Moves every event and order of member `from` to member `to`, then deletes `from`
    /// and its aggregates.
    async fn move_member_history(&mut self, from: &str, to: &str) -> Result<()>;
    /// Recomputes event count and last activity of a member from its events (the
    /// member's own: the system events MemberOps records are not activity).
    async fn refresh_activity(&mut self, member_id: &str) -> Result<()>;
    /// Records issues once each (repeats by id are ignored).
    async fn insert_tracking_issues(&mut self, rows: &[TrackingIssueRow]) -> Result<()>;
}

/// Reads.
#[async_trait]
pub trait TrackingStore: Send + Sync {
    /// A member's anonymous ids, and the conflicts where it is claimant or owner.
    async fn member_identities(
        &self,
        workspace_id: &str,
        member_id: &str,
    ) -> Result<(Vec<IdentityRow>, Vec<IdentityConflictRow>)>;
    /// Newest first.
    /// Newest first; `after` is the `(received_at, id)` of the last row of the previous page.
    async fn tracking_issues(
        &self,
        workspace_id: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<TrackingIssueRow>>;
}

pub(crate) const IDENTITY_COLUMNS: &str = "workspace_id, anonymous_id, member_id, member_external_id, state, merged_from, \
     first_seen_at, merged_at, message_id";

macro_rules! impl_tracking {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        mod tracking_impl {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            #[allow(unused_imports)]
            use super::*;
            use crate::error::Result;
                        use crate::tracking::*;

            fn identity_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<IdentityRow> {
                Ok(IdentityRow {
                    workspace_id: r.try_get("workspace_id")?,
                    anonymous_id: r.try_get("anonymous_id")?,
                    member_id: r.try_get("member_id")?,
                    member_external_id: r.try_get("member_external_id")?,
                    state: r.try_get("state")?,
                    merged_from: r.try_get("merged_from")?,
                    first_seen_at: r.try_get("first_seen_at")?,
                    merged_at: r.try_get("merged_at")?,
                    message_id: r.try_get("message_id")?,
                })
            }

            fn conflict_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<IdentityConflictRow> {
                Ok(IdentityConflictRow {
                    workspace_id: r.try_get("workspace_id")?,
                    anonymous_id: r.try_get("anonymous_id")?,
                    member_id: r.try_get("member_id")?,
                    owner_member_id: r.try_get("owner_member_id")?,
                    message_id: r.try_get("message_id")?,
                    at: r.try_get("at")?,
                })
            }

            #[async_trait]
            impl TrackingTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn identities_by_anonymous_ids(&mut self, ids: &[&str]) -> Result<Vec<IdentityRow>> {
                    let mut out = Vec::new();
                    for chunk in ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("SELECT {IDENTITY_COLUMNS} FROM member_identities WHERE workspace_id = "));
                        q.push_bind(self.ws.clone());
                        q.push(" AND anonymous_id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        for row in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(identity_from_row(&row)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_identities(&mut self, rows: &[IdentityRow]) -> Result<()> {
                    for chunk in rows.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO member_identities ({IDENTITY_COLUMNS}) "));
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.anonymous_id.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.member_external_id.clone())
                                .push_bind(r.state.clone())
                                .push_bind(r.merged_from.clone())
                                .push_bind(r.first_seen_at)
                                .push_bind(r.merged_at)
                                .push_bind(r.message_id.clone());
                        });
                        q.push(
                            " ON CONFLICT (workspace_id, anonymous_id) DO UPDATE SET member_id = excluded.member_id, \
                             member_external_id = excluded.member_external_id, state = excluded.state, \
                             merged_from = excluded.merged_from, merged_at = excluded.merged_at, message_id = excluded.message_id",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn members_for_update(&mut self, external_ids: &[&str]) -> Result<Vec<MemberRecord>> {
                    let mut out = Vec::with_capacity(external_ids.len());
                    for chunk in external_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!(
                            "SELECT {} FROM members WHERE workspace_id = ",
                            crate::backend::MEMBER_COLUMNS
                        ));
                        q.push_bind(self.ws.clone());
                        q.push(" AND external_id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        for row in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(super::member_from_row(&row)?.0);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn save_member_profiles(&mut self, rows: &[MemberRecord]) -> Result<()> {
                    for chunk in rows.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO members ({}) ", crate::backend::MEMBER_COLUMNS));
                        q.push_values(chunk, |mut b, m| {
                            let p = &m.profile;
                            let c = crate::backend::profile_cols(p);
                            b.push_bind(m.id.clone())
                                .push_bind(m.workspace_id.clone())
                                .push_bind(m.external_id.clone())
                                .push_bind(p.phone.clone())
                                .push_bind(p.email.clone())
                                .push_bind(p.name.clone())
                                .push_bind(c.gender)
                                .push_bind(c.birthday)
                                .push_bind(p.income_band.clone())
                                .push_bind(p.region.clone())
                                .push_bind(p.channel.clone())
                                .push_bind(p.registered_at)
                                .push_bind(c.time_zone)
                                .push_bind(c.consent)
                                .push_bind(c.attributes)
                                .push_bind(c.tags)
                                .push_bind(m.created_at)
                                .push_bind(m.updated_at);
                        });
                        // The rows exist: this only rewrites their profile columns.
                        q.push(
                            " ON CONFLICT (workspace_id, external_id) DO UPDATE SET phone = excluded.phone, \
                             email = excluded.email, name = excluded.name, gender = excluded.gender, \
                             birthday = excluded.birthday, income_band = excluded.income_band, region = excluded.region, \
                             channel = excluded.channel, registered_at = excluded.registered_at, \
                             time_zone = excluded.time_zone, consent = excluded.consent, attributes = excluded.attributes, \
                             tags = excluded.tags, updated_at = excluded.updated_at",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_identity_conflict(&mut self, r: &IdentityConflictRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO identity_conflicts (workspace_id, anonymous_id, member_id, owner_member_id, message_id, at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, anonymous_id, member_id) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(&r.anonymous_id)
                    .bind(&r.member_id)
                    .bind(&r.owner_member_id)
                    .bind(&r.message_id)
                    .bind(r.at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn move_member_history(&mut self, from: &str, to: &str) -> Result<()> {
                    // Orders are event rows: they move with the events.
                    sqlx::query("UPDATE events SET member_id = $1 WHERE workspace_id = $2 AND member_id = $3")
                        .bind(to)
                        .bind(&self.ws)
                        .bind(from)
                        .execute(&mut *self.tx)
                        .await?;
                    sqlx::query("DELETE FROM member_stats WHERE workspace_id = $1 AND member_id = $2")
                        .bind(&self.ws)
                        .bind(from)
                        .execute(&mut *self.tx)
                        .await?;
                    sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(from)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn refresh_activity(&mut self, member_id: &str) -> Result<()> {
                    let sql = format!(
                        "INSERT INTO member_stats (member_id, workspace_id, last_active_at, event_count) \
                         SELECT $1, $2, MAX(occurred_at), CAST(COUNT(*) AS BIGINT) FROM events \
                         WHERE workspace_id = $2 AND member_id = $1 AND {} \
                         ON CONFLICT (member_id) DO UPDATE SET last_active_at = excluded.last_active_at, \
                         event_count = excluded.event_count",
                        crate::backend::activity_only("type")
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(member_id)
                    .bind(&self.ws)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_tracking_issues(&mut self, rows: &[TrackingIssueRow]) -> Result<()> {
                    for chunk in rows.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO tracking_issues (workspace_id, id, message_id, severity, code, detail, payload, received_at) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.id.clone())
                                .push_bind(r.message_id.clone())
                                .push_bind(r.severity.clone())
                                .push_bind(r.code.clone())
                                .push_bind(r.detail.clone())
                                .push_bind(r.payload.clone())
                                .push_bind(r.received_at);
                        });
                        q.push(" ON CONFLICT (workspace_id, id) DO NOTHING");
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }
            }

            #[async_trait]
            impl TrackingStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_identities(
                    &self,
                    workspace_id: &str,
                    member_id: &str,
                ) -> Result<(Vec<IdentityRow>, Vec<IdentityConflictRow>)> {
                    let sql = format!(
                        "SELECT {IDENTITY_COLUMNS} FROM member_identities WHERE workspace_id = $1 AND member_id = $2 \
                         ORDER BY first_seen_at, anonymous_id"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(workspace_id)
                        .bind(member_id)
                        .fetch_all(self.reader())
                        .await?;
                    let ids = rows.iter().map(identity_from_row).collect::<Result<Vec<_>>>()?;
                    let rows = sqlx::query(
                        "SELECT workspace_id, anonymous_id, member_id, owner_member_id, message_id, at FROM identity_conflicts \
                         WHERE workspace_id = $1 AND (member_id = $2 OR owner_member_id = $2) ORDER BY at, anonymous_id",
                    )
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?;
                    let conflicts = rows.iter().map(conflict_from_row).collect::<Result<Vec<_>>>()?;
                    Ok((ids, conflicts))
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tracking_issues(&self, workspace_id: &str, after: Option<(i64, &str)>, limit: i64) -> Result<Vec<TrackingIssueRow>> {
                    // Without a cursor the bounds let every row through.
                    let (at, id) = after.unwrap_or((i64::MAX, ""));
                    let rows = sqlx::query(
                        "SELECT workspace_id, id, message_id, severity, code, detail, payload, received_at FROM tracking_issues \
                         WHERE workspace_id = $1 AND (received_at < $2 OR (received_at = $2 AND id > $3)) \
                         ORDER BY received_at DESC, id LIMIT $4",
                    )
                    .bind(workspace_id)
                    .bind(at)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(TrackingIssueRow {
                                workspace_id: r.try_get("workspace_id")?,
                                id: r.try_get("id")?,
                                message_id: r.try_get("message_id")?,
                                severity: r.try_get("severity")?,
                                code: r.try_get("code")?,
                                detail: r.try_get("detail")?,
                                payload: r.try_get("payload")?,
                                received_at: r.try_get("received_at")?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_tracking;
