//! Segment-compatible tracking: a batch of Tracking API messages becomes events on the
//! foundation's event path (so replays are no-ops and aggregates stay exact), plus
//! identity resolution, all in one transaction.
//!
//! Identity resolution: a message with only an `anonymousId` lands on the anonymous
//! profile `anon:<anonymousId>` (a member row, listed in `member_identities` with state
//! `anonymous`), or on the member that id was merged into. An `identify` carrying both ids,
//! or an `alias`, links the anonymous id to the `userId`: the anonymous profile's events and
//! orders move to the member, its profile fills the member's empty fields, the aggregates
//! are recomputed, and the anonymous profile is removed. An id merged once is never merged
//! again: a second member claiming it is recorded as a conflict.

use std::collections::HashMap;

use chrono::Utc;
use memberops_core::event::EventIn;
use memberops_core::member::ProfilePatch;
use memberops_store::tracking::{
    IdentityConflictRow, IdentityRow, STATE_ANONYMOUS, STATE_MERGED, TrackingIssueRow,
};
use memberops_store::{MemberRecord, Store, WriteTx};
use memberops_tracking::{Draft, Kind, Message, anonymous_external_id, map_message};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::ingest::{self, RowStatus};
use crate::workspace::Workspace;

/// A message that was rejected (nothing stored) or stored with some values kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MessageIssue {
    /// Position in the batch, from 0.
    pub index: usize,
    #[serde(rename = "messageId")]
    pub message_id: Option<String>,
    /// Stable reason, e.g. `missing_identity`, `invalid_amount`, `invalid_email`.
    pub code: String,
    pub detail: String,
    /// Field-level problems, as in the error body.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<memberops_core::FieldError>,
}

/// What happened to a batch. The SDKs only read `success`; the rest is for people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrackReport {
    pub success: bool,
    pub accepted: usize,
    /// Messages already stored (same `messageId`): nothing changed.
    pub duplicates: usize,
    pub rejected: Vec<MessageIssue>,
    pub warnings: Vec<MessageIssue>,
    /// Anonymous ids merged into a member by this batch.
    pub merged: usize,
    /// Anonymous ids claimed by a second member (recorded, not merged).
    pub conflicts: usize,
}

/// How a message's member was chosen.
struct Routed {
    index: usize,
    message: Message,
    draft: Draft,
    external_id: String,
    /// The anonymous id, when the message went to an anonymous profile.
    anonymous: Option<String>,
}

