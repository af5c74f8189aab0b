//! Member use cases: create, update, look up, list.

use memberops_core::Invalid;
use memberops_core::event::{EventIn, MEMBER_REGISTERED};
use memberops_core::member::{Member, ProfileIn};
use memberops_core::time::now_millis;
use memberops_store::{MemberQuery, Store};

use crate::error::{AppError, Result};
use crate::ingest::{BatchOptions, RowStatus, apply_batch};
use crate::workspace::Workspace;

/// Creates a member by recording its `member.registered` event, so that members made
/// through the API and members made by events are made the same way.
pub async fn create(
    store: &dyn Store,
    ws: &Workspace,
    external_id: &str,
    profile: ProfileIn,
    extra: NewMemberExtras,
) -> Result<Member> {
    let external_id = external_id.trim();
    if external_id.is_empty() || external_id.len() > 200 {
        return Err(Invalid::one(
            &["external_id"],
            "invalid_external_id",
            "external_id must be 1–200 characters",
        )
        .into());
    }
    // Validate here too, so field errors point at the body, not at event properties.
    profile.clone().validate(&ws.calling_code)?;
    if store
        .member_by_external_id(&ws.id, external_id)
        .await?
        .is_some()
    {
        return Err(exists(external_id));
    }
    let assignment = crate::stores::check_new(store, ws, &extra.assignment).await?;
    let occurred_at = profile.registered_at.clone().flatten();
    let mut properties: serde_json::Map<String, serde_json::Value> =
        match serde_json::to_value(&profile) {
            Ok(serde_json::Value::Object(m)) => {
                m.into_iter().filter(|(_, v)| !v.is_null()).collect()
            }
            _ => serde_json::Map::new(),
        };
    // The same properties a registration event takes, so both make members alike
    // (referral binding, home store and staff).
    let texts = [
        ("invite_code", extra.invite_code),
        ("store_code", assignment.store_code),
        ("staff_code", assignment.staff_code),
    ];
    for (k, v) in texts {
        if let Some(v) = v {
            properties.insert(k.to_owned(), serde_json::Value::String(v));
        }
    }
    let event = EventIn {
        id: format!("{MEMBER_REGISTERED}:{external_id}"),
        kind: MEMBER_REGISTERED.to_owned(),
        member: external_id.to_owned(),
        occurred_at,
        properties,
        auto_create: false,
    };
    let report = apply_batch(store, ws, vec![event], BatchOptions { atomic: true }).await?;
    match report.results.first() {
        Some(r) if r.status == RowStatus::Accepted => {}
        Some(r) if r.status == RowStatus::Duplicate => return Err(exists(external_id)),
        Some(r) => {
            let fields = r
                .error
                .as_ref()
                .map(|e| e.fields.clone())
                .unwrap_or_default();
            return Err(Invalid(fields).into());
        }
        None => return Err(AppError::NotFound { what: "member" }),
    }
    get(store, ws, external_id).await
}

/// What `POST /v1/members` takes beside the profile.
#[derive(Debug, Clone, Default)]
pub struct NewMemberExtras {
    /// Another member's invite code (转介绍), bound as the registration event binds it.
    pub invite_code: Option<String>,
    /// Home store and owning staff member, checked against the workspace's.
    pub assignment: memberops_core::store::AssignmentPatch,
}

fn exists(external_id: &str) -> AppError {
    AppError::Conflict {
        code: "member_exists",
        detail: format!("a member with external id `{external_id}` already exists"),
    }
}

/// A member by internal id (`mbr_…`) or by the brand's external id.
pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<Member> {
    let found = if id.starts_with("mbr_") {
        store.member(&ws.id, id).await?
    } else {
        None
    };
    let found = match found {
        Some(f) => Some(f),
        None => store.member_by_external_id(&ws.id, id).await?,
    };
    let (record, stats) = found.ok_or(AppError::NotFound { what: "member" })?;
    let mut m = record.into_member(stats);
    // Manual and rule tags are the member's tags too, not only under /intelligence.
    // Profile tags keep their order; manual and rule tags follow.
    for t in store.member_extra_tags(&ws.id, &m.id).await? {
        if !m.tags.contains(&t) {
            m.tags.push(t);
        }
    }
    Ok(m)
}

/// Changes profile fields (absent fields stay, `null` clears) and the member's home store
/// and owning staff member, in one transaction.
pub async fn update(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    patch: ProfileIn,
    assignment: &memberops_core::store::AssignmentPatch,
    actor: &str,
) -> Result<Member> {
    let patch = patch.validate(&ws.calling_code)?;
    let current = get(store, ws, id).await?;
    let mut tx = store.begin_write(&ws.id).await?;
    let mut record = tx
        .member_for_update(&current.external_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    record.profile.apply(&patch, ws.time_zone);
    record.updated_at = now_millis();
    tx.update_member(&record).await?;
    crate::stores::assign_in_tx(tx.as_mut(), &record.id, assignment, actor).await?;
    tx.commit().await?;
    get(store, ws, &current.id).await
}

/// Search filters as the API takes them.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name_prefix: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub struct Page {
    pub members: Vec<Member>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A list's page size: `?limit=`, 1–1,000, default 50.
pub fn page_limit(limit: Option<i64>) -> Result<i64> {
    let limit = limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Invalid::one(&["limit"], "out_of_range", "limit must be 1–1000").into());
    }
    Ok(limit)
}

/// A cursor that is a member id (lists of members, ascending by id).
pub fn member_cursor(cursor: Option<&str>) -> Result<()> {
    match cursor {
        Some(c) if !memberops_core::id::is_id(memberops_core::id::MEMBER, c) => {
            Err(crate::lists::invalid_cursor())
        }
        _ => Ok(()),
    }
}

/// Cuts a page fetched with one row more than `limit`: the next cursor is the last kept
/// row's key when that extra row came back, None on the last page.
pub fn cut_page<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Option<String> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    more.then(|| rows.last().map(key)).flatten()
}

/// Lists members matching every given filter, oldest first, a page at a time.
pub async fn list(store: &dyn Store, ws: &Workspace, s: Search) -> Result<Page> {
    let limit = page_limit(s.limit)?;
    member_cursor(s.cursor.as_deref())?;
    // Look-ups normalise like the profile does (E.164 with the workspace's calling code),
    // so "138 0013 8000" finds "+8613800138000"; the national forms find rows stored
    // before numbers were normalised.
    let phones = match s.phone.as_deref() {
        Some(p) => memberops_core::member::normalize_phone(p, &ws.calling_code)?
            .map(|p| memberops_core::phone::search_forms(&p))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let email = s.email.as_deref().map(|e| e.trim().to_lowercase());
    let q = MemberQuery {
        external_id: s.external_id,
        phones,
        email,
        name_prefix: s.name_prefix.filter(|p| !p.is_empty()),
        after: s.cursor,
        limit: limit + 1,
    };
    let mut rows = store.list_members(&ws.id, &q).await?;
    let next_cursor = cut_page(&mut rows, limit, |(m, _)| m.id.clone());
    Ok(Page {
        members: rows.into_iter().map(|(m, s)| m.into_member(s)).collect(),
        next_cursor,
    })
}
