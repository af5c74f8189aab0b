//! Loyalty edge cases on both databases: a late (backdated) order that crosses a tier
//! threshold upgrades at once, and a refund's reversal is recorded with its ledger lines or
//! not at all.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Db, TestApp};
use crate::loyalty::{ev, paid};

fn ago(d: Duration) -> String {
    (Utc::now() - d).to_rfc3339()
}

async fn center(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/loyalty")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// Runs one statement on the test's database, beside the server.
async fn exec_sql(app: &TestApp, sql: &'static str) {
    match app.backend {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app._db.url))
                .await
                .expect("sqlite");
            sqlx::query(sql).execute(&pool).await.expect("sql");
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&app._db.url).await.expect("postgres");
            sqlx::query(sql).execute(&pool).await.expect("sql");
            pool.close().await;
        }
    }
}

async fn a_late_order_that_crosses_a_threshold_upgrades_at_once(app: TestApp) {
    // Registered two hours ago (100 growth), 1,000.00 paid yesterday: 1,100 growth.
    app.batch(json!([
        ev(
            "reg",
            "member.registered",
            "late",
            &ago(Duration::hours(2)),
            json!({})
        ),
        paid("p1", "late", "o1", "1000.00", &ago(Duration::days(1))),
    ]))
    .await;
    assert_eq!(center(&app, "late").await["tier"]["code"], "normal");
    // A POS order from five days ago (before registration) arrives now: 2,000 growth.
    let r = app
        .batch(json!([paid(
            "p0",
            "late",
            "o0",
            "900.00",
            &ago(Duration::days(5))
        )]))
        .await;
    assert_eq!(r["accepted"], 1, "{r}");
    let c = center(&app, "late").await;
    assert_eq!(c["growth"]["total"], 2_000, "{c}");
    assert_eq!(c["tier"]["code"], "silver", "{c}");
    assert_eq!(c["next_tier"]["code"], "gold", "{c}");
    assert_eq!(c["growth_needed"], 10_000 - 2_000, "{c}");
    let (_, evs) = app.get("/v1/members/late/events?limit=100").await;
    let ups: Vec<&Value> = evs["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "tier.changed")
        .collect();
    assert_eq!(ups.len(), 1, "{evs}");
    assert_eq!(ups[0]["properties"]["to"], "silver");

    // The same late order sent in one batch with the rest upgrades too.
    app.batch(json!([
        ev(
            "reg2",
            "member.registered",
            "late2",
            &ago(Duration::hours(2)),
            json!({})
        ),
        paid("q1", "late2", "r1", "1000.00", &ago(Duration::days(1))),
        paid("q0", "late2", "r0", "900.00", &ago(Duration::days(5))),
    ]))
    .await;
    assert_eq!(center(&app, "late2").await["tier"]["code"], "silver");
}
both!(a_late_order_that_crosses_a_threshold_upgrades_at_once);

async fn reverse_lines(app: &TestApp, member: &str) -> Vec<i64> {
    let (s, b) = app
        .get(&format!("/v1/members/{member}/points/ledger?limit=1000"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|l| l["kind"] == "reverse")
        .map(|l| l["points"].as_i64().expect("points"))
        .collect()
}

async fn a_reversal_that_cannot_be_booked_is_not_recorded(app: TestApp) {
    app.batch(json!([
        ev(
            "reg",
            "member.registered",
            "r",
            &ago(Duration::days(3)),
            json!({})
        ),
        paid("p1", "r", "o1", "100.00", &ago(Duration::days(2))),
    ]))
    .await;
    assert_eq!(center(&app, "r").await["points"]["balance"], 100);
    // A balance at the bottom of the range: taking 100 points back would wrap around.
    exec_sql(
        &app,
        "UPDATE loyalty_members SET points_balance = -9223372036854775800",
    )
    .await;
    let refund = json!({"events": [ev("f1", "order.refunded", "r", &ago(Duration::days(1)),
        json!({"order_id": "o1"}))]});
    let (s, b) = app.post("/v1/events:batch", refund.clone()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("balance_overflow")),
        "{b}"
    );
    // Nothing of the refund was kept: no reversal line, no refund event.
    assert_eq!(reverse_lines(&app, "r").await, Vec::<i64>::new());
    let (_, evs) = app.get("/v1/members/r/events?limit=100").await;
    assert!(
        !evs["data"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["type"] == "order.refunded"),
        "{evs}"
    );
    // Once the balance is sane, the same refund reverses the points with their line.
    exec_sql(&app, "UPDATE loyalty_members SET points_balance = 100").await;
    let (s, b) = app.post("/v1/events:batch", refund).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["accepted"], 1, "{b}");
    assert_eq!(reverse_lines(&app, "r").await, vec![-100]);
    assert_eq!(center(&app, "r").await["points"]["balance"], 0);
}
both!(a_reversal_that_cannot_be_booked_is_not_recorded);
