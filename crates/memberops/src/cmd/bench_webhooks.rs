//! `memberops bench webhooks` (issue 24): what a webhook subscriber costs the ingest path,
//! how fast the dispatcher empties a full outbox, and how long an event takes from its
//! commit to a receiver. Everything runs in this process over loopback HTTP: the API as
//! `serve` runs it, the worker (jobs loop, consumers, dispatcher) as `serve` starts it, a
//! client that posts batches and a sink that receives the deliveries.
//!
//! The client and the sink speak a minimal HTTP/1.1 (keep-alive, `content-length`, chunked
//! answers) over tokio: this crate has no HTTP client or server of its own, and a sink that
//! does little leaves the two cores to what is measured.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use memberops_api::AppState;
use memberops_app::consumers::{self, Registry, Step};
use memberops_app::webhooks::AddressPolicy;
use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
use memberops_app::{Workspace, Workspaces};
use memberops_core::event::EventIn;
use memberops_core::time::now_millis;
use memberops_store::{KeyScope, Store};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bench::{cpu_seconds, order_event};

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

/// One connection with the bytes read but not yet consumed.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A request or response head: its first line and its headers (names in lower case).
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> anyhow::Result<Option<usize>> {
        self.get("content-length")
            .map(|v| v.parse::<usize>().context("bad content-length"))
            .transpose()
    }
}

impl Conn {
    fn new(stream: TcpStream) -> anyhow::Result<Conn> {
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Reads more bytes; false at the end of the stream.
    async fn fill(&mut self) -> anyhow::Result<bool> {
        self.buf.reserve(64 * 1024);
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// The next head; None when the peer closed the connection between messages.
    async fn head(&mut self) -> anyhow::Result<Option<Head>> {
        let end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                bail!("connection closed inside a message head");
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Some(Head { first, headers }))
    }

    async fn take(&mut self, n: usize) -> anyhow::Result<Vec<u8>> {
        while self.buf.len() < n {
            ensure!(self.fill().await?, "connection closed inside a body");
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    async fn line(&mut self) -> anyhow::Result<String> {
        let end = loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            ensure!(self.fill().await?, "connection closed inside a chunk");
        };
        let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 2);
        Ok(line)
    }

    /// A response's status and body; the connection can be used again after it unless the
    /// answer had neither a length nor chunks.
    async fn response(&mut self) -> anyhow::Result<(u16, Vec<u8>, bool)> {
        let head = self
            .head()
            .await?
            .context("the server closed the connection")?;
        let status: u16 = head
            .first
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line `{}`", head.first))?;
        let chunked = head
            .get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.line().await?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .with_context(|| format!("bad chunk size `{line}`"))?;
                if size == 0 {
                    while !self.line().await?.is_empty() {}
                    break;
                }
                body.extend(self.take(size).await?);
                self.line().await?;
            }
            return Ok((status, body, true));
        }
        if let Some(n) = head.content_length()? {
            return Ok((status, self.take(n).await?, true));
        }
        if status == 204 || status == 304 {
            return Ok((status, Vec::new(), true));
        }
        while self.fill().await? {}
        Ok((status, std::mem::take(&mut self.buf), false))
    }
}

/// The API over loopback with an admin key; keeps idle connections for reuse.
#[derive(Clone)]
struct Api {
    addr: SocketAddr,
    key: String,
    idle: Arc<Mutex<Vec<Conn>>>,
}

