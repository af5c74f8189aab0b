//! Campaigns, their messages (the campaign outbox), unsubscribes, the member-center inbox
//! and staff call tasks.
//!
//! A message row is written when a campaign is planned, keyed by (campaign or step,
//! member, occurrence): a repeated plan adds nothing. The dispatcher claims due messages
//! of running campaigns with a lease, as the webhook outbox does (status `sending`,
//! `due_at` = lease end; PostgreSQL `FOR UPDATE SKIP LOCKED`), and settles each under its
//! lease: a worker that lost its lease changes nothing, and a claim whose worker died is
//! claimed again when its lease runs out.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

pub(crate) mod sql;

pub(crate) use sql::impl_campaigns;

pub const MSG_PENDING: &str = "pending";
pub const MSG_SENDING: &str = "sending";
pub const MSG_SENT: &str = "sent";
pub const MSG_DELIVERED: &str = "delivered";
pub const MSG_FAILED: &str = "failed";
pub const MSG_HELD: &str = "held";
pub const MSG_CANCELLED: &str = "cancelled";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    /// `draft`, `running`, `paused` or `cancelled`.
    pub status: String,
    /// The campaign as created, JSON.
    pub spec: String,
    pub segment_id: String,
    pub channel: String,
    pub idempotency_key: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub launched_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub workspace_id: String,
    pub campaign_id: String,
    /// The journey step; empty for a broadcast.
    pub step: String,
    pub member_id: String,
    /// Which time the step reached the member; empty for a broadcast.
    pub occurrence: String,
    pub channel: String,
    pub transactional: i32,
    pub status: String,
    pub held_reason: Option<String>,
    pub deferred: Option<String>,
    /// Pending: when it may be sent; sending: when its lease ends.
    pub due_at: Millis,
    pub lease_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub token: String,
    pub sent_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// How a claimed message ended, written under the claim's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettle {
    pub id: String,
    pub lease_id: String,
    /// `sent`, `delivered`, `failed`, `held` or `pending` (retry, or moved by a rule).
    pub status: &'static str,
    pub held_reason: Option<String>,
    /// Set when a rule moved the send (kept once set).
    pub deferred: Option<String>,
    pub due_at: Millis,
    pub error: Option<String>,
    pub sent_at: Option<Millis>,
    /// Whether the claim counts as an attempt (a move by a rule does not).
    pub attempt: bool,
    pub at: Millis,
}

/// A campaign's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    /// Messages per status.
    pub by_status: Vec<(String, i64)>,
    /// Held messages per reason.
    pub held: Vec<(String, i64)>,
    /// Messages a rule moved (`quiet_hours`), per reason.
    pub deferred: Vec<(String, i64)>,
    /// Members with a goal event within the window after their message was sent.
    pub converted: i64,
    /// The amounts of those goal events (orders), minor units.
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxRow {
    pub id: String,
    pub workspace_id: String,
    pub member_id: String,
    pub title: String,
    pub body: String,
    pub created_at: Millis,
    pub read_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub workspace_id: String,
    pub member_id: String,
    pub assignee: Option<String>,
    pub pool: Option<String>,
    pub title: String,
    pub note: String,
    pub due_from: Millis,
    pub due_to: Millis,
    pub due_date: String,
    /// The bounds of `due_date` in the member's zone.
    pub day_start: Millis,
    pub day_end: Millis,
    /// `open` or `done`.
    pub status: String,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub callback_at: Option<Millis>,
    pub idempotency_key: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub done_at: Option<Millis>,
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub assignee: Option<String>,
    pub pool: Option<String>,
    /// Open tasks due on this local date.
    pub due_date: Option<String>,
    /// Open tasks due on the member's day that holds this instant (today).
    pub due_on_day_of: Option<Millis>,
    /// Open tasks whose window ended before this instant.
    pub overdue_at: Option<Millis>,
    pub member_id: Option<String>,
    /// Tasks of members whose home store is this code.
    pub member_store: Option<String>,
    /// Tasks of members owned by this staff code.
    pub member_staff: Option<String>,
}

