//! The member center's inbox (list, mark read) and one-click unsubscribes.

use std::collections::BTreeMap;

use memberops_campaigns::Channel;
use memberops_core::event::SystemEvent;
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_core::{Invalid, id};
use memberops_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::lists::Page;
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxMessageOut {
    pub id: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    /// Null while unread.
    pub read_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MarkReadIn {
    /// Inbox message ids of the member.
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MarkReadOut {
    /// How many of the ids are the member's (read now or before).
    pub marked: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnsubscribeOut {
    pub unsubscribed: bool,
    /// The channel the member withdrew from.
    pub channel: String,
    pub message: String,
}

/// A member's inbox, newest first.
pub async fn list(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<InboxMessageOut>> {
    let limit = crate::members::page_limit(limit)?;
    if cursor.is_some_and(|c| !id::is_id("msg", c)) {
        return Err(crate::lists::invalid_cursor());
    }
    let m = crate::members::get(store, ws, member).await?;
    let mut rows = store.inbox_page(&ws.id, &m.id, cursor, limit + 1).await?;
    let next = crate::members::cut_page(&mut rows, limit, |r| r.id.clone());
    Ok(Page::new(
        rows.into_iter()
            .map(|r| InboxMessageOut {
                id: r.id,
                title: r.title,
                body: r.body,
                created_at: millis_to_rfc3339(r.created_at),
                read_at: r.read_at.map(millis_to_rfc3339),
            })
            .collect(),
        next,
    ))
}

/// Marks inbox messages read (again: no change).
pub async fn mark_read(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    ids: &[String],
    now: Millis,
) -> Result<MarkReadOut> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(Invalid::one(&["body", "ids"], "out_of_range", "1–1000 ids").into());
    }
    let m = crate::members::get(store, ws, member).await?;
    let mut tx = store.begin_write(&ws.id).await?;
    let mut marked = 0;
    for i in ids {
        if tx.mark_inbox_read(&m.id, i, now).await? {
            marked += 1;
        }
    }
    tx.commit().await?;
    Ok(MarkReadOut { marked })
}

/// The workspace of an unsubscribe token (the link carries no key).
pub async fn token_workspace(store: &dyn Store, token: &str) -> Result<String> {
    Ok(store
        .message_by_token(token)
        .await?
        .ok_or(AppError::NotFound { what: "link" })?
        .workspace_id)
}

/// Withdraws the member's consent to the message's channel: recorded as a withdrawal, on
/// the profile (`consent.<channel>: false`) and as a `consent.withdrawn` event, in one
/// transaction. Following the link again changes nothing.
pub async fn unsubscribe(
    store: &dyn Store,
    ws: &Workspace,
    token: &str,
    now: Millis,
) -> Result<UnsubscribeOut> {
    let msg = store
        .message_by_token(token)
        .await?
        .filter(|m| m.workspace_id == ws.id)
        .ok_or(AppError::NotFound { what: "link" })?;
    let channel = Channel::parse(&msg.channel).unwrap_or(Channel::Email);
    let (record, _) = store
        .member(&ws.id, &msg.member_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    let mut tx = store.begin_write(&ws.id).await?;
    if tx
        .insert_unsubscribe(&msg.member_id, channel.as_str(), &msg.id, now)
        .await?
    {
        if let Some(mut rec) = tx.member_for_update(&record.external_id).await? {
            rec.profile
                .consent
                .insert(channel.consent_key().to_owned(), false);
            rec.updated_at = now;
            tx.update_member(&rec).await?;
        }
        let kind = SystemEvent::ConsentWithdrawn;
        let props = serde_json::json!({"channel": channel.consent_key(), "campaign_id": msg.campaign_id,
            "message_id": msg.id, "source": "unsubscribe_link"});
        let event = system_event(
            ws,
            kind,
            format!("{}:{}", kind.as_str(), msg.id),
            &msg.member_id,
            now,
            props,
        );
        insert_new(tx.as_mut(), vec![event], |_| None).await?;
    }
    tx.commit().await?;
    let words = BTreeMap::from([
        (Channel::Email, "email"),
        (Channel::Sms, "SMS"),
        (Channel::Push, "push notifications"),
        (Channel::Wechat, "WeChat messages"),
        (Channel::Inapp, "inbox messages"),
        (Channel::Call, "calls"),
    ]);
    Ok(UnsubscribeOut {
        unsubscribed: true,
        channel: channel.as_str().into(),
        message: format!(
            "You will receive no more {} from us. 您已退订。",
            words.get(&channel).copied().unwrap_or("messages")
        ),
    })
}
