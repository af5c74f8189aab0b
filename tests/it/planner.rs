//! PostgreSQL does not wait for autovacuum (issue 25 #13): on a new database whose first
//! bulk load went through the import and the event batch path, the batch path's hot
//! look-ups are planned with their indexes. Without statistics the planner guessed that a
//! list of event ids matched most of the log and read every event of the workspace for
//! each chunk of every batch (456 events/s at 100,000 events).
//!
//! PostgreSQL only: SQLite's planner does not depend on statistics.

use memberops_app::import::{Kind, import_csv};
use memberops_app::ingest::{BatchOptions, apply_batch};
use memberops_core::event::EventIn;

use crate::helpers::TestApp;

const MEMBERS: usize = 10_000;

fn paid(i: usize) -> EventIn {
    let mut properties = serde_json::Map::new();
    properties.insert("order_id".into(), format!("b{i}").into());
    properties.insert("amount".into(), format!("{}.50", 1 + i % 300).into());
    EventIn {
        id: format!("e{i}"),
        kind: "order.paid".into(),
        member: format!("m{}", i * 7919 % MEMBERS),
        occurred_at: Some(format!(
            "2025-{:02}-{:02}T10:00:00Z",
            1 + i % 12,
            1 + i % 28
        )),
        properties,
        auto_create: true,
    }
}

/// `'p0', 'p1', …`: literal keys, so that EXPLAIN plans for these values.
fn keys(prefix: &str, range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("'{prefix}{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_lookups_use_their_indexes_after_a_first_bulk_load() {
    let Some(app) = TestApp::try_spawn_postgres().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&app._db.url).await.expect("pool");
    // As on a server whose autovacuum is off or behind: only the store may analyse.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    for t in &tables {
        let sql = format!("ALTER TABLE {t} SET (autovacuum_enabled = false)");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("autovacuum off");
    }

    // The first load: an orders import, then event batches.
    let mut csv = String::from("member_id,order_id,ordered_at,amount\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "m{},i{i},2024-{:02}-{:02},{}.25\n",
            i * 31 % MEMBERS,
            1 + i % 12,
            1 + i % 28,
            1 + i % 500
        ));
    }
    let imported = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Orders,
        csv.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!(imported.applied, 10_000);
    for start in (0..20_000).step_by(10_000) {
        let events = (start..start + 10_000).map(paid).collect();
        let report = apply_batch(app.store.as_ref(), &app.ws, events, BatchOptions::default())
            .await
            .expect("batch");
        assert_eq!(report.accepted, 10_000);
    }

    // What the next batch asks (event and order ids not stored yet, members that are),
    // and the index each must use.
    let ws = "'default'";
    let checks = [
        (
            "stored event ids",
            format!(
                "SELECT id FROM events WHERE workspace_id = {ws} AND id IN ({})",
                keys("e", 20_000..20_100)
            ),
            &["events_workspace_id_id_key"][..],
        ),
        (
            "stored orders",
            format!(
                "SELECT * FROM orders WHERE workspace_id = {ws} AND order_id IN ({})",
                keys("b", 20_000..20_100)
            ),
            &["events_order"],
        ),
        (
            "members by external id",
            format!(
                "SELECT m.id, s.member_id, g.stage FROM members m \
                 LEFT JOIN member_stats s ON s.member_id = m.id \
                 LEFT JOIN member_segments g ON g.member_id = m.id \
                 WHERE m.workspace_id = {ws} AND m.external_id IN ({})",
                keys("m", 0..20)
            ),
            &["members_lookup", "members_workspace_id_external_id_key"],
        ),
        (
            "a member's events",
            "SELECT seq FROM events WHERE member_id = (SELECT id FROM members WHERE external_id = 'm7') \
             ORDER BY seq DESC LIMIT 50"
                .to_owned(),
            &["events_member"],
        ),
        (
            "a consumer's next page",
            "SELECT e.seq, m.external_id FROM events e LEFT JOIN members m ON m.id = e.member_id \
             WHERE e.workspace_id = 'default' AND e.seq > 29000 ORDER BY e.seq LIMIT 100"
                .to_owned(),
            &["events_pkey", "events_ws_seq"],
        ),
    ];
    let mut wrong = Vec::new();
    for (what, sql, indexes) in &checks {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
            .fetch_all(&pool)
            .await
            .expect("explain");
        let plan = plan.join("\n");
        let indexed = indexes.iter().any(|i| {
            plan.contains(&format!("using {i} ")) || plan.contains(&format!("Index Scan on {i} "))
        });
        if !indexed || plan.contains("Seq Scan on events") || plan.contains("Seq Scan on members") {
            wrong.push(format!("{what}: expected one of {indexes:?}\n{plan}"));
        }
    }
    pool.close().await;
    assert!(
        wrong.is_empty(),
        "plans without their index:\n{}",
        wrong.join("\n\n")
    );
}
