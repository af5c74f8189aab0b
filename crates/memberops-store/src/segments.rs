//! Storage of member intelligence (segments domain): the stored stage, RFM scores and value
//! class per member, stage transitions, tags and tag rules, saved segments and their size
//! history, and the reads that feed RFM, the lifecycle job and the segment index.
//!
//! Segment trees are turned into SQL by the application (it knows the tree); the store only
//! runs a `WHERE` clause over [`SEGMENT_FROM`].

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

/// A live order: one not fully refunded (the rule `member_stats` uses).
const LIVE: &str = "(o.refunded_minor < o.amount_minor OR o.amount_minor = 0)";

pub(crate) fn facts_sql() -> String {
    format!(
        "SELECT m.id, m.external_id, m.time_zone, m.registered_at, \
         CAST((CASE WHEN m.phone IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.email IS NULL THEN 0 ELSE 1 END) \
          + (CASE WHEN m.name IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.gender IS NULL THEN 0 ELSE 1 END) \
          + (CASE WHEN m.birthday IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.region IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS filled, \
         a.first_day, a.last_day, COALESCE(a.orders, 0) AS orders, COALESCE(a.days, 0) AS days, \
         COALESCE(a.monetary, 0) AS monetary, \
         CASE WHEN s.last_active_at IS NULL OR s.last_active_at <= $3 THEN s.last_active_at \
           ELSE (SELECT MAX(e.occurred_at) FROM events e WHERE e.member_id = m.id AND e.occurred_at <= $3 \
                 AND e.type <> 'lifecycle.changed') END AS last_active \
         FROM members m \
         LEFT JOIN (SELECT o.member_id, MIN(CASE WHEN {LIVE} THEN o.local_date END) AS first_day, \
             MAX(CASE WHEN {LIVE} THEN o.local_date END) AS last_day, \
             CAST(SUM(CASE WHEN {LIVE} THEN 1 ELSE 0 END) AS BIGINT) AS orders, \
             CAST(COUNT(DISTINCT CASE WHEN {LIVE} THEN o.local_date END) AS BIGINT) AS days, \
             CAST(SUM(o.amount_minor - o.refunded_minor) AS BIGINT) AS monetary \
           FROM orders o WHERE o.workspace_id = $1 AND o.local_date <= $2 GROUP BY o.member_id) a \
           ON a.member_id = m.id \
         LEFT JOIN member_stats s ON s.member_id = m.id \
         WHERE m.workspace_id = $1 AND (m.registered_at IS NULL OR m.registered_at <= $3 OR a.orders > 0)"
    )
}

pub(crate) const INTEL_COLUMNS: &str = "member_id, stage, stage_since, previous_stage, r_score, f_score, m_score, \
     rfm_class, value_class, scored_on";

pub(crate) const INDEX_SELECT: &str = "SELECT m.id, m.time_zone, m.gender, m.birthday, m.region, m.channel, \
     m.registered_at, m.attributes, m.tags, COALESCE(s.order_count, 0) AS orders, \
     COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0) AS spend, s.last_order_at, \
     g.stage, g.stage_since, g.previous_stage, g.r_score, g.f_score, g.m_score, g.rfm_class, g.value_class, g.scored_on \
     FROM members m LEFT JOIN member_stats s ON s.member_id = m.id LEFT JOIN member_segments g ON g.member_id = m.id";

