//! The consumer that fills the outbox: one delivery per (endpoint, committed event of a
//! subscribed type), written in the page's transaction with the consumer's cursor.

use async_trait::async_trait;
use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_store::webhooks::DELIVERY_PENDING;
use memberops_store::{DeliveryRow, EndpointRow, LogEvent, StoreError, WriteTx};

use super::ALL_TYPES;
use crate::consumers::Consumer;
use crate::error::Result;
use crate::workspace::Workspace;

pub struct WebhookOutbox;

/// An endpoint with its subscription parsed.
struct Subscribed {
    row: EndpointRow,
    all: bool,
    types: Vec<String>,
}

impl Subscribed {
    fn wants(&self, e: &LogEvent) -> bool {
        e.seq > self.row.since_seq && (self.all || self.types.contains(&e.kind))
    }
}

/// The body of a delivery (Standard Webhooks: `type`, `timestamp`, `data`), built when it
/// is sent from the event row, which never changes: every attempt sends the same body.
pub fn payload(e: &LogEvent) -> String {
    let properties: serde_json::Value =
        serde_json::from_str(&e.properties).unwrap_or_else(|_| serde_json::json!({}));
    serde_json::json!({
        "type": e.kind,
        "timestamp": millis_to_rfc3339(e.occurred_at),
        "data": {
            "id": e.id,
            "type": e.kind,
            "member_id": e.member_id,
            "external_id": e.external_id,
            "occurred_at": millis_to_rfc3339(e.occurred_at),
            "received_at": millis_to_rfc3339(e.received_at),
            "properties": properties,
        },
    })
    .to_string()
}

#[async_trait]
impl Consumer for WebhookOutbox {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn committed(&self) {
        super::OUTBOX_WRITTEN.notify_one();
    }

    /// Outbox rows are no member fact.
    fn changes_members(&self) -> bool {
        false
    }

    async fn handle(&self, tx: &mut dyn WriteTx, ws: &Workspace, page: &[LogEvent]) -> Result<()> {
        let mut endpoints = Vec::new();
        for row in tx.active_endpoints().await? {
            let types: Vec<String> = serde_json::from_str(&row.event_types)
                .map_err(|e| StoreError::Corrupt(format!("endpoint {} types: {e}", row.id)))?;
            endpoints.push(Subscribed {
                all: types.iter().any(|t| t == ALL_TYPES),
                types,
                row,
            });
        }
        if endpoints.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let mut rows = Vec::new();
        for e in page {
            for ep in endpoints.iter().filter(|ep| ep.wants(e)) {
                rows.push(DeliveryRow {
                    id: super::new_delivery_id(),
                    workspace_id: ws.id.clone(),
                    endpoint_id: ep.row.id.clone(),
                    event_seq: e.seq,
                    event_id: e.id.clone(),
                    event_type: e.kind.clone(),
                    status: DELIVERY_PENDING.to_owned(),
                    attempts: 0,
                    due_at: now,
                    lease_id: None,
                    last_status_code: None,
                    last_error: None,
                    last_attempt_at: None,
                    delivered_at: None,
                    created_at: now,
                });
            }
        }
        tx.insert_deliveries(&rows).await?;
        Ok(())
    }
}
