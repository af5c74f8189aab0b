//! Tier privileges at checkout through the HTTP API: a gold member's 95折 and free
//! shipping as their own lines of `best`, after coupons by default (先满减后折扣) or before
//! them when the program says so, none for a disabled program, a member without a tier or
//! a guest, and redeem recording exactly what validate showed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

/// A member whose 10,000 yuan order makes them 金卡 (95折, free shipping) in the seed program.
async fn gold_member(app: &TestApp, ext: &str) {
    let (s, b) = app.post("/v1/members", json!({"external_id": ext})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let r = app
        .batch(
            json!([{"id": format!("{ext}-paid"), "type": "order.paid", "member": ext,
            "properties": {"order_id": format!("{ext}-first"), "amount": "10000.00"}}]),
        )
        .await;
    assert_eq!(r["accepted"], 1, "{r}");
    let (s, c) = app.get(&format!("/v1/members/{ext}/loyalty")).await;
    assert_eq!(
        (s, c["tier"]["code"].as_str()),
        (StatusCode::OK, Some("gold")),
        "{c}"
    );
}

/// A 满200减30 coupon for `ext`.
async fn man_jian(app: &TestApp, ext: &str) -> String {
    let (s, t) = app
        .post(
            "/v1/coupons/templates",
            json!({"name": "满200减30",
            "benefit": {"type": "amount_off", "off_minor": 3000, "min_spend_minor": 20000},
            "validity": {"kind": "days_from_issue", "days": 30}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"template_id": t["id"], "members": [ext]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["coupons"][0]["id"]
        .as_str()
        .expect("coupon id")
        .to_owned()
}

/// 300.00 of goods and 10.00 shipping.
fn cart() -> Value {
    json!({"lines": [{"sku": "A", "unit_price_minor": 10000, "quantity": 3}], "shipping_minor": 1000})
}

async fn validate(app: &TestApp, body: Value) -> Value {
    let (s, v) = app.post("/v1/checkout/validate", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn set_member_discount(app: &TestApp, enabled: bool, policy: Value) {
    let (_, mut p) = app.get("/v1/loyalty/program").await;
    p["enabled"] = json!(enabled);
    p["member_discount"] = policy;
    let (s, b) = app.call(Method::PUT, "/v1/loyalty/program", Some(p)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn gold_discount_and_shipping_after_coupons(app: TestApp) {
    gold_member(&app, "g").await;
    let coupon = man_jian(&app, "g").await;
    let v = validate(&app, json!({"member": "g", "cart": cart()})).await;
    let best = &v["best"];
    // 300 − 30 = 270, then 95折: 13.50 off; the tier waives the 10.00 shipping.
    assert_eq!(best["coupon_ids"], json!([coupon]), "{v}");
    assert_eq!(best["discount_minor"], 3000);
    assert_eq!(best["member_discount_minor"], 1350);
    assert_eq!(best["member_shipping_minor"], 1000);
    assert_eq!(best["payable_minor"], 25650);
    assert_eq!(v["payable_minor"], 25650);
    let kinds: Vec<&str> = best["adjustments"]
        .as_array()
        .expect("adjustments")
        .iter()
        .map(|a| a["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["member_shipping", "member_discount"]);
    assert_eq!(best["adjustments"][1]["tier"], "gold");
    assert_eq!(best["adjustments"][1]["discount_bp"], 9500);
    assert_eq!(best["adjustments"][1]["eligible_minor"], 27000);

    // Redeem records what validate showed, and the order keeps it.
    let (s, r) = app
        .post(
            "/v1/checkout/redeem",
            json!({"member": "g", "order_id": "o-1", "cart": cart(), "coupon_ids": [coupon]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(&r["combination"], best);
    let (_, o) = app.get("/v1/checkout/orders/o-1").await;
    assert_eq!(&o["combination"], best);

    // Without coupons the privileges alone are the best, and redeem records them.
    let v = validate(&app, json!({"member": "g", "cart": cart()})).await;
    assert_eq!(v["coupons"][0]["reason"], "locked", "{v}");
    assert_eq!(v["best"]["coupon_ids"], json!([]));
    // 300 × 5% = 15.00 off; no shipping.
    assert_eq!(v["payable_minor"], 28500);
    let (s, r) = app
        .post(
            "/v1/checkout/redeem",
            json!({"member": "g", "order_id": "o-2", "cart": cart(), "coupon_ids": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["combination"], v["best"]);
}
both!(gold_discount_and_shipping_after_coupons);

async fn the_program_places_the_discount_and_can_turn_it_off(app: TestApp) {
    gold_member(&app, "g").await;
    let coupon = man_jian(&app, "g").await;
    // Member price first: 300 × 0.95 = 285, then 30 off.
    set_member_discount(
        &app,
        true,
        json!({"apply": "before_coupons", "exclude_special_price": true}),
    )
    .await;
    let v = validate(&app, json!({"member": "g", "cart": cart()})).await;
    assert_eq!(v["best"]["member_discount_minor"], 1500, "{v}");
    assert_eq!(v["payable_minor"], 25500);
    // 205 at member prices is 194.75: below 满200.
    let small = json!({"lines": [{"sku": "A", "unit_price_minor": 20500, "quantity": 1}]});
    let v = validate(&app, json!({"member": "g", "cart": small})).await;
    assert_eq!(v["coupons"][0]["reason"], "below_minimum", "{v}");
    assert_eq!(v["payable_minor"], 19475);
    // Special-price lines take the discount when the program says so; rounding is down:
    // 5% of 19.99 is 0.9995 → 0.99.
    set_member_discount(
        &app,
        true,
        json!({"apply": "after_coupons", "exclude_special_price": false}),
    )
    .await;
    let special = json!({"lines": [{"sku": "S", "unit_price_minor": 1999, "quantity": 1, "special_price": true}]});
    let v = validate(&app, json!({"member": "g", "cart": special.clone()})).await;
    assert_eq!(v["best"]["member_discount_minor"], 99, "{v}");
    assert_eq!(v["payable_minor"], 1900);
    set_member_discount(
        &app,
        true,
        json!({"apply": "after_coupons", "exclude_special_price": true}),
    )
    .await;
    let v = validate(&app, json!({"member": "g", "cart": special})).await;
    assert_eq!(
        (v["best"].clone(), v["payable_minor"].clone()),
        (Value::Null, json!(1999)),
        "{v}"
    );
    // A disabled program gives no privileges; the coupon still applies.
    set_member_discount(
        &app,
        false,
        json!({"apply": "after_coupons", "exclude_special_price": true}),
    )
    .await;
    let v = validate(&app, json!({"member": "g", "cart": cart()})).await;
    assert_eq!(v["best"]["coupon_ids"], json!([coupon]), "{v}");
    assert_eq!(v["best"]["adjustments"], json!([]));
    assert_eq!(v["best"]["member_discount_minor"], 0);
    assert_eq!(v["payable_minor"], 28000);
}
both!(the_program_places_the_discount_and_can_turn_it_off);

async fn no_tier_and_guests_get_nothing(app: TestApp) {
    // A member the loyalty program has not seen has no tier.
    let (s, b) = app
        .post("/v1/members", json!({"external_id": "plain"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let v = validate(&app, json!({"member": "plain", "cart": cart()})).await;
    assert_eq!(
        (v["best"].clone(), v["payable_minor"].clone()),
        (Value::Null, json!(31000)),
        "{v}"
    );
    // A guest: no member at all.
    let v = validate(&app, json!({"cart": cart()})).await;
    assert_eq!(v["member_id"], Value::Null, "{v}");
    assert_eq!(v["coupons"], json!([]));
    assert_eq!(
        (v["best"].clone(), v["payable_minor"].clone()),
        (Value::Null, json!(31000))
    );
    // An unknown member is still not a guest.
    let (s, b) = app
        .post(
            "/v1/checkout/validate",
            json!({"member": "ghost", "cart": cart()}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
}
both!(no_tier_and_guests_get_nothing);
