//! MemberOps storage: one schema on two backends.
//!
//! [`Store`] is what the application sees: reads, plus [`Store::begin_write`] which hands out
//! a [`WriteTx`], a write transaction whose methods are the building blocks of the use cases
//! (apply a batch of events, save a member). SQLite (embedded default) and PostgreSQL
//! implement both traits from the same SQL text (see `backend.rs`); only connecting,
//! locking and migrations differ.
//!
//! ## Adding a domain's storage
//! Each domain (loyalty, coupons, segments, tracking…) keeps its tables and SQL in its own
//! module `src/<domain>.rs`, shaped like `backend.rs`:
//! - `pub trait <Domain>Tx` (writes inside the batch transaction) and, if it reads outside
//!   one, `pub trait <Domain>Store`, both `#[async_trait]`;
//! - a `macro_rules! impl_<domain>` implementing them for `($Store, $Tx, $Db)` with
//!   runtime `sqlx::query` / `QueryBuilder` and `$1` placeholders;
//! - one invocation line each in `sqlite.rs` and `postgres.rs`;
//! - `+ <Domain>Tx` on [`WriteTx`] and `+ <Domain>Store` on [`Store`], so the application
//!   reaches them from the trait objects it holds (upcasting `&mut dyn WriteTx`);
//! - its migrations as `migrations/{sqlite,postgres}/000N_<domain>.sql`.

pub mod analytics;
pub mod audit;
mod backend;
pub mod campaigns;
mod clv;
mod coupons;
mod error;
mod intel_settings;
mod jobs;
pub mod journeys;
pub mod keys;
pub mod lists;
pub mod log;
mod loyalty;
mod model;
pub mod operators;
mod postgres;
pub mod privacy;
mod profile_cols;
mod segments;
mod sqlite;
mod stats;
pub mod stores;
pub mod tracking;
pub mod webhooks;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;

