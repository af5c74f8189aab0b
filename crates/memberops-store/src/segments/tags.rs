//! Member tags (标签) inside the write transaction: manual tags added and removed, and the
//! rule tags a condition keeps up to date.

use async_trait::async_trait;

use memberops_core::time::Millis;

use crate::error::Result;

#[async_trait]
pub trait TagsTx: Send {
    /// Adds `tag` from `source` to members; returns how many were new.
    async fn add_tags(
        &mut self,
        tag: &str,
        source: &str,
        member_ids: &[&str],
        at: Millis,
    ) -> Result<u64>;
    /// Removes `tag` from `source` (all sources when `None`); returns how many went.
    async fn remove_tags(
        &mut self,
        tag: &str,
        source: Option<&str>,
        member_ids: &[&str],
    ) -> Result<u64>;
    /// Replaces the members holding the rule tag `tag` by those matching `where_sql`.
    /// Returns (added, removed).
    async fn refresh_rule_tag(
        &mut self,
        tag: &str,
        where_sql: &str,
        at: Millis,
    ) -> Result<(u64, u64)>;
    async fn upsert_tag_rule(&mut self, tag: &str, condition: &str, at: Millis) -> Result<()>;
    async fn delete_tag_rule(&mut self, tag: &str) -> Result<bool>;
}

macro_rules! impl_tags {
    ($Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::QueryBuilder;

            use crate::CHUNK;
            use crate::error::Result;
            use crate::segments::{SEGMENT_FROM, TagsTx};

            #[async_trait]
            impl TagsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn add_tags(&mut self, tag: &str, source: &str, member_ids: &[&str], at: Millis) -> Result<u64> {
                    let mut n = 0;
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO member_tags (workspace_id, member_id, tag, source, created_at) ");
                        q.push_values(chunk, |mut b, id| {
                            b.push_bind(self.ws.clone()).push_bind((*id).to_owned()).push_bind(tag.to_owned()).push_bind(source.to_owned()).push_bind(at);
                        });
                        q.push(" ON CONFLICT (member_id, tag, source) DO NOTHING");
                        n += q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?.rows_affected();
                    }
                    Ok(n)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn remove_tags(&mut self, tag: &str, source: Option<&str>, member_ids: &[&str]) -> Result<u64> {
                    let mut n = 0;
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("DELETE FROM member_tags WHERE workspace_id = ");
                        q.push_bind(self.ws.clone()).push(" AND tag = ").push_bind(tag.to_owned());
                        if let Some(s) = source {
                            q.push(" AND source = ").push_bind(s.to_owned());
                        }
                        q.push(" AND member_id IN ");
                        q.push("(");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        n += q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?.rows_affected();
                    }
                    Ok(n)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn refresh_rule_tag(&mut self, tag: &str, where_sql: &str, at: Millis) -> Result<(u64, u64)> {
                    let removed = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM member_tags WHERE workspace_id = $1 AND tag = $2 AND source = 'rule' AND member_id NOT IN \
                         (SELECT m.id FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql}))"
                    )))
                    .bind(&self.ws)
                    .bind(tag)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                    let added = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO member_tags (workspace_id, member_id, tag, source, created_at) \
                         SELECT $1, m.id, $2, 'rule', $3 FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql}) \
                         ON CONFLICT (member_id, tag, source) DO NOTHING"
                    )))
                    .bind(&self.ws)
                    .bind(tag)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                    sqlx::query("UPDATE tag_rules SET refreshed_at = $1 WHERE workspace_id = $2 AND tag = $3")
                        .bind(at)
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok((added, removed))
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_tag_rule(&mut self, tag: &str, condition: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO tag_rules (workspace_id, tag, condition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (workspace_id, tag) DO UPDATE SET condition = excluded.condition, updated_at = excluded.updated_at",
                    )
                    .bind(&self.ws)
                    .bind(tag)
                    .bind(condition)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn delete_tag_rule(&mut self, tag: &str) -> Result<bool> {
                    let n = sqlx::query("DELETE FROM tag_rules WHERE workspace_id = $1 AND tag = $2")
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?
                        .rows_affected();
                    sqlx::query("DELETE FROM member_tags WHERE workspace_id = $1 AND tag = $2 AND source = 'rule'")
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(n > 0)
                }
            }
        };
    };
}
pub(crate) use impl_tags;
