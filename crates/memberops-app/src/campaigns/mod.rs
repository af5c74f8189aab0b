//! Campaigns (broadcasts): create, launch (plan one message per member of the audience),
//! pause, resume, cancel, preview on a member, and the report.
//!
//! Launching plans every message in one transaction, keyed by (campaign, member), before
//! any channel is called; the [`dispatch::Dispatcher`] then sends due messages under
//! leases, checking the delivery rules of `memberops-campaigns` for each.

pub mod channels;
pub mod dispatch;
pub mod dto;
pub mod inbox;
pub mod tasks;
mod vars;

use memberops_campaigns::schedule::{self, Schedule};
use memberops_campaigns::spec::{self, Message, Variant};
use memberops_campaigns::{Channel, template};
use memberops_core::error::{Collector, FieldError};
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_core::{Invalid, id};
use memberops_store::campaigns::{CampaignRow, MSG_PENDING, MessageRow};
use memberops_store::{Store, StoreError};

pub use dto::*;

use crate::error::{AppError, Result};
use crate::lists::Page;
use crate::segments::IndexCache;
use crate::workspace::Workspace;

pub const DRAFT: &str = "draft";
pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const CANCELLED: &str = "cancelled";

/// The server's public address, for links in messages (`MEMBEROPS_PUBLIC_URL`).
pub fn public_url() -> String {
    std::env::var("MEMBEROPS_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "http://localhost:8080".into())
}

/// A campaign's input as domain values.
pub(crate) struct Parsed {
    pub message: Message,
    pub schedule: Schedule,
}

fn variant_of(ch: Option<Channel>, v: &VariantIn, at: &[&str], c: &mut Collector) -> Variant {
    spec::variant(ch, v.subject.as_deref(), &v.body, at, c)
}

pub(crate) fn parse(input: &CampaignIn) -> std::result::Result<Parsed, Invalid> {
    let mut c = Collector::default();
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        c.push(FieldError::new(
            &["body", "name"],
            "invalid_name",
            "a name of 1–200 characters",
        ));
    }
    if input.kind != "broadcast" {
        c.push(FieldError::new(
            &["body", "kind"],
            "unsupported_kind",
            "kind is `broadcast` (journeys: POST /v1/journeys)",
        ));
    }
    let m = &input.message;
    let ch = spec::channel(&m.channel, &["body", "message", "channel"], &mut c);
    if ch == Some(Channel::Call) {
        c.push(FieldError::new(
            &["body", "message", "channel"],
            "invalid_channel",
            "calls are staff tasks: create them with POST /v1/tasks",
        ));
    }
    let default = spec::variant(
        ch,
        m.subject.as_deref(),
        &m.body,
        &["body", "message"],
        &mut c,
    );
    let mut locales = std::collections::BTreeMap::new();
    for (l, v) in &m.locales {
        spec::locale(l, &["body", "message", "locales", l], &mut c);
        let v = variant_of(ch, v, &["body", "message", "locales", l], &mut c);
        locales.insert(l.clone(), v);
    }
    let s = input.schedule.clone().unwrap_or_default();
    let schedule = spec::schedule(
        s.at.as_deref(),
        s.local_at.as_deref(),
        s.zone.as_deref(),
        &["body", "schedule"],
        &mut c,
    );
    if let Some(g) = &input.goal {
        spec::goal(&g.event_type, g.within_days, &["body", "goal"], &mut c);
    }
    c.finish()?;
    Ok(Parsed {
        message: Message {
            channel: ch.unwrap_or(Channel::Email),
            default,
            locales,
            transactional: m.transactional,
        },
        schedule,
    })
}

fn corrupt(e: serde_json::Error) -> AppError {
    AppError::Store(StoreError::Corrupt(e.to_string()))
}

pub(crate) fn input_of(row: &CampaignRow) -> Result<CampaignIn> {
    serde_json::from_str(&row.spec).map_err(corrupt)
}

fn out(row: &CampaignRow) -> Result<CampaignOut> {
    let input = input_of(row)?;
    Ok(CampaignOut {
        id: row.id.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        status: row.status.clone(),
        audience: input.audience,
        message: input.message,
        schedule: input.schedule,
        goal: input.goal,
        created_at: millis_to_rfc3339(row.created_at),
        updated_at: millis_to_rfc3339(row.updated_at),
        launched_at: row.launched_at.map(millis_to_rfc3339),
    })
}

fn unknown_segment() -> AppError {
    Invalid::one(
        &["body", "audience", "segment_id"],
        "unknown_segment",
        "no saved segment has this id",
    )
    .into()
}