/// Implements [`SegmentsTx`] and [`SegmentsStore`] for one sqlx driver.
macro_rules! impl_segments {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::error::Result;
            use memberops_core::time::Millis;
            use crate::segments::*;
            use crate::CHUNK;

            type DbRow = <$Db as sqlx::Database>::Row;

            fn intel_from(r: &DbRow) -> Result<IntelRow> {
                Ok(IntelRow {
                    member_id: r.try_get("member_id")?,
                    stage: r.try_get("stage")?,
                    stage_since: r.try_get("stage_since")?,
                    previous_stage: r.try_get("previous_stage")?,
                    r: r.try_get("r_score")?,
                    f: r.try_get("f_score")?,
                    m: r.try_get("m_score")?,
                    rfm_class: r.try_get("rfm_class")?,
                    value_class: r.try_get("value_class")?,
                    scored_on: r.try_get("scored_on")?,
                })
            }

            fn facts_from(r: &DbRow) -> Result<MemberFacts> {
                Ok(MemberFacts {
                    member_id: r.try_get(0)?,
                    external_id: r.try_get(1)?,
                    time_zone: r.try_get(2)?,
                    registered_at: r.try_get(3)?,
                    profile_filled: r.try_get(4)?,
                    first_order_day: r.try_get(5)?,
                    last_order_day: r.try_get(6)?,
                    orders: r.try_get(7)?,
                    order_days: r.try_get(8)?,
                    monetary: r.try_get(9)?,
                    last_active_at: r.try_get(10)?,
                })
            }

            fn source_from(r: &DbRow) -> Result<IndexSource> {
                let stage: Option<String> = r.try_get("stage")?;
                let intel = match stage {
                    Some(stage) => Some(IntelRow {
                        member_id: r.try_get("id")?,
                        stage,
                        stage_since: r.try_get("stage_since")?,
                        previous_stage: r.try_get("previous_stage")?,
                        r: r.try_get("r_score")?,
                        f: r.try_get("f_score")?,
                        m: r.try_get("m_score")?,
                        rfm_class: r.try_get("rfm_class")?,
                        value_class: r.try_get("value_class")?,
                        scored_on: r.try_get("scored_on")?,
                    }),
                    None => None,
                };
                Ok(IndexSource {
                    id: r.try_get("id")?,
                    time_zone: r.try_get("time_zone")?,
                    gender: r.try_get("gender")?,
                    birthday: r.try_get("birthday")?,
                    region: r.try_get("region")?,
                    channel: r.try_get("channel")?,
                    registered_at: r.try_get("registered_at")?,
                    attributes: r.try_get("attributes")?,
                    tags: r.try_get("tags")?,
                    extra_tags: Vec::new(),
                    orders: r.try_get("orders")?,
                    spend: r.try_get("spend")?,
                    last_order_at: r.try_get("last_order_at")?,
                    intel,
                })
            }

            fn push_ids(q: &mut QueryBuilder<$Db>, ids: &[&str]) {
                q.push("(");
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind((*id).to_owned());
                }
                q.push(")");
            }

            #[async_trait]
            impl SegmentsTx for $Tx {
                async fn intel_rows(&mut self, member_ids: &[&str]) -> Result<Vec<IntelRow>> {
                    let mut out = Vec::with_capacity(member_ids.len());
                    for chunk in member_ids.chunks(CHUNK) {
                        // By primary key alone (member ids are unique across workspaces): with a
                        // workspace predicate and a long IN list SQLite prefers the
                        // (workspace_id, stage) index and scans the whole workspace.
                        let mut q = QueryBuilder::<$Db>::new(format!("SELECT {INTEL_COLUMNS} FROM member_segments"));
                        q.push(" WHERE member_id IN ");
                        push_ids(&mut q, chunk);
                        for r in q.build().fetch_all(&mut *self.tx).await? {
                            out.push(intel_from(&r)?);
                        }
                    }
                    Ok(out)
                }

                async fn upsert_intel(&mut self, rows: &[IntelRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO member_segments (workspace_id, {INTEL_COLUMNS}) "));
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.stage.clone())
                                .push_bind(r.stage_since.clone())
                                .push_bind(r.previous_stage.clone())
                                .push_bind(r.r)
                                .push_bind(r.f)
                                .push_bind(r.m)
                                .push_bind(r.rfm_class.clone())
                                .push_bind(r.value_class.clone())
                                .push_bind(r.scored_on.clone());
                        });
                        q.push(
                            " ON CONFLICT (member_id) DO UPDATE SET stage = excluded.stage, stage_since = excluded.stage_since, \
                             previous_stage = excluded.previous_stage, r_score = excluded.r_score, f_score = excluded.f_score, \
                             m_score = excluded.m_score, rfm_class = excluded.rfm_class, value_class = excluded.value_class, \
                             scored_on = excluded.scored_on",
                        );
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                async fn insert_transitions(&mut self, rows: &[Transition]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO lifecycle_transitions (workspace_id, event_id, member_id, from_stage, to_stage, on_date, at) ",
                        );
                        q.push_values(chunk, |mut b, t| {
                            b.push_bind(self.ws.clone())
                                .push_bind(t.event_id.clone())
                                .push_bind(t.member_id.clone())
                                .push_bind(t.from_stage.clone())
                                .push_bind(t.to_stage.clone())
                                .push_bind(t.on_date.clone())
                                .push_bind(t.at);
                        });
                        q.push(" ON CONFLICT (workspace_id, event_id) DO NOTHING");
                        q.build().execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                async fn add_tags(&mut self, tag: &str, source: &str, member_ids: &[&str], at: Millis) -> Result<u64> {
                    let mut n = 0;
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO member_tags (workspace_id, member_id, tag, source, created_at) ");
                        q.push_values(chunk, |mut b, id| {
                            b.push_bind(self.ws.clone()).push_bind((*id).to_owned()).push_bind(tag.to_owned()).push_bind(source.to_owned()).push_bind(at);
                        });
                        q.push(" ON CONFLICT (member_id, tag, source) DO NOTHING");
                        n += q.build().execute(&mut *self.tx).await?.rows_affected();
                    }
                    Ok(n)
                }

                async fn remove_tags(&mut self, tag: &str, source: Option<&str>, member_ids: &[&str]) -> Result<u64> {
                    let mut n = 0;
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("DELETE FROM member_tags WHERE workspace_id = ");
                        q.push_bind(self.ws.clone()).push(" AND tag = ").push_bind(tag.to_owned());
                        if let Some(s) = source {
                            q.push(" AND source = ").push_bind(s.to_owned());
                        }
                        q.push(" AND member_id IN ");
                        push_ids(&mut q, chunk);
                        n += q.build().execute(&mut *self.tx).await?.rows_affected();
                    }
                    Ok(n)
                }

                async fn refresh_rule_tag(&mut self, tag: &str, where_sql: &str, at: Millis) -> Result<(u64, u64)> {
                    let removed = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM member_tags WHERE workspace_id = $1 AND tag = $2 AND source = 'rule' AND member_id NOT IN \
                         (SELECT m.id FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql}))"
                    )))
                    .bind(&self.ws)
                    .bind(tag)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                    let added = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO member_tags (workspace_id, member_id, tag, source, created_at) \
                         SELECT $1, m.id, $2, 'rule', $3 FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql}) \
                         ON CONFLICT (member_id, tag, source) DO NOTHING"
                    )))
                    .bind(&self.ws)
                    .bind(tag)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                    sqlx::query("UPDATE tag_rules SET refreshed_at = $1 WHERE workspace_id = $2 AND tag = $3")
                        .bind(at)
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok((added, removed))
                }

                async fn upsert_tag_rule(&mut self, tag: &str, condition: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO tag_rules (workspace_id, tag, condition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (workspace_id, tag) DO UPDATE SET condition = excluded.condition, updated_at = excluded.updated_at",
                    )
                    .bind(&self.ws)
                    .bind(tag)
                    .bind(condition)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn delete_tag_rule(&mut self, tag: &str) -> Result<bool> {
                    let n = sqlx::query("DELETE FROM tag_rules WHERE workspace_id = $1 AND tag = $2")
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?
                        .rows_affected();
                    sqlx::query("DELETE FROM member_tags WHERE workspace_id = $1 AND tag = $2 AND source = 'rule'")
                        .bind(&self.ws)
                        .bind(tag)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(n > 0)
                }

                async fn insert_segment(&mut self, s: &SegmentRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segments (id, workspace_id, name, condition, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&s.id)
                    .bind(&self.ws)
                    .bind(&s.name)
                    .bind(&s.condition)
                    .bind(s.created_at)
                    .bind(s.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn delete_segment(&mut self, id: &str) -> Result<bool> {
                    let n = sqlx::query("DELETE FROM segments WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?
                        .rows_affected();
                    Ok(n > 0)
                }

                async fn record_segment_size(&mut self, segment_id: &str, on_date: &str, size: i64, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segment_sizes (segment_id, on_date, size, at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (segment_id, on_date) DO UPDATE SET size = excluded.size, at = excluded.at",
                    )
                    .bind(segment_id)
                    .bind(on_date)
                    .bind(size)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                async fn bump_segments_version(&mut self) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segment_state (workspace_id, version) VALUES ($1, 1) \
                         ON CONFLICT (workspace_id) DO UPDATE SET version = segment_state.version + 1",
                    )
                    .bind(&self.ws)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl SegmentsStore for $Store {
                async fn facts_as_of(&self, workspace_id: &str, as_of: &str, cutoff: Millis) -> Result<Vec<MemberFacts>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(facts_sql()))
                        .bind(workspace_id)
                        .bind(as_of)
                        .bind(cutoff)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(|r| facts_from(r)).collect()
                }

                async fn all_intel(&self, workspace_id: &str) -> Result<Vec<IntelRow>> {
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {INTEL_COLUMNS} FROM member_segments WHERE workspace_id = $1"
                    )))
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(intel_from).collect()
                }

                async fn member_intel(&self, workspace_id: &str, member_id: &str) -> Result<Option<IntelRow>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {INTEL_COLUMNS} FROM member_segments WHERE workspace_id = $1 AND member_id = $2"
                    )))
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|r| intel_from(&r)).transpose()
                }

                async fn member_extra_tags(&self, workspace_id: &str, member_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar(
                        "SELECT DISTINCT tag FROM member_tags WHERE workspace_id = $1 AND member_id = $2 ORDER BY tag",
                    )
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?)
                }

                async fn index_sources(
                    &self,
                    workspace_id: &str,
                    after: Option<&str>,
                    ids: Option<&[String]>,
                    limit: i64,
                ) -> Result<Vec<IndexSource>> {
                    let mut q = QueryBuilder::<$Db>::new(INDEX_SELECT);
                    q.push(" WHERE m.workspace_id = ").push_bind(workspace_id.to_owned());
                    if let Some(a) = after {
                        q.push(" AND m.id > ").push_bind(a.to_owned());
                    }
                    if let Some(ids) = ids {
                        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                        q.push(" AND m.id IN ");
                        push_ids(&mut q, &refs);
                    }
                    q.push(" ORDER BY m.id LIMIT ").push_bind(limit);
                    let rows = q.build().fetch_all(self.reader()).await?;
                    let mut out: Vec<IndexSource> = rows.iter().map(source_from).collect::<Result<_>>()?;
                    let (Some(first), Some(last)) = (out.first(), out.last()) else {
                        return Ok(out);
                    };
                    let tags = sqlx::query(
                        "SELECT DISTINCT member_id, tag FROM member_tags WHERE workspace_id = $1 AND member_id >= $2 AND member_id <= $3",
                    )
                    .bind(workspace_id)
                    .bind(&first.id)
                    .bind(&last.id)
                    .fetch_all(self.reader())
                    .await?;
                    if !tags.is_empty() {
                        let pos: std::collections::HashMap<String, usize> =
                            out.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
                        for r in tags {
                            let id: String = r.try_get(0)?;
                            if let Some(&i) = pos.get(&id) {
                                out[i].extra_tags.push(r.try_get(1)?);
                            }
                        }
                    }
                    Ok(out)
                }

                async fn watermark(&self, workspace_id: &str) -> Result<Watermark> {
                    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_one(self.reader())
                        .await?;
                    let updated: Option<i64> = sqlx::query_scalar("SELECT MAX(updated_at) FROM members WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_one(self.reader())
                        .await?;
                    let version: Option<i64> = sqlx::query_scalar("SELECT version FROM segment_state WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_optional(self.reader())
                        .await?;
                    Ok(Watermark { seq: seq.unwrap_or(0), updated_at: updated.unwrap_or(0), version: version.unwrap_or(0) })
                }

                async fn touched_since(&self, workspace_id: &str, w: &Watermark, limit: i64) -> Result<Vec<String>> {
                    let mut ids: Vec<String> = sqlx::query_scalar(
                        "SELECT DISTINCT member_id FROM events WHERE workspace_id = $1 AND seq > $2 LIMIT $3",
                    )
                    .bind(workspace_id)
                    .bind(w.seq)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    let edited: Vec<String> = sqlx::query_scalar(
                        "SELECT id FROM members WHERE workspace_id = $1 AND updated_at >= $2 LIMIT $3",
                    )
                    .bind(workspace_id)
                    .bind(w.updated_at)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    ids.extend(edited);
                    ids.sort_unstable();
                    ids.dedup();
                    Ok(ids)
                }

                async fn distinct_zones(&self, workspace_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar("SELECT DISTINCT time_zone FROM members WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_all(self.reader())
                        .await?)
                }

                async fn event_counts(&self, workspace_id: &str, event: &str, since: Millis, until: Millis) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT member_id, CAST(COUNT(*) AS BIGINT) FROM events WHERE workspace_id = $1 AND type = $2 \
                         AND occurred_at > $3 AND occurred_at <= $4 GROUP BY member_id",
                    )
                    .bind(workspace_id)
                    .bind(event)
                    .bind(since)
                    .bind(until)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                async fn segment_ids_sql(&self, workspace_id: &str, where_sql: &str, after: Option<&str>, limit: Option<i64>) -> Result<Vec<String>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT m.id FROM {SEGMENT_FROM} WHERE m.workspace_id = "));
                    q.push_bind(workspace_id.to_owned());
                    if let Some(a) = after {
                        q.push(" AND m.id > ").push_bind(a.to_owned());
                    }
                    q.push(format!(" AND ({where_sql}) ORDER BY m.id"));
                    if let Some(l) = limit {
                        q.push(" LIMIT ").push_bind(l);
                    }
                    let rows = q.build().fetch_all(self.reader()).await?;
                    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
                }

                async fn segment_count_sql(&self, workspace_id: &str, where_sql: &str) -> Result<i64> {
                    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql})"
                    )))
                    .bind(workspace_id)
                    .fetch_one(self.reader())
                    .await?)
                }

                async fn external_ids(&self, workspace_id: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(CHUNK) {
                        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                        let mut q = QueryBuilder::<$Db>::new("SELECT id, external_id FROM members WHERE workspace_id = ");
                        q.push_bind(workspace_id.to_owned()).push(" AND id IN ");
                        push_ids(&mut q, &refs);
                        for r in q.build().fetch_all(self.reader()).await? {
                            out.push((r.try_get(0)?, r.try_get(1)?));
                        }
                    }
                    Ok(out)
                }

                async fn resolve_members(&self, workspace_id: &str, given: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::with_capacity(given.len());
                    for chunk in given.chunks(CHUNK) {
                        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                        let mut q = QueryBuilder::<$Db>::new("SELECT id, external_id FROM members WHERE workspace_id = ");
                        q.push_bind(workspace_id.to_owned()).push(" AND (external_id IN ");
                        push_ids(&mut q, &refs);
                        q.push(" OR id IN ");
                        push_ids(&mut q, &refs);
                        q.push(")");
                        let found: Vec<(String, String)> = q
                            .build()
                            .fetch_all(self.reader())
                            .await?
                            .iter()
                            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                            .collect::<Result<_>>()?;
                        for g in chunk {
                            if let Some((id, _)) = found.iter().find(|(id, ext)| ext == g || id == g) {
                                out.push((g.clone(), id.clone()));
                            }
                        }
                    }
                    Ok(out)
                }

                async fn stage_flow(&self, workspace_id: &str, from_date: &str, to_date: &str) -> Result<Vec<(Option<String>, String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT from_stage, to_stage, CAST(COUNT(*) AS BIGINT) FROM lifecycle_transitions \
                         WHERE workspace_id = $1 AND on_date >= $2 AND on_date <= $3 GROUP BY from_stage, to_stage \
                         ORDER BY from_stage, to_stage",
                    )
                    .bind(workspace_id)
                    .bind(from_date)
                    .bind(to_date)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
                }

                async fn segment(&self, workspace_id: &str, id: &str) -> Result<Option<SegmentRecord>> {
                    let row = sqlx::query(
                        "SELECT id, name, condition, created_at, updated_at FROM segments WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(workspace_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|r| {
                        Ok(SegmentRecord {
                            id: r.try_get(0)?,
                            name: r.try_get(1)?,
                            condition: r.try_get(2)?,
                            created_at: r.try_get(3)?,
                            updated_at: r.try_get(4)?,
                        })
                    })
                    .transpose()
                }

                async fn list_segments(&self, workspace_id: &str) -> Result<Vec<SegmentRecord>> {
                    let rows = sqlx::query(
                        "SELECT id, name, condition, created_at, updated_at FROM segments WHERE workspace_id = $1 ORDER BY id",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SegmentRecord {
                                id: r.try_get(0)?,
                                name: r.try_get(1)?,
                                condition: r.try_get(2)?,
                                created_at: r.try_get(3)?,
                                updated_at: r.try_get(4)?,
                            })
                        })
                        .collect()
                }

                async fn segment_sizes(&self, segment_id: &str) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query("SELECT on_date, size FROM segment_sizes WHERE segment_id = $1 ORDER BY on_date")
                        .bind(segment_id)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                async fn tag_rules(&self, workspace_id: &str) -> Result<Vec<TagRuleRecord>> {
                    let rows = sqlx::query(
                        "SELECT tag, condition, created_at, updated_at, refreshed_at FROM tag_rules WHERE workspace_id = $1 ORDER BY tag",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(TagRuleRecord {
                                tag: r.try_get(0)?,
                                condition: r.try_get(1)?,
                                created_at: r.try_get(2)?,
                                updated_at: r.try_get(3)?,
                                refreshed_at: r.try_get(4)?,
                            })
                        })
                        .collect()
                }

                async fn tag_counts(&self, workspace_id: &str) -> Result<Vec<(String, String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT tag, source, CAST(COUNT(*) AS BIGINT) FROM member_tags WHERE workspace_id = $1 GROUP BY tag, source ORDER BY tag, source",
                    )
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
                }
            }
        };
    };
}

pub(crate) use impl_segments;
