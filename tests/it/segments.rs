//! Member intelligence through the API: RFM arithmetic and quintile ties, stage
//! transitions with a fixed as-of clock, tags and rule tags, segment operators and 422
//! paths, and the index answering exactly like SQL on random data and trees.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn paid(id: &str, member: &str, order: &str, amount: &str, at: &str) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": order, "amount": amount}})
}

fn reg(member: &str, at: &str, profile: Value) -> Value {
    json!({"id": format!("reg-{member}"), "type": "member.registered", "member": member, "occurred_at": at,
           "properties": profile})
}

async fn recompute(app: &TestApp, as_of: &str) -> Value {
    let (s, b) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": as_of}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn stage(app: &TestApp, member: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/members/{member}/intelligence")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["stage"].clone()
}

async fn rfm_report_arithmetic_and_ties(app: TestApp) {
    app.batch(json!([
        reg("a", "2026-01-01T00:00:00Z", json!({"time_zone": "UTC"})),
        reg("b", "2026-01-01T00:00:00Z", json!({"time_zone": "UTC"})),
        reg("c", "2026-01-01T00:00:00Z", json!({"time_zone": "UTC"})),
        reg("n", "2026-01-01T00:00:00Z", json!({"time_zone": "UTC"})),
        paid("a1", "a", "oa1", "100.00", "2026-01-10T09:00:00Z"),
        paid("a2", "a", "oa2", "50.50", "2026-01-10T15:00:00Z"),
        paid("a3", "a", "oa3", "20", "2026-02-20T10:00:00Z"),
        paid("b1", "b", "ob1", "10", "2026-01-05T10:00:00Z"),
        paid("c1", "c", "oc1", "10", "2026-01-05T10:00:00Z"),
        // After the as-of date: never counted.
        paid("c2", "c", "oc2", "999", "2026-03-05T10:00:00Z"),
        {"id": "fa", "type": "order.refunded", "member": "a", "occurred_at": "2026-02-21T00:00:00Z",
         "properties": {"order_id": "oa1", "amount": "30"}},
    ]))
    .await;
    let (s, body) = app.get("/v1/reports/rfm?as_of=2026-03-01").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows = body["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 4);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["member_id"] == id)
            .expect("row")
            .clone()
    };
    let a = row("a");
    assert_eq!(a["orders"], 3);
    assert_eq!(a["order_days"], 2);
    // 100 + 50.50 + 20 - 30 refunded.
    assert_eq!(a["monetary"], "140.50");
    assert_eq!(a["first_order_at"], "2026-01-10");
    assert_eq!(a["last_order_at"], "2026-02-20");
    assert_eq!(a["recency_days"], 9);
    assert_eq!(a["tenure_days"], 50);
    // b and c tie on every dimension: they share scores (the lowest), a is above.
    let (b, c) = (row("b"), row("c"));
    for k in ["r_score", "f_score", "m_score", "rfm_class", "recency_days"] {
        assert_eq!(b[k], c[k], "{k}");
    }
    assert_eq!(b["r_score"], 1);
    assert_eq!(c["orders"], 1);
    assert_eq!(c["monetary"], "10.00");
    // 2 of 3 buyers are strictly worse than a: 1 + floor(5 * 2 / 3) = 4.
    assert_eq!(a["r_score"], 4);
    assert_eq!(a["f_score"], 4);
    assert_eq!(a["m_score"], 4);
    assert_eq!(a["rfm_class"], "important_value");
    assert_eq!(b["rfm_class"], "general_win_back");
    let n = row("n");
    assert_eq!(n["orders"], 0);
    assert_eq!(n["r_score"], Value::Null);
    assert_eq!(n["lifecycle_stage"], "new");
    assert_eq!(a["lifecycle_stage"], "mature");
    // 55 days since b's only order: still growing (silent from 60).
    assert_eq!(b["lifecycle_stage"], "growing");

    // The same numbers per member and as CSV.
    let (s, one) = app.get("/v1/members/a/rfm?as_of=2026-03-01").await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one, a);
    let resp = app
        .client
        .get(app.url("/v1/reports/rfm?as_of=2026-03-01&format=csv"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("csv");
    let text = resp.text().await.expect("text");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "member_id,first_order_at,last_order_at,orders,order_days,monetary,recency_days,tenure_days,r_score,f_score,m_score,rfm_class,lifecycle_stage"
        )
    );
    assert!(
        text.contains("a,2026-01-10,2026-02-20,3,2,140.50,9,50,4,4,4,important_value,mature"),
        "{text}"
    );
    assert!(text.contains("n,,,0,0,0.00,,,,,,,new"), "{text}");
}
both!(rfm_report_arithmetic_and_ties);

