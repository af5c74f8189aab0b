use std::io::Write;

use memberops_app::import::{Kind, import_csv};

use crate::both;
use crate::helpers::TestApp;

const ORDERS: &str = "\
member_id,order_id,ordered_at,amount,channel,sku
c1,A1,2011-12-01,10.50,store,s1
c1,A1,2011-12-01,2.00,store,s2
c2,,2011-12-02T10:00:00+08:00,99,web,
c2,A3,not-a-date,5,web,
c3,A4,2011-12-03,-4,web,
c1,A5,2011-12-09,1.25,,
,A6,2011-12-09,1,,
c3,A7,2011-12-10,7.777,,
";

async fn orders_import_is_idempotent_and_reports_lines(app: TestApp) {
    let s = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Orders,
        ORDERS.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!(s.rows_read, 8);
    assert_eq!(s.applied, 4, "{s:?}");
    assert_eq!(s.merged_lines, 1);
    assert_eq!(s.rejected, 3);
    let lines: Vec<u64> = s.rejected_lines.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![5, 6, 8]);
    assert_eq!(s.members_created, 3);
    // Floating-point noise in files is rounded to the minor unit.
    assert_eq!(app.member("c3").await["stats"]["total_spend_minor"], 778);
    let c1 = app.member("c1").await;
    assert_eq!(c1["stats"]["order_count"], 2);
    assert_eq!(c1["stats"]["total_spend_minor"], 1375);
    let before = app.store.counts(&app.ws.id).await.expect("counts");

    let again = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Orders,
        ORDERS.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!((again.applied, again.duplicates, again.rejected), (0, 4, 3));
    assert_eq!(app.store.counts(&app.ws.id).await.expect("counts"), before);
}
both!(orders_import_is_idempotent_and_reports_lines);

async fn members_import_fills_profiles_and_updates_on_change(app: TestApp) {
    let csv = "member_id,name,phone,email,birthday,gender,consent_sms,tags,favourite\n\
               u1,王芳,13800000001,a@x.cn,1990-01-02,F,yes,vip|coffee,tea\n\
               u2,李雷,bad-phone,,,,,,\n";
    let s = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Members,
        csv.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!((s.applied, s.rejected), (1, 1));
    assert_eq!(s.rejected_lines[0].0, 3);
    assert!(
        s.rejected_lines[0].1.contains("invalid_phone"),
        "{:?}",
        s.rejected_lines
    );
    let m = app.member("u1").await;
    assert_eq!(m["gender"], "female");
    assert_eq!(m["tags"], serde_json::json!(["vip", "coffee"]));
    assert_eq!(m["attributes"]["favourite"], "tea");
    assert_eq!(m["consent"]["sms"], true);

    let edited = csv.replace("王芳", "王芳芳");
    let s = import_csv(
        app.store.as_ref(),
        &app.ws,
        Kind::Members,
        edited.as_bytes(),
        |_| {},
    )
    .await
    .expect("import");
    assert_eq!((s.applied, s.duplicates), (1, 0));
    assert_eq!(app.member("u1").await["name"], "王芳芳");
    assert_eq!(
        app.store.counts(&app.ws.id).await.expect("counts").members,
        1
    );
}
both!(members_import_fills_profiles_and_updates_on_change);

/// SIGKILL in the middle of `memberops import orders`, then a re-run: the database ends
/// with exactly what one clean import gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv_path = dir.path().join("orders.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).expect("csv"));
        writeln!(f, "member_id,order_id,ordered_at,amount").expect("write");
        for i in 0..120_000u32 {
            let order = if i % 3 == 0 {
                String::new()
            } else {
                format!("o{i}")
            };
            writeln!(
                f,
                "m{},{order},2020-01-{:02},{}.{:02}",
                i % 5000,
                1 + i % 28,
                i % 500,
                i % 100
            )
            .expect("write");
        }
    }
    let bin = env!("CARGO_BIN_EXE_memberops");
    let run = |db: &std::path::Path| {
        std::process::Command::new(bin)
            .arg("--db")
            .arg(db)
            .args(["import", "orders"])
            .arg(&csv_path)
            .output()
    };

    let clean_db = dir.path().join("clean.db");
    let out = run(&clean_db).expect("clean import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let killed_db = dir.path().join("killed.db");
    let mut child = std::process::Command::new(bin)
        .arg("--db")
        .arg(&killed_db)
        .args(["import", "orders"])
        .arg(&csv_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until some batches have committed, then kill without warning.
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let partial = count_orders(&killed_db).await;
        if partial > 0 || started.elapsed().as_secs() > 60 {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let partial = count_orders(&killed_db).await;
    let out = run(&killed_db).expect("resumed import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let clean = counts(&clean_db).await;
    let resumed = counts(&killed_db).await;
    assert!(
        partial < clean.2,
        "the kill came too late to test anything ({partial} orders already in)"
    );
    assert_eq!(resumed, clean);
}

async fn count_orders(db: &std::path::Path) -> i64 {
    if !db.exists() {
        return 0;
    }
    counts(db).await.2
}

/// (members, events, orders, total spend) of a database file.
async fn counts(db: &std::path::Path) -> (i64, i64, i64, i64) {
    let store = memberops_store::SqliteStore::open(&db.to_string_lossy())
        .await
        .expect("open");
    let pool = store.pool();
    let one = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap_or(0)
    };
    (
        one("SELECT COUNT(*) FROM members").await,
        one("SELECT COUNT(*) FROM events").await,
        one("SELECT COUNT(*) FROM orders").await,
        one("SELECT COALESCE(SUM(paid_minor - refunded_minor), 0) FROM member_stats").await,
    )
}
