//! Operator accounts of the web console and their server-side sessions (migration
//! `0070_console.sql`). Passwords arrive hashed and session tokens as their SHA-256: this
//! module stores and finds rows, the rules (hashing, lock-out, expiry) are the app's.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub id: String,
    pub workspace_id: String,
    /// Lower-cased; unique over all workspaces (the sign-in form asks for nothing else).
    pub email: String,
    /// A PHC string (`$argon2id$…`).
    pub password_hash: String,
    pub role: String,
    /// `zh-CN` or `en`; None: from the browser's `Accept-Language`.
    pub locale: Option<String>,
    /// Failed sign-ins since the last success.
    pub failed_logins: i64,
    pub locked_until: Option<Millis>,
    pub created_at: Millis,
    pub disabled_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 (hex) of the cookie's token.
    pub token_hash: String,
    pub operator_id: String,
    pub csrf_token: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
}

#[async_trait]
pub trait OperatorsStore: Send + Sync {
    /// A duplicate email is [`crate::StoreError::Conflict`].
    async fn insert_operator(&self, row: &OperatorRow) -> Result<()>;
    async fn operator(&self, id: &str) -> Result<Option<OperatorRow>>;
    async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRow>>;
    /// A workspace's operators by email.
    async fn list_operators(&self, workspace_id: &str) -> Result<Vec<OperatorRow>>;
    /// Counts a failed sign-in; the `lock_after`-th in a row locks the account until
    /// `lock_until`. Returns the count after this one.
    async fn record_login_failure(
        &self,
        id: &str,
        lock_after: i64,
        lock_until: Millis,
    ) -> Result<i64>;
    /// A successful sign-in: the count and any lock are cleared.
    async fn clear_login_failures(&self, id: &str) -> Result<()>;
    async fn set_operator_password(&self, id: &str, password_hash: &str) -> Result<bool>;
    async fn set_operator_locale(&self, id: &str, locale: Option<&str>) -> Result<bool>;

    async fn insert_session(&self, row: &SessionRow) -> Result<()>;
    /// A session that has not expired at `now`.
    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRow>>;
    /// Moves a session's expiry (sliding expiry) and records its use.
    async fn touch_session(&self, token_hash: &str, at: Millis, expires_at: Millis) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of an operator (password changed, account disabled).
    async fn delete_operator_sessions(&self, operator_id: &str) -> Result<u64>;
    /// Removes sessions expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Millis) -> Result<u64>;
}

