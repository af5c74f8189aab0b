//! A full disk on SQLite (issue 28 §7), simulated with `PRAGMA max_page_count` on the
//! writer connection: writes are refused with 507 `storage_full`, nothing is half-written
//! (the events stored are exactly those of the batches acknowledged), reads still work,
//! and `PRAGMA integrity_check` says `ok`. `bench/faults/disk_full.sh` does the same on a
//! real full file system (a small tmpfs).

use std::sync::Arc;

use memberops_api::AppState;
use memberops_store::{KeyScope, SqliteStore, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn batch(n: usize) -> Value {
    let events: Vec<Value> = (0..200)
        .map(|i| {
            json!({"id": format!("d{n}-{i}"), "type": "order.paid", "member": format!("dm{}", (n * 200 + i) % 500),
                   "auto_create": true,
                   "properties": {"order_id": format!("do{n}-{i}"), "amount": "12.50", "note": "x".repeat(200)}})
        })
        .collect();
    json!({ "events": events })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_and_corrupts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("full.db").to_string_lossy().into_owned();
    let sqlite = SqliteStore::open(&path).await.expect("open");
    // The writer is one long-lived connection: a cap set on it holds for every write.
    let writer = sqlite.pool().clone();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    store.migrate().await.expect("migrate");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&writer)
        .await
        .expect("page count");
    let ws = memberops_app::Workspaces::new(store.clone())
        .get(memberops_core::id::DEFAULT_WORKSPACE)
        .await
        .expect("workspace");
    let (_, key) = memberops_app::keys::create(store.as_ref(), &ws.id, "t", KeyScope::Admin)
        .await
        .expect("key");
    cap_pages(&writer, pages + 400).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(memberops_api::serve(
        listener,
        AppState::new(store.clone()),
        std::future::pending(),
    ));
    memberops_app::webhooks::install_tls_provider();
    let client = reqwest::Client::new();
    let mut acknowledged = 0i64;
    let mut refusal = None;
    for n in 0..200 {
        let r = client
            .post(format!("{base}/v1/events:batch"))
            .bearer_auth(&key)
            .json(&batch(n))
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        if status == StatusCode::OK {
            acknowledged += body["accepted"].as_i64().expect("accepted");
        } else {
            refusal = Some((status, body));
            break;
        }
    }
    let (status, body) = refusal.expect("the disk never filled: lower the cap");
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_eq!(body["code"], "storage_full", "{body}");
    assert!(
        acknowledged > 0,
        "the first batch already failed: raise the cap"
    );

    // Reads still answer; what was acknowledged is there, nothing of the refused batch.
    let r = client
        .get(format!("{base}/v1/members?limit=1"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let counts = store.counts(&ws.id).await.expect("counts");
    assert_eq!(counts.events, acknowledged, "events");
    assert_eq!(counts.orders, acknowledged, "orders");
    assert_eq!(store.integrity_check().await.expect("check"), "ok");

    // Space comes back: writes work again.
    cap_pages(&writer, 1_000_000).await;
    let r = client
        .post(format!("{base}/v1/events:batch"))
        .bearer_auth(&key)
        .json(&batch(10_000))
        .send()
        .await
        .expect("request");
    let status = r.status();
    let body = r.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Sets `max_page_count` on the writer connection.
async fn cap_pages(writer: &sqlx::SqlitePool, pages: i64) {
    let set: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .fetch_one(writer)
    .await
    .expect("pragma");
    assert_eq!(set, pages);
}
