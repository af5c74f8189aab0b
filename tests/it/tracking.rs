//! The Segment-compatible Tracking API, driven with the payloads the SDKs send.

use std::io::Write;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

enum Auth<'a> {
    /// Write key as Basic user name, empty password (what the SDKs send).
    Basic(&'a str),
    /// `writeKey` in the body.
    Body(&'a str),
    None,
}

async fn seg(
    app: &TestApp,
    path: &str,
    mut body: Value,
    auth: Auth<'_>,
    gzip: bool,
) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url(&format!("/ingest/segment{path}")));
    match auth {
        Auth::Basic(k) => req = req.basic_auth(k, Some("")),
        Auth::Body(k) => body["writeKey"] = json!(k),
        Auth::None => {}
    }
    let bytes = serde_json::to_vec(&body).expect("json");
    req = req.header("content-type", "application/json");
    req = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).expect("gzip");
        req.header("content-encoding", "gzip")
            .body(enc.finish().expect("gzip"))
    } else {
        req.body(bytes)
    };
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn events_of(app: &TestApp, member: &str) -> Vec<String> {
    let (status, body) = app
        .get(&format!("/v1/members/{member}/events?limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut kinds: Vec<String> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn sdk_batch() -> Value {
    json!({
        "batch": [
            {"type": "identify", "messageId": "m-id-1", "userId": "u1", "anonymousId": "a-9",
             "traits": {"email": "Ann@Example.com", "firstName": "Ann", "lastName": "Lee", "plan": "gold",
                        "address": {"city": "Hangzhou"}, "createdAt": "2025-06-01T00:00:00Z"},
             "context": {"timezone": "Asia/Shanghai", "library": {"name": "analytics-python", "version": "2.4.0"}},
             "originalTimestamp": "2026-05-01T10:00:00Z"},
            {"type": "track", "messageId": "m-tr-1", "userId": "u1", "event": "Order Completed",
             "properties": {"order_id": "o-1", "total": 19.99, "revenue": 17.5, "currency": "CNY", "coupon": "NEW10",
                            "discount": 2, "products": [{"product_id": "p1", "sku": "S1", "category": "Shoes", "price": 9.995, "quantity": 2}]},
             "originalTimestamp": "2026-05-01T10:01:00Z"},
            {"type": "page", "messageId": "m-pg-1", "userId": "u1", "name": "Home", "properties": {"url": "https://shop/"},
             "originalTimestamp": "2026-05-01T10:02:00Z", "someUnknownField": {"x": 1}},
            {"type": "alias", "messageId": "m-al-1", "userId": "u1", "previousId": "a-10",
             "originalTimestamp": "2026-05-01T10:03:00Z"}
        ],
        "sentAt": "2026-05-01T10:05:00Z"
    })
}

async fn sdk_batch_lands_on_the_member(app: TestApp) {
    let key = app.ingest_key().await;
    let (status, body) = seg(&app, "/v1/batch", sdk_batch(), Auth::Basic(&key), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["accepted"], 4, "{body}");

    let m = app.member("u1").await;
    assert_eq!(m["email"], "ann@example.com");
    assert_eq!(m["name"], "Ann Lee");
    assert_eq!(m["region"], "Hangzhou");
    assert_eq!(m["time_zone"], "Asia/Shanghai");
    assert_eq!(m["registered_at"], "2025-06-01T00:00:00.000Z");
    assert_eq!(m["attributes"]["plan"], "gold");
    assert_eq!(m["stats"]["order_count"], 1);
    assert_eq!(m["stats"]["total_paid_minor"], 1999);
    assert_eq!(m["stats"]["event_count"], 4);
    assert_eq!(
        events_of(&app, "u1").await,
        vec!["alias", "identify", "order.paid", "page.viewed"]
    );

    // The order event keeps the spec properties, the time corrected with sentAt.
    let (_, e) = app.get("/v1/events/m-tr-1").await;
    assert_eq!(e["properties"]["products"][0]["sku"], "S1");
    assert_eq!(e["properties"]["coupon"], "NEW10");
    assert!(e["properties"]["received_at"].is_string());
    let shift = chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().expect("time"))
        .expect("time")
        - chrono::DateTime::parse_from_rfc3339("2026-05-01T10:01:00Z").expect("time");
    // Sent "at 10:05" but received now: the event moves by the same clock difference.
    assert!(shift.num_days() > 100, "{shift}");

    // Both linked anonymous ids are listed.
    let (status, ids) = app.get("/v1/members/u1/identities").await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let anon: Vec<&str> = ids["anonymous_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i["anonymous_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(anon.len(), 2, "{ids}");

    // A replay (here gzip, key in the body) changes nothing.
    let (status, body) = seg(&app, "/v1/batch", sdk_batch(), Auth::Body(&key), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicates"], 4, "{body}");
    let m2 = app.member("u1").await;
    assert_eq!(m2["stats"], m["stats"]);

    // Single calls work too.
    let (status, body) = seg(
        &app,
        "/v1/track",
        json!({"userId": "u1", "event": "Product Viewed", "messageId": "m-pv",
        "properties": {"product_id": "p1"}}),
        Auth::Basic(&key),
        true,
    )
    .await;
    assert_eq!(
        (status, &body["success"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    let (_, e) = app.get("/v1/events/m-pv").await;
    assert_eq!(e["type"], "product.viewed");
}
both!(sdk_batch_lands_on_the_member);

async fn anonymous_visitor_becomes_one_member(app: TestApp) {
    let key = app.ingest_key().await;
    let anon = |id: &str, event: &str, props: Value| json!({"type": "track", "messageId": id, "anonymousId": "visitor-1", "event": event, "properties": props, "timestamp": "2026-05-01T09:00:00Z"});
    let (status, body) = seg(&app, "/v1/batch", json!({"batch": [
        {"type": "page", "messageId": "v-page", "anonymousId": "visitor-1", "name": "Landing", "timestamp": "2026-05-01T08:59:00Z"},
        anon("v-view", "Product Viewed", json!({"product_id": "p1"})),
        anon("v-add", "Product Added", json!({"product_id": "p1", "quantity": 1})),
        anon("v-cart", "Cart Viewed", json!({})),
    ]}), Auth::Basic(&key), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, a) = app.get("/v1/members/anon:visitor-1").await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["stats"]["event_count"], 4);

    // Sign-up identifies the visitor; then an order.
    let (status, body) = seg(&app, "/v1/batch", json!({"batch": [
        {"type": "identify", "messageId": "v-id", "userId": "shopper-7", "anonymousId": "visitor-1", "traits": {"email": "s7@example.com"}, "timestamp": "2026-05-01T09:05:00Z"},
        {"type": "track", "messageId": "v-signup", "userId": "shopper-7", "anonymousId": "visitor-1", "event": "Signed Up", "properties": {"method": "wechat"}, "timestamp": "2026-05-01T09:05:01Z"},
        {"type": "track", "messageId": "v-checkout", "userId": "shopper-7", "event": "Checkout Started", "properties": {"order_id": "o-77"}, "timestamp": "2026-05-01T09:06:00Z"},
        {"type": "track", "messageId": "v-order", "userId": "shopper-7", "event": "Order Completed", "properties": {"order_id": "o-77", "revenue": "128.50"}, "timestamp": "2026-05-01T09:07:00Z"},
    ]}), Auth::Basic(&key), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["merged"], 1, "{body}");

    let m = app.member("shopper-7").await;
    assert_eq!(m["email"], "s7@example.com");
    assert_eq!(m["stats"]["order_count"], 1);
    assert_eq!(m["stats"]["total_spend_minor"], 12850);
    assert_eq!(m["stats"]["event_count"], 8);
    assert_eq!(
        events_of(&app, "shopper-7").await,
        vec![
            "cart.viewed",
            "checkout.started",
            "identify",
            "member.registered",
            "order.paid",
            "page.viewed",
            "product.added",
            "product.viewed"
        ]
    );
    // The anonymous profile is gone; its id now leads to the member.
    let (status, _) = app.get("/v1/members/anon:visitor-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = seg(
        &app,
        "/v1/track",
        json!({"anonymousId": "visitor-1", "event": "Product Viewed", "messageId": "v-late"}),
        Auth::Basic(&key),
        false,
    )
    .await;
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(app.member("shopper-7").await["stats"]["event_count"], 9);

    // Replaying the identify merges nothing again.
    let (_, body) = seg(
        &app,
        "/v1/identify",
        json!({"messageId": "v-id", "userId": "shopper-7", "anonymousId": "visitor-1"}),
        Auth::Basic(&key),
        false,
    )
    .await;
    assert_eq!(
        (body["merged"].clone(), body["duplicates"].clone()),
        (json!(0), json!(1)),
        "{body}"
    );

    // Another user claiming the same anonymous id: a recorded conflict, no merge.
    let (_, body) = seg(
        &app,
        "/v1/identify",
        json!({"messageId": "x-id", "userId": "other-8", "anonymousId": "visitor-1"}),
        Auth::Basic(&key),
        false,
    )
    .await;
    assert_eq!(body["conflicts"], 1, "{body}");
    let (_, ids) = app.get("/v1/members/other-8/identities").await;
    assert_eq!(ids["anonymous_ids"], json!([]), "{ids}");
    assert_eq!(ids["conflicts"][0]["anonymous_id"], "visitor-1");
    assert_eq!(ids["conflicts"][0]["owner_member_id"], m["id"]);
    let (_, ids) = app.get("/v1/members/shopper-7/identities").await;
    assert_eq!(ids["anonymous_ids"][0]["state"], "merged");
    assert_eq!(ids["conflicts"].as_array().expect("conflicts").len(), 1);
    assert_eq!(app.member("shopper-7").await["stats"]["event_count"], 9);

    // A member may have several anonymous ids: an anonymous order merges with its total.
    seg(&app, "/v1/batch", json!({"batch": [
        {"type": "track", "messageId": "w-order", "anonymousId": "tablet-2", "event": "Order Completed", "properties": {"order_id": "o-78", "total": 20}},
        {"type": "alias", "messageId": "w-alias", "userId": "shopper-7", "previousId": "tablet-2"},
    ]}), Auth::Basic(&key), false).await;
    let m = app.member("shopper-7").await;
    assert_eq!(m["stats"]["order_count"], 2);
    assert_eq!(m["stats"]["total_spend_minor"], 14850);
    let (_, ids) = app.get("/v1/members/shopper-7/identities").await;
    assert_eq!(ids["anonymous_ids"].as_array().expect("ids").len(), 2);
}
both!(anonymous_visitor_becomes_one_member);

async fn bad_input_is_refused_or_reported(app: TestApp) {
    let key = app.ingest_key().await;
    let msg = json!({"userId": "u1", "event": "X", "messageId": "k1"});
    let (status, body) = seg(&app, "/v1/track", msg.clone(), Auth::None, false).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("missing_write_key")),
        "{body}"
    );
    let (status, body) = seg(&app, "/v1/track", msg.clone(), Auth::Basic("wrong"), false).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_write_key")),
        "{body}"
    );
    let (status, _) = seg(&app, "/v1/track", msg.clone(), Auth::Body("wrong"), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A write key cannot read.
    let (status, _) = app
        .call_as(
            &key,
            reqwest::Method::GET,
            "/v1/members/u1/identities",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call_as(&key, reqwest::Method::GET, "/v1/tracking/issues", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Malformed JSON, and a "gzip" body that does not inflate.
    let resp = app
        .client
        .post(app.url("/ingest/segment/v1/batch"))
        .basic_auth(&key, Some(""))
        .body("{\"batch\": [")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["code"],
        "invalid_json"
    );
    let resp = app
        .client
        .post(app.url("/ingest/segment/v1/batch"))
        .basic_auth(&key, Some(""))
        .header("content-encoding", "gzip")
        .body(b"not gzip at all".to_vec())
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A message without ids is reported; the rest lands. Bad traits are kept raw; an
    // amount that would need rounding rejects that order message.
    let (status, body) = seg(&app, "/v1/batch", json!({"batch": [
        {"type": "track", "event": "X", "messageId": "no-ids"},
        {"type": "identify", "userId": "u1", "messageId": "k2", "traits": {"email": "not-an-email", "name": "Bo"}},
        {"type": "track", "userId": "u1", "messageId": "k3", "event": "Order Completed", "properties": {"order_id": "o1", "revenue": 19.999}},
        {"type": "track", "userId": "u1", "messageId": "k4", "event": "Coupon Applied", "properties": {"coupon_id": "c1"}},
    ]}), Auth::Basic(&key), false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["accepted"], 2, "{body}");
    let codes: Vec<&str> = body["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, vec!["missing_identity", "invalid_amount"], "{body}");
    assert_eq!(body["warnings"][0]["code"], "invalid_email");
    let m = app.member("u1").await;
    assert_eq!(m["email"], Value::Null);
    assert_eq!(m["name"], "Bo");
    assert_eq!(m["attributes"]["email"], "not-an-email");
    assert_eq!(m["stats"]["order_count"], 0);
    let (status, issues) = app.get("/v1/tracking/issues").await;
    assert_eq!(status, StatusCode::OK, "{issues}");
    let issues = issues["data"].as_array().expect("issues");
    assert_eq!(issues.len(), 3, "{issues:?}");
    assert!(issues.iter().any(|i| i["code"] == "missing_identity"
        && i["payload"]["event"] == "X"
        && i["severity"] == "rejected"));
}
both!(bad_input_is_refused_or_reported);

async fn limits_refuse_whole_requests(app: TestApp) {
    let key = app.ingest_key().await;
    let before = app.store.counts(&app.ws.id).await.expect("counts");
    let filler = "x".repeat(20 * 1024);
    // 30 messages of 20 KB: each under 32 KB, together over 500 KB.
    let batch: Vec<Value> = (0..30).map(|i| json!({"type": "track", "userId": "u1", "event": "X", "messageId": format!("l{i}"), "properties": {"f": filler}})).collect();
    let (status, body) = seg(
        &app,
        "/v1/batch",
        json!({ "batch": batch }),
        Auth::Basic(&key),
        true,
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("batch_too_large")),
        "{body}"
    );
    // One message over 32 KB in an otherwise fine batch: nothing is written.
    let big = "y".repeat(33 * 1024);
    let (status, body) = seg(&app, "/v1/batch", json!({"batch": [
        {"type": "track", "userId": "u1", "event": "X", "messageId": "ok"},
        {"type": "track", "userId": "u1", "event": "X", "messageId": "big", "properties": {"f": big}},
    ]}), Auth::Basic(&key), false).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("message_too_large")),
        "{body}"
    );
    let (status, body) = seg(
        &app,
        "/v1/track",
        json!({"userId": "u1", "event": "X", "properties": {"f": big}}),
        Auth::Basic(&key),
        false,
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("message_too_large")),
        "{body}"
    );
    assert_eq!(app.store.counts(&app.ws.id).await.expect("counts"), before);
}
both!(limits_refuse_whole_requests);

/// Segment's Python SDK from PyPI sends to a running server (tests/sdk/segment_python.py).
/// Skipped when the package is not installed, except in CI.
async fn python_sdk_events_land(app: TestApp) {
    if !crate::helpers::python_has("segment.analytics", "segment-analytics-python") {
        return;
    }
    let write_key = app.ingest_key().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/sdk/segment_python.py"
    );
    let (addr, admin) = (app.addr.clone(), app.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &addr, &write_key, &admin])
            .output()
            .expect("python3")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
both!(python_sdk_events_land);