async fn stages_move_with_events_and_time(app: TestApp) {
    app.batch(json!([reg(
        "m",
        "2026-01-01T00:00:00Z",
        json!({"time_zone": "UTC"})
    )]))
    .await;
    recompute(&app, "2026-01-10").await;
    assert_eq!(stage(&app, "m").await, "new");
    app.batch(json!([paid("p1", "m", "o1", "10", "2026-01-15T10:00:00Z")]))
        .await;
    recompute(&app, "2026-01-16").await;
    assert_eq!(stage(&app, "m").await, "growing");
    app.batch(json!([
        paid("p2", "m", "o2", "10", "2026-01-20T10:00:00Z"),
        paid("p3", "m", "o3", "10", "2026-02-01T10:00:00Z"),
    ]))
    .await;
    recompute(&app, "2026-02-02").await;
    assert_eq!(stage(&app, "m").await, "mature");
    // Time alone: 59 days quiet is still mature, 60 is silent, 180 churned.
    recompute(&app, "2026-04-01").await;
    assert_eq!(stage(&app, "m").await, "mature");
    let s = recompute(&app, "2026-04-02").await;
    assert_eq!(s["transitions"], 1, "{s}");
    assert_eq!(stage(&app, "m").await, "silent");
    recompute(&app, "2026-07-30").await;
    assert_eq!(stage(&app, "m").await, "silent");
    recompute(&app, "2026-07-31").await;
    assert_eq!(stage(&app, "m").await, "churned");
    // Idempotent.
    let again = recompute(&app, "2026-07-31").await;
    assert_eq!(again["transitions"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");

    let (s, flow) = app
        .get("/v1/lifecycle/flow?from=2026-04-01&to=2026-04-30")
        .await;
    assert_eq!(s, StatusCode::OK, "{flow}");
    assert_eq!(
        flow["data"],
        json!([{"from": "mature", "to": "silent", "members": 1}])
    );
    let (_, july) = app
        .get("/v1/lifecycle/flow?from=2026-07-01&to=2026-07-31")
        .await;
    assert_eq!(
        july["data"],
        json!([{"from": "silent", "to": "churned", "members": 1}])
    );

    // Each change is a lifecycle.changed event with from/to.
    let (_, events) = app.get("/v1/members/m/events?limit=100").await;
    let changes: Vec<&Value> = events["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "lifecycle.changed")
        .collect();
    assert!(
        changes
            .iter()
            .any(|e| e["properties"]["from"] == "mature" && e["properties"]["to"] == "silent")
    );
    assert!(
        changes
            .iter()
            .any(|e| e["properties"]["from"] == "silent" && e["properties"]["to"] == "churned")
    );

    // Events landing move the stage at once (today's clock: a fresh order makes the
    // member active again).
    let now = chrono::Utc::now().to_rfc3339();
    app.batch(json!([paid("p4", "m", "o4", "10", &now)])).await;
    assert_eq!(stage(&app, "m").await, "mature");
    let intel = app.get("/v1/members/m/intelligence").await.1;
    assert_eq!(intel["previous_stage"], "churned");
}
both!(stages_move_with_events_and_time);

async fn segments_tags_and_errors(app: TestApp) {
    app.batch(json!([
        reg("u1", "2025-06-01T00:00:00Z", json!({"time_zone": "Asia/Shanghai", "gender": "female", "region": "上海",
            "birthday": "1996-05-20", "tags": ["coffee"], "attributes": {"level": 3, "pets": ["cat"]}})),
        reg("u2", "2025-06-01T00:00:00Z", json!({"time_zone": "Asia/Shanghai", "gender": "male", "region": "北京",
            "birthday": "1980-01-01", "attributes": {"level": "gold"}})),
        reg("u3", "2025-06-01T00:00:00Z", json!({"time_zone": "UTC"})),
        paid("q1", "u1", "x1", "300", "2025-07-01T00:00:00Z"),
        paid("q2", "u1", "x2", "300", "2025-08-01T00:00:00Z"),
        paid("q3", "u2", "x3", "20", "2025-08-01T00:00:00Z"),
        {"id": "s1", "type": "content.shared", "member": "u2", "occurred_at": chrono::Utc::now().to_rfc3339()},
        {"id": "s2", "type": "content.shared", "member": "u2", "occurred_at": chrono::Utc::now().to_rfc3339()},
    ]))
    .await;
    let count = |cond: Value| {
        let app = &app;
        async move {
            let mut out = Vec::new();
            for engine in ["index", "sql"] {
                let (s, b) = app
                    .post(
                        "/v1/segments:preview",
                        json!({"condition": cond, "engine": engine, "sample": 100}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{b}");
                out.push(b);
            }
            assert_eq!(out[0]["count"], out[1]["count"], "{cond}");
            assert_eq!(out[0]["sample"], out[1]["sample"], "{cond}");
            out[0]["count"].as_u64().expect("count")
        }
    };
    assert_eq!(
        count(json!({"field": "gender", "op": "eq", "value": "female"})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "region", "op": "ne", "value": "上海"})).await,
        1
    );
    assert_eq!(
        count(json!({"not": {"field": "region", "op": "eq", "value": "上海"}})).await,
        2
    );
    assert_eq!(
        count(json!({"field": "spend", "op": "gte", "value": 60000})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "orders", "op": "between", "value": [1, 2]})).await,
        2
    );
    assert_eq!(
        count(json!({"field": "aov", "op": "eq", "value": 30000})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "age", "op": "gte", "value": 40})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "tags", "op": "has_tag", "value": "coffee"})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "attributes.level", "op": "gte", "value": 3})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "attributes.level", "op": "eq", "value": "gold"})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "attributes.pets", "op": "contains", "value": "cat"})).await,
        1
    );
    assert_eq!(
        count(json!({"field": "last_order_at", "op": "gte", "value": "2025-08-01"})).await,
        2
    );
    assert_eq!(
        count(json!({"event": "content.shared", "within_last_days": 30, "op": "gte", "value": 2}))
            .await,
        1
    );
    // u3 has no gender; u1 has not been seen since August 2025 (churned as events landed).
    assert_eq!(count(json!({"any": [{"field": "gender", "op": "is_null"}, {"field": "stage", "op": "in", "value": ["churned"]}]})).await, 2);

    // Errors name the path in the tree.
    let (s, b) = app
        .post(
            "/v1/segments",
            json!({"name": "x", "condition": {"all": [
            {"field": "gender", "op": "eq", "value": "female"},
            {"field": "favourite", "op": "eq", "value": 1}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["type"], "unknown_field");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["condition", "all[1]", "field"])
    );
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"field": "orders", "op": "gt", "value": "two"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["type"], "type_mismatch");
    assert_eq!(b["errors"][0]["loc"], json!(["condition", "value"]));

    // Saved segment: members pages, export, size history.
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "buyers", "condition": {"field": "orders", "op": "gte", "value": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seg}");
    let id = seg["id"].as_str().expect("id");
    let (_, p1) = app.get(&format!("/v1/segments/{id}/members?limit=1")).await;
    assert_eq!(p1["data"].as_array().expect("data").len(), 1);
    let cursor = p1["next_cursor"].as_str().expect("cursor");
    let (_, p2) = app
        .get(&format!(
            "/v1/segments/{id}/members?limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(p2["data"].as_array().expect("data").len(), 1);
    assert_eq!(p2["next_cursor"], Value::Null);
    let (_, detail) = app.get(&format!("/v1/segments/{id}")).await;
    assert_eq!(detail["size"], 2);
    let (_, sizes) = app.get(&format!("/v1/segments/{id}/sizes")).await;
    assert_eq!(sizes["data"][0]["size"], 2);
    let csv = app
        .client
        .get(app.url(&format!("/v1/segments/{id}/export")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains(",u1") && csv.contains(",u2"));

    // Manual tags by id list and CSV; rule tags follow their condition.
    let (s, t) = app
        .post(
            "/v1/tags/vip/members",
            json!({"add": ["u2", "u3", "ghost"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["added"], 2);
    assert_eq!(t["unknown"], json!(["ghost"]));
    assert_eq!(
        count(json!({"field": "tags", "op": "has_tag", "value": "vip"})).await,
        2
    );
    let resp = app
        .client
        .post(app.url("/v1/tags/vip/members.csv?action=remove"))
        .bearer_auth(&app.key)
        .header("content-type", "text/csv")
        .body("external_id\nu3\n")
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        count(json!({"field": "tags", "op": "has_tag", "value": "vip"})).await,
        1
    );
    let (s, rule) = app
        .call(
            reqwest::Method::PUT,
            "/v1/tag-rules/big_spender",
            Some(json!({"condition": {"field": "spend", "op": "gte", "value": 50000}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rule}");
    assert_eq!(rule["members"], 1);
    assert_eq!(
        count(json!({"field": "tags", "op": "has_tag", "value": "big_spender"})).await,
        1
    );
    let intel = app.get("/v1/members/u1/intelligence").await.1;
    assert_eq!(intel["tags"], json!(["big_spender", "coffee"]));
    // The rule follows the data: u2 spends enough, the rule is refreshed by the daily job.
    app.batch(json!([paid(
        "q4",
        "u2",
        "x4",
        "600",
        "2025-09-01T00:00:00Z"
    )]))
    .await;
    recompute(&app, "2025-09-02").await;
    assert_eq!(
        count(json!({"field": "tags", "op": "has_tag", "value": "big_spender"})).await,
        2
    );
    assert_eq!(count(json!({"field": "value_class", "op": "in", "value": ["vip", "large", "medium", "small"]})).await, 2);

    let (s, info) = app.post("/v1/segments:rebuild-index", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!(info["members"], 3);
}
both!(segments_tags_and_errors);

async fn churn_warnings_rank_by_value(app: TestApp) {
    let mut events = vec![];
    // Buys every 10 days, then stops: overdue. A richer steady buyer is not.
    for i in 0..6 {
        let day = format!("2026-01-{:02}T10:00:00Z", 1 + i * 5);
        events.push(paid(
            &format!("r{i}"),
            "regular",
            &format!("or{i}"),
            "100",
            &day,
        ));
    }
    for i in 0..3 {
        let day = format!("2026-02-{:02}T10:00:00Z", 1 + i * 10);
        events.push(paid(
            &format!("w{i}"),
            "whale",
            &format!("ow{i}"),
            "900",
            &day,
        ));
    }
    app.batch(Value::Array(events)).await;
    let (s, b) = app.get("/v1/churn-warnings?as_of=2026-03-01").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let data = b["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{b}");
    assert_eq!(data[0]["external_id"], "regular");
    assert_eq!(data[0]["reasons"], json!(["overdue_repurchase"]));
    let (_, b) = app.get("/v1/churn-warnings?as_of=2026-04-30").await;
    let ids: Vec<&str> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["external_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, vec!["whale", "regular"]);
    let csv = app
        .client
        .get(app.url("/v1/churn-warnings?as_of=2026-04-30&format=csv"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    assert!(csv.starts_with("member_id,external_id,reasons"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
}
both!(churn_warnings_rank_by_value);

/// xorshift: deterministic random data without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn random_leaf(r: &mut Rng) -> Value {
    let day = |r: &mut Rng| format!("2026-{:02}-{:02}", 1 + r.below(11), 1 + r.below(28));
    match r.below(28) {
        0 => {
            json!({"field": "gender", "op": r.pick(&["eq", "ne"]), "value": r.pick(&["male", "female"])})
        }
        1 => json!({"field": "region", "op": "in", "value": [r.pick(&["上海", "北京", "广州"])]}),
        2 => {
            json!({"field": "orders", "op": r.pick(&["gt", "gte", "lt", "lte", "eq", "ne"]), "value": r.below(4)})
        }
        3 => {
            json!({"field": "spend", "op": "between", "value": [r.below(20000), 20000 + r.below(100000)]})
        }
        4 => json!({"field": "aov", "op": r.pick(&["gte", "lt"]), "value": r.below(40000)}),
        5 => {
            json!({"field": "age", "op": r.pick(&["gte", "lt", "eq", "ne", "lte", "gt"]), "value": 20 + r.below(30)})
        }
        6 => json!({"field": "birthday", "op": "within_next_days", "value": r.below(120)}),
        7 => {
            json!({"field": "last_order_at", "op": r.pick(&["gte", "lt", "lte", "gt"]), "value": day(r)})
        }
        8 => json!({"field": "last_order_at", "op": "within_last_days", "value": r.below(300)}),
        9 => json!({"field": "registered_at", "op": r.pick(&["gte", "lt"]), "value": day(r)}),
        10 => {
            json!({"field": "tags", "op": r.pick(&["has_tag", "contains"]), "value": r.pick(&["coffee", "tea", "vip"])})
        }
        11 => json!({"field": "tags", "op": r.pick(&["is_set", "is_null"])}),
        12 => {
            json!({"field": "attributes.level", "op": r.pick(&["gte", "lt", "eq", "ne"]), "value": r.below(5)})
        }
        13 => json!({"field": "attributes.level", "op": "in", "value": ["gold", 2]}),
        14 => {
            json!({"field": "stage", "op": "in", "value": [r.pick(&["new", "growing", "mature", "silent", "churned"])]})
        }
        15 => {
            json!({"field": r.pick(&["r_score", "f_score", "m_score"]), "op": "gte", "value": 1 + r.below(5)})
        }
        16 => {
            json!({"field": "tier", "op": r.pick(&["eq", "ne"]), "value": r.pick(&["normal", "silver"])})
        }
        17 => {
            json!({"field": r.pick(&["points_balance", "stored_value_minor"]), "op": r.pick(&["gt", "lte"]), "value": r.below(400)})
        }
        18 => match r.below(2) {
            0 => json!({"field": "first_order_at", "op": r.pick(&["gte", "lt"]), "value": day(r)}),
            _ => {
                json!({"field": "first_order_at", "op": "within_last_days", "value": r.below(300)})
            }
        },
        19 => json!({"field": "income_band", "op": "in", "value": [r.pick(&["low", "high"])]}),
        20 => {
            json!({"field": r.pick(&["consent.sms", "consent.email"]), "op": r.pick(&["eq", "ne"]), "value": r.below(2) == 0})
        }
        21 => {
            json!({"purchased": {"category": r.pick(&["toys", "shoes", "tea"])}, "within_last_days": 1 + r.below(300), "op": "gte", "value": 1 + r.below(2)})
        }
        22 => json!({"purchased": {"sku": [r.pick(&["S1", "S2"])]}}),
        23 => {
            json!({"field": "points_expiring", "within_next_days": r.below(800), "op": r.pick(&["gte", "lt"]), "value": r.below(300)})
        }
        24 => {
            json!({"field": "store", "op": r.pick(&["eq", "ne", "contains"]), "value": r.pick(&["SH-1", "BJ-1", "GZ"])})
        }
        25 => match r.below(2) {
            0 => {
                json!({"field": "staff", "op": r.pick(&["in", "not_in"]), "value": [r.pick(&["g1", "g2", "g3"])]})
            }
            _ => {
                json!({"field": r.pick(&["store", "staff"]), "op": r.pick(&["is_set", "is_null"])})
            }
        },
        26 => {
            json!({"purchased": {"store": [r.pick(&["SH-1", "BJ-1"])]}, "within_last_days": 1 + r.below(300), "op": "gte", "value": 1})
        }
        _ => {
            json!({"event": "checkin", "within_last_days": 1 + r.below(400), "op": "gte", "value": r.below(3)})
        }
    }
}

fn random_tree(r: &mut Rng, depth: u32) -> Value {
    if depth == 0 || r.below(3) == 0 {
        return random_leaf(r);
    }
    let n = r.below(4) as usize;
    let kids: Vec<Value> = (0..n).map(|_| random_tree(r, depth - 1)).collect();
    match r.below(3) {
        0 => json!({"all": kids}),
        1 => json!({"any": kids}),
        _ => json!({"not": random_tree(r, depth - 1)}),
    }
}

async fn index_equals_sql_on_random_data(app: TestApp) {
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let mut events = Vec::new();
    for i in 0..50 {
        let m = format!("p{i}");
        let mut profile = serde_json::Map::new();
        profile.insert(
            "time_zone".into(),
            json!(r.pick(&["Asia/Shanghai", "America/New_York", "UTC"])),
        );
        if r.below(4) > 0 {
            profile.insert("gender".into(), json!(r.pick(&["male", "female"])));
        }
        if r.below(4) > 0 {
            profile.insert("region".into(), json!(r.pick(&["上海", "北京", "广州"])));
        }
        if r.below(3) > 0 {
            profile.insert(
                "birthday".into(),
                json!(format!(
                    "{}-{:02}-{:02}",
                    1970 + r.below(35),
                    1 + r.below(12),
                    1 + r.below(28)
                )),
            );
        }
        if r.below(2) > 0 {
            profile.insert("tags".into(), json!([r.pick(&["coffee", "tea"])]));
        }
        if r.below(2) > 0 {
            profile.insert("income_band".into(), json!(r.pick(&["low", "high"])));
        }
        // Home store and owning staff, as a POS registers them (codes need not exist yet).
        match r.below(4) {
            0 => {
                profile.insert("store_code".into(), json!(r.pick(&["SH-1", "BJ-1"])));
            }
            1 => {
                profile.insert("staff_code".into(), json!(r.pick(&["g1", "g2", "g3"])));
            }
            2 => {
                profile.insert("store_code".into(), json!("GZ"));
                profile.insert("staff_code".into(), json!("g3"));
            }
            _ => {}
        }
        if r.below(2) > 0 {
            profile.insert(
                "consent".into(),
                json!({"sms": r.below(2) == 0, "push": r.below(2) == 0}),
            );
        }
        match r.below(3) {
            0 => {
                profile.insert("attributes".into(), json!({"level": r.below(5)}));
            }
            1 => {
                profile.insert("attributes".into(), json!({"level": "gold"}));
            }
            _ => {}
        }
        let reg_day = format!(
            "2026-{:02}-{:02}T{:02}:00:00Z",
            1 + r.below(6),
            1 + r.below(28),
            r.below(24)
        );
        events.push(reg(&m, &reg_day, Value::Object(profile)));
        for k in 0..r.below(4) {
            let at = format!(
                "2026-{:02}-{:02}T{:02}:30:00Z",
                7 + r.below(4),
                1 + r.below(28),
                r.below(24)
            );
            let mut order = paid(
                &format!("{m}-o{k}"),
                &m,
                &format!("{m}-o{k}"),
                &format!("{}", 10 + r.below(2500)),
                &at,
            );
            order["properties"]["lines"] = json!([
                {"sku": r.pick(&["S1", "S2", "S3"]), "category": r.pick(&["toys", "shoes", "tea"])}
            ]);
            if r.below(2) == 0 {
                order["properties"]["store_code"] = json!(r.pick(&["SH-1", "BJ-1"]));
            }
            events.push(order);
            if r.below(5) == 0 {
                events.push(json!({"id": format!("{m}-r{k}"), "type": "order.refunded", "member": m,
                    "occurred_at": "2026-11-20T00:00:00Z", "properties": {"order_id": format!("{m}-o{k}")}}));
            }
        }
        for k in 0..r.below(3) {
            let at = format!(
                "2026-{:02}-{:02}T12:00:00Z",
                6 + r.below(5),
                1 + r.below(28)
            );
            events.push(json!({"id": format!("{m}-c{k}"), "type": "checkin", "member": m, "occurred_at": at}));
        }
    }
    app.batch(Value::Array(events)).await;
    recompute(&app, "2026-11-01").await;
    app.post(
        "/v1/tags/vip/members",
        json!({"add": ["p1", "p2", "p3", "p10"]}),
    )
    .await;
    for (i, m) in ["p4", "p5", "p6"].iter().enumerate() {
        app.post(
            &format!("/v1/members/{m}/stored-value:top-up"),
            json!({"amount_minor": 100 * (i + 1), "idempotency_key": format!("sv-{m}")}),
        )
        .await;
    }
    // Operators move members between staff after the index has loaded: it must catch up.
    for (code, store) in [
        ("SH-1", None),
        ("BJ-1", None),
        ("g1", Some("SH-1")),
        ("g2", Some("BJ-1")),
    ] {
        let (s, b) = match store {
            None => {
                app.post("/v1/stores", json!({"code": code, "name": code}))
                    .await
            }
            Some(st) => {
                app.post(
                    "/v1/staff",
                    json!({"code": code, "name": code, "store_code": st}),
                )
                .await
            }
        };
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"field": "staff", "op": "eq", "value": "g2"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for m in ["p7", "p8", "p9"] {
        let (s, b) = app
            .patch(&format!("/v1/members/{m}"), json!({"staff_code": "g2"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = app
        .post("/v1/staff/g1/members:reassign", json!({"to_staff": "g2"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for case in 0..100 {
        let tree = random_tree(&mut r, 3);
        let mut answers = Vec::new();
        for engine in ["index", "sql"] {
            let (s, b) = app
                .post(
                    "/v1/segments:preview",
                    json!({"condition": tree, "engine": engine, "sample": 100}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "case {case}: {tree} → {b}");
            answers.push(b);
        }
        assert_eq!(
            answers[0]["count"], answers[1]["count"],
            "case {case}: {tree}"
        );
        assert_eq!(
            answers[0]["sample"], answers[1]["sample"],
            "case {case}: {tree}"
        );
    }
}
both!(index_equals_sql_on_random_data);
