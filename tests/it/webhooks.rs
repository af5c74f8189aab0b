//! Outgoing webhooks and the event log's consumers: signed deliveries a real verifier
//! accepts, retries with one `webhook-id`, failing and hanging receivers, recovery,
//! endpoints disabled after a day of failures, several workers, consumers that crash
//! mid-page, and coupon rules that fire on system events.

use std::sync::Arc;
use std::time::Duration;

use memberops_app::consumers::{self, Consumer, Registry, Step};
use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
use memberops_app::webhooks::{AddressPolicy, outbox::WebhookOutbox, sign};
use memberops_store::{LogEvent, WriteTx};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;
use crate::receiver::{Behaviour, Receiver};

/// Retries 30 ms apart, no jitter: the schedule's shape without its hours.
fn fast() -> DispatchConfig {
    DispatchConfig {
        timeout: Duration::from_secs(2),
        schedule: vec![Duration::from_millis(30); 6],
        jitter: 0.0,
        lease: Duration::from_secs(5),
        poll: Duration::from_millis(20),
        policy: AddressPolicy {
            allow_private: true,
        },
        ..DispatchConfig::default()
    }
}

fn dispatcher(app: &TestApp, config: DispatchConfig) -> Arc<Dispatcher> {
    Arc::new(Dispatcher::new(app.store.clone(), config).expect("dispatcher"))
}