/// Creates a draft campaign; the same `idempotency_key` again returns the first one
/// (`false`: not created now).
pub async fn create(
    store: &dyn Store,
    ws: &Workspace,
    input: CampaignIn,
    now: Millis,
) -> Result<(CampaignOut, bool)> {
    if let Some(k) = &input.idempotency_key
        && let Some(row) = store.campaign_by_key(&ws.id, k).await?
    {
        return Ok((out(&row)?, false));
    }
    let parsed = parse(&input)?;
    if store
        .segment(&ws.id, &input.audience.segment_id)
        .await?
        .is_none()
    {
        return Err(unknown_segment());
    }
    let row = CampaignRow {
        id: id::new_id("cmp"),
        workspace_id: ws.id.clone(),
        name: input.name.trim().to_owned(),
        kind: input.kind.clone(),
        status: DRAFT.into(),
        spec: serde_json::to_string(&input).map_err(corrupt)?,
        segment_id: input.audience.segment_id.clone(),
        channel: parsed.message.channel.as_str().into(),
        idempotency_key: input.idempotency_key.clone(),
        created_at: now,
        updated_at: now,
        launched_at: None,
    };
    let mut tx = store.begin_write(&ws.id).await?;
    let added = tx.insert_campaign(&row).await?;
    tx.commit().await?;
    if !added && let Some(k) = &input.idempotency_key {
        let first = store
            .campaign_by_key(&ws.id, k)
            .await?
            .ok_or(AppError::NotFound { what: "campaign" })?;
        return Ok((out(&first)?, false));
    }
    Ok((out(&row)?, true))
}

