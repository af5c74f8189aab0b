//! Benchmarks that compare MemberOps with a reference measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use memberops_app::ingest::{BatchOptions, apply_batch};
use memberops_core::event::EventIn;
use memberops_store::{PgStore, SqliteStore, Store};
use sqlx::QueryBuilder;

#[derive(Subcommand)]
pub enum Command {
    /// `order.paid` events through the batch path on SQLite (and PostgreSQL with
    /// `--postgres`), against plain batched INSERTs of the same rows into a table of the
    /// same database.
    Ingest(IngestArgs),
    /// Event consumers and webhooks (issue 24): ingest without and with a subscribed
    /// endpoint, delivery rate from a full outbox to a loopback sink, and commit-to-receipt
    /// latency at a steady rate; the API and the worker in this process, on fresh databases.
    Webhooks(super::bench_webhooks::Args),
}

#[derive(clap::Args)]
pub struct IngestArgs {
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    #[arg(long, default_value_t = 100_000)]
    members: usize,
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Where the database files go (emptied first).
    #[arg(long, default_value = "bench/out")]
    dir: PathBuf,
    /// Skip the run with the loyalty program active (quicker iterations on the bare path).
    #[arg(long)]
    skip_loyalty: bool,
    /// Also measure PostgreSQL: a server URL (e.g. postgres://postgres@127.0.0.1/test); each
    /// run gets a database of its own, created on that server and dropped afterwards.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Skip the SQLite runs (with `--postgres`).
    #[arg(long, requires = "postgres")]
    no_sqlite: bool,
}

pub async fn run(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Ingest(a) => ingest(a).await,
        Command::Webhooks(a) => super::bench_webhooks::run(a).await,
    }
}

/// The i-th benchmark event: a paid order of member `i * 7919 % members` (spreads members
/// across batches), amounts between 1.00 and 999.99, times rising over two years as in a
/// live stream or an export sorted by date.
pub(crate) fn order_event(i: usize, members: usize, events: usize) -> EventIn {
    let member = (i.wrapping_mul(7919)) % members.max(1);
    let minor = 100 + (i.wrapping_mul(104_729) % 99_900);
    let span = 730 * 86_400_i64;
    let offset = (i as i64).saturating_mul(span) / (events.max(1) as i64);
    let at = chrono::DateTime::from_timestamp(1_700_000_000 + offset, 0).unwrap_or_default();
    let mut properties = serde_json::Map::new();
    properties.insert("order_id".into(), format!("o{i}").into());
    properties.insert(
        "amount".into(),
        format!("{}.{:02}", minor / 100, minor % 100).into(),
    );
    properties.insert(
        "channel".into(),
        ["app", "store", "web", "mini_program"][i % 4].into(),
    );
    EventIn {
        id: format!("e{i}"),
        kind: "order.paid".into(),
        member: format!("m{member}"),
        occurred_at: Some(at.to_rfc3339()),
        properties,
        auto_create: true,
    }
}

/// CPU seconds this process has used (user + system), from /proc; 0 where unavailable.
/// Reported beside wall time because CPU time does not depend on what else the machine
/// is running.
pub(crate) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (in parentheses, which may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

async fn fresh_store(dir: &std::path::Path, name: &str) -> anyhow::Result<SqliteStore> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(SqliteStore::open(&path.to_string_lossy()).await?)
}

/// A PostgreSQL database made for one run on the server `--postgres` names, so that every
/// run starts as a new production database does: empty, without statistics.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    async fn create(admin: &str, tag: &str) -> anyhow::Result<PgDb> {
        use sqlx::Connection;
        let name = format!("memberops_bench_{tag}_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .with_context(|| format!("connecting to {admin}"))?;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
        }
        // Same server and credentials, this database in place of the admin one.
        let (base, last) = admin
            .rsplit_once('/')
            .context("a PostgreSQL URL with a database path")?;
        let query = last.find('?').map(|q| &last[q..]).unwrap_or("");
        let url = format!("{base}/{name}{query}");
        Ok(PgDb {
            admin: admin.to_owned(),
            name,
            url,
        })
    }

    async fn drop_db(self) -> anyhow::Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}

