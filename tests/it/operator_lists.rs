//! The lists operators page through, on both databases: tags and a tag's members, a
//! member's invitees, growth ledger and events by type, program versions and the loyalty
//! audit; and `POST /v1/members` with an invite code.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn ev(id: &str, kind: &str, member: &str, at: &str, props: Value) -> Value {
    json!({"id": id, "type": kind, "member": member, "occurred_at": at, "properties": props})
}

/// Walks a list a page at a time, checking the envelope; returns every item.
async fn walk(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={}", urlencode(c)),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (s, b) = app.get(&url).await;
        assert_eq!(s, StatusCode::OK, "{url}: {b}");
        let data = b["data"].as_array().expect("data").clone();
        assert!(data.len() <= limit, "{b}");
        out.extend(data);
        match &b["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => return out,
            other => panic!("next_cursor is {other}"),
        }
    }
    panic!("{path} never ended");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn tags_list_counts_every_source_once(app: TestApp) {
    let mut events = Vec::new();
    for (m, tags) in [
        ("u1", json!(["vip", "coffee"])),
        ("u2", json!(["vip"])),
        ("u3", json!([])),
    ] {
        events.push(ev(
            &format!("{m}-reg"),
            "member.registered",
            m,
            "2025-01-01T00:00:00Z",
            json!({"tags": tags}),
        ));
    }
    app.batch(json!(events)).await;
    // u1 also holds `vip` as a manual tag: counted once; u3 gets it only manually.
    let (s, b) = app
        .post("/v1/tags/vip/members", json!({"add": ["u1", "u3"]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let tags = walk(&app, "/v1/tags", 1).await;
    assert_eq!(
        tags,
        vec![
            json!({"tag": "coffee", "members": 1}),
            json!({"tag": "vip", "members": 3}),
        ]
    );

    let members = walk(&app, "/v1/tags/vip/members", 2).await;
    let got: Vec<(String, Value)> = members
        .iter()
        .map(|m| {
            (
                m["external_id"].as_str().expect("id").to_owned(),
                m["sources"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("u1".to_owned(), json!(["manual", "profile"])),
            ("u2".to_owned(), json!(["profile"])),
            ("u3".to_owned(), json!(["manual"])),
        ]
    );
    let (s, b) = app.get("/v1/tags/nobody/members").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"data": [], "next_cursor": null}));

    // Cursors that no list returned, and limits out of range.
    for path in [
        "/v1/tags/vip/members?cursor=u1",
        "/v1/members/u1/growth/ledger?cursor=abc",
        "/v1/loyalty/audit?cursor=-1",
        "/v1/members/u1/invitees?cursor=zzz",
        "/v1/members/u1/events?cursor=x",
    ] {
        let (s, b) = app.get(path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {b}");
        assert_eq!(b["errors"][0]["code"], "invalid_cursor", "{path}: {b}");
    }
    for path in ["/v1/tags?limit=0", "/v1/tags?limit=1001"] {
        let (s, _) = app.get(path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }
}
both!(tags_list_counts_every_source_once);

async fn invitees_growth_ledger_and_events_by_type(app: TestApp) {
    app.batch(json!([ev(
        "r-reg",
        "member.registered",
        "rita",
        "2025-03-01T00:00:00Z",
        json!({})
    )]))
    .await;
    let (s, c) = app.get("/v1/members/rita/loyalty").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let code = c["referral"]["invite_code"]
        .as_str()
        .expect("code")
        .to_owned();

    // Two invitees by event, one through POST /v1/members (the same referral effect).
    for (m, at) in [
        ("ivan", "2025-03-02T00:00:00Z"),
        ("iris", "2025-03-03T00:00:00Z"),
    ] {
        app.batch(json!([ev(
            &format!("{m}-reg"),
            "member.registered",
            m,
            at,
            json!({"invite_code": code})
        )]))
        .await;
    }
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "ines", "registered_at": "2025-03-04T00:00:00Z", "invite_code": code}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // An invitee's first order qualifies the referral.
    app.batch(json!([ev(
        "o1",
        "order.paid",
        "ines",
        "2025-03-05T00:00:00Z",
        json!({"order_id": "O1", "amount": "120.00"})
    )]))
    .await;

    let invitees = walk(&app, "/v1/members/rita/invitees", 2).await;
    let names: Vec<&str> = invitees
        .iter()
        .map(|i| i["external_id"].as_str().expect("id"))
        .collect();
    assert_eq!(names, ["ivan", "iris", "ines"]);
    assert_eq!(invitees[0]["status"], "pending");
    assert_eq!(invitees[2]["status"], "rewarded", "{invitees:?}");
    let (s, c) = app.get("/v1/members/rita/loyalty").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["referral"]["invited"], 3, "{c}");
    let (s, _) = app.get("/v1/members/ghost/invitees").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The growth ledger of ines: her order's growth, newest first, one line a page.
    for (i, at) in ["2025-03-06T00:00:00Z", "2025-03-07T00:00:00Z"]
        .iter()
        .enumerate()
    {
        app.batch(json!([ev(
            &format!("o{}", i + 2),
            "order.paid",
            "ines",
            at,
            json!({"order_id": format!("O{}", i + 2), "amount": "10.00"})
        )]))
        .await;
    }
    let lines = walk(&app, "/v1/members/ines/growth/ledger", 1).await;
    let orders: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["order_id"].as_str())
        .collect();
    assert_eq!(orders, ["O3", "O2", "O1"], "{lines:?}");
    assert!(lines.iter().all(|l| l["growth"].as_i64().is_some()));
    let total: i64 = lines
        .iter()
        .map(|l| l["growth"].as_i64().unwrap_or(0))
        .sum();
    let (_, c) = app.get("/v1/members/ines/loyalty").await;
    assert_eq!(json!(total), c["growth"]["total"], "{c}");

    // Events by type: repeated or comma-separated, paged.
    app.batch(json!([ev(
        "v1",
        "page.viewed",
        "ines",
        "2025-03-08T00:00:00Z",
        json!({})
    )]))
    .await;
    let paid = walk(&app, "/v1/members/ines/events?type=order.paid", 2).await;
    assert_eq!(paid.len(), 3);
    assert!(paid.iter().all(|e| e["type"] == "order.paid"));
    let two = walk(
        &app,
        "/v1/members/ines/events?type=order.paid,page.viewed",
        10,
    )
    .await;
    assert_eq!(two.len(), 4);
    let repeated = walk(
        &app,
        "/v1/members/ines/events?type=page.viewed&type=member.registered",
        10,
    )
    .await;
    let kinds: Vec<&str> = repeated
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, ["page.viewed", "member.registered"]);
    let all = walk(&app, "/v1/members/ines/events", 100).await;
    assert!(all.len() > 4);
}
both!(invitees_growth_ledger_and_events_by_type);

