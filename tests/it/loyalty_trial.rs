//! Temporary tiers (体验会员): an operator grants a higher tier for some days; the member holds
//! it, the review leaves them alone, and at the end they return to the tier they earned,
//! counting growth earned meanwhile.

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;
use crate::loyalty::ev;

async fn register(app: &TestApp, member: &str) {
    let at = (Utc::now() - Duration::hours(1)).to_rfc3339();
    app.batch(json!([ev(
        &format!("reg-{member}"),
        "member.registered",
        member,
        &at,
        json!({})
    )]))
    .await;
}

async fn trial(app: &TestApp, member: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/v1/members/{member}/tier:trial"), body)
        .await
}

async fn center(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/loyalty")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn tier_events(app: &TestApp, member: &str) -> Vec<Value> {
    let (_, b) = app
        .get(&format!("/v1/members/{member}/events?type=tier.changed"))
        .await;
    b["data"].as_array().expect("events").clone()
}

async fn end_at(app: &TestApp, at: i64) -> memberops_app::loyalty::trial::TrialEndReport {
    memberops_app::loyalty::trial::end_due(app.store.as_ref(), &app.ws, at)
        .await
        .expect("end trials")
}

fn millis(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .timestamp_millis()
}

async fn a_trial_tier_is_held_for_its_days_then_the_earned_tier_returns(app: TestApp) {
    register(&app, "tv").await;
    let grant =
        json!({"tier": "gold", "days": 7, "reason": "new store VIP week", "idempotency_key": "t1"});
    for (bad, code) in [
        (
            json!({"tier": "gold", "days": 7, "reason": " ", "idempotency_key": "t0"}),
            "validation_failed",
        ),
        (
            json!({"tier": "bronze", "days": 7, "reason": "x", "idempotency_key": "t0"}),
            "validation_failed",
        ),
        (
            json!({"tier": "gold", "days": 0, "reason": "x", "idempotency_key": "t0"}),
            "validation_failed",
        ),
        (
            json!({"tier": "gold", "days": 7, "reason": "x", "idempotency_key": "t0", "extra": 1}),
            "validation_failed",
        ),
    ] {
        let (s, b) = trial(&app, "tv", bad).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{b}"
        );
    }
    let (s, b) = trial(
        &app,
        "tv",
        json!({"tier": "normal", "days": 7, "reason": "x", "idempotency_key": "t0"}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("tier_not_higher")),
        "{b}"
    );

    let (s, granted) = trial(&app, "tv", grant.clone()).await;
    assert_eq!(s, StatusCode::OK, "{granted}");
    assert_eq!(
        (
            granted["tier"].as_str(),
            granted["earned_tier"].as_str(),
            granted["status"].as_str()
        ),
        (Some("gold"), Some("normal"), Some("active"))
    );
    // It ends at local midnight, seven days after today in the member's zone.
    let zone: Tz = app.member("tv").await["time_zone"]
        .as_str()
        .expect("zone")
        .parse()
        .expect("tz");
    let ends = DateTime::parse_from_rfc3339(granted["ends_at"].as_str().expect("ends"))
        .expect("time")
        .with_timezone(&zone);
    let today = Utc::now().with_timezone(&zone).date_naive();
    assert_eq!(
        (ends.date_naive(), ends.hour(), ends.minute()),
        (today + Duration::days(7), 0, 0),
        "{granted}"
    );
    let (s, again) = trial(&app, "tv", grant).await;
    assert_eq!(
        (s, &again),
        (StatusCode::OK, &granted),
        "a replay answers the first result"
    );
    let (s, b) = trial(
        &app,
        "tv",
        json!({"tier": "platinum", "days": 3, "reason": "x", "idempotency_key": "t2"}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("trial_active")),
        "{b}"
    );

    // The member holds gold and its privileges, and the center shows the trial.
    let c = center(&app, "tv").await;
    assert_eq!(c["tier"]["code"], "gold", "{c}");
    assert_eq!(c["trial"]["ends_at"], granted["ends_at"], "{c}");
    let up = tier_events(&app, "tv").await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(
        (
            up[0]["properties"]["from"].as_str(),
            up[0]["properties"]["to"].as_str()
        ),
        (Some("normal"), Some("gold"))
    );
    assert_eq!(up[0]["properties"]["trial"]["status"], "granted");

    // The review leaves a member on trial alone.
    let r = memberops_app::loyalty::jobs::review(
        app.store.as_ref(),
        &app.ws,
        Utc::now().timestamp_millis(),
    )
    .await
    .expect("review");
    assert_eq!(r.reviewed, 0, "{r:?}");

    // Growth earned meanwhile reaches silver (100 for registering + 1,900), under gold.
    let (s, b) = app
        .post(
            "/v1/members/tv/growth:adjust",
            json!({"growth": 1_900, "idempotency_key": "g", "reason": "event"}),
        )
        .await;
    assert_eq!(
        (s, b["tier"].as_str()),
        (StatusCode::OK, Some("gold")),
        "{b}"
    );

    // Before its end nothing happens; at its end the member is silver, not normal.
    let ends_ms = millis(granted["ends_at"].as_str().expect("ends"));
    assert_eq!(end_at(&app, ends_ms - 1).await.returned, 0);
    let report = end_at(&app, ends_ms).await;
    assert_eq!(
        (report.returned, report.earned, report.superseded),
        (1, 0, 0)
    );
    let c = center(&app, "tv").await;
    assert_eq!(c["tier"]["code"], "silver", "{c}");
    assert!(c["trial"].is_null(), "{c}");
    let changes = tier_events(&app, "tv").await;
    let back = changes
        .iter()
        .find(|e| e["properties"]["trial"]["status"] == "returned")
        .unwrap_or_else(|| panic!("no return event: {changes:?}"));
    assert_eq!(
        (
            back["properties"]["from"].as_str(),
            back["properties"]["to"].as_str()
        ),
        (Some("gold"), Some("silver"))
    );
    assert_eq!(back["properties"]["kind"], "downgrade");
    // Ending again finds nothing; the audit shows the grant and the return.
    assert_eq!(end_at(&app, ends_ms + 1).await, Default::default());
    let (_, audit) = app.get("/v1/loyalty/audit").await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .filter(|a| a.starts_with("tier.trial"))
        .collect();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(audit.to_string().contains("new store VIP week"), "{audit}");
    // Afterwards a new trial may be granted.
    let (s, b) = trial(
        &app,
        "tv",
        json!({"tier": "gold", "days": 1, "reason": "again", "idempotency_key": "t3"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}
both!(a_trial_tier_is_held_for_its_days_then_the_earned_tier_returns);

async fn a_tier_earned_during_the_trial_is_kept(app: TestApp) {
    register(&app, "te").await;
    register(&app, "ts").await;
    let (s, a) = trial(
        &app,
        "te",
        json!({"tier": "silver", "days": 30, "reason": "try", "idempotency_key": "e1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let (s, b) = trial(
        &app,
        "ts",
        json!({"tier": "silver", "days": 30, "reason": "try", "idempotency_key": "s1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // `te` reaches silver on their own; `ts` goes past it to gold and beyond.
    let (s, r) = app
        .post(
            "/v1/members/te/growth:adjust",
            json!({"growth": 1_900, "idempotency_key": "ge", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (s, r["tier"].as_str()),
        (StatusCode::OK, Some("silver")),
        "{r}"
    );
    let (s, r) = app
        .post(
            "/v1/members/ts/growth:adjust",
            json!({"growth": 24_900, "idempotency_key": "gs", "reason": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let past = r["tier"].as_str().expect("tier").to_owned();
    assert_ne!(past, "silver", "{r}");
    let report = end_at(&app, millis(a["ends_at"].as_str().expect("ends"))).await;
    assert_eq!(
        (report.returned, report.earned, report.superseded),
        (0, 1, 1)
    );
    assert_eq!(center(&app, "te").await["tier"]["code"], "silver");
    assert_eq!(center(&app, "ts").await["tier"]["code"], past.as_str());
    // Neither end changed a tier, so neither wrote a tier change.
    for m in ["te", "ts"] {
        let ends: Vec<Value> = tier_events(&app, m)
            .await
            .into_iter()
            .filter(|e| e["properties"]["trial"]["status"] == "returned")
            .collect();
        assert!(ends.is_empty(), "{m}: {ends:?}");
    }
}
both!(a_tier_earned_during_the_trial_is_kept);

/// An earning rule grants the trial: 7 days of gold for an order of ¥1,000 or more, once per
/// member (a lifetime cap of 1).
async fn an_earning_rule_grants_a_trial_once(app: TestApp) {
    let (_, mut p) = app.get("/v1/loyalty/program").await;
    let mut bad = p.clone();
    bad["rules"]
        .as_array_mut()
        .expect("rules")
        .push(json!({"id": "vip_week", "event_type": "order.paid",
        "reward": {"trial_tier": {"tier": "bronze", "days": 400}}}));
    let (s, b) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let codes: Vec<&str> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"unknown_tier") && codes.contains(&"out_of_range"),
        "{b}"
    );
    p["rules"].as_array_mut().expect("rules").push(
        json!({"id": "vip_week", "event_type": "order.paid",
        "conditions": {"min_amount_minor": 100_000}, "caps": {"lifetime_count": 1},
        "reward": {"trial_tier": {"tier": "gold", "days": 7}}}),
    );
    let (s, b) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(p))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    register(&app, "rv").await;
    let now = Utc::now() - Duration::minutes(5);
    let order = |id: &str, amount: &str| {
        json!({"id": id, "type": "order.paid", "member": "rv", "occurred_at": now.to_rfc3339(),
               "properties": {"order_id": id, "amount": amount, "currency": "CNY"}})
    };
    app.batch(json!([order("small", "99.00")])).await;
    assert_eq!(center(&app, "rv").await["tier"]["code"], "normal");
    app.batch(json!([order("big", "1200.00")])).await;
    let c = center(&app, "rv").await;
    assert_eq!(c["tier"]["code"], "gold", "{c}");
    assert_eq!(c["trial"]["tier"], "gold", "{c}");
    // The trial ends; a second big order grants nothing more (the cap).
    let ends = millis(c["trial"]["ends_at"].as_str().expect("ends"));
    assert_eq!(end_at(&app, ends).await.returned, 1);
    app.batch(json!([order("big2", "1500.00")])).await;
    let c = center(&app, "rv").await;
    assert_ne!(c["tier"]["code"], "gold", "{c}");
    assert!(c["trial"].is_null(), "{c}");
    let granted = tier_events(&app, "rv")
        .await
        .into_iter()
        .filter(|e| e["properties"]["trial"]["status"] == "granted")
        .count();
    assert_eq!(granted, 1);
}
both!(an_earning_rule_grants_a_trial_once);
