//! Loyalty through the HTTP API on both databases: the scripted member journey, spending
//! under concurrency, and the cached balance against the ledger.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

pub(crate) fn ev(id: &str, kind: &str, member: &str, at: &str, props: Value) -> Value {
    json!({"id": id, "type": kind, "member": member, "occurred_at": at, "properties": props})
}

pub(crate) fn paid(id: &str, member: &str, order: &str, amount: &str, at: &str) -> Value {
    ev(
        id,
        "order.paid",
        member,
        at,
        json!({"order_id": order, "amount": amount}),
    )
}

pub(crate) async fn one(app: &TestApp, e: Value) {
    let r = app.batch(json!([e])).await;
    assert_eq!(r["accepted"], 1, "{r}");
}

async fn invite_code(app: &TestApp, member: &str, at: &str) -> String {
    center(app, member, at).await["referral"]["invite_code"]
        .as_str()
        .expect("code")
        .to_owned()
}

/// `member` registers with a referrer's invite code; the event id is `<member>-reg`.
async fn register_with_code(app: &TestApp, member: &str, at: &str, code: &str) {
    let id = format!("{member}-reg");
    one(
        app,
        ev(
            &id,
            "member.registered",
            member,
            at,
            json!({"invite_code": code}),
        ),
    )
    .await;
}

