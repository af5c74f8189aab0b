//! Storage of stores (门店), staff (导购), members' assignments to them and the audit of
//! assignment changes. Everything refers to stores and staff by their code.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRow {
    pub code: String,
    pub name: String,
    /// `active` or `inactive`.
    pub status: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub code: String,
    pub name: String,
    pub store_code: Option<String>,
    /// `active` or `inactive`.
    pub status: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRow {
    pub member_id: String,
    pub store_code: Option<String>,
    pub staff_code: Option<String>,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAuditRow {
    /// Set when read back; ignored on insert.
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    /// JSON.
    pub detail: String,
}

#[async_trait]
pub trait StoresStore: Send + Sync {
    /// Stores by code after `after`.
    async fn stores_page(&self, ws: &str, after: Option<&str>, limit: i64)
    -> Result<Vec<StoreRow>>;
    async fn store_row(&self, ws: &str, code: &str) -> Result<Option<StoreRow>>;
    /// Staff by code after `after`, of one store when given.
    async fn staff_page(
        &self,
        ws: &str,
        store: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StaffRow>>;
    async fn staff_row(&self, ws: &str, code: &str) -> Result<Option<StaffRow>>;
    async fn assignment(&self, ws: &str, member_id: &str) -> Result<Option<AssignmentRow>>;
    /// Assignments of members with ids in `first..=last` (a page of the segment index).
    async fn assignments_between(
        &self,
        ws: &str,
        first: &str,
        last: &str,
    ) -> Result<Vec<AssignmentRow>>;
    /// Members whose home store / owning staff member is the one given (both when both).
    async fn assigned_members(
        &self,
        ws: &str,
        store: Option<&str>,
        staff: Option<&str>,
    ) -> Result<Vec<String>>;
    async fn store_audit_page(
        &self,
        ws: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoreAuditRow>>;
    /// Stage transitions on days `from..=to` of members of a store and/or staff member:
    /// `(from_stage, to_stage, members)`.
    async fn stage_flow_assigned(
        &self,
        ws: &str,
        from_date: &str,
        to_date: &str,
        store: Option<&str>,
        staff: Option<&str>,
    ) -> Result<Vec<(Option<String>, String, i64)>>;
}

#[async_trait]
pub trait StoresTx: Send {
    /// False when the code is taken.
    async fn insert_store(&mut self, row: &StoreRow) -> Result<bool>;
    async fn update_store(&mut self, row: &StoreRow) -> Result<()>;
    async fn store_in_tx(&mut self, code: &str) -> Result<Option<StoreRow>>;
    /// False when the code is taken.
    async fn insert_staff(&mut self, row: &StaffRow) -> Result<bool>;
    async fn update_staff(&mut self, row: &StaffRow) -> Result<()>;
    async fn staff_in_tx(&mut self, code: &str) -> Result<Option<StaffRow>>;
    async fn assignments_in_tx(&mut self, member_ids: &[&str]) -> Result<Vec<AssignmentRow>>;
    async fn upsert_assignments(&mut self, rows: &[AssignmentRow]) -> Result<()>;
    /// Moves every member of staff `from` to staff `to`; returns the members moved. Their
    /// member rows are touched (`updated_at`) so segment indexes re-read them.
    async fn reassign_staff(&mut self, from: &str, to: &str, at: Millis) -> Result<Vec<String>>;
    /// Marks members changed for segment indexes (`members.updated_at`).
    async fn touch_members(&mut self, member_ids: &[&str], at: Millis) -> Result<()>;
    async fn insert_store_audit(&mut self, row: &StoreAuditRow) -> Result<()>;
}

pub(crate) const STORE_COLS: &str = "code, name, status, created_at, updated_at";
pub(crate) const STAFF_COLS: &str = "code, name, store_code, status, created_at, updated_at";

macro_rules! impl_stores {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::error::Result;
            use crate::stores::*;
            use memberops_core::time::Millis;

            fn store_from(r: &<$Db as sqlx::Database>::Row) -> Result<StoreRow> {
                Ok(StoreRow {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn staff_from(r: &<$Db as sqlx::Database>::Row) -> Result<StaffRow> {
                Ok(StaffRow {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    store_code: r.try_get("store_code")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn assignment_from(r: &<$Db as sqlx::Database>::Row) -> Result<AssignmentRow> {
                Ok(AssignmentRow {
                    member_id: r.try_get("member_id")?,
                    store_code: r.try_get("store_code")?,
                    staff_code: r.try_get("staff_code")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            const ASSIGNMENT_COLS: &str = "member_id, store_code, staff_code, updated_at";

            #[async_trait]
            impl StoresStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn stores_page(&self, ws: &str, after: Option<&str>, limit: i64) -> Result<Vec<StoreRow>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {STORE_COLS} FROM stores WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    if let Some(a) = after {
                        q.push(" AND code > ").push_bind(a.to_owned());
                    }
                    q.push(" ORDER BY code LIMIT ").push_bind(limit);
                    q.build().fetch_all(self.reader()).await?.iter().map(store_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn store_row(&self, ws: &str, code: &str) -> Result<Option<StoreRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {STORE_COLS} FROM stores WHERE workspace_id = $1 AND code = $2"
                    )))
                    .bind(ws)
                    .bind(code)
                    .fetch_optional(self.reader())
                    .await?;
                    r.map(|r| store_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn staff_page(&self, ws: &str, store: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<StaffRow>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {STAFF_COLS} FROM staff WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    if let Some(s) = store {
                        q.push(" AND store_code = ").push_bind(s.to_owned());
                    }
                    if let Some(a) = after {
                        q.push(" AND code > ").push_bind(a.to_owned());
                    }
                    q.push(" ORDER BY code LIMIT ").push_bind(limit);
                    q.build().fetch_all(self.reader()).await?.iter().map(staff_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn staff_row(&self, ws: &str, code: &str) -> Result<Option<StaffRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {STAFF_COLS} FROM staff WHERE workspace_id = $1 AND code = $2"
                    )))
                    .bind(ws)
                    .bind(code)
                    .fetch_optional(self.reader())
                    .await?;
                    r.map(|r| staff_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn assignment(&self, ws: &str, member_id: &str) -> Result<Option<AssignmentRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {ASSIGNMENT_COLS} FROM member_stores WHERE member_id = $1 AND workspace_id = $2"
                    )))
                    .bind(member_id)
                    .bind(ws)
                    .fetch_optional(self.reader())
                    .await?;
                    r.map(|r| assignment_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn assignments_between(&self, ws: &str, first: &str, last: &str) -> Result<Vec<AssignmentRow>> {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {ASSIGNMENT_COLS} FROM member_stores WHERE member_id >= $1 AND member_id <= $2 AND workspace_id = $3"
                    )))
                    .bind(first)
                    .bind(last)
                    .bind(ws)
                    .fetch_all(self.reader())
                    .await?
                    .iter()
                    .map(assignment_from)
                    .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn assigned_members(&self, ws: &str, store: Option<&str>, staff: Option<&str>) -> Result<Vec<String>> {
                    let mut q = QueryBuilder::<$Db>::new("SELECT member_id FROM member_stores WHERE workspace_id = ");
                    q.push_bind(ws.to_owned());
                    if let Some(s) = store {
                        q.push(" AND store_code = ").push_bind(s.to_owned());
                    }
                    if let Some(s) = staff {
                        q.push(" AND staff_code = ").push_bind(s.to_owned());
                    }
                    q.push(" ORDER BY member_id");
                    Ok(q.build().fetch_all(self.reader()).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn stage_flow_assigned(
                    &self,
                    ws: &str,
                    from_date: &str,
                    to_date: &str,
                    store: Option<&str>,
                    staff: Option<&str>,
                ) -> Result<Vec<(Option<String>, String, i64)>> {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT t.from_stage, t.to_stage, CAST(COUNT(*) AS BIGINT) AS n FROM lifecycle_transitions t \
                         JOIN member_stores a ON a.member_id = t.member_id WHERE t.workspace_id = ",
                    );
                    q.push_bind(ws.to_owned());
                    q.push(" AND t.on_date >= ").push_bind(from_date.to_owned());
                    q.push(" AND t.on_date <= ").push_bind(to_date.to_owned());
                    if let Some(s) = store {
                        q.push(" AND a.store_code = ").push_bind(s.to_owned());
                    }
                    if let Some(s) = staff {
                        q.push(" AND a.staff_code = ").push_bind(s.to_owned());
                    }
                    q.push(" GROUP BY t.from_stage, t.to_stage ORDER BY t.from_stage, t.to_stage");
                    q.build()
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn store_audit_page(&self, ws: &str, before: Option<i64>, limit: i64) -> Result<Vec<StoreAuditRow>> {
                    let mut q = QueryBuilder::<$Db>::new("SELECT seq, at, actor, action, detail FROM store_audit WHERE workspace_id = ");
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
                            Ok(StoreAuditRow {
                                seq: r.try_get("seq")?,
                                at: r.try_get("at")?,
                                actor: r.try_get("actor")?,
                                action: r.try_get("action")?,
                                detail: r.try_get("detail")?,
                            })
                        })
                        .collect()
                }
            }

            #[async_trait]
            impl StoresTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_store(&mut self, row: &StoreRow) -> Result<bool> {
                    let done = sqlx::query(
                        "INSERT INTO stores (workspace_id, code, name, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, code) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(&row.code)
                    .bind(&row.name)
                    .bind(&row.status)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_store(&mut self, row: &StoreRow) -> Result<()> {
                    sqlx::query("UPDATE stores SET name = $1, status = $2, updated_at = $3 WHERE workspace_id = $4 AND code = $5")
                        .bind(&row.name)
                        .bind(&row.status)
                        .bind(row.updated_at)
                        .bind(&self.ws)
                        .bind(&row.code)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn store_in_tx(&mut self, code: &str) -> Result<Option<StoreRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {STORE_COLS} FROM stores WHERE workspace_id = $1 AND code = $2"
                    )))
                    .bind(&self.ws)
                    .bind(code)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    r.map(|r| store_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_staff(&mut self, row: &StaffRow) -> Result<bool> {
                    let done = sqlx::query(
                        "INSERT INTO staff (workspace_id, code, name, store_code, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, code) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(&row.code)
                    .bind(&row.name)
                    .bind(&row.store_code)
                    .bind(&row.status)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_staff(&mut self, row: &StaffRow) -> Result<()> {
                    sqlx::query(
                        "UPDATE staff SET name = $1, store_code = $2, status = $3, updated_at = $4 WHERE workspace_id = $5 AND code = $6",
                    )
                    .bind(&row.name)
                    .bind(&row.store_code)
                    .bind(&row.status)
                    .bind(row.updated_at)
                    .bind(&self.ws)
                    .bind(&row.code)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn staff_in_tx(&mut self, code: &str) -> Result<Option<StaffRow>> {
                    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {STAFF_COLS} FROM staff WHERE workspace_id = $1 AND code = $2"
                    )))
                    .bind(&self.ws)
                    .bind(code)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    r.map(|r| staff_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn assignments_in_tx(&mut self, member_ids: &[&str]) -> Result<Vec<AssignmentRow>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("SELECT {ASSIGNMENT_COLS} FROM member_stores WHERE member_id IN ("));
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        for r in q.build().fetch_all(&mut *self.tx).await? {
                            out.push(assignment_from(&r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_assignments(&mut self, rows: &[AssignmentRow]) -> Result<()> {
                    for chunk in rows.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO member_stores (workspace_id, {ASSIGNMENT_COLS}) "));
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.store_code.clone())
                                .push_bind(r.staff_code.clone())
                                .push_bind(r.updated_at);
                        });
                        q.push(
                            " ON CONFLICT (member_id) DO UPDATE SET store_code = excluded.store_code, \
                             staff_code = excluded.staff_code, updated_at = excluded.updated_at",
                        );
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn reassign_staff(&mut self, from: &str, to: &str, at: Millis) -> Result<Vec<String>> {
                    let ids: Vec<String> = sqlx::query_scalar(
                        "UPDATE member_stores SET staff_code = $1, updated_at = $2 WHERE workspace_id = $3 AND staff_code = $4 \
                         RETURNING member_id",
                    )
                    .bind(to)
                    .bind(at)
                    .bind(&self.ws)
                    .bind(from)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    self.touch_members(&refs, at).await?;
                    Ok(ids)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn touch_members(&mut self, member_ids: &[&str], at: Millis) -> Result<()> {
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("UPDATE members SET updated_at = ");
                        q.push_bind(at).push(" WHERE id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_store_audit(&mut self, row: &StoreAuditRow) -> Result<()> {
                    sqlx::query("INSERT INTO store_audit (workspace_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&self.ws)
                        .bind(row.at)
                        .bind(&row.actor)
                        .bind(&row.action)
                        .bind(&row.detail)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_stores;

/// Sets the home store and staff of a page of segment index sources (ordered by id).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn fill_assignments(
    store: &dyn StoresStore,
    ws: &str,
    out: &mut [crate::IndexSource],
) -> Result<()> {
    let (Some(first), Some(last)) = (out.first(), out.last()) else {
        return Ok(());
    };
    let assigned = store.assignments_between(ws, &first.id, &last.id).await?;
    let pos: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for a in assigned {
        if let Some(&i) = pos.get(&a.member_id) {
            out[i].store = a.store_code;
            out[i].staff = a.staff_code;
        }
    }
    Ok(())
}
