//! Stores (门店) and staff (导购): their records, members' home store and owning staff
//! member, bulk reassignment when a staff member leaves, and the audit of assignment
//! changes. The rules live in `memberops_core::store`.

mod hook;

use memberops_core::Invalid;
use memberops_core::store::{
    self as rules, Assignment, AssignmentPatch, StaffFacts, Status, StoreFacts,
};
use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_store::{AssignmentRow, StaffRow, Store, StoreAuditRow, StoreRow, WriteTx};
use serde::{Deserialize, Serialize};

pub use hook::on_events;

use crate::error::{AppError, Result};
use crate::lists::{Page, seq_cursor, text_key, text_key_cursor};
use crate::members::{cut_page, page_limit};
use crate::workspace::Workspace;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreOut {
    pub code: String,
    pub name: String,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StoreIn {
    /// Letters, digits, `-`, `_`, `.`; 1–64; never changes.
    #[schema(example = "SH-001")]
    pub code: String,
    #[schema(example = "上海徐汇店")]
    pub name: String,
    /// Default `active`.
    pub status: Option<Status>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StorePatch {
    pub name: Option<String>,
    pub status: Option<Status>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffOut {
    pub code: String,
    pub name: String,
    /// The store the staff member works at.
    pub store_code: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StaffIn {
    #[schema(example = "g.wang")]
    pub code: String,
    #[schema(example = "王导购")]
    pub name: String,
    pub store_code: Option<String>,
    /// Default `active`.
    pub status: Option<Status>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StaffPatch {
    pub name: Option<String>,
    /// `null` detaches the staff member from any store.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub store_code: Option<Option<String>>,
    /// `inactive` when the staff member leaves (their members stay theirs until
    /// reassigned).
    pub status: Option<Status>,
}

fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssignmentOut {
    pub member_id: String,
    /// Home store (门店); null when none.
    pub store_code: Option<String>,
    /// Owning staff member (导购); null when none.
    pub staff_code: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReassignOut {
    pub from_staff: String,
    pub to_staff: String,
    /// Members moved.
    pub moved: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StoreAuditOut {
    pub seq: i64,
    pub at: String,
    /// The API key id that acted.
    pub actor: String,
    /// `member.assigned` or `staff.reassigned`.
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

fn status_of(s: &str) -> Status {
    Status::parse(s).unwrap_or(Status::Inactive)
}

fn store_out(r: StoreRow) -> StoreOut {
    StoreOut {
        status: status_of(&r.status),
        code: r.code,
        name: r.name,
        created_at: millis_to_rfc3339(r.created_at),
        updated_at: millis_to_rfc3339(r.updated_at),
    }
}

fn staff_out(r: StaffRow) -> StaffOut {
    StaffOut {
        status: status_of(&r.status),
        code: r.code,
        name: r.name,
        store_code: r.store_code,
        created_at: millis_to_rfc3339(r.created_at),
        updated_at: millis_to_rfc3339(r.updated_at),
    }
}

fn store_facts(r: &StoreRow) -> StoreFacts {
    StoreFacts {
        code: r.code.clone(),
        status: status_of(&r.status),
    }
}

fn staff_facts(r: &StaffRow) -> StaffFacts {
    StaffFacts {
        code: r.code.clone(),
        store_code: r.store_code.clone(),
        status: status_of(&r.status),
    }
}

fn exists(what: &'static str, code: &str) -> AppError {
    AppError::Conflict {
        code: if what == "store" {
            "store_exists"
        } else {
            "staff_exists"
        },
        detail: format!("a {what} with code `{code}` already exists"),
    }
}

pub async fn create_store(store: &dyn Store, ws: &Workspace, body: StoreIn) -> Result<StoreOut> {
    let code = rules::parse_code(&body.code, &["body", "code"]);
    let name = rules::parse_name(&body.name, &["body", "name"]);
    let (code, name) = match (code, name) {
        (Ok(c), Ok(n)) => (c, n),
        (c, n) => {
            let errs = [c.err(), n.err()].into_iter().flatten().flat_map(|e| e.0);
            return Err(Invalid(errs.collect()).into());
        }
    };
    let now = now_millis();
    let row = StoreRow {
        code,
        name,
        status: body.status.unwrap_or(Status::Active).as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin_write(&ws.id).await?;
    if !tx.insert_store(&row).await? {
        return Err(exists("store", &row.code));
    }
    tx.commit().await?;
    Ok(store_out(row))
}

pub async fn list_stores(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<StoreOut>> {
    let limit = page_limit(limit)?;
    let after = text_key(cursor)?;
    let mut rows = store
        .stores_page(&ws.id, after.as_deref(), limit + 1)
        .await?;
    let next_cursor = cut_page(&mut rows, limit, |r| text_key_cursor(&r.code));
    Ok(Page {
        data: rows.into_iter().map(store_out).collect(),
        next_cursor,
    })
}

pub async fn get_store(store: &dyn Store, ws: &Workspace, code: &str) -> Result<StoreOut> {
    store
        .store_row(&ws.id, code)
        .await?
        .map(store_out)
        .ok_or(AppError::NotFound { what: "store" })
}

pub async fn patch_store(
    store: &dyn Store,
    ws: &Workspace,
    code: &str,
    patch: StorePatch,
) -> Result<StoreOut> {
    let name = patch
        .name
        .as_deref()
        .map(|n| rules::parse_name(n, &["body", "name"]))
        .transpose()?;
    let mut tx = store.begin_write(&ws.id).await?;
    let mut row = tx
        .store_in_tx(code)
        .await?
        .ok_or(AppError::NotFound { what: "store" })?;
    if let Some(n) = name {
        row.name = n;
    }
    if let Some(s) = patch.status {
        row.status = s.as_str().to_owned();
    }
    row.updated_at = now_millis();
    tx.update_store(&row).await?;
    tx.commit().await?;
    Ok(store_out(row))
}

/// Checks that a staff member's store exists (an inactive store takes no new staff).
async fn check_staff_store(tx: &mut dyn WriteTx, code: &str) -> Result<()> {
    match tx.store_in_tx(code).await? {
        None => Err(Invalid::one(
            &["body", "store_code"],
            "unknown_store",
            format!("no store `{code}`"),
        )
        .into()),
        Some(s) if status_of(&s.status) == Status::Inactive => Err(Invalid::one(
            &["body", "store_code"],
            "inactive_store",
            format!("store `{code}` is inactive"),
        )
        .into()),
        Some(_) => Ok(()),
    }
}

pub async fn create_staff(store: &dyn Store, ws: &Workspace, body: StaffIn) -> Result<StaffOut> {
    let code = rules::parse_code(&body.code, &["body", "code"]);
    let name = rules::parse_name(&body.name, &["body", "name"]);
    let (code, name) = match (code, name) {
        (Ok(c), Ok(n)) => (c, n),
        (c, n) => {
            let errs = [c.err(), n.err()].into_iter().flatten().flat_map(|e| e.0);
            return Err(Invalid(errs.collect()).into());
        }
    };
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    if let Some(s) = &body.store_code {
        check_staff_store(tx.as_mut(), s).await?;
    }
    let row = StaffRow {
        code,
        name,
        store_code: body.store_code,
        status: body.status.unwrap_or(Status::Active).as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    if !tx.insert_staff(&row).await? {
        return Err(exists("staff member", &row.code));
    }
    tx.commit().await?;
    Ok(staff_out(row))
}

pub async fn list_staff(
    store: &dyn Store,
    ws: &Workspace,
    of_store: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<StaffOut>> {
    let limit = page_limit(limit)?;
    let after = text_key(cursor)?;
    let mut rows = store
        .staff_page(&ws.id, of_store, after.as_deref(), limit + 1)
        .await?;
    let next_cursor = cut_page(&mut rows, limit, |r| text_key_cursor(&r.code));
    Ok(Page {
        data: rows.into_iter().map(staff_out).collect(),
        next_cursor,
    })
}

pub async fn get_staff(store: &dyn Store, ws: &Workspace, code: &str) -> Result<StaffOut> {
    store
        .staff_row(&ws.id, code)
        .await?
        .map(staff_out)
        .ok_or(AppError::NotFound {
            what: "staff member",
        })
}

pub async fn patch_staff(
    store: &dyn Store,
    ws: &Workspace,
    code: &str,
    patch: StaffPatch,
) -> Result<StaffOut> {
    let name = patch
        .name
        .as_deref()
        .map(|n| rules::parse_name(n, &["body", "name"]))
        .transpose()?;
    let mut tx = store.begin_write(&ws.id).await?;
    let mut row = tx.staff_in_tx(code).await?.ok_or(AppError::NotFound {
        what: "staff member",
    })?;
    if let Some(Some(s)) = &patch.store_code {
        check_staff_store(tx.as_mut(), s).await?;
    }
    if let Some(n) = name {
        row.name = n;
    }
    if let Some(s) = patch.store_code {
        row.store_code = s;
    }
    if let Some(s) = patch.status {
        row.status = s.as_str().to_owned();
    }
    row.updated_at = now_millis();
    tx.update_staff(&row).await?;
    tx.commit().await?;
    Ok(staff_out(row))
}

/// Moves every member of staff `from` to staff `to` in one transaction, with an audit
/// entry. Running it again moves nothing more.
pub async fn reassign(
    store: &dyn Store,
    ws: &Workspace,
    from: &str,
    to: &str,
    actor: &str,
) -> Result<ReassignOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    tx.staff_in_tx(from).await?.ok_or(AppError::NotFound {
        what: "staff member",
    })?;
    let target = tx.staff_in_tx(to).await?;
    rules::check_reassign(from, target.as_ref().map(staff_facts).as_ref(), to)?;
    let now = now_millis();
    let moved = tx.reassign_staff(from, to, now).await?;
    let n = i64::try_from(moved.len()).unwrap_or(i64::MAX);
    tx.insert_store_audit(&StoreAuditRow {
        seq: 0,
        at: now,
        actor: actor.to_owned(),
        action: "staff.reassigned".into(),
        detail: serde_json::json!({"from_staff": from, "to_staff": to, "moved": n}).to_string(),
    })
    .await?;
    tx.commit().await?;
    Ok(ReassignOut {
        from_staff: from.to_owned(),
        to_staff: to.to_owned(),
        moved: n,
    })
}

/// The store and staff rows a patch names (for the rules).
async fn facts_in_tx(
    tx: &mut dyn WriteTx,
    patch: &AssignmentPatch,
) -> Result<(Option<StoreFacts>, Option<StaffFacts>)> {
    let st = match &patch.store_code {
        Some(Some(c)) => tx.store_in_tx(c).await?.as_ref().map(store_facts),
        _ => None,
    };
    let sf = match &patch.staff_code {
        Some(Some(c)) => tx.staff_in_tx(c).await?.as_ref().map(staff_facts),
        _ => None,
    };
    Ok((st, sf))
}

/// Checks an assignment a new member is created with (`POST /v1/members`), returning it
/// as the registration event carries it (the staff member's store filled in).
pub async fn check_new(
    store: &dyn Store,
    ws: &Workspace,
    patch: &AssignmentPatch,
) -> Result<Assignment> {
    let st = match &patch.store_code {
        Some(Some(c)) => store.store_row(&ws.id, c).await?.as_ref().map(store_facts),
        _ => None,
    };
    let sf = match &patch.staff_code {
        Some(Some(c)) => store.staff_row(&ws.id, c).await?.as_ref().map(staff_facts),
        _ => None,
    };
    Ok(rules::apply_patch(
        &Assignment::default(),
        patch,
        st.as_ref(),
        sf.as_ref(),
    )?)
}

/// An operator's change of a member's assignment, inside the caller's transaction (the
/// member update), audited; the member row is touched so segment indexes see it.
pub async fn assign_in_tx(
    tx: &mut dyn WriteTx,
    member_id: &str,
    patch: &AssignmentPatch,
    actor: &str,
) -> Result<()> {
    if patch.is_empty() {
        return Ok(());
    }
    let (st, sf) = facts_in_tx(tx, patch).await?;
    let current = tx
        .assignments_in_tx(&[member_id])
        .await?
        .into_iter()
        .next()
        .map(|a| Assignment {
            store_code: a.store_code,
            staff_code: a.staff_code,
        })
        .unwrap_or_default();
    let next = rules::apply_patch(&current, patch, st.as_ref(), sf.as_ref())?;
    if next == current {
        return Ok(());
    }
    let now = now_millis();
    tx.upsert_assignments(&[AssignmentRow {
        member_id: member_id.to_owned(),
        store_code: next.store_code.clone(),
        staff_code: next.staff_code.clone(),
        updated_at: now,
    }])
    .await?;
    tx.touch_members(&[member_id], now).await?;
    tx.insert_store_audit(&StoreAuditRow {
        seq: 0,
        at: now,
        actor: actor.to_owned(),
        action: "member.assigned".into(),
        detail: serde_json::json!({"member_id": member_id, "from": current, "to": next})
            .to_string(),
    })
    .await?;
    Ok(())
}

pub async fn member_assignment(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
) -> Result<AssignmentOut> {
    let m = crate::members::get(store, ws, member).await?;
    let a = store.assignment(&ws.id, &m.id).await?;
    Ok(AssignmentOut {
        member_id: m.id,
        store_code: a.as_ref().and_then(|a| a.store_code.clone()),
        staff_code: a.as_ref().and_then(|a| a.staff_code.clone()),
        updated_at: a.map(|a| millis_to_rfc3339(a.updated_at)),
    })
}

pub async fn audit(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<StoreAuditOut>> {
    let limit = page_limit(limit)?;
    let before = seq_cursor(cursor)?;
    let mut rows = store.store_audit_page(&ws.id, before, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |a| a.seq.to_string());
    Ok(Page {
        data: rows
            .into_iter()
            .map(|a| StoreAuditOut {
                seq: a.seq,
                at: millis_to_rfc3339(a.at),
                actor: a.actor,
                action: a.action,
                detail: serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
        next_cursor,
    })
}

/// The members a report is narrowed to by `?store=` / `?staff=`; `None` without filters.
pub async fn report_members(
    store: &dyn Store,
    ws: &Workspace,
    of_store: Option<&str>,
    of_staff: Option<&str>,
) -> Result<Option<std::collections::HashSet<String>>> {
    if of_store.is_none() && of_staff.is_none() {
        return Ok(None);
    }
    Ok(Some(
        store
            .assigned_members(&ws.id, of_store, of_staff)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// The lifecycle stage flow of a store's and/or staff member's members (`?store=`,
/// `?staff=` on `/v1/lifecycle/flow`).
pub async fn stage_flow(
    store: &dyn Store,
    ws: &Workspace,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    of_store: Option<&str>,
    of_staff: Option<&str>,
) -> Result<Vec<crate::segments::FlowRow>> {
    let f = from.format("%Y-%m-%d").to_string();
    let t = to.format("%Y-%m-%d").to_string();
    Ok(store
        .stage_flow_assigned(&ws.id, &f, &t, of_store, of_staff)
        .await?
        .into_iter()
        .map(|(from, to, members)| crate::segments::FlowRow { from, to, members })
        .collect())
}
