//! Stores (门店) and staff (导购) through the HTTP API on both databases: records, members'
//! home store and owning staff (registration, `POST /v1/members`, import, operator PATCH),
//! orders' stores, segments and reports by store and staff, and bulk reassignment.

use memberops_app::import::{Kind, import_csv};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn ev(id: &str, kind: &str, member: &str, at: &str, props: Value) -> Value {
    json!({"id": id, "type": kind, "member": member, "occurred_at": at, "properties": props})
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (s, b) = app.post(path, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {b}");
    b
}

async fn setup(app: &TestApp) {
    for (code, name) in [("SH-1", "上海徐汇店"), ("BJ-1", "北京朝阳店")] {
        created(app, "/v1/stores", json!({"code": code, "name": name})).await;
    }
    for (code, store) in [("g1", "SH-1"), ("g2", "SH-1"), ("g3", "BJ-1")] {
        created(
            app,
            "/v1/staff",
            json!({"code": code, "name": format!("导购 {code}"), "store_code": store}),
        )
        .await;
    }
}

async fn assignment(app: &TestApp, member: &str) -> (Value, Value) {
    let (s, b) = app.get(&format!("/v1/members/{member}/store")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    (b["store_code"].clone(), b["staff_code"].clone())
}

async fn count(app: &TestApp, cond: Value) -> i64 {
    let mut out = Vec::new();
    for engine in ["index", "sql"] {
        let (s, b) = app
            .post(
                "/v1/segments:preview",
                json!({"condition": cond, "engine": engine}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{cond}: {b}");
        out.push(b["count"].as_i64().expect("count"));
    }
    assert_eq!(out[0], out[1], "index and SQL differ on {cond}");
    out[0]
}

async fn stores_and_staff_records(app: TestApp) {
    setup(&app).await;
    let (s, b) = app
        .post("/v1/stores", json!({"code": "SH-1", "name": "again"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["code"], "store_exists");
    let (s, b) = app
        .post("/v1/stores", json!({"code": "bad code", "name": ""}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let codes: Vec<&str> = b["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["invalid_code", "invalid_name"]);
    let (s, b) = app
        .post("/v1/stores", json!({"code": "X", "name": "x", "city": "?"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "unknown_field");
    let (s, b) = app
        .post(
            "/v1/staff",
            json!({"code": "g9", "name": "n", "store_code": "NOPE"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "unknown_store");

    // Lists page by code.
    let (s, b) = app.get("/v1/stores?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["code"], "BJ-1");
    let next = b["next_cursor"].as_str().expect("more").to_owned();
    let (_, b) = app.get(&format!("/v1/stores?limit=1&cursor={next}")).await;
    assert_eq!(b["data"][0]["code"], "SH-1");
    assert_eq!(b["next_cursor"], Value::Null);
    let (_, b) = app.get("/v1/staff?store=SH-1").await;
    let staff: Vec<&str> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|s| s["code"].as_str().expect("code"))
        .collect();
    assert_eq!(staff, ["g1", "g2"]);

    let (s, b) = app
        .patch(
            "/v1/stores/BJ-1",
            json!({"name": "北京三里屯店", "status": "inactive"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["name"].as_str(), b["status"].as_str()),
        (Some("北京三里屯店"), Some("inactive"))
    );
    // A closed store takes no new staff.
    let (s, b) = app
        .post(
            "/v1/staff",
            json!({"code": "g4", "name": "n", "store_code": "BJ-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "inactive_store");
    let (s, b) = app.patch("/v1/staff/g3", json!({"store_code": null})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["store_code"], Value::Null);
    let (s, _) = app.get("/v1/stores/NOPE").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get("/v1/staff/nobody").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(stores_and_staff_records);

async fn members_get_their_store_and_staff_every_way(app: TestApp) {
    setup(&app).await;
    // A registration event naming only the staff member: the home store is theirs.
    app.batch(json!([
        ev(
            "a-reg",
            "member.registered",
            "ann",
            "2026-01-01T00:00:00Z",
            json!({"staff_code": "g1"})
        ),
        ev(
            "b-reg",
            "member.registered",
            "bob",
            "2026-01-01T00:00:00Z",
            json!({"store_code": "BJ-1", "staff_code": "g3"})
        ),
    ]))
    .await;
    assert_eq!(assignment(&app, "ann").await, (json!("SH-1"), json!("g1")));
    assert_eq!(assignment(&app, "bob").await, (json!("BJ-1"), json!("g3")));

    // POST /v1/members: checked against the workspace's stores and staff.
    created(
        &app,
        "/v1/members",
        json!({"external_id": "cat", "staff_code": "g2"}),
    )
    .await;
    assert_eq!(assignment(&app, "cat").await, (json!("SH-1"), json!("g2")));
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "dan", "staff_code": "ghost"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "unknown_staff");
    assert_eq!(b["errors"][0]["loc"], json!(["body", "staff_code"]));
    let (s, _) = app.get("/v1/members/dan").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a refused member is not created");

    // Import: the two new columns; the other columns as before.
    let csv = "member_id,name,store_code,staff_code,favourite\n\
               eve,小E,BJ-1,g3,tea\n\
               fay,小F,,g2,\n";
    let s = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Members,
        csv.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!(s.applied, 2, "{s:?}");
    assert_eq!(assignment(&app, "eve").await, (json!("BJ-1"), json!("g3")));
    assert_eq!(assignment(&app, "fay").await, (json!("SH-1"), json!("g2")));
    let eve = app.member("eve").await;
    assert_eq!(eve["attributes"], json!({"favourite": "tea"}), "{eve}");
    // The member itself shows them, as does every member list.
    assert_eq!(
        (&eve["store_code"], &eve["staff_code"]),
        (&json!("BJ-1"), &json!("g3")),
        "{eve}"
    );
    let (_, listed) = app.get("/v1/members?external_id=fay").await;
    assert_eq!(listed["data"][0]["staff_code"], "g2", "{listed}");

    // Call tasks of the members of a store, or of a staff member's members.
    for (m, key) in [("eve", "t-eve"), ("fay", "t-fay")] {
        let (s, b) = app
            .post(
                "/v1/tasks",
                json!({"member": m, "pool": "call-center", "title": "回访", "idempotency_key": key}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let task_members = |q: &'static str| {
        let app = &app;
        async move {
            let (s, b) = app.get(&format!("/v1/tasks?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let mut ids: Vec<String> = b["data"]
                .as_array()
                .expect("data")
                .iter()
                .filter_map(|t| t["member_id"].as_str())
                .map(str::to_owned)
                .collect();
            ids.sort();
            ids
        }
    };
    let fay = app.member("fay").await;
    assert_eq!(
        task_members("store=BJ-1").await,
        [eve["id"].as_str().expect("id")]
    );
    assert_eq!(
        task_members("staff=g2").await,
        [fay["id"].as_str().expect("id")]
    );
    assert!(task_members("store=SH-1&staff=g3").await.is_empty());
    assert_eq!(task_members("pool=call-center").await.len(), 2);

    // Operator PATCH, audited; `null` clears.
    let (s, b) = app
        .patch("/v1/members/ann", json!({"name": "安", "staff_code": "g3"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "安", "{b}");
    assert_eq!(assignment(&app, "ann").await, (json!("BJ-1"), json!("g3")));
    let (s, _) = app
        .patch("/v1/members/ann", json!({"store_code": null}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(assignment(&app, "ann").await, (Value::Null, json!("g3")));
    let (s, b) = app
        .patch("/v1/members/ann", json!({"store_code": "NOPE"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app.get("/v1/store-audit").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let audit = b["data"].as_array().expect("data");
    assert_eq!(audit.len(), 2, "{b}");
    assert_eq!(audit[1]["action"], "member.assigned");
    assert_eq!(audit[1]["detail"]["from"]["staff_code"], "g1");
    assert_eq!(audit[1]["detail"]["to"]["staff_code"], "g3");
    assert!(
        audit[0]["actor"]
            .as_str()
            .is_some_and(|k| k.starts_with("key_"))
    );
}
both!(members_get_their_store_and_staff_every_way);

async fn segments_and_reports_by_store_and_staff(app: TestApp) {
    setup(&app).await;
    let mut events = Vec::new();
    for (m, staff) in [
        ("m1", "g1"),
        ("m2", "g1"),
        ("m3", "g2"),
        ("m4", "g3"),
        ("m5", ""),
    ] {
        let props = if staff.is_empty() {
            json!({})
        } else {
            json!({"staff_code": staff})
        };
        events.push(ev(
            &format!("{m}-reg"),
            "member.registered",
            m,
            "2026-01-01T00:00:00Z",
            props,
        ));
    }
    // Orders carry their store: m4 (a BJ-1 member) bought once at SH-1.
    for (i, (m, store)) in [("m1", "SH-1"), ("m4", "SH-1"), ("m4", "BJ-1"), ("m5", "")]
        .iter()
        .enumerate()
    {
        let mut props = json!({"order_id": format!("O{i}"), "amount": "100.00"});
        if !store.is_empty() {
            props["store_code"] = json!(store);
        }
        events.push(ev(
            &format!("o{i}"),
            "order.paid",
            m,
            "2026-02-01T00:00:00Z",
            props,
        ));
    }
    app.batch(Value::Array(events)).await;

    assert_eq!(
        count(&app, json!({"field": "store", "op": "eq", "value": "SH-1"})).await,
        3
    );
    assert_eq!(
        count(
            &app,
            json!({"field": "staff", "op": "in", "value": ["g1", "g3"]})
        )
        .await,
        3
    );
    assert_eq!(
        count(&app, json!({"field": "staff", "op": "is_null"})).await,
        1
    );
    assert_eq!(
        count(
            &app,
            json!({"purchased": {"store": "SH-1"}, "within_last_days": 365})
        )
        .await,
        2,
        "ordered at SH-1: m1 and m4"
    );
    assert_eq!(
        count(
            &app,
            json!({"all": [
                {"purchased": {"store": ["SH-1"]}},
                {"field": "store", "op": "ne", "value": "SH-1"}
            ]})
        )
        .await,
        1,
        "bought at SH-1 though at home at BJ-1: m4"
    );
    let (s, b) = app
        .post(
            "/v1/segments:preview",
            json!({"condition": {"purchased": {"shop": "x"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Reports narrowed to a store or a staff member.
    let ids = |b: &Value| -> Vec<String> {
        let mut v: Vec<String> = b["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["member_id"].as_str().expect("id").to_owned())
            .collect();
        v.sort();
        v
    };
    let (s, b) = app.get("/v1/reports/rfm?as_of=2026-03-01&store=SH-1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ids(&b), ["m1", "m2", "m3"]);
    let (_, b) = app.get("/v1/reports/rfm?as_of=2026-03-01&staff=g1").await;
    assert_eq!(ids(&b), ["m1", "m2"]);
    let (_, b) = app.get("/v1/reports/rfm?as_of=2026-03-01").await;
    assert_eq!(ids(&b).len(), 5);
    let (s, b) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": "2026-03-01"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let total = |b: &Value| -> i64 {
        b["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["members"].as_i64().unwrap_or(0))
            .sum()
    };
    let (s, all) = app
        .get("/v1/lifecycle/flow?from=2026-01-01&to=2026-12-31")
        .await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let (_, bj) = app
        .get("/v1/lifecycle/flow?from=2026-01-01&to=2026-12-31&store=BJ-1")
        .await;
    let (_, g1) = app
        .get("/v1/lifecycle/flow?from=2026-01-01&to=2026-12-31&staff=g1")
        .await;
    assert_eq!(total(&all), 5, "{all}");
    assert_eq!(total(&bj), 1, "{bj}");
    assert_eq!(total(&g1), 2, "{g1}");
}
both!(segments_and_reports_by_store_and_staff);

async fn a_leaving_staff_members_members_move_in_bulk(app: TestApp) {
    setup(&app).await;
    let events: Vec<Value> = (0..30)
        .map(|i| {
            let staff = if i % 3 == 0 { "g2" } else { "g1" };
            ev(
                &format!("r{i}"),
                "member.registered",
                &format!("m{i}"),
                "2026-01-01T00:00:00Z",
                json!({"staff_code": staff}),
            )
        })
        .collect();
    app.batch(Value::Array(events)).await;
    assert_eq!(
        count(&app, json!({"field": "staff", "op": "eq", "value": "g1"})).await,
        20
    );

    // g1 leaves: inactive, and can no longer be given members.
    let (s, _) = app
        .patch("/v1/staff/g1", json!({"status": "inactive"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app
        .patch("/v1/members/m0", json!({"staff_code": "g1"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["code"], "inactive_staff");
    for (to, code) in [("g1", "same_staff"), ("nobody", "unknown_staff")] {
        let (s, b) = app
            .post("/v1/staff/g1/members:reassign", json!({"to_staff": to}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["errors"][0]["code"], code);
    }
    let (s, _) = app
        .post(
            "/v1/staff/nobody/members:reassign",
            json!({"to_staff": "g2"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, b) = app
        .post("/v1/staff/g1/members:reassign", json!({"to_staff": "g2"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b,
        json!({"from_staff": "g1", "to_staff": "g2", "moved": 20})
    );
    assert_eq!(
        count(&app, json!({"field": "staff", "op": "eq", "value": "g1"})).await,
        0
    );
    assert_eq!(
        count(&app, json!({"field": "staff", "op": "eq", "value": "g2"})).await,
        30
    );
    assert_eq!(assignment(&app, "m1").await, (json!("SH-1"), json!("g2")));
    // Again: nothing left to move.
    let (_, b) = app
        .post("/v1/staff/g1/members:reassign", json!({"to_staff": "g2"}))
        .await;
    assert_eq!(b["moved"], 0);
    let (_, b) = app.get("/v1/store-audit").await;
    let audit = b["data"].as_array().expect("data");
    assert_eq!(audit.len(), 2, "{b}");
    assert_eq!(audit[1]["action"], "staff.reassigned");
    assert_eq!(
        audit[1]["detail"],
        json!({"from_staff": "g1", "to_staff": "g2", "moved": 20})
    );
}
both!(a_leaving_staff_members_members_move_in_bulk);