async fn center(app: &TestApp, member: &str, at: &str) -> Value {
    let (s, b) = app
        .get(&format!(
            "/v1/members/{member}/loyalty?at={}",
            at.replace('+', "%2B")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

/// Every points line, oldest first, as (kind, points, event_id, rule_id).
pub(crate) async fn ledger(app: &TestApp, member: &str) -> Vec<(String, i64, String, String)> {
    let (s, b) = app
        .get(&format!("/v1/members/{member}/points/ledger?limit=1000"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut v: Vec<_> = b["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().expect("kind").to_owned(),
                l["points"].as_i64().expect("points"),
                l["event_id"].as_str().expect("event").to_owned(),
                l["rule_id"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    v.reverse();
    v
}

/// The cached balance equals the sum of the ledger, and each lot's cache its lines.
pub(crate) async fn assert_cache_matches_ledger(app: &TestApp, member: &str) {
    let m = app.member(member).await;
    let id = m["id"].as_str().expect("id");
    let lines = app
        .store
        .all_points_lines(&app.ws.id, id)
        .await
        .expect("lines");
    let cached = app
        .store
        .loyalty_member(&app.ws.id, id)
        .await
        .expect("state")
        .map_or(0, |r| r.points_balance);
    assert_eq!(
        cached,
        lines.iter().map(|l| l.points).sum::<i64>(),
        "balance of {member}"
    );
    let lots = app
        .store
        .member_open_lots(&app.ws.id, id)
        .await
        .expect("lots");
    for lot in lots {
        let sum: i64 = lines
            .iter()
            .filter(|l| l.lot_id.as_deref() == Some(lot.id.as_str()))
            .map(|l| l.lot_delta)
            .sum();
        assert_eq!(sum, lot.remaining, "lot {}", lot.id);
    }
}

fn l(kind: &str, points: i64, event: &str, rule: &str) -> (String, i64, String, String) {
    (kind.into(), points, event.into(), rule.into())
}

async fn member_journey(app: TestApp) {
    // Registration and three days of check-ins: 100 + 3 × 5 growth, streak day 3 gives 5 points.
    one(
        &app,
        ev(
            "reg",
            "member.registered",
            "alice",
            "2024-01-10T09:00:00+08:00",
            json!({"time_zone": "Asia/Shanghai"}),
        ),
    )
    .await;
    for (i, d) in ["2024-01-10", "2024-01-11", "2024-01-12"]
        .iter()
        .enumerate()
    {
        one(
            &app,
            ev(
                &format!("ck{}", i + 1),
                "checkin",
                "alice",
                &format!("{d}T08:00:00+08:00"),
                json!({}),
            ),
        )
        .await;
    }
    // A second check-in the same local day earns nothing.
    one(
        &app,
        ev(
            "ck3b",
            "checkin",
            "alice",
            "2024-01-12T20:00:00+08:00",
            json!({}),
        ),
    )
    .await;
    let c = center(&app, "alice", "2024-01-12T21:00:00+08:00").await;
    assert_eq!(
        (
            c["growth"]["total"].as_i64(),
            c["checkin"]["streak"].as_i64()
        ),
        (Some(115), Some(3))
    );
    assert_eq!(c["checkin"]["checked_in_today"], true);
    assert_eq!(c["points"]["pending"], 5);

    // 1,950 yuan: 1,950 growth reaches 银卡 at once; 1,950 points at ×1.
    one(
        &app,
        paid("p1", "alice", "o1", "1950.00", "2024-01-20T12:00:00+08:00"),
    )
    .await;
    let c = center(&app, "alice", "2024-01-20T13:00:00+08:00").await;
    assert_eq!(c["tier"]["code"], "silver");
    assert_eq!(c["tier"]["name"], "银卡会员");
    assert_eq!(c["next_tier"]["code"], "gold");
    assert_eq!(c["growth_needed"], 10_000 - 2065);
    assert_eq!(c["privileges"]["points_multiplier_bp"], 12_000);
    assert_eq!(c["points"]["balance"], 1955);
    // Silver earns ×1.2; the refund then takes back those points and that growth.
    one(
        &app,
        paid("p2", "alice", "o2", "100.00", "2024-02-01T12:00:00+08:00"),
    )
    .await;
    assert_eq!(
        center(&app, "alice", "2024-02-01T13:00:00+08:00").await["points"]["balance"],
        2075
    );
    one(
        &app,
        ev(
            "f2",
            "order.refunded",
            "alice",
            "2024-02-03T12:00:00+08:00",
            json!({"order_id": "o2"}),
        ),
    )
    .await;
    let c = center(&app, "alice", "2024-02-03T13:00:00+08:00").await;
    assert_eq!(
        (
            c["points"]["balance"].as_i64(),
            c["growth"]["total"].as_i64()
        ),
        (Some(1955), Some(2065))
    );

    // The review after the protection year: no growth in the window → one tier down.
    let as_of = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp_millis()
    };
    let r = memberops_app::loyalty::jobs::review(
        app.store.as_ref(),
        &app.ws,
        as_of("2025-03-01T00:00:00+08:00"),
    )
    .await
    .expect("review");
    assert_eq!((r.downgraded, r.upgraded), (1, 0));
    let again = memberops_app::loyalty::jobs::review(
        app.store.as_ref(),
        &app.ws,
        as_of("2025-03-01T00:00:00+08:00"),
    )
    .await
    .expect("review");
    assert_eq!(
        again.downgraded, 0,
        "re-running a review date changes nothing"
    );
    assert_eq!(
        center(&app, "alice", "2025-03-02T00:00:00+08:00").await["tier"]["code"],
        "normal"
    );
    let (_, evs) = app.get("/v1/members/alice/events?limit=100").await;
    let tiers: Vec<(String, String)> = evs["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "tier.changed")
        .map(|e| {
            (
                e["properties"]["from"].as_str().unwrap_or("").to_owned(),
                e["properties"]["to"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tiers,
        vec![
            ("silver".to_owned(), "normal".to_owned()),
            ("normal".to_owned(), "silver".to_owned())
        ]
    );

    // Back at ×1; then a referral: Bob registers with Alice's code and pays his first order.
    one(
        &app,
        paid("p3", "alice", "o3", "50.00", "2025-06-01T12:00:00+08:00"),
    )
    .await;
    let code = invite_code(&app, "alice", "2025-06-02T00:00:00+08:00").await;
    register_with_code(
        &app,
        "bob",
        "2025-07-01T10:00:00+08:00",
        &code.to_lowercase(),
    )
    .await;
    one(
        &app,
        paid("bp1", "bob", "b1", "10.00", "2025-07-05T10:00:00+08:00"),
    )
    .await;
    let c = center(&app, "alice", "2025-07-06T00:00:00+08:00").await;
    assert_eq!(
        (
            c["referral"]["invited"].as_i64(),
            c["referral"]["rewarded"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(c["points"]["balance"], 1955 + 50 + 200);
    assert_eq!(c["growth"]["total"], 2065 + 50 + 100);
    let b = center(&app, "bob", "2025-07-06T00:00:00+08:00").await;
    assert_eq!(
        (
            b["points"]["balance"].as_i64(),
            b["growth"]["total"].as_i64()
        ),
        (Some(10 + 100), Some(110))
    );

    // Spending: too much → 409; a spend, and its replay, recorded once.
    let (s, body) = app
        .post(
            "/v1/members/alice/points:spend",
            json!({"points": 1000, "idempotency_key": "k-big"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("insufficient_points")),
        "{body}"
    );
    let (s, first) = app
        .post(
            "/v1/members/alice/points:spend",
            json!({"points": 10, "idempotency_key": "k1", "reason": "mall order 9"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (_, replay) = app
        .post(
            "/v1/members/alice/points:spend",
            json!({"points": 10, "idempotency_key": "k1", "reason": "mall order 9"}),
        )
        .await;
    assert_eq!(first, replay);
    assert_eq!(first["balance"], 2195);
    let (s, _) = app
        .post(
            "/v1/members/ghost/points:spend",
            json!({"points": 1, "idempotency_key": "k2"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = app
        .post(
            "/v1/members/alice/points:adjust",
            json!({"points": 5, "idempotency_key": "k3", "reason": " "}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Expiry of the 2024 lots when 2026 begins in Shanghai; a second run writes nothing.
    let e = memberops_app::loyalty::jobs::expire(
        app.store.as_ref(),
        &app.ws,
        as_of("2026-01-01T00:00:00+08:00"),
    )
    .await
    .expect("expire");
    assert_eq!((e.points, e.lots), (1955, 2));
    let e = memberops_app::loyalty::jobs::expire(
        app.store.as_ref(),
        &app.ws,
        as_of("2026-01-01T00:00:00+08:00"),
    )
    .await
    .expect("expire");
    assert_eq!(e.lots, 0);
    let c = center(&app, "alice", "2026-12-15T00:00:00+08:00").await;
    assert_eq!(c["points"]["balance"], 240);
    assert_eq!(c["points"]["available"], 240);
    assert_eq!(c["points"]["expiring_30d"], 240);
    assert_eq!(c["growth"]["window"], 0);

    let accepted = format!("referral.accepted:{}", b["member_id"].as_str().expect("id"));
    assert_eq!(
        ledger(&app, "alice").await,
        vec![
            l("earn", 5, "ck3", "checkin.streak.3"),
            l("earn", 1950, "p1", "spend"),
            l("earn", 120, "p2", "spend"),
            l("reverse", -120, "f2", "-"),
            l("earn", 50, "p3", "spend"),
            l("earn", 200, &accepted, "referral.referrer"),
            l("spend", -10, "k1", "-"),
            l("expire", -5, "expire:2025-12-31T16:00:00.000Z", "-"),
            l("expire", -1950, "expire:2025-12-31T16:00:00.000Z", "-"),
        ]
    );
    assert_eq!(
        ledger(&app, "bob").await,
        vec![
            l("earn", 10, "bp1", "spend"),
            l("earn", 100, "bp1", "referral.invitee")
        ]
    );
    assert_cache_matches_ledger(&app, "alice").await;
    assert_cache_matches_ledger(&app, "bob").await;
}
both!(member_journey);

async fn concurrent_spends_never_overdraw(app: TestApp) {
    one(
        &app,
        ev("r", "member.registered", "c1", "2025-01-01", json!({})),
    )
    .await;
    let (s, b) = app
        .post(
            "/v1/members/c1/points:adjust",
            json!({"points": 100, "idempotency_key": "seed", "reason": "goodwill"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/members/c1/points:spend"),
            app.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"points": 3, "idempotency_key": format!("s{i}")}))
                .send()
                .await
                .expect("send");
            r.status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 33);
    let lines = ledger(&app, "c1").await;
    assert_eq!(lines.iter().filter(|x| x.0 == "spend").count(), 33);
    let c = center(&app, "c1", "2025-01-02T00:00:00Z").await;
    assert_eq!(c["points"]["balance"], 1);
    assert_cache_matches_ledger(&app, "c1").await;
}
both!(concurrent_spends_never_overdraw);

async fn program_is_versioned_validated_and_can_be_switched_off(app: TestApp) {
    let (s, p) = app.get("/v1/loyalty/program").await;
    assert_eq!((s, p["version"].as_i64()), (StatusCode::OK, Some(1)));
    let mut bad = p.clone();
    bad["tiers"][1]["threshold"] = json!(0);
    let (s, body) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["loc"], json!(["tiers", "1", "threshold"]));
    let mut off = p.clone();
    off["enabled"] = json!(false);
    let (s, saved) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(off))
        .await;
    assert_eq!(
        (s, saved["version"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{saved}"
    );
    let audit = app
        .store
        .loyalty_audit(&app.ws.id, 10)
        .await
        .expect("audit");
    assert_eq!(audit[0].action, "program.updated");
    assert!(audit[0].detail.contains("enabled"), "{}", audit[0].detail);
    // Switched off: events earn nothing.
    one(
        &app,
        ev("mr", "member.registered", "m", "2025-01-01", json!({})),
    )
    .await;
    one(&app, paid("x", "m", "o", "500", "2025-01-01")).await;
    assert!(ledger(&app, "m").await.is_empty());
    // Stored value keeps principal and bonus apart.
    let mut on = p.clone();
    on["stored_value"] = json!({"bonus_rules": [{"min_minor": 100000, "bonus_minor": 10000}]});
    let (s, _) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(on))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, t) = app
        .post(
            "/v1/members/m/stored-value:top-up",
            json!({"amount_minor": 100000, "idempotency_key": "t1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        t["balance"],
        json!({"principal_minor": 100000, "bonus_minor": 10000, "total_minor": 110000})
    );
    let (_, sp) = app
        .post(
            "/v1/members/m/stored-value:spend",
            json!({"amount_minor": 50000, "idempotency_key": "t2"}),
        )
        .await;
    assert_eq!(sp["balance"]["principal_minor"], 50000);
    let (_, rf) = app
        .post(
            "/v1/members/m/stored-value:refund",
            json!({"amount_minor": 50000, "idempotency_key": "t3"}),
        )
        .await;
    assert_eq!(
        rf["balance"],
        json!({"principal_minor": 0, "bonus_minor": 0, "total_minor": 0})
    );
    let (s, body) = app
        .post(
            "/v1/members/m/stored-value:refund",
            json!({"amount_minor": 1, "idempotency_key": "t4"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("refund_exceeds_principal"))
    );
    // The stored-value ledger, newest first, principal and bonus apart, paged.
    let (s, page) = app.get("/v1/members/m/stored-value/ledger?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let cols = |p: &Value| -> Vec<(String, i64, i64, i64, String)> {
        p["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().expect("kind").to_owned(),
                    l["principal_delta_minor"].as_i64().expect("principal"),
                    l["bonus_delta_minor"].as_i64().expect("bonus"),
                    l["total_delta_minor"].as_i64().expect("total"),
                    l["reference"].as_str().expect("reference").to_owned(),
                )
            })
            .collect()
    };
    let first = cols(&page);
    assert_eq!(first.len(), 2, "{page}");
    assert_eq!(first[0].0, "refund");
    assert_eq!(first[0].4, "t3");
    assert_eq!(first[1], ("spend".into(), -50000, 0, -50000, "t2".into()));
    assert_eq!(page["balance"]["total_minor"], 0);
    let before = page["next_before"].as_i64().expect("more pages");
    let (s, rest) = app
        .get(&format!(
            "/v1/members/m/stored-value/ledger?limit=2&before={before}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{rest}");
    assert_eq!(
        cols(&rest),
        vec![("top_up".into(), 100000, 10000, 110000, "t1".into())]
    );
    assert_eq!(rest["next_before"], Value::Null);
    let (sum_p, sum_b) = first
        .iter()
        .chain(cols(&rest).iter())
        .fold((0, 0), |(p, b), l| (p + l.1, b + l.2));
    assert_eq!((sum_p, sum_b), (0, 0), "the ledger sums to the balance");
    let (s, _) = app.get("/v1/members/nobody/stored-value/ledger").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get("/v1/members/m/stored-value/ledger?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Check-in through the API: once per local day.
    let (s, c) = app.post("/v1/members/m/checkin", json!({})).await;
    assert_eq!((s, c["streak"].as_i64()), (StatusCode::OK, Some(1)), "{c}");
    let (s, c) = app.post("/v1/members/m/checkin", json!({})).await;
    assert_eq!(
        (s, c["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_checked_in"))
    );
}
both!(program_is_versioned_validated_and_can_be_switched_off);

/// A seeded random mix of orders, refunds, spends and adjustments: after each step the
/// cached balance equals the sum of the ledger.
async fn cached_balance_is_the_sum_of_the_ledger(app: TestApp) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    one(
        &app,
        ev("r", "member.registered", "p", "2025-01-01", json!({})),
    )
    .await;
    let mut orders = Vec::new();
    for i in 0..40 {
        match next(4) {
            0 | 1 => {
                let amount = format!("{}.00", 1 + next(800));
                one(
                    &app,
                    paid(
                        &format!("p{i}"),
                        "p",
                        &format!("o{i}"),
                        &amount,
                        "2025-02-01",
                    ),
                )
                .await;
                orders.push(format!("o{i}"));
            }
            2 if !orders.is_empty() => {
                let o = orders.remove(usize::try_from(next(orders.len() as u64)).unwrap_or(0));
                let _ = app
                    .batch(json!([ev(
                        &format!("f{i}"),
                        "order.refunded",
                        "p",
                        "2025-02-02",
                        json!({"order_id": o, "amount": "1.00"})
                    )]))
                    .await;
            }
            _ => {
                let pts = i64::try_from(next(300)).unwrap_or(0) - 100;
                let path = if pts >= 0 {
                    "/v1/members/p/points:adjust"
                } else {
                    "/v1/members/p/points:spend"
                };
                let body = if pts >= 0 {
                    json!({"points": pts + 1, "idempotency_key": format!("a{i}"), "reason": "test"})
                } else {
                    json!({"points": -pts, "idempotency_key": format!("a{i}")})
                };
                let (s, b) = app.post(path, body).await;
                assert!(s == StatusCode::OK || s == StatusCode::CONFLICT, "{b}");
            }
        }
        assert_cache_matches_ledger(&app, "p").await;
    }
}
both!(cached_balance_is_the_sum_of_the_ledger);

/// Rita's first paid order (event `ra1`).
fn rita_first_order() -> Value {
    paid("ra1", "rita", "ro1", "30.00", "2025-03-01T12:00:00+08:00")
}

/// Rita registers and pays her first order; returns her invite code.
async fn rita_invites(app: &TestApp) -> String {
    one(
        app,
        ev(
            "rita-reg",
            "member.registered",
            "rita",
            "2025-02-01T10:00:00+08:00",
            json!({}),
        ),
    )
    .await;
    one(app, rita_first_order()).await;
    invite_code(app, "rita", "2025-03-02T00:00:00+08:00").await
}

/// A referrer rewarded for an invitee's first order is not in that batch: the next batch
/// of the referrer starts from the rewarded balance, not from one kept before the reward.
async fn a_rewarded_referrer_keeps_the_reward_in_later_batches(app: TestApp) {
    let code = rita_invites(&app).await;
    register_with_code(&app, "ivy", "2025-03-03T10:00:00+08:00", &code).await;
    one(
        &app,
        paid("iv1", "ivy", "io1", "10.00", "2025-03-04T10:00:00+08:00"),
    )
    .await;
    let c = center(&app, "rita", "2025-03-05T00:00:00+08:00").await;
    assert_eq!(c["referral"]["rewarded"], 1, "{c}");
    one(
        &app,
        paid("ra2", "rita", "ro2", "20.00", "2025-03-06T12:00:00+08:00"),
    )
    .await;
    assert_cache_matches_ledger(&app, "rita").await;
}
both!(a_rewarded_referrer_keeps_the_reward_in_later_batches);

/// The same when the referrer is in the rewarding batch by a replayed event only: the batch
/// follows none of her state, so it must not keep her balance from before the reward.
async fn a_referrer_replayed_in_the_rewarding_batch_keeps_the_reward(app: TestApp) {
    let code = rita_invites(&app).await;
    // Ivy registers beside an event of Rita's, so the batch after it knows Rita's account.
    let r = app
        .batch(json!([
            ev(
                "ivy-reg",
                "member.registered",
                "ivy",
                "2025-03-03T10:00:00+08:00",
                json!({"invite_code": code}),
            ),
            ev(
                "rita-visit",
                "page.viewed",
                "rita",
                "2025-03-03T11:00:00+08:00",
                json!({}),
            ),
        ]))
        .await;
    assert_eq!(r["accepted"], 2, "{r}");
    let r = app
        .batch(json!([
            rita_first_order(),
            paid("iv1", "ivy", "io1", "10.00", "2025-03-04T10:00:00+08:00"),
        ]))
        .await;
    assert_eq!(
        (&r["accepted"], &r["duplicates"]),
        (&json!(1), &json!(1)),
        "{r}"
    );
    one(
        &app,
        paid("ra2", "rita", "ro2", "20.00", "2025-03-06T12:00:00+08:00"),
    )
    .await;
    assert_cache_matches_ledger(&app, "rita").await;
    let c = center(&app, "rita", "2025-03-07T00:00:00+08:00").await;
    assert_eq!(c["referral"]["rewarded"], 1, "{c}");
}
both!(a_referrer_replayed_in_the_rewarding_batch_keeps_the_reward);
