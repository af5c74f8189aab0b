//! `memberops bench-segments`: the member-intelligence benchmark (see bench/segments).
//! Fills a SQLite file with demo-like members, their aggregates and orders by direct
//! inserts (the event path is benchmarked elsewhere), then times RFM + stages, the
//! recompute job, the index load, and a 6-condition count through the index and as SQL.

use std::time::Instant;

use chrono::{Days, NaiveDate};
use memberops_app::segments::{self as seg, IndexCache, Settings};
use memberops_store::SqliteStore;
use sqlx::QueryBuilder;

use super::bench::cpu_seconds;

#[derive(clap::Args)]
pub struct Args {
    /// SQLite file to create (replaced if present).
    #[arg(long, default_value = "bench-segments.db")]
    db: String,
    #[arg(long, default_value_t = 1_000_000)]
    members: usize,
    /// Write the orders here as CSV for the DuckDB reference.
    #[arg(long, default_value = "bench-orders.csv")]
    orders_csv: String,
    /// Index count repetitions.
    #[arg(long, default_value_t = 21)]
    runs: usize,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const REGIONS: [&str; 8] = [
    "上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "西安",
];
const CHANNELS: [&str; 5] = ["wechat", "app", "store", "tmall", "douyin"];
const TAGS: [&str; 6] = ["coffee", "tea", "student", "mom", "gym", "pet"];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(&args.db);
    let _ = std::fs::remove_file(format!("{}-wal", args.db));
    let store = SqliteStore::open(&args.db).await?;
    memberops_store::Store::migrate(&store).await?;
    let pool = store.pool().clone();
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
    let day0 = NaiveDate::from_ymd_opt(2024, 6, 1).ok_or_else(|| anyhow::anyhow!("date"))?;
    let ms = |d: NaiveDate| {
        d.and_hms_opt(4, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis())
    };

