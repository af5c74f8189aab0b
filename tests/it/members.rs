use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn create_get_update_member(app: TestApp) {
    let (status, m) = app
        .post(
            "/v1/members",
            json!({
                "external_id": "u1001", "phone": "+86 138-0013-8000", "email": "Li.Lei@Example.com", "name": "李雷",
                "gender": "男", "birthday": "1990-05-20", "income_band": "10k-20k", "region": "上海", "channel": "douyin",
                "time_zone": "Asia/Shanghai", "consent": {"sms": true, "email": false},
                "attributes": {"vip_card": "A-1", "pets": 2}, "tags": ["coffee", "coffee", "vip"]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["phone"], "+8613800138000");
    assert_eq!(m["email"], "li.lei@example.com");
    assert_eq!(m["gender"], "male");
    assert_eq!(m["tags"], json!(["coffee", "vip"]));
    assert_eq!(m["consent"]["sms"], true);
    assert!(m["id"].as_str().expect("id").starts_with("mbr_"));
    assert!(m["registered_at"].is_string());

    // Both ids find it; the registration was recorded as an event.
    let by_internal = app.member(m["id"].as_str().expect("id")).await;
    assert_eq!(by_internal["external_id"], "u1001");
    assert_eq!(app.member("u1001").await["stats"]["event_count"], 1);

    // Duplicate external id → 409.
    let (status, body) = app
        .post("/v1/members", json!({"external_id": "u1001"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "member_exists");

    // Patch: absent fields stay, null clears, attributes merge.
    let (status, p) = app
        .patch(
            "/v1/members/u1001",
            json!({"email": null, "region": "北京", "attributes": {"pets": null, "size": "M"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["email"], serde_json::Value::Null);
    assert_eq!(p["region"], "北京");
    assert_eq!(p["phone"], "+8613800138000");
    assert_eq!(p["attributes"], json!({"vip_card": "A-1", "size": "M"}));

    let (status, body) = app.patch("/v1/members/nobody", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");
}
both!(create_get_update_member);

async fn bad_profile_fields_are_422_per_field(app: TestApp) {
    let (status, body) = app
        .post(
            "/v1/members",
            json!({"external_id": "u2", "phone": "12ab", "email": "nope", "birthday": "1990-02-30", "time_zone": "Mars/Base"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        codes,
        vec![
            "invalid_phone",
            "invalid_email",
            "invalid_birthday",
            "invalid_time_zone"
        ]
    );
    assert_eq!(body["errors"][0]["loc"], json!(["phone"]));
    let (status, _) = app.get("/v1/members/u2").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing half-written");

    let (status, body) = app.patch("/v1/members/u2", json!({"email": "bad"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
both!(bad_profile_fields_are_422_per_field);

async fn search_and_page(app: TestApp) {
    for (i, name) in ["王芳", "王伟", "李娜", "王小明", "张伟"]
        .iter()
        .enumerate()
    {
        let (status, body) = app
            .post(
                "/v1/members",
                json!({"external_id": format!("s{i}"), "name": name, "phone": format!("1380000000{i}"), "email": format!("P{i}@x.cn")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (_, r) = app.get("/v1/members?name_prefix=%E7%8E%8B").await;
    assert_eq!(names(&r), vec!["王芳", "王伟", "王小明"]);
    let (_, r) = app.get("/v1/members?phone=138-0000-0003").await;
    assert_eq!(names(&r), vec!["王小明"]);
    // Stored without a country code, found with one (`+` is `%2B` in a query string).
    let (_, r) = app.get("/v1/members?phone=%2B86%20138%200000%200003").await;
    assert_eq!(names(&r), vec!["王小明"]);
    let (_, r) = app.get("/v1/members?email=p4@X.CN").await;
    assert_eq!(names(&r), vec!["张伟"]);
    let (_, r) = app.get("/v1/members?external_id=s2").await;
    assert_eq!(names(&r), vec!["李娜"]);

    // Paging with a cursor visits every member once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/members?limit=2&cursor={c}"),
            None => "/v1/members?limit=2".to_owned(),
        };
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec!["王芳", "王伟", "李娜", "王小明", "张伟"]);
    // Stored with a country code, found without one; a number that only shares digits is not a match.
    let (status, body) = app
        .post(
            "/v1/members",
            json!({"external_id": "s9", "name": "赵敏", "phone": "+86 139 1234 5678"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, r) = app.get("/v1/members?phone=13912345678").await;
    assert_eq!(names(&r), vec!["赵敏"]);
    let (_, r) = app.get("/v1/members?phone=3912345678").await;
    assert_eq!(names(&r), Vec::<String>::new());
    let (status, body) = app.get("/v1/members?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
both!(search_and_page);
