use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

fn paid(id: &str, member: &str, order: &str, amount: &str, at: &str) -> serde_json::Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": order, "amount": amount}})
}

async fn single_events_are_idempotent_and_validated(app: TestApp) {
    let (status, body) = app
        .post(
            "/v1/events",
            json!({"id": "e1", "type": "checkin", "member": "ghost"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "member_not_found");

    let (status, body) = app.post("/v1/events", json!({"id": "r1", "type": "member.registered", "member": "u1", "properties": {"name": "Ann"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "accepted");
    let (status, body) = app.post("/v1/events", json!({"id": "r1", "type": "member.registered", "member": "u1", "properties": {"name": "Ann"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate");

    let (status, body) = app.post("/v1/events", json!({"id": "p0", "type": "order.paid", "member": "u1", "properties": {"amount": "5"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["loc"], json!(["properties", "order_id"]));
    let (status, body) = app.post("/v1/events", json!({"id": "p0", "type": "order.paid", "member": "u1", "properties": {"order_id": "o", "amount": "1.234"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["type"], "invalid_amount");

    let (status, body) = app.post("/v1/events", json!({"id": "f1", "type": "order.refunded", "member": "u1", "properties": {"order_id": "nope"}})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "order_not_found");

    // Custom types are stored with their properties.
    let (status, _) = app.post("/v1/events", json!({"id": "c1", "type": "coupon.viewed", "member": "u1", "properties": {"coupon": "X"}})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, e) = app.get("/v1/events/c1").await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert_eq!(e["type"], "coupon.viewed");
    assert_eq!(e["properties"]["coupon"], "X");
    let (status, list) = app.get("/v1/members/u1/events").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"].as_array().expect("data").len(), 2);
}
both!(single_events_are_idempotent_and_validated);

async fn aggregates_follow_orders_and_refunds(app: TestApp) {
    app.batch(json!([
        {"id": "reg", "type": "member.registered", "member": "m1", "occurred_at": "2026-01-01T00:00:00Z", "properties": {"time_zone": "Asia/Shanghai"}},
        // 20:00 UTC on Jan 31 is Feb 1 in Shanghai: two orders, one local day.
        paid("p1", "m1", "o1", "100.00", "2026-01-31T20:00:00Z"),
        paid("p2", "m1", "o2", "50.50", "2026-02-01T10:00:00+08:00"),
        paid("p3", "m1", "o3", "20", "2026-03-05"),
        {"id": "f1", "type": "order.refunded", "member": "m1", "occurred_at": "2026-03-06", "properties": {"order_id": "o1", "amount": "30"}},
        {"id": "f2", "type": "order.refunded", "member": "m1", "occurred_at": "2026-03-07", "properties": {"order_id": "o3"}},
        {"id": "v1", "type": "product.viewed", "member": "m1", "occurred_at": "2026-04-01T00:00:00Z"}
    ]))
    .await;
    let s = &app.member("m1").await["stats"];
    // o3 was fully refunded: it no longer counts as an order.
    assert_eq!(s["order_count"], 2);
    assert_eq!(s["order_days"], 1);
    assert_eq!(s["total_paid_minor"], 17050);
    assert_eq!(s["total_refunded_minor"], 5000);
    assert_eq!(s["total_spend_minor"], 12050);
    assert_eq!(s["first_order_at"], "2026-01-31T20:00:00.000Z");
    assert_eq!(s["last_order_at"], "2026-02-01T02:00:00.000Z");
    assert_eq!(s["last_active_at"], "2026-04-01T00:00:00.000Z");
    assert_eq!(s["event_count"], 7);

    // Refunding more than is left, or another member's order, is refused.
    let r = app
        .batch(json!([
            {"id": "f3", "type": "order.refunded", "member": "m1", "properties": {"order_id": "o1", "amount": "70.01"}},
            paid("q1", "m2", "o9", "10", "2026-03-01"),
            {"id": "f4", "type": "order.refunded", "member": "m2", "properties": {"order_id": "o2"}},
            paid("q2", "m2", "o2", "10", "2026-03-01")
        ]))
        .await;
    let codes: Vec<&str> = r["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| x["error"]["code"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        codes,
        vec![
            "refund_exceeds_order",
            "-",
            "order_member_mismatch",
            "order_exists"
        ]
    );
    assert_eq!(
        app.member("m1").await["stats"]["total_refunded_minor"],
        5000
    );
}
both!(aggregates_follow_orders_and_refunds);

async fn batches_report_every_row_and_replays_change_nothing(app: TestApp) {
    let events = json!([
        paid("b1", "x1", "o1", "10", "2026-05-01"),
        {"id": "b2", "type": "order.paid", "member": "x1", "properties": {"order_id": "o2"}},
        {"id": "b3", "type": "checkin", "member": "nobody"},
        paid("b1", "x1", "o1", "10", "2026-05-01"),
        {"oops": true},
        paid("b4", "x2", "o4", "99.99", "2026-05-02")
    ]);
    let r = app.batch(events.clone()).await;
    assert_eq!(r["committed"], true);
    assert_eq!(
        (
            r["accepted"].as_u64(),
            r["duplicates"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(3))
    );
    let statuses: Vec<&str> = r["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|x| x["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        vec![
            "accepted",
            "rejected",
            "rejected",
            "duplicate",
            "rejected",
            "accepted"
        ]
    );
    assert_eq!(
        r["results"][1]["error"]["fields"][0]["loc"],
        json!(["properties", "amount"])
    );
    assert_eq!(r["results"][2]["error"]["code"], "member_not_found");
    assert_eq!(r["results"][4]["error"]["code"], "invalid_shape");
    let before = app.store.counts(&app.ws.id).await.expect("counts");
    assert_eq!((before.members, before.events, before.orders), (2, 2, 2));

    let again = app.batch(events).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 3);
    assert_eq!(app.store.counts(&app.ws.id).await.expect("counts"), before);
    assert_eq!(app.member("x2").await["stats"]["total_spend_minor"], 9999);

    // Atomic: one bad row and nothing lands.
    let (status, r) = app
        .post(
            "/v1/events:batch",
            json!({"atomic": true, "events": [paid("a1", "y1", "oa", "5", "2026-05-03"), {"id": "a2", "type": "checkin", "member": "nobody"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["committed"], false);
    assert_eq!(r["results"][0]["status"], "skipped");
    assert_eq!(app.store.counts(&app.ws.id).await.expect("counts"), before);
}
both!(batches_report_every_row_and_replays_change_nothing);

async fn a_full_batch_lands_in_one_go(app: TestApp) {
    let events: Vec<_> = (0..10_000)
        .map(|i| {
            paid(
                &format!("e{i}"),
                &format!("m{}", i % 700),
                &format!("o{i}"),
                "1.5",
                "2026-06-01",
            )
        })
        .collect();
    let r = app.batch(serde_json::Value::Array(events)).await;
    assert_eq!(r["accepted"], 10_000);
    assert_eq!(r["members_created"], 700);
    let c = app.store.counts(&app.ws.id).await.expect("counts");
    assert_eq!((c.members, c.events, c.orders), (700, 10_000, 10_000));
    // 10,000 orders of 1.50 over 700 members: member 0 has orders 0, 700, …, 9800.
    assert_eq!(app.member("m0").await["stats"]["order_count"], 15);
    assert_eq!(
        app.member("m0").await["stats"]["total_spend_minor"],
        15 * 150
    );
}
both!(a_full_batch_lands_in_one_go);

/// Aggregates kept incrementally (orders in any order, refunds, several batches) equal the
/// aggregates recomputed from the orders.
async fn incremental_aggregates_equal_recomputed(app: TestApp) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut events = Vec::new();
    let mut open: Vec<(String, String)> = Vec::new();
    for i in 0..400 {
        let member = format!("r{}", rng.random_range(0..15));
        if i % 7 == 3 && !open.is_empty() {
            let (m, o) = open.swap_remove(rng.random_range(0..open.len()));
            let partial = rng.random_bool(0.5);
            let props = if partial {
                json!({"order_id": o, "amount": "0.50"})
            } else {
                json!({"order_id": o})
            };
            events.push(json!({"id": format!("f{i}"), "type": "order.refunded", "member": m, "properties": props}));
        } else {
            let day = rng.random_range(1..28);
            let hour = rng.random_range(0..24);
            let at = format!("2026-02-{day:02}T{hour:02}:00:00Z");
            let amount = format!(
                "{}.{:02}",
                rng.random_range(0..300),
                rng.random_range(0..100)
            );
            events.push(paid(
                &format!("p{i}"),
                &member,
                &format!("o{i}"),
                &amount,
                &at,
            ));
            open.push((member, format!("o{i}")));
        }
    }
    for chunk in events.chunks(37) {
        app.batch(serde_json::Value::Array(chunk.to_vec())).await;
    }
    let mut members = Vec::new();
    for m in 0..15 {
        members.push(app.member(&format!("r{m}")).await);
    }
    let ids: Vec<String> = members
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut tx = app.store.begin_write(&app.ws.id).await.expect("tx");
    tx.refresh_order_stats(&refs).await.expect("refresh");
    tx.commit().await.expect("commit");
    for (m, before) in members.iter().enumerate() {
        let after = app.member(&format!("r{m}")).await;
        assert_eq!(before["stats"], after["stats"], "member r{m}");
    }
}
both!(incremental_aggregates_equal_recomputed);

/// What one batch learned of a member is not reused after a write in between: a profile
/// change through the API (same process) and a batch from a second connection (another
/// process) both show in the aggregates of the next batch.
async fn batches_see_writes_made_between_them(app: TestApp) {
    app.batch(json!([paid(
        "w1",
        "cw",
        "ow1",
        "10.00",
        "2026-03-01T20:00:00Z"
    )]))
    .await;
    let m = app.member("cw").await;
    assert_eq!(m["stats"]["order_days"], 1, "{m}");

    // Asia/Shanghai put both orders on 2 March; New York puts the second on 1 March, a
    // new (and earlier) order day.
    let (status, body) = app
        .patch("/v1/members/cw", json!({"time_zone": "America/New_York"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.batch(json!([paid(
        "w2",
        "cw",
        "ow2",
        "20.00",
        "2026-03-02T02:00:00Z"
    )]))
    .await;
    let m = app.member("cw").await;
    assert_eq!(m["stats"]["order_count"], 2, "{m}");
    assert_eq!(
        m["stats"]["order_days"], 2,
        "the new zone decides the day: {m}"
    );

    // Another process writes a batch for the same member through its own connections.
    let other = memberops_store::connect(&app._db.url)
        .await
        .expect("second store");
    let other_ws = memberops_app::Workspace::load(other.as_ref(), &app.ws.id)
        .await
        .expect("workspace");
    let event: memberops_core::event::EventIn =
        serde_json::from_value(paid("w3", "cw", "ow3", "30.00", "2026-03-10T12:00:00Z"))
            .expect("event");
    let report = memberops_app::ingest::apply_batch(
        other.as_ref(),
        &other_ws,
        vec![event],
        memberops_app::ingest::BatchOptions::default(),
    )
    .await
    .expect("batch from the other store");
    assert_eq!(report.accepted, 1);

    app.batch(json!([paid(
        "w4",
        "cw",
        "ow4",
        "40.00",
        "2026-03-11T12:00:00Z"
    )]))
    .await;
    let m = app.member("cw").await;
    assert_eq!(m["stats"]["order_count"], 4, "{m}");
    assert_eq!(m["stats"]["order_days"], 4, "{m}");
    assert_eq!(m["stats"]["event_count"], 4, "{m}");
    assert_eq!(m["stats"]["total_spend_minor"], 10_000, "{m}");
}
both!(batches_see_writes_made_between_them);
