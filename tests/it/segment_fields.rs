//! Segment fields beyond the profile and order aggregates (issue 25, items 3 and 11): the
//! loyalty account (tier, points balance, points expiring, stored value), first order date,
//! income band, consent per channel, what members bought, and saved segments edited with
//! their versions kept. Every condition is asked of the index and of SQL, which must agree.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

/// The members (external ids, sorted) matching `cond`, asserting both engines agree.
async fn who(app: &TestApp, cond: Value) -> Vec<String> {
    let mut seen: Option<Vec<String>> = None;
    for engine in ["index", "sql"] {
        let (s, b) = app
            .post(
                "/v1/segments:preview",
                json!({"condition": cond, "sample": 100, "engine": engine}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{engine} {cond}: {b}");
        let mut ids: Vec<String> = b["sample"]
            .as_array()
            .expect("sample")
            .iter()
            .map(|m| m["external_id"].as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        assert_eq!(b["count"], json!(ids.len()), "{engine} {cond}: {b}");
        if let Some(prev) = &seen {
            assert_eq!(prev, &ids, "index and sql differ on {cond}");
        }
        seen = Some(ids);
    }
    seen.unwrap_or_default()
}

fn reg(member: &str, profile: Value) -> Value {
    let mut p = profile;
    p["time_zone"] = json!("UTC");
    json!({"id": format!("reg-{member}"), "type": "member.registered", "member": member, "properties": p})
}

fn order(id: &str, member: &str, at: Option<String>, props: Value) -> Value {
    let mut e = json!({"id": id, "type": "order.paid", "member": member, "properties": props});
    if let Some(at) = at {
        e["occurred_at"] = json!(at);
    }
    e
}

fn days_ago(n: i64) -> String {
    (Utc::now() - Duration::days(n)).to_rfc3339()
}

async fn loyalty(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/loyalty")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn segments_see_loyalty(app: TestApp) {
    let now = Utc::now();
    let last_year = now.year() - 1;
    app.batch(json!([
        reg("a", json!({})),
        reg("b", json!({})),
        reg("c", json!({})),
        reg("d", json!({})),
        // 3,000 growth at once: silver.
        order(
            "pa",
            "a",
            None,
            json!({"order_id": "oa", "amount": "3000.00"})
        ),
        // Points earned last year end when next year begins (年底清零 of the year after).
        order(
            "pb",
            "b",
            Some(format!("{last_year}-07-01T00:00:00Z")),
            json!({"order_id": "ob", "amount": "50.00"}),
        ),
    ]))
    .await;
    // The index is loaded now; what follows changes balances without any event, and the
    // index must still see it.
    assert_eq!(
        who(
            &app,
            json!({"field": "stored_value_minor", "op": "gt", "value": 0})
        )
        .await,
        Vec::<String>::new()
    );
    let (s, b) = app
        .post(
            "/v1/members/c/stored-value:top-up",
            json!({"amount_minor": 10000, "idempotency_key": "top-c"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "/v1/members/d/points:adjust",
            json!({"points": 7, "idempotency_key": "adj-d", "reason": "goodwill"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    assert_eq!(loyalty(&app, "a").await["tier"]["code"], "silver");
    assert_eq!(
        who(
            &app,
            json!({"field": "tier", "op": "in", "value": ["silver", "gold"]})
        )
        .await,
        ["a"]
    );
    // Members on the first tier, with an account or without one yet.
    assert_eq!(
        who(
            &app,
            json!({"field": "tier", "op": "eq", "value": "normal"})
        )
        .await,
        ["b", "c", "d"]
    );
    assert_eq!(
        who(
            &app,
            json!({"field": "stored_value_minor", "op": "eq", "value": 10000})
        )
        .await,
        ["c"]
    );
    // Points balances as the member centre shows them.
    let mut with_points = Vec::new();
    for m in ["a", "b", "c", "d"] {
        let l = loyalty(&app, m).await;
        if l["points"]["balance"].as_i64().expect("balance") > 0 {
            with_points.push(m.to_owned());
        }
    }
    assert!(with_points.contains(&"d".to_owned()), "{with_points:?}");
    assert_eq!(
        who(
            &app,
            json!({"field": "points_balance", "op": "gt", "value": 0})
        )
        .await,
        with_points
    );
    let d_points = loyalty(&app, "d").await["points"]["balance"].clone();
    assert_eq!(
        who(
            &app,
            json!({"all": [
                {"field": "points_balance", "op": "eq", "value": d_points},
                {"field": "tier", "op": "eq", "value": "normal"}
            ]})
        )
        .await,
        ["d"]
    );

    // b's 50 points end on 1 January next year; everything else earned this year a year
    // later.
    let jan1 = NaiveDate::from_ymd_opt(now.year() + 1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("date")
        .and_utc();
    let n = (jan1 - now).num_seconds().div_euclid(86_400) + 1;
    let expiring = |op: &str, v: i64| json!({"field": "points_expiring", "within_next_days": n, "op": op, "value": v});
    assert_eq!(who(&app, expiring("gte", 50)).await, ["b"]);
    assert_eq!(who(&app, expiring("gt", 50)).await, Vec::<String>::new());
    assert_eq!(who(&app, expiring("eq", 0)).await, ["a", "c", "d"]);
}
both!(segments_see_loyalty);

async fn segments_on_purchases_first_orders_consent_and_income(app: TestApp) {
    app.batch(json!([
        reg(
            "p1",
            json!({"income_band": "10k-20k", "consent": {"sms": true, "email": false}})
        ),
        reg("p2", json!({"consent": {"sms": false}})),
        reg("p3", json!({})),
        reg("p4", json!({})),
        order(
            "o1",
            "p1",
            Some(days_ago(2)),
            json!({"order_id": "o1", "amount": "99.00",
                   "lines": [{"sku": "SKU-1", "category": "母婴用品", "quantity": 2}]}),
        ),
        // Segment's Order Completed keeps `products`.
        order(
            "o2",
            "p2",
            Some(days_ago(40)),
            json!({"order_id": "o2", "amount": "20.00",
                   "products": [{"product_id": "p", "sku": "SKU-2", "category": "toys"}]}),
        ),
        // A one-product order, then refunded in full: not an order any more.
        order(
            "o3",
            "p3",
            Some(days_ago(1)),
            json!({"order_id": "o3", "amount": "10.00", "category": "母婴用品"}),
        ),
        {"id": "r3", "type": "order.refunded", "member": "p3", "properties": {"order_id": "o3"}},
        // The loyalty rules' `categories`.
        order(
            "o4",
            "p4",
            Some(days_ago(5)),
            json!({"order_id": "o4", "amount": "10.00", "categories": ["shoes", "bags"]}),
        ),
    ]))
    .await;

    let bought = |key: &str, v: Value| json!({"purchased": {key: v}});
    assert_eq!(
        who(&app, bought("category", json!("母婴用品"))).await,
        ["p1"]
    );
    assert_eq!(
        who(&app, bought("sku", json!(["SKU-1", "SKU-2"]))).await,
        ["p1", "p2"]
    );
    assert_eq!(who(&app, bought("category", json!("bags"))).await, ["p4"]);
    let within = |days: u32, v: &str| json!({"purchased": {"sku": [v]}, "within_last_days": days, "op": "gte", "value": 1});
    assert_eq!(who(&app, within(3, "SKU-1")).await, ["p1"]);
    assert_eq!(who(&app, within(1, "SKU-1")).await, Vec::<String>::new());
    assert_eq!(who(&app, within(30, "SKU-2")).await, Vec::<String>::new());
    assert_eq!(
        who(
            &app,
            json!({"purchased": {"category": "toys"}, "op": "eq", "value": 0})
        )
        .await,
        ["p1", "p3", "p4"]
    );

    // First order (not fully refunded): the 3-day follow-up of seed 000.
    assert_eq!(
        who(
            &app,
            json!({"field": "first_order_at", "op": "within_last_days", "value": 3})
        )
        .await,
        ["p1"]
    );
    assert_eq!(
        who(&app, json!({"field": "first_order_at", "op": "is_null"})).await,
        ["p3"]
    );
    assert_eq!(
        who(
            &app,
            json!({"field": "income_band", "op": "eq", "value": "10k-20k"})
        )
        .await,
        ["p1"]
    );
    assert_eq!(
        who(
            &app,
            json!({"field": "consent.sms", "op": "eq", "value": true})
        )
        .await,
        ["p1"]
    );
    assert_eq!(
        who(
            &app,
            json!({"field": "consent.sms", "op": "eq", "value": false})
        )
        .await,
        ["p2"]
    );
    assert_eq!(
        who(
            &app,
            json!({"not": {"field": "consent.sms", "op": "eq", "value": true}})
        )
        .await,
        ["p2", "p3", "p4"]
    );
    assert_eq!(
        who(&app, json!({"field": "consent.email", "op": "is_set"})).await,
        ["p1"]
    );
    // A consent the profile later gives is seen at once.
    let (s, b) = app
        .patch("/v1/members/p3", json!({"consent": {"sms": true}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        who(
            &app,
            json!({"field": "consent.sms", "op": "eq", "value": true})
        )
        .await,
        ["p1", "p3"]
    );

    // Bad shapes name their path.
    for (cond, loc) in [
        (
            json!({"purchased": {"brand": "x"}}),
            json!(["condition", "purchased", "brand"]),
        ),
        (
            json!({"field": "consent.fax", "op": "eq", "value": true}),
            json!(["condition", "field"]),
        ),
        (
            json!({"field": "points_expiring", "op": "gte", "value": 1}),
            json!(["condition", "within_next_days"]),
        ),
    ] {
        let (s, b) = app
            .post("/v1/segments:preview", json!({"condition": cond}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["errors"][0]["loc"], loc, "{b}");
    }
}
both!(segments_on_purchases_first_orders_consent_and_income);

async fn saved_segments_are_edited_keeping_versions(app: TestApp) {
    app.batch(json!([
        reg("s1", json!({})),
        reg("s2", json!({})),
        order(
            "so1",
            "s1",
            None,
            json!({"order_id": "so1", "amount": "5.00", "sku": "A"}),
        ),
        order(
            "so2",
            "s2",
            None,
            json!({"order_id": "so2", "amount": "5.00", "sku": "B"}),
        ),
    ]))
    .await;
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "bought A", "condition": {"purchased": {"sku": "A"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seg}");
    assert_eq!(seg["version"], 1);
    let id = seg["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/segments/{id}");
    let (_, got) = app.get(&path).await;
    assert_eq!(got["size"], 1);

    let (s, b) = app
        .patch(
            &path,
            json!({"condition": {"purchased": {"sku": ["A", "B"]}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["version"], 2);
    assert_eq!(b["name"], "bought A");
    let (_, got) = app.get(&path).await;
    assert_eq!(got["size"], 2);
    assert_eq!(got["condition"]["purchased"]["sku"], json!(["A", "B"]));

    let (s, b) = app.patch(&path, json!({"name": "bought A or B"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["version"], 3);
    // The same again writes nothing.
    let (s, b) = app.patch(&path, json!({"name": "bought A or B"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["version"], 3);
    // A bad edit is refused whole, naming the path; an unknown field too.
    let (s, b) = app
        .patch(
            &path,
            json!({"name": "x", "condition": {"field": "tier", "op": "gt", "value": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["loc"], json!(["condition", "op"]), "{b}");
    let (s, b) = app.patch(&path, json!({"nmae": "typo"})).await;
    assert!(s.is_client_error(), "{s} {b}");
    let (s, _) = app
        .patch("/v1/segments/seg_nope", json!({"name": "x"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = app.get(&format!("{path}/versions")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let versions: Vec<(i64, String)> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| {
            (
                x["version"].as_i64().expect("version"),
                x["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (3, "bought A or B".to_owned()),
            (2, "bought A".to_owned()),
            (1, "bought A".to_owned())
        ]
    );
    assert_eq!(
        v["data"][2]["condition"],
        json!({"purchased": {"sku": ["A"]}, "op": "gte", "value": 1})
    );
    let (s, _) = app.get("/v1/segments/seg_nope/versions").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(saved_segments_are_edited_keeping_versions);
