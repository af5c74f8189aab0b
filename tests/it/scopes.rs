//! Least-privilege keys: every route of the OpenAPI document called with a key of every
//! scope is allowed or refused (403 `insufficient_scope` naming the scope) as the table
//! below says; a route missing from the table fails the test. Rate limits, last use,
//! masking for `read` keys, and scoped keys from the CLI.

use std::collections::BTreeMap;

use memberops_store::{KeyScope, RateLimit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

/// The scope each operation needs (`public`: no bearer key). Admin keys reach every route;
/// `operator` its own and every GET but the admin ones; `read` every GET but the admin ones;
/// `checkout` and `ingest` only their own.
const NEEDS: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", "public"),
    ("GET", "/readyz", "public"),
    ("GET", "/metrics", "public"),
    ("GET", "/u/{token}", "public"),
    ("GET", "/v1/analytics/channels", "read"),
    ("GET", "/v1/analytics/cohorts", "read"),
    ("GET", "/v1/analytics/decomposition", "read"),
    ("GET", "/v1/analytics/funnel", "read"),
    ("GET", "/v1/analytics/overview", "read"),
    ("GET", "/v1/analytics/portrait", "read"),
    ("GET", "/v1/analytics/repurchase", "read"),
    ("GET", "/v1/campaigns", "read"),
    ("POST", "/v1/campaigns", "operator"),
    ("GET", "/v1/campaigns/{id}", "read"),
    ("POST", "/v1/campaigns/{id}/preview", "operator"),
    ("GET", "/v1/campaigns/{id}/report", "read"),
    ("POST", "/v1/campaigns/{id}:cancel", "operator"),
    ("POST", "/v1/campaigns/{id}:launch", "operator"),
    ("POST", "/v1/campaigns/{id}:pause", "operator"),
    ("POST", "/v1/campaigns/{id}:resume", "operator"),
    ("GET", "/v1/journeys", "read"),
    ("POST", "/v1/journeys", "operator"),
    ("POST", "/v1/journeys:from-template", "operator"),
    ("GET", "/v1/journeys/templates", "read"),
    ("GET", "/v1/journeys/{id}", "read"),
    ("PATCH", "/v1/journeys/{id}", "operator"),
    ("GET", "/v1/journeys/{id}/report", "read"),
    ("POST", "/v1/journeys/{id}:activate", "operator"),
    ("POST", "/v1/journeys/{id}:archive", "operator"),
    ("POST", "/v1/journeys/{id}:pause", "operator"),
    ("POST", "/v1/members/{id}/checkin:makeup", "checkout"),
    ("POST", "/v1/members/{id}/growth:adjust", "operator"),
    ("GET", "/v1/members/{id}/inbox", "checkout"),
    ("POST", "/v1/members/{id}/inbox:read", "checkout"),
    ("GET", "/v1/members/{id}/predicted", "read"),
    ("POST", "/v1/predicted-value:refresh", "operator"),
    ("GET", "/v1/tasks", "read"),
    ("POST", "/v1/tasks", "operator"),
    ("GET", "/v1/tasks/sla", "read"),
    ("GET", "/v1/tasks/{id}", "read"),
    ("POST", "/v1/tasks/{id}:log", "operator"),
    ("POST", "/ingest/segment/v1/alias", "ingest"),
    ("POST", "/ingest/segment/v1/batch", "ingest"),
    ("POST", "/ingest/segment/v1/group", "ingest"),
    ("POST", "/ingest/segment/v1/identify", "ingest"),
    ("POST", "/ingest/segment/v1/page", "ingest"),
    ("POST", "/ingest/segment/v1/screen", "ingest"),
    ("POST", "/ingest/segment/v1/track", "ingest"),
    ("GET", "/v1/audit", "admin"),
    ("GET", "/v1/workspace", "read"),
    ("PATCH", "/v1/workspace", "admin"),
    ("POST", "/v1/members/{id}/tier:trial", "operator"),
    ("GET", "/v1/checkout/orders/{order_id}", "checkout"),
    ("POST", "/v1/checkout/redeem", "checkout"),
    ("POST", "/v1/checkout/validate", "checkout"),
    ("GET", "/v1/churn-warnings", "read"),
    ("GET", "/v1/consumers", "read"),
    ("POST", "/v1/coupons/claim", "checkout"),
    ("GET", "/v1/coupons/gift-packs", "read"),
    ("POST", "/v1/coupons/gift-packs", "operator"),
    ("POST", "/v1/coupons/issue", "operator"),
    ("POST", "/v1/coupons/issue/segment", "operator"),
    ("GET", "/v1/coupons/rules", "read"),
    ("POST", "/v1/coupons/rules", "operator"),
    ("GET", "/v1/coupons/rules/{id}", "read"),
    ("DELETE", "/v1/coupons/rules/{id}", "operator"),
    ("PATCH", "/v1/coupons/rules/{id}", "operator"),
    ("POST", "/v1/coupons/share-links", "checkout"),
    ("POST", "/v1/coupons/share-links/{id}/claims", "checkout"),
    ("GET", "/v1/coupons/templates", "read"),
    ("POST", "/v1/coupons/templates", "operator"),
    ("GET", "/v1/coupons/templates/{id}", "read"),
    ("PUT", "/v1/coupons/templates/{id}", "operator"),
    ("DELETE", "/v1/coupons/templates/{id}", "operator"),
    ("POST", "/v1/coupons/templates/{id}/codes", "operator"),
    ("GET", "/v1/coupons/templates/{id}/report", "read"),
    ("GET", "/v1/coupons/{id}", "checkout"),
    ("POST", "/v1/coupons/{id}/void", "operator"),
    ("POST", "/v1/events", "ingest"),
    ("GET", "/v1/events/{id}", "read"),
    ("POST", "/v1/events:batch", "ingest"),
    ("GET", "/v1/intelligence/settings", "read"),
    ("PUT", "/v1/intelligence/settings", "admin"),
    ("GET", "/v1/intelligence/settings/versions", "read"),
    ("GET", "/v1/lifecycle/flow", "read"),
    ("POST", "/v1/lifecycle:recompute", "operator"),
    ("GET", "/v1/loyalty/audit", "read"),
    ("GET", "/v1/loyalty/program", "read"),
    ("PUT", "/v1/loyalty/program", "operator"),
    ("GET", "/v1/loyalty/program/versions", "read"),
    ("GET", "/v1/members", "read"),
    ("POST", "/v1/members", "operator"),
    ("GET", "/v1/members/{id}", "checkout"),
    ("PATCH", "/v1/members/{id}", "operator"),
    ("POST", "/v1/members/{id}/checkin", "checkout"),
    ("GET", "/v1/members/{id}/coupons", "checkout"),
    ("GET", "/v1/members/{id}/events", "read"),
    ("GET", "/v1/members/{id}/export", "admin"),
    ("GET", "/v1/members/{id}/growth/ledger", "checkout"),
    ("GET", "/v1/members/{id}/identities", "read"),
    ("GET", "/v1/members/{id}/intelligence", "read"),
    ("GET", "/v1/members/{id}/invitees", "checkout"),
    ("GET", "/v1/members/{id}/loyalty", "checkout"),
    ("GET", "/v1/members/{id}/points/ledger", "checkout"),
    ("POST", "/v1/members/{id}/points:adjust", "operator"),
    ("POST", "/v1/members/{id}/points:spend", "checkout"),
    ("GET", "/v1/members/{id}/rfm", "read"),
    ("GET", "/v1/members/{id}/store", "read"),
    ("GET", "/v1/members/{id}/stored-value/ledger", "checkout"),
    ("POST", "/v1/members/{id}/stored-value:refund", "checkout"),
    ("POST", "/v1/members/{id}/stored-value:spend", "checkout"),
    ("POST", "/v1/members/{id}/stored-value:top-up", "checkout"),
    ("POST", "/v1/members/{id}:erase", "admin"),
    ("GET", "/v1/reports/rfm", "read"),
    ("GET", "/v1/segments", "read"),
    ("POST", "/v1/segments", "operator"),
    ("GET", "/v1/segments/{id}", "read"),
    ("DELETE", "/v1/segments/{id}", "operator"),
    ("PATCH", "/v1/segments/{id}", "operator"),
    ("GET", "/v1/segments/{id}/export", "read"),
    ("GET", "/v1/segments/{id}/members", "read"),
    ("GET", "/v1/segments/{id}/sizes", "read"),
    ("GET", "/v1/segments/{id}/versions", "read"),
    ("POST", "/v1/segments:preview", "operator"),
    ("POST", "/v1/segments:rebuild-index", "operator"),
    ("GET", "/v1/staff", "read"),
    ("POST", "/v1/staff", "operator"),
    ("GET", "/v1/staff/{code}", "read"),
    ("PATCH", "/v1/staff/{code}", "operator"),
    ("POST", "/v1/staff/{code}/members:reassign", "operator"),
    ("GET", "/v1/store-audit", "read"),
    ("GET", "/v1/stores", "read"),
    ("POST", "/v1/stores", "operator"),
    ("GET", "/v1/stores/{code}", "read"),
    ("PATCH", "/v1/stores/{code}", "operator"),
    ("GET", "/v1/tag-rules", "read"),
    ("PUT", "/v1/tag-rules/{tag}", "operator"),
    ("DELETE", "/v1/tag-rules/{tag}", "operator"),
    ("GET", "/v1/tags", "read"),
    ("GET", "/v1/tags/{tag}/members", "read"),
    ("POST", "/v1/tags/{tag}/members", "operator"),
    ("POST", "/v1/tags/{tag}/members.csv", "operator"),
    ("GET", "/v1/tracking/issues", "read"),
    ("GET", "/v1/webhooks/endpoints", "admin"),
    ("POST", "/v1/webhooks/endpoints", "admin"),
    ("GET", "/v1/webhooks/endpoints/{id}", "admin"),
    ("PATCH", "/v1/webhooks/endpoints/{id}", "admin"),
    ("GET", "/v1/webhooks/endpoints/{id}/deliveries", "admin"),
    (
        "POST",
        "/v1/webhooks/endpoints/{id}/deliveries/{delivery_id}/retry",
        "admin",
    ),
    ("POST", "/v1/webhooks/endpoints/{id}/recover", "admin"),
    ("POST", "/v1/webhooks/endpoints/{id}/rotate-secret", "admin"),
];

