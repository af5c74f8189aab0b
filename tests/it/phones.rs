//! One stored form for phone numbers (E.164), whichever way a number comes in.

use memberops_app::import::{Kind, import_csv};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

fn ids(r: &Value) -> Vec<String> {
    let mut ids: Vec<String> = r["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["external_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn every_entry_stores_the_same_e164_number(app: TestApp) {
    // The members API, written the way staff type it.
    let (status, body) = app
        .post(
            "/v1/members",
            json!({"external_id": "p-api", "phone": "139-0000-1111"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A member.registered event.
    app.batch(
        json!([{"id": "reg-1", "type": "member.registered", "member": "p-evt",
                      "properties": {"phone": "13900001111"}}]),
    )
    .await;
    // A Segment identify.
    let key = app.ingest_key().await;
    let resp = app
        .client
        .post(app.url("/ingest/segment/v1/identify"))
        .basic_auth(&key, Some(""))
        .json(
            &json!({"type": "identify", "messageId": "id-1", "userId": "p-seg",
                      "traits": {"phone": "13900001111"}}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    // A CSV import.
    let csv = "member_id,phone\np-csv,139 0000 1111\n";
    let s = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Members,
        csv.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!(s.applied, 1, "{s:?}");

    for id in ["p-api", "p-evt", "p-seg", "p-csv"] {
        assert_eq!(app.member(id).await["phone"], "+8613900001111", "{id}");
    }
    let all = vec!["p-api", "p-csv", "p-evt", "p-seg"];
    for typed in [
        "13900001111",
        "%2B86%20139%200000%201111",
        "008613900001111",
    ] {
        let (status, r) = app.get(&format!("/v1/members?phone={typed}")).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(ids(&r), all, "{typed}");
    }

    // A patch normalises too: 00 is +, and a landline drops its trunk 0 behind +86.
    let (status, p) = app
        .patch("/v1/members/p-api", json!({"phone": "0086 139 0000 2222"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["phone"], "+8613900002222");
    let (_, p) = app
        .patch("/v1/members/p-api", json!({"phone": "(020) 1234-5678"}))
        .await;
    assert_eq!(p["phone"], "+862012345678");
    let (_, r) = app.get("/v1/members?phone=020-1234-5678").await;
    assert_eq!(ids(&r), vec!["p-api"]);

    // What cannot be a phone is refused.
    let (status, body) = app
        .patch("/v1/members/p-api", json!({"phone": "+28 1234 5678"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["code"], "invalid_phone");
}
both!(every_entry_stores_the_same_e164_number);

async fn the_calling_code_is_a_workspace_setting(app: TestApp) {
    let (s, w) = app.get("/v1/workspace").await;
    assert_eq!(
        (s, w["calling_code"].as_str()),
        (StatusCode::OK, Some("86")),
        "{w}"
    );
    for bad in [
        json!({"calling_code": "28"}),
        json!({"name": ""}),
        json!({"currency": "USD"}),
    ] {
        let (s, b) = app.patch("/v1/workspace", bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {b}");
    }
    let (s, w) = app
        .patch(
            "/v1/workspace",
            json!({"calling_code": "+1", "name": "US brand"}),
        )
        .await;
    assert_eq!(
        (s, w["calling_code"].as_str(), w["name"].as_str()),
        (StatusCode::OK, Some("1"), Some("US brand")),
        "{w}"
    );
    // Numbers written nationally take the new code from now on.
    let (s, m) = app
        .post(
            "/v1/members",
            json!({"external_id": "us-1", "phone": "(202) 555-0100"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["phone"], "+12025550100", "{m}");
    // The change is audited with the settings before and after.
    let (_, audit) = app.get("/v1/audit").await;
    let entry = audit["data"]
        .as_array()
        .expect("audit")
        .iter()
        .find(|e| e["path"] == "/v1/workspace")
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["before"]["calling_code"], "86", "{audit}");
    assert_eq!(entry["after"]["calling_code"], "1", "{audit}");
}
both!(the_calling_code_is_a_workspace_setting);
