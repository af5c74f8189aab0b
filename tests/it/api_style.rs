//! The one API style of docs/api.md, checked over every operation the OpenAPI document
//! lists, so a new endpoint that strays fails here without a test of its own:
//! unknown query parameters and body fields are refused by name, unknown routes and wrong
//! methods answer the error body, and every list pages with `limit`/`cursor` into
//! `{"data", "next_cursor"}`.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn spec() -> Value {
    serde_json::to_value(memberops_api::openapi()).expect("spec")
}

/// `#/components/schemas/X` → the schema X; anything else as it is.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn operations(spec: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("item") {
            let method = match m.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            out.push((method, path.clone(), op.clone()));
        }
    }
    out
}

/// Fills path parameters with a value that needs no data (`x`).
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        out.push('x');
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

fn is_list(spec: &Value, op: &Value) -> bool {
    let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
    let s = resolve(spec, schema);
    s["properties"]["data"]["type"] == "array"
}

fn query_params(op: &Value) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// Statically, from the document: every list takes `limit` and `cursor` and answers
/// `next_cursor`; no GET answers a bare array.
#[test]
fn every_list_in_the_document_takes_limit_and_cursor_and_answers_next_cursor() {
    let spec = spec();
    let mut lists = 0;
    for (method, path, op) in operations(&spec) {
        if method != Method::GET {
            continue;
        }
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert_ne!(
            resolve(&spec, schema)["type"],
            "array",
            "GET {path} answers a bare array; lists answer {{data, next_cursor}}"
        );
        if !is_list(&spec, &op) {
            continue;
        }
        lists += 1;
        let params = query_params(&op);
        for p in ["limit", "cursor"] {
            assert!(params.iter().any(|q| q == p), "GET {path} lacks ?{p}=");
        }
        assert!(
            resolve(&spec, schema)["properties"]["next_cursor"].is_object(),
            "GET {path} answers no next_cursor"
        );
    }
    assert!(lists >= 20, "only {lists} lists found: is the walk broken?");
}

async fn every_get_refuses_an_unknown_query_parameter(app: TestApp) {
    let spec = spec();
    let mut checked = 0;
    for (method, path, _) in operations(&spec) {
        if method != Method::GET {
            continue;
        }
        let url = format!("{}?zz_region=north", concrete(&path));
        let (s, b) = app.get(&url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "GET {url}: {b}");
        assert_eq!(b["code"], "unknown_parameter", "GET {url}: {b}");
        assert_eq!(b["errors"][0]["loc"], json!(["query", "zz_region"]), "{b}");
        checked += 1;
    }
    // The filter the first operator tried: it answered every member before.
    let (s, b) = app.get("/v1/members?region=north&limit=5").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["errors"][0]["loc"], json!(["query", "region"]));
    assert!(checked >= 30, "{checked} GETs");
}
both!(every_get_refuses_an_unknown_query_parameter);

/// Bodies that take any JSON by design: Segment/RudderStack messages carry arbitrary
/// fields, as their specification writes them.
fn takes_any_fields(path: &str) -> bool {
    path.starts_with("/ingest/segment/")
}

