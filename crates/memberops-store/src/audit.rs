//! The audit log: one append-only row per write made by an operator or admin key, and the
//! history of members' consent (kept by the database's triggers, migration 0050).

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogRow {
    /// Set when read back; ignored on insert.
    pub seq: i64,
    pub workspace_id: String,
    pub at: Millis,
    pub key_id: String,
    pub key_name: String,
    /// The key's scopes, comma-separated.
    pub scopes: String,
    pub method: String,
    /// The route template (`/v1/members/{id}/points:adjust`).
    pub route: String,
    /// The path as requested.
    pub path: String,
    pub status: i32,
    pub member_id: Option<String>,
    pub request_id: Option<String>,
    /// JSON: the settings or balances before and after, where the route has them.
    pub before_state: Option<String>,
    pub after_state: Option<String>,
}

/// Which entries a page holds, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditLogFilter {
    pub member_id: Option<String>,
    pub key_id: Option<String>,
    /// Entries at or after this instant.
    pub since: Option<Millis>,
    /// Entries before this position (the cursor).
    pub before_seq: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub seq: i64,
    pub at: Millis,
    /// JSON; None for the first consent a member was created with.
    pub before: Option<String>,
    pub after: String,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, row: &AuditLogRow) -> Result<()>;
    async fn audit_page(
        &self,
        ws: &str,
        f: &AuditLogFilter,
        limit: i64,
    ) -> Result<Vec<AuditLogRow>>;
    /// A member's consent changes, oldest first.
    async fn consent_history(&self, ws: &str, member_id: &str) -> Result<Vec<ConsentChange>>;
}

/// What operations watch: the worker's heartbeat, migrations, the connection pools.
#[async_trait]
pub trait OpsStore: Send + Sync {
    /// The worker says it is alive (read by `/readyz`).
    async fn beat(&self, name: &str, at: Millis) -> Result<()>;
    /// The freshest heartbeat of any worker.
    async fn last_beat(&self) -> Result<Option<Millis>>;
    /// Migrations this build has that the database has not applied.
    async fn pending_migrations(&self) -> Result<usize>;
    /// Connections of the reader and writer pools, and of those the idle ones.
    fn pool_stats(&self) -> PoolStats;
    /// Size of the SQLite write-ahead log (None on PostgreSQL).
    async fn wal_bytes(&self) -> Result<Option<u64>>;
    /// SQLite: writes a consistent copy of the database to `path` (`VACUUM INTO`) while
    /// others read and write. PostgreSQL: refused (`pg_dump` does this there).
    async fn snapshot_to(&self, path: &str) -> Result<()>;
    /// SQLite: `PRAGMA integrity_check` (`ok` when sound). PostgreSQL: `ok`.
    async fn integrity_check(&self) -> Result<String>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    /// Write transactions begun by this process, and the time they waited for their
    /// connection and the write lock (SQLite's one writer, PostgreSQL's workspace lock).
    pub write_begins: u64,
    pub write_wait_micros: u64,
}

static WRITE_BEGINS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static WRITE_WAIT_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts one write transaction's wait for its connection and lock.
pub(crate) fn note_write_wait(waited: std::time::Duration) {
    use std::sync::atomic::Ordering::Relaxed;
    WRITE_BEGINS.fetch_add(1, Relaxed);
    WRITE_WAIT_MICROS.fetch_add(
        u64::try_from(waited.as_micros()).unwrap_or(u64::MAX),
        Relaxed,
    );
}

pub(crate) fn write_waits() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (WRITE_BEGINS.load(Relaxed), WRITE_WAIT_MICROS.load(Relaxed))
}

