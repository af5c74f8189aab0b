//! The audit log of writes made by operator and admin keys: who, when, which endpoint,
//! which member, and for settings and balances their state before and after. Entries are
//! only ever appended (the database refuses updates and deletes of `audit_log`).

use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_store::{ApiKey, AuditLogFilter, AuditLogRow, KeyScope, Store};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::lists::{Page, seq_cursor};
use crate::members::{cut_page, page_limit};
use crate::workspace::Workspace;

/// What an audited write changes whose state is kept before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A member's points, growth and stored-value balances.
    Balances(String),
    /// The intelligence settings (RFM, lifecycle, churn rules).
    IntelSettings,
    /// The loyalty program.
    LoyaltyProgram,
    /// The workspace's own settings (name, calling code).
    WorkspaceSettings,
}

/// The state of `subject` now, as JSON (None when there is nothing yet).
pub async fn snapshot(store: &dyn Store, ws: &Workspace, subject: &Subject) -> Option<Value> {
    let v = match subject {
        Subject::Balances(member) => {
            let row = store.loyalty_member(&ws.id, member).await.ok()??;
            serde_json::json!({
                "tier": row.tier,
                "growth_total": row.growth_total,
                "points_balance": row.points_balance,
                "points_debt": row.points_debt,
                "stored_value_principal_minor": row.sv_principal,
                "stored_value_bonus_minor": row.sv_bonus,
            })
        }
        Subject::IntelSettings => {
            serde_json::to_value(crate::segments::settings::current(store, ws).await.ok()?).ok()?
        }
        Subject::LoyaltyProgram => {
            serde_json::to_value(crate::loyalty::current_program(store, ws).await.ok()?).ok()?
        }
        Subject::WorkspaceSettings => {
            serde_json::to_value(crate::workspace::settings(store, &ws.id).await.ok()?).ok()?
        }
    };
    Some(v)
}

/// The internal id of a member named by internal or external id (None when unknown).
pub async fn resolve_member(store: &dyn Store, ws: &Workspace, id: &str) -> Option<String> {
    crate::members::get(store, ws, id).await.ok().map(|m| m.id)
}

/// Whether a key's writes are audited: those of operator and admin keys.
pub fn audits(key: &ApiKey) -> bool {
    key.scopes
        .iter()
        .any(|s| matches!(s, KeyScope::Operator | KeyScope::Admin))
}

/// Who wrote: an API key, or a console operator (id `opr_…`, their email, their role
/// in place of scopes).
#[derive(Debug, Clone)]
pub struct Author {
    pub workspace_id: String,
    pub id: String,
    pub name: String,
    /// Comma-separated scopes, or the operator's role.
    pub scopes: String,
}

impl From<&ApiKey> for Author {
    fn from(k: &ApiKey) -> Self {
        Author {
            workspace_id: k.workspace_id.clone(),
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: KeyScope::join(&k.scopes),
        }
    }
}

/// One audited write, as the API or the console saw it.
pub struct Write<'a> {
    pub author: Author,
    pub method: &'a str,
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub member_id: Option<String>,
    pub request_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn record(store: &dyn Store, w: Write<'_>) -> Result<()> {
    let row = AuditLogRow {
        seq: 0,
        workspace_id: w.author.workspace_id,
        at: now_millis(),
        key_id: w.author.id,
        key_name: w.author.name,
        scopes: w.author.scopes,
        method: w.method.to_owned(),
        route: w.route.to_owned(),
        path: w.path.to_owned(),
        status: i32::from(w.status),
        member_id: w.member_id,
        request_id: w.request_id,
        before_state: w.before.map(|v| v.to_string()),
        after_state: w.after.map(|v| v.to_string()),
    };
    store.append_audit(&row).await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditActor {
    pub key_id: String,
    pub name: String,
    /// The key's scopes when it wrote.
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditLogOut {
    pub seq: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: AuditActor,
    pub method: String,
    /// The route template (`/v1/members/{id}/points:adjust`).
    pub route: String,
    pub path: String,
    pub status: i32,
    pub member_id: Option<String>,
    pub request_id: Option<String>,
    /// Settings or balances before the write (settings and balance routes only).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
}

fn out(r: AuditLogRow) -> AuditLogOut {
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    AuditLogOut {
        seq: r.seq,
        at: millis_to_rfc3339(r.at),
        actor: AuditActor {
            key_id: r.key_id,
            name: r.key_name,
            scopes: r.scopes.split(',').map(str::to_owned).collect(),
        },
        method: r.method,
        route: r.route,
        path: r.path,
        status: r.status,
        member_id: r.member_id,
        request_id: r.request_id,
        before: parse(r.before_state),
        after: parse(r.after_state),
    }
}

/// Which entries to list: by member, by the key that wrote (`actor`: a key id), since an
/// instant.
#[derive(Debug, Default)]
pub struct Query {
    pub member: Option<String>,
    pub actor: Option<String>,
    pub since: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// A page of the audit log, newest first.
pub async fn page(store: &dyn Store, ws: &Workspace, q: Query) -> Result<Page<AuditLogOut>> {
    let limit = page_limit(q.limit)?;
    let since = q
        .since
        .as_deref()
        .map(|s| memberops_core::time::When::parse(s, "since").map(|w| w.resolve(ws.time_zone).0))
        .transpose()?;
    let filter = AuditLogFilter {
        member_id: q.member,
        key_id: q.actor,
        since,
        before_seq: seq_cursor(q.cursor.as_deref())?,
    };
    let mut rows = store.audit_page(&ws.id, &filter, limit + 1).await?;
    let next_cursor = cut_page(&mut rows, limit, |r| r.seq.to_string());
    Ok(Page::new(rows.into_iter().map(out).collect(), next_cursor))
}
