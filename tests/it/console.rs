//! The web console over HTTP (issue 29): sign-in, sessions, CSRF, lock-out and roles, as
//! a browser without JavaScript would use them. The browser itself drives the pages in
//! `console_browser.rs`.

use std::collections::HashMap;

use memberops_app::operators::{self, Role};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

/// A cookie jar and the last page's CSRF token, over a client that does not follow
/// redirects (the tests look at them).
pub struct Browser {
    addr: String,
    client: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `value` of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            addr: app.addr.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        for v in headers.get_all(SET_COOKIE).iter() {
            let text = v.to_str().expect("cookie text");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), val.to_owned());
                }
            }
        }
        let body = resp.text().await.expect("body");
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let req = self.client.get(format!("{}{path}", self.addr));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(form).expect("form");
        let req = self
            .client
            .post(format!("{}{path}", self.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// Signs in through the form; returns the answer to the POST.
    pub async fn login(&mut self, email: &str, password: &str) -> Answer {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf();
        self.post(
            "/login",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }
}

const PASSWORD: &str = "correct horse battery";

async fn account(app: &TestApp, email: &str, role: Role) {
    operators::create(
        app.store.as_ref(),
        &app.ws.id,
        email,
        role,
        Some(PASSWORD.into()),
        memberops_core::time::now_millis(),
    )
    .await
    .expect("account");
}

async fn member(app: &TestApp) -> String {
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "c-1", "name": "李明", "phone": "13812345678"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["id"].as_str().expect("id").to_owned()
}

async fn ledger_reasons(app: &TestApp, id: &str) -> Vec<String> {
    let (s, b) = app.get(&format!("/v1/members/{id}/points/ledger")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["data"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["reason"].as_str().map(str::to_owned))
        .collect()
}

async fn nothing_without_a_session(app: TestApp) {
    let mut b = Browser::new(&app);
    for path in [
        "/",
        "/members",
        "/members?q=1",
        "/segments",
        "/campaigns/new",
    ] {
        let a = b.get(path).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            a.location().starts_with("/login?next="),
            "{path}: {}",
            a.location()
        );
    }
    let a = b
        .post("/members/mbr_x/points", &[("points", "5"), ("reason", "x")])
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location(), "/login");
    // A made-up session cookie is no session.
    b.cookies.insert("mo_session".into(), "f".repeat(64));
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    let login = b.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("name=\"email\"") && login.body.contains("name=\"password\""));
    assert!(login.body.contains("Sign in"));
    // The language follows the browser's until the account chooses one.
    let zh = reqwest::Client::new()
        .get(app.url("/login"))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")
        .send()
        .await
        .expect("login page");
    assert!(zh.text().await.expect("body").contains("登录"));
    // The API beside it is untouched.
    for path in ["/healthz", "/openapi.json"] {
        assert_eq!(b.get(path).await.status, StatusCode::OK, "{path}");
    }
    assert!(b.get("/docs/").await.status.is_success());
    let (s, _) = app.get("/v1/members").await;
    assert_eq!(s, StatusCode::OK);
}
both!(nothing_without_a_session);

