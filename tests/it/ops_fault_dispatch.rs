//! Fault tests (issue 28 §7): `memberops serve` killed with SIGKILL during webhook
//! dispatch, campaign dispatch and points spending, then restarted. Nothing is lost (every
//! webhook and message arrives, every spend is recorded), nothing is applied twice (one
//! outbox row per event and endpoint, one message per member, one ledger line per spend;
//! a delivery in flight at the kill is sent again under the same id, which receivers
//! dedupe on), and every points balance equals its ledger.

use std::collections::HashMap;
use std::process::Child;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;
use crate::ops_fault::{balanced_points, free_port, start_with, wait_up};
use crate::receiver::{Behaviour, Hit, Receiver};

fn kill(mut server: Child) {
    server.kill().expect("SIGKILL");
    let _ = server.wait();
}

/// Waits until `sink` has seen `n` distinct ids (at most `within`).
async fn wait_distinct(sink: &Receiver, n: usize, within: Duration) -> Vec<Hit> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let hits = sink.hits();
        let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() >= n || tokio::time::Instant::now() >= deadline {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every id sent once or more, always with the same body; returns the distinct count.
fn same_body_per_id(hits: &[Hit]) -> usize {
    let mut by_id: HashMap<&str, &str> = HashMap::new();
    for h in hits {
        let first = by_id.entry(&h.id).or_insert(&h.body);
        assert_eq!(*first, h.body, "{} was sent with two bodies", h.id);
    }
    by_id.len()
}

const HOOKS: usize = 1_500;

async fn sigkill_during_webhook_dispatch_loses_nothing(app: TestApp) {
    // Slow enough that the kill lands while deliveries are in flight.
    let sink = Receiver::start(Behaviour::Hang(Duration::from_millis(100))).await;
    let (ep, _) = crate::webhooks::endpoint(&app, &sink.url, json!(["order.paid"])).await;
    let events: Vec<Value> = (0..HOOKS)
        .map(|i| {
            json!({"id": format!("wh{i}"), "type": "order.paid", "member": format!("wm{}", i % 20),
                   "auto_create": true, "properties": {"order_id": format!("wo{i}"), "amount": "5.00"}})
        })
        .collect();
    app.batch(Value::Array(events)).await;

    let env = [
        ("MEMBEROPS_WEBHOOK_LEASE_SECS", "2"),
        ("MEMBEROPS_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("MEMBEROPS_CONSUMER_POLL_MS", "50"),
    ];
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = app._db.url.clone();
    let server = start_with(&db, port, &[], &env);
    wait_up(&app.client, &base).await;
    let before = wait_distinct(&sink, HOOKS / 5, Duration::from_secs(60)).await;
    kill(server);
    let at_kill = same_body_per_id(&before);
    assert!(
        at_kill < HOOKS,
        "every webhook was out before the kill: make the run longer"
    );

    let server = start_with(&db, port, &[], &env);
    wait_up(&app.client, &base).await;
    let hits = wait_distinct(&sink, HOOKS, Duration::from_secs(90)).await;
    assert_eq!(same_body_per_id(&hits), HOOKS, "webhooks lost");
    // The last answers are being recorded: wait for the outbox to say so.
    let mut statuses = Vec::new();
    for _ in 0..200 {
        statuses = delivery_statuses(&app, &ep).await;
        if statuses.iter().all(|s| s == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(server);
    assert!(statuses.iter().all(|s| s == "delivered"), "{statuses:?}");
    let delivered = statuses.len();
    assert_eq!(delivered, HOOKS, "one outbox row per event");
    assert_eq!(app.store.integrity_check().await.expect("check"), "ok");
}
both!(sigkill_during_webhook_dispatch_loses_nothing);

/// The status of every outbox row of the endpoint.
async fn delivery_statuses(app: &TestApp, ep: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (s, page) = app
            .get(&format!(
                "/v1/webhooks/endpoints/{ep}/deliveries?limit=1000{q}"
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for d in page["data"].as_array().expect("data") {
            out.push(d["status"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

const RECIPIENTS: usize = 120;

async fn sigkill_during_campaign_dispatch_loses_nothing(app: TestApp) {
    let sink = Receiver::start(Behaviour::Ok).await;
    for i in 0..RECIPIENTS {
        let (s, m) = app
            .post(
                "/v1/members",
                json!({"external_id": format!("cm{i}"), "phone": format!("+86138{i:08}"),
                       "consent": {"sms": true}, "tags": ["fault"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
    }
    let seg = crate::campaigns::segment(&app, "fault").await;
    // Transactional: quiet hours and caps (wall-clock dependent) do not hold any back.
    let c = crate::campaigns::campaign(
        &app,
        &seg,
        json!({"channel": "sms", "body": "到店礼 {{ member.external_id }}", "transactional": true}),
    )
    .await;
    crate::campaigns::launch(&app, &c).await;

    let env = [
        ("MEMBEROPS_CAMPAIGN_LEASE_SECS", "2"),
        ("MEMBEROPS_PROVIDER_URL", sink.url.as_str()),
        (
            "MEMBEROPS_PROVIDER_SECRET",
            "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=",
        ),
        ("MEMBEROPS_WEBHOOKS_ALLOW_PRIVATE", "true"),
        // 40 a second: the kill lands in the middle of the campaign.
        ("MEMBEROPS_PROVIDER_RATE", "40"),
    ];
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = app._db.url.clone();
    let server = start_with(&db, port, &[], &env);
    wait_up(&app.client, &base).await;
    let before = wait_distinct(&sink, RECIPIENTS / 4, Duration::from_secs(60)).await;
    kill(server);
    assert!(
        same_body_per_id(&before) < RECIPIENTS,
        "every message was out before the kill: make the run longer"
    );

    let server = start_with(&db, port, &[], &env);
    wait_up(&app.client, &base).await;
    let hits = wait_distinct(&sink, RECIPIENTS, Duration::from_secs(90)).await;
    // Let a duplicate show, if the restart were to send one under a new id.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = [hits, sink.hits()].concat();
    kill(server);
    assert_eq!(same_body_per_id(&hits), RECIPIENTS, "messages lost");
    let mut phones: Vec<String> = sink
        .hits()
        .iter()
        .map(|h| {
            let b: Value = serde_json::from_str(&h.body).expect("json");
            (
                h.id.clone(),
                b["to"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect::<HashMap<_, _>>()
        .into_values()
        .collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), RECIPIENTS, "one message per member");
    let r = crate::campaigns::report(&app, &c).await;
    assert_eq!(r["sent"].as_u64(), Some(RECIPIENTS as u64), "{r}");
}
both!(sigkill_during_campaign_dispatch_loses_nothing);

const SPENDERS: usize = 10;
const SPENDS: usize = 400;
const SEED: i64 = 10_000;

async fn spend(client: &reqwest::Client, base: &str, key: &str, i: usize) -> bool {
    client
        .post(format!("{base}/v1/members/sp{}/points:spend", i % SPENDERS))
        .bearer_auth(key)
        .json(&json!({"points": 7, "idempotency_key": format!("spend-{i}"), "reason": "mall"}))
        .send()
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
}

async fn sigkill_during_points_spending_balances_every_ledger(app: TestApp) {
    for m in 0..SPENDERS {
        let (s, b) = app
            .post("/v1/members", json!({"external_id": format!("sp{m}")}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (s, b) = app
            .post(
                &format!("/v1/members/sp{m}/points:adjust"),
                json!({"points": SEED, "idempotency_key": format!("seed-{m}"), "reason": "seed"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = app._db.url.clone();
    let server = start_with(&db, port, &["--no-worker"], &[]);
    wait_up(&app.client, &base).await;
    let (quarter_tx, quarter) = tokio::sync::oneshot::channel();
    let spenders = {
        let (client, base, key) = (app.client.clone(), base.clone(), app.key.clone());
        tokio::spawn(async move {
            let mut tx = Some(quarter_tx);
            let mut ok = 0;
            for chunk in (0..SPENDS).collect::<Vec<_>>().chunks(4) {
                let mut set = tokio::task::JoinSet::new();
                for &i in chunk {
                    let (client, base, key) = (client.clone(), base.clone(), key.clone());
                    set.spawn(async move { spend(&client, &base, &key, i).await });
                }
                ok += set.join_all().await.into_iter().filter(|s| *s).count();
                if ok >= SPENDS / 4
                    && let Some(t) = tx.take()
                {
                    let _ = t.send(());
                }
            }
            ok
        })
    };
    quarter.await.expect("a quarter of the spends");
    kill(server);
    let acknowledged = spenders.await.expect("spenders");
    assert!(
        acknowledged < SPENDS,
        "the kill came after every spend: make the run longer"
    );

    // Restart; the shop sends every spend again with its key.
    let server = start_with(&db, port, &["--no-worker"], &[]);
    wait_up(&app.client, &base).await;
    for i in 0..SPENDS {
        assert!(spend(&app.client, &base, &app.key, i).await, "spend {i}");
    }
    kill(server);
    for m in 0..SPENDERS {
        let (_, lines) = balanced_points(&app, &format!("sp{m}")).await;
        let spends = lines.iter().filter(|l| l.points < 0).count();
        assert_eq!(spends, SPENDS / SPENDERS, "spend lines of sp{m}");
        let ledger: i64 = lines.iter().map(|l| l.points).sum();
        assert_eq!(ledger, SEED - 7 * (SPENDS / SPENDERS) as i64, "sp{m}");
    }
    assert_eq!(app.store.integrity_check().await.expect("check"), "ok");
}
both!(sigkill_during_points_spending_balances_every_ledger);