impl Api {
    async fn post(&self, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.addr,
            self.key,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let pooled = lock(&self.idle).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => Conn::new(TcpStream::connect(self.addr).await?)?,
        };
        let answer = match Self::exchange(&mut conn, &req).await {
            Ok(a) => a,
            // An idle connection the server closed: once more on a new one (event ids make
            // a repeated batch change nothing).
            Err(_) => {
                conn = Conn::new(TcpStream::connect(self.addr).await?)?;
                Self::exchange(&mut conn, &req).await?
            }
        };
        let (status, body, reusable) = answer;
        if reusable {
            lock(&self.idle).push(conn);
        }
        Ok((status, body))
    }

    async fn exchange(conn: &mut Conn, req: &[u8]) -> anyhow::Result<(u16, Vec<u8>, bool)> {
        conn.stream.write_all(req).await?;
        conn.response().await
    }

    /// Posts one prepared batch body; checks that every event was accepted.
    async fn batch(&self, body: &[u8], expected: usize) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Report {
            committed: bool,
            accepted: usize,
        }
        let (status, resp) = self.post("/v1/events:batch", body).await?;
        ensure!(
            status == 200,
            "batch answered {status}: {}",
            String::from_utf8_lossy(&resp[..resp.len().min(500)])
        );
        let r: Report = serde_json::from_slice(&resp).context("batch report")?;
        ensure!(
            r.committed && r.accepted == expected,
            "batch: committed {}, accepted {} of {expected}",
            r.committed,
            r.accepted
        );
        Ok(())
    }

    /// One endpoint subscribed to `order.paid` at `url`; returns its id.
    async fn endpoint(&self, url: &str) -> anyhow::Result<String> {
        let body = serde_json::json!({"url": url, "event_types": ["order.paid"], "description": "bench sink"});
        let (status, resp) = self
            .post("/v1/webhooks/endpoints", body.to_string().as_bytes())
            .await?;
        ensure!(
            status == 201,
            "creating the endpoint answered {status}: {}",
            String::from_utf8_lossy(&resp)
        );
        let v: serde_json::Value = serde_json::from_slice(&resp)?;
        Ok(v["id"]
            .as_str()
            .context("endpoint without an id")?
            .to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The sink: a receiver on loopback that answers 200 at once and records what came.

/// When an event's first delivery arrived.
#[derive(Clone, Copy)]
struct Arrival {
    at: Instant,
    /// Wall clock, Unix milliseconds.
    wall_ms: i64,
    /// The payload's `data.received_at`, Unix milliseconds.
    received_at: Option<i64>,
}

#[derive(Default)]
struct SinkLog {
    /// How many times each `webhook-id` arrived.
    ids: HashMap<String, u32>,
    /// First arrival of each event (`data.id`).
    events: HashMap<String, Arrival>,
    requests: usize,
    /// Requests without a `webhook-id` or whose body is not a MemberOps payload.
    malformed: usize,
    last: Option<Instant>,
}

#[derive(Deserialize)]
struct Payload {
    data: PayloadData,
}

#[derive(Deserialize)]
struct PayloadData {
    id: String,
    received_at: String,
}

struct Sink {
    url: String,
    log: Arc<Mutex<SinkLog>>,
    task: JoinHandle<()>,
}

impl Sink {
    async fn start() -> anyhow::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let log: Arc<Mutex<SinkLog>> = Arc::default();
        let l = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let l = l.clone();
                tokio::spawn(async move {
                    if let Err(e) = sink_connection(stream, l).await {
                        tracing::debug!(error = %e, "sink connection ended");
                    }
                });
            }
        });
        Ok(Sink { url, log, task })
    }

    fn distinct(&self) -> usize {
        lock(&self.log).ids.len()
    }

    /// Waits until `n` distinct `webhook-id`s arrived or `within` passed; says whether they did.
    async fn wait_for(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.distinct() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn finish(self) -> SinkLog {
        self.task.abort();
        std::mem::take(&mut *lock(&self.log))
    }
}

async fn sink_connection(stream: TcpStream, log: Arc<Mutex<SinkLog>>) -> anyhow::Result<()> {
    let mut c = Conn::new(stream)?;
    while let Some(head) = c.head().await? {
        let body = c.take(head.content_length()?.unwrap_or(0)).await?;
        let at = Instant::now();
        let wall_ms = now_millis();
        let id = head.get("webhook-id").map(str::to_owned);
        let payload: Option<Payload> = serde_json::from_slice(&body).ok();
        {
            let mut l = lock(&log);
            l.requests += 1;
            l.last = Some(at);
            match (id, payload) {
                (Some(id), Some(p)) => {
                    *l.ids.entry(id).or_insert(0) += 1;
                    let received_at = chrono::DateTime::parse_from_rfc3339(&p.data.received_at)
                        .ok()
                        .map(|t| t.timestamp_millis());
                    l.events.entry(p.data.id).or_insert(Arrival {
                        at,
                        wall_ms,
                        received_at,
                    });
                }
                _ => l.malformed += 1,
            }
        }
        c.stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The server and worker under test.

struct Stack {
    store: Arc<dyn Store>,
    ws: Arc<Workspace>,
    api: Api,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    worker_stop: CancellationToken,
    worker: Vec<JoinHandle<()>>,
    /// With [`WorkerMode::Timed`]: time in each consumer's steps.
    steps: Option<Arc<Mutex<StepTimes>>>,
}

/// What runs beside the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkerMode {
    Off,
    /// `WorkerArgs::spawn`, as `serve` starts it.
    Serve,
    /// The consumers' loop (`consumers::run`) copied here with each step timed, and the
    /// dispatcher if asked; no jobs loop.
    Timed {
        dispatcher: bool,
    },
}

impl WorkerMode {
    fn label(self) -> &'static str {
        match self {
            WorkerMode::Off => "no worker",
            WorkerMode::Serve => "worker as serve",
            WorkerMode::Timed { dispatcher: false } => "timed consumers, no dispatcher",
            WorkerMode::Timed { dispatcher: true } => "timed consumers + dispatcher",
        }
    }
}

