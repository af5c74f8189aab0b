//! What operations watch, recorded through the `metrics` facade (exported at `/metrics` by
//! the API) and the worker's heartbeat (read by `/readyz`).

use std::sync::Arc;
use std::time::Duration;

use memberops_core::event::{CLIENT_TYPES, EventIn, SystemEvent};
use memberops_store::Store;
use tokio_util::sync::CancellationToken;

use crate::ingest::{RowResult, RowStatus};

/// How often a worker says it is alive; `/readyz` wants a beat younger than 4 of these.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);

/// An event type as a metric label: known types by name, any other as `custom` (custom
/// types are free text and would grow the label set without bound).
pub fn type_label(kind: &str) -> &'static str {
    CLIENT_TYPES
        .iter()
        .find(|k| **k == kind)
        .copied()
        .or_else(|| SystemEvent::parse(kind).map(SystemEvent::as_str))
        .unwrap_or("custom")
}

pub(crate) fn type_labels(events: &[EventIn]) -> Vec<&'static str> {
    events.iter().map(|e| type_label(&e.kind)).collect()
}

fn outcome(s: RowStatus) -> &'static str {
    match s {
        RowStatus::Accepted => "accepted",
        RowStatus::Duplicate => "duplicate",
        RowStatus::Rejected => "rejected",
        RowStatus::Skipped => "skipped",
    }
}

/// Counts a batch's rows by type and outcome, and its size.
pub(crate) fn count_ingested(kinds: &[&'static str], results: &[RowResult]) {
    metrics::histogram!("memberops_event_batch_size").record(results.len() as f64);
    for r in results {
        let kind = kinds.get(r.index).copied().unwrap_or("custom");
        metrics::counter!("memberops_events_ingested_total", "type" => kind, "outcome" => outcome(r.status))
            .increment(1);
    }
}

/// Counts a job run by kind and outcome.
pub fn count_job(kind: &str, ok: bool) {
    metrics::counter!(
        "memberops_job_runs_total",
        "kind" => kind.to_owned(),
        "outcome" => if ok { "ok" } else { "failed" }
    )
    .increment(1);
}

/// Counts a webhook delivery attempt by what it made of the delivery (`delivered`,
/// `pending` for a retry, `failed`).
pub fn count_delivery(status: &str) {
    metrics::counter!("memberops_webhook_attempts_total", "outcome" => status.to_owned())
        .increment(1);
}

/// Writes this worker's heartbeat every [`HEARTBEAT_EVERY`] until `cancel`.
pub async fn heartbeat(store: Arc<dyn Store>, cancel: CancellationToken) {
    let name = format!(
        "{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
        std::process::id()
    );
    loop {
        if let Err(e) = store.beat(&name, memberops_core::time::now_millis()).await {
            tracing::warn!(error = %e, "could not write the worker heartbeat");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
}
