//! Coupon templates, validation and stacking at checkout, issue → redeem → refund.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

pub(crate) async fn member(app: &TestApp, ext: &str) {
    let (s, b) = app.post("/v1/members", json!({"external_id": ext})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

pub(crate) async fn template(app: &TestApp, spec: Value) -> String {
    let (s, b) = app.post("/v1/coupons/templates", spec).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_str().expect("id").to_owned()
}

pub(crate) fn spec(name: &str, benefit: Value) -> Value {
    json!({"name": name, "benefit": benefit, "validity": {"kind": "days_from_issue", "days": 30}})
}

/// Issues one coupon of `tpl` to `ext` and returns its id.
pub(crate) async fn give(app: &TestApp, tpl: &str, ext: &str) -> String {
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"template_id": tpl, "members": [ext]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["coupons"][0]["id"]
        .as_str()
        .expect("coupon id")
        .to_owned()
}

pub(crate) fn line(sku: &str, category: &str, price: i64, qty: i64) -> Value {
    json!({"sku": sku, "category": category, "brand": "acme", "unit_price_minor": price, "quantity": qty})
}

pub(crate) async fn validate(app: &TestApp, ext: &str, channel: &str, cart: Value) -> Value {
    let (s, b) = app
        .post(
            "/v1/checkout/validate",
            json!({"member": ext, "channel": channel, "cart": cart}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

pub(crate) fn verdict<'a>(v: &'a Value, coupon: &str) -> &'a Value {
    v["coupons"]
        .as_array()
        .expect("coupons")
        .iter()
        .find(|c| c["coupon_id"] == coupon)
        .expect("coupon in answer")
}

async fn each_template_type_and_reason(app: TestApp) {
    member(&app, "u1").await;
    let amount = template(&app, json!({"name": "满200减30", "benefit": {"type": "amount_off", "off_minor": 3000, "min_spend_minor": 20000},
        "scope": {"exclude_special_price": true}, "validity": {"kind": "days_from_issue", "days": 7}})).await;
    let percent = template(
        &app,
        spec(
            "85折 max 50",
            json!({"type": "percent_off", "percent_off": 15, "cap_minor": 5000}),
        ),
    )
    .await;
    let gift = template(
        &app,
        spec(
            "满100赠",
            json!({"type": "free_gift", "gift_sku": "GIFT-1", "min_spend_minor": 10000}),
        ),
    )
    .await;
    let back = template(&app, spec("满300返200积分", json!({"type": "spend_return", "min_spend_minor": 30000, "reward": {"kind": "points", "points": 200}}))).await;
    let ship = template(
        &app,
        spec("包邮", json!({"type": "free_shipping", "cap_minor": 800})),
    )
    .await;
    let trial = template(
        &app,
        spec("体验券", json!({"type": "trial", "sku": "TEA-S"})),
    )
    .await;
    let shoes = template(
        &app,
        json!({"name": "鞋类9折", "benefit": {"type": "percent_off", "percent_off": 10},
        "scope": {"categories": ["shoes"]}, "validity": {"kind": "days_from_issue", "days": 7}}),
    )
    .await;
    let app_only = template(
        &app,
        json!({"name": "APP专享", "benefit": {"type": "amount_off", "off_minor": 500},
        "channels": ["app"], "validity": {"kind": "days_from_issue", "days": 7}}),
    )
    .await;
    let later = template(
        &app,
        json!({"name": "next year", "benefit": {"type": "amount_off", "off_minor": 500},
        "validity": {"kind": "fixed", "from": "2099-01-01", "to": "2099-12-31"}}),
    )
    .await;
    let past = template(
        &app,
        json!({"name": "last year", "benefit": {"type": "amount_off", "off_minor": 500},
        "validity": {"kind": "fixed", "from": "2020-01-01", "to": "2020-12-31"}}),
    )
    .await;
    let mut ids = std::collections::HashMap::new();
    for t in [
        &amount, &percent, &gift, &back, &ship, &trial, &shoes, &app_only, &later, &past,
    ] {
        ids.insert(t.clone(), give(&app, t, "u1").await);
    }
    // 3 × 66.67 + a special-price 100 + a 19.90 trial tea; shipping 12.
    let cart = json!({"lines": [line("A", "bags", 6667, 3), {"sku": "B", "category": "bags", "unit_price_minor": 10000, "quantity": 1, "special_price": true},
        line("TEA-S", "tea", 1990, 1)], "shipping_minor": 1200});
    let v = validate(&app, "u1", "store", cart.clone()).await;
    assert_eq!(v["subtotal_minor"], 6667 * 3 + 10000 + 1990);
    let d = |t: &String| verdict(&v, &ids[t]).clone();
    // 满200减30 counts only the non-special lines: 200.01 + 19.90 ≥ 200.
    assert_eq!(d(&amount)["applicable"], true, "{v}");
    assert_eq!(d(&amount)["discount_minor"], 3000);
    // 15% of 319.91 = 47.9865, rounded down, under the cap.
    assert_eq!(d(&percent)["discount_minor"], 4798);
    assert_eq!(d(&gift)["gift"], json!({"sku": "GIFT-1", "quantity": 1}));
    assert_eq!(d(&gift)["discount_minor"], 0);
    assert_eq!(d(&back)["reward"], json!({"kind": "points", "points": 200}));
    assert_eq!(d(&ship)["discount_minor"], 800);
    assert_eq!(d(&trial)["discount_minor"], 1990);
    assert_eq!(d(&shoes)["reason"], "out_of_scope");
    assert_eq!(d(&app_only)["reason"], "channel_not_allowed");
    assert_eq!(d(&later)["reason"], "not_started");
    assert_eq!(d(&past)["reason"], "expired");

    // Below the minimum once the special-price item is the bulk of the cart.
    let small = json!({"lines": [line("A", "bags", 5000, 1), {"sku": "B", "unit_price_minor": 90000, "quantity": 1, "special_price": true}]});
    let v = validate(&app, "u1", "app", small).await;
    assert_eq!(verdict(&v, &ids[&amount])["reason"], "below_minimum");
    // Without the exclusion, special-price items count towards a minimum.
    assert_eq!(verdict(&v, &ids[&back])["applicable"], true);
    assert_eq!(verdict(&v, &ids[&app_only])["applicable"], true);
    // The cap binds: 15% of 950 is 142.50, capped at 50.
    assert_eq!(verdict(&v, &ids[&percent])["discount_minor"], 5000);

    // Bad carts are refused before anything is looked up.
    for bad in [
        json!({"lines": [line("A", "x", -1, 1)]}),
        json!({"lines": [line("A", "x", 100, 0)]}),
        json!({"lines": [line("A", "x", 100, -2)]}),
        json!({"lines": []}),
    ] {
        let (s, b) = app
            .post(
                "/v1/checkout/validate",
                json!({"member": "u1", "cart": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    }
    let (s, b) = app
        .post(
            "/v1/checkout/validate",
            json!({"member": "ghost", "cart": {"lines": [line("A", "x", 1, 1)]}}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    // Bad templates are refused with the field named.
    let (s, b) = app
        .post(
            "/v1/coupons/templates",
            spec("bad", json!({"type": "percent_off", "percent_off": 150})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["errors"][0]["loc"], json!(["benefit", "percent_off"]));
}
both!(each_template_type_and_reason);

async fn stacking_picks_the_best_combination(app: TestApp) {
    member(&app, "u1").await;
    let exclusive = template(
        &app,
        spec(
            "exclusive 50",
            json!({"type": "amount_off", "off_minor": 5000}),
        ),
    )
    .await;
    let stack = |name: &str, benefit: Value, groups: Value| {
        json!({"name": name, "benefit": benefit, "stacking": {"mode": "stackable", "groups": groups},
               "validity": {"kind": "days_from_issue", "days": 30}})
    };
    let a = template(
        &app,
        stack(
            "30 off",
            json!({"type": "amount_off", "off_minor": 3000, "min_spend_minor": 10000}),
            json!(["store"]),
        ),
    )
    .await;
    let b = template(
        &app,
        stack(
            "10%",
            json!({"type": "percent_off", "percent_off": 10}),
            json!(["store", "platform"]),
        ),
    )
    .await;
    let c = template(
        &app,
        stack(
            "ship",
            json!({"type": "free_shipping"}),
            json!(["platform"]),
        ),
    )
    .await;
    let ce = give(&app, &exclusive, "u1").await;
    let ca = give(&app, &a, "u1").await;
    let cb = give(&app, &b, "u1").await;
    let cc = give(&app, &c, "u1").await;
    let _second_a = give(&app, &a, "u1").await;
    // 300.00 + 10 shipping. a then b: 30 off, then 10% of 270 = 27 → 57 beats 50 alone;
    // c cannot join a (no shared group).
    let cart = json!({"lines": [line("A", "x", 10000, 3)], "shipping_minor": 1000});
    let v = validate(&app, "u1", "app", cart.clone()).await;
    let best = &v["best"];
    assert_eq!(best["discount_minor"], 5700, "{v}");
    let mut chosen: Vec<String> = best["coupon_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|x| x.as_str().expect("id").to_owned())
        .collect();
    chosen.sort();
    let mut expect = vec![ca.clone(), cb.clone()];
    expect.sort();
    assert_eq!(chosen, expect);
    assert_eq!(best["line_discounts_minor"], json!([5700]));
    assert_eq!(best["payable_minor"], 30000 + 1000 - 5700);
    // Redeeming a combination that breaks the rules is refused with the reason.
    for bad in [vec![ce.clone(), ca.clone()], vec![ca.clone(), cc.clone()]] {
        let (s, body) = app
            .post(
                "/v1/checkout/redeem",
                json!({"member": "u1", "order_id": "o-bad", "cart": cart, "coupon_ids": bad}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "not_stackable");
    }
    // b + c stack through "platform": 30 + 10 = 40.
    let (s, body) = app
        .post(
            "/v1/checkout/redeem",
            json!({"member": "u1", "order_id": "o-1", "cart": cart, "coupon_ids": [cb, cc]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["combination"]["discount_minor"], 4000);
    assert_eq!(body["combination"]["shipping_discount_minor"], 1000);
}
both!(stacking_picks_the_best_combination);

pub(crate) fn ev(id: &str, kind: &str, member: &str, props: Value) -> Value {
    json!({"id": id, "type": kind, "member": member, "properties": props})
}

async fn issue_validate_redeem_pay_refund(app: TestApp) {
    member(&app, "u1").await;
    member(&app, "u2").await;
    let follow = template(
        &app,
        spec("回购券", json!({"type": "amount_off", "off_minor": 1000})),
    )
    .await;
    let t = template(&app, json!({"name": "满100减20", "benefit": {"type": "amount_off", "off_minor": 2000, "min_spend_minor": 10000},
        "limits": {"budget_minor": 100000}, "validity": {"kind": "days_from_issue", "days": 30}})).await;
    let back = template(&app, json!({"name": "满返券", "benefit": {"type": "spend_return", "reward": {"kind": "coupon", "template_id": follow}},
        "stacking": {"mode": "stackable", "groups": ["g"]}, "validity": {"kind": "days_from_issue", "days": 30}})).await;
    let c1 = give(&app, &t, "u1").await;
    let other = give(&app, &t, "u2").await;
    let cart = json!({"lines": [line("A", "x", 15000, 1)]});
    let v = validate(&app, "u1", "app", cart.clone()).await;
    assert_eq!(v["best"]["coupon_ids"], json!([c1]));

    let redeem = |order: &str, ids: Value| json!({"member": "u1", "order_id": order, "cart": cart, "coupon_ids": ids});
    let (s, r) = app
        .post("/v1/checkout/redeem", redeem("o-1", json!([c1])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "locked");
    assert_eq!(r["combination"]["discount_minor"], 2000);
    // Same order again: same answer, nothing new locked.
    let (s, again) = app
        .post("/v1/checkout/redeem", redeem("o-1", json!([c1])))
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["combination"], r["combination"]);
    // The coupon is in use; someone else's coupon is not ours to use.
    let (s, b) = app
        .post("/v1/checkout/redeem", redeem("o-2", json!([c1])))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("locked")),
        "{b}"
    );
    let (s, b) = app
        .post("/v1/checkout/redeem", redeem("o-2", json!([other])))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_owner")),
        "{b}"
    );
    let (s, b) = app.post("/v1/checkout/redeem", json!({"member": "u1", "order_id": "o-3", "cart": {"lines": [line("A", "x", 100, -1)]}, "coupon_ids": [c1]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    app.batch(json!([ev(
        "pay-1",
        "order.paid",
        "u1",
        json!({"order_id": "o-1", "amount": "130.00"})
    )]))
    .await;
    let (_, c) = app.get(&format!("/v1/coupons/{c1}")).await;
    assert_eq!(c["status"], "redeemed");
    let (s, b) = app
        .post("/v1/checkout/redeem", redeem("o-4", json!([c1])))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_used")),
        "{b}"
    );
    let (_, rep) = app.get(&format!("/v1/coupons/templates/{t}/report")).await;
    assert_eq!(rep["issued"], 2, "{rep}");
    assert_eq!(rep["redeemed"], 1);
    assert_eq!(rep["discount_minor"], 2000);
    assert_eq!(rep["orders"], 1);
    assert_eq!(rep["revenue_minor"], 13000);
    let (_, tpl) = app.get(&format!("/v1/coupons/templates/{t}")).await;
    assert_eq!(tpl["budget_used_minor"], 2000);

    // A full refund gives the coupon back and the budget with it.
    app.batch(json!([ev(
        "ref-1",
        "order.refunded",
        "u1",
        json!({"order_id": "o-1"})
    )]))
    .await;
    let (_, c) = app.get(&format!("/v1/coupons/{c1}")).await;
    assert_eq!(c["status"], "issued");
    let (_, o) = app.get("/v1/checkout/orders/o-1").await;
    assert_eq!(o["status"], "refunded");
    let (_, rep) = app.get(&format!("/v1/coupons/templates/{t}/report")).await;
    assert_eq!(
        (
            rep["redeemed"].as_i64(),
            rep["discount_minor"].as_i64(),
            rep["available"].as_i64()
        ),
        (Some(0), Some(0), Some(2)),
        "{rep}"
    );

    // Cancel before payment releases; 满返 issues the follow-up coupon once paid.
    let cb = give(&app, &back, "u1").await;
    let (s, r) = app
        .post("/v1/checkout/redeem", redeem("o-5", json!([c1, cb])))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}"); // 满减 here is exclusive
    let (s, r) = app
        .post("/v1/checkout/redeem", redeem("o-5", json!([c1])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    app.batch(json!([ev(
        "cancel-5",
        "order.cancelled",
        "u1",
        json!({"order_id": "o-5"})
    )]))
    .await;
    let (_, c) = app.get(&format!("/v1/coupons/{c1}")).await;
    assert_eq!(c["status"], "issued");
    let (s, r) = app
        .post("/v1/checkout/redeem", redeem("o-6", json!([cb])))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    app.batch(json!([ev(
        "pay-6",
        "order.paid",
        "u1",
        json!({"order_id": "o-6", "amount": "150"})
    )]))
    .await;
    let (_, mine) = app.get("/v1/members/u1/coupons").await;
    let follow_ups = mine["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|c| c["template_id"] == follow.as_str())
        .count();
    assert_eq!(follow_ups, 1, "{mine}");
}
both!(issue_validate_redeem_pay_refund);
