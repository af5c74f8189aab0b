//! Storage of member intelligence (segments domain): the stored stage, RFM scores and value
//! class per member, stage transitions, tags and tag rules, saved segments and their size
//! history, and the reads that feed RFM, the lifecycle job and the segment index.
//!
//! Segment trees are turned into SQL by the application (it knows the tree); the store only
//! runs a `WHERE` clause over [`SEGMENT_FROM`].

mod backend;
mod facts;

use async_trait::async_trait;

use crate::error::Result;
use memberops_core::time::Millis;

/// The row source a segment's SQL `WHERE` clause is written against: `m` members, `s` their
/// order/activity aggregates, `g` their stored intelligence.
pub const SEGMENT_FROM: &str = "members m LEFT JOIN member_stats s ON s.member_id = m.id \
     LEFT JOIN member_segments g ON g.member_id = m.id";

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
    /// JSON object text.
    pub attributes: String,
    /// JSON array text (the profile's tags).
    pub tags: String,
    /// Manual and rule tags.
    pub extra_tags: Vec<String>,
    pub orders: i64,
    pub spend: i64,
    pub last_order_at: Option<Millis>,
    pub intel: Option<IntelRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    pub id: String,
    pub name: String,
    /// JSON text of the condition tree.
    pub condition: String,
    pub created_at: Millis,
    pub updated_at: Millis,
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
    /// Adds `tag` from `source` to members; returns how many were new.
    async fn add_tags(
        &mut self,
        tag: &str,
        source: &str,
        member_ids: &[&str],
        at: Millis,
    ) -> Result<u64>;
    /// Removes `tag` from `source` (all sources when `None`); returns how many went.
    async fn remove_tags(
        &mut self,
        tag: &str,
        source: Option<&str>,
        member_ids: &[&str],
    ) -> Result<u64>;
    /// Replaces the members holding the rule tag `tag` by those matching `where_sql`.
    /// Returns (added, removed).
    async fn refresh_rule_tag(
        &mut self,
        tag: &str,
        where_sql: &str,
        at: Millis,
    ) -> Result<(u64, u64)>;
    async fn upsert_tag_rule(&mut self, tag: &str, condition: &str, at: Millis) -> Result<()>;
    async fn delete_tag_rule(&mut self, tag: &str) -> Result<bool>;
    async fn insert_segment(&mut self, s: &SegmentRecord) -> Result<()>;
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
    async fn tag_rules(&self, workspace_id: &str) -> Result<Vec<TagRuleRecord>>;
    /// Tag → member count over manual and rule tags.
    async fn tag_counts(&self, workspace_id: &str) -> Result<Vec<(String, String, i64)>>;
}

/// Every member of a workspace with its stored aggregates, streamed by `facts_as_of`: one
/// plain scan, no grouping (the aggregates in `member_stats` are kept as events land).
pub(crate) use backend::impl_segments;
pub(crate) use facts::*;
