//! `memberops bench webhooks` (issue 24): what a webhook subscriber costs the ingest path,
//! how fast the dispatcher empties a full outbox, and how long an event takes from its
//! commit to a receiver. Everything runs in this process over loopback HTTP: the API as
//! `serve` runs it, the worker (jobs loop, consumers, dispatcher) as `serve` starts it, a
//! client that posts batches and a sink that receives the deliveries.
//!
//! The client and the sink speak a minimal HTTP/1.1 (keep-alive, `content-length`, chunked
//! answers) over tokio: this crate has no HTTP client or server of its own, and a sink that
//! does little leaves the two cores to what is measured.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, ensure};
use memberops_core::time::now_millis;

use super::bench::cpu_seconds;

mod http;
mod runs;
mod stack;

use http::*;
use runs::*;
use stack::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Ingest without and with one subscribed endpoint, the worker running.
    Ingest,
    /// A full outbox sent to the sink.
    Delivery,
    /// Commit-to-receipt latency at a steady event rate.
    Latency,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IngestRuns {
    Both,
    /// Only the runs without an endpoint.
    Without,
    /// Only the runs with an endpoint.
    With,
}

#[derive(clap::Args)]
pub struct Args {
    /// `order.paid` events per ingest run (phases `ingest` and `delivery`).
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    #[arg(long, default_value_t = 20_000)]
    members: usize,
    /// Events per `POST /v1/events:batch` in the ingest and delivery phases.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Pairs of ingest runs (without, with an endpoint); the order alternates per pair.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Latency phase: events per second sent.
    #[arg(long, default_value_t = 1_000)]
    rate: usize,
    /// Latency phase: events per request (sent every `batch / rate` seconds).
    #[arg(long, default_value_t = 50)]
    latency_batch: usize,
    /// Latency phase: seconds of sending.
    #[arg(long, default_value_t = 20.0)]
    latency_secs: f64,
    /// Phases to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["ingest", "delivery", "latency"])]
    phases: Vec<Phase>,
    /// Also run every phase on PostgreSQL: a server URL whose user may create databases (a
    /// fresh database per run, dropped after it).
    #[arg(long)]
    postgres: Option<String>,
    /// Skip SQLite (with `--postgres`).
    #[arg(long)]
    no_sqlite: bool,
    /// Where the SQLite files go (default: a new directory under the system temp dir,
    /// removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also ingest without any worker, and with a timed copy of the consumers' loop (no
    /// endpoint; an endpoint without the dispatcher; with it): where phase 1's time goes.
    #[arg(long)]
    breakdown: bool,
    /// Phase 1: which runs of each pair (`without` or `with` alone, to profile one).
    #[arg(long, value_enum, default_value = "both")]
    ingest_runs: IngestRuns,
    /// Seconds to wait for every delivery before counting the missing ones.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    ensure!(
        a.events > 0 && a.members > 0 && a.batch > 0,
        "sizes must be positive"
    );
    ensure!(
        a.rate > 0 && a.latency_batch > 0 && a.latency_secs > 0.0,
        "latency sizes must be positive"
    );
    let mut backends = Vec::new();
    let mut temp = None;
    if !a.no_sqlite {
        let dir = match &a.dir {
            Some(d) => d.clone(),
            None => {
                let d = std::env::temp_dir().join(format!(
                    "memberops-bench-webhooks-{}-{}",
                    std::process::id(),
                    now_millis()
                ));
                temp = Some(d.clone());
                d
            }
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        backends.push(Backend::Sqlite(dir));
    }
    if let Some(url) = &a.postgres {
        backends.push(Backend::Postgres(url.clone()));
    }
    ensure!(
        !backends.is_empty(),
        "nothing to run: --no-sqlite without --postgres"
    );
    println!(
        "bench webhooks: {} order.paid events, {} members, batches of {}; latency: {} events/s in batches of {} for {} s",
        a.events, a.members, a.batch, a.rate, a.latency_batch, a.latency_secs
    );
    let mut summaries = Vec::new();
    let mut result = Ok(());
    for b in &backends {
        match run_backend(&a, b).await {
            Ok(s) => {
                s.print();
                summaries.push(s);
            }
            Err(e) => {
                result = Err(e.context(format!("on {}", b.name())));
                break;
            }
        }
    }
    if let Some(d) = temp {
        let _ = std::fs::remove_dir_all(d);
    }
    if summaries.len() > 1 {
        println!("== all summaries");
        for s in &summaries {
            s.print();
        }
    }
    result
}

