use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn health_and_openapi_need_no_key(app: TestApp) {
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    let expected = match app.backend {
        crate::helpers::Db::Sqlite => "sqlite",
        crate::helpers::Db::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    assert!(
        spec["paths"]["/v1/events:batch"]["post"].is_object(),
        "batch endpoint documented"
    );
    assert!(spec["paths"]["/v1/members/{id}"]["get"].is_object());
}
both!(health_and_openapi_need_no_key);

async fn keys_are_required_and_scoped(app: TestApp) {
    let r = app
        .client
        .get(app.url("/v1/members"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "unauthorized");

    let (status, body) = app
        .call_as("mo_not-a-key", Method::GET, "/v1/members", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // An ingest key sends events but cannot read.
    let ingest = app.ingest_key().await;
    let ev = json!({"id": "k1", "type": "member.registered", "member": "u-key"});
    let (status, body) = app
        .call_as(&ingest, Method::POST, "/v1/events", Some(ev))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .call_as(&ingest, Method::GET, "/v1/members/u-key", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "insufficient_scope");

    // A revoked key stops working (the server caches keys briefly, so use a fresh one).
    let (key, secret) = memberops_app::keys::create(
        app.store.as_ref(),
        &app.ws.id,
        "temp",
        memberops_store::KeyScope::Admin,
    )
    .await
    .expect("key");
    assert!(
        app.store
            .revoke_api_key(&app.ws.id, &key.id, 1)
            .await
            .expect("revoke")
    );
    let (status, _) = app.call_as(&secret, Method::GET, "/v1/members", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
both!(keys_are_required_and_scoped);

async fn malformed_bodies_get_4xx_with_codes(app: TestApp) {
    let r = app
        .client
        .post(app.url("/v1/events"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["code"], "invalid_json");

    let (status, body) = app.post("/v1/events", json!({"type": "checkin"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "validation_failed");

    let too_many: Vec<_> = (0..10_001)
        .map(|i| json!({"id": format!("t{i}"), "type": "x", "member": "m"}))
        .collect();
    let (status, body) = app
        .post("/v1/events:batch", json!({"events": too_many}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "batch_too_large");
    assert_eq!(
        app.store.counts(&app.ws.id).await.expect("counts").events,
        0
    );
}
both!(malformed_bodies_get_4xx_with_codes);

/// The committed openapi.json is what the code generates: regenerate with
/// `cargo run -- openapi > openapi.json`.
#[test]
fn committed_openapi_matches_the_code() {
    let generated = memberops_api::openapi().to_pretty_json().expect("spec");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let committed =
        std::fs::read_to_string(path).expect("openapi.json is committed at the repository root");
    assert!(
        committed.trim() == generated.trim(),
        "openapi.json is stale: run `cargo run -- openapi > openapi.json` and commit it"
    );
}

/// The NUL character, which PostgreSQL cannot store, is refused at the edge the same way on
/// both databases: in its own row for batches, for the whole request elsewhere, and in
/// URLs; the valid rows beside it land.
async fn nul_is_refused_at_the_edge(app: TestApp) {
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "n1", "name": "a\u{0}b"}),
        )
        .await;
    assert_eq!(
        (s, &b["errors"][0]["type"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("nul_character")),
        "{b}"
    );
    let r = app
        .batch(json!([
            {"id": "ok-1", "type": "checkin", "member": "n2", "auto_create": true},
            {"id": "bad-1", "type": "checkin", "member": "n2", "properties": {"note": "x\u{0}"}},
            {"id": "bad-2\u{0}", "type": "checkin", "member": "n2"},
        ]))
        .await;
    assert_eq!(
        (&r["accepted"], &r["rejected"]),
        (&json!(1), &json!(2)),
        "{r}"
    );
    assert_eq!(
        r["results"][1]["error"]["fields"][0]["loc"],
        json!(["properties", "note"]),
        "{r}"
    );
    assert_eq!(
        r["results"][2]["error"]["fields"][0]["type"], "nul_character",
        "{r}"
    );
    for path in [
        "/v1/members/%00",
        "/v1/members?phone=1%00",
        "/v1/events/a%00b",
    ] {
        let (s, b) = app.get(path).await;
        assert_eq!(
            (s, &b["code"]),
            (StatusCode::BAD_REQUEST, &json!("nul_character")),
            "{path}: {b}"
        );
    }
    // Segment's batch: the message with a NUL is refused, the other lands.
    let key = app.ingest_key().await;
    let resp = app
        .client
        .post(app.url("/ingest/segment/v1/batch"))
        .basic_auth(&key, Some(""))
        .json(&json!({"batch": [
            {"type": "track", "event": "Viewed", "userId": "n3", "messageId": "m1"},
            {"type": "track", "event": "Viewed\u{0}", "userId": "n3", "messageId": "m2"},
        ]}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let report: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(report["rejected"][0]["code"], "nul_character", "{report}");
    assert_eq!(
        report["rejected"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let (s, m) = app.get("/v1/members/n2").await;
    assert_eq!(
        (s, &m["stats"]["event_count"]),
        (StatusCode::OK, &json!(1)),
        "{m}"
    );
}
both!(nul_is_refused_at_the_edge);

/// Amounts are bounded at the edge, so balances can never wrap around: the largest i64 as
/// a points adjustment, an order of 92,233,720,368,547,758.07 through the shop's batch and
/// a top-up beyond the bound are each a 422 naming the field, and nothing is written.
async fn impossible_amounts_are_refused_not_wrapped(app: TestApp) {
    let r = app
        .batch(json!([{"id": "r", "type": "member.registered", "member": "w1"}]))
        .await;
    assert_eq!(r["accepted"], 1);
    let (s, b) = app
        .post(
            "/v1/members/w1/points:adjust",
            json!({"points": i64::MAX, "idempotency_key": "k1", "reason": "probe"}),
        )
        .await;
    assert_eq!(
        (s, &b["errors"][0]["type"], &b["errors"][0]["loc"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("amount_too_large"),
            &json!(["points"])
        ),
        "{b}"
    );
    let (s, b) = app
        .post(
            "/v1/members/w1/stored-value:top-up",
            json!({"amount_minor": 50_000_000_000_000_000_i64, "idempotency_key": "k2"}),
        )
        .await;
    assert_eq!(
        (s, &b["errors"][0]["type"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("amount_too_large")),
        "{b}"
    );
    let rows: Vec<_> = (0..3)
        .map(|i| json!({"id": format!("big-{i}"), "type": "order.paid", "member": "w1",
                        "properties": {"order_id": format!("big-{i}"), "amount": "92233720368547758.07"}}))
        .chain([json!({"id": "huge-minor", "type": "order.paid", "member": "w1",
                       "properties": {"order_id": "hm", "amount_minor": 5_000_000_000_000_000_000_i64}})])
        .collect();
    let r = app.batch(serde_json::Value::Array(rows)).await;
    assert_eq!(
        (&r["accepted"], &r["rejected"]),
        (&json!(0), &json!(4)),
        "{r}"
    );
    assert_eq!(
        r["results"][0]["error"]["fields"][0]["type"], "amount_too_large",
        "{r}"
    );
    let (_, m) = app.get("/v1/members/w1").await;
    assert_eq!(
        (&m["stats"]["total_paid_minor"], &m["stats"]["order_count"]),
        (&json!(0), &json!(0)),
        "{m}"
    );
}
both!(impossible_amounts_are_refused_not_wrapped);