pub async fn endpoint(app: &TestApp, url: &str, types: Value) -> (String, String) {
    let (s, b) = app
        .post(
            "/v1/webhooks/endpoints",
            json!({"url": url, "event_types": types, "description": "CRM"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (
        b["id"].as_str().expect("id").to_owned(),
        b["secret"].as_str().expect("secret").to_owned(),
    )
}

fn paid(i: usize, member: &str) -> Value {
    json!({"id": format!("pay-{i}"), "type": "order.paid", "member": member, "auto_create": true,
           "occurred_at": "2026-11-01T10:00:00+08:00",
           "properties": {"order_id": format!("o-{i}"), "amount": "10.00"}})
}

async fn pay(app: &TestApp, from: usize, n: usize) {
    let events: Vec<Value> = (from..from + n)
        .map(|i| paid(i, &format!("u{}", i % 7)))
        .collect();
    let r = app.batch(Value::Array(events)).await;
    assert_eq!(r["accepted"], n, "{r}");
}

async fn deliveries(app: &TestApp, ep: &str) -> Vec<Value> {
    let (s, b) = app
        .get(&format!(
            "/v1/webhooks/endpoints/{ep}/deliveries?limit=1000"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"].as_array().expect("data").clone()
}

/// Rounds until nothing is due or `rounds` have run, `wait` apart.
async fn rounds(d: &Dispatcher, rounds: usize, wait: Duration) {
    for _ in 0..rounds {
        d.round().await.expect("round");
        tokio::time::sleep(wait).await;
    }
}

async fn deliveries_are_signed_per_standard_webhooks(app: TestApp) {
    let rx = Receiver::start(Behaviour::Ok).await;
    let (ep, secret) = endpoint(&app, &rx.url, json!(["order.paid", "tier.changed"])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    // The secret is shown once.
    let (_, got) = app.get(&format!("/v1/webhooks/endpoints/{ep}")).await;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["event_types"], json!(["order.paid", "tier.changed"]));

    pay(&app, 0, 3).await;
    let r = app
        .batch(json!([{"id": "ck", "type": "checkin", "member": "u0"}]))
        .await;
    assert_eq!(r["accepted"], 1);
    app.drain().await;
    let d = dispatcher(&app, fast());
    assert_eq!(
        d.round().await.expect("round"),
        3,
        "check-ins are not subscribed"
    );
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    let mut recorded = Vec::new();
    for h in &hits {
        let ts: i64 = h.timestamp.parse().expect("unix seconds");
        assert!((ts - chrono::Utc::now().timestamp()).abs() < 60);
        assert_eq!(h.signature, sign::signature(&secret, &h.id, ts, &h.body));
        let body: Value = serde_json::from_str(&h.body).expect("json");
        assert_eq!(body["type"], "order.paid");
        assert!(body["timestamp"].as_str().is_some());
        assert!(
            body["data"]["member_id"]
                .as_str()
                .is_some_and(|m| m.starts_with("mbr_"))
        );
        assert!(
            body["data"]["external_id"]
                .as_str()
                .is_some_and(|m| m.starts_with('u'))
        );
        assert_eq!(body["data"]["properties"]["amount"], "10.00");
        recorded.push(json!({"secret": secret, "body": h.body,
            "headers": {"webhook-id": h.id, "webhook-timestamp": h.timestamp, "webhook-signature": h.signature}}));
    }
    let log = deliveries(&app, &ep).await;
    assert_eq!(log.len(), 3);
    assert!(
        log.iter().all(|d| d["status"] == "delivered"
            && d["attempts"] == 1
            && d["last_status_code"] == 200),
        "{log:?}"
    );
    verify_with_python(recorded).await;
}
both!(deliveries_are_signed_per_standard_webhooks);

async fn the_delivery_log_pages_newest_event_first(app: TestApp) {
    let (ep, _) = endpoint(&app, "http://127.0.0.1:9/hook", json!(["order.paid"])).await;
    pay(&app, 0, 5).await;
    app.drain().await;
    let page = |cursor: Option<String>| {
        let app = &app;
        let ep = ep.clone();
        async move {
            let q = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
            app.get(&format!(
                "/v1/webhooks/endpoints/{ep}/deliveries?limit=2{q}"
            ))
            .await
        }
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    for expected in [2, 2, 1] {
        let (s, b) = page(cursor).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let data = b["data"].as_array().expect("data");
        assert_eq!(data.len(), expected, "{b}");
        seen.extend(
            data.iter()
                .map(|d| d["event_id"].as_str().unwrap_or("").to_owned()),
        );
        cursor = b["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(cursor, None, "the last page has no cursor");
    assert_eq!(seen, ["pay-4", "pay-3", "pay-2", "pay-1", "pay-0"]);
    let (s, b) = page(Some("not-a-cursor".into())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
}
both!(the_delivery_log_pages_newest_event_first);

/// The `standardwebhooks` package from PyPI verifies what the receiver got. Skipped when
/// the package is not installed, except in CI.
async fn verify_with_python(recorded: Vec<Value>) {
    if !crate::helpers::python_has("standardwebhooks", "standardwebhooks") {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/sdk/standardwebhooks_verify.py"
    );
    let input = Value::Array(recorded).to_string();
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
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

async fn a_receiver_failing_three_times_gets_one_id_four_times(app: TestApp) {
    let flaky = Receiver::start(Behaviour::FailFirst(3)).await;
    let down = Receiver::start(Behaviour::Fail).await;
    let (ep, _) = endpoint(&app, &flaky.url, json!(["order.paid"])).await;
    let (dead, _) = endpoint(&app, &down.url, json!(["*"])).await;
    pay(&app, 0, 1).await;
    app.drain().await;
    let mut config = fast();
    config.schedule = vec![Duration::from_millis(30); 3];
    let d = dispatcher(&app, config);
    rounds(&d, 8, Duration::from_millis(50)).await;

    let hits = flaky.hits();
    assert_eq!(hits.len(), 4, "{hits:?}");
    assert!(
        hits.iter().all(|h| h.id == hits[0].id),
        "one webhook-id on every attempt"
    );
    assert!(
        hits.iter().all(|h| h.body == hits[0].body),
        "one body on every attempt (built from the event each time)"
    );
    let log = deliveries(&app, &ep).await;
    assert_eq!(
        (
            &log[0]["status"],
            &log[0]["attempts"],
            &log[0]["last_status_code"]
        ),
        (&json!("delivered"), &json!(4), &json!(204))
    );
    // A receiver that never answers 2xx: the last attempt marks the delivery failed.
    assert_eq!(down.hits().len(), 4);
    let log = deliveries(&app, &dead).await;
    assert_eq!(
        (&log[0]["status"], &log[0]["attempts"]),
        (&json!("failed"), &json!(4)),
        "{log:?}"
    );
    assert_eq!(log[0]["last_error"], "HTTP 500");
    let failed_id = log[0]["id"].as_str().expect("id").to_owned();

    // Recover sends the failed ones again, from a fresh schedule, with the same id.
    let (s, r) = app
        .post(
            &format!("/v1/webhooks/endpoints/{dead}/recover"),
            json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (s, &r["requeued"]),
        (StatusCode::ACCEPTED, &json!(1)),
        "{r}"
    );
    d.round().await.expect("round");
    assert_eq!(down.hits().len(), 5);
    assert_eq!(down.hits()[4].id, failed_id);
    // …and so does a retry of one delivery; one still on its way cannot be retried.
    let (s, b) = app
        .post(
            &format!("/v1/webhooks/endpoints/{dead}/deliveries/{failed_id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = app
        .post(
            &format!("/v1/webhooks/endpoints/{ep}/deliveries/nope/retry"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let delivered = log_id(&deliveries(&app, &ep).await);
    let (s, b) = app
        .post(
            &format!("/v1/webhooks/endpoints/{ep}/deliveries/{delivered}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, &b["status"]),
        (StatusCode::ACCEPTED, &json!("pending")),
        "{b}"
    );
    d.round().await.expect("round");
    assert_eq!(flaky.hits().len(), 5);
}
both!(a_receiver_failing_three_times_gets_one_id_four_times);

fn log_id(log: &[Value]) -> String {
    log[0]["id"].as_str().expect("id").to_owned()
}

async fn an_endpoint_failing_for_the_whole_period_is_disabled(app: TestApp) {
    let down = Receiver::start(Behaviour::Fail).await;
    let (ep, _) = endpoint(&app, &down.url, json!(["order.paid"])).await;
    pay(&app, 0, 2).await;
    app.drain().await;
    let mut config = fast();
    config.disable_after = Duration::ZERO;
    let d = dispatcher(&app, config);
    d.round().await.expect("round");
    let (_, got) = app.get(&format!("/v1/webhooks/endpoints/{ep}")).await;
    assert_eq!(
        (&got["disabled"], &got["disabled_reason"]),
        (&json!(true), &json!("failing")),
        "{got}"
    );
    // Disabled: nothing more is sent, new events are not queued for it.
    pay(&app, 2, 1).await;
    app.drain().await;
    rounds(&d, 3, Duration::from_millis(40)).await;
    assert_eq!(down.hits().len(), 2);
    assert_eq!(deliveries(&app, &ep).await.len(), 2);
    // Switched back on, the waiting deliveries go out again.
    let (s, got) = app
        .patch(
            &format!("/v1/webhooks/endpoints/{ep}"),
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(
        (s, &got["disabled"], &got["failing_since"]),
        (StatusCode::OK, &json!(false), &Value::Null)
    );
    rounds(&d, 2, Duration::from_millis(40)).await;
    assert!(down.hits().len() > 2);
}
both!(an_endpoint_failing_for_the_whole_period_is_disabled);

async fn a_hanging_receiver_delays_no_other_endpoint(app: TestApp) {
    let slow = Receiver::start(Behaviour::Hang(Duration::from_secs(30))).await;
    let fine = Receiver::start(Behaviour::Ok).await;
    endpoint(&app, &slow.url, json!(["order.paid"])).await;
    endpoint(&app, &fine.url, json!(["order.paid"])).await;
    let mut config = fast();
    config.timeout = Duration::from_secs(20);
    config.per_endpoint = 4;
    let cancel = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(dispatcher(&app, config).run(cancel.clone()));
    for round in 0..3 {
        let started = std::time::Instant::now();
        pay(&app, round * 20, 20).await;
        assert!(started.elapsed() < Duration::from_secs(5), "ingest waited");
        app.drain().await;
        let got = fine
            .wait_for((round + 1) * 20, Duration::from_secs(5))
            .await;
        assert_eq!(
            got.len(),
            (round + 1) * 20,
            "the healthy endpoint got everything"
        );
    }
    // The hanging one holds at most its own slots.
    assert!(slow.hits().len() <= 4, "{}", slow.hits().len());
    run.abort();
}
both!(a_hanging_receiver_delays_no_other_endpoint);

async fn endpoints_and_rules_refuse_bad_input(app: TestApp) {
    for (body, loc, code) in [
        (
            json!({"url": "ftp://x.example/h", "event_types": ["order.paid"]}),
            json!(["url"]),
            "invalid_url_scheme",
        ),
        (
            json!({"url": "not a url", "event_types": ["order.paid"]}),
            json!(["url"]),
            "invalid_url",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "event_types": ["order.paid", "order.payed"]}),
            json!(["event_types", "1"]),
            "unknown_event_type",
        ),
        (
            json!({"url": "http://127.0.0.1:9/h", "event_types": []}),
            json!(["event_types"]),
            "invalid_event_types",
        ),
    ] {
        let (s, b) = app.post("/v1/webhooks/endpoints", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {b}");
        assert_eq!(
            (&b["errors"][0]["loc"], &b["errors"][0]["type"]),
            (&loc, &json!(code)),
            "{b}"
        );
    }
    // Without the allowance, loopback, link-local and private addresses are refused, by
    // literal address or by name.
    for url in [
        "http://127.0.0.1/h",
        "http://169.254.169.254/latest",
        "http://[::1]/h",
        "http://localhost:8080/h",
        "http://10.0.0.8/h",
    ] {
        let err = memberops_app::webhooks::check_url(url, AddressPolicy::default())
            .await
            .expect_err(url);
        let memberops_app::AppError::Invalid(inv) = err else {
            panic!("{url}")
        };
        assert_eq!(inv.0[0].code, "private_address", "{url}");
    }
    // A type the workspace has received is a valid subscription.
    let r = app
        .batch(json!([{"id": "c1", "type": "cart.abandoned", "member": "u1", "auto_create": true}]))
        .await;
    assert_eq!(r["accepted"], 1);
    let (ep, _) = endpoint(&app, "http://127.0.0.1:9/h", json!(["cart.abandoned"])).await;
    let (s, b) = app
        .patch(
            &format!("/v1/webhooks/endpoints/{ep}"),
            json!({"url": "gopher://x"}),
        )
        .await;
    assert_eq!(
        (s, &b["errors"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["url"]))
    );
    let (s, b) = app
        .post(
            &format!("/v1/webhooks/endpoints/{ep}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let (s, _) = app.get("/v1/webhooks/endpoints/ep_nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Rule conditions name a tier or stage that exists, on the type they belong to.
    let (s, t) = app
        .post("/v1/coupons/templates", json!({"name": "金卡礼", "benefit": {"type": "amount_off", "off_minor": 500}, "validity": {"kind": "days_from_issue", "days": 30}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let tpl = t["id"].as_str().expect("id");
    for (body, loc, code) in [
        (
            json!({"event_type": "tier.changed", "template_id": tpl, "condition": {"to_tier": "platinum-plus"}}),
            json!(["condition", "to_tier"]),
            "unknown_tier",
        ),
        (
            json!({"event_type": "lifecycle.changed", "template_id": tpl, "condition": {"to_stage": "asleep"}}),
            json!(["condition", "to_stage"]),
            "unknown_stage",
        ),
        (
            json!({"event_type": "order.paid", "template_id": tpl, "condition": {"to_tier": "gold"}}),
            json!(["condition", "to_tier"]),
            "condition_not_for_type",
        ),
        (
            json!({"event_type": "coupon.issued", "template_id": tpl}),
            json!(["event_type"]),
            "self_triggering_type",
        ),
    ] {
        let (s, b) = app.post("/v1/coupons/rules", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {b}");
        assert_eq!(
            (&b["errors"][0]["loc"], &b["errors"][0]["type"]),
            (&loc, &json!(code)),
            "{b}"
        );
    }
}
both!(endpoints_and_rules_refuse_bad_input);

/// The real outbox consumer that dies after writing part of a page: its writes and its
/// cursor go back together.
struct DiesMidPage {
    after: usize,
}

#[async_trait::async_trait]
impl Consumer for DiesMidPage {
    fn name(&self) -> &'static str {
        WebhookOutbox.name()
    }

    async fn handle(
        &self,
        tx: &mut dyn WriteTx,
        ws: &memberops_app::Workspace,
        page: &[LogEvent],
    ) -> memberops_app::error::Result<()> {
        WebhookOutbox.handle(tx, ws, &page[..self.after]).await?;
        Err(memberops_app::AppError::Conflict {
            code: "killed",
            detail: "killed mid-page".into(),
        })
    }
}

async fn a_consumer_killed_mid_page_resumes_without_skipping_or_repeating(app: TestApp) {
    let rx = Receiver::start(Behaviour::Ok).await;
    let (ep, _) = endpoint(&app, &rx.url, json!(["order.paid"])).await;
    pay(&app, 0, 250).await;
    let dying = DiesMidPage { after: 60 };
    let step = consumers::step(app.store.as_ref(), &app.ws, &dying, 100)
        .await
        .expect("step");
    assert!(matches!(step, Step::Failed { .. }), "{step:?}");
    assert!(
        deliveries(&app, &ep).await.is_empty(),
        "the page's writes went back"
    );
    // A failing consumer rejects no batch: the shop's events land.
    pay(&app, 250, 50).await;
    let (_, lag) = app.get("/v1/consumers").await;
    let hooks = lag["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|c| c["name"] == "webhooks")
        .expect("webhooks consumer")
        .clone();
    assert_eq!(
        (&hooks["failures"], &hooks["cursor_seq"]),
        (&json!(1), &json!(0)),
        "{hooks}"
    );
    assert!(
        hooks["events_behind"].as_i64().expect("behind") >= 300,
        "{hooks}"
    );
    assert!(
        hooks["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("killed"))
    );
    // It waits for its retry time, then resumes from its cursor.
    let again = consumers::step(app.store.as_ref(), &app.ws, &WebhookOutbox, 100)
        .await
        .expect("step");
    assert!(matches!(again, Step::Waiting { .. }), "{again:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(app.drain().await >= 300);
    assert_eq!(app.drain().await, 0);
    let d = dispatcher(&app, fast());
    let mut sent = 0;
    for _ in 0..20 {
        match d.round().await.expect("round") {
            0 => break,
            n => sent += n,
        }
    }
    assert_eq!(sent, 300);
    let hits = rx.hits();
    let mut events: Vec<String> = hits
        .iter()
        .map(|h| {
            serde_json::from_str::<Value>(&h.body).expect("json")["data"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    events.sort();
    let n = events.len();
    events.dedup();
    assert_eq!((n, events.len()), (300, 300), "every event once");
    let (_, lag) = app.get("/v1/consumers").await;
    assert!(
        lag["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|c| c["events_behind"] == 0 && c["failures"] == 0),
        "{lag}"
    );
}
both!(a_consumer_killed_mid_page_resumes_without_skipping_or_repeating);

async fn a_rule_on_tier_changed_to_gold_issues_once_when_the_review_upgrades(app: TestApp) {
    let (s, t) = app
        .post("/v1/coupons/templates", json!({"name": "金卡礼", "benefit": {"type": "amount_off", "off_minor": 500}, "validity": {"kind": "days_from_issue", "days": 30}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let tpl = t["id"].as_str().expect("id");
    let (s, rule) = app
        .post("/v1/coupons/rules", json!({"event_type": "tier.changed", "template_id": tpl, "condition": {"to_tier": "gold"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rule}");
    let rule_id = rule["id"].as_str().expect("id").to_owned();
    // 5,000 yuan: silver at once; the rule wants gold.
    let now = chrono::Utc::now();
    let at = (now - chrono::Duration::days(2)).to_rfc3339();
    let r = app
        .batch(json!([{"id": "p1", "type": "order.paid", "member": "vip", "auto_create": true, "occurred_at": at,
                       "properties": {"order_id": "o1", "amount": "5000.00"}}]))
        .await;
    assert_eq!(r["accepted"], 1, "{r}");
    app.drain().await;
    let (_, mine) = app.get("/v1/members/vip/coupons").await;
    assert_eq!(mine["data"], json!([]), "silver is not gold");
    // Gold now starts at 4,000: the member qualifies, and the review upgrades them.
    let (_, mut program) = app.get("/v1/loyalty/program").await;
    program["tiers"][2]["threshold"] = json!(4000);
    assert_eq!(program["tiers"][2]["code"], "gold", "{program}");
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            "/v1/loyalty/program",
            Some(program.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for _ in 0..2 {
        memberops_app::loyalty::jobs::review(app.store.as_ref(), &app.ws, now.timestamp_millis())
            .await
            .expect("review");
        app.drain().await;
    }
    let (_, mine) = app.get("/v1/members/vip/coupons").await;
    let got = mine["data"].as_array().expect("data");
    assert_eq!(got.len(), 1, "{mine}");
    assert_eq!(
        (&got[0]["template_id"], &got[0]["source"]),
        (&json!(tpl), &json!("rule"))
    );
    let (_, rule) = app.get(&format!("/v1/coupons/rules/{rule_id}")).await;
    assert_eq!(rule["issued_count"], 1, "{rule}");
    // Out of stock: the next gold member gets nothing, and the rule says why.
    let mut spec = t.clone();
    for k in [
        "id",
        "issued_count",
        "budget_used_minor",
        "archived",
        "created_at",
        "updated_at",
    ] {
        spec.as_object_mut().expect("obj").remove(k);
    }
    spec["limits"] = json!({"stock": 1});
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/coupons/templates/{tpl}"),
            Some(spec),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = app
        .batch(json!([{"id": "p2", "type": "order.paid", "member": "vip2", "auto_create": true, "occurred_at": at,
                       "properties": {"order_id": "o2", "amount": "5000.00"}}]))
        .await;
    assert_eq!(r["accepted"], 1, "{r}");
    app.drain().await;
    let (_, rule) = app.get(&format!("/v1/coupons/rules/{rule_id}")).await;
    assert_eq!(
        (&rule["skipped_count"], &rule["last_skip_reason"]),
        (&json!(1), &json!("out_of_stock")),
        "{rule}"
    );
    // Disabled, then deleted.
    let (s, rule) = app
        .patch(
            &format!("/v1/coupons/rules/{rule_id}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!((s, &rule["disabled"]), (StatusCode::OK, &json!(true)));
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/coupons/rules/{rule_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get(&format!("/v1/coupons/rules/{rule_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/v1/coupons/rules").await;
    assert_eq!(list["data"], json!([]));
}
both!(a_rule_on_tier_changed_to_gold_issues_once_when_the_review_upgrades);

/// Two workers (consumers and dispatchers) on one PostgreSQL database deliver each event
/// once per endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_postgres_deliver_each_event_once() {
    let Some(app) = TestApp::try_spawn_postgres().await else {
        return;
    };
    let a = Receiver::start(Behaviour::Ok).await;
    let b = Receiver::start(Behaviour::FailFirst(1)).await;
    endpoint(&app, &a.url, json!(["order.paid"])).await;
    endpoint(&app, &b.url, json!(["*"])).await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        // Each worker has its own store (its own pool), as a second process would.
        let store = memberops_store::connect(&app._db.url)
            .await
            .expect("connect");
        let workspaces = memberops_app::Workspaces::new(store.clone());
        tasks.push(tokio::spawn(consumers::run(
            workspaces,
            vec![app.ws.id.clone()],
            Registry::standard(),
            Duration::from_millis(20),
            cancel.clone(),
        )));
        let d = Arc::new(Dispatcher::new(store, fast()).expect("dispatcher"));
        tasks.push(tokio::spawn(d.run(cancel.clone())));
    }
    for i in 0..5 {
        pay(&app, i * 100, 100).await;
    }
    let got_a = a.wait_for(500, Duration::from_secs(20)).await;
    b.wait_for(1000, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let ids = |hits: &[crate::receiver::Hit]| {
        let mut v: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    assert_eq!((a.hits().len(), ids(&got_a)), (500, 500), "once each");
    // Each delivery to b failed once and was sent once more: two requests per id.
    assert_eq!((b.hits().len(), ids(&b.hits())), (1000, 500));
}
