//! Earning-rule conditions through the HTTP API on both databases.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;
use crate::loyalty::{ev, ledger, one, paid};

/// 会员日 on the 8th of every month and 店庆 on a fixed date, in the member's zone: an order
/// on those days earns the rule's points, the day before does not.
async fn member_days_by_day_of_month_and_fixed_date(app: TestApp) {
    let (_, mut p) = app.get("/v1/loyalty/program").await;
    let rules = p["rules"].as_array_mut().expect("rules");
    for (id, conditions) in [
        ("member_day", json!({"month_days": [8]})),
        ("anniversary", json!({"dates": ["09-18"]})),
    ] {
        rules.push(json!({"id": id, "name": id, "event_type": "order.paid",
            "conditions": conditions, "reward": {"points": {"type": "fixed", "amount": 88}}}));
    }
    let (s, b) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(p.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    one(
        &app,
        ev(
            "r",
            "member.registered",
            "md",
            "2026-01-01T00:00:00Z",
            json!({}),
        ),
    )
    .await;
    // 2026-06-07T17:00Z is 01:00 on the 8th in Shanghai (the default zone).
    one(
        &app,
        paid("o1", "md", "o1", "10.00", "2026-06-07T17:00:00Z"),
    )
    .await;
    one(
        &app,
        paid("o2", "md", "o2", "10.00", "2026-07-07T10:00:00Z"),
    )
    .await;
    one(
        &app,
        paid("o3", "md", "o3", "10.00", "2026-09-18T03:00:00Z"),
    )
    .await;
    let by_rule: Vec<(String, String)> = ledger(&app, "md")
        .await
        .into_iter()
        .filter(|l| l.3 == "member_day" || l.3 == "anniversary")
        .map(|l| (l.2, l.3))
        .collect();
    assert_eq!(
        by_rule,
        vec![
            ("o1".to_owned(), "member_day".to_owned()),
            ("o3".to_owned(), "anniversary".to_owned())
        ]
    );
    let rules = p["rules"].as_array_mut().expect("rules");
    let last = rules.len() - 1;
    rules[last]["conditions"] = json!({"dates": ["02-30"]});
    let (s, b) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(p))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["rules", last.to_string(), "conditions", "dates", "0"])
    );
}
both!(member_days_by_day_of_month_and_fixed_date);

/// Repeat purchases grow faster (复购): a rule on the member's 2nd order onwards, and one
/// on 3 orders within 30 days; a refunded order stops counting, a backdated first order
/// makes the next one a repeat.
async fn repeat_and_frequent_purchases(app: TestApp) {
    let (_, mut p) = app.get("/v1/loyalty/program").await;
    let rules = p["rules"].as_array_mut().expect("rules");
    for (id, conditions) in [
        ("repeat", json!({"min_order_number": 2})),
        (
            "frequent",
            json!({"min_orders_in_days": {"orders": 3, "days": 30}}),
        ),
    ] {
        rules.push(json!({"id": id, "name": id, "event_type": "order.paid",
            "conditions": conditions, "reward": {"points": {"type": "fixed", "amount": 7}}}));
    }
    let (s, b) = app
        .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(p))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    one(
        &app,
        ev(
            "r",
            "member.registered",
            "rp",
            "2026-01-01T00:00:00Z",
            json!({}),
        ),
    )
    .await;
    one(
        &app,
        paid("o1", "rp", "o1", "10.00", "2026-03-10T03:00:00Z"),
    )
    .await;
    one(
        &app,
        paid("o2", "rp", "o2", "10.00", "2026-03-12T03:00:00Z"),
    )
    .await;
    // Fully refunded: o2 no longer counts, so o3 is the 2nd order and only the 2nd in 30 days.
    one(
        &app,
        ev(
            "f2",
            "order.refunded",
            "rp",
            "2026-03-13T03:00:00Z",
            json!({"order_id": "o2"}),
        ),
    )
    .await;
    one(
        &app,
        paid("o3", "rp", "o3", "10.00", "2026-03-20T03:00:00Z"),
    )
    .await;
    one(
        &app,
        paid("o4", "rp", "o4", "10.00", "2026-03-25T03:00:00Z"),
    )
    .await;
    // Another member's first order arrives late, after a later one: the later is a repeat.
    one(
        &app,
        ev(
            "rr",
            "member.registered",
            "rq",
            "2026-01-01T00:00:00Z",
            json!({}),
        ),
    )
    .await;
    one(
        &app,
        paid("q2", "rq", "q2", "10.00", "2026-03-20T03:00:00Z"),
    )
    .await;
    one(
        &app,
        paid("q1", "rq", "q1", "10.00", "2026-03-01T03:00:00Z"),
    )
    .await;
    let mine = |lines: Vec<(String, i64, String, String)>| {
        lines
            .into_iter()
            .filter(|l| l.0 == "earn" && (l.3 == "repeat" || l.3 == "frequent"))
            .map(|l| (l.2, l.3))
            .collect::<Vec<_>>()
    };
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        mine(ledger(&app, "rp").await),
        vec![
            s("o2", "repeat"),
            s("o3", "repeat"),
            s("o4", "repeat"),
            s("o4", "frequent")
        ]
    );
    // q2 was the first when it came; q1, first by time, is no repeat: neither earns.
    assert!(mine(ledger(&app, "rq").await).is_empty());
}
both!(repeat_and_frequent_purchases);
