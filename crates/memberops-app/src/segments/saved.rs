//! Saved segments (人群包) and tags: create, preview, list members, export, size history;
//! manual tags in bulk and rule tags kept up to date by a segment condition.

use memberops_core::Invalid;
use memberops_core::id;
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_segments::Node;
use memberops_store::{SegmentRecord, Store};
use serde::Serialize;

use super::index::IndexCache;
use super::{parse_tree, seg_err, tree_sql};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// How a segment is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The in-memory index (default).
    #[default]
    Index,
    /// SQL over the database, the reference.
    Sql,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentOut {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    /// Saved versions so far: 1 at creation, one more per edit.
    pub version: i64,
}

fn out(r: SegmentRecord) -> SegmentOut {
    SegmentOut {
        id: r.id,
        name: r.name,
        condition: serde_json::from_str(&r.condition).unwrap_or(serde_json::Value::Null),
        created_at: millis_to_rfc3339(r.created_at),
        updated_at: millis_to_rfc3339(r.updated_at),
        version: r.version,
    }
}

/// One saved form of a segment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentVersionOut {
    pub version: i64,
    pub name: String,
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
    /// When this version was saved.
    pub saved_at: String,
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(
            Invalid::one(&["name"], "invalid_name", "name must be 1–200 characters").into(),
        );
    }
    Ok(name)
}

/// Edits a saved segment: a new name, a new condition, or both. The edit is saved as the
/// next version and the earlier ones are kept (`versions`); its size history goes on.
/// Sending what is already saved writes nothing.
pub async fn update(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    name: Option<&str>,
    condition: Option<&serde_json::Value>,
    now: Millis,
) -> Result<SegmentOut> {
    let name = name.map(check_name).transpose()?;
    let node = condition.map(|c| parse_tree(c, "condition")).transpose()?;
    let mut rec = store
        .segment(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "segment" })?;
    let next_name = name.map_or_else(|| rec.name.clone(), str::to_owned);
    let next_cond = node.map_or_else(|| rec.condition.clone(), |n| n.to_json().to_string());
    if next_name == rec.name && next_cond == rec.condition {
        return Ok(out(rec));
    }
    rec.name = next_name;
    rec.condition = next_cond;
    rec.updated_at = now;
    rec.version += 1;
    let mut tx = store.begin_write(&ws.id).await?;
    tx.update_segment(&rec).await?;
    tx.commit().await?;
    Ok(out(rec))
}

