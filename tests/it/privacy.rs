//! Privacy: a member's export holds everything about it; erasure pseudonymises it for good
//! while its ledgers stay balanced and its orders counted; consent changes are kept as
//! history; the server's logs never hold the phones and emails a test sent.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

const PHONE: &str = "+8613912345678";
const EMAIL: &str = "wang.fang@example.cn";

async fn member_with_history(app: &TestApp) -> String {
    let (s, m) = app
        .post(
            "/v1/members",
            json!({"external_id": "p1", "phone": PHONE, "email": EMAIL, "name": "王芳",
                   "birthday": "1990-05-20", "consent": {"sms": true, "email": true},
                   "attributes": {"address": "上海市长宁路1号"}}),
        )
        .await;
    assert!(s.is_success(), "{m}");
    app.batch(json!([
        {"id": "o1", "type": "order.paid", "member": "p1",
         "properties": {"order_id": "o1", "amount": "120.00", "note": "leave at door, call 13912345678"}}
    ]))
    .await;
    let (s, b) = app
        .patch("/v1/members/p1", json!({"consent": {"sms": false}}))
        .await;
    assert!(s.is_success(), "{b}");
    m["id"].as_str().expect("id").to_owned()
}

async fn export_holds_profile_events_ledgers_and_consent_history(app: TestApp) {
    let id = member_with_history(&app).await;
    let (s, x) = app.get(&format!("/v1/members/{id}/export")).await;
    assert_eq!(s, StatusCode::OK, "{x}");
    assert_eq!(x["member_id"], id);
    assert_eq!(x["profile"]["phone"], PHONE);
    let data = &x["data"];
    assert_eq!(data["members"][0]["email"], EMAIL, "{data}");
    assert!(
        data["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["id"] == "o1")),
        "{data}"
    );
    assert!(
        data["points_ledger"]
            .as_array()
            .is_some_and(|l| !l.is_empty()),
        "{data}"
    );
    assert!(data["member_stats"].is_array(), "{data}");
    let history = x["consent_history"].as_array().expect("history");
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["before"], Value::Null);
    assert_eq!(history[1]["after"]["sms"], false);
    // The export shows everything: admin keys only.
    let read = memberops_app::keys::create_with(
        app.store.as_ref(),
        &app.ws.id,
        "reader",
        &[memberops_store::KeyScope::Read],
        None,
    )
    .await
    .expect("key")
    .1;
    let (s, _) = app
        .call_as(
            &read,
            Method::GET,
            &format!("/v1/members/{id}/export"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get("/v1/members/nobody/export").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(export_holds_profile_events_ledgers_and_consent_history);

async fn erase_removes_pii_keeps_ledgers_and_is_idempotent(app: TestApp) {
    let id = member_with_history(&app).await;
    let (_, before) = app.get(&format!("/v1/members/{id}/loyalty")).await;
    let (s, e) = app
        .call(Method::POST, &format!("/v1/members/{id}:erase"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["erased_now"], true);
    // The registration (its profile) and the order (its note); system events hold no PII.
    assert_eq!(e["events_scrubbed"], 2, "{e}");
    let (_, x) = app.get(&format!("/v1/members/{id}/export")).await;
    let text = x.to_string();
    for pii in [
        PHONE,
        "13912345678",
        EMAIL,
        "王芳",
        "1990-05-20",
        "长宁路",
        "\"p1\"",
    ] {
        assert!(!text.contains(pii), "{pii} survived the erasure: {text}");
    }
    let order = x["data"]["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["id"] == "o1"))
        .expect("order kept");
    assert_eq!(
        order["properties"],
        json!({"order_id": "o1", "amount": "120.00"})
    );
    // Balances and aggregates stay: the member is still counted.
    let (_, after) = app.get(&format!("/v1/members/{id}/loyalty")).await;
    assert_eq!(before["points"], after["points"], "{after}");
    let m = app.member(&id).await;
    assert_eq!(m["stats"]["order_count"], 1, "{m}");
    // Again: nothing changes.
    let (s, again) = app
        .call(Method::POST, &format!("/v1/members/{id}:erase"), None)
        .await;
    assert_eq!((s, &again["erased_now"]), (StatusCode::OK, &json!(false)));
    // The erasure is audited.
    let (_, audit) = app.get(&format!("/v1/audit?member={id}")).await;
    assert!(
        audit["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|e| e["route"] == "/v1/members/{id}")),
        "{audit}"
    );
    // The shop's id names nobody now: the same external id makes a new member.
    app.batch(json!([{"id": "r9", "type": "member.registered", "member": "p1"}]))
        .await;
    assert_ne!(app.member("p1").await["id"], json!(id));
}
both!(erase_removes_pii_keeps_ledgers_and_is_idempotent);

/// Erasure also reaches what was queued or refused before it: the webhook a dispatcher
/// sends afterwards is built from the scrubbed event, and the refused Tracking API
/// messages naming the member are deleted (others stay).
async fn erase_reaches_queued_webhooks_and_tracking_issues(app: TestApp) {
    use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
    let sink = crate::receiver::Receiver::start(crate::receiver::Behaviour::Ok).await;
    crate::webhooks::endpoint(&app, &sink.url, json!(["order.paid"])).await;
    let id = member_with_history(&app).await;
    app.drain().await;
    let key = app.ingest_key().await;
    let r = app
        .client
        .post(app.url("/ingest/segment/v1/batch"))
        .basic_auth(&key, Some(""))
        .json(&json!({"batch": [
            {"type": "track", "userId": "p1", "messageId": "bad-1", "properties": {"phone": PHONE}},
            {"type": "track", "userId": "p2", "messageId": "bad-2", "properties": {"x": 1}},
        ]}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, issues) = app.get("/v1/tracking/issues").await;
    assert_eq!(issues["data"].as_array().map(Vec::len), Some(2), "{issues}");

    let (s, e) = app
        .call(Method::POST, &format!("/v1/members/{id}:erase"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["tracking_issues_deleted"], 1, "{e}");
    let (_, issues) = app.get("/v1/tracking/issues").await;
    let left = issues["data"].as_array().expect("issues");
    assert_eq!(left.len(), 1, "{issues}");
    assert_eq!(left[0]["payload"]["userId"], "p2");

    // The delivery queued before the erasure goes out now, without the note or the id.
    let d = Dispatcher::new(
        app.store.clone(),
        DispatchConfig {
            policy: memberops_app::webhooks::AddressPolicy {
                allow_private: true,
            },
            ..DispatchConfig::default()
        },
    )
    .expect("dispatcher");
    d.round().await.expect("round");
    let hits = sink.wait_for(1, std::time::Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    for pii in ["13912345678", "leave at door", "\"p1\""] {
        assert!(!hits[0].body.contains(pii), "{pii} in {}", hits[0].body);
    }
}
both!(erase_reaches_queued_webhooks_and_tracking_issues);

/// The server logs of a run with phones and emails in profiles, events and errors do not
/// hold them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_hold_phones_or_emails() {
    let db = crate::helpers::TestDb::sqlite();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let bin = env!("CARGO_BIN_EXE_memberops");
    let out = std::process::Command::new(bin)
        .args(["--db", &db.url, "apikey", "create", "--name", "t"])
        .output()
        .expect("key");
    let key = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let log = tempfile::NamedTempFile::new().expect("log");
    let mut server = std::process::Command::new(bin)
        .args([
            "--db",
            &db.url,
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "debug,sqlx=debug")
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().expect("log file"))
        .spawn()
        .expect("serve");
    memberops_app::webhooks::install_tls_provider();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "server did not start");
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    post(
        "/v1/members",
        json!({"external_id": "l1", "phone": PHONE, "email": EMAIL}),
    )
    .await
    .expect("member");
    post(
        "/v1/members",
        json!({"external_id": "l2", "phone": "not a phone 13912345678", "email": "bad@"}),
    )
    .await
    .expect("bad");
    post(
        "/v1/events:batch",
        json!({"events": [{"id": "x", "type": "member.registered", "member": "l3",
        "properties": {"phone": PHONE, "email": EMAIL}}]}),
    )
    .await
    .expect("batch");
    client
        .get(format!("{base}/v1/members?phone={}", "%2B8613912345678"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("search");
    let _ = server.kill();
    let _ = server.wait();
    let text = std::fs::read_to_string(log.path()).expect("read log");
    assert!(
        text.contains("request_id"),
        "the log has request ids: {text}"
    );
    for pii in ["13912345678", EMAIL, "bad@"] {
        assert!(!text.contains(pii), "`{pii}` is in the server log:\n{text}");
    }
}