/// Plain multi-row INSERTs of the benchmark rows, one transaction per batch, into a new
/// `raw_events` table of `$pool`; with `$indexed`, the table has the event log's unique id
/// and per-member index. A macro because the statements are the same text for each driver.
macro_rules! raw_inserts {
    ($Db:ty, $pool:expr, $a:expr, $indexed:expr) => {{
        let (pool, a, indexed) = ($pool, $a, $indexed);
        sqlx::query(
            "CREATE TABLE raw_events (id TEXT NOT NULL, type TEXT NOT NULL, member TEXT NOT NULL, occurred_at TEXT, properties TEXT NOT NULL)",
        )
        .execute(pool)
        .await?;
        if indexed {
            sqlx::query("CREATE UNIQUE INDEX raw_events_id ON raw_events (id)")
                .execute(pool)
                .await?;
            sqlx::query("CREATE INDEX raw_events_member ON raw_events (member, occurred_at)")
                .execute(pool)
                .await?;
        }
        let mut took = Duration::ZERO;
        let cpu_start = cpu_seconds();
        for start in (0..a.events).step_by(a.batch) {
            let rows: Vec<EventIn> = (start..(start + a.batch).min(a.events))
                .map(|i| order_event(i, a.members, a.events))
                .collect();
            let t = Instant::now();
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(1000) {
                let mut q = QueryBuilder::<$Db>::new(
                    "INSERT INTO raw_events (id, type, member, occurred_at, properties) ",
                );
                q.push_values(chunk, |mut b, e| {
                    b.push_bind(e.id.clone())
                        .push_bind(e.kind.clone())
                        .push_bind(e.member.clone())
                        .push_bind(e.occurred_at.clone())
                        .push_bind(serde_json::Value::Object(e.properties.clone()).to_string());
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            took += t.elapsed();
        }
        (took, cpu_seconds() - cpu_start)
    }};
}

/// One backend's figures: wall time and CPU seconds of this process for each path.
struct Figures {
    raw: (Duration, f64),
    indexed: (Duration, f64),
    ours: (Duration, f64),
    loyalty: Option<(Duration, f64)>,
    counts: memberops_store::Counts,
}

async fn ingest(a: IngestArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    println!(
        "bench ingest: {} order.paid events, {} members, batches of {}",
        a.events, a.members, a.batch
    );
    let sqlite = if a.no_sqlite {
        None
    } else {
        let f = sqlite_figures(&a).await?;
        println!("== SQLite");
        print_figures(&a, &f);
        Some(f)
    };
    if let Some(admin) = &a.postgres {
        let f = pg_figures(&a, admin).await?;
        println!("== PostgreSQL (CPU columns: this process only, not the server's)");
        print_figures(&a, &f);
        if let Some(s) = &sqlite {
            println!(
                "ratio PostgreSQL/SQLite, batch path: {:.2}",
                s.ours.0.as_secs_f64() / f.ours.0.as_secs_f64()
            );
        }
    }
    Ok(())
}

async fn sqlite_figures(a: &IngestArgs) -> anyhow::Result<Figures> {
    // Reference: the same rows, plain multi-row INSERTs in one transaction per batch, into
    // a table without any index (the reference) and, for context, into a table
    // indexed like the event log (unique id, per-member history).
    let raw = raw_inserts_sqlite(a, "raw.db", false).await?;
    let indexed = raw_inserts_sqlite(a, "raw_indexed.db", true).await?;
    // MemberOps: validation, idempotency, members, orders and aggregates; the loyalty
    // program switched off, then the same events with the default program active.
    let store = fresh_store(&a.dir, "memberops.db").await?;
    let (ours, counts) = ours_ingest(a, &store, false).await?;
    let loyalty = if a.skip_loyalty {
        None
    } else {
        let store = fresh_store(&a.dir, "loyalty.db").await?;
        Some(ours_ingest(a, &store, true).await?.0)
    };
    Ok(Figures {
        raw,
        indexed,
        ours,
        loyalty,
        counts,
    })
}

/// The same four runs on PostgreSQL, each in a new database.
async fn pg_figures(a: &IngestArgs, admin: &str) -> anyhow::Result<Figures> {
    let mut raws = Vec::new();
    for indexed in [false, true] {
        let db = PgDb::create(admin, if indexed { "raw_indexed" } else { "raw" }).await?;
        let pool = sqlx::PgPool::connect(&db.url).await?;
        raws.push(raw_inserts!(sqlx::Postgres, &pool, a, indexed));
        pool.close().await;
        db.drop_db().await?;
    }
    let db = PgDb::create(admin, "ours").await?;
    let store = PgStore::connect(&db.url).await?;
    let (ours, counts) = ours_ingest(a, &store, false).await?;
    store.pool().close().await;
    db.drop_db().await?;
    let loyalty = if a.skip_loyalty {
        None
    } else {
        let db = PgDb::create(admin, "loyalty").await?;
        let store = PgStore::connect(&db.url).await?;
        let (t, _) = ours_ingest(a, &store, true).await?;
        store.pool().close().await;
        db.drop_db().await?;
        Some(t)
    };
    Ok(Figures {
        raw: raws[0],
        indexed: raws[1],
        ours,
        loyalty,
        counts,
    })
}

fn print_figures(a: &IngestArgs, f: &Figures) {
    let rate = |d: Duration| a.events as f64 / d.as_secs_f64();
    let per_cpu = |c: f64| {
        if c > 0.0 {
            a.events as f64 / c
        } else {
            f64::NAN
        }
    };
    let ((raw_time, raw_cpu), (indexed_time, indexed_cpu), (ours, ours_cpu)) =
        (f.raw, f.indexed, f.ours);
    println!(
        "                      {:>12} {:>10} {:>14}",
        "events/s", "wall s", "events/CPU-s"
    );
    println!(
        "raw INSERT reference: {:>12.0} {:>10.2} {:>14.0}",
        rate(raw_time),
        raw_time.as_secs_f64(),
        per_cpu(raw_cpu)
    );
    println!(
        "raw INSERT, indexed:  {:>12.0} {:>10.2} {:>14.0}",
        rate(indexed_time),
        indexed_time.as_secs_f64(),
        per_cpu(indexed_cpu)
    );
    println!(
        "memberops batch path: {:>12.0} {:>10.2} {:>14.0}",
        rate(ours),
        ours.as_secs_f64(),
        per_cpu(ours_cpu)
    );
    println!(
        "ratio memberops/raw:  {:>12.2} {:>10} {:>14.2}",
        rate(ours) / rate(raw_time),
        "",
        per_cpu(ours_cpu) / per_cpu(raw_cpu)
    );
    println!(
        "ratio memberops/indexed raw: {:>5.2} {:>10} {:>14.2}",
        rate(ours) / rate(indexed_time),
        "",
        per_cpu(ours_cpu) / per_cpu(indexed_cpu)
    );
    if let Some((loyal, loyal_cpu)) = f.loyalty {
        println!(
            "with loyalty program: {:>12.0} {:>10.2} {:>14.0}",
            rate(loyal),
            loyal.as_secs_f64(),
            per_cpu(loyal_cpu)
        );
        println!(
            "ratio loyalty/plain:  {:>12.2} {:>10} {:>14.2}",
            rate(loyal) / rate(ours),
            "",
            per_cpu(loyal_cpu) / per_cpu(ours_cpu)
        );
    }
    println!(
        "stored: {} members, {} events, {} orders",
        f.counts.members, f.counts.events, f.counts.orders
    );
}

async fn raw_inserts_sqlite(
    a: &IngestArgs,
    file: &str,
    indexed: bool,
) -> anyhow::Result<(Duration, f64)> {
    let raw = fresh_store(&a.dir, file).await?;
    Ok(raw_inserts!(sqlx::Sqlite, raw.pool(), a, indexed))
}

/// The events through `apply_batch` into a fresh database; with `loyalty` false the
/// program is saved disabled first, so the hook returns at once.
async fn ours_ingest(
    a: &IngestArgs,
    store: &dyn Store,
    loyalty: bool,
) -> anyhow::Result<((Duration, f64), memberops_store::Counts)> {
    store.migrate().await?;
    let ws = super::default_workspace(store).await?;
    if !loyalty {
        let program = memberops_loyalty::Program {
            enabled: false,
            ..memberops_loyalty::Program::default()
        };
        memberops_app::loyalty::save_program(store, &ws, program, "bench").await?;
    }
    let mut took = Duration::ZERO;
    let cpu_start = cpu_seconds();
    let mut accepted = 0;
    for start in (0..a.events).step_by(a.batch) {
        let rows: Vec<EventIn> = (start..(start + a.batch).min(a.events))
            .map(|i| order_event(i, a.members, a.events))
            .collect();
        let t = Instant::now();
        let report = apply_batch(store, &ws, rows, BatchOptions::default()).await?;
        took += t.elapsed();
        accepted += report.accepted;
    }
    anyhow::ensure!(
        accepted == a.events,
        "only {accepted} of {} events were accepted",
        a.events
    );
    let cpu = cpu_seconds() - cpu_start;
    Ok(((took, cpu), store.counts(&ws.id).await?))
}
