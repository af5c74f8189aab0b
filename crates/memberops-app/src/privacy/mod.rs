//! Privacy (PIPL / GDPR): a member's data, all of it, as JSON; and its erasure, which
//! pseudonymises the person while ledgers, orders and aggregates stay as they were (so
//! balances still equal their ledgers and reports still count the member).

mod scrub;

use std::collections::BTreeMap;

use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_store::Store;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// The prefix of an erased member's external id.
pub const ERASED_PREFIX: &str = "erased:";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentChangeOut {
    /// RFC 3339, UTC.
    pub at: String,
    /// Per channel; null for the consent the member was created with.
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Object)]
    pub after: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberExport {
    pub member_id: String,
    /// RFC 3339, UTC.
    pub exported_at: String,
    /// The member as `GET /v1/members/{id}` shows it.
    #[schema(value_type = Object)]
    pub profile: Value,
    /// Every change of the member's consent, oldest first.
    pub consent_history: Vec<ConsentChangeOut>,
    /// Every stored row naming the member, by table (identities, events, ledgers, coupons,
    /// segments and tags, messages…); instants in these rows are epoch milliseconds as
    /// stored.
    #[schema(value_type = Object)]
    pub data: BTreeMap<String, Vec<Map<String, Value>>>,
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// Everything held about one member (by internal or external id).
pub async fn export(store: &dyn Store, ws: &Workspace, id: &str) -> Result<MemberExport> {
    let member = crate::members::get(store, ws, id).await?;
    let data = store
        .member_rows(&ws.id, &member.id)
        .await?
        .into_iter()
        .map(|t| (t.table, t.rows))
        .collect();
    let consent_history = store
        .consent_history(&ws.id, &member.id)
        .await?
        .into_iter()
        .map(|c| ConsentChangeOut {
            at: millis_to_rfc3339(c.at),
            before: c.before.as_deref().map(parse),
            after: parse(&c.after),
        })
        .collect();
    Ok(MemberExport {
        member_id: member.id.clone(),
        exported_at: millis_to_rfc3339(now_millis()),
        profile: serde_json::to_value(&member).map_err(|e| AppError::Unprocessable {
            code: "export_failed",
            detail: e.to_string(),
        })?,
        consent_history,
        data,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EraseOut {
    pub member_id: String,
    /// False when the member had been erased before (nothing changed this time).
    pub erased_now: bool,
    /// Identities (anonymous ids, conflicts) deleted.
    pub identities_deleted: u64,
    /// Events whose free-text properties were removed.
    pub events_scrubbed: u64,
    /// Refused Tracking API messages naming the member (its ids, phone or email) deleted.
    pub tracking_issues_deleted: u64,
}

/// Irreversibly pseudonymises a member: name, phone, email, gender, birthday, income
/// band, region and custom attributes are cleared, the external id replaced, linked
/// identities deleted, free text removed from its events, and every consent withdrawn.
/// Ledgers, orders, coupons and aggregates stay. Idempotent.
pub async fn erase(store: &dyn Store, ws: &Workspace, id: &str) -> Result<EraseOut> {
    let member = crate::members::get(store, ws, id).await?;
    if member.external_id.starts_with(ERASED_PREFIX) {
        return Ok(EraseOut {
            member_id: member.id,
            erased_now: false,
            identities_deleted: 0,
            events_scrubbed: 0,
            tracking_issues_deleted: 0,
        });
    }
    let mut tx = store.begin_write(&ws.id).await?;
    let mut record = tx
        .member_for_update(&member.external_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    // What names the person in raw messages, read before it is cleared.
    let mut needles: Vec<String> = [
        Some(record.external_id.clone()),
        record.profile.phone.clone(),
        record.profile.email.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    needles.extend(tx.member_anonymous_ids(&record.id).await?);
    let p = &mut record.profile;
    p.phone = None;
    p.email = None;
    p.name = None;
    p.gender = None;
    p.birthday = None;
    p.income_band = None;
    p.region = None;
    p.attributes = Map::new();
    for v in p.consent.values_mut() {
        *v = false;
    }
    record.updated_at = now_millis();
    tx.update_member(&record).await?;
    tx.set_external_id(&record.id, &format!("{ERASED_PREFIX}{}", record.id))
        .await?;
    let identities_deleted = tx.delete_identities(&record.id).await?;
    let mut events_scrubbed = 0;
    for (seq, kind, props) in tx.member_event_properties(&record.id).await? {
        // System events (tier and lifecycle changes, expiries…) are written by MemberOps
        // from ids and rules, never from what a person typed.
        if memberops_core::event::SystemEvent::parse(&kind).is_some() {
            continue;
        }
        if let Some(clean) = scrub::properties(&props) {
            tx.set_event_properties(seq, &clean).await?;
            events_scrubbed += 1;
        }
    }
    let tracking_issues_deleted = scrub::tracking_issues(tx.as_mut(), &needles).await?;
    tx.commit().await?;
    Ok(EraseOut {
        member_id: record.id,
        erased_now: true,
        identities_deleted,
        events_scrubbed,
        tracking_issues_deleted,
    })
}