/// Campaigns by id (oldest first).
pub async fn list(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<CampaignOut>> {
    let limit = crate::members::page_limit(limit)?;
    if cursor.is_some_and(|c| !id::is_id("cmp", c)) {
        return Err(crate::lists::invalid_cursor());
    }
    let mut rows = store.campaigns_page(&ws.id, cursor, limit + 1).await?;
    let next = crate::members::cut_page(&mut rows, limit, |r| r.id.clone());
    let data = rows.iter().map(out).collect::<Result<Vec<_>>>()?;
    Ok(Page::new(data, next))
}

async fn row(store: &dyn Store, ws: &Workspace, id: &str) -> Result<CampaignRow> {
    store
        .campaign(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "campaign" })
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<CampaignOut> {
    out(&row(store, ws, id).await?)
}

fn conflict(code: &'static str, detail: &str) -> AppError {
    AppError::Conflict {
        code,
        detail: detail.into(),
    }
}

/// A random unsubscribe token (128 bits, hex).
fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Launches a draft: plans one message per member of the audience (each due at the
/// schedule's time in the member's or the brand's zone) and starts sending. Launching a
/// running or paused campaign again plans nothing.
pub async fn launch(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    id: &str,
    now: Millis,
) -> Result<LaunchOut> {
    let current = row(store, ws, id).await?;
    match current.status.as_str() {
        DRAFT => {}
        CANCELLED => return Err(conflict("campaign_cancelled", "the campaign was cancelled")),
        _ => {
            return Ok(LaunchOut {
                campaign: out(&current)?,
                planned: 0,
            });
        }
    }
    let input = input_of(&current)?;
    let parsed = parse(&input)?;
    let node = match crate::segments::saved::get(store, ws, &current.segment_id).await {
        Ok((_, node)) => node,
        Err(AppError::NotFound { .. }) => {
            return Err(Invalid::one(
                &["audience", "segment_id"],
                "unknown_segment",
                "the campaign's segment no longer exists",
            )
            .into());
        }
        Err(e) => return Err(e),
    };
    let members = crate::segments::saved::all_members(store, cache, ws, &node, now).await?;
    if members.is_empty() {
        return Err(Invalid::one(
            &["audience", "segment_id"],
            "empty_audience",
            "the audience has no members: nothing to launch",
        )
        .into());
    }
    let ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
    let zones: std::collections::HashMap<String, String> = store
        .member_zones(&ws.id, &ids)
        .await?
        .into_iter()
        .collect();
    let rows: Vec<MessageRow> = ids
        .iter()
        .map(|member_id| {
            let tz = zones
                .get(member_id)
                .and_then(|z| z.parse().ok())
                .unwrap_or(ws.time_zone);
            MessageRow {
                id: id::new_id("msg"),
                workspace_id: ws.id.clone(),
                campaign_id: current.id.clone(),
                step: String::new(),
                member_id: member_id.clone(),
                occurrence: String::new(),
                channel: parsed.message.channel.as_str().into(),
                transactional: i32::from(parsed.message.transactional),
                status: MSG_PENDING.into(),
                held_reason: None,
                deferred: None,
                due_at: schedule::due_at(parsed.schedule, tz, ws.time_zone, now),
                lease_id: None,
                attempts: 0,
                last_error: None,
                token: token(),
                sent_at: None,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    let mut tx = store.begin_write(&ws.id).await?;
    // Under the workspace's write lock: another launch of the same campaign waits here
    // and then finds it running.
    let again = tx
        .campaign_in_tx(id)
        .await?
        .ok_or(AppError::NotFound { what: "campaign" })?;
    if again.status != DRAFT {
        drop(tx);
        return Box::pin(launch(store, cache, ws, id, now)).await;
    }
    let planned = tx.insert_messages(&rows).await?;
    tx.set_campaign_status(id, RUNNING, now, Some(now)).await?;
    tx.commit().await?;
    Ok(LaunchOut {
        campaign: get(store, ws, id).await?,
        planned,
    })
}

/// Pauses, resumes or cancels (cancelling drops the messages not sent yet).
pub async fn set_state(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    verb: &str,
    now: Millis,
) -> Result<CampaignOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    let c = tx
        .campaign_in_tx(id)
        .await?
        .ok_or(AppError::NotFound { what: "campaign" })?;
    let to = match (verb, c.status.as_str()) {
        ("pause", RUNNING | PAUSED) => PAUSED,
        ("resume", PAUSED | RUNNING) => RUNNING,
        ("cancel", CANCELLED) => CANCELLED,
        ("cancel", _) => {
            tx.cancel_messages(id, now).await?;
            CANCELLED
        }
        ("pause" | "resume", DRAFT) => {
            return Err(conflict("not_launched", "launch the campaign first"));
        }
        ("pause" | "resume", _) => {
            return Err(conflict("campaign_cancelled", "the campaign was cancelled"));
        }
        _ => return Err(AppError::NotFound { what: "action" }),
    };
    if to != c.status {
        tx.set_campaign_status(id, to, now, None).await?;
    }
    tx.commit().await?;
    get(store, ws, id).await
}

fn count(rows: &[(String, i64)], key: &str) -> i64 {
    rows.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

pub async fn report(store: &dyn Store, ws: &Workspace, id: &str) -> Result<ReportOut> {
    let c = row(store, ws, id).await?;
    let input = input_of(&c)?;
    let goal = input.goal.as_ref().map(|g| {
        (
            g.event_type.as_str(),
            g.within_days.clamp(1, 90) * 86_400_000,
        )
    });
    let n = store.campaign_counts(&ws.id, id, goal).await?;
    let s = |k: &str| count(&n.by_status, k);
    let held = |k: &str| count(&n.held, k);
    Ok(ReportOut {
        campaign_id: c.id.clone(),
        status: c.status.clone(),
        audience: n.by_status.iter().map(|(_, v)| v).sum(),
        pending: s("pending") + s("sending"),
        sent: s("sent") + s("delivered"),
        delivered: s("delivered"),
        failed: s("failed"),
        cancelled: s("cancelled"),
        held: HeldOut {
            no_consent: held("no_consent"),
            quiet_hours: count(&n.deferred, "quiet_hours"),
            frequency_cap: held("frequency_cap"),
            unsubscribed: held("unsubscribed"),
            no_address: held("no_address"),
        },
        converted: n.converted,
        revenue_minor: n.revenue_minor,
    })
}

/// The message as `member` would receive it. A template that does not render for this
/// member is 422 naming the field.
pub async fn preview(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    member: &str,
    public_url: &str,
) -> Result<PreviewOut> {
    let c = row(store, ws, id).await?;
    let parsed = parse(&input_of(&c)?)?;
    let m = match crate::members::get(store, ws, member).await {
        Ok(m) => m,
        Err(AppError::NotFound { .. }) => {
            return Err(
                Invalid::one(&["body", "member"], "unknown_member", "no such member").into(),
            );
        }
        Err(e) => return Err(e),
    };
    let facts = vars::Facts::of(&m);
    let url = format!("{}/u/preview", public_url.trim_end_matches('/'));
    let v = vars::vars(store, ws, &facts, url).await?;
    let (locale, variant) = vars::pick(&parsed.message, facts.locale.as_deref());
    let path = |leaf: &'static str| -> Vec<String> {
        let mut p = vec!["body".to_owned(), "message".to_owned()];
        if let Some(l) = &locale {
            p.extend(["locales".to_owned(), l.clone()]);
        }
        p.push(leaf.to_owned());
        p
    };
    let render = |src: &str, leaf: &'static str| {
        template::render(src, &v).map_err(|e| {
            let p = path(leaf);
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            AppError::from(Invalid::one(&p, "template_error", e.msg))
        })
    };
    Ok(PreviewOut {
        member_id: m.id.clone(),
        channel: parsed.message.channel.as_str().into(),
        to: facts.address(parsed.message.channel).map(str::to_owned),
        subject: render(&variant.subject, "subject")?,
        body: render(&variant.body, "body")?,
        locale,
    })
}
