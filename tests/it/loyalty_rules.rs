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