pub use audit::{AuditLogFilter, AuditLogRow, AuditStore, ConsentChange, OpsStore, PoolStats};
pub use campaigns::{CampaignsStore, CampaignsTx};
pub use clv::{ClvFitRow, ClvStore, ClvTx, OrderDayVisitor, PredictedFields, PredictionRow};
pub use coupons::*;
pub use error::{Result, StoreError};
pub use intel_settings::{IntelSettingsRow, IntelSettingsStore, IntelSettingsTx};
pub use jobs::*;
pub use journeys::{JourneysStore, JourneysTx};
pub use keys::{KeyScope, KeysStore, RateLimit};
pub use lists::{AuditEntry, InviteeRow, ListsStore, TagCount, TagMemberRow};
pub use log::{Backlog, ConsumerRow, LogEvent, LogStore, LogTx, StartAt};
pub use loyalty::*;
pub use model::*;
pub use operators::{OperatorRow, OperatorsStore, SessionRow};
pub use postgres::PgStore;
pub use privacy::{PrivacyStore, PrivacyTx, TableRows};
pub use segments::*;
pub use sqlite::SqliteStore;
pub use stats::StatsStore;
pub use stores::{AssignmentRow, StaffRow, StoreAuditRow, StoreRow, StoresStore, StoresTx};
pub use tracking::{TrackingStore, TrackingTx};
pub use webhooks::{
    ClaimedDelivery, DeliveryRow, DeliverySettle, EndpointHealth, EndpointRow, WebhooksStore,
    WebhooksTx,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Storage as the application uses it. Reads go to a pool of connections; writes go
/// through [`WriteTx`].
#[async_trait]
pub trait Store:
    LoyaltyStore
    + analytics::AnalyticsStore
    + CouponsStore
    + TrackingStore
    + SegmentsStore
    + SegmentCatalogStore
    + IntelSettingsStore
    + JobsStore
    + LogStore
    + WebhooksStore
    + StatsStore
    + ListsStore
    + StoresStore
    + KeysStore
    + AuditStore
    + OpsStore
    + PrivacyStore
    + CampaignsStore
    + JourneysStore
    + ClvStore
    + TierTrialsStore
    + ReferralsStore
    + OperatorsStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// Starts a write transaction for one workspace. Writers of one workspace are
    /// serialised (SQLite: `BEGIN IMMEDIATE` on the single writer connection; PostgreSQL: a
    /// transaction-scoped advisory lock), so that checks made inside the transaction (is
    /// this event new, is this order paid) stay true until it commits.
    async fn begin_write(&self, workspace_id: &str) -> Result<Box<dyn WriteTx>>;

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>>;
    /// Changes the workspace's name and calling code (`None` keeps one); the row as it is
    /// after, `None` when there is no such workspace.
    async fn update_workspace(
        &self,
        id: &str,
        name: Option<&str>,
        calling_code: Option<&str>,
    ) -> Result<Option<Workspace>>;

    async fn insert_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    async fn list_api_keys(&self, workspace_id: &str) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; returns false if there was no such live key.
    async fn revoke_api_key(&self, workspace_id: &str, id: &str, at: i64) -> Result<bool>;

    async fn member(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<(MemberRecord, StatsRow)>>;
    async fn member_by_external_id(
        &self,
        workspace_id: &str,
        external_id: &str,
    ) -> Result<Option<(MemberRecord, StatsRow)>>;
    async fn list_members(
        &self,
        workspace_id: &str,
        q: &MemberQuery,
    ) -> Result<Vec<(MemberRecord, StatsRow)>>;
    /// A member's events, newest first, before `before_seq` when given.
    async fn member_events(
        &self,
        workspace_id: &str,
        member_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRow>>;
    async fn event(&self, workspace_id: &str, id: &str) -> Result<Option<EventRow>>;
    async fn counts(&self, workspace_id: &str) -> Result<Counts>;
}

/// One write transaction. Dropping it without [`WriteTx::commit`] rolls everything back.
#[async_trait]
pub trait WriteTx:
    LoyaltyTx
    + LoyaltyHistoryTx
    + TierTrialsTx
    + ReferralsTx
    + analytics::AnalyticsTx
    + CouponsTx
    + TrackingTx
    + SegmentsTx
    + TagsTx
    + IntelSettingsTx
    + LogTx
    + WebhooksTx
    + StoresTx
    + PrivacyTx
    + CampaignsTx
    + JourneysTx
    + ClvTx
    + Send
{
    /// Which of these event ids are already stored.
    async fn existing_event_ids(&mut self, ids: &[&str]) -> Result<HashSet<String>>;
    async fn members_by_external_ids(&mut self, external_ids: &[&str]) -> Result<Vec<MemberRef>>;
    async fn member_for_update(&mut self, external_id: &str) -> Result<Option<MemberRecord>>;
    async fn insert_members(&mut self, rows: &[MemberRecord]) -> Result<()>;
    /// Rewrites a member's profile columns.
    async fn update_member(&mut self, row: &MemberRecord) -> Result<()>;
    async fn insert_events(&mut self, rows: &[NewEvent]) -> Result<()>;
    async fn orders_by_ids(&mut self, order_ids: &[&str]) -> Result<Vec<OrderRow>>;
    /// Sets the refunded total of existing orders: `(order_id, refunded_minor)`.
    async fn set_refunded(&mut self, refunds: &[(String, i64)]) -> Result<()>;
    /// The stored aggregates of these members (members without any are absent).
    async fn load_stats(&mut self, member_ids: &[&str]) -> Result<Vec<(String, StatsRow)>>;
    /// Writes whole aggregate rows, `(member_id, stats)`.
    async fn save_stats(&mut self, rows: &[(String, StatsRow)]) -> Result<()>;
    /// Rewrites existing aggregate rows, `(member_id, stats)`; fails if one is missing.
    async fn update_stats(&mut self, rows: &[(String, StatsRow)]) -> Result<()>;
    /// Members by external id with their aggregates and stored stage, in one read.
    async fn member_states(&mut self, external_ids: &[&str]) -> Result<Vec<MemberState>>;
    /// The embedded store's [`WriteEpoch`], read inside this transaction; `None` on
    /// PostgreSQL, where other servers write too and nothing may be kept between batches.
    async fn write_epoch(&mut self) -> Result<Option<WriteEpoch>>;
    /// Recomputes the order aggregates of these members from their orders: the exact
    /// answer whatever order events arrived in (used after refunds and late orders).
    async fn refresh_order_stats(&mut self, member_ids: &[&str]) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Opens the store a URL names: `postgres://…` or `postgresql://…` for PostgreSQL,
/// `sqlite://path`, `sqlite::memory:` or a plain file path for SQLite.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Ok(Arc::new(SqliteStore::open(path).await?))
    }
}

/// Rows per multi-row statement: well under both backends' bound-parameter limits
/// (SQLite 32,766; PostgreSQL 65,535) for our widest table.
pub(crate) const CHUNK: usize = 1000;

/// Whether a statement built for `rows` rows (or list items) of a list cut into statements
/// of `per_statement` stays prepared on its connection. A full chunk's SQL comes back batch
/// after batch; a shorter one's (the end of a list) rarely does, yet SQLite's prepared form
/// of a 1,000-row statement is about a megabyte: cached at every odd length, they filled
/// sqlx's 100-statement cache and held 100 MB or more through an import.
pub(crate) fn reusable(rows: usize, per_statement: usize) -> bool {
    rows == per_statement
}
