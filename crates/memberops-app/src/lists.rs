//! The lists operators page through (tags, a tag's members, a member's invitees, growth
//! ledger and events, program versions, the loyalty audit), all cut by the one page helper
//! ([`crate::members::cut_page`]) into `{data, next_cursor}`.

use memberops_core::Invalid;
use memberops_core::time::millis_to_rfc3339;
use memberops_store::Store;
use serde::Serialize;

use crate::error::Result;
use crate::members::{cut_page, page_limit};
use crate::workspace::Workspace;

/// One page of a list (docs/api.md): pass `next_cursor` as `cursor` for the next; null on
/// the last.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, next_cursor: Option<String>) -> Self {
        Page { data, next_cursor }
    }
}

pub(crate) fn bad_cursor() -> Invalid {
    Invalid::one(
        &["query", "cursor"],
        "invalid_cursor",
        "not a cursor this list returned",
    )
}

/// 422 `invalid_cursor`: the `cursor` is not one this list gave.
pub fn invalid_cursor() -> crate::AppError {
    bad_cursor().into()
}

/// A cursor that is a ledger or log position (a positive integer).
pub fn seq_cursor(cursor: Option<&str>) -> Result<Option<i64>> {
    cursor
        .map(|c| match c.parse::<i64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad_cursor().into()),
        })
        .transpose()
}

/// The cursor after a free-text key (a tag, a store or staff code): hex, so that a cursor
/// this list did not give is told apart and refused rather than read as a key.
pub(crate) fn text_key_cursor(key: &str) -> String {
    let mut out = String::with_capacity(1 + key.len() * 2);
    out.push('k');
    for b in key.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The key a [`text_key_cursor`] holds.
pub(crate) fn text_key(cursor: Option<&str>) -> Result<Option<String>> {
    let Some(c) = cursor else { return Ok(None) };
    let hex = c.strip_prefix('k').ok_or_else(bad_cursor)?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return Err(bad_cursor().into());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| bad_cursor())?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| bad_cursor().into())
}

