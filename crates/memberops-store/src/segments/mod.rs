//! Storage of member intelligence (segments domain): the stored stage, RFM scores and value
//! class per member, stage transitions, tags and tag rules, saved segments and their size
//! history, and the reads that feed RFM, the lifecycle job and the segment index.
//!
//! Segment trees are turned into SQL by the application (it knows the tree); the store only
//! runs a `WHERE` clause over [`SEGMENT_FROM`].

mod backend;
mod catalog;
mod facts;
mod tags;

use async_trait::async_trait;

use crate::error::Result;
use memberops_core::time::Millis;

/// The row source a segment's SQL `WHERE` clause is written against: `m` members, `s` their
/// order/activity aggregates, `g` their stored intelligence, `l` their loyalty account.
pub const SEGMENT_FROM: &str = "members m LEFT JOIN member_stats s ON s.member_id = m.id \
     LEFT JOIN member_segments g ON g.member_id = m.id LEFT JOIN loyalty_members l ON l.member_id = m.id";

/// A text literal (operands of run-time SQL; the edge refuses NUL, the one character a
/// literal cannot hold).
pub fn sql_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The order lines a purchase condition reads, with the order they belong to.
pub(crate) const PURCHASED_FROM: &str =
    "order_items i JOIN orders o ON o.workspace_id = i.workspace_id AND o.order_id = i.order_id";

/// Which lines a purchase measure counts: `kind` is `sku` or `category`; orders paid in
/// `since < paid_at <= until` (no lower bound when `None`) that still count as orders.
pub(crate) fn purchased_pred(
    kind: &str,
    values: &[String],
    since: Option<Millis>,
    until: Millis,
) -> String {
    let vals: Vec<String> = values.iter().map(|v| sql_lit(v)).collect();
    let since = since.map_or(String::new(), |t| format!(" AND o.paid_at > {t}"));
    format!(
        "i.kind = {} AND i.value IN ({}) AND o.paid_at <= {until}{since} AND {}",
        sql_lit(kind),
        vals.join(", "),
        crate::backend::COUNTS_AS_ORDER_SQL
    )
}

/// The purchase measure of the member whose id is the SQL expression `member`: how many
/// orders bought one of `values`.
pub fn purchased_sql(
    member: &str,
    kind: &str,
    values: &[String],
    since: Option<Millis>,
    until: Millis,
) -> String {
    format!(
        "(SELECT COUNT(DISTINCT i.order_id) FROM {PURCHASED_FROM} WHERE i.member_id = {member} AND {})",
        purchased_pred(kind, values, since, until)
    )
}

/// Which lots a points-expiring measure adds up: open at `from`, ending by `until`.
pub(crate) fn expiring_pred(from: Millis, until: Millis) -> String {
    format!("p.remaining > 0 AND p.expires_at > {from} AND p.expires_at <= {until}")
}

/// The points of the member `member` (an SQL expression of its id) that expire in
/// `from < expires_at <= until`.
pub fn points_expiring_sql(member: &str, from: Millis, until: Millis) -> String {
    format!(
        "(SELECT COALESCE(SUM(p.remaining), 0) FROM points_lots p WHERE p.member_id = {member} AND {})",
        expiring_pred(from, until)
    )
}

/// One order line as segments see it: a SKU or category an order carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub member_id: String,
    pub order_id: String,
    /// `sku` or `category`.
    pub kind: String,
    pub value: String,
}

/// One saved form of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentVersion {
    pub version: i64,
    pub name: String,
    pub condition: String,
    pub at: Millis,
}

/// One member's facts as of a date: order aggregates over orders on or before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFacts {
    pub member_id: String,
    pub external_id: String,
    pub time_zone: String,
    pub registered_at: Option<Millis>,
    /// Profile fields filled in, of phone, email, name, gender, birthday, region.
    pub profile_filled: i64,
    /// Local days (YYYY-MM-DD) of the first and last order that is not fully refunded.
    pub first_order_day: Option<String>,
    pub last_order_day: Option<String>,
    pub orders: i64,
    pub order_days: i64,
    /// Paid minus refunded over those orders, minor units.
    pub monetary: i64,
    /// Last activity (any event but system ones) at or before the cutoff.
    pub last_active_at: Option<Millis>,
}

