//! Operations: `/readyz`, `/metrics`, request ids, `memberops backup` and `restore`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn readyz_wants_a_fresh_worker_heartbeat(app: TestApp) {
    let (s, b) = app.get("/readyz").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(
        (&b["database"], &b["migrations_current"], &b["worker_fresh"]),
        (&json!(true), &json!(true), &json!(false))
    );
    app.store
        .beat("test-worker", memberops_core::time::now_millis())
        .await
        .expect("beat");
    let (s, b) = app.get("/readyz").await;
    assert_eq!((s, &b["status"]), (StatusCode::OK, &json!("ready")), "{b}");
    // A heartbeat older than four beats is stale.
    app.store
        .beat(
            "test-worker",
            memberops_core::time::now_millis() - 3_600_000,
        )
        .await
        .expect("beat");
    let (s, _) = app.get("/readyz").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}
both!(readyz_wants_a_fresh_worker_heartbeat);

async fn metrics_count_requests_events_and_read_the_database(app: TestApp) {
    app.batch(json!([
        {"id": "m1", "type": "member.registered", "member": "u1"},
        {"id": "m1", "type": "member.registered", "member": "u1"},
        {"id": "m2", "type": "no.such.builtin", "member": "u1"}
    ]))
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for needle in [
        "memberops_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/events:batch\",status=\"200\"",
        "memberops_events_ingested_total{type=\"member.registered\",outcome=\"accepted\"}",
        "memberops_events_ingested_total{type=\"member.registered\",outcome=\"duplicate\"}",
        "memberops_event_batch_size",
        "memberops_consumer_lag_events{consumer=",
        "memberops_db_pool_connections",
        "memberops_migrations_pending 0",
    ] {
        assert!(text.contains(needle), "no `{needle}` in\n{text}");
    }
}
both!(metrics_count_requests_events_and_read_the_database);

async fn every_response_has_a_request_id(app: TestApp) {
    for (path, key) in [
        ("/v1/members", true),
        ("/v1/members", false),
        ("/nowhere", true),
    ] {
        let mut req = app.client.get(app.url(path));
        if key {
            req = req.bearer_auth(&app.key);
        }
        let resp = req.send().await.expect("request");
        let id = resp.headers().get("x-request-id").expect("request id");
        assert!(!id.is_empty());
    }
    // A sane id from the client is kept (to follow a request across systems).
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "shop-42")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers()["x-request-id"], "shop-42");
}
both!(every_response_has_a_request_id);

fn cli(db: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run")
}

/// A backup taken while events and stored-value writes go on restores to a database where
/// every member's balances equal their ledgers.
async fn backup_under_write_load_restores_balanced(app: TestApp) {
    if app.backend == crate::helpers::Db::Postgres {
        let out = cli(&app._db.url, &["backup", "/tmp/never.db"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    let members: Vec<_> = (0..7)
        .map(|i| json!({"id": format!("r{i}"), "type": "member.registered", "member": format!("w{i}")}))
        .collect();
    app.batch(serde_json::Value::Array(members)).await;
    let writer = {
        let (client, url, key) = (app.client.clone(), app.addr.clone(), app.key.clone());
        tokio::spawn(async move {
            for i in 0..60 {
                let member = format!("w{}", i % 7);
                let events = json!({"events": [
                    {"id": format!("o{i}"), "type": "order.paid", "member": member,
                     "properties": {"order_id": format!("o{i}"), "amount": "35.00"}}]});
                let _ = client
                    .post(format!("{url}/v1/events:batch"))
                    .bearer_auth(&key)
                    .json(&events)
                    .send()
                    .await;
                let _ = client
                    .post(format!("{url}/v1/members/{member}/stored-value:top-up"))
                    .bearer_auth(&key)
                    .json(&json!({"amount_minor": 1000 + i, "idempotency_key": format!("t{i}")}))
                    .send()
                    .await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("snap.db").to_string_lossy().into_owned();
    let out = cli(&app._db.url, &["backup", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.await.expect("writer");
    // Never over an existing file.
    assert!(!cli(&app._db.url, &["backup", &file]).status.success());

    let target = dir
        .path()
        .join("restored.db")
        .to_string_lossy()
        .into_owned();
    std::fs::write(&target, b"").expect("placeholder");
    let refused = cli(&target, &["restore", &file]);
    assert!(
        !refused.status.success(),
        "restore over an existing file without --force"
    );
    let out = cli(&target, &["restore", &file, "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A live database (fresh worker heartbeat) is refused without --force.
    app.store
        .beat("w", memberops_core::time::now_millis())
        .await
        .expect("beat");
    let live = cli(&app._db.url, &["restore", &file]);
    assert!(
        String::from_utf8_lossy(&live.stderr).contains("live"),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );

    let store = memberops_store::connect(&target).await.expect("open");
    let ws = memberops_app::Workspace::load(store.as_ref(), memberops_core::id::DEFAULT_WORKSPACE)
        .await
        .expect("ws");
    let mut checked = 0;
    for i in 0..7 {
        let Some((m, _)) = store
            .member_by_external_id(&ws.id, &format!("w{i}"))
            .await
            .expect("read")
        else {
            continue;
        };
        let row = store
            .loyalty_member(&ws.id, &m.id)
            .await
            .expect("read")
            .expect("loyalty");
        let sv = store.sv_lines(&ws.id, &m.id).await.expect("sv");
        let pts: i64 = store
            .all_points_lines(&ws.id, &m.id)
            .await
            .expect("pts")
            .iter()
            .map(|l| l.points)
            .sum();
        assert_eq!(
            row.sv_principal,
            sv.iter().map(|l| l.principal_delta).sum::<i64>(),
            "stored value of w{i}"
        );
        assert_eq!(
            row.sv_bonus,
            sv.iter().map(|l| l.bonus_delta).sum::<i64>(),
            "bonus of w{i}"
        );
        assert_eq!(row.points_balance, pts, "points of w{i}");
        checked += 1;
    }
    assert!(checked > 0, "the snapshot holds members");
}
both!(backup_under_write_load_restores_balanced);
