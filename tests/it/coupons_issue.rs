//! Coupons issued other ways: gift packs and event rules, share-to-claim, codes, points
//! spent and returned, expiry, issuing to a segment; concurrent redemptions.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::coupons::{ev, give, line, member, spec, template};
use crate::both;
use crate::helpers::TestApp;

async fn gift_packs_are_atomic_and_event_rules_issue_them(app: TestApp) {
    member(&app, "u1").await;
    member(&app, "u2").await;
    let plenty = template(
        &app,
        spec("新人10元", json!({"type": "amount_off", "off_minor": 1000})),
    )
    .await;
    let scarce = template(
        &app,
        json!({"name": "新人包邮", "benefit": {"type": "free_shipping"}, "limits": {"stock": 1},
        "validity": {"kind": "days_from_issue", "days": 30}}),
    )
    .await;
    let (s, pack) = app.post("/v1/coupons/gift-packs", json!({"name": "新人大礼包", "items": [{"template_id": plenty, "quantity": 2}, {"template_id": scarce}]})).await;
    assert_eq!(s, StatusCode::CREATED, "{pack}");
    let pack = pack["id"].as_str().expect("id").to_owned();
    // Two members need two of the scarce template: nobody gets anything.
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"pack_id": pack, "members": ["u1", "u2"]}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("out_of_stock")),
        "{b}"
    );
    for m in ["u1", "u2"] {
        let (_, mine) = app.get(&format!("/v1/members/{m}/coupons")).await;
        assert_eq!(mine["data"], json!([]));
    }
    let (_, t) = app.get(&format!("/v1/coupons/templates/{plenty}")).await;
    assert_eq!(t["issued_count"], 0);
    // An unknown member also fails the whole list.
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"template_id": plenty, "members": ["u1", "nobody"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["type"], "member_not_found");
    // One member: the whole pack, idempotent by key.
    let body = json!({"pack_id": pack, "members": ["u1"], "idempotency_key": "welcome-u1"});
    let (s, b) = app.post("/v1/coupons/issue", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["issued"], 3);
    let (s, again) = app.post("/v1/coupons/issue", body).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(again, b);

    // New members get the (now restocked) pack from an event rule.
    let mut restock = spec("新人包邮", json!({"type": "free_shipping"}));
    restock["limits"] = json!({"stock": 100});
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/coupons/templates/{scarce}"),
            Some(restock),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "/v1/coupons/rules",
            json!({"event_type": "member.registered", "pack_id": pack}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    member(&app, "u3").await;
    // Rules run after the commit, as a consumer of the event log.
    app.drain().await;
    let (_, mine) = app.get("/v1/members/u3/coupons").await;
    assert_eq!(mine["data"].as_array().expect("data").len(), 3, "{mine}");
    assert!(
        mine["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|c| c["source"] == "pack")
    );
}
both!(gift_packs_are_atomic_and_event_rules_issue_them);

async fn share_to_claim_rewards_the_sharer(app: TestApp) {
    for m in ["s", "f1", "f2", "f3"] {
        member(&app, m).await;
    }
    let reward = template(
        &app,
        spec("分享奖励", json!({"type": "amount_off", "off_minor": 2000})),
    )
    .await;
    let mut shared = spec("好友券", json!({"type": "amount_off", "off_minor": 500}));
    shared["share"] =
        json!({"reward_template_id": reward, "threshold": 2, "max_rewards_per_sharer": 1});
    let shared = template(&app, shared).await;
    let (s, link) = app
        .post(
            "/v1/coupons/share-links",
            json!({"template_id": shared, "member": "s"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let link = link["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/coupons/share-links/{link}/claims");
    let (s, b) = app.post(&path, json!({"member": "s"})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("own_link")),
        "{b}"
    );
    let (s, b) = app.post(&path, json!({"member": "f1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["coupon"]["member_id"].is_string());
    assert!(b["sharer_reward"].is_null());
    let (s, b) = app.post(&path, json!({"member": "f1"})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached")),
        "{b}"
    );
    let (s, b) = app.post(&path, json!({"member": "f2"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["sharer_reward"]["template_id"], reward.as_str(), "{b}");
    assert_eq!(b["link"]["claims"], 2);
    let (s, b) = app.post(&path, json!({"member": "f3"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, mine) = app.get("/v1/members/s/coupons").await;
    assert_eq!(
        mine["data"].as_array().expect("data").len(),
        1,
        "one reward at most: {mine}"
    );

    // First-order trigger: the reward comes when a friend pays their first order.
    let mut by_orders = spec("首单裂变", json!({"type": "amount_off", "off_minor": 500}));
    by_orders["share"] =
        json!({"reward_template_id": reward, "threshold": 1, "trigger": "first_orders"});
    let by_orders = template(&app, by_orders).await;
    let (_, link) = app
        .post(
            "/v1/coupons/share-links",
            json!({"template_id": by_orders, "member": "f1"}),
        )
        .await;
    let path = format!(
        "/v1/coupons/share-links/{}/claims",
        link["id"].as_str().expect("id")
    );
    let (s, b) = app.post(&path, json!({"member": "f3"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["sharer_reward"].is_null());
    app.batch(json!([ev(
        "p-f3",
        "order.paid",
        "f3",
        json!({"order_id": "of3", "amount": "10"})
    )]))
    .await;
    let (_, mine) = app.get("/v1/members/f1/coupons").await;
    assert!(
        mine["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|c| c["source"] == "share_reward"),
        "{mine}"
    );
}
both!(share_to_claim_rewards_the_sharer);

async fn concurrent_redemptions_of_one_coupon(app: TestApp) {
    member(&app, "u1").await;
    let t = template(
        &app,
        spec("10 off", json!({"type": "amount_off", "off_minor": 1000})),
    )
    .await;
    let c = give(&app, &t, "u1").await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = app.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            app.post(
                "/v1/checkout/redeem",
                json!({"member": "u1", "order_id": format!("race-{i}"),
                "cart": {"lines": [line("A", "x", 5000, 1)]}, "coupon_ids": [c]}),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (s, b) = t.await.expect("task");
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                assert!(b["code"] == "locked" || b["code"] == "already_used", "{b}")
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!(ok, 1);
}
both!(concurrent_redemptions_of_one_coupon);

async fn codes_and_shared_codes(app: TestApp) {
    member(&app, "u1").await;
    member(&app, "u2").await;
    let t = template(
        &app,
        spec("码券", json!({"type": "amount_off", "off_minor": 1000})),
    )
    .await;
    let (s, b) = app
        .post(
            &format!("/v1/coupons/templates/{t}/codes"),
            json!({"count": 5000, "pattern": {"prefix": "VIP-", "length": 8}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let codes: Vec<&str> = b["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code"))
        .collect();
    assert_eq!(codes.len(), 5000);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        5000
    );
    let (s, b) = app
        .post(
            "/v1/coupons/claim",
            json!({"member": "u1", "code": codes[0].to_lowercase()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["valid_to"].is_string());
    let (s, b) = app
        .post(
            "/v1/coupons/claim",
            json!({"member": "u2", "code": codes[0]}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_claimed")),
        "{b}"
    );
    let (s, b) = app
        .post(
            &format!("/v1/coupons/templates/{t}/codes"),
            json!({"count": 10, "pattern": {"length": 6, "charset": "AB"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    let mut public = spec("口令券", json!({"type": "amount_off", "off_minor": 300}));
    public["shared_code"] = json!("spring2026");
    public["limits"] = json!({"stock": 1});
    template(&app, public).await;
    let (s, b) = app
        .post(
            "/v1/coupons/claim",
            json!({"member": "u1", "code": "SPRING2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app
        .post(
            "/v1/coupons/claim",
            json!({"member": "u1", "code": "SPRING2026"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached")),
        "{b}"
    );
    let (s, b) = app
        .post(
            "/v1/coupons/claim",
            json!({"member": "u2", "code": "SPRING2026"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("out_of_stock")),
        "{b}"
    );
    let (_, rep) = app.get(&format!("/v1/coupons/templates/{t}/report")).await;
    assert_eq!(
        (rep["claimed"].as_i64(), rep["unclaimed_codes"].as_i64()),
        (Some(1), Some(4999)),
        "{rep}"
    );
}
both!(codes_and_shared_codes);

/// 满返 points go into the loyalty ledger; a partial refund keeps the coupons used, the
/// refund that completes the order restores them (template `on_refund: restore`).
async fn spend_return_points_and_partial_refunds(app: TestApp) {
    member(&app, "u1").await;
    let back = template(&app, json!({"name": "满100返50分", "benefit": {"type": "spend_return", "min_spend_minor": 10000,
        "reward": {"kind": "points", "points": 50}}, "validity": {"kind": "days_from_issue", "days": 30}})).await;
    let cb = give(&app, &back, "u1").await;
    let cart = json!({"lines": [line("A", "x", 12000, 1)]});
    let (s, r) = app
        .post(
            "/v1/checkout/redeem",
            json!({"member": "u1", "order_id": "o-p", "cart": cart, "coupon_ids": [cb]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    app.batch(json!([ev(
        "pay-p",
        "order.paid",
        "u1",
        json!({"order_id": "o-p", "amount": "120.00"})
    )]))
    .await;
    let (s, ledger) = app.get("/v1/members/u1/points/ledger?limit=1000").await;
    assert_eq!(s, StatusCode::OK, "{ledger}");
    let rewards: Vec<&Value> = ledger["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|l| l["kind"] == "adjust" && l["order_id"] == "o-p")
        .collect();
    assert_eq!(rewards.len(), 1, "{ledger}");
    assert_eq!(rewards[0]["points"], 50);

    // Partial refund: the coupon stays used, the order says so.
    app.batch(json!([ev(
        "ref-p1",
        "order.refunded",
        "u1",
        json!({"order_id": "o-p", "amount": "20.00"})
    )]))
    .await;
    // The refund's reversal starts from the balance that holds the 满返 points.
    crate::loyalty::assert_cache_matches_ledger(&app, "u1").await;
    let (_, c) = app.get(&format!("/v1/coupons/{cb}")).await;
    assert_eq!(c["status"], "redeemed", "{c}");
    let (_, o) = app.get("/v1/checkout/orders/o-p").await;
    assert_eq!(o["status"], "partially_refunded", "{o}");
    let (_, rep) = app
        .get(&format!("/v1/coupons/templates/{back}/report"))
        .await;
    assert_eq!(rep["redeemed"], 1, "{rep}");
    // The rest of the refund completes it: restored, as a single full refund would.
    app.batch(json!([ev(
        "ref-p2",
        "order.refunded",
        "u1",
        json!({"order_id": "o-p", "amount": "100.00"})
    )]))
    .await;
    let (_, c) = app.get(&format!("/v1/coupons/{cb}")).await;
    assert_eq!(c["status"], "issued", "{c}");
    let (_, o) = app.get("/v1/checkout/orders/o-p").await;
    assert_eq!(o["status"], "refunded", "{o}");
}
both!(spend_return_points_and_partial_refunds);

/// The sweep moves issued coupons whose window closed to `expired`, once.
async fn expiry_sweep(app: TestApp) {
    member(&app, "u1").await;
    let short = template(
        &app,
        json!({"name": "1天券", "benefit": {"type": "amount_off", "off_minor": 100},
        "validity": {"kind": "days_from_issue", "days": 1}}),
    )
    .await;
    let long = template(
        &app,
        spec("30天券", json!({"type": "amount_off", "off_minor": 100})),
    )
    .await;
    let a = give(&app, &short, "u1").await;
    let b = give(&app, &short, "u1").await;
    let keep = give(&app, &long, "u1").await;
    let in_two_days = memberops_core::time::now_millis() + 2 * 86_400_000;
    let out = memberops_app::coupons::expire_due(app.store.as_ref(), &app.ws, in_two_days)
        .await
        .expect("sweep");
    assert_eq!(out.expired, 2);
    for (id, want) in [(&a, "expired"), (&b, "expired"), (&keep, "issued")] {
        let (_, c) = app.get(&format!("/v1/coupons/{id}")).await;
        assert_eq!(c["status"], want, "{c}");
    }
    let again = memberops_app::coupons::expire_due(app.store.as_ref(), &app.ws, in_two_days)
        .await
        .expect("sweep");
    assert_eq!(again.expired, 0);
    let (_, rep) = app
        .get(&format!("/v1/coupons/templates/{short}/report"))
        .await;
    assert_eq!(
        (rep["expired"].as_i64(), rep["available"].as_i64()),
        (Some(2), Some(0)),
        "{rep}"
    );
}
both!(expiry_sweep);

/// Issuing to a saved segment: per-member limits and stock skip members (counted), the
/// same key never issues twice, another template needs another key.
async fn issue_to_a_segment(app: TestApp) {
    for i in 0..5 {
        member(&app, &format!("s{i}")).await;
    }
    // Buyers: s0..s3.
    let events: Vec<Value> = (0..4)
        .map(|i| {
            ev(
                &format!("buy-{i}"),
                "order.paid",
                &format!("s{i}"),
                json!({"order_id": format!("ob-{i}"), "amount": "10"}),
            )
        })
        .collect();
    app.batch(Value::Array(events)).await;
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "buyers", "condition": {"field": "orders", "op": "gte", "value": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{seg}");
    let seg = seg["id"].as_str().expect("id").to_owned();
    let t = template(&app, json!({"name": "限量", "benefit": {"type": "amount_off", "off_minor": 500},
        "limits": {"per_member": 1, "stock": 3}, "validity": {"kind": "days_from_issue", "days": 30}})).await;
    // s0 already holds one: at the per-member limit.
    give(&app, &t, "s0").await;
    let body = json!({"segment_id": seg, "template_id": t, "idempotency_key": "camp-1"});
    let (s, out) = app.post("/v1/coupons/issue/segment", body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["members"], 4, "{out}");
    assert_eq!(out["skipped_limit_reached"], 1, "{out}");
    // Stock 3, one given above: two members get one each, the last is skipped.
    assert_eq!(out["members_issued"], 2, "{out}");
    assert_eq!(out["coupons_issued"], 2, "{out}");
    assert_eq!(out["skipped_out_of_stock"], 1, "{out}");
    let (_, tpl) = app.get(&format!("/v1/coupons/templates/{t}")).await;
    assert_eq!(tpl["issued_count"], 3, "{tpl}");
    // Same key: same answer, nothing issued.
    let (s, again) = app.post("/v1/coupons/issue/segment", body).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again, out);
    let (_, tpl) = app.get(&format!("/v1/coupons/templates/{t}")).await;
    assert_eq!(tpl["issued_count"], 3, "{tpl}");
    // Not a member of the segment: s4 got nothing.
    let (_, mine) = app.get("/v1/members/s4/coupons").await;
    assert_eq!(mine["data"].as_array().map(Vec::len), Some(0), "{mine}");
    // A reused key for another template is refused.
    let other = template(
        &app,
        spec("普通", json!({"type": "amount_off", "off_minor": 100})),
    )
    .await;
    let (s, b) = app
        .post(
            "/v1/coupons/issue/segment",
            json!({"segment_id": seg, "template_id": other, "idempotency_key": "camp-1"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("key_reused")),
        "{b}"
    );
    let (s, b) = app
        .post(
            "/v1/coupons/issue/segment",
            json!({"segment_id": seg, "template_id": other, "idempotency_key": "camp-2", "quantity": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["members_issued"].as_i64(), b["coupons_issued"].as_i64()),
        (Some(4), Some(8)),
        "{b}"
    );
}
both!(issue_to_a_segment);