/// Every saved version of a segment, newest first.
pub async fn versions(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
) -> Result<Vec<SegmentVersionOut>> {
    if store.segment(&ws.id, id).await?.is_none() {
        return Err(AppError::NotFound { what: "segment" });
    }
    Ok(store
        .segment_versions(id)
        .await?
        .into_iter()
        .map(|v| SegmentVersionOut {
            version: v.version,
            name: v.name,
            condition: serde_json::from_str(&v.condition).unwrap_or(serde_json::Value::Null),
            saved_at: millis_to_rfc3339(v.at),
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberRef {
    pub id: String,
    pub external_id: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub count: u64,
    /// The first members by id.
    pub sample: Vec<MemberRef>,
    pub engine: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    pub data: Vec<MemberRef>,
    pub next_cursor: Option<String>,
}

pub async fn create(
    store: &dyn Store,
    ws: &Workspace,
    name: &str,
    condition: &serde_json::Value,
    now: Millis,
) -> Result<SegmentOut> {
    let name = check_name(name)?;
    let node = parse_tree(condition, "condition")?;
    let rec = SegmentRecord {
        id: id::new_id("seg"),
        name: name.to_owned(),
        condition: node.to_json().to_string(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = store.begin_write(&ws.id).await?;
    tx.insert_segment(&rec).await?;
    tx.commit().await?;
    Ok(out(rec))
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<(SegmentOut, Node)> {
    let rec = store
        .segment(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "segment" })?;
    let v: serde_json::Value = serde_json::from_str(&rec.condition)
        .map_err(|e| memberops_store::StoreError::Corrupt(e.to_string()))?;
    let node = Node::from_json(&v).map_err(seg_err)?;
    Ok((out(rec), node))
}

pub async fn list(store: &dyn Store, ws: &Workspace) -> Result<Vec<SegmentOut>> {
    Ok(store
        .list_segments(&ws.id)
        .await?
        .into_iter()
        .map(out)
        .collect())
}

pub async fn delete(store: &dyn Store, ws: &Workspace, id: &str) -> Result<()> {
    let mut tx = store.begin_write(&ws.id).await?;
    if !tx.delete_segment(id).await? {
        return Err(AppError::NotFound { what: "segment" });
    }
    tx.commit().await?;
    Ok(())
}

async fn refs(store: &dyn Store, ws: &Workspace, ids: Vec<String>) -> Result<Vec<MemberRef>> {
    let ext: std::collections::HashMap<String, String> = store
        .external_ids(&ws.id, &ids)
        .await?
        .into_iter()
        .collect();
    Ok(ids
        .into_iter()
        .map(|id| MemberRef {
            external_id: ext.get(&id).cloned().unwrap_or_default(),
            id,
        })
        .collect())
}

/// Count and first members of a tree.
pub async fn preview(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    node: &Node,
    sample: usize,
    engine: Engine,
    as_of: Millis,
) -> Result<Preview> {
    let (count, ids) = match engine {
        Engine::Index => {
            let (count, page) = cache
                .with_index(store, ws, node, as_of, |idx, ctx| {
                    let count = idx.count(node, ctx);
                    let page = if sample > 0 {
                        idx.members(node, ctx, sample, None).map(|p| p.ids)
                    } else {
                        Ok(Vec::new())
                    };
                    (count, page)
                })
                .await?;
            (count, page.map_err(seg_err)?)
        }
        Engine::Sql => {
            let w = tree_sql(store, ws, node, as_of).await?;
            let count = store.segment_count_sql(&ws.id, &w).await?;
            let ids = if sample > 0 {
                store
                    .segment_ids_sql(&ws.id, &w, None, Some(sample as i64))
                    .await?
            } else {
                Vec::new()
            };
            (u64::try_from(count).unwrap_or(0), ids)
        }
    };
    Ok(Preview {
        count,
        sample: refs(store, ws, ids).await?,
        engine: match engine {
            Engine::Index => "index".into(),
            Engine::Sql => "sql".into(),
        },
    })
}

/// Which page of a segment's members: `limit` after `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct PageReq<'a> {
    pub limit: usize,
    pub cursor: Option<&'a str>,
}

/// A page of members, ascending by id, after the cursor.
pub async fn members(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    node: &Node,
    page: PageReq<'_>,
    engine: Engine,
    as_of: Millis,
) -> Result<MemberPage> {
    let PageReq { limit, cursor } = page;
    crate::members::member_cursor(cursor)?;
    if !(1..=10_000).contains(&limit) {
        return Err(Invalid::one(&["limit"], "out_of_range", "limit must be 1–10000").into());
    }
    let (ids, next) = match engine {
        Engine::Index => {
            let page = cache
                .with_index(store, ws, node, as_of, |idx, ctx| {
                    idx.members(node, ctx, limit, cursor)
                })
                .await?
                .map_err(seg_err)?;
            (page.ids, page.next_cursor)
        }
        Engine::Sql => {
            let w = tree_sql(store, ws, node, as_of).await?;
            let mut ids = store
                .segment_ids_sql(&ws.id, &w, cursor, Some(limit as i64 + 1))
                .await?;
            let more = ids.len() > limit;
            ids.truncate(limit);
            let next = if more { ids.last().cloned() } else { None };
            (ids, next)
        }
    };
    Ok(MemberPage {
        data: refs(store, ws, ids).await?,
        next_cursor: next,
    })
}

/// Every matching member, for CSV export.
pub async fn all_members(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    node: &Node,
    as_of: Millis,
) -> Result<Vec<MemberRef>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = members(
            store,
            cache,
            ws,
            node,
            PageReq {
                limit: 10_000,
                cursor: cursor.as_deref(),
            },
            Engine::Index,
            as_of,
        )
        .await?;
        out.extend(page.data);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Counts a saved segment and records today's size in its history.
pub async fn size(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    id: &str,
    now: Millis,
) -> Result<u64> {
    let (_, node) = get(store, ws, id).await?;
    let count = cache
        .with_index(store, ws, &node, now, |idx, ctx| idx.count(&node, ctx))
        .await?;
    let day = memberops_segments::row::local_day(now, ws.time_zone)
        .format("%Y-%m-%d")
        .to_string();
    let mut tx = store.begin_write(&ws.id).await?;
    tx.record_segment_size(id, &day, i64::try_from(count).unwrap_or(i64::MAX), now)
        .await?;
    tx.commit().await?;
    Ok(count)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SizePoint {
    pub date: String,
    pub size: i64,
}

pub async fn sizes(store: &dyn Store, ws: &Workspace, id: &str) -> Result<Vec<SizePoint>> {
    get(store, ws, id).await?;
    Ok(store
        .segment_sizes(id)
        .await?
        .into_iter()
        .map(|(date, size)| SizePoint { date, size })
        .collect())
}

/// Records today's size of every saved segment (part of the daily job).
pub async fn record_all_sizes(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    now: Millis,
) -> Result<usize> {
    let list = store.list_segments(&ws.id).await?;
    for s in &list {
        size(store, cache, ws, &s.id, now).await?;
    }
    Ok(list.len())
}

fn check_tag(tag: &str) -> Result<String> {
    let t = tag.trim();
    if t.is_empty() || t.len() > 100 {
        return Err(Invalid::one(&["tag"], "invalid_tag", "a tag is 1–100 characters").into());
    }
    Ok(t.to_owned())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagChange {
    pub tag: String,
    pub added: u64,
    pub removed: u64,
    /// Given ids that name no member.
    pub unknown: Vec<String>,
}

/// Adds and removes a manual tag in bulk; members are named by internal or external id.
pub async fn change_tags(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    tag: &str,
    add: &[String],
    remove: &[String],
    now: Millis,
) -> Result<TagChange> {
    let tag = check_tag(tag)?;
    if add.len() + remove.len() > 1_000_000 {
        return Err(Invalid::one(&["add"], "too_many", "at most 1,000,000 ids per call").into());
    }
    let resolve = |given: &[String]| {
        let given = given.to_vec();
        async move {
            let found = store.resolve_members(&ws.id, &given).await?;
            let known: std::collections::HashSet<&str> =
                found.iter().map(|(g, _)| g.as_str()).collect();
            let unknown: Vec<String> = given
                .iter()
                .filter(|g| !known.contains(g.as_str()))
                .cloned()
                .collect();
            let mut ids: Vec<String> = found.into_iter().map(|(_, id)| id).collect();
            ids.sort_unstable();
            ids.dedup();
            Ok::<_, AppError>((ids, unknown))
        }
    };
    let (add_ids, mut unknown) = resolve(add).await?;
    let (remove_ids, unknown2) = resolve(remove).await?;
    unknown.extend(unknown2);
    let mut tx = store.begin_write(&ws.id).await?;
    let a: Vec<&str> = add_ids.iter().map(String::as_str).collect();
    let r: Vec<&str> = remove_ids.iter().map(String::as_str).collect();
    let added = tx.add_tags(&tag, "manual", &a, now).await?;
    let removed = tx.remove_tags(&tag, Some("manual"), &r).await?;
    tx.commit().await?;
    let mut touched = add_ids;
    touched.extend(remove_ids);
    cache.reload_members(store, ws, &touched).await?;
    Ok(TagChange {
        tag,
        added,
        removed,
        unknown,
    })
}

/// Reads member ids from a CSV: the column `member_id`, `external_id` or `id`, else the
/// first column.
pub fn ids_from_csv(text: &str) -> Result<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let bad = |e: csv::Error| AppError::from(Invalid::one(&["file"], "invalid_csv", e.to_string()));
    let headers = r.headers().map_err(bad)?.clone();
    let col = headers
        .iter()
        .position(|h| matches!(h, "member_id" | "external_id" | "id"))
        .unwrap_or(0);
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        if let Some(v) = rec.get(col).filter(|v| !v.is_empty()) {
            out.push(v.to_owned());
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagRuleOut {
    pub tag: String,
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
    pub members: i64,
    pub refreshed_at: Option<String>,
}

/// Creates or replaces a rule tag and applies it now.
pub async fn put_rule(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    tag: &str,
    condition: &serde_json::Value,
    now: Millis,
) -> Result<TagRuleOut> {
    let tag = check_tag(tag)?;
    let node = parse_tree(condition, "condition")?;
    let text = node.to_json().to_string();
    let w = tree_sql(store, ws, &node, now).await?;
    let mut tx = store.begin_write(&ws.id).await?;
    tx.upsert_tag_rule(&tag, &text, now).await?;
    tx.refresh_rule_tag(&tag, &w, now).await?;
    tx.bump_segments_version().await?;
    tx.commit().await?;
    cache.refresh(store, ws).await?;
    rule(store, ws, &tag).await
}

async fn rule(store: &dyn Store, ws: &Workspace, tag: &str) -> Result<TagRuleOut> {
    let rules = rules(store, ws).await?;
    rules
        .into_iter()
        .find(|r| r.tag == tag)
        .ok_or(AppError::NotFound { what: "tag rule" })
}

pub async fn rules(store: &dyn Store, ws: &Workspace) -> Result<Vec<TagRuleOut>> {
    let counts = store.tag_counts(&ws.id).await?;
    Ok(store
        .tag_rules(&ws.id)
        .await?
        .into_iter()
        .map(|r| TagRuleOut {
            members: counts
                .iter()
                .find(|(t, s, _)| *t == r.tag && s == "rule")
                .map_or(0, |c| c.2),
            condition: serde_json::from_str(&r.condition).unwrap_or(serde_json::Value::Null),
            refreshed_at: r.refreshed_at.map(millis_to_rfc3339),
            tag: r.tag,
        })
        .collect())
}

pub async fn delete_rule(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    tag: &str,
) -> Result<()> {
    let mut tx = store.begin_write(&ws.id).await?;
    if !tx.delete_tag_rule(tag).await? {
        return Err(AppError::NotFound { what: "tag rule" });
    }
    tx.bump_segments_version().await?;
    tx.commit().await?;
    cache.refresh(store, ws).await
}

/// Re-applies every rule tag (part of the daily job; time moves "birthday within 7 days").
pub async fn refresh_rules(store: &dyn Store, ws: &Workspace, now: Millis) -> Result<usize> {
    let list = store.tag_rules(&ws.id).await?;
    if list.is_empty() {
        return Ok(0);
    }
    // Rendered before the write transaction: rendering reads the database.
    let mut clauses = Vec::with_capacity(list.len());
    for r in &list {
        let v: serde_json::Value = serde_json::from_str(&r.condition)
            .map_err(|e| memberops_store::StoreError::Corrupt(e.to_string()))?;
        let node = Node::from_json(&v).map_err(seg_err)?;
        clauses.push((r.tag.clone(), tree_sql(store, ws, &node, now).await?));
    }
    let mut tx = store.begin_write(&ws.id).await?;
    for (tag, w) in &clauses {
        tx.refresh_rule_tag(tag, w, now).await?;
    }
    tx.bump_segments_version().await?;
    tx.commit().await?;
    Ok(list.len())
}