/// The contract of issue 28, written out: may a key of `held` call a route needing `need`?
fn allowed(held: &str, method: &str, need: &str) -> bool {
    let get = method == "GET";
    match held {
        "admin" => true,
        "operator" => need == "operator" || (get && matches!(need, "read" | "checkout")),
        "read" => get && matches!(need, "read" | "checkout"),
        "checkout" => need == "checkout",
        "ingest" => need == "ingest",
        _ => false,
    }
}

fn operations() -> Vec<(String, String)> {
    let doc = memberops_api::openapi();
    let doc: Value = serde_json::to_value(&doc).expect("document");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn every_route_of_the_document_has_a_line_in_the_scope_table() {
    let table: BTreeMap<(String, String), &str> = NEEDS
        .iter()
        .map(|(m, p, n)| ((m.to_string(), p.to_string()), *n))
        .collect();
    let missing: Vec<String> = operations()
        .into_iter()
        .filter(|op| !table.contains_key(op))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a line in tests/it/scopes.rs NEEDS (add them with the scope they \
         need; crates/memberops-api/src/scopes.rs gives them GET → read, else operator \
         unless listed): {missing:#?}"
    );
    let ops = operations();
    let stale: Vec<_> = table.keys().filter(|k| !ops.contains(k)).collect();
    assert!(
        stale.is_empty(),
        "lines for routes that are gone: {stale:?}"
    );
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str("nope");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn send(app: &TestApp, key: Option<&str>, method: &str, path: &str) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.client.request(method.clone(), app.url(&concrete(path)));
    if let Some(key) = key {
        req = if path.starts_with("/ingest/segment/") {
            req.basic_auth(key, Some(""))
        } else {
            req.bearer_auth(key)
        };
    }
    if method != Method::GET && method != Method::DELETE {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn key_of(app: &TestApp, scopes: &[KeyScope], limit: Option<RateLimit>) -> String {
    memberops_app::keys::create_with(app.store.as_ref(), &app.ws.id, "scoped", scopes, limit)
        .await
        .expect("key")
        .1
}

async fn every_route_with_every_scope(app: TestApp) {
    let needs: BTreeMap<(&str, &str), &str> =
        NEEDS.iter().map(|(m, p, n)| ((*m, *p), *n)).collect();
    let mut wrong = Vec::new();
    for scope in KeyScope::ALL {
        let key = key_of(&app, &[scope], None).await;
        for (method, path) in operations() {
            let Some(need) = needs.get(&(method.as_str(), path.as_str())) else {
                continue; // reported by the table test
            };
            let (status, body) = send(&app, Some(&key), &method, &path).await;
            let refused = status == StatusCode::FORBIDDEN && body["code"] == "insufficient_scope";
            if *need == "public" {
                let (anon, _) = send(&app, None, &method, &path).await;
                if anon == StatusCode::UNAUTHORIZED || anon == StatusCode::FORBIDDEN {
                    wrong.push(format!("{method} {path}: public, yet {anon} without a key"));
                }
                continue;
            }
            let expect = allowed(scope.as_str(), &method, need);
            if expect && (refused || status == StatusCode::UNAUTHORIZED) {
                wrong.push(format!(
                    "{method} {path}: {} refused ({status} {body})",
                    scope.as_str()
                ));
            }
            if !expect {
                let names_scope = body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("`{need}`")));
                if !(refused && names_scope) {
                    wrong.push(format!(
                        "{method} {path}: {} should get 403 insufficient_scope naming `{need}`, got {status} {body}",
                        scope.as_str()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // No key at all on a keyed route: 401.
    let (status, body) = send(&app, None, "GET", "/v1/members").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
both!(every_route_with_every_scope);

async fn a_key_over_its_rate_gets_429_with_retry_after(app: TestApp) {
    let key = key_of(
        &app,
        &[KeyScope::Read],
        Some(RateLimit { rps: 1, burst: 2 }),
    )
    .await;
    // The burst passes; within a few more requests (a token a second comes back) one is
    // refused.
    for _ in 0..2 {
        let (status, body) = app.call_as(&key, Method::GET, "/v1/members", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut refused = None;
    for _ in 0..6 {
        let resp = app
            .client
            .get(app.url("/v1/members"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request");
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(resp);
            break;
        }
    }
    let resp = refused.expect("a request over the rate is refused");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "rate_limited");
    // Other keys are not slowed by this one.
    let (status, _) = app.get("/v1/members").await;
    assert_eq!(status, StatusCode::OK);
    // A second later a token is back.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = app.call_as(&key, Method::GET, "/v1/members", None).await;
    assert_eq!(status, StatusCode::OK);
}
both!(a_key_over_its_rate_gets_429_with_retry_after);

async fn a_keys_last_use_is_recorded(app: TestApp) {
    let key = key_of(&app, &[KeyScope::Read], None).await;
    let listed = |keys: Vec<memberops_store::ApiKey>| {
        keys.into_iter()
            .find(|k| k.name == "scoped")
            .expect("listed")
    };
    assert_eq!(
        listed(app.store.list_api_keys(&app.ws.id).await.expect("keys")).last_used_at,
        None
    );
    let before = memberops_core::time::now_millis();
    let (status, _) = app.call_as(&key, Method::GET, "/v1/members", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut used = None;
    for _ in 0..50 {
        used = listed(app.store.list_api_keys(&app.ws.id).await.expect("keys")).last_used_at;
        if used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(used.is_some_and(|t| t >= before), "last use {used:?}");
}
both!(a_keys_last_use_is_recorded);

async fn read_keys_see_phones_and_emails_masked(app: TestApp) {
    let (status, m) = app
        .post(
            "/v1/members",
            json!({"external_id": "mask-1", "phone": "+8613812345678", "email": "ming.li@example.com", "name": "李明"}),
        )
        .await;
    assert!(status.is_success(), "{m}");
    let id = m["id"].as_str().expect("id").to_owned();
    let read = key_of(&app, &[KeyScope::Read], None).await;
    let (_, one) = app
        .call_as(&read, Method::GET, &format!("/v1/members/{id}"), None)
        .await;
    assert_eq!(one["phone"], "+86138****5678", "{one}");
    assert_eq!(one["email"], "m***@example.com");
    let (_, list) = app.call_as(&read, Method::GET, "/v1/members", None).await;
    assert_eq!(list["data"][0]["phone"], "+86138****5678", "{list}");
    assert!(!list.to_string().contains("13812345678"));
    // Admin and checkout keys (the member center) see them whole.
    let (_, full) = app.get(&format!("/v1/members/{id}")).await;
    assert_eq!(full["phone"], "+8613812345678");
    let till = key_of(&app, &[KeyScope::Checkout], None).await;
    let (_, at_till) = app
        .call_as(&till, Method::GET, &format!("/v1/members/{id}"), None)
        .await;
    assert_eq!(at_till["email"], "ming.li@example.com");
}
both!(read_keys_see_phones_and_emails_masked);

async fn the_cli_creates_keys_of_several_scopes_and_a_rate(app: TestApp) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args([
            "--db",
            &app._db.url,
            "apikey",
            "create",
            "--name",
            "till",
            "--scope",
            "checkout,read",
            "--rps",
            "5",
            "--burst",
            "10",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let keys = app.store.list_api_keys(&app.ws.id).await.expect("keys");
    let till = keys.iter().find(|k| k.name == "till").expect("created");
    assert_eq!(till.scopes, vec![KeyScope::Checkout, KeyScope::Read]);
    assert_eq!(till.rate_limit, Some(RateLimit { rps: 5, burst: 10 }));
    let (status, _) = app.call_as(&secret, Method::GET, "/v1/members", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call_as(
            &secret,
            Method::POST,
            "/v1/members",
            Some(json!({"external_id": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "insufficient_scope");
    // An unknown scope is refused by name.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args([
            "--db",
            &app._db.url,
            "apikey",
            "create",
            "--name",
            "x",
            "--scope",
            "root",
        ])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("operator"));
}
both!(the_cli_creates_keys_of_several_scopes_and_a_rate);
