//! Temporary tiers (体验会员): granted, ended when due, skipped by the tier review.

use async_trait::async_trait;

use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TierTrialRow {
    pub id: String,
    pub member_id: String,
    pub tier: String,
    /// The tier the member earned, held before the trial, and since when.
    pub earned_tier: String,
    pub earned_since: Millis,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub reason: String,
    pub actor: String,
    /// `active`, `returned`, `earned` or `superseded`.
    pub status: String,
    pub ended_at: Option<Millis>,
    /// The tier the member held once the trial ended.
    pub ended_tier: Option<String>,
}

pub(crate) const TRIAL_COLS: &str = "id, member_id, tier, earned_tier, earned_since, starts_at, \
    ends_at, reason, actor, status, ended_at, ended_tier";

/// Inside the workspace's write transaction, with the tier change and its event.
#[async_trait]
pub trait TierTrialsTx: Send {
    async fn active_trial(&mut self, member_id: &str) -> Result<Option<TierTrialRow>>;
    async fn insert_trial(&mut self, row: &TierTrialRow) -> Result<()>;
    /// Active trials whose end is at or before `at`, soonest first.
    async fn trials_due(&mut self, at: Millis, limit: i64) -> Result<Vec<TierTrialRow>>;
    async fn close_trial(
        &mut self,
        id: &str,
        status: &str,
        ended_at: Millis,
        ended_tier: &str,
    ) -> Result<()>;
    /// Which of these members are on an active trial.
    async fn members_on_trial(&mut self, member_ids: &[&str]) -> Result<Vec<String>>;
}

/// Reads outside a transaction.
#[async_trait]
pub trait TierTrialsStore: Send + Sync {
    /// A member's trials, newest first.
    async fn member_trials(&self, ws: &str, member_id: &str) -> Result<Vec<TierTrialRow>>;
}

macro_rules! impl_tier_trials {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::QueryBuilder;

            use crate::error::Result;
            use crate::loyalty::trials::{TRIAL_COLS, TierTrialRow, TierTrialsStore, TierTrialsTx};

            #[async_trait]
            impl TierTrialsTx for $Tx {
                async fn active_trial(&mut self, member_id: &str) -> Result<Option<TierTrialRow>> {
                    let sql = format!(
                        "SELECT {TRIAL_COLS} FROM tier_trials \
                         WHERE workspace_id = $1 AND member_id = $2 AND status = 'active'"
                    );
                    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(&self.ws)
                        .bind(member_id)
                        .fetch_optional(&mut *self.tx)
                        .await?)
                }

                async fn insert_trial(&mut self, r: &TierTrialRow) -> Result<()> {
                    let sql = format!(
                        "INSERT INTO tier_trials (workspace_id, {TRIAL_COLS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&self.ws)
                        .bind(&r.id)
                        .bind(&r.member_id)
                        .bind(&r.tier)
                        .bind(&r.earned_tier)
                        .bind(r.earned_since)
                        .bind(r.starts_at)
                        .bind(r.ends_at)
                        .bind(&r.reason)
                        .bind(&r.actor)
                        .bind(&r.status)
                        .bind(r.ended_at)
                        .bind(&r.ended_tier)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                async fn trials_due(&mut self, at: Millis, limit: i64) -> Result<Vec<TierTrialRow>> {
                    let sql = format!(
                        "SELECT {TRIAL_COLS} FROM tier_trials WHERE workspace_id = $1 \
                         AND status = 'active' AND ends_at <= $2 ORDER BY ends_at, id LIMIT $3"
                    );
                    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(&self.ws)
                        .bind(at)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await?)
                }

                async fn close_trial(
                    &mut self,
                    id: &str,
                    status: &str,
                    ended_at: Millis,
                    ended_tier: &str,
                ) -> Result<()> {
                    sqlx::query(
                        "UPDATE tier_trials SET status = $1, ended_at = $2, ended_tier = $3 \
                         WHERE workspace_id = $4 AND id = $5",
                    )
                    .bind(status)
                    .bind(ended_at)
                    .bind(ended_tier)
                    .bind(&self.ws)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn members_on_trial(&mut self, member_ids: &[&str]) -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(crate::CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id FROM tier_trials WHERE status = 'active' AND workspace_id = ",
                        );
                        q.push_bind(self.ws.clone());
                        q.push(" AND member_id IN (");
                        let mut ids = q.separated(", ");
                        for id in chunk {
                            ids.push_bind(id.to_string());
                        }
                        q.push(")");
                        out.extend(q.build_query_scalar::<String>().fetch_all(&mut *self.tx).await?);
                    }
                    Ok(out)
                }
            }

            #[async_trait]
            impl TierTrialsStore for $Store {
                async fn member_trials(&self, ws: &str, member_id: &str) -> Result<Vec<TierTrialRow>> {
                    let sql = format!(
                        "SELECT {TRIAL_COLS} FROM tier_trials WHERE workspace_id = $1 \
                         AND member_id = $2 ORDER BY starts_at DESC, id DESC"
                    );
                    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(ws)
                        .bind(member_id)
                        .fetch_all(self.reader())
                        .await?)
                }
            }
        };
    };
}
pub(crate) use impl_tier_trials;