macro_rules! impl_operators {
    ($Store:ty, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;

            use crate::error::Result;
            use crate::operators::*;
            use memberops_core::time::Millis;

            fn operator_from(r: &<$Db as sqlx::Database>::Row) -> Result<OperatorRow> {
                Ok(OperatorRow {
                    id: r.try_get("id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    email: r.try_get("email")?,
                    password_hash: r.try_get("password_hash")?,
                    role: r.try_get("role")?,
                    locale: r.try_get("locale")?,
                    failed_logins: r.try_get("failed_logins")?,
                    locked_until: r.try_get("locked_until")?,
                    created_at: r.try_get("created_at")?,
                    disabled_at: r.try_get("disabled_at")?,
                })
            }

            fn session_from(r: &<$Db as sqlx::Database>::Row) -> Result<SessionRow> {
                Ok(SessionRow {
                    token_hash: r.try_get("token_hash")?,
                    operator_id: r.try_get("operator_id")?,
                    csrf_token: r.try_get("csrf_token")?,
                    created_at: r.try_get("created_at")?,
                    last_seen_at: r.try_get("last_seen_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            }

            const OPERATOR_COLUMNS: &str = "id, workspace_id, email, password_hash, role, locale, \
                failed_logins, locked_until, created_at, disabled_at";

            #[async_trait]
            impl OperatorsStore for $Store {
                async fn insert_operator(&self, o: &OperatorRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO operators (id, workspace_id, email, password_hash, role, locale, \
                         failed_logins, locked_until, created_at, disabled_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&o.id)
                    .bind(&o.workspace_id)
                    .bind(&o.email)
                    .bind(&o.password_hash)
                    .bind(&o.role)
                    .bind(&o.locale)
                    .bind(o.failed_logins)
                    .bind(o.locked_until)
                    .bind(o.created_at)
                    .bind(o.disabled_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn operator(&self, id: &str) -> Result<Option<OperatorRow>> {
                    let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?
                        .as_ref()
                        .map(operator_from)
                        .transpose()
                }

                async fn operator_by_email(&self, email: &str) -> Result<Option<OperatorRow>> {
                    let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = $1");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(email)
                        .fetch_optional(self.reader())
                        .await?
                        .as_ref()
                        .map(operator_from)
                        .transpose()
                }

                async fn list_operators(&self, workspace_id: &str) -> Result<Vec<OperatorRow>> {
                    let sql = format!(
                        "SELECT {OPERATOR_COLUMNS} FROM operators WHERE workspace_id = $1 ORDER BY email"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(workspace_id)
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(operator_from)
                        .collect()
                }

                async fn record_login_failure(
                    &self,
                    id: &str,
                    lock_after: i64,
                    lock_until: Millis,
                ) -> Result<i64> {
                    let row = sqlx::query(
                        "UPDATE operators SET failed_logins = failed_logins + 1, \
                         locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END \
                         WHERE id = $1 RETURNING failed_logins",
                    )
                    .bind(id)
                    .bind(lock_after)
                    .bind(lock_until)
                    .fetch_optional(self.writer())
                    .await?;
                    Ok(match row {
                        Some(r) => r.try_get("failed_logins")?,
                        None => 0,
                    })
                }

                async fn clear_login_failures(&self, id: &str) -> Result<()> {
                    sqlx::query(
                        "UPDATE operators SET failed_logins = 0, locked_until = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn set_operator_password(&self, id: &str, hash: &str) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE operators SET password_hash = $1, failed_logins = 0, locked_until = NULL \
                         WHERE id = $2",
                    )
                    .bind(hash)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn set_operator_locale(&self, id: &str, locale: Option<&str>) -> Result<bool> {
                    let done = sqlx::query("UPDATE operators SET locale = $1 WHERE id = $2")
                        .bind(locale)
                        .bind(id)
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn insert_session(&self, s: &SessionRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO operator_sessions (token_hash, operator_id, csrf_token, created_at, \
                         last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&s.token_hash)
                    .bind(&s.operator_id)
                    .bind(&s.csrf_token)
                    .bind(s.created_at)
                    .bind(s.last_seen_at)
                    .bind(s.expires_at)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRow>> {
                    sqlx::query(
                        "SELECT token_hash, operator_id, csrf_token, created_at, last_seen_at, expires_at \
                         FROM operator_sessions WHERE token_hash = $1 AND expires_at > $2",
                    )
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(self.reader())
                    .await?
                    .as_ref()
                    .map(session_from)
                    .transpose()
                }

                async fn touch_session(
                    &self,
                    token_hash: &str,
                    at: Millis,
                    expires_at: Millis,
                ) -> Result<()> {
                    sqlx::query(
                        "UPDATE operator_sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3",
                    )
                    .bind(at)
                    .bind(expires_at)
                    .bind(token_hash)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn delete_session(&self, token_hash: &str) -> Result<()> {
                    sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
                        .bind(token_hash)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }

                async fn delete_operator_sessions(&self, operator_id: &str) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM operator_sessions WHERE operator_id = $1")
                        .bind(operator_id)
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn delete_expired_sessions(&self, now: Millis) -> Result<u64> {
                    let done = sqlx::query("DELETE FROM operator_sessions WHERE expires_at <= $1")
                        .bind(now)
                        .execute(self.writer())
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_operators;
