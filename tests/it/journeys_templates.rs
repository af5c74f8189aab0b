//! The shipped journey templates end to end with a controllable clock, on both databases:
//! the churn win-back (a quiet-hours move, a frequency cap holding a reminder back, the
//! goal ending the journey when the member orders), the 333 follow-up (calls and messages
//! 3 days, 3 weeks and 3 months after a first purchase), the birthday (a date trigger from
//! the daily job), and an experiment whose holdout receives nothing.

use memberops_app::campaigns::dispatch::Policy;
use memberops_app::segments::IndexCache;
use memberops_campaigns::rules::Cap;
use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_store::campaigns::TaskFilter;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::campaigns::member;
use super::journeys::{
    DAY, HOUR, MIN, activate, events, inbox, inbox_dispatcher, open_policy, quiet_around, report,
    runner, step,
};
use crate::both;
use crate::helpers::TestApp;

async fn coupon_template(app: &TestApp, name: &str) -> String {
    let (s, t) = app
        .post(
            "/v1/coupons/templates",
            json!({"name": name, "benefit": {"type": "amount_off", "off_minor": 2000},
                "validity": {"kind": "days_from_issue", "days": 30}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["id"].as_str().expect("id").to_owned()
}

async fn from_template(app: &TestApp, template: &str, params: Value) -> String {
    let (s, j) = app
        .post(
            "/v1/journeys:from-template",
            json!({"template": template, "params": params}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{j}");
    assert_eq!(j["template"], template);
    let id = j["id"].as_str().expect("id").to_owned();
    activate(app, &id).await;
    id
}

async fn member_id(app: &TestApp, ext: &str) -> String {
    app.member(ext).await["id"].as_str().expect("id").to_owned()
}

async fn coupons(app: &TestApp, member_id: &str) -> usize {
    app.store
        .member_coupons(&app.ws.id, member_id)
        .await
        .expect("coupons")
        .len()
}

async fn templates_are_listed_and_need_their_params(app: TestApp) {
    let (s, l) = app.get("/v1/journeys/templates?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{l}");
    let keys: Vec<&str> = l["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        vec![
            "new_member_welcome",
            "follow_up_333",
            "birthday",
            "silent_reactivation",
            "churn_winback",
            "points_expiry_reminder",
            "tier_upgrade"
        ]
    );
    let (s, b) = app
        .post(
            "/v1/journeys:from-template",
            json!({"template": "birthday"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "params", "coupon_template_id"])
    );
    // A template id that names nothing is refused naming the step.
    let (s, b) = app
        .post(
            "/v1/journeys:from-template",
            json!({"template": "birthday", "params": {"coupon_template_id": "nope"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "steps", "gift", "template_id"])
    );
    // The points reminder and the tier congratulation need nothing but work as shipped.
    for t in ["points_expiry_reminder", "tier_upgrade"] {
        from_template(&app, t, json!({})).await;
    }
}
both!(templates_are_listed_and_need_their_params);

async fn recompute(app: &TestApp, as_of: &str) {
    let (s, b) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": as_of}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn churn_winback_stops_when_the_member_orders(app: TestApp) {
    let mut evs = Vec::new();
    for m in ["w1", "w2"] {
        evs.push(
            json!({"id": format!("reg-{m}"), "type": "member.registered", "member": m,
            "occurred_at": "2026-01-01T00:00:00Z", "properties": {"time_zone": "UTC"}}),
        );
        evs.push(json!({"id": format!("p-{m}"), "type": "order.paid", "member": m,
            "occurred_at": "2026-01-15T10:00:00Z", "properties": {"order_id": format!("o-{m}"), "amount": "50"}}));
    }
    events(&app, Value::Array(evs)).await;
    recompute(&app, "2026-01-16").await;
    let tpl = coupon_template(&app, "回归券").await;
    let id = from_template(
        &app,
        "churn_winback",
        json!({"coupon_template_id": tpl, "channel": "inapp"}),
    )
    .await;
    // Time passes: both churn.
    recompute(&app, "2026-08-01").await;
    app.drain().await;
    let (w1, w2) = (member_id(&app, "w1").await, member_id(&app, "w2").await);
    let t0 = now_millis();
    let r = runner(&app);
    assert_eq!(r.round(t0).await.expect("round"), 2);
    assert_eq!((coupons(&app, &w1).await, coupons(&app, &w2).await), (1, 1));
    // Quiet hours now; at most one marketing message in 8 days.
    let policy = Policy {
        quiet_hours: Some(quiet_around(t0)),
        send_windows: Vec::new(),
        caps: vec![Cap {
            channel: None,
            max: 1,
            days: 8,
        }],
    };
    let d = inbox_dispatcher(&app, policy);
    d.round(t0).await.expect("dispatch");
    assert!(
        inbox(&app, &w1).await.is_empty(),
        "quiet hours move the send"
    );
    // w1 orders before the quiet hours end: the win-back stops for w1, and its offer,
    // still waiting, is not sent.
    events(
        &app,
        json!([{"id": "back-w1", "type": "order.paid", "member": "w1",
        "occurred_at": millis_to_rfc3339(now_millis()),
        "properties": {"order_id": "o-back", "amount": "120"}}]),
    )
    .await;
    app.drain().await;
    d.round(t0 + 3 * HOUR).await.expect("dispatch");
    assert!(inbox(&app, &w1).await.is_empty());
    assert_eq!(inbox(&app, &w2).await, vec!["我们想您了"]);
    for t in [t0 + 7 * DAY + 4 * HOUR, t0 + 14 * DAY + 5 * HOUR] {
        r.round(t).await.expect("round");
        d.round(t).await.expect("dispatch");
    }
    assert!(inbox(&app, &w1).await.is_empty());
    // The reminder came within 8 days of the offer: held by the cap; the last one went.
    assert_eq!(inbox(&app, &w2).await, vec!["最后的提醒", "我们想您了"]);
    let rep = report(&app, &id).await;
    assert_eq!(
        (
            rep["entered"].as_i64(),
            rep["converted"].as_i64(),
            rep["completed"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{rep}"
    );
    assert_eq!(step(&rep, "offer")["held"]["quiet_hours"], 2, "{rep}");
    assert_eq!(step(&rep, "reminder")["held"]["frequency_cap"], 1, "{rep}");
    assert_eq!(step(&rep, "last")["sent"], 1, "{rep}");
    assert_eq!(step(&rep, "coupon")["outcomes"]["issued"], 2, "{rep}");
}
both!(churn_winback_stops_when_the_member_orders);

async fn follow_up_333_calls_and_writes_after_a_first_purchase(app: TestApp) {
    // r2 bought before the journey existed: its next order is not a first purchase.
    events(&app, json!([{"id": "old", "type": "order.paid", "member": "r2", "auto_create": true,
        "occurred_at": "2026-03-01T10:00:00Z", "properties": {"order_id": "o-old", "amount": "10"}}]))
        .await;
    let id = from_template(
        &app,
        "follow_up_333",
        json!({"call_pool": "store-1", "channel": "inapp"}),
    )
    .await;
    let t0 = now_millis();
    let at = millis_to_rfc3339(t0);
    events(&app, json!([
        {"id": "f1", "type": "order.paid", "member": "r1", "auto_create": true, "occurred_at": at,
         "properties": {"order_id": "o-f1", "amount": "99"}},
        {"id": "f2", "type": "order.paid", "member": "r2", "occurred_at": at,
         "properties": {"order_id": "o-f2", "amount": "99"}},
    ]))
    .await;
    app.drain().await;
    let (r1, r2) = (member_id(&app, "r1").await, member_id(&app, "r2").await);
    let r = runner(&app);
    let d = inbox_dispatcher(&app, open_policy());
    let tasks = || async {
        app.store
            .tasks_page(
                &app.ws.id,
                &TaskFilter {
                    pool: Some("store-1".into()),
                    ..TaskFilter::default()
                },
                None,
                100,
            )
            .await
            .expect("tasks")
            .into_iter()
            .map(|t| (t.member_id, t.title))
            .collect::<Vec<_>>()
    };
    for (t, msgs, calls) in [
        (t0, 0, 0),
        (t0 + 3 * DAY - MIN, 0, 0),
        (t0 + 3 * DAY + MIN, 1, 1),
        (t0 + 21 * DAY + 2 * MIN, 2, 1),
        (t0 + 90 * DAY + 3 * MIN, 3, 2),
    ] {
        r.round(t).await.expect("round");
        d.round(t).await.expect("dispatch");
        assert_eq!(
            inbox(&app, &r1).await.len(),
            msgs,
            "at +{} min",
            (t - t0) / MIN
        );
        assert_eq!(tasks().await.len(), calls, "at +{} min", (t - t0) / MIN);
    }
    assert_eq!(
        inbox(&app, &r1).await,
        vec!["三个月回访", "三周关怀", "使用体验"]
    );
    let calls = tasks().await;
    assert!(calls.iter().all(|(m, _)| *m == r1), "{calls:?}");
    assert_eq!(calls[0].1, "3天回访：使用体验");
    assert!(inbox(&app, &r2).await.is_empty());
    let rep = report(&app, &id).await;
    assert_eq!(rep["entered"], 2, "{rep}");
    assert_eq!(rep["completed"], 1, "{rep}");
    assert_eq!(step(&rep, "not_first")["exited"], 1, "{rep}");
    assert_eq!(step(&rep, "first")["outcomes"]["yes"], 1, "{rep}");
    // Once ever: r1's next order does not start it again.
    events(&app, json!([{"id": "f3", "type": "order.paid", "member": "r1",
        "occurred_at": millis_to_rfc3339(now_millis()), "properties": {"order_id": "o-f3", "amount": "5"}}]))
        .await;
    app.drain().await;
    assert_eq!(report(&app, &id).await["entered"], 2);
}
both!(follow_up_333_calls_and_writes_after_a_first_purchase);

async fn birthday_enters_on_the_day_from_the_daily_job(app: TestApp) {
    let now = now_millis();
    let today = memberops_loyalty::calendar::local_date(now, app.ws.time_zone);
    let birthday = format!("1990-{}", today.format("%m-%d"));
    let b = member(
        &app,
        "bd",
        json!({"time_zone": "Asia/Shanghai", "birthday": birthday}),
    )
    .await;
    let other = member(&app, "nb", json!({"birthday": "1990-01-01"})).await;
    let tpl = coupon_template(&app, "生日券").await;
    let id = from_template(
        &app,
        "birthday",
        json!({"coupon_template_id": tpl, "channel": "inapp"}),
    )
    .await;
    let cache = IndexCache::new();
    let day =
        |d| memberops_app::journeys::dates::enter_due(app.store.as_ref(), &cache, &app.ws, d, now);
    let first = day(today).await.expect("dates");
    let skip_feb = today.format("%m-%d").to_string() == "01-01";
    if !skip_feb {
        assert_eq!(first.entered, 1, "{first:?}");
    }
    // The job again on the same day enters nobody twice.
    assert_eq!(day(today).await.expect("dates").entered, 0);
    // 10:00 in Shanghai on that day (or later): the coupon and the greeting.
    let r = runner(&app);
    r.round(now + DAY).await.expect("round");
    inbox_dispatcher(&app, open_policy())
        .round(now + DAY)
        .await
        .expect("dispatch");
    assert_eq!(inbox(&app, &b).await, vec!["生日快乐"]);
    assert_eq!(coupons(&app, &b).await, 1);
    if !skip_feb {
        assert!(inbox(&app, &other).await.is_empty());
    }
    let body = app
        .store
        .inbox_page(&app.ws.id, &b, None, 10)
        .await
        .expect("inbox")
        .remove(0)
        .body;
    assert!(body.contains("会员bd，生日快乐！生日券 "), "{body}");
    assert!(
        !body.contains("生日券  已到账"),
        "the coupon code is in: {body}"
    );
    let rep = report(&app, &id).await;
    assert_eq!(step(&rep, "greet")["sent"], 1, "{rep}");
}
both!(birthday_enters_on_the_day_from_the_daily_job);

async fn a_holdout_receives_nothing_and_the_report_compares_groups(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(member(&app, &format!("h{i}"), json!({"time_zone": "UTC"})).await);
    }
    let (s, j) = app
        .post(
            "/v1/journeys",
            json!({"name": "会员日预告", "trigger": {"kind": "event", "event_type": "promo.viewed"},
                "goal": {"event_type": "order.paid", "within_days": 7},
                "experiment": {"variants": [{"name": "a", "percent": 50, "start": "s1"}], "holdout_percent": 50},
                "start": "s1",
                "steps": [{"id": "s1", "type": "send",
                    "message": {"channel": "inapp", "subject": "会员日", "body": "8号会员日，全场双倍积分"}}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{j}");
    let id = j["id"].as_str().expect("id").to_owned();
    activate(&app, &id).await;
    let t0 = now_millis() - 2 * HOUR;
    let evs: Vec<Value> = (0..20)
        .map(|i| {
            json!({"id": format!("v{i}"), "type": "promo.viewed", "member": format!("h{i}"),
            "occurred_at": millis_to_rfc3339(t0), "properties": {}})
        })
        .collect();
    events(&app, Value::Array(evs)).await;
    app.drain().await;
    runner(&app).round(t0).await.expect("round");
    inbox_dispatcher(&app, open_policy())
        .round(t0)
        .await
        .expect("dispatch");
    let (mut held_out, mut reached) = (0, 0);
    let mut orders = Vec::new();
    for (i, m) in ids.iter().enumerate() {
        let e = app
            .store
            .member_enrollments(&app.ws.id, m)
            .await
            .expect("enrollments");
        assert_eq!(e.len(), 1);
        let got = inbox(&app, m).await;
        if e[0].grp == "holdout" {
            assert!(got.is_empty(), "the holdout receives nothing");
            held_out += 1;
        } else {
            assert_eq!(got, vec!["会员日"]);
            reached += 1;
        }
        if i % 2 == 0 {
            orders.push(json!({"id": format!("o{i}"), "type": "order.paid", "member": format!("h{i}"),
                "occurred_at": millis_to_rfc3339(t0 + HOUR), "properties": {"order_id": format!("o{i}"), "amount": "10"}}));
        }
    }
    assert!(held_out > 0 && reached > 0, "{held_out} / {reached}");
    events(&app, Value::Array(orders)).await;
    app.drain().await;
    let rep = report(&app, &id).await;
    assert_eq!(rep["holdout"], held_out, "{rep}");
    let groups = rep["groups"].as_array().expect("groups");
    let g = |n: &str| groups.iter().find(|g| g["group"] == n).expect("group");
    assert_eq!(g("holdout")["members"], held_out);
    assert_eq!(g("a")["members"], reached);
    assert_eq!(
        g("a")["converted"].as_i64().unwrap_or(0) + g("holdout")["converted"].as_i64().unwrap_or(0),
        10
    );
    assert!(g("holdout")["conversion_uplift"].is_null());
    let u = &g("a")["conversion_uplift"];
    let diff = g("a")["conversion_rate"].as_f64().unwrap_or(0.0)
        - g("holdout")["conversion_rate"].as_f64().unwrap_or(0.0);
    assert!(
        (u["diff"].as_f64().unwrap_or(9.0) - diff).abs() < 1e-9,
        "{u}"
    );
    assert!(
        u["ci95_low"].as_f64() <= u["diff"].as_f64()
            && u["diff"].as_f64() <= u["ci95_high"].as_f64()
    );
}
both!(a_holdout_receives_nothing_and_the_report_compares_groups);

async fn segment_entry_and_exit_enter_from_the_daily_job(app: TestApp) {
    let s1 = member(&app, "sg1", json!({"time_zone": "UTC"})).await;
    let s2 = member(&app, "sg2", json!({"time_zone": "UTC"})).await;
    let tag = |add: &[&str], remove: &[&str]| {
        let body = json!({"add": add, "remove": remove});
        let app = &app;
        async move {
            let (s, b) = app.post("/v1/tags/vip/members", body).await;
            assert!(s.is_success(), "{b}");
        }
    };
    tag(&["sg1"], &[]).await;
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "vip", "condition": {"field": "tags", "op": "has_tag", "value": "vip"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seg}");
    let seg = seg["id"].as_str().expect("id").to_owned();
    for (kind, subject) in [("segment_entry", "welcome"), ("segment_exit", "bye")] {
        let (s, j) = app
            .post(
                "/v1/journeys",
                json!({"name": kind, "trigger": {"kind": kind, "segment_id": seg, "at": "00:00"},
                    "start": "s", "steps": [{"id": "s", "type": "send",
                        "message": {"channel": "inapp", "subject": subject, "body": "x"}}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{j}");
        activate(&app, j["id"].as_str().expect("id")).await;
    }
    let now = now_millis();
    let today = memberops_loyalty::calendar::local_date(now, app.ws.time_zone);
    let app = &app;
    let run = |d| async move {
        memberops_app::journeys::dates::enter_due(
            app.store.as_ref(),
            &IndexCache::new(),
            &app.ws,
            d,
            now,
        )
        .await
        .expect("dates")
        .entered
    };
    // The first look is the baseline: sg1 was in already.
    assert_eq!(run(today).await, 0);
    tag(&["sg2"], &["sg1"]).await;
    let next = today.succ_opt().expect("date");
    assert_eq!(run(next).await, 2);
    assert_eq!(run(next).await, 0, "the same day again enters nobody");
    runner(app).round(now + 2 * DAY).await.expect("round");
    inbox_dispatcher(app, open_policy())
        .round(now + 2 * DAY)
        .await
        .expect("dispatch");
    assert_eq!(inbox(app, &s2).await, vec!["welcome"]);
    assert_eq!(inbox(app, &s1).await, vec!["bye"]);
}
both!(segment_entry_and_exit_enter_from_the_daily_job);