#[async_trait]
pub trait CampaignsStore: Send + Sync {
    /// Campaigns by id after `after`.
    async fn campaigns_page(
        &self,
        ws: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CampaignRow>>;
    async fn campaign(&self, ws: &str, id: &str) -> Result<Option<CampaignRow>>;
    async fn campaign_by_key(&self, ws: &str, key: &str) -> Result<Option<CampaignRow>>;
    /// `(id, time_zone)` of these members.
    async fn member_zones(&self, ws: &str, ids: &[String]) -> Result<Vec<(String, String)>>;
    /// Claims up to `limit` due messages of running campaigns and active journeys (any
    /// workspace) under `lease_id` until `now + lease_ms`; each claim counts an attempt.
    async fn claim_messages(
        &self,
        lease_id: &str,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>>;
    /// Records outcomes, each only under its lease, in one transaction.
    async fn settle_messages(&self, settles: &[MessageSettle]) -> Result<()>;
    /// Marketing messages sent to these members since `since`: `(member, sent_at, channel)`.
    async fn marketing_sent(
        &self,
        ws: &str,
        member_ids: &[String],
        since: Millis,
    ) -> Result<Vec<(String, Millis, String)>>;
    /// `(member, channel)` withdrawals of these members.
    async fn unsubscribes(&self, ws: &str, member_ids: &[String]) -> Result<Vec<(String, String)>>;
    async fn message_by_token(&self, token: &str) -> Result<Option<MessageRow>>;
    async fn message(&self, ws: &str, id: &str) -> Result<Option<MessageRow>>;
    /// Counts of a campaign, conversions to `goal` within `window_ms` of each send.
    async fn campaign_counts(
        &self,
        ws: &str,
        id: &str,
        goal: Option<(&str, i64)>,
    ) -> Result<CampaignCounts>;
    /// Adds an inbox message unless its id is there; true if added.
    async fn insert_inbox(&self, row: &InboxRow) -> Result<bool>;
    /// A member's inbox, newest first, before the id `before`.
    async fn inbox_page(
        &self,
        ws: &str,
        member_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<InboxRow>>;
    async fn tasks_page(
        &self,
        ws: &str,
        f: &TaskFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TaskRow>>;
    async fn task(&self, ws: &str, id: &str) -> Result<Option<TaskRow>>;
    /// Tasks due from `from` to before `to` (of `assignee` when given):
    /// `[done within their window, done late, open and overdue at now, open and not yet due]`.
    async fn task_sla(
        &self,
        ws: &str,
        from: Millis,
        to: Millis,
        assignee: Option<&str>,
        now: Millis,
    ) -> Result<[i64; 4]>;
}

#[async_trait]
pub trait CampaignsTx: Send {
    /// False when the idempotency key is taken.
    async fn insert_campaign(&mut self, row: &CampaignRow) -> Result<bool>;
    async fn campaign_in_tx(&mut self, id: &str) -> Result<Option<CampaignRow>>;
    async fn set_campaign_status(
        &mut self,
        id: &str,
        status: &str,
        at: Millis,
        launched_at: Option<Millis>,
    ) -> Result<()>;
    /// Adds messages; one already there for the same key is kept. Returns how many were added.
    async fn insert_messages(&mut self, rows: &[MessageRow]) -> Result<u64>;
    /// Cancels the campaign's messages not yet sent.
    async fn cancel_messages(&mut self, campaign_id: &str, at: Millis) -> Result<u64>;
    /// Records a withdrawal; false if the member had withdrawn from the channel already.
    async fn insert_unsubscribe(
        &mut self,
        member_id: &str,
        channel: &str,
        message_id: &str,
        at: Millis,
    ) -> Result<bool>;
    /// Marks an inbox message read; false if it is not the member's.
    async fn mark_inbox_read(&mut self, member_id: &str, id: &str, at: Millis) -> Result<bool>;
    /// False when the idempotency key is taken.
    async fn insert_task(&mut self, row: &TaskRow) -> Result<bool>;
    async fn task_in_tx(&mut self, id: &str) -> Result<Option<TaskRow>>;
    async fn update_task(&mut self, row: &TaskRow) -> Result<()>;
}