enum Backend {
    Sqlite(PathBuf),
    /// The server's URL (its database is only used to create and drop ours).
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A fresh database for one run.
struct FreshDb {
    url: String,
    /// PostgreSQL: the server URL and the database to drop afterwards.
    pg: Option<(String, String)>,
}

impl FreshDb {
    async fn create(backend: &Backend, name: &str) -> anyhow::Result<FreshDb> {
        match backend {
            Backend::Sqlite(dir) => {
                let path = dir.join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(FreshDb {
                    url: path.to_string_lossy().into_owned(),
                    pg: None,
                })
            }
            Backend::Postgres(admin) => {
                use sqlx::Connection;
                let db = format!("memberops_bench_{}_{name}", std::process::id());
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .with_context(|| format!("connecting to {admin}"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .execute(&mut conn)
                    .await?;
                let (base, last) = admin
                    .rsplit_once('/')
                    .context("the PostgreSQL URL needs a database path")?;
                let query = last.find('?').map_or("", |q| &last[q..]);
                Ok(FreshDb {
                    url: format!("{base}/{db}{query}"),
                    pg: Some((admin.clone(), db)),
                })
            }
        }
    }

    async fn remove(self) {
        match self.pg {
            Some((admin, db)) => {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
                    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await {
                        eprintln!("dropping database {db}: {e}");
                    }
                }
            }
            None => {
                // The store's pools outlive the run (the store has no close), and its
                // background checkpoint would copy what is left in the WAL into the file
                // during the next run: copy it now, on a connection of our own.
                use sqlx::Connection;
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&self.url);
                if let Ok(mut c) = sqlx::SqliteConnection::connect_with(&opts).await {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .execute(&mut c)
                        .await
                    {
                        eprintln!("checkpointing {}: {e}", self.url);
                    }
                    let _ = c.close().await;
                }
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.url));
                }
            }
        }
        // Written pages reach the disk between runs, not during the next one.
        let _ = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// CPU seconds the whole machine spent busy (all processes, from /proc/stat); 0 where
/// unavailable.
fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / 100.0
}

/// This process's CPU time over a stretch, and what every other process used meanwhile
/// (another build on the machine shows up there).
struct Meter {
    own: f64,
    machine: f64,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            own: cpu_seconds(),
            machine: machine_busy_seconds(),
        }
    }

    /// (this process's CPU seconds, other processes' CPU seconds).
    fn read(&self) -> (f64, f64) {
        let own = cpu_seconds() - self.own;
        let machine = machine_busy_seconds() - self.machine;
        (own, (machine - own).max(0.0))
    }
}