async fn every_write_refuses_an_unknown_body_field(app: TestApp) {
    let spec = spec();
    let mut checked = 0;
    for (method, path, op) in operations(&spec) {
        if method == Method::GET || method == Method::DELETE || takes_any_fields(&path) {
            continue;
        }
        let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object()
        else {
            continue;
        };
        let schema = resolve(&spec, &Value::Object(schema.clone())).clone();
        if schema["type"] == "array" {
            continue;
        }
        let url = concrete(&path);
        // The misspelt field comes first, then the required fields filled with a value of
        // their type, so the body fails for the unknown field rather than a missing one.
        let mut body = String::from(r#"{"zz_typo": 1"#);
        // A flattened body is an allOf of its parts.
        let parts: Vec<&Value> = std::iter::once(&schema)
            .chain(schema["allOf"].as_array().into_iter().flatten())
            .map(|p| resolve(&spec, p))
            .collect();
        for part in parts {
            for name in part["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                let prop = resolve(&spec, &part["properties"][name]);
                let value = match prop["type"].as_str() {
                    Some("integer") | Some("number") => json!(1),
                    Some("boolean") => json!(true),
                    Some("array") => json!([]),
                    Some("object") => json!({}),
                    _ => json!("x"),
                };
                body.push_str(&format!(", {}: {value}", json!(name)));
            }
        }
        body.push('}');
        let resp = app
            .client
            .request(method.clone(), app.url(&url))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let s = resp.status();
        let b: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{method} {url}: {b}");
        let named = b["errors"].as_array().into_iter().flatten().any(|e| {
            (e["code"] == "unknown_field" && e["loc"] == json!(["body", "zz_typo"]))
                    // The intelligence settings name a key no rule reads with their own
                    // code (docs/segments.md), as `memberops intelligence settings set` does.
                    || (e["code"] == "unknown_setting" && e["loc"] == json!(["zz_typo"]))
        });
        assert!(named, "{method} {url} does not name the unknown field: {b}");
        checked += 1;
    }
    assert!(checked >= 25, "{checked} writes");
    // Nested too: a misspelt field inside a rule is named with its path.
    let (s, b) = app
        .call(
            Method::PUT,
            "/v1/loyalty/program",
            Some({
                let (_, mut p) = app.get("/v1/loyalty/program").await;
                p["points"]["pending_dayz"] = json!(3);
                p
            }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        b["errors"][0]["loc"],
        json!(["body", "points", "pending_dayz"])
    );
}
both!(every_write_refuses_an_unknown_body_field);

async fn unknown_routes_and_wrong_methods_answer_the_error_body(app: TestApp) {
    let (s, b) = app.get("/v1/no-such-thing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["code"], "not_found", "{b}");
    assert!(b["detail"].is_string());
    let (s, b) = app.call(Method::DELETE, "/v1/members", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["code"], "method_not_allowed", "{b}");
}
both!(unknown_routes_and_wrong_methods_answer_the_error_body);

/// Enough of everything that every list has two or more rows.
async fn seed(app: &TestApp) -> BTreeMap<&'static str, String> {
    let mut ids = BTreeMap::new();
    let mut events = Vec::new();
    for i in 0..3 {
        events.push(
            json!({"id": format!("r{i}"), "type": "member.registered", "member": format!("s{i}"),
            "occurred_at": "2026-01-02T10:00:00Z", "properties": {}}),
        );
        for (j, day) in ["2026-02-01", "2026-03-01", "2026-04-01"]
            .iter()
            .enumerate()
        {
            events.push(
                json!({"id": format!("p{i}-{j}"), "type": "order.paid", "member": format!("s{i}"),
                "occurred_at": format!("{day}T10:00:00Z"),
                "properties": {"order_id": format!("o{i}-{j}"), "amount": "120.00"}}),
            );
        }
    }
    app.batch(Value::Array(events)).await;
    let m = app.member("s0").await;
    ids.insert("member", m["id"].as_str().expect("id").to_owned());
    for code in ["T1", "T2"] {
        let (s, t) = app
            .post(
                "/v1/coupons/templates",
                json!({"name": code, "benefit": {"type": "amount_off", "off_minor": 500},
                    "validity": {"kind": "days_from_issue", "days": 30}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        ids.insert("template", t["id"].as_str().expect("id").to_owned());
        let (s, b) = app
            .post(
                "/v1/coupons/issue",
                json!({"template_id": t["id"], "members": ["s0"]}),
            )
            .await;
        assert!(s.is_success(), "{b}");
    }
    for n in ["a", "b"] {
        let (s, g) = app
            .post(
                "/v1/segments",
                json!({"name": n, "condition": {"field": "orders", "op": "gte", "value": 1}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        ids.insert("segment", g["id"].as_str().expect("id").to_owned());
        let (s, b) = app
            .patch(
                &format!("/v1/segments/{}", g["id"].as_str().expect("id")),
                json!({"name": format!("{n}2")}),
            )
            .await;
        assert!(s.is_success(), "{b}");
        let (s, b) = app
            .call(
                Method::PUT,
                &format!("/v1/tag-rules/rule_{n}"),
                Some(json!({"condition": {"field": "orders", "op": "gte", "value": 1}})),
            )
            .await;
        assert!(s.is_success(), "{b}");
        let (s, e) = app
            .post(
                "/v1/webhooks/endpoints",
                json!({"url": format!("http://127.0.0.1:9/{n}"), "event_types": ["order.paid"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        ids.insert("endpoint", e["id"].as_str().expect("id").to_owned());
    }
    app.drain().await;
    for (i, pts) in [10, 20, 30].iter().enumerate() {
        let (s, b) = app
            .post(
                "/v1/members/s0/points:adjust",
                json!({"points": pts, "reason": "seed", "idempotency_key": format!("adj{i}")}),
            )
            .await;
        assert!(s.is_success(), "{b}");
        let (s, b) = app
            .post(
                "/v1/members/s0/stored-value:top-up",
                json!({"amount_minor": 1000, "idempotency_key": format!("tu{i}")}),
            )
            .await;
        assert!(s.is_success(), "{b}");
    }
    ids
}

/// The value of each path parameter in the seeded workspace.
fn fill(path: &str, ids: &BTreeMap<&'static str, String>) -> Option<String> {
    let key = if path.starts_with("/v1/members/") {
        "member"
    } else if path.starts_with("/v1/segments/") {
        "segment"
    } else if path.starts_with("/v1/webhooks/endpoints/") {
        "endpoint"
    } else if path.starts_with("/v1/coupons/templates/") {
        "template"
    } else if path.contains('{') {
        return None;
    } else {
        return Some(path.to_owned());
    };
    let id = ids.get(key)?;
    let i = path.find('{')?;
    let j = path[i..].find('}')? + i + 1;
    if path[j..].contains('{') {
        return None;
    }
    Some(format!("{}{id}{}", &path[..i], &path[j..]))
}

/// Parameters some lists require.
fn required_query(path: &str) -> &'static str {
    match path {
        "/v1/lifecycle/flow" => "from=2026-01-01&to=2026-12-31&",
        _ => "",
    }
}

async fn every_list_pages_with_its_cursor(app: TestApp) {
    let ids = seed(&app).await;
    // A stage recompute gives the flow and RFM lists rows.
    let (s, b) = app.post("/v1/lifecycle:recompute", json!({})).await;
    assert!(s.is_success(), "{b}");
    let spec = spec();
    let mut walked = 0;
    for (method, path, op) in operations(&spec) {
        if method != Method::GET || !is_list(&spec, &op) {
            continue;
        }
        let Some(url) = fill(&path, &ids) else {
            continue;
        };
        let q = required_query(&path);
        let (s, whole) = app.get(&format!("{url}?{q}limit=1000")).await;
        assert_eq!(s, StatusCode::OK, "GET {url}: {whole}");
        assert!(whole["data"].is_array(), "GET {url}: {whole}");
        assert!(
            whole.get("next_cursor") == Some(&Value::Null),
            "GET {url}: a whole list ends with next_cursor null: {whole}"
        );
        // One row a page: the pages together are the whole list, in its order.
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..=whole["data"].as_array().map_or(0, Vec::len) {
            let c = cursor
                .as_deref()
                .map(|c| format!("&cursor={}", urlencoding(c)))
                .unwrap_or_default();
            let (s, page) = app.get(&format!("{url}?{q}limit=1{c}")).await;
            assert_eq!(s, StatusCode::OK, "GET {url}: {page}");
            let data = page["data"].as_array().expect("data");
            assert!(data.len() <= 1, "GET {url}: limit=1 gave {}", data.len());
            rows.extend(data.iter().cloned());
            match &page["next_cursor"] {
                Value::String(c) => cursor = Some(c.clone()),
                Value::Null => break,
                other => panic!("GET {url}: next_cursor {other}"),
            }
        }
        assert_eq!(
            Value::Array(rows),
            whole["data"],
            "GET {url}: the pages differ from the whole list"
        );
        let (s, b) = app
            .get(&format!("{url}?{q}cursor=zz%20not%20a%20cursor"))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "GET {url}: {b}");
        assert!(
            b["errors"][0]["code"] == "invalid_cursor" || b["code"] == "invalid_cursor",
            "GET {url}: {b}"
        );
        let (s, b) = app.get(&format!("{url}?{q}limit=1001")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "GET {url}: {b}");
        walked += 1;
    }
    assert!(walked >= 20, "{walked} lists walked");
}
both!(every_list_pages_with_its_cursor);

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