    let t = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut csv = csv::Writer::from_path(&args.orders_csv)?;
    csv.write_record(["member_id", "local_date", "amount_minor", "refunded_minor"])?;
    let mut orders_total = 0u64;
    let chunk = 500;
    let mut tx = pool.begin().await?;
    for start in (0..args.members).step_by(chunk) {
        let end = (start + chunk).min(args.members);
        let mut members = Vec::with_capacity(end - start);
        let mut stats = Vec::new();
        let mut orders = Vec::new();
        for i in start..end {
            let id = format!("mbr_{i:010}");
            let reg = day0 + Days::new(rng.below(700));
            let birthday = format!(
                "{}-{:02}-{:02}",
                1965 + rng.below(40),
                1 + rng.below(12),
                1 + rng.below(28)
            );
            let tags = if rng.below(3) == 0 {
                format!("[\"{}\"]", TAGS[rng.below(6) as usize])
            } else {
                "[]".to_owned()
            };
            members.push((
                id.clone(),
                ["male", "female"][rng.below(2) as usize],
                birthday,
                REGIONS[rng.below(8) as usize],
                CHANNELS[rng.below(5) as usize],
                ms(reg),
                tags,
            ));
            // 30% never buy; buyers place 1–8 orders (skewed low), ¥20–¥800.
            let n = if rng.below(10) < 3 {
                0
            } else {
                1 + rng.below(4) * rng.below(3)
            };
            let mut first: Option<NaiveDate> = None;
            let mut last: Option<NaiveDate> = None;
            let (mut paid, mut days) = (0i64, std::collections::BTreeSet::new());
            for k in 0..n {
                let span = (as_of - reg).num_days().max(1) as u64;
                let d = reg + Days::new(rng.below(span));
                let amount = 2_000 + rng.below(78_000) as i64;
                first = Some(first.map_or(d, |f| f.min(d)));
                last = Some(last.map_or(d, |l| l.max(d)));
                paid += amount;
                days.insert(d);
                let date = d.format("%Y-%m-%d").to_string();
                csv.write_record([id.as_str(), &date, &amount.to_string(), "0"])?;
                orders.push((format!("{id}-{k}"), id.clone(), ms(d), date, amount));
            }
            orders_total += n;
            let active = last.map_or(reg, |l| l.max(reg));
            stats.push((
                id,
                first.map(ms),
                last.map(ms),
                n as i64,
                days.len() as i64,
                paid,
                ms(active),
                last.map(|d| d.format("%Y-%m-%d").to_string()),
            ));
        }
        let mut q = QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO members (id, workspace_id, external_id, gender, birthday, region, channel, registered_at, \
             time_zone, tags, created_at, updated_at) ",
        );
        q.push_values(&members, |mut b, m| {
            b.push_bind(m.0.clone())
                .push_bind("default")
                .push_bind(m.0.clone())
                .push_bind(m.1)
                .push_bind(m.2.clone())
                .push_bind(m.3)
                .push_bind(m.4)
                .push_bind(m.5)
                .push_bind("Asia/Shanghai")
                .push_bind(m.6.clone())
                .push_bind(0i64)
                .push_bind(0i64);
        });
        q.build().execute(&mut *tx).await?;
        let mut q = QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO member_stats (member_id, workspace_id, first_order_at, last_order_at, order_count, order_days, \
             paid_minor, refunded_minor, last_active_at, event_count, last_order_date) ",
        );
        q.push_values(&stats, |mut b, s| {
            b.push_bind(s.0.clone())
                .push_bind("default")
                .push_bind(s.1)
                .push_bind(s.2)
                .push_bind(s.3)
                .push_bind(s.4)
                .push_bind(s.5)
                .push_bind(0i64)
                .push_bind(s.6)
                .push_bind(s.3 + 1)
                .push_bind(s.7.clone());
        });
        q.build().execute(&mut *tx).await?;
        for oc in orders.chunks(500) {
            // A paid order is its `order.paid` event row (the `orders` view reads it).
            let mut q = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO events (workspace_id, id, member_id, type, occurred_at, received_at, properties, \
                 order_id, local_date, amount_minor, refunded_minor, currency) ",
            );
            q.push_values(oc, |mut b, o| {
                b.push_bind("default")
                    .push_bind(o.0.clone())
                    .push_bind(o.1.clone())
                    .push_bind("order.paid")
                    .push_bind(o.2)
                    .push_bind(o.2)
                    .push_bind("{}")
                    .push_bind(o.0.clone())
                    .push_bind(o.3.clone())
                    .push_bind(o.4)
                    .push_bind(0i64)
                    .push_bind("CNY");
            });
            q.build().execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    csv.flush()?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    let fill_s = t.elapsed().as_secs_f64();
    eprintln!(
        "filled {} members, {orders_total} orders in {fill_s:.1}s",
        args.members
    );

    let store: std::sync::Arc<dyn memberops_store::Store> = std::sync::Arc::new(store);
    let ws = super::default_workspace(store.as_ref()).await?;

    // Wall and CPU seconds of each phase: CPU time does not depend on what else the
    // (shared) machine runs.
    // RFM + stage + value class of every member (what the recompute computes before it
    // compares with the stored rows), then the RFM report rows (`report rfm`).
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let scored = seg::intel::scored(store.as_ref(), &ws, as_of, &Settings::default()).await?;
    let (rfm_s, rfm_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(scored);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let rows = seg::compute(store.as_ref(), &ws, as_of, &Settings::default()).await?;
    let (report_s, report_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(rows);
    let now = memberops_core::time::now_millis();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let first = seg::recompute(store.as_ref(), &ws, as_of, &Settings::default(), now).await?;
    let (recompute_first_s, first_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let next = as_of + Days::new(1);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let second = seg::recompute(store.as_ref(), &ws, next, &Settings::default(), now).await?;
    let (recompute_next_s, next_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);

    let cache = IndexCache::new();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    cache.rebuild(store.as_ref(), &ws).await?;
    let (index_load_s, index_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let (n, bytes) = cache.stats(&ws).await.unwrap_or_default();

    let tree = serde_json::json!({"all": [
        {"field": "gender", "op": "eq", "value": "female"},
        {"field": "age", "op": "between", "value": [25, 45]},
        {"field": "region", "op": "in", "value": ["上海", "杭州", "深圳"]},
        {"field": "orders", "op": "gte", "value": 2},
        {"field": "last_order_at", "op": "within_last_days", "value": 180},
        {"field": "stage", "op": "in", "value": ["growing", "mature"]}
    ]});
    let node = seg::parse_tree(&tree, "condition")?;
    let at = seg::intel::cutoff_after(next, &ws) - 1;
    let mut index_ms = Vec::new();
    let mut pure_ms = Vec::new();
    let mut count = 0;
    for _ in 0..args.runs {
        let t = Instant::now();
        let (c, pure) = cache
            .with_index(store.as_ref(), &ws, &node, at, |idx, ctx| {
                let t = Instant::now();
                let c = idx.count(&node, ctx);
                (c, t.elapsed().as_secs_f64() * 1e3)
            })
            .await?;
        count = c;
        pure_ms.push(pure);
        index_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let where_sql = seg::tree_sql(store.as_ref(), &ws, &node, at).await?;
    let mut sql_ms = Vec::new();
    let mut sql_count = 0;
    for _ in 0..5 {
        let t = Instant::now();
        sql_count = store.segment_count_sql(&ws.id, &where_sql).await?;
        sql_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    anyhow::ensure!(
        count as i64 == sql_count,
        "index {count} != sql {sql_count}"
    );
    let (im, sm) = (median(index_ms), median(sql_ms));
    let out = serde_json::json!({
        "members": args.members,
        "orders": orders_total,
        "fill_s": fill_s,
        "rfm_stage_value_compute_s": rfm_s,
        "rfm_stage_value_compute_cpu_s": rfm_cpu,
        "rfm_report_rows_s": report_s,
        "rfm_report_rows_cpu_s": report_cpu,
        "recompute_first_run_s": recompute_first_s,
        "recompute_first_run_cpu_s": first_cpu,
        "recompute_first_run": {"compute_ms": first.compute_ms, "write_ms": first.write_ms, "updated": first.updated, "transitions": first.transitions},
        "recompute_next_day_s": recompute_next_s,
        "recompute_next_day_cpu_s": next_cpu,
        "recompute_next_day": {"compute_ms": second.compute_ms, "write_ms": second.write_ms, "updated": second.updated, "transitions": second.transitions},
        "index_load_s": index_load_s,
        "index_load_cpu_s": index_cpu,
        "index_members": n,
        "index_bytes": bytes,
        "index_bytes_per_member": bytes as f64 / n.max(1) as f64,
        "six_condition_count": count,
        "index_count_median_ms": im,
        "index_count_only_median_ms": median(pure_ms),
        "sql_count_median_ms": sm,
        "sql_over_index": sm / im,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