fn issue_id(payload: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(payload.as_bytes());
    h.update(b"\0");
    h.update(code.as_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Applies Tracking API messages. `path_kind` is the call the URL names (`/v1/track`);
/// `batch_sent_at` the batch's `sentAt`.
pub async fn ingest(
    store: &dyn Store,
    ws: &Workspace,
    messages: &[Value],
    path_kind: Option<Kind>,
    batch_sent_at: Option<&str>,
) -> Result<TrackReport> {
    let received = Utc::now();
    let received_ms = received.timestamp_millis();
    let mut report = TrackReport {
        success: true,
        ..TrackReport::default()
    };
    let mut issues: Vec<TrackingIssueRow> = Vec::new();
    let mut record = |report: &mut TrackReport,
                      index: usize,
                      severity: &str,
                      message_id: Option<String>,
                      code: &str,
                      detail: String| {
        // A refused message is kept on record without the NUL characters it was refused for.
        let payload = messages
            .get(index)
            .map(|v| memberops_core::text::without_nul(&v.to_string()).into_owned())
            .unwrap_or_default();
        if severity == "rejected" {
            tracing::warn!(index, message_id = ?message_id, code, detail = %detail, "tracking message rejected");
        }
        issues.push(TrackingIssueRow {
            workspace_id: ws.id.clone(),
            id: issue_id(&payload, &format!("{code}:{detail}")),
            message_id: message_id.clone(),
            severity: severity.to_owned(),
            code: code.to_owned(),
            detail: detail.clone(),
            payload,
            received_at: received_ms,
        });
        let issue = MessageIssue {
            index,
            message_id,
            code: code.to_owned(),
            detail,
            errors: Vec::new(),
        };
        if severity == "rejected" {
            report.rejected.push(issue);
        } else {
            report.warnings.push(issue);
        }
    };

    let mut parsed: Vec<(usize, Message, Draft)> = Vec::with_capacity(messages.len());
    for (index, v) in messages.iter().enumerate() {
        if let Some(at) = memberops_core::text::find_nul(v) {
            let message_id = v
                .get("messageId")
                .and_then(Value::as_str)
                .map(|s| memberops_core::text::without_nul(s).into_owned());
            let e = memberops_core::text::nul_error(at);
            let detail = format!("{}: {}", e.loc.join("."), e.msg);
            record(&mut report, index, "rejected", message_id, &e.code, detail);
            continue;
        }
        match Message::parse(v, path_kind, batch_sent_at) {
            Ok(m) => {
                let d = map_message(&m, received, &ws.calling_code);
                for w in &d.warnings {
                    record(
                        &mut report,
                        index,
                        "warning",
                        Some(m.message_id.clone()),
                        &w.code,
                        format!("{}: {}", w.loc.join("."), w.msg),
                    );
                }
                parsed.push((index, m, d));
            }
            Err(e) => {
                let message_id = v
                    .get("messageId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                record(
                    &mut report,
                    index,
                    "rejected",
                    message_id,
                    e.code(),
                    e.to_string(),
                );
            }
        }
    }

    let mut tx = store.begin_write(&ws.id).await?;
    let mut wanted: Vec<&str> = parsed
        .iter()
        .filter_map(|(_, m, d)| {
            if m.user_id.is_none() {
                m.anonymous_id.as_deref()
            } else {
                d.link.as_deref()
            }
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut identities: HashMap<String, IdentityRow> = tx
        .identities_by_anonymous_ids(&wanted)
        .await?
        .into_iter()
        .map(|r| (r.anonymous_id.clone(), r))
        .collect();

    let routed: Vec<Routed> = parsed
        .into_iter()
        .map(|(index, message, draft)| {
            let (external_id, anonymous) = match (&message.user_id, &message.anonymous_id) {
                (Some(u), _) => (u.clone(), None),
                (None, Some(a)) => match identities.get(a) {
                    Some(r) if r.state == STATE_MERGED => (r.member_external_id.clone(), None),
                    _ => (anonymous_external_id(a), Some(a.clone())),
                },
                // Message::parse refuses messages without either id.
                (None, None) => (String::new(), None),
            };
            Routed {
                index,
                message,
                draft,
                external_id,
                anonymous,
            }
        })
        .collect();

    let mut routed = routed;
    let events: Vec<EventIn> = routed
        .iter_mut()
        .map(|r| EventIn {
            id: r.draft.id.clone(),
            kind: r.draft.kind.clone(),
            member: r.external_id.clone(),
            occurred_at: Some(r.draft.occurred_at.clone()),
            // Not needed afterwards: moved, not copied.
            properties: std::mem::take(&mut r.draft.properties),
            auto_create: true,
        })
        .collect();
    let applied = ingest::apply_in_tx(tx.as_mut(), ws, events).await?;
    report.accepted = applied.accepted;
    report.duplicates = applied.duplicates;

    let mut dirty: Vec<String> = Vec::new();
    let mut patches: Vec<(&str, &ProfilePatch)> = Vec::new();
    let mut links: Vec<(&Routed, Option<&str>)> = Vec::new();
    for (r, row) in routed.iter().zip(&applied.results) {
        match row.status {
            RowStatus::Rejected | RowStatus::Skipped => {
                let (code, detail) = match &row.error {
                    Some(e) if !e.fields.is_empty() => (
                        e.code.clone(),
                        e.fields
                            .iter()
                            .map(|f| format!("{}: {}", f.loc.join("."), f.msg))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    Some(e) => (e.code.clone(), e.message.clone()),
                    None => ("rejected".to_owned(), "the event was rejected".to_owned()),
                };
                record(
                    &mut report,
                    r.index,
                    "rejected",
                    Some(r.message.message_id.clone()),
                    &code,
                    detail,
                );
                if let (Some(e), Some(issue)) = (&row.error, report.rejected.last_mut()) {
                    issue.errors.clone_from(&e.errors);
                }
                continue;
            }
            RowStatus::Duplicate => {}
            RowStatus::Accepted => {
                if let (Some(a), Some(member_id)) = (&r.anonymous, &row.member_id)
                    && !identities.contains_key(a)
                {
                    let ident = IdentityRow {
                        workspace_id: ws.id.clone(),
                        anonymous_id: a.clone(),
                        member_id: member_id.clone(),
                        member_external_id: r.external_id.clone(),
                        state: STATE_ANONYMOUS.to_owned(),
                        merged_from: None,
                        first_seen_at: received_ms,
                        merged_at: None,
                        message_id: None,
                    };
                    identities.insert(a.clone(), ident);
                    dirty.push(a.clone());
                }
                // Only a new message changes the profile: replaying an old identify must
                // not undo a newer one.
                if let Some(patch) = r
                    .draft
                    .profile
                    .as_ref()
                    .filter(|p| **p != ProfilePatch::default())
                {
                    patches.push((r.external_id.as_str(), patch));
                }
            }
        }
        if r.draft.link.is_some() {
            links.push((r, row.member_id.as_deref()));
        }
    }
    // Profiles first (one read, one write for the batch), then the links, which read them.
    update_profiles(tx.as_mut(), ws, &patches, received_ms).await?;
    for (r, known_member) in links {
        if let Some(a) = link(
            tx.as_mut(),
            ws,
            &mut identities,
            &mut report,
            r,
            known_member,
            received_ms,
        )
        .await?
        {
            dirty.push(a);
        }
    }
    dirty.sort_unstable();
    dirty.dedup();
    let rows: Vec<IdentityRow> = dirty
        .iter()
        .filter_map(|a| identities.get(a).cloned())
        .collect();
    tx.upsert_identities(&rows).await?;
    tx.insert_tracking_issues(&issues).await?;
    tx.commit().await?;
    crate::planner::after_growth(store).await;
    Ok(report)
}

/// Applies profile patches in message order: one read and one write for the batch.
async fn update_profiles(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    patches: &[(&str, &ProfilePatch)],
    now: i64,
) -> Result<()> {
    if patches.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = patches.iter().map(|(e, _)| *e).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut members: HashMap<String, (MemberRecord, bool)> = tx
        .members_for_update(&ids)
        .await?
        .into_iter()
        .map(|m| (m.external_id.clone(), (m, false)))
        .collect();
    for (ext, patch) in patches {
        if let Some((m, changed)) = members.get_mut(*ext) {
            let before = m.profile.clone();
            m.profile.apply(patch, ws.time_zone);
            if m.profile != before {
                m.updated_at = now;
                *changed = true;
            }
        }
    }
    let changed: Vec<MemberRecord> = members
        .into_values()
        .filter(|(_, c)| *c)
        .map(|(m, _)| m)
        .collect();
    tx.save_member_profiles(&changed).await?;
    Ok(())
}

/// Links the message's anonymous id (`draft.link`) to the message's user, merging the anonymous profile once.
async fn link(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    identities: &mut HashMap<String, IdentityRow>,
    report: &mut TrackReport,
    r: &Routed,
    known_member: Option<&str>,
    now: i64,
) -> Result<Option<String>> {
    let Some(a) = r.draft.link.as_deref() else {
        return Ok(None);
    };
    let Some(user) = r.message.user_id.as_deref() else {
        return Ok(None);
    };
    let current = identities.get(a).cloned();
    if let Some(c) = &current
        && c.state == STATE_MERGED
        && c.member_external_id == user
    {
        return Ok(None);
    }
    let target_id = match known_member {
        Some(id) => id.to_owned(),
        None => match tx
            .members_by_external_ids(&[user])
            .await?
            .into_iter()
            .next()
        {
            Some(m) => m.id,
            None => return Ok(None),
        },
    };
    match &current {
        Some(c) if c.state == STATE_MERGED && c.member_id == target_id => return Ok(None),
        Some(c) if c.state == STATE_MERGED => {
            tx.insert_identity_conflict(&IdentityConflictRow {
                workspace_id: ws.id.clone(),
                anonymous_id: a.to_owned(),
                member_id: target_id.clone(),
                owner_member_id: c.member_id.clone(),
                message_id: r.message.message_id.clone(),
                at: now,
            })
            .await?;
            tracing::warn!(anonymous_id = a, member = %target_id, owner = %c.member_id, "anonymous id already merged into another member");
            report.conflicts += 1;
            return Ok(None);
        }
        _ => {}
    }
    let anon_ext = anonymous_external_id(a);
    let mut merged_from = None;
    // Every anonymous profile has an identity row: without one there is nothing to move.
    let anon = match &current {
        Some(_) => tx.member_for_update(&anon_ext).await?,
        None => None,
    };
    if let Some(anon) = anon
        && anon.id != target_id
    {
        // The member's own values win; the anonymous profile only fills what is empty.
        if let Some(mut m) = tx.member_for_update(user).await? {
            let p = &mut m.profile;
            let q = anon.profile;
            p.phone = p.phone.take().or(q.phone);
            p.email = p.email.take().or(q.email);
            p.name = p.name.take().or(q.name);
            p.gender = p.gender.take().or(q.gender);
            p.birthday = p.birthday.take().or(q.birthday);
            p.region = p.region.take().or(q.region);
            p.channel = p.channel.take().or(q.channel);
            for (k, v) in q.attributes {
                p.attributes.entry(k).or_insert(v);
            }
            m.updated_at = now;
            tx.update_member(&m).await?;
        }
        tx.move_member_history(&anon.id, &target_id).await?;
        tx.refresh_order_stats(&[target_id.as_str()]).await?;
        tx.refresh_activity(&target_id).await?;
        merged_from = Some(anon.id);
    }
    let row = IdentityRow {
        workspace_id: ws.id.clone(),
        anonymous_id: a.to_owned(),
        member_id: target_id.clone(),
        member_external_id: user.to_owned(),
        state: STATE_MERGED.to_owned(),
        merged_from,
        first_seen_at: current.map(|c| c.first_seen_at).unwrap_or(now),
        merged_at: Some(now),
        message_id: Some(r.message.message_id.clone()),
    };
    identities.insert(a.to_owned(), row);
    report.merged += 1;
    Ok(Some(a.to_owned()))
}

/// One anonymous id of a member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityOut {
    pub anonymous_id: String,
    /// `anonymous` (this member is the anonymous profile) or `merged`.
    pub state: String,
    /// The anonymous profile whose history was merged in.
    pub merged_from: Option<String>,
    /// RFC 3339.
    pub first_seen_at: String,
    pub merged_at: Option<String>,
    /// The identify or alias message that linked it.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IdentityConflictOut {
    pub anonymous_id: String,
    /// The member that claimed the id.
    pub member_id: String,
    /// The member the id had already been merged into (it stays there).
    pub owner_member_id: String,
    pub message_id: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Identities {
    pub member_id: String,
    pub external_id: String,
    pub anonymous_ids: Vec<IdentityOut>,
    pub conflicts: Vec<IdentityConflictOut>,
}

/// A member's anonymous ids and identity conflicts (member by internal or external id).
pub async fn identities(store: &dyn Store, ws: &Workspace, member: &str) -> Result<Identities> {
    use memberops_core::time::millis_to_rfc3339;
    let m = crate::members::get(store, ws, member).await?;
    let (ids, conflicts) = store.member_identities(&ws.id, &m.id).await?;
    Ok(Identities {
        member_id: m.id,
        external_id: m.external_id,
        anonymous_ids: ids
            .into_iter()
            .map(|r| IdentityOut {
                anonymous_id: r.anonymous_id,
                state: r.state,
                merged_from: r.merged_from,
                first_seen_at: millis_to_rfc3339(r.first_seen_at),
                merged_at: r.merged_at.map(millis_to_rfc3339),
                message_id: r.message_id,
            })
            .collect(),
        conflicts: conflicts
            .into_iter()
            .map(|c| IdentityConflictOut {
                anonymous_id: c.anonymous_id,
                member_id: c.member_id,
                owner_member_id: c.owner_member_id,
                message_id: c.message_id,
                at: millis_to_rfc3339(c.at),
            })
            .collect(),
    })
}

/// A recorded tracking issue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackingIssueOut {
    pub id: String,
    pub message_id: Option<String>,
    /// `rejected` (nothing stored) or `warning` (stored, some values kept raw).
    pub severity: String,
    pub code: String,
    pub detail: String,
    /// The message as received.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub received_at: String,
}

/// The newest tracking issues.
pub struct IssuePage {
    pub data: Vec<TrackingIssueOut>,
    pub next_cursor: Option<String>,
}

/// Tracking issues, newest first, a page at a time; the cursor is the last row's
/// `received_at` and id.
pub async fn issues(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<IssuePage> {
    let limit = crate::members::page_limit(limit)?;
    let after = match cursor {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
                .ok_or_else(crate::lists::invalid_cursor)?,
        ),
    };
    let mut rows = store.tracking_issues(&ws.id, after, limit + 1).await?;
    let next_cursor =
        crate::members::cut_page(&mut rows, limit, |r| format!("{}.{}", r.received_at, r.id));
    Ok(IssuePage {
        data: rows
            .into_iter()
            .map(|r| TrackingIssueOut {
                id: r.id,
                message_id: r.message_id,
                severity: r.severity,
                code: r.code,
                detail: r.detail,
                payload: serde_json::from_str(&r.payload).unwrap_or(Value::String(r.payload)),
                received_at: memberops_core::time::millis_to_rfc3339(r.received_at),
            })
            .collect(),
        next_cursor,
    })
}