/// Per consumer: pages handled, events in them, and the wall time of its steps (from
/// asking for the member cache lock to the commit: waiting for the lock and the writer
/// included).
#[derive(Clone, Debug, Default)]
struct StepTime {
    pages: usize,
    events: usize,
    busy: Duration,
    /// Steps that found nothing, and their time.
    idle: usize,
    idle_time: Duration,
}

type StepTimes = BTreeMap<&'static str, StepTime>;

/// `consumers::run` for the default workspace, each step timed into `times`.
async fn timed_consumers(
    workspaces: Workspaces,
    registry: Registry,
    poll: Duration,
    cancel: CancellationToken,
    times: Arc<Mutex<StepTimes>>,
) {
    let store = workspaces.store().clone();
    let ws = match workspaces.get(memberops_core::id::DEFAULT_WORKSPACE).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::error!(error = %e, "loading the workspace failed");
            return;
        }
    };
    while !cancel.is_cancelled() {
        let mut busy = false;
        for c in registry.consumers() {
            let t = Instant::now();
            let step = consumers::step(store.as_ref(), &ws, c.as_ref(), registry.page).await;
            let took = t.elapsed();
            let mut times = lock(&times);
            let e = times.entry(c.name()).or_default();
            match step {
                Ok(Step::Handled(n)) => {
                    busy = true;
                    e.pages += 1;
                    e.events += n;
                    e.busy += took;
                }
                Ok(_) => {
                    e.idle += 1;
                    e.idle_time += took;
                }
                Err(err) => {
                    tracing::error!(consumer = c.name(), error = %err, "consumer step failed")
                }
            }
        }
        if busy {
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            () = ws.committed_or(poll) => {}
        }
    }
}

/// The worker as `serve` starts it, with loopback receivers allowed and without the daily
/// job scheduler (its jobs have nothing to do with webhooks and would run at a random
/// moment of a run; the jobs loop itself runs).
fn worker_args() -> super::worker::WorkerArgs {
    super::worker::WorkerArgs {
        poll_secs: 5.0,
        lease_secs: 60,
        max_attempts: 5,
        no_schedule: true,
        consumer_poll_ms: 250,
        webhooks_allow_private: true,
    }
}

impl Stack {
    /// Migrates a fresh database and serves the API on loopback, with the worker if asked.
    async fn start(url: &str, mode: WorkerMode) -> anyhow::Result<Stack> {
        let store = super::open(url).await?;
        let workspaces = Workspaces::new(store.clone());
        let ws = workspaces
            .get(memberops_core::id::DEFAULT_WORKSPACE)
            .await?;
        let (_, key) =
            memberops_app::keys::create(store.as_ref(), &ws.id, "bench", KeyScope::Admin).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let args = worker_args();
        let state = AppState::new(store.clone())
            .with_workspaces(workspaces.clone())
            .with_webhook_policy(args.address_policy());
        state.segments.warm(
            store.clone(),
            super::default_workspace(store.as_ref()).await?,
        );
        let segments = state.segments.clone();
        let stop = CancellationToken::new();
        let server = tokio::spawn(memberops_api::serve(
            listener,
            state,
            stop.clone().cancelled_owned(),
        ));
        let worker_stop = CancellationToken::new();
        let mut steps = None;
        let worker = match mode {
            WorkerMode::Off => Vec::new(),
            WorkerMode::Serve => args.spawn(workspaces, segments, &worker_stop)?,
            WorkerMode::Timed { dispatcher } => {
                let times: Arc<Mutex<StepTimes>> = Arc::default();
                steps = Some(times.clone());
                let mut tasks = vec![tokio::spawn(timed_consumers(
                    workspaces,
                    Registry::standard(),
                    Duration::from_millis(args.consumer_poll_ms),
                    worker_stop.clone(),
                    times,
                ))];
                if dispatcher {
                    let d = Arc::new(Dispatcher::new(
                        store.clone(),
                        DispatchConfig {
                            policy: args.address_policy(),
                            ..DispatchConfig::default()
                        },
                    )?);
                    tasks.push(tokio::spawn(d.run(worker_stop.clone())));
                }
                tasks
            }
        };
        Ok(Stack {
            store,
            ws,
            api: Api {
                addr,
                key,
                idle: Arc::default(),
            },
            stop,
            server,
            worker_stop,
            worker,
            steps,
        })
    }

