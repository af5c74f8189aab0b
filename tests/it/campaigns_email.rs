//! Email campaigns against a real SMTP server (Python's aiosmtpd, started by the test):
//! recipients, subject, personalised body and a working unsubscribe link.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use memberops_app::campaigns::channels::{Channels, Smtp};
use memberops_app::campaigns::dispatch::Policy;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::campaigns::{campaign, dispatcher, launch, member, report, segment};
use crate::both;
use crate::helpers::{TestApp, python_has};

const SERVER: &str = r#"
import email, email.policy, json, sys, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with open(sys.argv[1], "a", encoding="utf-8") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "subject": str(msg["subject"]),
                                "body": msg.get_body(("plain",)).get_content()}) + "\n")
        return "250 OK"

c = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[2]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// The SMTP server, stopped when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    out: tempfile::NamedTempFile,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let out = tempfile::NamedTempFile::new().expect("temp file");
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(out.path())
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        // Started when it says so (no sleeping on a guess).
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line.trim(), "ready");
        SmtpServer { child, port, out }
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

async fn an_email_broadcast_reaches_a_real_smtp_server(app: TestApp) {
    if !python_has("aiosmtpd", "aiosmtpd") {
        return;
    }
    let smtp = SmtpServer::start();
    let consent = json!({"email": true});
    member(
        &app,
        "li",
        json!({"email": "li@example.com", "consent": consent}),
    )
    .await;
    member(
        &app,
        "wang",
        json!({"email": "wang@example.com", "consent": consent}),
    )
    .await;
    member(&app, "zhao", json!({"email": "zhao@example.com"})).await;
    let seg = segment(&app, "c1").await;
    let message = json!({"channel": "email", "subject": "{{ member.name }}，会员日快乐",
        "body": "亲爱的{{ member.name }}，您有{{ points.balance }}积分。退订：{{ unsubscribe_url }}"});
    let c = campaign(&app, &seg, message.clone()).await;
    assert_eq!(launch(&app, &c).await["planned"], 3);
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let channels = || Channels {
        email: Some(std::sync::Arc::new(
            Smtp::new(&url, "MemberOps <shop@example.com>").expect("smtp"),
        )),
        ..Channels::inbox_only(app.store.clone())
    };
    let open = Policy {
        quiet_hours: None,
        ..Policy::default()
    };
    let d = dispatcher(&app, channels(), open.clone());
    let now = memberops_core::time::now_millis();
    assert_eq!(d.round(now).await.expect("round"), 3);

    let mut got = smtp.received();
    got.sort_by_key(|m| m["to"][0].as_str().unwrap_or_default().to_owned());
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["to"], json!(["li@example.com"]));
    assert_eq!(got[1]["to"], json!(["wang@example.com"]));
    assert_eq!(got[0]["from"], "shop@example.com");
    assert_eq!(got[0]["subject"], "会员li，会员日快乐");
    let body = got[1]["body"].as_str().expect("body");
    assert!(
        body.starts_with("亲爱的会员wang，您有0积分。退订："),
        "{body}"
    );
    let link = body.split("退订：").nth(1).expect("link").trim().to_owned();
    assert!(link.starts_with(&format!("{}/u/", app.addr)), "{link}");
    let r = report(&app, &c).await;
    assert_eq!(
        (r["sent"].as_i64(), r["held"]["no_consent"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );

    // The link works without a key, withdraws consent and shows on the timeline.
    let resp = app.client.get(&link).send().await.expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    let b: Value = resp.json().await.expect("json");
    assert_eq!(
        (b["unsubscribed"].as_bool(), b["channel"].as_str()),
        (Some(true), Some("email")),
        "{b}"
    );
    assert_eq!(
        app.client.get(&link).send().await.expect("again").status(),
        StatusCode::OK
    );
    let wang = app.member("wang").await;
    assert_eq!(wang["consent"]["email"], false, "{wang}");
    let (_, events) = app
        .get(&format!(
            "/v1/members/{}/events",
            wang["id"].as_str().expect("id")
        ))
        .await;
    let withdrawn: Vec<&Value> = events["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "consent.withdrawn")
        .collect();
    assert_eq!(withdrawn.len(), 1, "{events}");
    let (s, _) = app.get(&format!("{}/u/nope", "")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The next campaign holds the member who unsubscribed.
    let c2 = campaign(&app, &seg, message).await;
    launch(&app, &c2).await;
    let d = dispatcher(&app, channels(), open);
    d.round(memberops_core::time::now_millis())
        .await
        .expect("round");
    let r = report(&app, &c2).await;
    assert_eq!(
        (
            r["sent"].as_i64(),
            r["held"]["unsubscribed"].as_i64(),
            r["held"]["no_consent"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(smtp.received().len(), 3);
}
both!(an_email_broadcast_reaches_a_real_smtp_server);