/// Switches a `perf record --control fifo:CTL,ACK -D -1` on or off around what is measured
/// (`BENCH_PERF_CTL` and `BENCH_PERF_ACK` name the fifos), so that a profile holds only the
/// timed stretches. Nothing without `BENCH_PERF_CTL`.
async fn perf(command: &'static str) {
    let Ok(ctl) = std::env::var("BENCH_PERF_CTL") else {
        return;
    };
    let ack = std::env::var("BENCH_PERF_ACK").ok();
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::{Read, Write};
        std::fs::OpenOptions::new()
            .write(true)
            .open(&ctl)?
            .write_all(format!("{command}\n").as_bytes())?;
        if let Some(ack) = ack {
            let mut buf = [0u8; 5];
            let _ = std::fs::File::open(ack)?.read(&mut buf)?;
        }
        Ok(())
    })
    .await;
    if let Ok(Err(e)) = done {
        eprintln!("perf control: {e}");
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// Minimal HTTP/1.1 over tokio.

struct Summary {
    backend: &'static str,
    events: usize,
    ingest: Vec<IngestRun>,
    breakdown: Vec<IngestRun>,
    delivery: Option<DeliveryRun>,
    latency: Option<LatencyRun>,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

impl Summary {
    fn print(&self) {
        println!("== summary, {}", self.backend);
        let rate = |with: bool| {
            let runs: Vec<&IngestRun> = self
                .ingest
                .iter()
                .filter(|r| r.with_endpoint == with)
                .collect();
            let wall: f64 = runs.iter().map(|r| r.wall.as_secs_f64()).sum();
            let cpu: f64 = runs.iter().map(|r| r.cpu).sum();
            let n = (self.events * runs.len()) as f64;
            (n / wall, n / cpu.max(1e-9))
        };
        if !self.ingest.is_empty() {
            let others: f64 = self.ingest.iter().map(|r| r.others).sum();
            println!(
                "other processes used {others:.2} CPU-s during these {} ingest runs",
                self.ingest.len()
            );
            let (plain, plain_cpu) = rate(false);
            let (hooked, hooked_cpu) = rate(true);
            let ratio = hooked / plain;
            println!(
                "ingest, no endpoint:       {plain:>7.0} events/s ({plain_cpu:.0} events/CPU-s)"
            );
            println!(
                "ingest, one endpoint:      {hooked:>7.0} events/s ({hooked_cpu:.0} events/CPU-s)"
            );
            println!(
                "ratio with/without:        {ratio:>7.3} (per CPU-s {:.3})  target ≥ 0.90: {}",
                hooked_cpu / plain_cpu,
                verdict(ratio >= 0.9)
            );
            let pairs: Vec<String> = self
                .ingest
                .chunks(2)
                .filter_map(|p| {
                    let plain = p.iter().find(|r| !r.with_endpoint)?;
                    let hooked = p.iter().find(|r| r.with_endpoint)?;
                    Some(format!(
                        "{:.3}",
                        plain.wall.as_secs_f64() / hooked.wall.as_secs_f64()
                    ))
                })
                .collect();
            if pairs.len() > 1 {
                println!("ratio per pair:            {}", pairs.join(", "));
            }
        }
        let mut seen: Vec<(WorkerMode, bool)> = Vec::new();
        for r in &self.breakdown {
            if seen.contains(&(r.mode, r.with_endpoint)) {
                continue;
            }
            seen.push((r.mode, r.with_endpoint));
            let runs: Vec<&IngestRun> = self
                .breakdown
                .iter()
                .filter(|o| o.mode == r.mode && o.with_endpoint == r.with_endpoint)
                .collect();
            let wall: f64 = runs.iter().map(|r| r.wall.as_secs_f64()).sum();
            let cpu: f64 = runs.iter().map(|r| r.cpu).sum();
            let n = (self.events * runs.len()) as f64;
            println!(
                "breakdown: {:<31} {:<12} {:>7.0} events/s ({:.0} events/CPU-s; {} runs, others {:.2} CPU-s)",
                r.mode.label(),
                if r.with_endpoint {
                    "one endpoint"
                } else {
                    "no endpoint"
                },
                n / wall,
                n / cpu.max(1e-9),
                runs.len(),
                runs.iter().map(|r| r.others).sum::<f64>()
            );
        }
        if let Some(d) = &self.delivery {
            let rate = d.deliveries as f64 / d.arrived.as_secs_f64();
            println!(
                "delivery rate:             {rate:>7.0} deliveries/s  target ≥ 5,000/s: {}",
                verdict(rate >= 5000.0 && d.complete)
            );
            println!(
                "duplicates / missing:      {} / {}  target 0 / 0: {}",
                d.duplicate_ids,
                d.missing + d.missing_events,
                verdict(d.duplicate_ids == 0 && d.missing == 0 && d.missing_events == 0)
            );
        }
        if let Some(l) = &self.latency {
            println!(
                "latency (batch returned):  p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms  target p95 ≤ 1 s: {}",
                l.from_return[0],
                l.from_return[1],
                l.from_return[2],
                verdict(l.from_return[1] <= 1000.0 && l.missing == 0)
            );
            println!(
                "latency (received_at):     p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms  (conservative bound)",
                l.from_received[0], l.from_received[1], l.from_received[2]
            );
        }
    }
}

async fn run_backend(a: &Args, backend: &Backend) -> anyhow::Result<Summary> {
    println!("== {}", backend.name());
    let mut s = Summary {
        backend: backend.name(),
        events: a.events,
        ingest: Vec::new(),
        breakdown: Vec::new(),
        delivery: None,
        latency: None,
    };
    if a.phases.contains(&Phase::Ingest) {
        println!("-- 1. ingest with a subscriber (worker running)");
        for run in 0..a.repeat.max(1) {
            // Alternate which goes first, so that warming up favours neither.
            let order = if run % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for with in order {
                if (a.ingest_runs == IngestRuns::Without && with)
                    || (a.ingest_runs == IngestRuns::With && !with)
                {
                    continue;
                }
                s.ingest
                    .push(ingest_run(a, backend, WorkerMode::Serve, with, run).await?);
            }
        }
        if a.breakdown {
            println!("-- 1b. breakdown");
            let variants = [
                (WorkerMode::Off, false),
                (WorkerMode::Serve, false),
                (WorkerMode::Timed { dispatcher: false }, false),
                (WorkerMode::Timed { dispatcher: false }, true),
                (WorkerMode::Timed { dispatcher: true }, true),
                (WorkerMode::Serve, true),
            ];
            for run in 0..a.repeat.max(1) {
                // A different variant first in each round, so that drift favours none.
                let mut order = variants;
                order.rotate_left(run % variants.len());
                for (mode, with) in order {
                    s.breakdown
                        .push(ingest_run(a, backend, mode, with, run).await?);
                }
            }
        }
    }
    if a.phases.contains(&Phase::Delivery) {
        println!("-- 2. delivery rate from a full outbox");
        s.delivery = Some(delivery_run(a, backend).await?);
    }
    if a.phases.contains(&Phase::Latency) {
        println!("-- 3. commit-to-receipt latency");
        s.latency = Some(latency_run(a, backend).await?);
    }
    Ok(s)
}