/// The stored intelligence of one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntelRow {
    pub member_id: String,
    pub stage: String,
    /// Day (YYYY-MM-DD) the member entered the stage.
    pub stage_since: String,
    pub previous_stage: Option<String>,
    pub r: Option<i64>,
    pub f: Option<i64>,
    pub m: Option<i64>,
    pub rfm_class: Option<String>,
    pub value_class: Option<String>,
    /// As-of day of the scores and value class.
    pub scored_on: Option<String>,
}

/// A stage change, recorded beside its `lifecycle.changed` event (same id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub event_id: String,
    pub member_id: String,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub on_date: String,
    pub at: Millis,
}

/// What the segment index holds for one member, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSource {
    pub id: String,
    pub time_zone: String,
    pub gender: Option<String>,
    pub birthday: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub registered_at: Option<Millis>,
    pub income_band: Option<String>,
    /// JSON object text: channel → bool.
    pub consent: String,
    /// JSON object text.
    pub attributes: String,
    /// JSON array text (the profile's tags).
    pub tags: String,
    /// Manual and rule tags.
    pub extra_tags: Vec<String>,
    pub orders: i64,
    pub spend: i64,
    pub last_order_at: Option<Millis>,
    pub first_order_at: Option<Millis>,
    pub intel: Option<IntelRow>,
    /// The loyalty account's tier; `None` without an account (the program's first tier).
    pub tier: Option<String>,
    pub points_balance: i64,
    /// Stored value, principal plus bonus, minor units.
    pub stored_value: i64,
    /// Home store and owning staff codes (`member_stores`).
    pub store: Option<String>,
    pub staff: Option<String>,
    /// The stored predictions (`member_predictions`), for segment fields.
    pub predicted: Option<crate::PredictedFields>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    pub id: String,
    pub name: String,
    /// JSON text of the condition tree.
    pub condition: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Saved versions so far (1 at creation).
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRuleRecord {
    pub tag: String,
    pub condition: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub refreshed_at: Option<Millis>,
}

/// What changed since a reader last looked: event seq and profile edit watermarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watermark {
    pub seq: i64,
    pub updated_at: Millis,
    pub version: i64,
    /// Last points and stored-value ledger lines: operator adjustments, spends and top-ups
    /// change balances without an event.
    pub points_seq: i64,
    pub sv_seq: i64,
}

/// Writes inside a write transaction (the batch of events, or an operator command).
#[async_trait]
pub trait SegmentsTx: Send {
    /// Current facts of these members (orders from `member_stats`, not as of a date).
    async fn intel_rows(&mut self, member_ids: &[&str]) -> Result<Vec<IntelRow>>;
    /// Inserts or rewrites whole rows.
    async fn upsert_intel(&mut self, rows: &[IntelRow]) -> Result<()>;
    /// Inserts transitions; ones already stored (same event id) are left alone.
    async fn insert_transitions(&mut self, rows: &[Transition]) -> Result<()>;
    /// Inserts a new segment and its version 1.
    async fn insert_segment(&mut self, s: &SegmentRecord) -> Result<()>;
    /// Saves `s` as the segment's version `s.version` (the next one), keeping the others.
    async fn update_segment(&mut self, s: &SegmentRecord) -> Result<()>;
    /// Records what orders bought; pairs already stored are left alone.
    async fn insert_order_items(&mut self, rows: &[OrderItem]) -> Result<()>;
    async fn delete_segment(&mut self, id: &str) -> Result<bool>;
    async fn record_segment_size(
        &mut self,
        segment_id: &str,
        on_date: &str,
        size: i64,
        at: Millis,
    ) -> Result<()>;
    /// Tells servers their segment index is stale.
    async fn bump_segments_version(&mut self) -> Result<()>;
}

