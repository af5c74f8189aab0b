//! Loyalty storage: program versions, member loyalty state, growth and points ledgers, points
//! lots, stored value, check-ins, invite codes, referrals, idempotency keys and the audit.
//!
//! Ledgers are only ever appended to; `loyalty_members` caches balances and `points_lots`
//! caches what is left in each lot, both rewritten in the transaction that appends the
//! ledger lines they derive from. Writes take full rows (not deltas) and are multi-row
//! statements, so the event path stays batched.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramRow {
    pub version: i64,
    /// The program as JSON (the loyalty crate's `Program`).
    pub program: String,
    pub created_at: Millis,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltyMemberRow {
    pub member_id: String,
    /// The member's IANA zone, for calendar questions in jobs.
    pub time_zone: String,
    pub tier: String,
    pub tier_since: Millis,
    pub growth_total: i64,
    pub points_balance: i64,
    pub points_debt: i64,
    pub sv_principal: i64,
    pub sv_bonus: i64,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotRow {
    pub member_id: String,
    pub id: String,
    pub earned_at: Millis,
    pub available_at: Millis,
    pub expires_at: Option<Millis>,
    pub original: i64,
    pub remaining: i64,
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsLine {
    /// Set when read back; ignored on insert.
    pub seq: i64,
    pub member_id: String,
    pub kind: String,
    pub at: Millis,
    pub points: i64,
    pub lot_id: Option<String>,
    pub lot_delta: i64,
    pub debt_delta: i64,
    /// The event, request key or job run that caused the line.
    pub event_id: String,
    pub rule_id: Option<String>,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthLine {
    pub seq: i64,
    pub member_id: String,
    pub at: Millis,
    pub growth: i64,
    pub kind: String,
    pub event_id: String,
    pub rule_id: Option<String>,
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub member_id: String,
    pub rule_id: String,
    pub period: String,
    pub growth: i64,
    pub points: i64,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoyaltyOrderRow {
    pub order_id: String,
    pub member_id: String,
    pub paid_minor: i64,
    pub points_earned: i64,
    pub growth_earned: i64,
    pub points_reversed: i64,
    pub growth_reversed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvLine {
    pub seq: i64,
    pub member_id: String,
    pub kind: String,
    pub at: Millis,
    pub principal_delta: i64,
    pub bonus_delta: i64,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckinRow {
    pub member_id: String,
    /// YYYY-MM-DD in the member's zone.
    pub local_date: String,
    pub at: Millis,
    pub event_id: String,
    pub streak: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReferralRow {
    pub invitee_id: String,
    pub referrer_id: String,
    pub bound_at: Millis,
    /// `pending`, `rewarded` or `lapsed`.
    pub status: String,
    pub qualified_at: Option<Millis>,
    pub referrer_paid: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralStats {
    pub invited: i64,
    pub rewarded: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub key: String,
    pub op: String,
    pub member_id: String,
    /// The answer given the first time, as JSON.
    pub response: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthdayRow {
    pub member_id: String,
    pub external_id: String,
    /// `YYYY-MM-DD`.
    pub birthday: String,
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub member_id: Option<String>,
    /// JSON.
    pub detail: String,
}

/// Loyalty writes (and the reads they depend on) inside the workspace's write transaction.
#[async_trait]
pub trait LoyaltyTx: Send {
    async fn loyalty_program(&mut self) -> Result<Option<ProgramRow>>;
    async fn insert_loyalty_program(&mut self, row: &ProgramRow) -> Result<()>;
    async fn insert_loyalty_audit(&mut self, row: &AuditRow) -> Result<()>;

    async fn loyalty_members(&mut self, member_ids: &[&str]) -> Result<Vec<LoyaltyMemberRow>>;
    /// Members with loyalty state after `after` (id order), for jobs.
    async fn loyalty_member_page(
        &mut self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<LoyaltyMemberRow>>;
    async fn upsert_loyalty_members(&mut self, rows: &[LoyaltyMemberRow]) -> Result<()>;

    /// Lots of these members that still hold points.
    async fn open_lots(&mut self, member_ids: &[&str]) -> Result<Vec<LotRow>>;
    /// Lots that hold points and expired at or before `at`, after `after_member` (member order).
    async fn expired_lots(
        &mut self,
        at: Millis,
        after_member: &str,
        limit: i64,
    ) -> Result<Vec<LotRow>>;
    async fn insert_lots(&mut self, rows: &[LotRow]) -> Result<()>;
    /// Sets `remaining` of existing lots.
    async fn update_lots(&mut self, rows: &[LotRow]) -> Result<()>;
    async fn insert_points_lines(&mut self, rows: &[PointsLine]) -> Result<()>;
    async fn insert_growth_lines(&mut self, rows: &[GrowthLine]) -> Result<()>;
    /// Growth lines of these members at or after `since`.
    async fn growth_since(&mut self, member_ids: &[&str], since: Millis)
    -> Result<Vec<GrowthLine>>;

    async fn loyalty_usage(
        &mut self,
        member_ids: &[&str],
        periods: &[&str],
    ) -> Result<Vec<UsageRow>>;
    async fn upsert_loyalty_usage(&mut self, rows: &[UsageRow]) -> Result<()>;

    async fn loyalty_orders(&mut self, order_ids: &[&str]) -> Result<Vec<LoyaltyOrderRow>>;
    async fn upsert_loyalty_orders(&mut self, rows: &[LoyaltyOrderRow]) -> Result<()>;

    async fn insert_sv_lines(&mut self, rows: &[SvLine]) -> Result<()>;

    /// The latest check-in of each of these members.
    async fn last_checkins(&mut self, member_ids: &[&str]) -> Result<Vec<CheckinRow>>;
    async fn insert_checkins(&mut self, rows: &[CheckinRow]) -> Result<()>;

    async fn loyalty_request(&mut self, key: &str) -> Result<Option<RequestRow>>;
    async fn insert_loyalty_request(&mut self, row: &RequestRow) -> Result<()>;
}

/// Loyalty reads outside a transaction (member center, ledger pages).
#[async_trait]
pub trait LoyaltyStore: Send + Sync {
    async fn current_loyalty_program(&self, ws: &str) -> Result<Option<ProgramRow>>;
    async fn loyalty_member(&self, ws: &str, member_id: &str) -> Result<Option<LoyaltyMemberRow>>;
    async fn member_open_lots(&self, ws: &str, member_id: &str) -> Result<Vec<LotRow>>;
    /// Newest first, before `before_seq` when given.
    async fn points_lines(
        &self,
        ws: &str,
        member_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PointsLine>>;
    /// Every points line of a member, oldest first (for checks and tests).
    async fn all_points_lines(&self, ws: &str, member_id: &str) -> Result<Vec<PointsLine>>;
    async fn member_growth_since(
        &self,
        ws: &str,
        member_id: &str,
        since: Millis,
    ) -> Result<Vec<GrowthLine>>;
    async fn sv_lines(&self, ws: &str, member_id: &str) -> Result<Vec<SvLine>>;
    /// Stored-value lines newest first, before `before_seq` when given.
    async fn sv_lines_page(
        &self,
        ws: &str,
        member_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SvLine>>;
    /// Members whose birthday (`YYYY-MM-DD`) falls on one of these `MM-DD` days:
    /// for the birthday-gift job.
    async fn members_with_birthday(
        &self,
        ws: &str,
        month_days: &[&str],
    ) -> Result<Vec<BirthdayRow>>;
    async fn last_checkin(&self, ws: &str, member_id: &str) -> Result<Option<CheckinRow>>;
    async fn loyalty_audit(&self, ws: &str, limit: i64) -> Result<Vec<AuditRow>>;
    /// The saved answer of an idempotency key, read outside the write lock (replays are
    /// answered without taking it).
    async fn saved_loyalty_request(&self, ws: &str, key: &str) -> Result<Option<RequestRow>>;
}

pub(crate) const LM_COLS: &str = "member_id, workspace_id, time_zone, tier, tier_since, growth_total, points_balance, points_debt, sv_principal, sv_bonus, updated_at";
pub(crate) const LOT_COLS: &str = "member_id, id, workspace_id, earned_at, available_at, expires_at, original, remaining, order_id";
pub(crate) const PL_COLS: &str = "workspace_id, member_id, kind, at, points, lot_id, lot_delta, debt_delta, event_id, rule_id, order_id, reason, actor";
pub(crate) const GL_COLS: &str =
    "workspace_id, member_id, at, growth, kind, event_id, rule_id, order_id";

pub(crate) mod history;
pub(crate) mod referrals;
mod sql;
pub(crate) mod trials;

pub use history::LoyaltyHistoryTx;
pub use referrals::{ReferralsStore, ReferralsTx};
pub(crate) use sql::impl_loyalty;
pub use trials::{TierTrialRow, TierTrialsStore, TierTrialsTx};
