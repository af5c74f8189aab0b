//! Analytics reports through the API and the CLI, on a hand-built shop whose answers are
//! worked out below (docs/analytics.md defines every figure). The workspace's zone is
//! Asia/Shanghai (UTC+8): an order at 17:00 UTC on 31 January is a February order.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn paid(id: &str, member: &str, at: &str, amount: &str) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": format!("o-{id}"), "amount": amount}})
}

fn refund(id: &str, member: &str, order: &str, at: &str) -> Value {
    json!({"id": id, "type": "order.refunded", "member": member, "occurred_at": at,
           "properties": {"order_id": format!("o-{order}")}})
}

/// a: January (100.00), February (50.00), April (30.00).
/// b: 31 Jan 17:00 UTC = 1 Feb in Shanghai (200.00), March (80.00).
/// c: January (60.00); February (40.00), refunded in full the next day.
/// d: January (10.00), refunded in full (no order); March (120.00): a March cohort.
/// e: a check-in in March, no order.
/// f: May, after the as-of date.
async fn shop(app: &TestApp) {
    app.batch(json!([
        paid("a1", "a", "2026-01-10T02:00:00Z", "100.00"),
        paid("a2", "a", "2026-02-15T02:00:00Z", "50.00"),
        paid("a3", "a", "2026-04-01T02:00:00Z", "30.00"),
        paid("b1", "b", "2026-01-31T17:00:00Z", "200.00"),
        paid("b2", "b", "2026-03-05T02:00:00Z", "80.00"),
        paid("c1", "c", "2026-01-20T02:00:00Z", "60.00"),
        paid("c2", "c", "2026-02-20T02:00:00Z", "40.00"),
        paid("d1", "d", "2026-01-05T02:00:00Z", "10.00"),
        paid("d2", "d", "2026-03-10T02:00:00Z", "120.00"),
        {"id": "e1", "type": "checkin", "member": "e", "occurred_at": "2026-03-03T02:00:00Z", "auto_create": true},
        paid("f1", "f", "2026-05-02T02:00:00Z", "10.00"),
    ]))
    .await;
    app.batch(json!([
        refund("c2r", "c", "c2", "2026-02-21T02:00:00Z"),
        refund("d1r", "d", "d1", "2026-01-06T02:00:00Z"),
    ]))
    .await;
}

const FIRST_ORDER_MONTHS: &str = "cohort,period,cohort_size,retained,rate
2026-01,0,2,2,1
2026-01,1,2,1,0.5
2026-01,2,2,0,0
2026-01,3,2,1,0.5
2026-02,0,1,1,1
2026-02,1,1,1,1
2026-02,2,1,0,0
2026-03,0,1,1,1
2026-03,1,1,0,0
";

fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args(args)
        .output()
        .expect("run memberops");
    assert!(
        out.status.success(),
        "memberops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

async fn get_text(app: &TestApp, path: &str) -> String {
    let resp = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("body")
}

async fn cohorts_by_first_order_month(app: TestApp) {
    shop(&app).await;
    let db = app._db.url.clone();
    // January: a and c (d's only January order was refunded in full, so it is no order);
    // February: a again (c's February order was refunded); b's first order is in February
    // in Shanghai; d's first order is in March.
    let csv = cli(&[
        "--db",
        &db,
        "report",
        "cohorts",
        "--by",
        "first_order",
        "--period",
        "month",
        "--as-of",
        "2026-04-30",
        "--format",
        "csv",
    ]);
    assert_eq!(csv, FIRST_ORDER_MONTHS);

    let api_csv = get_text(
        &app,
        "/v1/analytics/cohorts?by=first_order&period=month&as_of=2026-04-30&format=csv",
    )
    .await;
    assert_eq!(api_csv, FIRST_ORDER_MONTHS);

    let (s, b) = app
        .get("/v1/analytics/cohorts?as_of=2026-04-30&limit=4")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["by"].as_str(),
            b["period"].as_str(),
            b["measure"].as_str()
        ),
        (Some("first_order"), Some("month"), Some("ordered"))
    );
    assert_eq!(b["data"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        b["data"][1],
        json!({"cohort": "2026-01", "period": 1, "cohort_size": 2, "retained": 1, "rate": 0.5})
    );
    let cursor = b["next_cursor"].as_str().expect("more pages").to_owned();
    let (_, b2) = app
        .get(&format!(
            "/v1/analytics/cohorts?as_of=2026-04-30&limit=50&cursor={cursor}"
        ))
        .await;
    assert_eq!(b2["data"].as_array().map(Vec::len), Some(5));
    assert_eq!(b2["next_cursor"], Value::Null);

    let json_out: Value = serde_json::from_str(&cli(&[
        "--db",
        &db,
        "report",
        "cohorts",
        "--as-of",
        "2026-04-30",
        "--format",
        "json",
    ]))
    .expect("json");
    assert_eq!(json_out.as_array().map(Vec::len), Some(9));
    assert_eq!(json_out[3]["retained"], 1);

    // A later event reaches the report at once (the aggregates catch up first): b orders
    // again in April.
    app.batch(json!([paid("b3", "b", "2026-04-02T02:00:00Z", "5.00")]))
        .await;
    let csv = cli(&["--db", &db, "report", "cohorts", "--as-of", "2026-04-30"]);
    assert!(csv.contains("2026-02,2,1,1,1\n"), "{csv}");
}
both!(cohorts_by_first_order_month);

