//! Reads behind the lists operators page through: tags with their member counts and a
//! tag's members, a member's invitees, growth ledger and events of some types, the
//! loyalty program's versions and audit. Each read takes the previous page's last key and
//! one more row than the page holds (the application cuts the page).

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;
use crate::{EventRow, GrowthLine, ProgramRow};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCount {
    pub tag: String,
    /// Members holding the tag from any source, each counted once.
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMemberRow {
    pub member_id: String,
    pub external_id: String,
    /// `profile`, `manual` and/or `rule`, sorted.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteeRow {
    pub member_id: String,
    pub external_id: String,
    pub bound_at: Millis,
    pub status: String,
    pub qualified_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub member_id: Option<String>,
    /// JSON.
    pub detail: String,
}

#[async_trait]
pub trait ListsStore: Send + Sync {
    /// Tags in name order after `after`, with the members holding each.
    async fn tag_page(&self, ws: &str, after: Option<&str>, limit: i64) -> Result<Vec<TagCount>>;
    /// Members holding `tag` (from any source), by id after `after`.
    async fn tag_members(
        &self,
        ws: &str,
        tag: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TagMemberRow>>;
    /// The members `referrer` invited, oldest binding first, after `(bound_at, invitee)`.
    async fn invitees(
        &self,
        ws: &str,
        referrer: &str,
        after: Option<(Millis, String)>,
        limit: i64,
    ) -> Result<Vec<InviteeRow>>;
    /// A member's growth ledger, newest first, before line `before`.
    async fn growth_page(
        &self,
        ws: &str,
        member_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<GrowthLine>>;
    /// Saved program versions, newest first, before version `before`.
    async fn program_versions(
        &self,
        ws: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ProgramRow>>;
    /// The loyalty audit, newest first, before entry `before`.
    async fn loyalty_audit_page(
        &self,
        ws: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>>;
    /// A member's events of these types (all types when empty), newest first.
    async fn member_events_page(
        &self,
        ws: &str,
        member_id: &str,
        types: &[String],
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>>;
}

/// The members holding each tag, one row per (member, tag, source): profile tags are a
/// JSON array on the member row, manual and rule tags rows of `member_tags`.
pub(crate) fn tag_rows(sqlite: bool) -> &'static str {
    if sqlite {
        "SELECT m.id AS member_id, j.value AS tag, 'profile' AS source FROM members m, json_each(m.tags) j \
         WHERE m.workspace_id = $1 AND j.type = 'text' \
         UNION ALL SELECT member_id, tag, source FROM member_tags WHERE workspace_id = $1"
    } else {
        "SELECT m.id AS member_id, j.value AS tag, 'profile' AS source FROM members m, \
         jsonb_array_elements_text(CASE WHEN jsonb_typeof(m.tags::jsonb) = 'array' THEN m.tags::jsonb ELSE '[]'::jsonb END) j(value) \
         WHERE m.workspace_id = $1 \
         UNION ALL SELECT member_id, tag, source FROM member_tags WHERE workspace_id = $1"
    }
}

macro_rules! impl_lists {
    ($Store:ty, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::error::Result;
            use crate::lists::*;
            use memberops_core::time::Millis;
            use crate::{EventRow, GrowthLine, ProgramRow};

            fn sqlite() -> bool {
                <$Db as sqlx::Database>::NAME == "SQLite"
            }

            #[async_trait]
            impl ListsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn tag_page(&self, ws: &str, after: Option<&str>, limit: i64) -> Result<Vec<TagCount>> {
                    let (filter, lim) = if after.is_some() { ("WHERE tag > $2", "$3") } else { ("", "$2") };
                    let sql = format!(
                        "SELECT tag, COUNT(DISTINCT member_id) AS members FROM ({}) t {filter} GROUP BY tag ORDER BY tag LIMIT {lim}",
                        tag_rows(sqlite())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws);
                    if let Some(a) = after {
                        q = q.bind(a.to_owned());
                    }
                    q.bind(limit)
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| Ok(TagCount { tag: r.try_get("tag")?, members: r.try_get("members")? }))
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tag_members(&self, ws: &str, tag: &str, after: Option<&str>, limit: i64) -> Result<Vec<TagMemberRow>> {
                    let base = format!(
                        "SELECT t.member_id, m.external_id, t.source FROM ({}) t JOIN members m ON m.id = t.member_id WHERE t.tag = $2",
                        tag_rows(sqlite())
                    );
                    // The page's members first, then every source of each.
                    let mut ids_sql = format!("SELECT DISTINCT member_id FROM ({base}) p");
                    if after.is_some() {
                        ids_sql.push_str(" WHERE member_id > $3 ORDER BY member_id LIMIT $4");
                    } else {
                        ids_sql.push_str(" ORDER BY member_id LIMIT $3");
                    }
                    let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(ids_sql)).bind(ws).bind(tag);
                    if let Some(a) = after {
                        q = q.bind(a.to_owned());
                    }
                    let ids = q.bind(limit).fetch_all(self.reader()).await?;
                    let (Some(first), Some(last)) = (ids.first(), ids.last()) else { return Ok(Vec::new()) };
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "{base} AND t.member_id >= $3 AND t.member_id <= $4 ORDER BY t.member_id, t.source"
                    )))
                    .bind(ws)
                    .bind(tag)
                    .bind(first)
                    .bind(last)
                    .fetch_all(self.reader())
                    .await?;
                    let mut out: Vec<TagMemberRow> = Vec::with_capacity(ids.len());
                    for r in rows {
                        let id: String = r.try_get("member_id")?;
                        let source: String = r.try_get("source")?;
                        match out.last_mut() {
                            Some(last) if last.member_id == id => {
                                if !last.sources.contains(&source) {
                                    last.sources.push(source);
                                }
                            }
                            _ => out.push(TagMemberRow { member_id: id, external_id: r.try_get("external_id")?, sources: vec![source] }),
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn invitees(&self, ws: &str, referrer: &str, after: Option<(Millis, String)>, limit: i64) -> Result<Vec<InviteeRow>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT r.invitee_id, m.external_id, r.bound_at, r.status, r.qualified_at FROM referrals r \
                         JOIN members m ON m.id = r.invitee_id WHERE r.referrer_id = ",
                    );
                    q.push_bind(referrer.to_owned()).push(" AND r.workspace_id = ").push_bind(ws.to_owned());
                    if let Some((at, id)) = after {
                        q.push(" AND (r.bound_at > ").push_bind(at).push(" OR (r.bound_at = ").push_bind(at);
                        q.push(" AND r.invitee_id > ").push_bind(id).push("))");
                    }
                    q.push(" ORDER BY r.bound_at, r.invitee_id LIMIT ").push_bind(limit);
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(InviteeRow {
                                member_id: r.try_get("invitee_id")?,
                                external_id: r.try_get("external_id")?,
                                bound_at: r.try_get("bound_at")?,
                                status: r.try_get("status")?,
                                qualified_at: r.try_get("qualified_at")?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn growth_page(&self, ws: &str, member_id: &str, before: Option<i64>, limit: i64) -> Result<Vec<GrowthLine>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT seq, member_id, at, growth, kind, event_id, rule_id, order_id FROM growth_ledger WHERE member_id = ",
                    );
                    q.push_bind(member_id.to_owned()).push(" AND workspace_id = ").push_bind(ws.to_owned());
                    if let Some(b) = before {
                        q.push(" AND seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(GrowthLine {
                                seq: r.try_get("seq")?,
                                member_id: r.try_get("member_id")?,
                                at: r.try_get("at")?,
                                growth: r.try_get("growth")?,
                                kind: r.try_get("kind")?,
                                event_id: r.try_get("event_id")?,
                                rule_id: r.try_get("rule_id")?,
                                order_id: r.try_get("order_id")?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn program_versions(&self, ws: &str, before: Option<i64>, limit: i64) -> Result<Vec<ProgramRow>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT version, program, created_at, created_by FROM loyalty_programs WHERE workspace_id = ",
                    );
                    q.push_bind(ws.to_owned());
                    if let Some(b) = before {
                        q.push(" AND version < ").push_bind(b);
                    }
                    q.push(" ORDER BY version DESC LIMIT ").push_bind(limit);
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(ProgramRow {
                                version: r.try_get("version")?,
                                program: r.try_get("program")?,
                                created_at: r.try_get("created_at")?,
                                created_by: r.try_get("created_by")?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_audit_page(&self, ws: &str, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT seq, at, actor, action, member_id, detail FROM loyalty_audit WHERE workspace_id = ",
                    );
                    q.push_bind(ws.to_owned());
                    if let Some(b) = before {
                        q.push(" AND seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(AuditEntry {
                                seq: r.try_get("seq")?,
                                at: r.try_get("at")?,
                                actor: r.try_get("actor")?,
                                action: r.try_get("action")?,
                                member_id: r.try_get("member_id")?,
                                detail: r.try_get("detail")?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_events_page(
                    &self,
                    ws: &str,
                    member_id: &str,
                    types: &[String],
                    before: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<EventRow>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT seq, id, member_id, type, occurred_at, received_at, properties FROM events WHERE member_id = ",
                    );
                    q.push_bind(member_id.to_owned()).push(" AND workspace_id = ").push_bind(ws.to_owned());
                    if !types.is_empty() {
                        q.push(" AND type IN (");
                        let mut sep = q.separated(", ");
                        for t in types {
                            sep.push_bind(t.clone());
                        }
                        q.push(")");
                    }
                    if let Some(b) = before {
                        q.push(" AND seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| {
                            Ok(EventRow {
                                seq: r.try_get("seq")?,
                                id: r.try_get("id")?,
                                member_id: r.try_get("member_id")?,
                                kind: r.try_get("type")?,
                                occurred_at: r.try_get("occurred_at")?,
                                received_at: r.try_get("received_at")?,
                                properties: r.try_get("properties")?,
                            })
                        })
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_lists;
