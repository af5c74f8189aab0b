//! The audit log: every write by an operator or admin key, with who, when, which endpoint
//! and member, and balances and settings before and after; append-only; read at
//! `GET /v1/audit` and with `memberops audit`.

use memberops_store::KeyScope;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

async fn operator_and_admin_writes_are_audited_with_balances_before_and_after(app: TestApp) {
    app.batch(json!([{"id": "r1", "type": "member.registered", "member": "a1"}]))
        .await;
    let member = app.member("a1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, op) = memberops_app::keys::create_with(
        app.store.as_ref(),
        &app.ws.id,
        "ops-desk",
        &[KeyScope::Operator],
        None,
    )
    .await
    .expect("key");
    let (s, b) = app
        .call_as(
            &op,
            Method::POST,
            "/v1/members/a1/points:adjust",
            Some(json!({"points": 300, "idempotency_key": "adj-1", "reason": "service recovery"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post(
            "/v1/members/a1/stored-value:top-up",
            json!({"amount_minor": 10000, "idempotency_key": "top-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, page) = app.get(&format!("/v1/audit?member={member}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 2, "{page}");
    // Newest first: the admin's top-up, then the operator's adjustment.
    let top_up = &data[0];
    assert_eq!(top_up["route"], "/v1/members/{id}/stored-value:top-up");
    assert_eq!(
        top_up["before"]["stored_value_principal_minor"], 0,
        "{top_up}"
    );
    assert_eq!(
        top_up["after"]["stored_value_principal_minor"], 10000,
        "{top_up}"
    );
    let adjust = &data[1];
    assert_eq!(adjust["actor"]["name"], "ops-desk");
    assert_eq!(adjust["actor"]["scopes"], json!(["operator"]));
    assert_eq!(adjust["method"], "POST");
    assert_eq!(adjust["path"], "/v1/members/a1/points:adjust");
    assert_eq!(adjust["member_id"], member);
    assert_eq!(adjust["status"], 200);
    assert_eq!(adjust["before"]["points_balance"], 0, "{adjust}");
    assert_eq!(adjust["after"]["points_balance"], 300, "{adjust}");
    assert!(adjust["request_id"].as_str().is_some_and(|r| !r.is_empty()));

    // By actor, and paged.
    let key_id = adjust["actor"]["key_id"].as_str().expect("key id");
    let (_, mine) = app.get(&format!("/v1/audit?actor={key_id}")).await;
    assert_eq!(mine["data"].as_array().map(Vec::len), Some(1), "{mine}");
    let (_, first) = app.get("/v1/audit?limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("more");
    let (_, second) = app.get(&format!("/v1/audit?limit=1&cursor={cursor}")).await;
    assert_ne!(first["data"][0]["seq"], second["data"][0]["seq"]);
    let (_, later) = app.get("/v1/audit?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later["data"], json!([]));
    // Reading is admin-only.
    let (s, b) = app.call_as(&op, Method::GET, "/v1/audit", None).await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::FORBIDDEN, &json!("insufficient_scope"))
    );
}
both!(operator_and_admin_writes_are_audited_with_balances_before_and_after);

async fn settings_changes_keep_before_and_after(app: TestApp) {
    let (_, current) = app.get("/v1/intelligence/settings").await;
    let mut settings = current["settings"].clone();
    settings["churn"]["factor"] = json!(3.0);
    let (s, b) = app
        .call(
            Method::PUT,
            "/v1/intelligence/settings",
            Some(settings.clone()),
        )
        .await;
    assert!(s.is_success(), "{b}");
    let (_, page) = app.get("/v1/audit").await;
    let e = &page["data"][0];
    assert_eq!(e["route"], "/v1/intelligence/settings");
    assert!(e["before"].is_object() && e["after"].is_object(), "{e}");
    assert_eq!(e["before"]["settings"]["churn"]["factor"], 2.0, "{e}");
    assert_eq!(e["after"]["settings"]["churn"]["factor"], 3.0, "{e}");
}
both!(settings_changes_keep_before_and_after);

async fn ingest_writes_are_not_audited_and_the_log_is_append_only(app: TestApp) {
    let shop = app.ingest_key().await;
    let (s, _) = app
        .call_as(
            &shop,
            Method::POST,
            "/v1/events:batch",
            Some(json!({"events": [{"id": "e1", "type": "member.registered", "member": "b1"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = app.get("/v1/audit").await;
    assert_eq!(page["data"], json!([]), "{page}");
    // Reads are not audited either; an admin write is.
    app.post("/v1/members", json!({"external_id": "b2"})).await;
    let (_, page) = app.get("/v1/audit").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
    let status = page["data"][0]["status"].clone();
    assert!(
        status.as_i64().is_some_and(|s| (200..300).contains(&s)),
        "{page}"
    );

    let url = &app._db.url;
    let refused = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("pg");
        let u = sqlx::query("UPDATE audit_log SET status = 500")
            .execute(&pool)
            .await;
        let d = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
        u.is_err() && d.is_err()
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{url}"))
            .await
            .expect("sqlite");
        let u = sqlx::query("UPDATE audit_log SET status = 500")
            .execute(&pool)
            .await;
        let d = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
        u.is_err() && d.is_err()
    };
    assert!(refused, "the database let the audit log change");
    let (_, page) = app.get("/v1/audit").await;
    assert_eq!(page["data"][0]["status"], status, "{page}");
}
both!(ingest_writes_are_not_audited_and_the_log_is_append_only);

async fn the_cli_prints_the_log(app: TestApp) {
    app.post("/v1/members", json!({"external_id": "c1"})).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args(["--db", &app._db.url, "audit", "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let line: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert_eq!(line["route"], "/v1/members");
    assert_eq!(line["actor"]["name"], "test");
}
both!(the_cli_prints_the_log);