    async fn stop(self) {
        self.worker_stop.cancel();
        for t in self.worker {
            let _ = t.await;
        }
        lock(&self.api.idle).clear();
        self.stop.cancel();
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phases.

/// The request bodies of `events` benchmark events in batches of `batch`.
fn bodies(events: usize, members: usize, batch: usize) -> anyhow::Result<Vec<(Vec<u8>, usize)>> {
    (0..events)
        .step_by(batch)
        .map(|start| {
            let rows: Vec<EventIn> = (start..(start + batch).min(events))
                .map(|i| order_event(i, members, events))
                .collect();
            let n = rows.len();
            Ok((
                serde_json::to_vec(&serde_json::json!({ "events": rows }))?,
                n,
            ))
        })
        .collect()
}

struct IngestRun {
    mode: WorkerMode,
    with_endpoint: bool,
    wall: Duration,
    cpu: f64,
    /// CPU seconds of other processes meanwhile.
    others: f64,
    /// Deliveries the sink had when the last batch returned.
    delivered_during: usize,
    /// The webhooks consumer's backlog when the last batch returned.
    consumer_behind: i64,
    /// From the last batch's return to the last delivery's arrival.
    tail: Option<Duration>,
    complete: bool,
    /// Consumer step times when the last batch returned ([`WorkerMode::Timed`]).
    steps: Option<StepTimes>,
}

/// Phase 1, one run: the events through the API with the worker running (`mode`), with or
/// without one endpoint subscribed to `order.paid`.
async fn ingest_run(
    a: &Args,
    backend: &Backend,
    mode: WorkerMode,
    with_endpoint: bool,
    run: usize,
) -> anyhow::Result<IngestRun> {
    let name = format!(
        "ingest_{}_{}_{run}",
        match mode {
            WorkerMode::Off => "off",
            WorkerMode::Serve => "serve",
            WorkerMode::Timed { dispatcher: false } => "consumers",
            WorkerMode::Timed { dispatcher: true } => "timed",
        },
        if with_endpoint { "endpoint" } else { "none" }
    );
    let db = FreshDb::create(backend, &name).await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, mode).await?;
    if with_endpoint {
        stack.api.endpoint(&sink.url).await?;
    }
    let bodies = bodies(a.events, a.members, a.batch)?;
    perf("enable").await;
    let meter = Meter::start();
    let t = Instant::now();
    for (body, n) in &bodies {
        stack.api.batch(body, *n).await?;
    }
    let wall = t.elapsed();
    perf("disable").await;
    let (cpu, others) = meter.read();
    let ended = Instant::now();
    let steps = stack.steps.as_ref().map(|t| lock(t).clone());
    let delivered_during = sink.distinct();
    let consumer_behind = consumers::lag(stack.store.as_ref(), &stack.ws, &Registry::standard())
        .await?
        .into_iter()
        .find(|c| c.name == "webhooks")
        .map_or(0, |c| c.events_behind);
    let dispatching = matches!(
        mode,
        WorkerMode::Serve | WorkerMode::Timed { dispatcher: true }
    );
    let (tail, complete) = if with_endpoint && dispatching {
        let complete = sink
            .wait_for(a.events, Duration::from_secs(a.timeout_secs))
            .await;
        let last = lock(&sink.log).last;
        (last.map(|l| l.saturating_duration_since(ended)), complete)
    } else {
        (None, sink.distinct() == 0)
    };
    stack.stop().await;
    let log = sink.finish();
    if !(with_endpoint && dispatching) && log.requests > 0 {
        bail!(
            "the sink received {} requests without an endpoint",
            log.requests
        );
    }
    db.remove().await;
    let r = IngestRun {
        mode,
        with_endpoint,
        wall,
        cpu,
        others,
        delivered_during,
        consumer_behind,
        tail,
        complete,
        steps,
    };
    println!(
        "  ingest {:<13} {:>8.0} events/s  {:>6.2} s wall  {:>7.0} events/CPU-s, others {:.2} CPU-s | {}; at the end: {} delivered, webhooks consumer {} events behind{}",
        if with_endpoint {
            "one endpoint:"
        } else {
            "no endpoint:"
        },
        a.events as f64 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        a.events as f64 / cpu.max(1e-9),
        others,
        mode.label(),
        r.delivered_during,
        r.consumer_behind,
        match (r.tail, r.with_endpoint) {
            (Some(t), true) => format!(
                "; all {} delivered {:.2} s later{}",
                a.events,
                t.as_secs_f64(),
                if r.complete { "" } else { " (INCOMPLETE)" }
            ),
            _ => String::new(),
        }
    );
    for (name, t) in r.steps.iter().flatten() {
        println!(
            "      {name:<13} {:>4} pages, {:>6} events, {:>6.2} s in steps ({:.1} ms per page); {} idle steps, {:.2} s",
            t.pages,
            t.events,
            t.busy.as_secs_f64(),
            t.busy.as_secs_f64() * 1000.0 / t.pages.max(1) as f64,
            t.idle,
            t.idle_time.as_secs_f64()
        );
    }
    Ok(r)
}

struct DeliveryRun {
    deliveries: usize,
    /// From starting the dispatcher to the last delivery's arrival.
    arrived: Duration,
    /// …to every outbox row settled `delivered`.
    settled: Duration,
    cpu: f64,
    others: f64,
    complete: bool,
    duplicates: usize,
    duplicate_ids: usize,
    missing: usize,
    unknown: usize,
    missing_events: usize,
    not_delivered: usize,
    retried: usize,
    malformed: usize,
}

/// Phase 2: the outbox filled first (ingest without the worker, then the consumers
/// drained), then the dispatcher started and timed until every delivery arrived.
async fn delivery_run(a: &Args, backend: &Backend) -> anyhow::Result<DeliveryRun> {
    let db = FreshDb::create(backend, "delivery").await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, WorkerMode::Off).await?;
    let endpoint = stack.api.endpoint(&sink.url).await?;
    for (body, n) in &bodies(a.events, a.members, a.batch)? {
        stack.api.batch(body, *n).await?;
    }
    let store = stack.store.clone();
    // `consumers::drain`, each consumer timed alone (nothing else runs: the time of its
    // pages without waiting for anyone).
    let registry = Registry::standard();
    let t = Instant::now();
    let mut alone = Vec::new();
    for c in registry.consumers() {
        let tc = Instant::now();
        let mut pages = 0usize;
        while let Step::Handled(_) =
            consumers::step(store.as_ref(), &stack.ws, c.as_ref(), registry.page).await?
        {
            pages += 1;
        }
        alone.push(format!(
            "{} {pages} pages in {:.2} s ({:.1} ms per page)",
            c.name(),
            tc.elapsed().as_secs_f64(),
            tc.elapsed().as_secs_f64() * 1000.0 / pages.max(1) as f64
        ));
    }
    let fill = t.elapsed();
    // What building the bodies alone costs the webhooks consumer (it builds them inside its
    // write transaction): the same events as log rows, each payload built once.
    let rows: Vec<memberops_store::LogEvent> = (0..a.events)
        .map(|i| {
            let e = order_event(i, a.members, a.events);
            memberops_store::LogEvent {
                seq: i as i64 + 1,
                id: e.id,
                member_id: format!("mbr_{i:026}"),
                external_id: Some(e.member),
                kind: e.kind,
                occurred_at: 1_700_000_000_000,
                received_at: now_millis(),
                properties: serde_json::Value::Object(e.properties).to_string(),
            }
        })
        .collect();
    let tp = Instant::now();
    let bytes: usize = rows
        .iter()
        .map(|e| memberops_app::webhooks::outbox::payload(e).len())
        .sum();
    let payload_time = tp.elapsed();
    drop(rows);
    let depth = |store: Arc<dyn Store>, ws: String| async move {
        anyhow::Ok(
            store
                .outbox_depth(&ws)
                .await?
                .iter()
                .map(|(_, n)| *n)
                .sum::<i64>(),
        )
    };
    let queued = depth(store.clone(), stack.ws.id.clone()).await?;
    ensure!(
        queued == a.events as i64,
        "the outbox holds {queued} deliveries, not {}",
        a.events
    );
    println!(
        "  outbox filled: {queued} deliveries (consumers drained in {:.2} s: {}); building the payloads alone: {:.2} ms per 1000 events, {} bytes each on average",
        fill.as_secs_f64(),
        alone.join(", "),
        payload_time.as_secs_f64() * 1e6 / a.events as f64,
        bytes / a.events
    );

    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        DispatchConfig {
            policy: AddressPolicy {
                allow_private: true,
            },
            ..DispatchConfig::default()
        },
    )?);
    let cancel = CancellationToken::new();
    perf("enable").await;
    let meter = Meter::start();
    let t0 = Instant::now();
    let task = tokio::spawn(dispatcher.run(cancel.clone()));
    let timeout = Duration::from_secs(a.timeout_secs);
    let complete = sink.wait_for(a.events, timeout).await;
    let arrived = lock(&sink.log)
        .last
        .map_or(t0.elapsed(), |l| l.saturating_duration_since(t0));
    while depth(store.clone(), stack.ws.id.clone()).await? > 0 && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let settled = t0.elapsed();
    let (cpu, others) = meter.read();
    perf("disable").await;
    cancel.cancel();
    let _ = task.await;

    // Every outbox row against what the sink saw.
    let mut rows = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let page = store
            .deliveries(&stack.ws.id, &endpoint, before, 10_000)
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.event_seq);
        rows.extend(page);
    }
    stack.stop().await;
    let log = sink.finish();
    db.remove().await;
    let outbox: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let r = DeliveryRun {
        deliveries: rows.len(),
        arrived,
        settled,
        cpu,
        others,
        complete,
        duplicates: log.ids.values().map(|n| n.saturating_sub(1) as usize).sum(),
        duplicate_ids: log.ids.values().filter(|n| **n > 1).count(),
        missing: rows.iter().filter(|r| !log.ids.contains_key(&r.id)).count(),
        unknown: log
            .ids
            .keys()
            .filter(|id| !outbox.contains(id.as_str()))
            .count(),
        missing_events: (0..a.events)
            .filter(|i| !log.events.contains_key(&format!("e{i}")))
            .count(),
        not_delivered: rows.iter().filter(|r| r.status != "delivered").count(),
        retried: rows.iter().filter(|r| r.attempts > 1).count(),
        malformed: log.malformed,
    };
    println!(
        "  delivery: {} deliveries arrived in {:.2} s = {:.0} deliveries/s ({:.0} per CPU-s, others {:.2} CPU-s); all settled in the outbox after {:.2} s{}",
        r.deliveries,
        r.arrived.as_secs_f64(),
        r.deliveries as f64 / r.arrived.as_secs_f64(),
        r.deliveries as f64 / r.cpu.max(1e-9),
        r.others,
        r.settled.as_secs_f64(),
        if r.complete { "" } else { " (INCOMPLETE)" }
    );
    println!(
        "  sink: {} requests; duplicate webhook-ids {} (extra receipts {}), outbox rows never received {}, ids not in the outbox {}, events without a delivery {}, malformed {}; outbox: {} not delivered, {} needed more than one attempt",
        log.requests,
        r.duplicate_ids,
        r.duplicates,
        r.missing,
        r.unknown,
        r.missing_events,
        r.malformed,
        r.not_delivered,
        r.retried
    );
    Ok(r)
}

