//! Journeys through the API on both databases with a controllable clock: an event-triggered
//! journey (wait, send, exit) whose sends go through the campaign dispatcher and its rules
//! (quiet hours moving a send, a frequency cap holding one back), the goal event ending a
//! journey, a wait for an event (resumed, or timed out) with points and tag steps, a step
//! run once across a worker restart, and bad graphs refused naming the step and field. The shipped templates run end to end in `journeys_templates.rs`.

use memberops_app::Workspaces;
use memberops_app::campaigns::channels::Channels;
use memberops_app::campaigns::dispatch::{Dispatcher, Policy};
use memberops_app::journeys::runner::{Runner, RunnerConfig};
use memberops_app::segments::IndexCache;
use memberops_campaigns::rules::{Cap, Window};
use memberops_core::time::now_millis;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::campaigns::{dispatcher, member};
use crate::both;
use crate::helpers::TestApp;

pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

/// Posts events and asserts every one was taken.
pub async fn events(app: &TestApp, evs: Value) {
    let n = evs.as_array().map_or(0, Vec::len) as u64;
    let r = app.batch(evs).await;
    assert_eq!(r["accepted"].as_u64(), Some(n), "{r}");
}

pub fn runner(app: &TestApp) -> Runner {
    Runner::new(
        Workspaces::new(app.store.clone()),
        IndexCache::new(),
        RunnerConfig::default(),
    )
}

/// No caps, no quiet hours: only what a test asks for.
pub fn open_policy() -> Policy {
    Policy {
        quiet_hours: None,
        send_windows: Vec::new(),
        caps: Vec::new(),
    }
}

/// Quiet from an hour before `t` to two hours after it (UTC clock).
pub fn quiet_around(t: i64) -> Window {
    let h = |ms: i64| {
        let s = ms.rem_euclid(DAY) / HOUR;
        format!("{:02}:00", s % 24)
    };
    Window::parse(&format!("{}-{}", h(t - HOUR), h(t + 2 * HOUR))).expect("window")
}

pub fn inbox_dispatcher(app: &TestApp, policy: Policy) -> Dispatcher {
    dispatcher(app, Channels::inbox_only(app.store.clone()), policy)
}

pub async fn create(app: &TestApp, body: Value) -> String {
    let (s, j) = app.post("/v1/journeys", body).await;
    assert_eq!(s, StatusCode::CREATED, "{j}");
    assert_eq!(j["status"], "draft");
    j["id"].as_str().expect("id").to_owned()
}

