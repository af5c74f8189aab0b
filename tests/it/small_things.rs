//! Small answers operators rely on (issue 25, item 14): checkout always says what is left
//! to pay, and validation messages name a path once.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn checkout_gives_payable_without_a_coupon(app: TestApp) {
    let (s, b) = app.post("/v1/members", json!({"external_id": "c1"})).await;
    assert!(s.is_success(), "{b}");
    let (s, v) = app
        .post(
            "/v1/checkout/validate",
            json!({"member": "c1", "cart": {"lines": [
                {"sku": "A", "category": "tea", "brand": "acme", "unit_price_minor": 1500, "quantity": 2}],
                "shipping_minor": 800}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["best"], json!(null), "{v}");
    assert_eq!(v["payable_minor"], 3000 + 800, "{v}");
}
both!(checkout_gives_payable_without_a_coupon);

async fn a_validation_message_names_its_path_once(app: TestApp) {
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"all": [{"field": "orders", "op": "gt", "value": "two"}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let detail = b["detail"].as_str().expect("detail");
    assert_eq!(detail.matches("all[0]").count(), 1, "{detail}");
    let msg = b["errors"][0]["msg"].as_str().expect("msg");
    assert!(!msg.contains("all[0]"), "{msg}");
}
both!(a_validation_message_names_its_path_once);

/// Runs the binary with its stdout's reader already gone, as `… | head` leaves it.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Closing the read end before the command writes: its first write meets a closed pipe.
    drop(child.stdout.take());
    child.wait_with_output().expect("wait")
}

async fn the_cli_exits_quietly_on_a_closed_pipe(app: TestApp) {
    app.batch(
        json!([{"id": "p1", "type": "order.paid", "member": "m1", "auto_create": true,
        "occurred_at": "2026-01-10T10:00:00Z", "properties": {"order_id": "o1", "amount": "10"}}]),
    )
    .await;
    let db = app._db.url.clone();
    for args in [
        vec![
            "--db",
            db.as_str(),
            "report",
            "rfm",
            "--as-of",
            "2026-02-01",
        ],
        vec![
            "--db",
            db.as_str(),
            "report",
            "rfm",
            "--as-of",
            "2026-02-01",
            "--format",
            "json",
        ],
        vec!["openapi"],
    ] {
        let out = run_into_closed_pipe(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
both!(the_cli_exits_quietly_on_a_closed_pipe);

async fn a_members_tags_include_manual_tags(app: TestApp) {
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "t1", "tags": ["coffee"]}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let (s, b) = app
        .post("/v1/tags/vip/members", json!({"add": ["t1"]}))
        .await;
    assert!(s.is_success(), "{b}");
    let m = app.member("t1").await;
    assert_eq!(m["tags"], json!(["coffee", "vip"]), "{m}");
    assert_eq!(m["profile_tags"], json!(["coffee"]), "{m}");
}
both!(a_members_tags_include_manual_tags);

async fn events_dated_in_the_future_are_refused(app: TestApp) {
    let later = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let (s, b) = app
        .post(
            "/v1/events",
            json!({"id": "f1", "type": "checkin", "member": "u", "auto_create": true, "occurred_at": later}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["type"], "occurred_at_in_future", "{b}");
    // In a batch only that row is refused.
    let r = app
        .batch(json!([
            {"id": "f2", "type": "checkin", "member": "u", "auto_create": true, "occurred_at": later},
            {"id": "f3", "type": "checkin", "member": "u", "auto_create": true, "occurred_at": soon},
        ]))
        .await;
    assert_eq!(r["results"][0]["status"], "rejected", "{r}");
    assert_eq!(
        r["results"][0]["error"]["code"], "occurred_at_in_future",
        "{r}"
    );
    assert_eq!(r["results"][1]["status"], "accepted", "{r}");
}
both!(events_dated_in_the_future_are_refused);
