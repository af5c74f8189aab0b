//! Every state change MemberOps makes is an event in the log, written with the change:
//! coupons issued, redeemed and expired, points expired, birthday gifts, stage moves of the
//! daily recompute. System events show in a member's timeline and are never activity.

use memberops_core::time::now_millis;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

/// A member's events of `kind`, oldest first, through the API.
async fn events_of(app: &TestApp, member: &str, kind: &str) -> Vec<Value> {
    let (s, b) = app
        .get(&format!("/v1/members/{member}/events?limit=1000"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut out: Vec<Value> = b["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect();
    out.reverse();
    out
}

async fn member(app: &TestApp, ext: &str) -> String {
    let (s, b) = app.post("/v1/members", json!({"external_id": ext})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_str().expect("id").to_owned()
}

async fn template(app: &TestApp, name: &str, days: u32) -> String {
    let spec = json!({"name": name, "benefit": {"type": "amount_off", "off_minor": 100},
        "validity": {"kind": "days_from_issue", "days": days}});
    let (s, b) = app.post("/v1/coupons/templates", spec).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_str().expect("id").to_owned()
}

/// Issues `quantity` of `tpl` to `ext`; the coupon ids.
async fn give(app: &TestApp, tpl: &str, ext: &str, quantity: i64) -> Vec<String> {
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"template_id": tpl, "members": [ext], "quantity": quantity}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    ids(&b["coupons"])
}

fn ids(coupons: &Value) -> Vec<String> {
    coupons
        .as_array()
        .expect("coupons")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

fn paid(id: &str, member: &str, amount: &str, at: &str) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": format!("o-{id}"), "amount": amount}})
}

fn as_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .timestamp_millis()
}

async fn issuing_records_coupon_issued(app: TestApp) {
    member(&app, "u1").await;
    let t = template(&app, "10元券", 30).await;
    let two = give(&app, &t, "u1", 2).await;
    let issued = events_of(&app, "u1", "coupon.issued").await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    let e = &issued[0];
    assert_eq!(e["id"], format!("coupon.issued:{}", two[0]));
    assert_eq!(
        e["properties"],
        json!({"coupon_ids": two, "template_id": t, "source": "issue"})
    );
    // A pack: one event per template.
    let other = template(&app, "包邮券", 30).await;
    let (s, pack) = app
        .post(
            "/v1/coupons/gift-packs",
            json!({"name": "礼包", "items": [{"template_id": t, "quantity": 2}, {"template_id": other}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{pack}");
    let (s, b) = app
        .post(
            "/v1/coupons/issue",
            json!({"pack_id": pack["id"], "members": ["u1"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let all = ids(&b["coupons"]);
    let issued = events_of(&app, "u1", "coupon.issued").await;
    let props: Vec<&Value> = issued[1..].iter().map(|e| &e["properties"]).collect();
    assert_eq!(
        props,
        vec![
            &json!({"coupon_ids": all[..2], "template_id": t, "source": "pack"}),
            &json!({"coupon_ids": all[2..], "template_id": other, "source": "pack"}),
        ]
    );
}
both!(issuing_records_coupon_issued);

async fn expiry_jobs_record_each_member_once(app: TestApp) {
    // Points: two lots of 2024 orders, expired when 2026 begins.
    app.batch(json!([
        paid("p1", "p", "100.00", "2024-01-10T12:00:00+08:00"),
        paid("p2", "p", "50.00", "2024-02-10T12:00:00+08:00"),
    ]))
    .await;
    let p = app.member("p").await["id"].as_str().expect("id").to_owned();
    let at = as_of("2026-01-01T00:00:00+08:00");
    for _ in 0..2 {
        memberops_app::loyalty::jobs::expire(app.store.as_ref(), &app.ws, at)
            .await
            .expect("expire");
    }
    let expired = events_of(&app, "p", "points.expired").await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["id"], format!("points.expired:{p}:{at}"));
    let props = &expired[0]["properties"];
    assert_eq!(props["points"], 150, "{props}");
    assert_eq!(props["as_of"], "2025-12-31T16:00:00.000Z");
    assert_eq!(props["lots"].as_array().map(Vec::len), Some(2));

    // Coupons: two short ones expire, the long one stays.
    let u = member(&app, "u1").await;
    let short = template(&app, "1天券", 1).await;
    let long = template(&app, "30天券", 30).await;
    let mut due = give(&app, &short, "u1", 2).await;
    give(&app, &long, "u1", 1).await;
    let later = now_millis() + 2 * 86_400_000;
    for _ in 0..2 {
        memberops_app::coupons::expire_due(app.store.as_ref(), &app.ws, later)
            .await
            .expect("sweep");
    }
    let expired = events_of(&app, "u1", "coupon.expired").await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["id"], format!("coupon.expired:{u}:{later}"));
    due.sort();
    assert_eq!(expired[0]["properties"], json!({"coupon_ids": due}));
}
both!(expiry_jobs_record_each_member_once);

async fn paid_redemption_records_coupon_redeemed(app: TestApp) {
    member(&app, "u1").await;
    let t = template(&app, "10元券", 30).await;
    let c = give(&app, &t, "u1", 1).await;
    let line = json!({"sku": "A", "category": "x", "brand": "acme", "unit_price_minor": 15000, "quantity": 1});
    let (s, r) = app
        .post(
            "/v1/checkout/redeem",
            json!({"member": "u1", "order_id": "o-1", "cart": {"lines": [line]}, "coupon_ids": c}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(events_of(&app, "u1", "coupon.redeemed").await.is_empty());
    app.batch(json!([{"id": "pay-1", "type": "order.paid", "member": "u1",
        "properties": {"order_id": "o-1", "amount": "149.00"}}]))
        .await;
    let redeemed = events_of(&app, "u1", "coupon.redeemed").await;
    assert_eq!(redeemed.len(), 1, "{redeemed:?}");
    assert_eq!(redeemed[0]["id"], "coupon.redeemed:o-1");
    assert_eq!(
        redeemed[0]["properties"],
        json!({"coupon_ids": c, "order_id": "o-1"})
    );
}
both!(paid_redemption_records_coupon_redeemed);

async fn birthday_gifts_record_birthday_gift(app: TestApp) {
    let tz = app.ws.time_zone;
    let now = now_millis();
    let today = memberops_loyalty::calendar::local_date(now, tz);
    let year = chrono::Datelike::year(&today);
    let birthday = format!("1990-{}", today.format("%m-%d")).replace("1990-02-29", "1992-02-29");
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "bday", "birthday": birthday, "time_zone": tz.name()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().expect("id").to_owned();
    // The first tier gives 50 points and a coupon on the birthday.
    let t = template(&app, "生日券", 30).await;
    let (_, mut program) = app.get("/v1/loyalty/program").await;
    let tier = program["tiers"][0]["code"].clone();
    program["tiers"][0]["privileges"]["birthday_points"] = json!(50);
    program["tiers"][0]["privileges"]["birthday_coupon"] = json!(t);
    let (s, saved) = app
        .call(Method::PUT, "/v1/loyalty/program", Some(program))
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    for _ in 0..2 {
        memberops_app::loyalty::birthday::birthday_gifts(app.store.as_ref(), &app.ws, now)
            .await
            .expect("gifts");
    }
    let (_, mine) = app.get("/v1/members/bday/coupons").await;
    let coupons = ids(&mine["data"]);
    assert_eq!(coupons.len(), 1, "{mine}");
    let gifts = events_of(&app, "bday", "birthday.gift").await;
    assert_eq!(gifts.len(), 1, "{gifts:?}");
    assert_eq!(gifts[0]["id"], format!("birthday.gift:{id}:{year}"));
    assert_eq!(
        gifts[0]["properties"],
        json!({"year": year, "tier": tier, "points": 50, "coupon_ids": coupons})
    );
    // The coupon is issued like any other, in the same transaction.
    assert_eq!(events_of(&app, "bday", "coupon.issued").await.len(), 1);
}
both!(birthday_gifts_record_birthday_gift);

async fn recompute_records_stage_moves(app: TestApp) {
    app.batch(json!([paid("q1", "q", "10", "2026-01-10T10:00:00Z")]))
        .await;
    let day = "2026-02-19";
    let (s, r) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, b) = app
        .call(
            Method::PUT,
            "/v1/intelligence/settings",
            Some(json!({"lifecycle": {"silent_after_days": 30}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, r) = app
        .post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["transitions"], 1, "{r}");
    let moves = events_of(&app, "q", "lifecycle.changed").await;
    let last = &moves.last().expect("a stage move")["properties"];
    assert_eq!(
        (&last["from"], &last["to"], &last["cause"]),
        (&json!("growing"), &json!("silent"), &json!("daily")),
        "{moves:?}"
    );
    // A run again for the same day records nothing more.
    app.post("/v1/lifecycle:recompute", json!({"as_of": day}))
        .await;
    assert_eq!(
        events_of(&app, "q", "lifecycle.changed").await.len(),
        moves.len()
    );
}
both!(recompute_records_stage_moves);

async fn system_events_are_not_activity(app: TestApp) {
    // Seen last on 2024-01-10; the expiry of that order's points on 2026-01-05 is MemberOps'
    // doing, not the member's.
    app.batch(json!([
        {"id": "reg-q", "type": "member.registered", "member": "q", "occurred_at": "2024-01-01T00:00:00Z",
         "properties": {"time_zone": "UTC"}},
        paid("q1", "q", "100.00", "2024-01-10T10:00:00Z"),
    ]))
    .await;
    memberops_app::loyalty::jobs::expire(
        app.store.as_ref(),
        &app.ws,
        as_of("2026-01-05T00:00:00Z"),
    )
    .await
    .expect("expire");
    assert_eq!(events_of(&app, "q", "points.expired").await.len(), 1);
    // Seen again in March: on 2026-01-20 the last activity is read back from the events.
    app.batch(json!([{"id": "v1", "type": "page.viewed", "member": "q",
        "occurred_at": "2026-03-01T00:00:00Z"}]))
        .await;
    let (s, b) = app.get("/v1/members/q/rfm?as_of=2026-01-20").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["lifecycle_stage"], "churned", "{b}");

    // Recounting activity from the events (after an identity merge) skips them too.
    let id = app.member("q").await["id"].as_str().expect("id").to_owned();
    let t = template(&app, "10元券", 30).await;
    give(&app, &t, "q", 1).await;
    let mut tx = app.store.begin_write(&app.ws.id).await.expect("tx");
    tx.refresh_activity(&id).await.expect("refresh");
    tx.commit().await.expect("commit");
    let (_, stats) = app
        .store
        .member(&app.ws.id, &id)
        .await
        .expect("member")
        .expect("stored");
    assert_eq!(stats.last_active_at, Some(as_of("2026-03-01T00:00:00Z")));
    assert_eq!(stats.event_count, 3);
}
both!(system_events_are_not_activity);