struct LatencyRun {
    events: usize,
    /// Events per second offered and achieved (last batch returned).
    achieved_rate: f64,
    /// Since the batch request returned: p50, p95, p99, max (ms).
    from_return: [f64; 4],
    /// Since `data.received_at` (the server's clock when the batch arrived): same.
    from_received: [f64; 4],
    /// Batch requests: p50, p99, max (ms).
    request: [f64; 3],
    missing: usize,
    cpu: f64,
    others: f64,
    /// Deliveries that arrived before their batch's answer reached the client.
    before_return: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary4(mut v: Vec<f64>) -> [f64; 4] {
    v.sort_by(f64::total_cmp);
    [
        percentile(&v, 0.50),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
        percentile(&v, 1.0),
    ]
}

/// Phase 3: batches of `latency_batch` every `latency_batch / rate` seconds (each sent on
/// schedule whether or not the previous one has returned) for `latency_secs`, the worker
/// running; latency per event = the sink's receipt − the return of its batch request.
async fn latency_run(a: &Args, backend: &Backend) -> anyhow::Result<LatencyRun> {
    let db = FreshDb::create(backend, "latency").await?;
    let sink = Sink::start().await?;
    let stack = Stack::start(&db.url, WorkerMode::Serve).await?;
    stack.api.endpoint(&sink.url).await?;
    let per = a.latency_batch;
    let total = ((a.rate as f64 * a.latency_secs) as usize).max(per);
    let batches = bodies(total, a.members, per)?;
    let interval = Duration::from_secs_f64(per as f64 / a.rate as f64);
    let meter = Meter::start();
    let start = tokio::time::Instant::now();
    let mut sends = Vec::with_capacity(batches.len());
    for (k, (body, n)) in batches.into_iter().enumerate() {
        tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
        let api = stack.api.clone();
        sends.push(tokio::spawn(async move {
            let sent = Instant::now();
            api.batch(&body, n).await?;
            anyhow::Ok((sent, Instant::now()))
        }));
    }
    let mut returned = Vec::with_capacity(sends.len());
    for s in sends {
        returned.push(s.await??);
    }
    let last_return = returned.iter().map(|(_, r)| *r).max();
    let achieved_rate = total as f64
        / last_return.map_or(f64::NAN, |l| {
            l.saturating_duration_since(start.into_std()).as_secs_f64()
        });
    sink.wait_for(total, Duration::from_secs(a.timeout_secs.min(60)))
        .await;
    let (cpu, others) = meter.read();
    stack.stop().await;
    let log = sink.finish();
    db.remove().await;

    let mut from_return = Vec::with_capacity(total);
    let mut from_received = Vec::with_capacity(total);
    let mut missing = 0;
    let mut before_return = 0;
    for i in 0..total {
        let Some(arr) = log.events.get(&format!("e{i}")) else {
            missing += 1;
            continue;
        };
        let (_, back) = returned[i / per];
        if arr.at < back {
            before_return += 1;
        }
        from_return.push(arr.at.saturating_duration_since(back).as_secs_f64() * 1000.0);
        if let Some(r) = arr.received_at {
            from_received.push((arr.wall_ms - r) as f64);
        }
    }
    let mut req: Vec<f64> = returned
        .iter()
        .map(|(s, r)| r.saturating_duration_since(*s).as_secs_f64() * 1000.0)
        .collect();
    req.sort_by(f64::total_cmp);
    let r = LatencyRun {
        events: total,
        achieved_rate,
        from_return: summary4(from_return),
        from_received: summary4(from_received),
        request: [
            percentile(&req, 0.5),
            percentile(&req, 0.99),
            percentile(&req, 1.0),
        ],
        missing,
        cpu,
        others,
        before_return,
    };
    println!(
        "  latency: {} events at {:.0} events/s offered, {:.0} achieved (first send to last answer); batch requests p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.2} CPU-s, others {:.2} CPU-s",
        r.events,
        a.rate,
        r.achieved_rate,
        r.request[0],
        r.request[1],
        r.request[2],
        r.cpu,
        r.others
    );
    println!(
        "  commit (batch returned) → sink: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} arrived before their batch's answer (counted 0), {} missing",
        r.from_return[0],
        r.from_return[1],
        r.from_return[2],
        r.from_return[3],
        r.before_return,
        r.missing
    );
    println!(
        "  data.received_at → sink (conservative): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        r.from_received[0], r.from_received[1], r.from_received[2], r.from_received[3]
    );
    Ok(r)
}

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
