//! The web console in headless Chromium (issue 29, "Done when"): `tests/browser/console.py`
//! (Playwright over Debian's `/usr/bin/chromium`) signs in, finds a member, adjusts points,
//! builds and saves a segment watching its live count, schedules a broadcast, switches to
//! Chinese, and checks that an analyst can neither see nor use the adjust control.
//! Without Chromium or Playwright it says why and skips, except in CI (`.ci/run` installs
//! both), where it fails.

use memberops_app::operators::{self, Role};
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_available() -> bool {
    if !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "CI needs `apt-get install chromium chromium-driver`"
        );
        eprintln!("skipped: no {CHROMIUM} (apt-get install chromium chromium-driver)");
        return false;
    }
    crate::helpers::python_has("playwright", "playwright")
}

async fn the_console_in_a_browser(app: TestApp) {
    if !browser_available() {
        return;
    }
    let now = memberops_core::time::now_millis();
    let password = "browser test password";
    for (email, role) in [
        ("admin@example.com", Role::Admin),
        ("analyst@example.com", Role::Analyst),
    ] {
        operators::create(
            app.store.as_ref(),
            &app.ws.id,
            email,
            role,
            Some(password.into()),
            now,
        )
        .await
        .expect("account");
    }
    for (id, name, phone) in [
        ("b-1", "王小明", "13911112222"),
        ("b-2", "Ann Lee", "13933334444"),
        ("b-3", "陈静", "13955556666"),
    ] {
        let (s, b) = app
            .post(
                "/v1/members",
                json!({"external_id": id, "name": name, "phone": phone}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    app.batch(json!([{"id": "o-1", "type": "order.paid", "member": "b-1",
        "properties": {"order_id": "o-1", "amount": "88.50"}}]))
        .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/browser/console.py"
    );
    let addr = app.addr.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .env("BASE_URL", addr)
            .env("ADMIN_EMAIL", "admin@example.com")
            .env("ADMIN_PASSWORD", password)
            .env("ANALYST_EMAIL", "analyst@example.com")
            .env("ANALYST_PASSWORD", password)
            .env("MEMBER_PHONE", "13911112222")
            .env("MEMBER_NAME", "王小明")
            .env("MEMBERS_TOTAL", "3")
            .env("BUYERS", "1")
            .output()
    })
    .await
    .expect("join")
    .expect("python3");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("console browser test: ok"), "{text}");
    // What the browser did is in the database.
    let (s, b) = app.get("/v1/members/b-1/points/ledger").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b.to_string().contains("Goodwill for a late delivery"),
        "{b}"
    );
    let (_, c) = app.get("/v1/campaigns").await;
    assert_eq!(c["data"][0]["name"], "Member day", "{c}");
    assert_eq!(c["data"][0]["status"], "running", "{c}");
    assert!(!b.to_string().contains("sneaky"));
}
both!(the_console_in_a_browser);
