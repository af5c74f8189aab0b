//! Privacy: every row held about one member (found through the schema, so tables added
//! later are exported too), and the erasure of a member's personal data.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::Result;

/// Columns that name a member: a table holding one of them holds data about the member.
pub const MEMBER_COLUMNS: &[&str] = &["member_id", "referrer_id", "invitee_id", "owner_member_id"];

/// The rows of one table about a member, as JSON objects.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub table: String,
    pub rows: Vec<Map<String, Value>>,
}

#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Every row of every table that names the member (`members` by its id, the others
    /// by a [`MEMBER_COLUMNS`] column), tables in name order.
    async fn member_rows(&self, ws: &str, member_id: &str) -> Result<Vec<TableRows>>;
}

/// What erasing does to rows beyond the member's profile.
#[async_trait]
pub trait PrivacyTx: Send {
    /// Replaces the member's external id (the brand's key for it).
    async fn set_external_id(&mut self, member_id: &str, external_id: &str) -> Result<()>;
    /// Deletes the member's linked identities (anonymous ids, identity conflicts).
    async fn delete_identities(&mut self, member_id: &str) -> Result<u64>;
    /// The member's events (seq, type, properties JSON).
    async fn member_event_properties(
        &mut self,
        member_id: &str,
    ) -> Result<Vec<(i64, String, String)>>;
    async fn set_event_properties(&mut self, seq: i64, properties: &str) -> Result<()>;
    /// The anonymous ids linked to the member (read before [`Self::delete_identities`]).
    async fn member_anonymous_ids(&mut self, member_id: &str) -> Result<Vec<String>>;
    /// Refused Tracking API messages (`tracking_issues`: id, raw payload) whose payload
    /// contains `needle` anywhere; the caller checks which really name the member.
    async fn tracking_issues_containing(&mut self, needle: &str) -> Result<Vec<(String, String)>>;
    async fn delete_tracking_issue(&mut self, id: &str) -> Result<()>;
}

macro_rules! impl_privacy {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{Column, Row};

            use crate::error::Result;
            use crate::privacy::*;
            use serde_json::{Map, Value};

            /// A column's value as JSON, whatever its type (JSON held as text is parsed).
            fn value_of(r: &<$Db as sqlx::Database>::Row, i: usize) -> Value {
                if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                    return v.map_or(Value::Null, Value::from);
                }
                if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                    return v.map_or(Value::Null, Value::from);
                }
                if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
                    return v.map_or(Value::Null, Value::from);
                }
                if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
                    return v.map_or(Value::Null, Value::from);
                }
                match r.try_get::<Option<String>, _>(i) {
                    Ok(Some(s)) if s.starts_with('{') || s.starts_with('[') => {
                        serde_json::from_str(&s).unwrap_or(Value::String(s))
                    }
                    Ok(Some(s)) => Value::String(s),
                    _ => Value::Null,
                }
            }

            #[async_trait]
            impl PrivacyStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_rows(&self, _ws: &str, member_id: &str) -> Result<Vec<TableRows>> {
                    let sql = if <$Db as sqlx::Database>::NAME == "SQLite" {
                        "SELECT m.name AS tbl, p.name AS col FROM sqlite_master m, pragma_table_info(m.name) p \
                         WHERE m.type = 'table' ORDER BY m.name, p.cid"
                    } else {
                        "SELECT table_name::text AS tbl, column_name::text AS col FROM information_schema.columns \
                         WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
                    };
                    let cols = sqlx::query(sql).fetch_all(self.reader()).await?;
                    let mut by_table: Vec<(String, Vec<String>)> = Vec::new();
                    for r in &cols {
                        let (t, c): (String, String) = (r.try_get("tbl")?, r.try_get("col")?);
                        let holds = (t == "members" && c == "id") || MEMBER_COLUMNS.contains(&c.as_str());
                        if !holds || t.starts_with("_sqlx") || t.ends_with("_new") {
                            continue;
                        }
                        match by_table.last_mut() {
                            Some((last, cs)) if *last == t => cs.push(c),
                            _ => by_table.push((t, vec![c])),
                        }
                    }
                    let mut out = Vec::new();
                    for (table, columns) in by_table {
                        let cond = columns
                            .iter()
                            .map(|c| format!("\"{c}\" = $1"))
                            .collect::<Vec<_>>()
                            .join(" OR ");
                        let sql = format!("SELECT * FROM \"{table}\" WHERE {cond}");
                        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(member_id)
                            .fetch_all(self.reader())
                            .await?;
                        if rows.is_empty() {
                            continue;
                        }
                        let rows = rows
                            .iter()
                            .map(|r| {
                                r.columns()
                                    .iter()
                                    .map(|c| (c.name().to_owned(), value_of(r, c.ordinal())))
                                    .collect::<Map<String, Value>>()
                            })
                            .collect();
                        out.push(TableRows { table, rows });
                    }
                    Ok(out)
                }
            }

            #[async_trait]
            impl PrivacyTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_external_id(&mut self, member_id: &str, external_id: &str) -> Result<()> {
                    sqlx::query("UPDATE members SET external_id = $1 WHERE workspace_id = $2 AND id = $3")
                        .bind(external_id)
                        .bind(&self.ws)
                        .bind(member_id)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn delete_identities(&mut self, member_id: &str) -> Result<u64> {
                    let a = sqlx::query("DELETE FROM member_identities WHERE workspace_id = $1 AND member_id = $2")
                        .bind(&self.ws)
                        .bind(member_id)
                        .execute(&mut *self.tx)
                        .await?;
                    let b = sqlx::query(
                        "DELETE FROM identity_conflicts WHERE workspace_id = $1 AND (member_id = $2 OR owner_member_id = $2)",
                    )
                    .bind(&self.ws)
                    .bind(member_id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(a.rows_affected() + b.rows_affected())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_event_properties(&mut self, member_id: &str) -> Result<Vec<(i64, String, String)>> {
                    let rows = sqlx::query("SELECT seq, type, properties FROM events WHERE workspace_id = $1 AND member_id = $2")
                        .bind(&self.ws)
                        .bind(member_id)
                        .fetch_all(&mut *self.tx)
                        .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("seq")?, r.try_get("type")?, r.try_get("properties")?)))
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_anonymous_ids(&mut self, member_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar("SELECT anonymous_id FROM member_identities WHERE workspace_id = $1 AND member_id = $2")
                        .bind(&self.ws)
                        .bind(member_id)
                        .fetch_all(&mut *self.tx)
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tracking_issues_containing(&mut self, needle: &str) -> Result<Vec<(String, String)>> {
                    let pattern = format!(
                        "%{}%",
                        needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
                    );
                    let rows = sqlx::query(
                        "SELECT id, payload FROM tracking_issues WHERE workspace_id = $1 AND payload LIKE $2 ESCAPE '\\'",
                    )
                    .bind(&self.ws)
                    .bind(pattern)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("id")?, r.try_get("payload")?)))
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn delete_tracking_issue(&mut self, id: &str) -> Result<()> {
                    sqlx::query("DELETE FROM tracking_issues WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_event_properties(&mut self, seq: i64, properties: &str) -> Result<()> {
                    sqlx::query("UPDATE events SET properties = $1 WHERE workspace_id = $2 AND seq = $3")
                        .bind(properties)
                        .bind(&self.ws)
                        .bind(seq)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_privacy;