async fn program_versions_and_audit_say_who_changed_what(app: TestApp) {
    let (s, program) = app.get("/v1/loyalty/program").await;
    assert_eq!(s, StatusCode::OK);
    let mut p = program.clone();
    for _ in 0..2 {
        let (s, saved) = app
            .call(reqwest::Method::PUT, "/v1/loyalty/program", Some(p.clone()))
            .await;
        assert_eq!(s, StatusCode::OK, "{saved}");
        p = saved;
    }
    let versions = walk(&app, "/v1/loyalty/program/versions", 1).await;
    let nums: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(nums.len(), 2, "{versions:?}");
    assert!(nums[0] > nums[1], "newest first: {nums:?}");
    assert_eq!(versions[0]["program"]["version"], nums[0]);
    assert!(
        versions[0]["created_by"]
            .as_str()
            .is_some_and(|k| k.starts_with("key_"))
    );

    app.batch(json!([ev(
        "a-reg",
        "member.registered",
        "ada",
        "2025-01-01T00:00:00Z",
        json!({})
    )]))
    .await;
    let (s, b) = app
        .post(
            "/v1/members/ada/points:adjust",
            json!({"points": 50, "idempotency_key": "adj-1", "reason": "客服补偿"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let audit = walk(&app, "/v1/loyalty/audit", 2).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|a| a["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions.len(), 3, "{audit:?}");
    assert_eq!(
        actions[1..],
        ["program.updated", "program.updated"],
        "{audit:?}"
    );
    assert_eq!(audit[1]["detail"]["to_version"], nums[0]);
    assert!(audit[0]["member_id"].as_str().is_some(), "{audit:?}");
    assert!(
        audit
            .iter()
            .all(|a| a["actor"].as_str().is_some_and(|k| k.starts_with("key_")))
    );
}
both!(program_versions_and_audit_say_who_changed_what);
