//! Campaigns through the API on both databases: create, launch, the dispatcher with a
//! controllable clock (quiet hours moving a send, a cap holding one back, transactional
//! messages exempt), restart safety under leases, provider failures retried without
//! blocking others, the inbox, unsubscribe links, preview, the report, and bad input.

use std::sync::Arc;
use std::time::Duration;

use memberops_app::Workspaces;
use memberops_app::campaigns::channels::{Channels, Provider};
use memberops_app::campaigns::dispatch::{DispatchConfig, Dispatcher, Policy};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;
use crate::receiver::{Behaviour, Receiver};

/// 2027-01-05T14:30:00Z: 22:30 in Shanghai (quiet), 09:30 in New York (open).
pub const T: i64 = 1_799_159_400_000;
const MIN: i64 = 60_000;

pub async fn member(app: &TestApp, ext: &str, extra: Value) -> String {
    let mut body = json!({"external_id": ext, "name": format!("会员{ext}"), "tags": ["c1"]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, m) = app.post("/v1/members", body).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    m["id"].as_str().expect("id").to_owned()
}

pub async fn segment(app: &TestApp, tag: &str) -> String {
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": tag, "condition": {"field": "tags", "op": "has_tag", "value": tag}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seg}");
    seg["id"].as_str().expect("id").to_owned()
}

