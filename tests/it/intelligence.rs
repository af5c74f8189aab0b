//! Member-intelligence settings through the API: defaults at version 0, saving versions
//! (a repeated PUT saves nothing), 422s that name the field and write nothing, and the
//! saved rules reaching the report, the recompute, the event hook and churn warnings.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

const SETTINGS: &str = "/v1/intelligence/settings";

async fn put(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, SETTINGS, Some(body)).await
}

async fn saved(app: &TestApp, body: Value) -> Value {
    let (s, b) = put(app, body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn versions(app: &TestApp) -> Vec<i64> {
    let (s, b) = app.get(&format!("{SETTINGS}/versions")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect()
}

fn paid(id: &str, member: &str, amount: &str, at: &str) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": format!("o-{id}"), "amount": amount}})
}

fn reg(member: &str, at: &str) -> Value {
    json!({"id": format!("reg-{member}"), "type": "member.registered", "member": member, "occurred_at": at,
           "properties": {"time_zone": "UTC"}})
}

async fn report_stage(app: &TestApp, member: &str, as_of: &str) -> Value {
    let (s, b) = app
        .get(&format!("/v1/members/{member}/rfm?as_of={as_of}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["lifecycle_stage"].clone()
}

async fn stored_stage(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/intelligence")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["stage"].clone()
}

async fn settings_are_versioned_and_put_is_idempotent(app: TestApp) {
    let (s, d) = app.get(SETTINGS).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["version"], 0);
    assert_eq!(d["created_at"], Value::Null);
    assert_eq!(d["settings"]["lifecycle"]["silent_after_days"], 60);
    assert_eq!(d["settings"]["lifecycle"]["churned_after_days"], 180);
    assert_eq!(d["settings"]["value"]["vip_bp"], 500);
    assert_eq!(d["settings"]["rfm"]["scoring"]["kind"], "quintiles");
    assert_eq!(d["settings"]["churn"]["factor"], 2.0);
    assert!(versions(&app).await.is_empty());

    // The defaults themselves change nothing: no version is written.
    let same = saved(&app, d["settings"].clone()).await;
    assert_eq!(same["version"], 0);
    assert!(versions(&app).await.is_empty());

    let v1 = saved(&app, json!({"lifecycle": {"silent_after_days": 30}})).await;
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["settings"]["lifecycle"]["silent_after_days"], 30);
    // Left out: the seed default.
    assert_eq!(v1["settings"]["lifecycle"]["churned_after_days"], 180);
    assert!(
        v1["created_by"].as_str().is_some_and(|k| !k.is_empty()),
        "{v1}"
    );
    assert!(v1["created_at"].as_str().is_some(), "{v1}");

    // The same body again, or the same rules spelled out in full: still version 1.
    let again = saved(&app, json!({"lifecycle": {"silent_after_days": 30}})).await;
    assert_eq!(again["version"], 1);
    let full = saved(&app, v1["settings"].clone()).await;
    assert_eq!(full["version"], 1);
    assert_eq!(versions(&app).await, vec![1]);

    let v2 = saved(
        &app,
        json!({"lifecycle": {"silent_after_days": 45}, "churn": {"factor": 3}}),
    )
    .await;
    assert_eq!(v2["version"], 2);
    assert_eq!(versions(&app).await, vec![2, 1]);
    let (_, now) = app.get(SETTINGS).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["settings"]["lifecycle"]["silent_after_days"], 45);
    assert_eq!(now["settings"]["churn"]["factor"], 3.0);
    // Older versions stay readable as they were.
    let (_, list) = app.get(&format!("{SETTINGS}/versions")).await;
    assert_eq!(
        list["data"][1]["settings"]["lifecycle"]["silent_after_days"],
        30
    );
    assert_eq!(list["data"][1]["settings"]["churn"]["factor"], 2.0);

    // Back to the defaults is a change like any other.
    let v3 = saved(&app, json!({})).await;
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["settings"], d["settings"]);
}
both!(settings_are_versioned_and_put_is_idempotent);