pub async fn activate(app: &TestApp, id: &str) {
    let (s, j) = app
        .post(&format!("/v1/journeys/{id}:activate"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["status"], "active");
}

pub async fn report(app: &TestApp, id: &str) -> Value {
    let (s, r) = app.get(&format!("/v1/journeys/{id}/report")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r
}

pub fn step<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["step"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {r}"))
}

/// Inbox messages of a member (their titles).
pub async fn inbox(app: &TestApp, member_id: &str) -> Vec<String> {
    app.store
        .inbox_page(&app.ws.id, member_id, None, 100)
        .await
        .expect("inbox")
        .into_iter()
        .map(|m| m.title)
        .collect()
}

fn cart_journey() -> Value {
    json!({
    "name": "购物车挽回",
    "trigger": {"kind": "event", "event_type": "cart.abandoned",
                "conditions": [{"property": "value", "op": "gte", "value": 100}]},
    "entry": {"mode": "every_time"},
    "goal": {"event_type": "order.paid", "within_days": 7},
    "start": "first",
    "steps": [
        {"id": "first", "type": "send", "next": "wait1",
         "message": {"channel": "inapp", "subject": "first", "body": "{{ member.name }}，购物车还在"}},
        {"id": "wait1", "type": "wait", "days": 1, "next": "second"},
        {"id": "second", "type": "send", "next": "wait2",
         "message": {"channel": "inapp", "subject": "second", "body": "还在等您"}},
        {"id": "wait2", "type": "wait", "days": 1, "next": "third"},
        {"id": "third", "type": "send", "next": "bye",
         "message": {"channel": "inapp", "subject": "third", "body": "最后提醒"}},
        {"id": "bye", "type": "exit"}
    ]})
}

async fn an_event_journey_sends_through_the_rules_and_the_goal_ends_it(app: TestApp) {
    let a = member(&app, "ja", json!({"time_zone": "UTC"})).await;
    let b = member(&app, "jb", json!({"time_zone": "UTC"})).await;
    let c = member(&app, "jc", json!({"time_zone": "UTC"})).await;
    let id = create(&app, cart_journey()).await;
    activate(&app, &id).await;
    // The clock starts two hours ago: events cannot come from the future, and the goal
    // event happens now.
    let t0 = now_millis() - 2 * HOUR;
    let at = |ms: i64| memberops_core::time::millis_to_rfc3339(ms);
    events(&app, json!([
        {"id": "ca", "type": "cart.abandoned", "member": "ja", "occurred_at": at(t0), "properties": {"value": 150}},
        {"id": "cb", "type": "cart.abandoned", "member": "jb", "occurred_at": at(t0), "properties": {"value": "120.00"}},
        // Below the condition: does not enter.
        {"id": "cc", "type": "cart.abandoned", "member": "jc", "occurred_at": at(t0), "properties": {"value": 20}},
    ]))
    .await;
    app.drain().await;
    let r = runner(&app);
    assert_eq!(r.round(t0).await.expect("round"), 2);
    // Quiet hours around t0 move the first sends; at most 2 marketing messages in 10 days
    // will hold the third back.
    let policy = Policy {
        quiet_hours: Some(quiet_around(t0)),
        send_windows: Vec::new(),
        caps: vec![Cap {
            channel: None,
            max: 2,
            days: 10,
        }],
    };
    let d = inbox_dispatcher(&app, policy);
    assert_eq!(d.round(t0).await.expect("dispatch"), 2);
    assert!(inbox(&app, &a).await.is_empty(), "moved, not sent");
    let rep = report(&app, &id).await;
    assert_eq!(rep["entered"], 2, "{rep}");
    assert_eq!(step(&rep, "first")["held"]["quiet_hours"], 2, "{rep}");
    assert_eq!(step(&rep, "first")["pending"], 2, "{rep}");
    assert_eq!(step(&rep, "wait1")["waiting"], 2, "{rep}");
    // When the quiet hours end, both go out.
    d.round(t0 + 3 * HOUR).await.expect("dispatch");
    assert_eq!(inbox(&app, &a).await, vec!["first"]);
    assert_eq!(inbox(&app, &b).await, vec!["first"]);
    assert!(inbox(&app, &c).await.is_empty());

    // Member a orders: the goal ends a's journey.
    events(
        &app,
        json!([
            {"id": "pa", "type": "order.paid", "member": "ja", "occurred_at": at(now_millis()),
             "properties": {"order_id": "oa", "amount": "88.00"}},
        ]),
    )
    .await;
    app.drain().await;

    for day in 1..=3 {
        let t = t0 + day * DAY + 4 * HOUR;
        r.round(t).await.expect("round");
        d.round(t).await.expect("dispatch");
    }
    assert_eq!(
        inbox(&app, &a).await,
        vec!["first"],
        "the goal ended a's journey"
    );
    let got_b = inbox(&app, &b).await;
    assert_eq!(
        got_b,
        vec!["second", "first"],
        "the cap held the third back"
    );
    let rep = report(&app, &id).await;
    assert_eq!(rep["converted"], 1, "{rep}");
    assert_eq!(rep["exited"], 1, "{rep}");
    assert_eq!(step(&rep, "third")["held"]["frequency_cap"], 1, "{rep}");
    assert_eq!(step(&rep, "bye")["exited"], 1, "{rep}");
    assert_eq!(step(&rep, "second")["sent"], 1, "{rep}");
    let g = &rep["groups"][0];
    assert_eq!(
        (g["group"].as_str(), g["members"].as_i64()),
        (Some("all"), Some(2))
    );
    assert_eq!(
        (g["converted"].as_i64(), g["revenue_minor"].as_i64()),
        (Some(1), Some(8800))
    );

    // Every time: b abandons again and enters again.
    events(&app, json!([
        {"id": "cb2", "type": "cart.abandoned", "member": "jb", "occurred_at": at(now_millis()), "properties": {"value": 300}},
    ]))
    .await;
    app.drain().await;
    assert_eq!(report(&app, &id).await["entered"], 3);
    // A page handled again enters nobody twice (the event is the occurrence).
    app.drain().await;
    assert_eq!(report(&app, &id).await["entered"], 3);
}
both!(an_event_journey_sends_through_the_rules_and_the_goal_ends_it);

async fn a_step_runs_once_across_a_worker_restart(app: TestApp) {
    let a = member(&app, "ra", json!({"time_zone": "UTC"})).await;
    let id = create(&app, cart_journey()).await;
    activate(&app, &id).await;
    let t0 = now_millis();
    events(
        &app,
        json!([{"id": "c1", "type": "cart.abandoned", "member": "ra",
        "occurred_at": memberops_core::time::millis_to_rfc3339(t0), "properties": {"value": 500}}]),
    )
    .await;
    app.drain().await;
    // A worker claims the enrollment and dies before running it.
    let dead = runner(&app);
    let (lease, rows) = dead.claim(t0).await.expect("claim");
    assert_eq!(rows.len(), 1);
    // Nobody else takes it while the lease holds.
    let other = runner(&app);
    assert_eq!(other.round(t0 + MIN / 2).await.expect("round"), 0);
    // When it runs out, the restarted worker runs the step.
    assert_eq!(other.round(t0 + 2 * MIN).await.expect("round"), 1);
    // The dead worker comes back with its old claim: nothing happens twice.
    dead.process(&lease, rows, t0 + 3 * MIN)
        .await
        .expect("process");
    let d = inbox_dispatcher(&app, open_policy());
    d.round(t0 + 4 * MIN).await.expect("dispatch");
    assert_eq!(inbox(&app, &a).await, vec!["first"]);
    let rep = report(&app, &id).await;
    assert_eq!(step(&rep, "first")["reached"], 1, "{rep}");
    assert_eq!(step(&rep, "first")["sent"], 1, "{rep}");
    assert_eq!(step(&rep, "wait1")["waiting"], 1, "{rep}");
}
both!(a_step_runs_once_across_a_worker_restart);

async fn bad_journeys_are_refused_naming_the_step_and_field(app: TestApp) {
    let mut j = cart_journey();
    // A cycle with no wait: third → first.
    j["steps"][4]["next"] = json!("first");
    j["steps"][0]["next"] = json!("third");
    let (s, b) = app.post("/v1/journeys", j).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let errs = b["errors"].as_array().expect("errors");
    let has = |loc: Value, code: &str| errs.iter().any(|e| e["loc"] == loc && e["code"] == code);
    assert!(
        has(
            json!(["body", "steps", "third", "next"]),
            "cycle_without_wait"
        ) || has(
            json!(["body", "steps", "first", "next"]),
            "cycle_without_wait"
        ),
        "{b}"
    );
    assert!(
        has(json!(["body", "steps", "wait1", "id"]), "unreachable_step"),
        "{b}"
    );

    // A template that does not render, an unknown coupon template and segment.
    let mut j = cart_journey();
    j["steps"][0]["message"]["body"] = json!("Hi {{ memer.name }}");
    j["steps"][5] = json!({"id": "bye", "type": "coupon", "template_id": "tpl_nope"});
    j["trigger"] = json!({"kind": "schedule", "day_of_month": 8, "segment_id": "seg_nope"});
    let (s, b) = app.post("/v1/journeys", j.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "steps", "first", "message", "body"]),
        "{b}"
    );
    assert_eq!(b["errors"][0]["code"], "template_error", "{b}");
    j["steps"][0]["message"]["body"] = json!("Hi {{ member.name }}");
    let (s, b) = app.post("/v1/journeys", j).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let errs = b["errors"].as_array().expect("errors");
    let has = |loc: Value, code: &str| errs.iter().any(|e| e["loc"] == loc && e["code"] == code);
    assert!(
        has(
            json!(["body", "steps", "bye", "template_id"]),
            "unknown_coupon_template"
        ),
        "{b}"
    );
    assert!(
        has(json!(["body", "trigger", "segment_id"]), "unknown_segment"),
        "{b}"
    );

    // Editable while draft; an active journey's edit is a new version.
    let id = create(&app, cart_journey()).await;
    let (s, p) = app
        .patch(
            &format!("/v1/journeys/{id}"),
            json!({"name": "购物车挽回 v2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["version"].as_i64(), p["name"].as_str()),
        (Some(1), Some("购物车挽回 v2"))
    );
    activate(&app, &id).await;
    let (s, p) = app
        .patch(&format!("/v1/journeys/{id}"), json!({"name": "v3"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["version"], 2);
    let (s, l) = app.get("/v1/journeys?limit=10").await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["data"].as_array().map(Vec::len), Some(1));
    let (s, a) = app
        .post(&format!("/v1/journeys/{id}:archive"), json!({}))
        .await;
    assert_eq!(
        (s, a["status"].as_str()),
        (StatusCode::OK, Some("archived"))
    );
    let (s, _) = app
        .post(&format!("/v1/journeys/{id}:activate"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app.post(&format!("/v1/journeys/{id}:fly"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(bad_journeys_are_refused_naming_the_step_and_field);

async fn a_wait_for_an_event_resumes_or_times_out(app: TestApp) {
    let buyer = member(&app, "wa", json!({"time_zone": "UTC"})).await;
    let idle = member(&app, "wb", json!({"time_zone": "UTC"})).await;
    let id = create(
        &app,
        json!({"name": "试用转化", "trigger": {"kind": "event", "event_type": "trial.started"},
            "start": "wait",
            "steps": [
                {"id": "wait", "type": "wait", "event_type": "order.paid", "days": 3,
                 "next": "bonus", "timeout_next": "nudge"},
                {"id": "bonus", "type": "points", "points": 50, "next": "vip"},
                {"id": "vip", "type": "tag", "add_tag": "trial_buyer", "next": "thanks"},
                {"id": "thanks", "type": "send", "message": {"channel": "inapp", "subject": "thanks", "body": "谢谢"}},
                {"id": "nudge", "type": "send", "message": {"channel": "inapp", "subject": "nudge", "body": "试用快结束了"}}
            ]}),
    )
    .await;
    activate(&app, &id).await;
    let t0 = now_millis() - 2 * HOUR;
    let at = memberops_core::time::millis_to_rfc3339;
    events(
        &app,
        json!([
            {"id": "t1", "type": "trial.started", "member": "wa", "occurred_at": at(t0), "properties": {}},
            {"id": "t2", "type": "trial.started", "member": "wb", "occurred_at": at(t0), "properties": {}},
        ]),
    )
    .await;
    app.drain().await;
    let r = runner(&app);
    let d = inbox_dispatcher(&app, open_policy());
    assert_eq!(r.round(t0).await.expect("round"), 2);
    assert_eq!(step(&report(&app, &id).await, "wait")["waiting"], 2);
    // wa orders: its wait ends at once, on the event's branch.
    events(
        &app,
        json!([{"id": "o1", "type": "order.paid", "member": "wa", "occurred_at": at(now_millis()),
            "properties": {"order_id": "o1", "amount": "10"}}]),
    )
    .await;
    app.drain().await;
    let now = now_millis();
    assert_eq!(r.round(now).await.expect("round"), 1);
    d.round(now).await.expect("dispatch");
    assert_eq!(inbox(&app, &buyer).await, vec!["thanks"]);
    assert!(inbox(&app, &idle).await.is_empty());
    let m = app.member("wa").await;
    assert!(m.to_string().contains("trial_buyer"), "the tag step: {m}");
    let (s, ledger) = app.get("/v1/members/wa/points/ledger?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{ledger}");
    let gifts: Vec<&Value> = ledger["data"]
        .as_array()
        .expect("lines")
        .iter()
        .filter(|l| l.to_string().contains("journey 试用转化"))
        .collect();
    assert_eq!(gifts.len(), 1, "{ledger}");
    assert!(gifts[0].to_string().contains("50"), "{ledger}");
    // wb never orders: after 3 days, the timeout branch.
    let t = t0 + 3 * DAY + MIN;
    r.round(t).await.expect("round");
    d.round(t).await.expect("dispatch");
    assert_eq!(inbox(&app, &idle).await, vec!["nudge"]);
    let rep = report(&app, &id).await;
    assert_eq!(step(&rep, "wait")["outcomes"]["timeout"], 1, "{rep}");
    assert_eq!(step(&rep, "bonus")["outcomes"]["granted"], 1, "{rep}");
    assert_eq!(rep["completed"], 2, "{rep}");
}
both!(a_wait_for_an_event_resumes_or_times_out);

async fn two_runners_share_the_work_without_running_a_step_twice(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(member(&app, &format!("p{i}"), json!({"time_zone": "UTC"})).await);
    }
    let id = create(
        &app,
        json!({"name": "欢迎", "trigger": {"kind": "event", "event_type": "app.opened"},
            "start": "hi", "steps": [{"id": "hi", "type": "send",
                "message": {"channel": "inapp", "subject": "hi", "body": "欢迎回来"}}]}),
    )
    .await;
    activate(&app, &id).await;
    let t0 = now_millis() - HOUR;
    let evs: Vec<Value> = (0..30)
        .map(|i| {
            json!({"id": format!("e{i}"), "type": "app.opened", "member": format!("p{i}"),
            "occurred_at": memberops_core::time::millis_to_rfc3339(t0), "properties": {}})
        })
        .collect();
    events(&app, Value::Array(evs)).await;
    app.drain().await;
    let small = |app: &TestApp| {
        Runner::new(
            Workspaces::new(app.store.clone()),
            IndexCache::new(),
            RunnerConfig {
                batch: 7,
                ..RunnerConfig::default()
            },
        )
    };
    let (r1, r2) = (small(&app), small(&app));
    let mut ran = 0;
    loop {
        let (a, b) = tokio::join!(r1.round(t0), r2.round(t0));
        let n = a.expect("r1") + b.expect("r2");
        if n == 0 {
            break;
        }
        ran += n;
    }
    assert_eq!(ran, 30);
    inbox_dispatcher(&app, open_policy())
        .round(t0)
        .await
        .expect("dispatch");
    for m in &ids {
        assert_eq!(inbox(&app, m).await, vec!["hi"]);
    }
    let rep = report(&app, &id).await;
    assert_eq!(
        (rep["completed"].as_i64(), step(&rep, "hi")["sent"].as_i64()),
        (Some(30), Some(30)),
        "{rep}"
    );
}
both!(two_runners_share_the_work_without_running_a_step_twice);
