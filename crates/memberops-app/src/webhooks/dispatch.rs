//! The dispatcher: sends due deliveries from the outbox, signed, and records each attempt.
//!
//! Deliveries are claimed with a lease (several workers share the outbox without sending a
//! delivery twice while its lease holds), sent concurrently with a 10 s timeout, and
//! settled in batches. A receiver that fails is retried after about 5 s, 5 min, 30 min,
//! 2 h, 5 h and 10 h (±20% jitter, so a receiver that comes back is not hit by every
//! retry at once); after the last attempt the delivery is `failed`. An endpoint whose
//! deliveries have all failed for 24 hours is disabled. At most `per_endpoint` deliveries
//! of one endpoint are on their way at once, so a receiver that hangs holds only its own
//! slots: other endpoints, the consumers and the ingest path never wait for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memberops_core::time::{Millis, now_millis};
use memberops_store::webhooks::{DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING};
use memberops_store::{ClaimedDelivery, DeliverySettle, EndpointHealth, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::AddressPolicy;
use super::sign::{is_private, signature};
use crate::error::{AppError, Result};

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Per attempt, connecting included.
    pub timeout: Duration,
    /// Waits before the 2nd, 3rd… attempt; attempts = schedule + 1.
    pub schedule: Vec<Duration>,
    /// ± this fraction of each wait.
    pub jitter: f64,
    /// A claim's hold on a delivery: longer than `timeout`.
    pub lease: Duration,
    /// Deliveries claimed at a time.
    pub batch: i64,
    /// Deliveries on their way at once, in all.
    pub max_in_flight: usize,
    /// …and per endpoint.
    pub per_endpoint: usize,
    /// An endpoint failing everything this long is disabled.
    pub disable_after: Duration,
    /// Sleep when nothing is due.
    pub poll: Duration,
    pub policy: AddressPolicy,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        DispatchConfig {
            timeout: Duration::from_secs(10),
            schedule: vec![
                Duration::from_secs(5),
                min(5),
                min(30),
                min(120),
                min(300),
                min(600),
            ],
            jitter: 0.2,
            // Fault tests shorten it (`MEMBEROPS_WEBHOOK_LEASE_SECS`): a delivery in flight
            // when a worker dies is sent again once its lease runs out.
            lease: crate::env_secs("MEMBEROPS_WEBHOOK_LEASE_SECS")
                .unwrap_or(Duration::from_secs(40)),
            batch: 500,
            max_in_flight: 512,
            per_endpoint: 64,
            disable_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_millis(200),
            policy: AddressPolicy::default(),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Resolves host names for the client, refusing (unless allowed) any that lead to this
/// machine or a private network: a name checked when the endpoint was saved may resolve
/// elsewhere by the time a delivery goes out.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|a| allow || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

impl Attempt {
    fn ok(&self) -> bool {
        self.error.is_none()
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: DispatchConfig,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, config: DispatchConfig) -> Result<Dispatcher> {
        super::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("MemberOps-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: config.policy.allow_private,
            }))
            .build()
            .map_err(|e| AppError::Conflict {
                code: "http_client",
                detail: format!("building the webhook client failed: {e}"),
            })?;
        Ok(Dispatcher {
            store,
            client,
            config,
        })
    }

    /// One attempt of one delivery.
    pub async fn send(&self, d: &ClaimedDelivery) -> Attempt {
        let fail = |status_code, error: String| Attempt {
            status_code,
            error: Some(error),
        };
        let url = match reqwest::Url::parse(&d.url) {
            Ok(u) => u,
            Err(e) => return fail(None, format!("invalid url: {e}")),
        };
        if !self.config.policy.allow_private
            && let Some(ip) = url
                .host_str()
                .and_then(|h| h.trim_matches(['[', ']']).parse().ok())
            && is_private(ip)
        {
            return fail(None, format!("{ip} is a private address"));
        }
        let Some(event) = &d.event else {
            return fail(None, "the event is no longer in the log".into());
        };
        let body = super::outbox::payload(event);
        let ts = now_millis() / 1000;
        let sig = signature(&d.secret, &d.delivery.id, ts, &body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.delivery.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let code = i32::from(resp.status().as_u16());
                if resp.status().is_success() {
                    Attempt {
                        status_code: Some(code),
                        error: None,
                    }
                } else {
                    fail(Some(code), format!("HTTP {code}"))
                }
            }
            Err(e) if e.is_timeout() => fail(None, "timed out".into()),
            Err(e) => fail(None, error_chain(&e)),
        }
    }

    /// What an attempt makes of the delivery: delivered, pending again, or failed.
    fn settle_of(
        &self,
        d: &ClaimedDelivery,
        lease_id: &str,
        a: Attempt,
        now: Millis,
    ) -> DeliverySettle {
        let retry = usize::try_from(d.delivery.attempts.max(1) - 1)
            .ok()
            .and_then(|i| self.config.schedule.get(i));
        let (status, due_at) = match (a.ok(), retry) {
            (true, _) => (DELIVERY_DELIVERED, now),
            (false, Some(wait)) => {
                let spread = 1.0 + self.config.jitter * (rand::random::<f64>() * 2.0 - 1.0);
                (DELIVERY_PENDING, now + (ms(*wait) as f64 * spread) as i64)
            }
            (false, None) => (DELIVERY_FAILED, now),
        };
        DeliverySettle {
            id: d.delivery.id.clone(),
            lease_id: lease_id.to_owned(),
            status,
            due_at,
            status_code: a.status_code,
            error: a.error,
            attempted_at: now,
        }
    }

    /// Records attempts and endpoint health; says which endpoints were disabled.
    async fn settle(&self, done: Vec<(String, DeliverySettle)>) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut ok = HashSet::new();
        let mut bad = HashSet::new();
        for (_, s) in &done {
            crate::ops::count_delivery(s.status);
        }
        for (ep, s) in &done {
            if s.status == DELIVERY_DELIVERED {
                ok.insert(ep.clone());
            } else {
                bad.insert(ep.clone());
            }
        }
        let health = EndpointHealth {
            failed: bad.difference(&ok).cloned().collect(),
            succeeded: ok.into_iter().collect(),
            disable_after_ms: ms(self.config.disable_after),
        };
        let settles: Vec<DeliverySettle> = done.into_iter().map(|(_, s)| s).collect();
        let disabled = self
            .store
            .settle_deliveries(&settles, &health, now_millis())
            .await?;
        for ep in disabled {
            tracing::warn!(endpoint = %ep, "webhook endpoint disabled: every delivery failed for the whole period");
        }
        Ok(())
    }

    /// Claims due deliveries endpoint by endpoint, each up to `room(endpoint)`, in all at
    /// most `total`, under one lease.
    async fn claim(
        &self,
        total: usize,
        room: impl Fn(&str) -> usize,
    ) -> Result<(String, Vec<ClaimedDelivery>)> {
        let lease_id = ulid::Ulid::generate().to_string();
        let mut out = Vec::new();
        for ep in self.store.enabled_endpoint_ids().await? {
            let limit = room(&ep)
                .min(total.saturating_sub(out.len()))
                .min(usize::try_from(self.config.batch).unwrap_or(0));
            if limit == 0 {
                continue;
            }
            out.extend(
                self.store
                    .claim_deliveries(
                        &lease_id,
                        now_millis(),
                        ms(self.config.lease),
                        &ep,
                        limit as i64,
                    )
                    .await?,
            );
        }
        Ok((lease_id, out))
    }

    /// One round: claims what is due, sends it all, records the outcomes. Returns how many
    /// were attempted. Tests and one-off commands call this; the worker runs [`Self::run`].
    pub async fn round(&self) -> Result<usize> {
        let per = self.config.per_endpoint;
        let (lease_id, claimed) = self.claim(self.config.max_in_flight, |_| per).await?;
        let sends = claimed.iter().map(|d| async {
            let a = self.send(d).await;
            (
                d.delivery.endpoint_id.clone(),
                self.settle_of(d, &lease_id, a, now_millis()),
            )
        });
        let done = futures_util::future::join_all(sends).await;
        let n = done.len();
        self.settle(done).await?;
        Ok(n)
    }

    /// Sends until `cancel`, keeping up to `max_in_flight` deliveries on their way. Claims
    /// and settles are write transactions, which on SQLite wait for the one writer the
    /// shop's batches need too, so there are few of them: more is claimed when half of what
    /// is in flight has come back (or after `CLAIM_EVERY`), outcomes are recorded every
    /// `SETTLE_EVERY` or 256 at a time, and an empty outbox is looked at again only when the
    /// outbox consumer of this process commits a page or at the poll. On cancel, waits for
    /// those in flight and records them.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        const CLAIM_EVERY: Duration = Duration::from_millis(50);
        const SETTLE_EVERY: Duration = Duration::from_millis(100);
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, DeliverySettle)>();
        let mut in_flight: HashMap<String, usize> = HashMap::new();
        let mut total = 0usize;
        let mut done: Vec<(String, DeliverySettle)> = Vec::new();
        let mut last_flush = Instant::now();
        let mut last_claim: Option<Instant> = None;
        // Claim again when the deliveries in flight fall to this many.
        let mut refill_at = 0usize;
        // The last claim found nothing due: wait for new deliveries or the poll.
        let mut dry = false;
        let mut woken = true;
        tracing::info!(
            max_in_flight = self.config.max_in_flight,
            per_endpoint = self.config.per_endpoint,
            "webhook dispatcher started"
        );
        loop {
            while let Ok(outcome) = rx.try_recv() {
                release(&mut in_flight, &mut total, &outcome.0);
                done.push(outcome);
            }
            let stopping = cancel.is_cancelled();
            if !done.is_empty()
                && (done.len() >= 256 || last_flush.elapsed() >= SETTLE_EVERY || total == 0)
            {
                if let Err(e) = self.settle(std::mem::take(&mut done)).await {
                    tracing::error!(error = %e, "recording webhook attempts failed");
                }
                last_flush = Instant::now();
            }
            if stopping {
                if total == 0 && done.is_empty() {
                    break;
                }
                if let Some(o) = rx.recv().await {
                    release(&mut in_flight, &mut total, &o.0);
                    done.push(o);
                }
                continue;
            }
            let room = self.config.max_in_flight.saturating_sub(total);
            let since_claim = last_claim.map_or(Duration::MAX, |t| t.elapsed());
            let claim_due = room > 0
                && if dry {
                    woken || since_claim >= self.config.poll
                } else {
                    total <= refill_at || since_claim >= CLAIM_EVERY
                };
            woken = false;
            if claim_due {
                let per = self.config.per_endpoint;
                let ep_room =
                    |ep: &str| per.saturating_sub(in_flight.get(ep).copied().unwrap_or(0));
                last_claim = Some(Instant::now());
                match self.claim(room, ep_room).await {
                    Ok((lease_id, claimed)) => {
                        dry = claimed.is_empty();
                        for d in claimed {
                            let ep = d.delivery.endpoint_id.clone();
                            *in_flight.entry(ep.clone()).or_insert(0) += 1;
                            total += 1;
                            let me = self.clone();
                            let tx = tx.clone();
                            let lease_id = lease_id.clone();
                            tokio::spawn(async move {
                                let a = me.send(&d).await;
                                let s = me.settle_of(&d, &lease_id, a, now_millis());
                                let _ = tx.send((ep, s));
                            });
                        }
                        refill_at = total / 2;
                    }
                    Err(e) => {
                        dry = true;
                        tracing::error!(error = %e, "claiming webhook deliveries failed");
                    }
                }
                continue;
            }
            // Until an outcome, new deliveries, the next settle or the next claim.
            let since_claim = last_claim.map_or(Duration::MAX, |t| t.elapsed());
            let mut wait = if dry {
                self.config.poll.saturating_sub(since_claim)
            } else {
                CLAIM_EVERY.saturating_sub(since_claim)
            };
            if !done.is_empty() {
                wait = wait.min(SETTLE_EVERY.saturating_sub(last_flush.elapsed()));
            }
            tokio::select! {
                () = cancel.cancelled() => {}
                o = rx.recv() => if let Some(o) = o {
                    release(&mut in_flight, &mut total, &o.0);
                    done.push(o);
                },
                () = super::OUTBOX_WRITTEN.notified() => woken = true,
                () = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
            }
        }
        tracing::info!("webhook dispatcher stopped");
    }
}

fn release(in_flight: &mut HashMap<String, usize>, total: &mut usize, ep: &str) {
    if let Some(n) = in_flight.get_mut(ep) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            in_flight.remove(ep);
        }
    }
    *total = total.saturating_sub(1);
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}