pub async fn campaign(app: &TestApp, seg: &str, message: Value) -> String {
    let (s, c) = app
        .post(
            "/v1/campaigns",
            json!({"name": "会员日", "kind": "broadcast", "audience": {"segment_id": seg},
                   "message": message, "schedule": null,
                   "goal": {"event_type": "order.paid", "within_days": 7}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "draft");
    c["id"].as_str().expect("id").to_owned()
}

pub async fn launch(app: &TestApp, id: &str) -> Value {
    let (s, b) = app
        .post(&format!("/v1/campaigns/{id}:launch"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

pub async fn report(app: &TestApp, id: &str) -> Value {
    let (s, r) = app.get(&format!("/v1/campaigns/{id}/report")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r
}

pub fn dispatcher(app: &TestApp, channels: Channels, policy: Policy) -> Dispatcher {
    Dispatcher::new(
        Workspaces::new(app.store.clone()),
        channels,
        DispatchConfig {
            policy,
            public_url: app.addr.clone(),
            schedule: vec![Duration::from_secs(10), Duration::from_secs(60)],
            send_timeout: Duration::from_secs(2),
            ..DispatchConfig::default()
        },
    )
}

fn inbox_msg() -> Value {
    json!({"channel": "inapp", "subject": "{{ member.name }}", "body": "积分 {{ points.balance }}"})
}

async fn quiet_hours_move_a_send_and_a_cap_holds_one_back(app: TestApp) {
    let sh = member(&app, "sh", json!({"time_zone": "Asia/Shanghai"})).await;
    let ny = member(
        &app,
        "ny",
        json!({"time_zone": "America/New_York", "tags": ["c1", "ny"]}),
    )
    .await;
    let seg = segment(&app, "c1").await;
    let d = dispatcher(
        &app,
        Channels::inbox_only(app.store.clone()),
        Policy::default(),
    );

    let c1 = campaign(&app, &seg, inbox_msg()).await;
    let l = launch(&app, &c1).await;
    assert_eq!(l["planned"], 2, "{l}");
    assert_eq!(l["campaign"]["status"], "running");
    // Launching again plans nothing more.
    assert_eq!(launch(&app, &c1).await["planned"], 0);

    assert_eq!(d.round(T).await.expect("round"), 2);
    let r = report(&app, &c1).await;
    assert_eq!(
        (r["sent"].as_i64(), r["pending"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["held"]["quiet_hours"], 1, "{r}");
    // Still night in Shanghai: nothing is due.
    assert_eq!(d.round(T + 60 * MIN).await.expect("round"), 0);
    // 09:00 in Shanghai (01:00 UTC the next day): the moved message goes.
    assert_eq!(d.round(T + 630 * MIN).await.expect("round"), 1);
    let r = report(&app, &c1).await;
    assert_eq!(
        (r["sent"].as_i64(), r["pending"].as_i64()),
        (Some(2), Some(0)),
        "{r}"
    );
    let (_, inbox) = app.get(&format!("/v1/members/{sh}/inbox")).await;
    assert_eq!(inbox["data"][0]["title"], "会员sh", "{inbox}");
    assert_eq!(inbox["data"][0]["body"], "积分 0");

    // The New York member has had 1 marketing message; a second is allowed, a third in
    // the same 7 days is held by the cap; a transactional one still goes.
    let seg_ny = segment(&app, "ny").await;
    let c2 = campaign(&app, &seg_ny, inbox_msg()).await;
    let c3 = campaign(&app, &seg_ny, inbox_msg()).await;
    launch(&app, &c2).await;
    launch(&app, &c3).await;
    let mut tx = inbox_msg();
    tx["transactional"] = json!(true);
    let c4 = campaign(&app, &seg_ny, tx).await;
    launch(&app, &c4).await;
    let at = T + 120 * MIN;
    assert_eq!(d.round(at).await.expect("round"), 3);
    let (r2, r3, r4) = (
        report(&app, &c2).await,
        report(&app, &c3).await,
        report(&app, &c4).await,
    );
    assert_eq!(
        r2["sent"].as_i64().unwrap_or(0) + r3["sent"].as_i64().unwrap_or(0),
        1,
        "{r2} {r3}"
    );
    assert_eq!(
        r2["held"]["frequency_cap"].as_i64().unwrap_or(0)
            + r3["held"]["frequency_cap"].as_i64().unwrap_or(0),
        1,
        "{r2} {r3}"
    );
    assert_eq!(r4["sent"], 1, "{r4}");
    // Eight days on, the cap's window has passed: nothing else is pending.
    assert_eq!(d.round(at + 8 * 1440 * MIN).await.expect("round"), 0);

    // The inbox lists newest first and marks read.
    let (_, inbox) = app.get(&format!("/v1/members/{ny}/inbox?limit=2")).await;
    assert_eq!(inbox["data"].as_array().map(Vec::len), Some(2), "{inbox}");
    assert!(inbox["next_cursor"].is_string());
    let first = inbox["data"][0]["id"].as_str().expect("id").to_owned();
    let (s, b) = app
        .post(
            &format!("/v1/members/{ny}/inbox:read"),
            json!({"ids": [first, "msg_nope"]}),
        )
        .await;
    assert_eq!((s, b["marked"].as_i64()), (StatusCode::OK, Some(1)), "{b}");
    let (_, inbox) = app.get(&format!("/v1/members/{ny}/inbox?limit=1")).await;
    assert!(inbox["data"][0]["read_at"].is_string(), "{inbox}");
}
both!(quiet_hours_move_a_send_and_a_cap_holds_one_back);

async fn a_dispatcher_killed_after_claiming_resends_nothing_already_sent(app: TestApp) {
    let sink = Receiver::start(Behaviour::Ok).await;
    for i in 0..3 {
        member(
            &app,
            &format!("k{i}"),
            json!({"time_zone": "America/New_York", "phone": format!("+1202555010{i}"), "consent": {"sms": true}}),
        )
        .await;
    }
    let seg = segment(&app, "c1").await;
    let c = campaign(
        &app,
        &seg,
        json!({"channel": "sms", "body": "{{ member.name }} 会员日"}),
    )
    .await;
    launch(&app, &c).await;
    let channels = || Channels {
        provider: Some(Arc::new(
            Provider::new(&sink.url, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=").expect("provider"),
        )),
        ..Channels::inbox_only(app.store.clone())
    };
    let a = dispatcher(&app, channels(), Policy::default());
    let b = dispatcher(&app, channels(), Policy::default());
    // A sends one message, then claims the rest and dies before sending them.
    let (lease, claimed) = a.claim(T).await.expect("claim");
    assert_eq!(claimed.len(), 3);
    let (first, _dies_with_a) = claimed.split_at(1);
    a.process(&lease, first.to_vec(), T)
        .await
        .expect("send one");
    assert_eq!(sink.hits().len(), 1);
    // While A's lease holds, B takes nothing.
    assert_eq!(b.round(T + MIN / 2).await.expect("round"), 0);
    // After it runs out, B sends the two A never sent, and not the one A sent.
    assert_eq!(b.round(T + 2 * MIN).await.expect("round"), 2);
    assert_eq!(b.round(T + 3 * MIN).await.expect("round"), 0);
    let hits = sink.hits();
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((hits.len(), ids.len()), (3, 3), "{hits:?}");
    let body: Value = serde_json::from_str(&hits[0].body).expect("json");
    assert_eq!(body["channel"], "sms");
    assert!(
        body["body"].as_str().expect("body").ends_with("会员日"),
        "{body}"
    );
    assert!(!hits[0].signature.is_empty());
    let r = report(&app, &c).await;
    assert_eq!(
        (r["sent"].as_i64(), r["delivered"].as_i64()),
        (Some(3), Some(3)),
        "{r}"
    );
}
both!(a_dispatcher_killed_after_claiming_resends_nothing_already_sent);

async fn a_failing_provider_is_retried_and_blocks_no_other_send(app: TestApp) {
    let down = Receiver::start(Behaviour::Fail).await;
    member(
        &app,
        "e1",
        json!({"time_zone": "America/New_York", "tags": ["c1"],
        "phone": "+12025550100", "consent": {"sms": true}}),
    )
    .await;
    member(
        &app,
        "e2",
        json!({"time_zone": "America/New_York", "tags": ["c1"]}),
    )
    .await;
    let seg = segment(&app, "c1").await;
    let sms = campaign(&app, &seg, json!({"channel": "sms", "body": "hi"})).await;
    let inbox = campaign(&app, &seg, inbox_msg()).await;
    launch(&app, &sms).await;
    launch(&app, &inbox).await;
    let d = dispatcher(
        &app,
        Channels {
            provider: Some(Arc::new(
                Provider::new(&down.url, "whsec_eA==").expect("provider"),
            )),
            ..Channels::inbox_only(app.store.clone())
        },
        Policy {
            caps: vec![],
            ..Policy::default()
        },
    );
    d.round(T).await.expect("round");
    // The inbox messages went; the SMS is queued again after its backoff; the member
    // without a phone is held for no address.
    let r = report(&app, &inbox).await;
    assert_eq!(r["sent"], 2, "{r}");
    let r = report(&app, &sms).await;
    assert_eq!(
        (r["pending"].as_i64(), r["held"]["no_consent"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(
        d.round(T + 1000).await.expect("round"),
        0,
        "not before the backoff"
    );
    assert_eq!(d.round(T + 11_000).await.expect("round"), 1);
    assert_eq!(d.round(T + 80_000).await.expect("round"), 1);
    let r = report(&app, &sms).await;
    assert_eq!(
        (r["failed"].as_i64(), r["pending"].as_i64()),
        (Some(1), Some(0)),
        "{r}"
    );
    assert_eq!(down.hits().len(), 3, "three attempts");
}
both!(a_failing_provider_is_retried_and_blocks_no_other_send);

async fn pause_resume_cancel_and_report_conversions(app: TestApp) {
    member(&app, "p1", json!({"time_zone": "America/New_York"})).await;
    member(&app, "p2", json!({"time_zone": "America/New_York"})).await;
    let seg = segment(&app, "c1").await;
    let c = campaign(&app, &seg, inbox_msg()).await;
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:pause"), json!({}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_launched")),
        "{b}"
    );
    launch(&app, &c).await;
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:pause"), json!({}))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("paused")),
        "{b}"
    );
    let d = dispatcher(
        &app,
        Channels::inbox_only(app.store.clone()),
        Policy::default(),
    );
    assert_eq!(d.round(T).await.expect("round"), 0, "paused: nothing goes");
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:resume"), json!({}))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("running")),
        "{b}"
    );
    assert_eq!(d.round(T).await.expect("round"), 2);
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:cancel"), json!({}))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{b}"
    );
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:launch"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, b) = app
        .post(&format!("/v1/campaigns/{c}:explode"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");

    // An order within the goal window after the send converts; its amount is the
    // revenue. (The first campaign went at T, in 2027: the order is before it.)
    let c2 = campaign(&app, &seg, inbox_msg()).await;
    launch(&app, &c2).await;
    let open = Policy {
        quiet_hours: None,
        caps: vec![],
        ..Policy::default()
    };
    let d2 = dispatcher(&app, Channels::inbox_only(app.store.clone()), open);
    assert_eq!(
        d2.round(memberops_core::time::now_millis())
            .await
            .expect("round"),
        2
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let at = memberops_core::time::millis_to_rfc3339(memberops_core::time::now_millis());
    app.batch(
        json!([{"id": "o1", "type": "order.paid", "member": "p1", "occurred_at": at,
        "properties": {"order_id": "o1", "amount": "88.50", "currency": "CNY"}}]),
    )
    .await;
    let r = report(&app, &c2).await;
    assert_eq!(
        (
            r["audience"].as_i64(),
            r["converted"].as_i64(),
            r["revenue_minor"].as_i64()
        ),
        (Some(2), Some(1), Some(8850)),
        "{r}"
    );

    // Lists page by id.
    let (_, p) = app.get("/v1/campaigns?limit=1").await;
    assert_eq!(p["data"][0]["id"], c.as_str(), "{p}");
    let cur = p["next_cursor"].as_str().expect("cursor");
    let (_, p2) = app
        .get(&format!("/v1/campaigns?limit=1&cursor={cur}"))
        .await;
    assert_eq!(p2["data"][0]["id"], c2.as_str(), "{p2}");
    assert!(p2["next_cursor"].is_null());
}
both!(pause_resume_cancel_and_report_conversions);

async fn bad_input_is_named_and_preview_renders_for_a_member(app: TestApp) {
    member(&app, "v1", json!({"attributes": {"locale": "en"}})).await;
    let seg = segment(&app, "c1").await;
    let empty = segment(&app, "nobody").await;
    let base = json!({"name": "x", "kind": "broadcast", "audience": {"segment_id": "seg_nope"},
        "message": {"channel": "email", "subject": "Hi", "body": "b"}});
    let (s, b) = app.post("/v1/campaigns", base.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "audience", "segment_id"]),
        "{b}"
    );
    assert_eq!(b["errors"][0]["code"], "unknown_segment");
    let mut bad = base.clone();
    bad["audience"]["segment_id"] = json!(seg);
    bad["message"]["body"] = json!("Hello {{ member.name ");
    bad["message"]["channel"] = json!("fax");
    let (s, b) = app.post("/v1/campaigns", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let locs: Vec<&Value> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert!(
        locs.contains(&&json!(["body", "message", "channel"])),
        "{b}"
    );
    assert!(locs.contains(&&json!(["body", "message", "body"])), "{b}");
    let (s, b) = app
        .post(
            "/v1/campaigns",
            json!({"name": "x", "audience": {"segment_id": seg},
        "message": {"channel": "sms", "body": "b"}, "schedule": {"at": "tomorrow"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "schedule", "at"]),
        "{b}"
    );

    // No audience → 422 at launch, nothing planned.
    let mut none = base.clone();
    none["audience"]["segment_id"] = json!(empty);
    let (_, c) = app.post("/v1/campaigns", none).await;
    let (s, b) = app
        .post(
            &format!("/v1/campaigns/{}:launch", c["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("empty_audience")),
        "{b}"
    );
    assert_eq!(
        report(&app, c["id"].as_str().expect("id")).await["audience"],
        0
    );

    // Preview: the member's locale variant, rendered; a misspelt variable is 422 naming
    // the field of that variant.
    let c = campaign(&app, &seg, json!({"channel": "email", "subject": "您好 {{ member.name }}", "body": "积分 {{ points.balance }}",
        "locales": {"en": {"subject": "Hi {{ member.name }}", "body": "Points {{ points.balance }} {{ member.nmae }}"}}})).await;
    let (s, b) = app
        .post(
            &format!("/v1/campaigns/{c}/preview"),
            json!({"member": "v1"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "message", "locales", "en", "body"]),
        "{b}"
    );
    let c = campaign(&app, &seg, json!({"channel": "email", "subject": "您好 {{ member.name }}", "body": "积分 {{ points.balance }}",
        "locales": {"en": {"subject": "Hi {{ member.name }}", "body": "Points {{ points.balance }}"}}})).await;
    let (s, b) = app
        .post(
            &format!("/v1/campaigns/{c}/preview"),
            json!({"member": "v1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["subject"].as_str(),
            b["body"].as_str(),
            b["locale"].as_str()
        ),
        (Some("Hi 会员v1"), Some("Points 0"), Some("en")),
        "{b}"
    );
    let (s, b) = app
        .post(
            &format!("/v1/campaigns/{c}/preview"),
            json!({"member": "nobody"}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "member"])),
        "{b}"
    );

    // The same idempotency key gives the first campaign.
    let mut k = base.clone();
    k["audience"]["segment_id"] = json!(seg);
    k["idempotency_key"] = json!("k-1");
    let (s1, a) = app.post("/v1/campaigns", k.clone()).await;
    let (s2, b) = app.post("/v1/campaigns", k).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
}
both!(bad_input_is_named_and_preview_renders_for_a_member);

async fn two_dispatchers_at_once_send_each_message_once(app: TestApp) {
    let sink = Receiver::start(Behaviour::Ok).await;
    for i in 0..40 {
        member(
            &app,
            &format!("w{i}"),
            json!({"time_zone": "America/New_York", "phone": format!("+120255501{i:02}"), "consent": {"sms": true}}),
        )
        .await;
    }
    let seg = segment(&app, "c1").await;
    let c = campaign(
        &app,
        &seg,
        json!({"channel": "sms", "body": "{{ member.name }}"}),
    )
    .await;
    assert_eq!(launch(&app, &c).await["planned"], 40);
    let worker = || {
        let channels = Channels {
            provider: Some(Arc::new(
                Provider::new(&sink.url, "whsec_eA==").expect("provider"),
            )),
            ..Channels::inbox_only(app.store.clone())
        };
        let mut config = DispatchConfig {
            policy: Policy::default(),
            public_url: app.addr.clone(),
            ..DispatchConfig::default()
        };
        config.batch = 7;
        Arc::new(Dispatcher::new(
            Workspaces::new(app.store.clone()),
            channels,
            config,
        ))
    };
    let run = |d: Arc<Dispatcher>| async move {
        let mut n = 0;
        loop {
            match d.round(T).await.expect("round") {
                0 => return n,
                k => n += k,
            }
        }
    };
    let (a, b) = tokio::join!(run(worker()), run(worker()));
    assert_eq!(a + b, 40, "claimed {a} + {b}");
    let hits = sink.hits();
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((hits.len(), ids.len()), (40, 40));
    assert_eq!(report(&app, &c).await["delivered"], 40);
}
both!(two_dispatchers_at_once_send_each_message_once);

async fn a_provider_rate_limit_spreads_sends_over_seconds(app: TestApp) {
    let sink = Receiver::start(Behaviour::Ok).await;
    for i in 0..5 {
        member(
            &app,
            &format!("r{i}"),
            json!({"time_zone": "America/New_York", "phone": format!("+120255502{i:02}"), "consent": {"sms": true}}),
        )
        .await;
    }
    let seg = segment(&app, "c1").await;
    let c = campaign(&app, &seg, json!({"channel": "sms", "body": "hi"})).await;
    launch(&app, &c).await;
    let channels = Channels {
        provider: Some(Arc::new(
            Provider::new(&sink.url, "whsec_eA==").expect("provider"),
        )),
        ..Channels::inbox_only(app.store.clone())
    };
    let d = Dispatcher::new(
        Workspaces::new(app.store.clone()),
        channels,
        DispatchConfig {
            public_url: app.addr.clone(),
            provider_rate: Some(2),
            ..DispatchConfig::default()
        },
    );
    d.round(T).await.expect("round");
    assert_eq!(sink.hits().len(), 2, "two in the first second");
    assert_eq!(report(&app, &c).await["pending"], 3);
    d.round(T + 500).await.expect("round");
    assert_eq!(
        sink.hits().len(),
        2,
        "nothing due before the second is over"
    );
    d.round(T + 1000).await.expect("round");
    assert_eq!(sink.hits().len(), 4);
    d.round(T + 2000).await.expect("round");
    let r = report(&app, &c).await;
    assert_eq!(
        (sink.hits().len(), r["delivered"].as_i64()),
        (5, Some(5)),
        "{r}"
    );
}
both!(a_provider_rate_limit_spreads_sends_over_seconds);
