//! Input hardening (issue 28 §4): body, URL, header and JSON-depth limits, segment-tree
//! size, request and header-read timeouts, the connection limit, and how soon a revoked
//! key stops working. Every refusal answers the shared error body.

use std::io::Write as _;
use std::time::{Duration, Instant};

use memberops_api::Limits;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both;
use crate::helpers::{Db, TestApp};

fn assert_error_body(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

async fn member_count(app: &TestApp) -> i64 {
    app.store.counts(&app.ws.id).await.expect("counts").members
}

async fn bodies_above_the_limit_are_413(app: TestApp) {
    // An 11 MiB attribute: refused, nothing stored.
    let big = "x".repeat(11 * 1024 * 1024);
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "big", "attributes": {"blob": big}}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_body(&b, "payload_too_large");
    // The same through gzip: 11 MiB inflated from a few KiB is refused too.
    let raw = serde_json::to_vec(&json!({"external_id": "bomb", "attributes": {"blob": big}}))
        .expect("json");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw).expect("gzip");
    let small = gz.finish().expect("gzip");
    assert!(small.len() < 100 * 1024);
    let r = app
        .client
        .post(app.url("/v1/members"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(small)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_body(&r.json().await.expect("json"), "payload_too_large");
    assert_eq!(member_count(&app).await, 0);

    // The event batch route takes more than 10 MiB: 1,000 events of 11 KB each.
    let events: Vec<Value> = (0..1_000)
        .map(|i| {
            json!({"id": format!("e{i}"), "type": "checkin", "member": format!("u{i}"),
                   "properties": {"note": "y".repeat(11 * 1024)}})
        })
        .collect();
    let body = json!({ "events": events });
    assert!(serde_json::to_vec(&body).expect("json").len() > 10 * 1024 * 1024);
    let (s, b) = app.post("/v1/events:batch", body).await;
    assert!(
        s != StatusCode::PAYLOAD_TOO_LARGE && !s.is_server_error(),
        "{s} {b}"
    );
}
both!(bodies_above_the_limit_are_413);

async fn long_urls_deep_json_and_large_headers_are_refused(app: TestApp) {
    let long = "a".repeat(9 * 1024);
    let (s, b) = app.get(&format!("/v1/members?cursor={long}")).await;
    assert_eq!(s, StatusCode::URI_TOO_LONG);
    assert_error_body(&b, "uri_too_long");

    let r = app
        .client
        .get(app.url("/v1/members"))
        .bearer_auth(&app.key)
        .header("x-padding", "p".repeat(40 * 1024))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error_body(&r.json().await.expect("json"), "headers_too_large");

    // 40 levels of nesting inside a free-form attribute.
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "deep", "attributes": {"x": deep}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error_body(&b, "json_too_deep");
    assert_eq!(member_count(&app).await, 0);
    // 20 levels are fine.
    let mut ok = json!(1);
    for _ in 0..20 {
        ok = json!([ok]);
    }
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "ok", "attributes": {"x": ok}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}
both!(long_urls_deep_json_and_large_headers_are_refused);

/// 1,000 conditions are refused with 422 (SQLite used to answer 500 `Expression tree is
/// too large`); the largest tree allowed, and an `in` list of 2,000 ages, evaluate on both
/// engines.
async fn segment_trees_are_bounded(app: TestApp) {
    app.batch(json!([
        {"id": "r1", "type": "member.registered", "member": "u1", "occurred_at": "2025-01-01T00:00:00Z",
         "properties": {"region": "r7", "birthday": "1990-03-01"}},
    ]))
    .await;
    let leaf = |i: usize| json!({"field": "region", "op": "eq", "value": format!("r{i}")});
    let tree = |n: usize| json!({"any": (0..n).map(leaf).collect::<Vec<_>>()});
    for (path, body) in [
        ("/v1/segments:preview", json!({"condition": tree(1_000)})),
        (
            "/v1/segments",
            json!({"name": "huge", "condition": tree(1_000)}),
        ),
    ] {
        let (s, b) = app.post(path, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {b}");
        assert_eq!(b["errors"][0]["type"], "tree_too_large", "{b}");
    }
    let max = memberops_segments::tree::MAX_LEAVES;
    let ages: Vec<i64> = (0..2_000).collect();
    let wide = json!({"all": [tree(max - 1), {"field": "age", "op": "in", "value": ages}]});
    for engine in ["index", "sql"] {
        let (s, b) = app
            .post(
                "/v1/segments:preview",
                json!({"condition": wide, "engine": engine}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{engine}: {b}");
        assert_eq!(b["count"], 1, "{engine}: {b}");
    }
    let (s, b) = app
        .post("/v1/segments", json!({"name": "wide", "condition": wide}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}
both!(segment_trees_are_bounded);

fn quick() -> Limits {
    Limits {
        request_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_millis(500),
        max_connections: 4,
        ..Limits::default()
    }
}

async fn quick_app(db: Db) -> Option<TestApp> {
    TestApp::spawn_limited(db, quick(), Duration::from_millis(200)).await
}

fn host(app: &TestApp) -> String {
    app.addr.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `within` passes: a failure).
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

/// A client sending its body slowly gets 503 `timeout` and nothing is stored; a client
/// that never finishes its head is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_time_out() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(app) = quick_app(db).await else {
            continue;
        };
        let mut s = TcpStream::connect(host(&app)).await.expect("connect");
        let head = format!(
            "POST /v1/members HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"external_",
            app.key
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let answer = read_until_closed(&mut s, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
        assert_eq!(member_count(&app).await, 0);

        let started = Instant::now();
        let mut s = TcpStream::connect(host(&app)).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        read_until_closed(&mut s, Duration::from_secs(5)).await;
        assert!(started.elapsed() >= Duration::from_millis(400));
    }
}

/// Slow sockets beyond the connection limit wait; once the header timeout closes the
/// slow ones, a real client is served (the server never holds more than the limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_cannot_exhaust_the_server() {
    let Some(app) = quick_app(Db::Sqlite).await else {
        return;
    };
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(host(&app)).await.expect("connect");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    memberops_app::webhooks::install_tls_provider();
    let client = reqwest::Client::new();
    let r = client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("served once slow sockets are dropped");
    assert_eq!(r.status(), StatusCode::OK);
    // Forty slow sockets, four at a time, half a second each.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "served before the slow connections were closed: the limit did not hold"
    );
    for mut s in slow {
        read_until_closed(&mut s, Duration::from_secs(15)).await;
    }
}

/// A revoked key stops working within the key cache time (5 s in `serve`; 200 ms here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_working_within_the_cache_time() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(app) = quick_app(db).await else {
            continue;
        };
        let (key, secret) = memberops_app::keys::create(
            app.store.as_ref(),
            &app.ws.id,
            "till",
            memberops_store::KeyScope::Admin,
        )
        .await
        .expect("key");
        let (s, _) = app
            .call_as(&secret, reqwest::Method::GET, "/v1/members", None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            app.store
                .revoke_api_key(&app.ws.id, &key.id, memberops_core::time::now_millis())
                .await
                .expect("revoke")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (s, b) = app
            .call_as(&secret, reqwest::Method::GET, "/v1/members", None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    }
}
