//! The bench's minimal HTTP/1.1 client (batches to the API) and sink (deliveries), over tokio.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use memberops_core::time::now_millis;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;

/// One connection with the bytes read but not yet consumed.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) buf: Vec<u8>,
}

/// A request or response head: its first line and its headers (names in lower case).
pub(super) struct Head {
    pub(super) first: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn content_length(&self) -> anyhow::Result<Option<usize>> {
        self.get("content-length")
            .map(|v| v.parse::<usize>().context("bad content-length"))
            .transpose()
    }
}

impl Conn {
    pub(super) fn new(stream: TcpStream) -> anyhow::Result<Conn> {
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Reads more bytes; false at the end of the stream.
    pub(super) async fn fill(&mut self) -> anyhow::Result<bool> {
        self.buf.reserve(64 * 1024);
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// The next head; None when the peer closed the connection between messages.
    pub(super) async fn head(&mut self) -> anyhow::Result<Option<Head>> {
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

    pub(super) async fn take(&mut self, n: usize) -> anyhow::Result<Vec<u8>> {
        while self.buf.len() < n {
            ensure!(self.fill().await?, "connection closed inside a body");
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    pub(super) async fn line(&mut self) -> anyhow::Result<String> {
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
    pub(super) async fn response(&mut self) -> anyhow::Result<(u16, Vec<u8>, bool)> {
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
pub(super) struct Api {
    pub(super) addr: SocketAddr,
    pub(super) key: String,
    pub(super) idle: Arc<Mutex<Vec<Conn>>>,
}

impl Api {
    pub(super) async fn post(&self, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
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

    pub(super) async fn exchange(
        conn: &mut Conn,
        req: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>, bool)> {
        conn.stream.write_all(req).await?;
        conn.response().await
    }

    /// Posts one prepared batch body; checks that every event was accepted.
    pub(super) async fn batch(&self, body: &[u8], expected: usize) -> anyhow::Result<()> {
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
    pub(super) async fn endpoint(&self, url: &str) -> anyhow::Result<String> {
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
pub(super) struct Arrival {
    pub(super) at: Instant,
    /// Wall clock, Unix milliseconds.
    pub(super) wall_ms: i64,
    /// The payload's `data.received_at`, Unix milliseconds.
    pub(super) received_at: Option<i64>,
}

#[derive(Default)]
pub(super) struct SinkLog {
    /// How many times each `webhook-id` arrived.
    pub(super) ids: HashMap<String, u32>,
    /// First arrival of each event (`data.id`).
    pub(super) events: HashMap<String, Arrival>,
    pub(super) requests: usize,
    /// Requests without a `webhook-id` or whose body is not a MemberOps payload.
    pub(super) malformed: usize,
    pub(super) last: Option<Instant>,
}

#[derive(Deserialize)]
pub(super) struct Payload {
    pub(super) data: PayloadData,
}

#[derive(Deserialize)]
pub(super) struct PayloadData {
    pub(super) id: String,
    pub(super) received_at: String,
}

pub(super) struct Sink {
    pub(super) url: String,
    pub(super) log: Arc<Mutex<SinkLog>>,
    pub(super) task: JoinHandle<()>,
}

impl Sink {
    pub(super) async fn start() -> anyhow::Result<Sink> {
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

    pub(super) fn distinct(&self) -> usize {
        lock(&self.log).ids.len()
    }

    /// Waits until `n` distinct `webhook-id`s arrived or `within` passed; says whether they did.
    pub(super) async fn wait_for(&self, n: usize, within: Duration) -> bool {
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

    pub(super) fn finish(self) -> SinkLog {
        self.task.abort();
        std::mem::take(&mut *lock(&self.log))
    }
}

pub(super) async fn sink_connection(
    stream: TcpStream,
    log: Arc<Mutex<SinkLog>>,
) -> anyhow::Result<()> {
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