async fn sign_in_sets_a_session_and_forms_need_its_token(app: TestApp) {
    account(&app, "ops@example.com", Role::Admin).await;
    let id = member(&app).await;
    let mut b = Browser::new(&app);
    // Without the sign-in form's token, no password is even checked.
    let a = b
        .post(
            "/login",
            &[("email", "ops@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b.login("ops@example.com", "wrong password!").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Wrong email or password"));
    let a = b.login("OPS@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/");
    let cookie = a.set_cookie("mo_session").expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Behind a TLS proxy the cookies are Secure.
    let https = reqwest::Client::new()
        .get(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("login page");
    let login_cookie = https.headers()[SET_COOKIE]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(login_cookie.ends_with("; Secure"), "{login_cookie}");
    // The token is kept only as its hash.
    let token = b.cookies["mo_session"].clone();
    assert!(
        app.store
            .session(&token, memberops_core::time::now_millis())
            .await
            .expect("read")
            .is_none()
    );
    let page = b.get(&format!("/members/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("13812345678"),
        "admins see phones in full"
    );
    let csrf = page.csrf();
    let path = format!("/members/{id}/points");
    // No token, or another one: refused, nothing written.
    let a = b
        .post(&path, &[("points", "50"), ("reason", "goodwill")])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = b
        .post(
            &path,
            &[
                ("csrf", &"0".repeat(64)),
                ("points", "50"),
                ("reason", "goodwill"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(ledger_reasons(&app, &id).await.is_empty());
    // A reason is required.
    let a = b
        .post(&path, &[("csrf", &csrf), ("points", "50"), ("reason", " ")])
        .await;
    assert_eq!(a.location(), format!("/members/{id}?error=reason_required"));
    assert!(ledger_reasons(&app, &id).await.is_empty());
    let a = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("points", "50"),
                ("reason", "goodwill"),
                ("idempotency_key", "k1"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(ledger_reasons(&app, &id).await, ["goodwill"]);
    // The same form sent twice adjusts once.
    b.post(
        &path,
        &[
            ("csrf", &csrf),
            ("points", "50"),
            ("reason", "goodwill"),
            ("idempotency_key", "k1"),
        ],
    )
    .await;
    assert_eq!(ledger_reasons(&app, &id).await.len(), 1);
    // The audit log names the operator, with the balances before and after.
    let (s, audit) = app.get(&format!("/v1/audit?member={id}")).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    let entry = &audit["data"][0];
    assert_eq!(entry["actor"]["name"], "ops@example.com", "{audit}");
    assert_eq!(entry["route"], "/members/{id}/points", "{audit}");
    let page = b.get(&format!("/members/{id}?flash=points_adjusted")).await;
    assert!(page.body.contains("goodwill") && page.body.contains("Points adjusted"));
    // A tag added on the page is the member's.
    let a = b
        .post(
            &format!("/members/{id}/tags"),
            &[("csrf", &csrf), ("tag", "回访优先")],
        )
        .await;
    assert_eq!(a.location(), format!("/members/{id}?flash=tag_added"));
    let (_, m) = app.get(&format!("/v1/members/{id}")).await;
    assert!(m["tags"].to_string().contains("回访优先"), "{m}");
    // The list filters by lifecycle stage (a member just registered is new).
    assert!(b.get("/members?stage=new").await.body.contains("c-1"));
    assert!(!b.get("/members?stage=churned").await.body.contains("c-1"));
    assert!(b.get("/members?q=李&stage=new").await.body.contains("c-1"));
    assert!(
        !b.get("/members?q=李&stage=mature")
            .await
            .body
            .contains("c-1")
    );
    // Signing out ends the session on the server.
    let a = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(a.location(), "/login");
    b.cookies.insert("mo_session".into(), token);
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
}
both!(sign_in_sets_a_session_and_forms_need_its_token);

async fn repeated_failures_lock_the_account(app: TestApp) {
    account(&app, "svc@example.com", Role::Service).await;
    let mut b = Browser::new(&app);
    for _ in 0..operators::LOCK_AFTER - 1 {
        assert_eq!(
            b.login("svc@example.com", "not the password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let a = b.login("svc@example.com", "not the password").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    // Locked: even the right password is refused, and says why.
    let a = b.login("svc@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("locked"), "{}", a.body);
    assert!(a.set_cookie("mo_session").is_none());
    // An administrator's reset lifts the lock.
    operators::reset_password(app.store.as_ref(), "svc@example.com", Some(PASSWORD.into()))
        .await
        .expect("reset");
    assert_eq!(
        b.login("svc@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}
both!(repeated_failures_lock_the_account);

async fn roles_are_checked_on_the_server(app: TestApp) {
    account(&app, "analyst@example.com", Role::Analyst).await;
    let id = member(&app).await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.login("analyst@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = b.get(&format!("/members/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("adjust-form"), "no adjust control");
    assert!(page.body.contains("138****5678") && !page.body.contains("13812345678"));
    let list = b.get("/members?q=c-1").await;
    assert!(list.body.contains("138****5678") && !list.body.contains("13812345678"));
    let csrf = page.csrf();
    let a = b
        .post(
            &format!("/members/{id}/points"),
            &[("csrf", &csrf), ("points", "50"), ("reason", "sneaky")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(ledger_reasons(&app, &id).await.is_empty());
    let a = b
        .post(
            &format!("/members/{id}/tags"),
            &[("csrf", &csrf), ("tag", "vip")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/segments/new").await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/segments").await.status, StatusCode::OK);
}
both!(roles_are_checked_on_the_server);

async fn the_cli_creates_accounts(app: TestApp) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args([
            "--db",
            &app._db.url,
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--role",
            "admin",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert_eq!(password.chars().count(), 20);
    let mut b = Browser::new(&app);
    assert_eq!(
        b.login("boss@example.com", &password).await.status,
        StatusCode::SEE_OTHER
    );
    // From stdin; a second account with that email is refused.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args([
            "--db",
            &app._db.url,
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--role",
            "staff",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"another long password\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
both!(the_cli_creates_accounts);

async fn the_demo_admin_gets_a_fresh_password_each_run(app: TestApp) {
    let now = memberops_core::time::now_millis();
    let first = operators::demo_admin(app.store.as_ref(), &app.ws.id, now)
        .await
        .expect("demo admin");
    let second = operators::demo_admin(app.store.as_ref(), &app.ws.id, now)
        .await
        .expect("demo admin again");
    assert_ne!(first, second);
    let mut b = Browser::new(&app);
    assert_eq!(
        b.login(operators::DEMO_ADMIN, &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        b.login(operators::DEMO_ADMIN, &second).await.status,
        StatusCode::SEE_OTHER
    );
    // An administrator: every section is in the navigation.
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    for link in [
        "href=\"/members\"",
        "href=\"/segments\"",
        "href=\"/campaigns\"",
    ] {
        assert!(home.body.contains(link), "{link}");
    }
}
both!(the_demo_admin_gets_a_fresh_password_each_run);