/// Reads outside a transaction.
#[async_trait]
pub trait SegmentsStore: Send + Sync {
    /// Every member's facts as of `as_of` (orders with `local_date <= as_of`; activity at or
    /// before `cutoff`), skipping members registered after `cutoff`.
    async fn facts_as_of(
        &self,
        workspace_id: &str,
        as_of: &str,
        cutoff: Millis,
    ) -> Result<Vec<MemberFacts>>;
    async fn all_intel(&self, workspace_id: &str) -> Result<Vec<IntelRow>>;
    async fn member_intel(&self, workspace_id: &str, member_id: &str) -> Result<Option<IntelRow>>;
    async fn member_extra_tags(&self, workspace_id: &str, member_id: &str) -> Result<Vec<String>>;
    /// A page of index sources after `after` (by id), or exactly `ids` when given.
    async fn index_sources(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        ids: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<IndexSource>>;
    async fn watermark(&self, workspace_id: &str) -> Result<Watermark>;
    /// Members touched since `w` (events after its seq, profile edits at or after its time),
    /// at most `limit`.
    async fn touched_since(
        &self,
        workspace_id: &str,
        w: &Watermark,
        limit: i64,
    ) -> Result<Vec<String>>;
    async fn distinct_zones(&self, workspace_id: &str) -> Result<Vec<String>>;
    /// Per-member counts of `event` with `since < occurred_at <= until`.
    async fn event_counts(
        &self,
        workspace_id: &str,
        event: &str,
        since: Millis,
        until: Millis,
    ) -> Result<Vec<(String, i64)>>;
    /// Member ids matching a `WHERE` clause over [`SEGMENT_FROM`], ascending, after `after`.
    async fn segment_ids_sql(
        &self,
        workspace_id: &str,
        where_sql: &str,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<String>>;
    async fn segment_count_sql(&self, workspace_id: &str, where_sql: &str) -> Result<i64>;
    /// `(id, external_id)` of these members.
    async fn external_ids(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> Result<Vec<(String, String)>>;
    /// Internal ids of members named by internal or external id: `(given, internal id)`.
    async fn resolve_members(
        &self,
        workspace_id: &str,
        given: &[String],
    ) -> Result<Vec<(String, String)>>;
}

/// Saved segments, tag rules, stage flow and the measures conditions read: reads outside a
/// transaction.
#[async_trait]
pub trait SegmentCatalogStore: Send + Sync {
    /// Transition counts `(from, to, count)` with `from_date <= on_date <= to_date`.
    async fn stage_flow(
        &self,
        workspace_id: &str,
        from_date: &str,
        to_date: &str,
    ) -> Result<Vec<(Option<String>, String, i64)>>;
    async fn segment(&self, workspace_id: &str, id: &str) -> Result<Option<SegmentRecord>>;
    async fn list_segments(&self, workspace_id: &str) -> Result<Vec<SegmentRecord>>;
    async fn segment_sizes(&self, segment_id: &str) -> Result<Vec<(String, i64)>>;
    /// Every saved version of a segment, newest first.
    async fn segment_versions(&self, segment_id: &str) -> Result<Vec<SegmentVersion>>;
    /// Per-member points expiring in `from < expires_at <= until` (members with some).
    async fn points_expiring(
        &self,
        workspace_id: &str,
        from: Millis,
        until: Millis,
    ) -> Result<Vec<(String, i64)>>;
    /// Per-member counts of orders that bought one of `values` (see [`purchased_sql`]).
    async fn purchase_counts(
        &self,
        workspace_id: &str,
        kind: &str,
        values: &[String],
        since: Option<Millis>,
        until: Millis,
    ) -> Result<Vec<(String, i64)>>;
    async fn tag_rules(&self, workspace_id: &str) -> Result<Vec<TagRuleRecord>>;
    /// Tag → member count over manual and rule tags.
    async fn tag_counts(&self, workspace_id: &str) -> Result<Vec<(String, String, i64)>>;
}

/// Every member of a workspace with its stored aggregates, streamed by `facts_as_of`: one
/// plain scan, no grouping (the aggregates in `member_stats` are kept as events land).
pub(crate) use backend::impl_segments;
pub(crate) use catalog::impl_segment_catalog;
pub(crate) use facts::*;
pub use tags::TagsTx;
pub(crate) use tags::impl_tags;
