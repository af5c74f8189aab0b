//! Outgoing webhooks (the brand's CRM, ERP, WeCom bot, data warehouse): endpoints that
//! subscribe to event types, the outbox consumer that turns committed events into
//! deliveries, and the dispatcher that sends them signed (Standard Webhooks), retries with
//! backoff, and disables an endpoint that has failed everything for a day.

pub mod dispatch;
pub mod outbox;
pub mod sign;

use memberops_core::Invalid;
use memberops_core::event::is_builtin;
use memberops_core::id::new_id;
use memberops_core::time::{Millis, millis_to_rfc3339, now_millis};
use memberops_store::{DeliveryRow, EndpointRow, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub const ENDPOINT: &str = "ep";
pub const DELIVERY: &str = "msg";
/// Subscribes an endpoint to every event type.
pub const ALL_TYPES: &str = "*";
const MAX_TYPES: usize = 100;
const MAX_URL: usize = 2000;

/// Installs the process's TLS crypto provider (ring), which reqwest's rustls uses; call it
/// before building any HTTP client. Ring lacks the post-quantum key exchange aws-lc-rs
/// has; aws-lc-rs takes minutes to build on CI's two cores. Calling it again is harmless.
pub fn install_tls_provider() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Which addresses the server may call. Off by default: an API key must not make the
/// server reach its own network (`MEMBEROPS_WEBHOOKS_ALLOW_PRIVATE=1` allows it, for tests
/// and for receivers on a private network).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    #[schema(example = "https://crm.example.com/hooks/memberops")]
    pub url: String,
    /// Event types to deliver (`order.paid`, `tier.changed`…, or `*` for all).
    #[schema(example = json!(["order.paid", "tier.changed"]))]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Switch the endpoint off (`true`) or back on (`false`: it is no longer failing, and
    /// deliveries waiting for it go out).
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    /// Only in the answer that creates the endpoint or rotates its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub disabled: bool,
    /// `operator` (switched off) or `failing` (every delivery failed for 24 hours).
    pub disabled_reason: Option<String>,
    /// RFC 3339: the first failure since the last success.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn endpoint_out(e: EndpointRow, show_secret: bool) -> Result<EndpointOut> {
    let event_types = serde_json::from_str(&e.event_types)
        .map_err(|err| StoreError::Corrupt(format!("endpoint {} types: {err}", e.id)))?;
    Ok(EndpointOut {
        id: e.id,
        url: e.url,
        description: e.description,
        event_types,
        secret: show_secret.then_some(e.secret),
        disabled: e.disabled_at.is_some(),
        disabled_reason: e.disabled_reason,
        failing_since: e.failing_since.map(millis_to_rfc3339),
        created_at: millis_to_rfc3339(e.created_at),
        updated_at: millis_to_rfc3339(e.updated_at),
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryOut {
    /// The `webhook-id` header: the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `sending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// RFC 3339: when a pending delivery is next tried.
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

fn delivery_out(d: DeliveryRow) -> DeliveryOut {
    DeliveryOut {
        next_attempt_at: (d.status == memberops_store::webhooks::DELIVERY_PENDING)
            .then(|| millis_to_rfc3339(d.due_at)),
        id: d.id,
        endpoint_id: d.endpoint_id,
        event_id: d.event_id,
        event_type: d.event_type,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        last_attempt_at: d.last_attempt_at.map(millis_to_rfc3339),
        delivered_at: d.delivered_at.map(millis_to_rfc3339),
        created_at: millis_to_rfc3339(d.created_at),
    }
}

/// Checks a URL: http or https, a host, and (unless allowed) no address on this machine or
/// a private network, whatever the host name resolves to now.
pub async fn check_url(url: &str, policy: AddressPolicy) -> Result<String> {
    let bad =
        |code: &'static str, msg: String| -> AppError { Invalid::one(&["url"], code, msg).into() };
    let url = url.trim();
    if url.is_empty() || url.len() > MAX_URL {
        return Err(bad(
            "invalid_url",
            format!("url must be 1–{MAX_URL} characters"),
        ));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|e| bad("invalid_url", format!("not a URL: {e}")))?;
    if !["http", "https"].contains(&parsed.scheme()) {
        return Err(bad(
            "invalid_url_scheme",
            format!("url must be http or https, not `{}`", parsed.scheme()),
        ));
    }
    let Some(host) = parsed.host_str() else {
        return Err(bad("invalid_url", "url has no host".into()));
    };
    if !policy.allow_private {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<std::net::IpAddr> = match host.parse() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| bad("unresolvable_host", format!("cannot resolve `{host}`: {e}")))?
                .map(|a| a.ip())
                .collect(),
        };
        if let Some(ip) = addrs.into_iter().find(|ip| sign::is_private(*ip)) {
            return Err(bad(
                "private_address",
                format!(
                    "`{host}` is {ip}, a loopback, link-local or private address; \
                     the server does not call its own network"
                ),
            ));
        }
    }
    Ok(parsed.to_string())
}

/// Checks the subscribed types: built-in types, `*`, or custom types the log has seen.
async fn check_types(store: &dyn Store, ws: &Workspace, types: &[String]) -> Result<Vec<String>> {
    if types.is_empty() || types.len() > MAX_TYPES {
        return Err(Invalid::one(
            &["event_types"],
            "invalid_event_types",
            format!("give 1–{MAX_TYPES} event types (or `*` for all)"),
        )
        .into());
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        let t = t.trim();
        if t != ALL_TYPES && !is_builtin(t) && !store.event_type_seen(&ws.id, t).await? {
            return Err(Invalid::one(
                &["event_types", &i.to_string()],
                "unknown_event_type",
                format!(
                    "`{t}` is neither a MemberOps event type nor one this workspace has received"
                ),
            )
            .into());
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

fn types_json(types: &[String]) -> Result<String> {
    crate::coupons::to_json(&types)
}

pub async fn create_endpoint(
    store: &dyn Store,
    ws: &Workspace,
    policy: AddressPolicy,
    e: EndpointIn,
) -> Result<EndpointOut> {
    let url = check_url(&e.url, policy).await?;
    let types = check_types(store, ws, &e.event_types).await?;
    let now = now_millis();
    let row = EndpointRow {
        id: new_id(ENDPOINT),
        workspace_id: ws.id.clone(),
        url,
        description: e.description.trim().to_owned(),
        event_types: types_json(&types)?,
        secret: sign::new_secret(),
        // Events committed from now on. An event committed between this read and the
        // insert is delivered too (its seq is above the head read here): none is missed.
        since_seq: store.log_head(&ws.id).await?.map_or(0, |(s, _)| s),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_endpoint(&row).await?;
    endpoint_out(row, true)
}

pub async fn list_endpoints(store: &dyn Store, ws: &Workspace) -> Result<Vec<EndpointOut>> {
    store
        .endpoints(&ws.id)
        .await?
        .into_iter()
        .map(|e| endpoint_out(e, false))
        .collect()
}

async fn endpoint_row(store: &dyn Store, ws: &Workspace, id: &str) -> Result<EndpointRow> {
    store.endpoint(&ws.id, id).await?.ok_or(AppError::NotFound {
        what: "webhook endpoint",
    })
}

pub async fn get_endpoint(store: &dyn Store, ws: &Workspace, id: &str) -> Result<EndpointOut> {
    endpoint_out(endpoint_row(store, ws, id).await?, false)
}

pub async fn patch_endpoint(
    store: &dyn Store,
    ws: &Workspace,
    policy: AddressPolicy,
    id: &str,
    p: EndpointPatch,
) -> Result<EndpointOut> {
    let mut row = endpoint_row(store, ws, id).await?;
    if let Some(url) = &p.url {
        row.url = check_url(url, policy).await?;
    }
    if let Some(types) = &p.event_types {
        row.event_types = types_json(&check_types(store, ws, types).await?)?;
    }
    if let Some(d) = p.description {
        row.description = d.trim().to_owned();
    }
    let now = now_millis();
    match (p.disabled, row.disabled_at) {
        (Some(true), None) => {
            row.disabled_at = Some(now);
            row.disabled_reason = Some("operator".into());
        }
        (Some(false), Some(_)) => {
            row.disabled_at = None;
            row.disabled_reason = None;
            row.failing_since = None;
        }
        _ => {}
    }
    row.updated_at = now;
    store.update_endpoint(&row).await?;
    endpoint_out(row, false)
}

/// A new secret, shown once; deliveries from now on are signed with it.
pub async fn rotate_secret(store: &dyn Store, ws: &Workspace, id: &str) -> Result<EndpointOut> {
    let mut row = endpoint_row(store, ws, id).await?;
    row.secret = sign::new_secret();
    row.updated_at = now_millis();
    store.update_endpoint(&row).await?;
    endpoint_out(row, true)
}

/// A page of an endpoint's delivery log, newest first.
pub struct DeliveryPage {
    pub data: Vec<DeliveryOut>,
    pub next_cursor: Option<String>,
}

pub async fn deliveries(
    store: &dyn Store,
    ws: &Workspace,
    endpoint_id: &str,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<DeliveryPage> {
    endpoint_row(store, ws, endpoint_id).await?;
    let limit = crate::members::page_limit(limit)?;
    // The cursor is the last listed delivery's event seq (the log pages on its unique key).
    let before = crate::lists::seq_cursor(cursor)?;
    let mut rows = store
        .deliveries(&ws.id, endpoint_id, before, limit + 1)
        .await?;
    let next_cursor = crate::members::cut_page(&mut rows, limit, |d| d.event_seq.to_string());
    Ok(DeliveryPage {
        data: rows.into_iter().map(delivery_out).collect(),
        next_cursor,
    })
}

/// Sends one delivery again (same `webhook-id`), from a fresh retry schedule.
pub async fn retry_delivery(
    store: &dyn Store,
    ws: &Workspace,
    endpoint_id: &str,
    id: &str,
) -> Result<DeliveryOut> {
    endpoint_row(store, ws, endpoint_id).await?;
    let found = store
        .delivery(&ws.id, id)
        .await?
        .filter(|d| d.endpoint_id == endpoint_id)
        .ok_or(AppError::NotFound { what: "delivery" })?;
    if !store
        .requeue_delivery(&ws.id, endpoint_id, id, now_millis())
        .await?
    {
        return Err(AppError::Conflict {
            code: "delivery_in_progress",
            detail: format!(
                "delivery {} is {}: it is already on its way",
                id, found.status
            ),
        });
    }
    store
        .delivery(&ws.id, id)
        .await?
        .map(delivery_out)
        .ok_or(AppError::NotFound { what: "delivery" })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    /// RFC 3339: failed deliveries created at or after this time are sent again.
    #[schema(example = "2026-12-01T00:00:00Z")]
    pub since: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoverOut {
    /// Failed deliveries queued again.
    pub requeued: u64,
}

pub async fn recover(
    store: &dyn Store,
    ws: &Workspace,
    endpoint_id: &str,
    r: RecoverIn,
) -> Result<RecoverOut> {
    endpoint_row(store, ws, endpoint_id).await?;
    let since = parse_instant(&r.since, "since")?;
    let requeued = store
        .requeue_failed_since(&ws.id, endpoint_id, since, now_millis())
        .await?;
    Ok(RecoverOut { requeued })
}

fn parse_instant(s: &str, field: &str) -> Result<Millis> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| Invalid::one(&[field], "invalid_time", "expected an RFC 3339 time").into())
}

/// A delivery id.
/// Woken when the outbox consumer commits a page, so that the dispatcher of this process
/// sends at once instead of at its next poll (other processes' writes are seen at the poll).
pub(crate) static OUTBOX_WRITTEN: tokio::sync::Notify = tokio::sync::Notify::const_new();

pub(crate) fn new_delivery_id() -> String {
    new_id(DELIVERY)
}
