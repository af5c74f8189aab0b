//! The Prometheus exporter: counters and histograms recorded through the `metrics` facade
//! (requests, events ingested, job runs), and gauges read from the database when scraped
//! (consumer lag, outbox depth, connection pools, pending migrations, SQLite WAL size).

use std::sync::OnceLock;

use memberops_app::Workspace;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Seconds: from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 10.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0];

/// Installs the process's recorder once (None when another recorder was installed first).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("memberops_http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("memberops_event_batch_size".into()),
                        BATCH_BUCKETS,
                    )
                })
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Sets the gauges read from the database, for the workspace `ws`.
pub async fn read_gauges(state: &AppState, ws: &Workspace) {
    let store = state.store.as_ref();
    if let Ok(lags) = memberops_app::consumers::lag(store, ws, &state.consumers).await {
        for l in lags {
            metrics::gauge!("memberops_consumer_lag_events", "consumer" => l.name.clone())
                .set(l.events_behind as f64);
            metrics::gauge!("memberops_consumer_lag_seconds", "consumer" => l.name)
                .set(l.seconds_behind);
        }
    }
    if let Ok(depth) = store.outbox_depth(&ws.id).await {
        for (status, n) in depth {
            metrics::gauge!("memberops_outbox_deliveries", "status" => status).set(n as f64);
        }
    }
    let pool = store.pool_stats();
    metrics::gauge!("memberops_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("memberops_db_pool_in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::counter!("memberops_db_write_begins_total").absolute(pool.write_begins);
    metrics::counter!("memberops_db_write_wait_microseconds_total")
        .absolute(pool.write_wait_micros);
    if let Ok(n) = store.pending_migrations().await {
        metrics::gauge!("memberops_migrations_pending").set(n as f64);
    }
    if let Ok(Some(wal)) = store.wal_bytes().await {
        metrics::gauge!("memberops_sqlite_wal_bytes").set(wal as f64);
    }
}