async fn invalid_settings_are_422_naming_the_field(app: TestApp) {
    saved(&app, json!({"lifecycle": {"silent_after_days": 30}})).await;
    let cases = [
        (
            json!({"lifecycle": {"silent_after_days": 90, "churned_after_days": 90}}),
            vec!["lifecycle", "churned_after_days"],
            "invalid_config",
        ),
        (
            json!({"lifecycle": {"silent_after_days": 0}}),
            vec!["lifecycle", "silent_after_days"],
            "invalid_config",
        ),
        (
            json!({"lifecycle": {"silent_after_days": "thirty"}}),
            vec!["lifecycle", "silent_after_days"],
            "invalid_config",
        ),
        (
            json!({"lifecycle": {"mature_orders_over": -1}}),
            vec!["lifecycle", "mature_orders_over"],
            "invalid_config",
        ),
        (
            json!({"rfm": {"scoring": {"kind": "thresholds", "r": [30, 7, 90, 180], "f": [2, 3, 5, 10], "m": [1, 2, 3, 4]}}}),
            vec!["rfm", "scoring", "r"],
            "invalid_config",
        ),
        (
            json!({"rfm": {"scoring": {"kind": "thresholds", "r": [7, 30, 90, 180], "f": [0, 3, 5, 10], "m": [1, 2, 3, 4]}}}),
            vec!["rfm", "scoring", "f"],
            "invalid_config",
        ),
        (
            json!({"value": {"vip_bp": 2000, "large_bp": 4000, "medium_bp": 5000}}),
            vec!["value", "medium_bp"],
            "invalid_config",
        ),
        (
            json!({"value": {"vip_bp": 0}}),
            vec!["value", "vip_bp"],
            "invalid_config",
        ),
        (
            json!({"churn": {"factor": 0.5}}),
            vec!["churn", "factor"],
            "invalid_config",
        ),
        (
            json!({"lifecycle": {"silent_afer_days": 30}}),
            vec!["lifecycle", "silent_afer_days"],
            "unknown_setting",
        ),
        (json!({"stages": {}}), vec!["stages"], "unknown_setting"),
    ];
    for (body, loc, code) in cases {
        let (s, b) = put(&app, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(b["code"], "validation_failed", "{b}");
        assert_eq!(b["errors"][0]["loc"], json!(loc), "{body}: {b}");
        assert_eq!(b["errors"][0]["type"], code, "{body}: {b}");
    }
    // Several problems at once are all reported.
    let (s, b) = put(
        &app,
        json!({"lifecycle": {"silent_after_days": 0}, "churn": {"min_recency_days": -1}}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let locs: Vec<&Value> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![
            &json!(["lifecycle", "silent_after_days"]),
            &json!(["churn", "min_recency_days"])
        ]
    );
    // Nothing was written by any of them.
    assert_eq!(versions(&app).await, vec![1]);
    let (_, now) = app.get(SETTINGS).await;
    assert_eq!(now["settings"]["lifecycle"]["silent_after_days"], 30);
}
both!(invalid_settings_are_422_naming_the_field);

async fn saved_rules_drive_report_recompute_and_events(app: TestApp) {
    // Last seen 2026-01-10; on 2026-02-19 inactive for 40 days.
    app.batch(json!([
        reg("q", "2026-01-01T00:00:00Z"),
        paid("q1", "q", "10", "2026-01-10T10:00:00Z"),
    ]))
    .await;
    let day = "2026-02-19";
    assert_eq!(report_stage(&app, "q", day).await, "growing");
    let s = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s.0, StatusCode::OK, "{}", s.1);
    assert_eq!(stored_stage(&app, "q").await, "growing");

    saved(&app, json!({"lifecycle": {"silent_after_days": 30}})).await;
    // Reports use the new rules at once; stored stages at the next recompute.
    assert_eq!(report_stage(&app, "q", day).await, "silent");
    let (s, report) = app.get(&format!("/v1/reports/rfm?as_of={day}")).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["data"][0]["lifecycle_stage"], "silent");
    assert_eq!(stored_stage(&app, "q").await, "growing");
    let (s, r) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["transitions"], 1, "{r}");
    assert_eq!(r["stages"]["silent"], 1, "{r}");
    assert_eq!(stored_stage(&app, "q").await, "silent");
    // 29 days is not yet silent under the same rules.
    assert_eq!(report_stage(&app, "q", "2026-02-08").await, "growing");

    // The event hook (which keeps the rules in memory): a fresh first order is "growing"
    // under these rules, "mature" right after a PUT that says one order is enough.
    let now = chrono::Utc::now().to_rfc3339();
    app.batch(json!([paid("a1", "a", "10", &now)])).await;
    assert_eq!(stored_stage(&app, "a").await, "growing");
    saved(
        &app,
        json!({"lifecycle": {"silent_after_days": 30, "mature_orders_over": 0}}),
    )
    .await;
    app.batch(json!([paid("b1", "b", "10", &now)])).await;
    assert_eq!(stored_stage(&app, "b").await, "mature");
}
both!(saved_rules_drive_report_recompute_and_events);