macro_rules! impl_audit {
    ($Store:ty, $Db:ty, $migrations:literal) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::audit::*;
            use crate::error::Result;
            use memberops_core::time::Millis;

            fn audit_from(r: &<$Db as sqlx::Database>::Row) -> Result<AuditLogRow> {
                Ok(AuditLogRow {
                    seq: r.try_get("seq")?,
                    workspace_id: r.try_get("workspace_id")?,
                    at: r.try_get("at")?,
                    key_id: r.try_get("key_id")?,
                    key_name: r.try_get("key_name")?,
                    scopes: r.try_get("scopes")?,
                    method: r.try_get("method")?,
                    route: r.try_get("route")?,
                    path: r.try_get("path")?,
                    status: r.try_get("status")?,
                    member_id: r.try_get("member_id")?,
                    request_id: r.try_get("request_id")?,
                    before_state: r.try_get("before_state")?,
                    after_state: r.try_get("after_state")?,
                })
            }

            #[async_trait]
            impl AuditStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn append_audit(&self, a: &AuditLogRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO audit_log (workspace_id, at, key_id, key_name, scopes, method, route, path, \
                         status, member_id, request_id, before_state, after_state) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    )
                    .bind(&a.workspace_id)
                    .bind(a.at)
                    .bind(&a.key_id)
                    .bind(&a.key_name)
                    .bind(&a.scopes)
                    .bind(&a.method)
                    .bind(&a.route)
                    .bind(&a.path)
                    .bind(a.status)
                    .bind(&a.member_id)
                    .bind(&a.request_id)
                    .bind(&a.before_state)
                    .bind(&a.after_state)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn audit_page(&self, ws: &str, f: &AuditLogFilter, limit: i64) -> Result<Vec<AuditLogRow>> {
                    let mut q = QueryBuilder::<$Db>::new("SELECT * FROM audit_log WHERE workspace_id = ");
                    q.push_bind(ws.to_owned());
                    if let Some(m) = &f.member_id {
                        q.push(" AND member_id = ").push_bind(m.clone());
                    }
                    if let Some(k) = &f.key_id {
                        q.push(" AND key_id = ").push_bind(k.clone());
                    }
                    if let Some(s) = f.since {
                        q.push(" AND at >= ").push_bind(s);
                    }
                    if let Some(b) = f.before_seq {
                        q.push(" AND seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                    let rows = q.build().fetch_all(self.reader()).await?;
                    rows.iter().map(audit_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn consent_history(&self, ws: &str, member_id: &str) -> Result<Vec<ConsentChange>> {
                    let rows = sqlx::query(
                        "SELECT seq, at, before_consent, after_consent FROM consent_history \
                         WHERE workspace_id = $1 AND member_id = $2 ORDER BY seq",
                    )
                    .bind(ws)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(ConsentChange {
                                seq: r.try_get("seq")?,
                                at: r.try_get("at")?,
                                before: r.try_get("before_consent")?,
                                after: r.try_get("after_consent")?,
                            })
                        })
                        .collect()
                }

            }

            #[async_trait]
            impl OpsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn beat(&self, name: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO worker_heartbeats (name, at) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET at = excluded.at",
                    )
                    .bind(name)
                    .bind(at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn last_beat(&self) -> Result<Option<Millis>> {
                    let row = sqlx::query("SELECT MAX(at) AS at FROM worker_heartbeats")
                        .fetch_one(self.reader())
                        .await?;
                    Ok(row.try_get("at")?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn pending_migrations(&self) -> Result<usize> {
                    static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!($migrations);
                    let applied: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(|r| r.try_get::<i64, _>("version"))
                        .collect::<std::result::Result<_, _>>()?;
                    Ok(MIGRATOR
                        .iter()
                        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
                        .count())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn wal_bytes(&self) -> Result<Option<u64>> {
                    if <$Db as sqlx::Database>::NAME != "SQLite" {
                        return Ok(None);
                    }
                    let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_optional(self.reader())
                        .await?;
                    let Some(file) = row.map(|r| r.try_get::<String, _>("file")).transpose()? else {
                        return Ok(None);
                    };
                    Ok(std::fs::metadata(format!("{file}-wal")).ok().map(|m| m.len()))
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn snapshot_to(&self, path: &str) -> Result<()> {
                    if <$Db as sqlx::Database>::NAME != "SQLite" {
                        return Err(crate::StoreError::Database(sqlx::Error::Protocol(
                            "PostgreSQL is backed up with pg_dump, not by MemberOps".into(),
                        )));
                    }
                    sqlx::query("VACUUM INTO $1").bind(path).execute(self.reader()).await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn integrity_check(&self) -> Result<String> {
                    if <$Db as sqlx::Database>::NAME != "SQLite" {
                        return Ok("ok".into());
                    }
                    let rows = sqlx::query("PRAGMA integrity_check").fetch_all(self.reader()).await?;
                    let lines = rows
                        .iter()
                        .map(|r| r.try_get::<String, _>(0))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    Ok(lines.join("; "))
                }

                fn pool_stats(&self) -> PoolStats {
                    let (r, w) = (self.reader(), self.writer());
                    let same = std::ptr::eq(r, w);
                    let idle = |p: &sqlx::Pool<$Db>| u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
                    let (write_begins, write_wait_micros) = crate::audit::write_waits();
                    PoolStats {
                        size: r.size() + if same { 0 } else { w.size() },
                        idle: idle(r) + if same { 0 } else { idle(w) },
                        write_begins,
                        write_wait_micros,
                    }
                }
            }
        };
    };
}
pub(crate) use impl_audit;