/// A cursor that is a key of the list (a member id): text with `prefix`.
pub(crate) fn key_cursor<'a>(cursor: Option<&'a str>, prefix: &str) -> Result<Option<&'a str>> {
    match cursor {
        Some(c) if c.is_empty() || !c.starts_with(prefix) => Err(bad_cursor().into()),
        other => Ok(other),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TagOut {
    pub tag: String,
    /// Members holding the tag (profile, manual or rule), each counted once.
    pub members: i64,
}

/// Every tag of the workspace with its member count, in name order.
pub async fn tags(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<TagOut>> {
    let limit = page_limit(limit)?;
    let after = text_key(cursor)?;
    let mut rows = store.tag_page(&ws.id, after.as_deref(), limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |t| text_key_cursor(&t.tag));
    Ok(Page {
        data: rows
            .into_iter()
            .map(|t| TagOut {
                tag: t.tag,
                members: t.members,
            })
            .collect(),
        next_cursor,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TagMemberOut {
    pub member_id: String,
    pub external_id: String,
    /// Where the tag comes from: `profile`, `manual`, `rule`.
    pub sources: Vec<String>,
}

/// The members holding a tag, by member id.
pub async fn tag_members(
    store: &dyn Store,
    ws: &Workspace,
    tag: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<TagMemberOut>> {
    let limit = page_limit(limit)?;
    let after = key_cursor(cursor, "mbr_")?;
    let mut rows = store.tag_members(&ws.id, tag, after, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |m| m.member_id.clone());
    Ok(Page {
        data: rows
            .into_iter()
            .map(|m| TagMemberOut {
                member_id: m.member_id,
                external_id: m.external_id,
                sources: m.sources,
            })
            .collect(),
        next_cursor,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteeOut {
    pub member_id: String,
    pub external_id: String,
    /// When the invitee registered with the member's invite code.
    pub bound_at: String,
    /// `pending` (no qualifying order yet), `rewarded` or `lapsed`.
    pub status: String,
    pub qualified_at: Option<String>,
}

/// The members a member invited (转介绍), in the order they joined.
pub async fn invitees(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<InviteeOut>> {
    let limit = page_limit(limit)?;
    // `<bound_at>.<member id>`: the list's order is by binding time, ties by id.
    let after = cursor
        .map(|c| {
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
                .filter(|(_, id)| id.starts_with("mbr_"))
                .map(|(at, id)| (at, id.to_owned()))
                .ok_or_else(bad_cursor)
        })
        .transpose()?;
    let m = crate::members::get(store, ws, member).await?;
    let mut rows = store.invitees(&ws.id, &m.id, after, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |r| {
        format!("{}.{}", r.bound_at, r.member_id)
    });
    Ok(Page {
        data: rows
            .into_iter()
            .map(|r| InviteeOut {
                member_id: r.member_id,
                external_id: r.external_id,
                bound_at: millis_to_rfc3339(r.bound_at),
                status: r.status,
                qualified_at: r.qualified_at.map(millis_to_rfc3339),
            })
            .collect(),
        next_cursor,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrowthLineOut {
    pub seq: i64,
    pub at: String,
    /// Growth value gained (negative: taken back by a refund or an adjustment).
    pub growth: i64,
    pub kind: String,
    pub event_id: String,
    pub rule_id: Option<String>,
    pub order_id: Option<String>,
}

/// A member's growth ledger (成长值明细), newest first.
pub async fn growth(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<GrowthLineOut>> {
    let limit = page_limit(limit)?;
    let before = seq_cursor(cursor)?;
    let m = crate::members::get(store, ws, member).await?;
    let mut rows = store.growth_page(&ws.id, &m.id, before, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |g| g.seq.to_string());
    Ok(Page {
        data: rows
            .into_iter()
            .map(|g| GrowthLineOut {
                seq: g.seq,
                at: millis_to_rfc3339(g.at),
                growth: g.growth,
                kind: g.kind,
                event_id: g.event_id,
                rule_id: g.rule_id,
                order_id: g.order_id,
            })
            .collect(),
        next_cursor,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgramVersionOut {
    pub version: i64,
    pub created_at: String,
    /// The API key id (or `cli`) that saved it.
    pub created_by: String,
    /// The program as saved.
    #[schema(value_type = Object)]
    pub program: serde_json::Value,
}

/// Every saved version of the loyalty program, newest first.
pub async fn program_versions(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<ProgramVersionOut>> {
    let limit = page_limit(limit)?;
    let before = seq_cursor(cursor)?;
    let mut rows = store.program_versions(&ws.id, before, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |p| p.version.to_string());
    Ok(Page {
        data: rows
            .into_iter()
            .map(|p| ProgramVersionOut {
                version: p.version,
                created_at: millis_to_rfc3339(p.created_at),
                created_by: p.created_by,
                program: serde_json::from_str(&p.program).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        next_cursor,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    pub at: String,
    /// The API key id, `cli` or the job that acted.
    pub actor: String,
    /// E.g. `program.updated`, `points.adjusted`.
    pub action: String,
    pub member_id: Option<String>,
    /// What changed (for a program: the sections that changed and the new version).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The loyalty audit (who changed what, when), newest first.
pub async fn loyalty_audit(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<AuditOut>> {
    let limit = page_limit(limit)?;
    let before = seq_cursor(cursor)?;
    let mut rows = store.loyalty_audit_page(&ws.id, before, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |a| a.seq.to_string());
    Ok(Page {
        data: rows
            .into_iter()
            .map(|a| AuditOut {
                seq: a.seq,
                at: millis_to_rfc3339(a.at),
                actor: a.actor,
                action: a.action,
                member_id: a.member_id,
                detail: serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        next_cursor,
    })
}

/// Event types from `?type=` values, each possibly comma-separated, blanks dropped.
pub fn split_types<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A member's events of the given types (every type when none), newest first.
pub async fn member_events(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    types: &[String],
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<memberops_store::EventRow>> {
    let limit = page_limit(limit)?;
    let before = seq_cursor(cursor)?;
    let m = crate::members::get(store, ws, member).await?;
    let mut rows = store
        .member_events_page(&ws.id, &m.id, types, before, limit + 1)
        .await?;
    let next_cursor = cut_page(&mut rows, limit, |e| e.seq.to_string());
    Ok(Page {
        data: rows,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_split_on_commas_and_repeat() {
        assert_eq!(
            split_types(["order.paid, page.viewed", "order.paid", " ,"]),
            vec!["order.paid".to_owned(), "page.viewed".to_owned()]
        );
    }

    #[test]
    fn cursors_are_checked() {
        assert!(seq_cursor(Some("abc")).is_err());
        assert!(seq_cursor(Some("-3")).is_err());
        assert_eq!(seq_cursor(Some("12")).ok().flatten(), Some(12));
        assert!(key_cursor(Some("x1"), "mbr_").is_err());
        assert!(key_cursor(Some(""), "").is_err());
        for key in ["gold", "高价值 客户"] {
            let c = text_key_cursor(key);
            assert_eq!(text_key(Some(&c)).ok().flatten().as_deref(), Some(key));
        }
        for foreign in ["gold", "k", "kzz", "k6", "zz not a cursor"] {
            assert!(text_key(Some(foreign)).is_err(), "{foreign}");
        }
    }
}
