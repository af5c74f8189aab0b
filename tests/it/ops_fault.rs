//! Fault test: the server is killed with SIGKILL while shops send event batches; after a
//! restart the shops send every batch again (as a client does after a failed request).
//! Nothing is lost, nothing is counted twice, and every points balance equals its ledger.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::both;
use crate::helpers::TestApp;

const BATCHES: usize = 40;
const PER_BATCH: usize = 60;
const MEMBERS: usize = 12;

fn batch(n: usize) -> Value {
    let events: Vec<Value> = (0..PER_BATCH)
        .map(|i| {
            let k = n * PER_BATCH + i;
            json!({"id": format!("f{k}"), "type": "order.paid", "member": format!("fm{}", k % MEMBERS), "auto_create": true,
                   "properties": {"order_id": format!("fo{k}"), "amount": "10.00"}})
        })
        .collect();
    json!({ "events": events })
}

fn start(db: &str, port: u16) -> Child {
    start_with(db, port, &["--no-worker"], &[])
}

/// `memberops serve` on `port` with extra arguments and environment.
pub fn start_with(db: &str, port: u16, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memberops"))
        .args(["--db", db, "serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

async fn sigkill_during_ingestion_loses_and_duplicates_nothing(app: TestApp) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = app._db.url.clone();
    let mut server = start(&db, port);
    wait_up(&app.client, &base).await;

    // Shops send batches; the server dies in the middle of them.
    let (five, fifth) = tokio::sync::oneshot::channel();
    let sender = {
        let (client, base, key) = (app.client.clone(), base.clone(), app.key.clone());
        tokio::spawn(async move {
            let mut ok = 0;
            let mut five = Some(five);
            for n in 0..BATCHES {
                if n == 5
                    && let Some(tx) = five.take()
                {
                    let _ = tx.send(());
                }
                let sent = client
                    .post(format!("{base}/v1/events:batch"))
                    .bearer_auth(&key)
                    .json(&batch(n))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    ok += 1;
                }
            }
            ok
        })
    };
    // Five batches in, the sixth on its way: SIGKILL.
    fifth.await.expect("five batches");
    tokio::time::sleep(Duration::from_millis(5)).await;
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    let acknowledged = sender.await.expect("sender");
    assert!(
        acknowledged < BATCHES,
        "the kill came after every batch: make the run longer"
    );

    // Restart; the shops send everything again.
    let mut server = start(&db, port);
    wait_up(&app.client, &base).await;
    for n in 0..BATCHES {
        let r = app
            .client
            .post(format!("{base}/v1/events:batch"))
            .bearer_auth(&app.key)
            .json(&batch(n))
            .send()
            .await
            .expect("resend");
        assert!(r.status().is_success(), "batch {n}: {}", r.status());
        let report: Value = r.json().await.expect("report");
        assert_eq!(report["rejected"], 0, "batch {n}: {report}");
    }
    let _ = server.kill();
    let _ = server.wait();

    let counts = app.store.counts(&app.ws.id).await.expect("counts");
    assert_eq!(counts.orders, (BATCHES * PER_BATCH) as i64, "orders");
    assert_eq!(counts.members, MEMBERS as i64, "members");
    for m in 0..MEMBERS {
        let (stats, _) = balanced_points(&app, &format!("fm{m}")).await;
        assert_eq!(
            stats.order_count,
            (BATCHES * PER_BATCH / MEMBERS) as i64,
            "fm{m}"
        );
    }
    assert_eq!(
        app.store.integrity_check().await.expect("check"),
        "ok",
        "the database after the kill"
    );
}
both!(sigkill_during_ingestion_loses_and_duplicates_nothing);

/// The member's aggregates and points ledger, after checking that its cached balance
/// equals the ledger's sum.
pub async fn balanced_points(
    app: &TestApp,
    external_id: &str,
) -> (memberops_store::StatsRow, Vec<memberops_store::PointsLine>) {
    let (member, stats) = app
        .store
        .member_by_external_id(&app.ws.id, external_id)
        .await
        .expect("read")
        .expect("member");
    let lines = app
        .store
        .all_points_lines(&app.ws.id, &member.id)
        .await
        .expect("ledger");
    let row = app
        .store
        .loyalty_member(&app.ws.id, &member.id)
        .await
        .expect("read")
        .expect("loyalty");
    let ledger: i64 = lines.iter().map(|l| l.points).sum();
    assert_eq!(row.points_balance, ledger, "points of {external_id}");
    (stats, lines)
}