async fn churn_factor_comes_from_the_settings(app: TestApp) {
    // Order days 2026-01-01 and 2026-01-11 (typical gap 10); on 2026-02-05, 25 days since.
    app.batch(json!([
        paid("c1", "c", "100", "2026-01-01T10:00:00Z"),
        paid("c2", "c", "100", "2026-01-11T10:00:00Z"),
    ]))
    .await;
    let warned = |q: &'static str| {
        let app = &app;
        async move {
            let (s, b) = app
                .get(&format!("/v1/churn-warnings?as_of=2026-02-05{q}"))
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            b["total"].as_i64().expect("total")
        }
    };
    // Seed factor 2: 25 > 20, overdue.
    assert_eq!(warned("").await, 1);
    saved(&app, json!({"churn": {"factor": 3}})).await;
    // 25 < 30: not overdue; the query parameter still overrides the saved factor.
    assert_eq!(warned("").await, 0);
    assert_eq!(warned("&factor=2").await, 1);
}
both!(churn_factor_comes_from_the_settings);

async fn recompute_stores_what_the_report_says(app: TestApp) {
    app.batch(json!([
        reg("a", "2026-01-01T00:00:00Z"),
        reg("b", "2026-01-01T00:00:00Z"),
        reg("c", "2026-01-01T00:00:00Z"),
        reg("n", "2026-01-01T00:00:00Z"),
        paid("a1", "a", "100", "2026-01-10T09:00:00Z"),
        paid("a2", "a", "50", "2026-02-20T10:00:00Z"),
        paid("a3", "a", "400", "2026-02-25T10:00:00Z"),
        paid("b1", "b", "10", "2026-01-05T10:00:00Z"),
        paid("c1", "c", "30", "2026-02-05T10:00:00Z"),
    ]))
    .await;
    let day = "2026-03-01";
    let check = |expect_value: [&'static str; 4]| {
        let app = &app;
        async move {
            let (_, report) = app.get(&format!("/v1/reports/rfm?as_of={day}")).await;
            for (row, value) in report["data"]
                .as_array()
                .expect("rows")
                .iter()
                .zip(expect_value)
            {
                let id = row["member_id"].as_str().expect("id");
                let (s, g) = app.get(&format!("/v1/members/{id}/intelligence")).await;
                assert_eq!(s, StatusCode::OK, "{g}");
                for (stored, reported) in [
                    ("r_score", "r_score"),
                    ("f_score", "f_score"),
                    ("m_score", "m_score"),
                    ("rfm_class", "rfm_class"),
                    ("stage", "lifecycle_stage"),
                ] {
                    assert_eq!(g[stored], row[reported], "{id} {stored}: {g} vs {row}");
                }
                assert_eq!(g["value_class"], value, "{id}: {g}");
                assert_eq!(g["scored_on"], day, "{id}: {g}");
            }
        }
    };
    let (s, first) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["members"], 4, "{first}");
    // Of 3 customers, a spends most (none above: VIP), c has one above (33%: medium), b
    // two (67%: small); n never bought and was last seen 59 days ago (engagement 10: D).
    check(["vip", "small", "medium", "prospect_d"]).await;
    assert_eq!(
        first["stages"],
        json!({"mature": 1, "growing": 2, "new": 1}),
        "{first}"
    );

    // New cut points change scores but no stage: rows are rewritten, no transition.
    saved(
        &app,
        json!({"rfm": {"scoring": {"kind": "thresholds", "r": [3, 10, 30, 60], "f": [1, 2, 3, 5], "m": [1000, 5000, 20000, 50000]}},
               "value": {"vip_bp": 1, "large_bp": 1, "medium_bp": 1}}),
    )
    .await;
    let (s, second) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s, StatusCode::OK, "{second}");
    assert_eq!(second["transitions"], 0, "{second}");
    assert_eq!(second["updated"], 3, "{second}");
    check(["vip", "small", "small", "prospect_d"]).await;
    let (_, a) = app.get("/v1/members/a/intelligence").await;
    // 4 days since the last order (≤ 10: 4), 3 orders (≥ 1, 2, 3: 4), 550.00 (≥ 500: 5).
    assert_eq!(
        (&a["r_score"], &a["f_score"], &a["m_score"]),
        (&json!(4), &json!(4), &json!(5))
    );
    // Nothing left to change.
    let (_, third) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(third["updated"], 0, "{third}");
}
both!(recompute_stores_what_the_report_says);