async fn cohorts_by_registration_active_again_and_weeks(app: TestApp) {
    shop(&app).await;
    // Registration = first event. January: a, c, d; all active in January; February a, c
    // (c's order and refund are its own events); March d; April a. February: b (active in
    // March). March: e. f joined after the as-of date.
    let (s, b) = app
        .get("/v1/analytics/cohorts?by=registration&measure=active&as_of=2026-04-30&limit=100")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let cells: Vec<(String, i64, i64, i64)> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| {
            (
                r["cohort"].as_str().unwrap_or_default().to_owned(),
                r["period"].as_i64().unwrap_or(-1),
                r["cohort_size"].as_i64().unwrap_or(-1),
                r["retained"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let c = |m: &str, k, n, r| (m.to_owned(), k, n, r);
    assert_eq!(
        cells,
        vec![
            c("2026-01", 0, 3, 3),
            c("2026-01", 1, 3, 2),
            c("2026-01", 2, 3, 1),
            c("2026-01", 3, 3, 1),
            c("2026-02", 0, 1, 1),
            c("2026-02", 1, 1, 1),
            c("2026-02", 2, 1, 0),
            c("2026-03", 0, 1, 1),
            c("2026-03", 1, 1, 0),
        ]
    );
    // ISO weeks: a alone first ordered in week 2 (Saturday 10 Jan) and again in week 7
    // (Sunday 15 Feb); b's first order (Sunday 1 Feb in Shanghai) is in week 5, c's in week 4.
    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "cohorts",
        "--period",
        "week",
        "--as-of",
        "2026-02-15",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "cohort,period,cohort_size,retained,rate");
    assert_eq!(lines[1], "2026-W02,0,1,1,1", "{csv}");
    assert_eq!(lines[6], "2026-W02,5,1,1,1", "{csv}");
    assert_eq!(lines[7], "2026-W04,0,1,1,1", "{csv}");
    assert_eq!(lines[11], "2026-W05,0,1,1,1", "{csv}");
    assert_eq!(lines.len(), 1 + 6 + 4 + 3, "{csv}");

    for bad in [
        "period=quarter",
        "period=day",
        "by=signup",
        "measure=clicked",
        "as_of=2026-13-01",
        "format=xml",
    ] {
        let (s, b) = app.get(&format!("/v1/analytics/cohorts?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
        assert_eq!(b["code"], "validation_failed", "{bad}: {b}");
    }
}
both!(cohorts_by_registration_active_again_and_weeks);

async fn overview_of_march_beside_the_31_days_before(app: TestApp) {
    shop(&app).await;
    let (s, o) = app
        .get("/v1/analytics/overview?from=2026-03-01&to=2026-03-31&interval=month")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let c = &o["current"];
    // Joined (first event, Shanghai days): d 5 Jan, a 10 Jan, c 20 Jan, b 1 Feb, e 3 Mar,
    // f 2 May. Active in March: b, d (orders), e (check-in); b 80.00 + d 120.00.
    let figures = |v: &Value| {
        [
            "members_total",
            "new_members",
            "active_members",
            "paying_members",
            "orders",
            "revenue_minor",
            "aov_minor",
            "arpu_minor",
            "newly_churned",
        ]
        .map(|k| v[k].as_i64().unwrap_or(-1))
    };
    assert_eq!(figures(c), [5, 1, 3, 2, 2, 20_000, 10_000, 6_667, 0], "{c}");
    assert_eq!(c["repurchase_rate"], 0.0);
    assert_eq!(c["churn_rate"], 0.0, "nobody is 180 days inactive");
    assert_eq!(
        (c["mau"].as_i64(), c["mau_orders"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(c["dau"], 0.1, "3 member-days over 31 days");
    // 29 Jan – 28 Feb: b joined; a (50.00), b (200.00, 1 Feb in Shanghai) paid; c's order
    // was refunded in full: active, not paying, and it nets to nothing.
    let p = &o["previous"];
    assert_eq!(
        (p["from"].as_str(), p["to"].as_str()),
        (Some("2026-01-29"), Some("2026-02-28"))
    );
    assert_eq!(figures(p), [4, 1, 3, 2, 2, 25_000, 12_500, 8_333, 0], "{p}");
    assert_eq!(o["series"].as_array().map(Vec::len), Some(1));
    assert_eq!(o["series"][0]["period"], "2026-03");
    assert_eq!(o["series"][0]["revenue_minor"], 20_000);

    let (_, w) = app
        .get("/v1/analytics/overview?from=2026-03-01&to=2026-03-31&interval=week")
        .await;
    let weekly: i64 = w["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|b| b["orders"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(weekly, 2);
    assert_eq!(w["series"][0]["period"], "2026-W09");

    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "overview",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--interval",
        "month",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("scope,period,from,to,members_total,new_members,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("current,,2026-03-01,2026-03-31,5,1,3,2,2,20000,10000,6667,0,0,0,"),
        "{csv}"
    );
    assert!(
        lines[3].starts_with("series,2026-03,2026-03-01,2026-03-31,5,1,3,2,2,20000,"),
        "{csv}"
    );

    for bad in [
        "interval=year",
        "from=2026-04-01&to=2026-03-01",
        "from=2010-01-01&to=2026-03-01&interval=day",
    ] {
        let (s, b) = app.get(&format!("/v1/analytics/overview?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
}
both!(overview_of_march_beside_the_31_days_before);

async fn rebuild_gives_what_the_consumer_kept(app: TestApp) {
    shop(&app).await;
    let db = app._db.url.clone();
    let before = cli(&[
        "--db",
        &db,
        "report",
        "cohorts",
        "--by",
        "registration",
        "--measure",
        "active",
        "--as-of",
        "2026-04-30",
    ]);
    let overview_before = app
        .get("/v1/analytics/overview?from=2026-01-01&to=2026-04-30&interval=week")
        .await
        .1;
    let out: Value =
        serde_json::from_str(&cli(&["--db", &db, "analytics", "rebuild"])).expect("json");
    // Active days: a 3, b 2, c 3 (Jan; Feb order and refund on 20 and 21 Feb), d 3, e 1, f 1.
    assert_eq!(out["active_days"], 13, "{out}");
    // Order days: a 3, b 2, c 2, d 2, f 1.
    assert_eq!(out["order_days"], 10, "{out}");
    let after = cli(&[
        "--db",
        &db,
        "report",
        "cohorts",
        "--by",
        "registration",
        "--measure",
        "active",
        "--as-of",
        "2026-04-30",
    ]);
    assert_eq!(before, after);
    let overview_after = app
        .get("/v1/analytics/overview?from=2026-01-01&to=2026-04-30&interval=week")
        .await
        .1;
    assert_eq!(overview_before, overview_after);
    // The consumer goes on from the head: nothing counted twice.
    app.drain().await;
    app.batch(json!([paid("e2", "e", "2026-04-03T02:00:00Z", "9.00")]))
        .await;
    let (_, o) = app
        .get("/v1/analytics/overview?from=2026-04-01&to=2026-04-30&interval=month")
        .await;
    assert_eq!(o["current"]["orders"], 2, "a and e in April: {o}");
    assert_eq!(o["current"]["revenue_minor"], 3_900);
}
both!(rebuild_gives_what_the_consumer_kept);

fn registered(member: &str, channel: &str, at: &str) -> Value {
    json!({"id": format!("reg-{member}"), "type": "member.registered", "member": member, "occurred_at": at,
           "properties": {"channel": channel}})
}

fn checkin(id: &str, member: &str, at: &str) -> Value {
    json!({"id": id, "type": "checkin", "member": member, "occurred_at": at})
}

async fn channels_new_members_conversion_and_retention(app: TestApp) {
    // ads: r1 (1 Mar, back and ordering 2 Mar), r2 (1 Mar, never back);
    // shop: r3 (5 Mar, back on day 7 and day 30); r0 (shop) joined in February.
    app.batch(json!([
        registered("r0", "shop", "2026-02-01T02:00:00Z"),
        registered("r1", "ads", "2026-03-01T02:00:00Z"),
        registered("r2", "ads", "2026-03-01T03:00:00Z"),
        registered("r3", "shop", "2026-03-05T02:00:00Z"),
        checkin("k1", "r1", "2026-03-02T01:00:00Z"),
        paid("p1", "r1", "2026-03-02T02:00:00Z", "10.00"),
        checkin("k3", "r3", "2026-03-12T02:00:00Z"),
        checkin("k4", "r3", "2026-04-04T02:00:00Z"),
    ]))
    .await;
    let (s, b) = app
        .get("/v1/analytics/channels?from=2026-03-01&to=2026-03-31&as_of=2026-04-15")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["data"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["channel"].as_str()).collect();
    assert_eq!(names, ["ads", "shop", "(all)"]);
    let (ads, shop, all) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        (
            ads["new_members"].as_i64(),
            ads["first_order_members"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(ads["conversion_rate"], 0.5);
    assert_eq!(
        ads["retention"][0],
        json!({"day": 1, "eligible": 2, "retained": 1, "rate": 0.5,
        "recurring_eligible": 3, "recurring_retained": 1, "recurring_rate": 0.333333})
    );
    assert_eq!(shop["retention"][1]["rate"], 1.0, "day 7: 12 Mar");
    assert_eq!(shop["retention"][2]["rate"], 1.0, "day 30: 4 Apr");
    assert_eq!(
        shop["retention"][3]["eligible"], 0,
        "day 90 is after the as-of date"
    );
    // Seed: ads 2 × 0 + shop 1 × 1 = 1 retained on day 30, all from shop.
    assert_eq!(
        (ads["retained_d30"].as_i64(), shop["retained_d30"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        (
            ads["contribution_share"].as_f64(),
            shop["contribution_share"].as_f64()
        ),
        (Some(0.0), Some(1.0))
    );
    assert_eq!(
        (all["new_members"].as_i64(), all["retained_d30"].as_i64()),
        (Some(3), Some(1))
    );

    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "channels",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--as-of",
        "2026-04-15",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "channel,new_members,first_order_members,conversion_rate,d1_rate,d7_rate,d30_rate,d90_rate,d1_recurring_rate,d7_recurring_rate,d30_recurring_rate,d90_recurring_rate,retained_d30,contribution_share,d30_eligible,d30_retained"
    );
    assert_eq!(lines[2], "shop,1,0,0,0,1,1,,0,0.5,0.5,,1,1,1,1", "{csv}");
    let (s, _) = app
        .get("/v1/analytics/channels?from=2026-03-01&to=2026-03-31&as_of=2026-03-30")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
both!(channels_new_members_conversion_and_retention);

async fn repurchase_table_and_second_orders(app: TestApp) {
    shop(&app).await;
    // As of 30 April: a 3 orders (Jan, Feb, Apr), b 2 (1 Feb, 5 Mar), c 1 (its February
    // order was refunded), d 1 (March; January's refunded). f ordered in May.
    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "repurchase",
        "--as-of",
        "2026-04-30",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "orders,members,repurchased,rate",
            "1,4,2,0.5",
            "2,2,1,0.5",
            "3,1,0,0",
            "4,0,0,"
        ]
    );
    let (s, r) = app.get("/v1/analytics/repurchase?as_of=2026-04-30").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Gaps: a 36 days (10 Jan → 15 Feb) and 45 (→ 1 Apr); b 32 (1 Feb → 5 Mar).
    let gaps: Vec<i64> = r["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(|g| g["gaps"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(gaps, [0, 0, 0, 3, 0, 0, 0, 0]);
    assert_eq!(r["median_gap_days"], 36.0);
    assert_eq!(r["second_order"]["repeat_buyers"], 2);
    assert_eq!(r["second_order"]["median_days"], 34.0);
    assert_eq!(r["second_order"]["within_30_days"], 0.0);
    assert_eq!(r["second_order"]["within_60_days"], 0.5);
}
both!(repurchase_table_and_second_orders);

async fn decomposition_of_march_against_february(app: TestApp) {
    shop(&app).await;
    // 29 Jan – 28 Feb: active a, b, c; paying a, b (2 orders, 250.00; c's order refunded).
    // March: active b, d, e; paying b, d (2 orders, 200.00).
    let (s, b) = app
        .get("/v1/analytics/decomposition?from=2026-03-01&to=2026-03-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let all = b["data"]
        .as_array()
        .and_then(|d| d.last())
        .expect("rows")
        .clone();
    assert_eq!(all["channel"], "(all)");
    assert_eq!(all["previous"]["revenue_minor"], 25_000);
    assert_eq!(all["current"]["revenue_minor"], 20_000);
    assert_eq!(all["change_minor"], -5_000);
    assert_eq!(all["previous"]["conversion"], 0.666667);
    assert_eq!(all["current"]["aov_minor"], 10_000.0);
    let k = &all["contributions"];
    let sum: f64 = ["active_members", "conversion", "frequency", "aov"]
        .iter()
        .map(|f| k[*f].as_f64().expect("number"))
        .sum();
    assert!((sum + 5_000.0).abs() < 0.05, "{k}");
    assert_eq!(k["active_members"], 0.0, "3 active members both times");
    assert_eq!(k["conversion"], 0.0, "2 of 3 both times");
    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "decomposition",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ]);
    assert!(
        csv.lines()
            .any(|l| l.starts_with("(all),25000,20000,-5000,3,3,")),
        "{csv}"
    );
}
both!(decomposition_of_march_against_february);
