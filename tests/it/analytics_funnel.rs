//! The funnel report through the API and the CLI, on a hand-built shop whose answers are
//! worked out below (docs/analytics.md, "Funnels"). Workspace zone Asia/Shanghai (UTC+8).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn registered(member: &str, channel: &str, at: &str) -> Value {
    json!({"id": format!("reg-{member}"), "type": "member.registered", "member": member, "occurred_at": at,
           "properties": {"channel": channel}})
}

fn paid(id: &str, member: &str, at: &str, amount: &str) -> Value {
    json!({"id": id, "type": "order.paid", "member": member, "occurred_at": at, "auto_create": true,
           "properties": {"order_id": format!("o-{id}"), "amount": amount}})
}

/// a (ads): registered 1 Mar, orders 11 Mar (10 days) and 20 Apr (40 days after): 3 steps.
/// b (ads): registered 2 Mar, order 3 Apr (32 days): beyond 30, step 1 only.
/// c (shop): registered 3 Mar, orders 5 Mar (2 days, 20.00) and 14 May (70 days): 2 steps.
/// d (shop): an order before registering (not after it), registered 28 Feb 17:00 UTC =
///   1 Mar 01:00 in Shanghai (enters in March), then orders 4 Mar 17:00 UTC (4 days) and
///   5 Mar 01:00 UTC (8 hours later): 3 steps.
/// e: registered in April: not in the range.
async fn shop(app: &TestApp) {
    app.batch(json!([
        registered("a", "ads", "2026-03-01T02:00:00Z"),
        registered("b", "ads", "2026-03-02T02:00:00Z"),
        registered("c", "shop", "2026-03-03T02:00:00Z"),
        registered("d", "shop", "2026-02-28T17:00:00Z"),
        registered("e", "ads", "2026-04-02T02:00:00Z"),
    ]))
    .await;
    app.batch(json!([
        paid("d0", "d", "2026-02-20T02:00:00Z", "10.00"),
        paid("a1", "a", "2026-03-11T02:00:00Z", "100.00"),
        paid("a2", "a", "2026-04-20T02:00:00Z", "100.00"),
        paid("b1", "b", "2026-04-03T02:00:00Z", "100.00"),
        paid("c1", "c", "2026-03-05T02:00:00Z", "20.00"),
        paid("c2", "c", "2026-05-14T02:00:00Z", "100.00"),
        paid("d1", "d", "2026-03-04T17:00:00Z", "300.00"),
        paid("d2", "d", "2026-03-05T01:00:00Z", "300.00"),
        paid("e1", "e", "2026-04-03T02:00:00Z", "100.00"),
    ]))
    .await;
}

const STEPS: &str =
    "steps=member.registered,order.paid,order.paid&within=30,60&from=2026-03-01&to=2026-03-31";

fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args(args)
        .output()
        .expect("run memberops");
    assert!(
        out.status.success(),
        "memberops {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn members(group: &Value) -> Vec<u64> {
    group["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["members"].as_u64().expect("members"))
        .collect()
}

async fn funnel_counts_steps_within_their_windows(app: TestApp) {
    shop(&app).await;
    let (s, b) = app
        .get(&format!("/v1/analytics/funnel?{STEPS}&split=channel"))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["within_days"], json!([0, 30, 60]));
    let groups = b["groups"].as_array().expect("groups");
    let names: Vec<&str> = groups.iter().filter_map(|g| g["group"].as_str()).collect();
    assert_eq!(names, ["(all)", "ads", "shop"]);
    // Entered: a, b, c, d; first order in 30 days: a, c, d; second in 60: a, d.
    assert_eq!(members(&groups[0]), [4, 3, 2]);
    assert_eq!(members(&groups[1]), [2, 1, 1], "ads: a, b");
    assert_eq!(members(&groups[2]), [2, 2, 1], "shop: c, d");
    let all = &groups[0]["steps"];
    assert_eq!(all[1]["conversion"], 0.75);
    assert_eq!(all[2]["conversion"], 0.5);
    assert_eq!(all[2]["step_conversion"], 0.666667);
    // Days to the first order: 10 (a), 2 (c), 4 (d 1 Mar 01:00 → 5 Mar 01:00 Shanghai): 4.
    assert_eq!(all[1]["median_days"], 4.0);
    // To the second: 40 (a) and 8 hours (d): (40 + 1/3) / 2 = 20.17.
    assert_eq!(all[2]["median_days"], 20.17);
    assert_eq!(all[0]["median_days"], Value::Null);

    // A property filter: orders of at least 50.00 (c's 20.00 is not one; c's next is 70 days
    // after registration).
    let (s, f) = app
        .get("/v1/analytics/funnel?steps=member.registered,order.paid[amount>=50]&from=2026-03-01&to=2026-03-31&within=60")
        .await;
    assert_eq!(s, StatusCode::OK, "{f}");
    assert_eq!(members(&f["groups"][0]), [4, 3], "a, b (32 days), d");

    let csv = cli(&[
        "--db",
        &app._db.url,
        "report",
        "funnel",
        "--steps",
        "member.registered,order.paid,order.paid",
        "--within",
        "30,60",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "group,step,event_type,members,conversion,step_conversion,median_days
(all),1,member.registered,4,1,,
(all),2,order.paid,3,0.75,0.75,4
(all),3,order.paid,2,0.5,0.666667,20.17
"
    );

    for bad in [
        "steps=member.registered",
        "steps=a,b[amount]",
        "steps=a,b&within=0",
        "steps=a,b&split=region",
        "steps=a,b&split=segment",
    ] {
        let (s, b) = app.get(&format!("/v1/analytics/funnel?{bad}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
}
both!(funnel_counts_steps_within_their_windows);

async fn funnel_split_by_segment(app: TestApp) {
    shop(&app).await;
    let (s, seg) = app
        .post(
            "/v1/segments",
            json!({"name": "shop", "condition": {"all": [{"field": "channel", "op": "eq", "value": "shop"}]}}),
        )
        .await;
    assert!(s.is_success(), "{seg}");
    let id = seg["id"].as_str().expect("id");
    let (s, b) = app
        .get(&format!(
            "/v1/analytics/funnel?{STEPS}&split=segment&segment_id={id}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["groups"][1]["group"], id);
    assert_eq!(members(&b["groups"][1]), [2, 2, 1], "c and d");
    let (s, _) = app
        .get(&format!(
            "/v1/analytics/funnel?{STEPS}&split=segment&segment_id=seg_missing"
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(funnel_split_by_segment);