async fn lifecycle_events(app: &TestApp, member: &str) -> Vec<(String, String)> {
    let (s, b) = app
        .get(&format!("/v1/members/{member}/events?limit=100"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "lifecycle.changed")
        .map(|e| {
            (
                e["properties"]["from"].as_str().unwrap_or("").to_owned(),
                e["properties"]["to"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn every_stage_move_on_one_day_is_recorded(app: TestApp) {
    app.batch(json!([
        reg("q", "2026-01-01T00:00:00Z"),
        paid("q1", "q", "10", "2026-01-10T10:00:00Z"),
    ]))
    .await;
    let day = "2026-02-19";
    let recompute = || async {
        let (s, r) = app
            .post("/v1/lifecycle:recompute", json!({"as_of": day}))
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        r
    };
    recompute().await;
    assert_eq!(stored_stage(&app, "q").await, "growing");
    // Settings saved three times on one day, each followed by a recompute: growing →
    // silent → growing → silent. Every move is a transition and an event.
    for (silent_after, stage) in [(30, "silent"), (60, "growing"), (30, "silent")] {
        saved(
            &app,
            json!({"lifecycle": {"silent_after_days": silent_after}}),
        )
        .await;
        let r = recompute().await;
        assert_eq!(r["transitions"], 1, "{stage}: {r}");
        assert_eq!(stored_stage(&app, "q").await, stage);
    }
    let mut moves = lifecycle_events(&app, "q").await;
    moves.sort();
    assert_eq!(
        moves,
        vec![
            // The first recompute: churned as the events landed (today), growing on `day`.
            ("churned".to_owned(), "growing".to_owned()),
            ("growing".to_owned(), "silent".to_owned()),
            ("growing".to_owned(), "silent".to_owned()),
            ("silent".to_owned(), "growing".to_owned()),
        ]
    );
    let (s, flow) = app
        .get(&format!("/v1/lifecycle/flow?from={day}&to={day}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{flow}");
    let total: i64 = flow["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["members"].as_i64()).sum())
        .unwrap_or(-1);
    assert_eq!(total, 4, "{flow}");
    // A rerun for the same date changes nothing and records nothing.
    assert_eq!(recompute().await["transitions"], 0);
}
both!(every_stage_move_on_one_day_is_recorded);
