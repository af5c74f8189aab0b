//! What an operator or the member center does to one member's loyalty by hand: a make-up
//! check-in (补签) paid in points, and an audited growth adjustment that upgrades at once.

use chrono::{Duration, NaiveDate, Utc};
use memberops_store::CheckinRow;
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

/// Stores past check-ins `(days before today, streak)` as if they had been made then.
async fn past_checkins(app: &TestApp, member_id: &str, today: NaiveDate, days: &[(i64, i64)]) {
    let rows: Vec<CheckinRow> = days
        .iter()
        .map(|(back, streak)| CheckinRow {
            member_id: member_id.to_owned(),
            local_date: (today - Duration::days(*back))
                .format("%Y-%m-%d")
                .to_string(),
            at: (Utc::now() - Duration::days(*back)).timestamp_millis(),
            event_id: format!("past-{back}"),
            streak: *streak,
        })
        .collect();
    let mut tx = app.store.begin_write(&app.ws.id).await.expect("tx");
    tx.insert_checkins(&rows).await.expect("checkins");
    tx.commit().await.expect("commit");
}

async fn makeup(
    app: &TestApp,
    member: &str,
    today: NaiveDate,
    back: i64,
    key: &str,
) -> (StatusCode, Value) {
    let date = (today - Duration::days(back))
        .format("%Y-%m-%d")
        .to_string();
    app.post(
        &format!("/v1/members/{member}/checkin:makeup"),
        json!({"date": date, "idempotency_key": key}),
    )
    .await
}

