//! Invite codes and referrals (转介绍): the codes members share, who invited whom, and the
//! rewards paid for it.

use async_trait::async_trait;

use memberops_core::time::Millis;

use super::{ReferralRow, ReferralStats};
use crate::error::Result;

/// Inside the workspace's write transaction, with the rewards they decide.
#[async_trait]
pub trait ReferralsTx: Send {
    /// `(member_id, code)`; a code already taken is skipped (the caller retries).
    async fn insert_invite_codes(&mut self, rows: &[(String, String)]) -> Result<()>;
    async fn member_by_invite_code(&mut self, code: &str) -> Result<Option<String>>;
    async fn referrals_of(&mut self, invitee_ids: &[&str]) -> Result<Vec<ReferralRow>>;
    /// Inserts or rewrites referral rows.
    async fn upsert_referrals(&mut self, rows: &[ReferralRow]) -> Result<()>;
    /// Referrals of `referrer_id` whose referrer reward was paid in `[from, to)`.
    async fn referrer_rewards_between(
        &mut self,
        referrer_id: &str,
        from: Millis,
        to: Millis,
    ) -> Result<i64>;
}

/// Reads outside a transaction (the member center).
#[async_trait]
pub trait ReferralsStore: Send + Sync {
    async fn invite_code_of(&self, ws: &str, member_id: &str) -> Result<Option<String>>;
    async fn referral_stats(&self, ws: &str, referrer_id: &str) -> Result<ReferralStats>;
}

macro_rules! impl_referrals {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::{QueryBuilder, Row};

            use crate::CHUNK;
            use crate::error::Result;
            use crate::loyalty::referrals::{ReferralsStore, ReferralsTx};
            use crate::loyalty::{ReferralRow, ReferralStats};

            #[async_trait]
            impl ReferralsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_invite_codes(&mut self, rows: &[(String, String)]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO invite_codes (workspace_id, member_id, code) ");
                        q.push_values(chunk, |mut b, (m, code)| {
                            b.push_bind(self.ws.clone()).push_bind(m.clone()).push_bind(code.clone());
                        });
                        q.push(" ON CONFLICT DO NOTHING");
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_by_invite_code(&mut self, code: &str) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar("SELECT member_id FROM invite_codes WHERE workspace_id = $1 AND code = $2")
                        .bind(&self.ws)
                        .bind(code)
                        .fetch_optional(&mut *self.tx)
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn referrals_of(&mut self, invitee_ids: &[&str]) -> Result<Vec<ReferralRow>> {
                    let mut out = Vec::new();
                    for chunk in invitee_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT invitee_id, referrer_id, bound_at, status, qualified_at, referrer_paid FROM referrals WHERE workspace_id = ",
                        );
                        q.push_bind(self.ws.clone());
                        q.push(" AND invitee_id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        out.extend(
                            q.build_query_as::<ReferralRow>()
                                .persistent(crate::reusable(chunk.len(), crate::CHUNK))
                                .fetch_all(&mut *self.tx)
                                .await?,
                        );
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_referrals(&mut self, rows: &[ReferralRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO referrals (invitee_id, workspace_id, referrer_id, bound_at, status, qualified_at, referrer_paid) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.invitee_id.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(r.referrer_id.clone())
                                .push_bind(r.bound_at)
                                .push_bind(r.status.clone())
                                .push_bind(r.qualified_at)
                                .push_bind(r.referrer_paid);
                        });
                        q.push(
                            " ON CONFLICT (invitee_id) DO UPDATE SET status = excluded.status, \
                             qualified_at = excluded.qualified_at, referrer_paid = excluded.referrer_paid",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn referrer_rewards_between(&mut self, referrer_id: &str, from: Millis, to: Millis) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM referrals WHERE workspace_id = $1 AND referrer_id = $2 \
                         AND referrer_paid AND qualified_at >= $3 AND qualified_at < $4",
                    )
                    .bind(&self.ws)
                    .bind(referrer_id)
                    .bind(from)
                    .bind(to)
                    .fetch_one(&mut *self.tx)
                    .await?)
                }
            }

            #[async_trait]
            impl ReferralsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn invite_code_of(&self, ws: &str, member_id: &str) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar("SELECT code FROM invite_codes WHERE workspace_id = $1 AND member_id = $2")
                        .bind(ws)
                        .bind(member_id)
                        .fetch_optional(self.reader())
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn referral_stats(&self, ws: &str, referrer_id: &str) -> Result<ReferralStats> {
                    let rows = sqlx::query(
                        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM referrals WHERE workspace_id = $1 AND referrer_id = $2 GROUP BY status",
                    )
                    .bind(ws)
                    .bind(referrer_id)
                    .fetch_all(self.reader())
                    .await?;
                    let mut s = ReferralStats::default();
                    for r in rows {
                        let status: String = r.try_get(0)?;
                        let n: i64 = r.try_get(1)?;
                        s.invited += n;
                        match status.as_str() {
                            "rewarded" => s.rewarded += n,
                            "pending" => s.pending += n,
                            _ => {}
                        }
                    }
                    Ok(s)
                }
            }
        };
    };
}
pub(crate) use impl_referrals;