async fn center(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/loyalty")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn a_make_up_check_in_mends_the_streak_and_costs_points(app: TestApp) {
    register(&app, "mu").await;
    let id = app.member("mu").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, b) = app
        .post(
            "/v1/members/mu/points:adjust",
            json!({"points": 100, "idempotency_key": "give", "reason": "test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let balance = b["balance"].as_i64().expect("balance");
    // Today's check-in tells the member's local day.
    let (s, b) = app.post("/v1/members/mu/checkin", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let today =
        NaiveDate::parse_from_str(b["date"].as_str().expect("date"), "%Y-%m-%d").expect("day");
    // Checked in 4 and 3 days ago, missed 2 days ago, checked in yesterday: today's is 2.
    past_checkins(&app, &id, today, &[(4, 1), (3, 2), (1, 1)]).await;
    let mut tx = app.store.begin_write(&app.ws.id).await.expect("tx");
    tx.set_checkin_streaks(&id, &[(today.format("%Y-%m-%d").to_string(), 2)])
        .await
        .expect("streak");
    tx.commit().await.expect("commit");
    assert_eq!(center(&app, "mu").await["checkin"]["streak"], 2);

    let (s, b) = makeup(&app, "mu", today, 2, "mk1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["streak"].as_i64(), b["cost_points"].as_i64()),
        (Some(5), Some(10)),
        "{b}"
    );
    assert_eq!(b["points_balance"].as_i64(), Some(balance - 10));
    assert_eq!(center(&app, "mu").await["checkin"]["streak"], 5);
    // The same key answers the same and spends nothing more.
    let (s, again) = makeup(&app, "mu", today, 2, "mk1").await;
    assert_eq!((s, &again), (StatusCode::OK, &b));
    assert_eq!(
        center(&app, "mu").await["points"]["balance"].as_i64(),
        Some(balance - 10)
    );
    // The spend is on the points ledger with its reason.
    let (_, ledger) = app.get("/v1/members/mu/points/ledger").await;
    assert!(ledger.to_string().contains("补签"), "{ledger}");

    let code = |r: (StatusCode, Value)| (r.0, r.1["code"].as_str().unwrap_or("").to_owned());
    let conflict = |c: &str| (StatusCode::CONFLICT, c.to_owned());
    assert_eq!(
        code(makeup(&app, "mu", today, 2, "mk2").await),
        conflict("already_checked_in")
    );
    assert_eq!(
        code(makeup(&app, "mu", today, 0, "mk3").await),
        conflict("makeup_out_of_range")
    );
    assert_eq!(
        code(makeup(&app, "mu", today, 8, "mk4").await),
        conflict("makeup_out_of_range")
    );
    // A second make-up further back joins the run: 5 days ago + the 4 stored + today.
    let (s, b) = makeup(&app, "mu", today, 5, "mk5").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["streak"].as_i64(), Some(6), "{b}");
    // Two a month by default.
    assert_eq!(
        code(makeup(&app, "mu", today, 6, "mk6").await),
        conflict("makeup_limit_reached")
    );
    let (s, b) = app
        .post(
            "/v1/members/mu/checkin:makeup",
            json!({"date": "yesterday", "idempotency_key": "x"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{b}"
    );
}
both!(a_make_up_check_in_mends_the_streak_and_costs_points);

async fn a_make_up_without_the_points_writes_nothing(app: TestApp) {
    register(&app, "poor").await;
    let id = app.member("poor").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, b) = app.post("/v1/members/poor/checkin", json!({})).await;
    let today =
        NaiveDate::parse_from_str(b["date"].as_str().expect("date"), "%Y-%m-%d").expect("day");
    let balance = center(&app, "poor").await["points"]["balance"]
        .as_i64()
        .expect("balance");
    if balance >= 10 {
        let (s, b) = app
            .post(
                "/v1/members/poor/points:spend",
                json!({"points": balance - 5, "idempotency_key": "drain"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    past_checkins(&app, &id, today, &[(2, 1)]).await;
    let (s, b) = makeup(&app, "poor", today, 1, "p1").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("insufficient_points")),
        "{b}"
    );
    // No made-up day stored: the streak is still today's alone.
    assert_eq!(center(&app, "poor").await["checkin"]["streak"], 1);
}
both!(a_make_up_without_the_points_writes_nothing);

async fn a_growth_adjustment_upgrades_at_once_and_is_audited(app: TestApp) {
    register(&app, "ga").await;
    let adjust = |growth: i64, key: &'static str, reason: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/v1/members/ga/growth:adjust",
                json!({"growth": growth, "idempotency_key": key, "reason": reason}),
            )
            .await
        }
    };
    let (s, b) = adjust(1_900, "g1", "").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{b}"
    );
    // 100 for registering + 1,900 reaches silver (2,000) now.
    let (s, b) = adjust(1_900, "g1", "store opening gift").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["tier"].as_str(), b["upgraded_from"].as_str()),
        (Some("silver"), Some("normal")),
        "{b}"
    );
    assert_eq!(b["growth_total"].as_i64(), Some(2_000));
    assert_eq!(center(&app, "ga").await["tier"]["code"], "silver");
    let (s, again) = adjust(1_900, "g1", "store opening gift").await;
    assert_eq!((s, &again), (StatusCode::OK, &b));
    // The upgrade is an event like any other tier change.
    let (_, events) = app.get("/v1/members/ga/events?type=tier.changed").await;
    let data = events["data"].as_array().expect("events");
    assert_eq!(data.len(), 1, "{events}");
    // Taking growth back does not downgrade (that is the review's), nor below zero.
    let (s, b) = adjust(-500, "g2", "correction").await;
    assert_eq!(
        (s, b["tier"].as_str(), b["growth_total"].as_i64()),
        (StatusCode::OK, Some("silver"), Some(1_500)),
        "{b}"
    );
    let (s, b) = adjust(-5_000, "g3", "too much").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{b}"
    );
    // The growth ledger and the audit trail show who did what and why.
    let (_, ledger) = app.get("/v1/members/ga/growth/ledger").await;
    assert!(ledger.to_string().contains("growth.adjust:g2"), "{ledger}");
    let (_, audit) = app.get("/v1/loyalty/audit").await;
    let adjusts: Vec<&Value> = audit["data"]
        .as_array()
        .expect("audit")
        .iter()
        .filter(|a| a["action"] == "growth.adjust")
        .collect();
    assert_eq!(adjusts.len(), 2, "{audit}");
    assert!(audit.to_string().contains("store opening gift"), "{audit}");
}
both!(a_growth_adjustment_upgrades_at_once_and_is_audited);
