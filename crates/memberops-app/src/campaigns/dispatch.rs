//! The campaign dispatcher: claims due messages of running campaigns and active journeys
//! (their send steps) with a lease, checks
//! the delivery rules for each, renders it for its member, sends it on its channel, and
//! records the outcome under the lease.
//!
//! The claim and lease are the webhook outbox's shape (`webhooks/dispatch.rs`): status
//! `sending` with `due_at` at the lease's end, `FOR UPDATE SKIP LOCKED` on PostgreSQL so
//! several workers take different rows, and settles that only the lease holder can write.
//! A message settled as sent is never claimed again; a worker killed between its claim and
//! its settle leaves the message to be claimed again when the lease runs out (sent again
//! with the same message id, which gateways dedupe on).
//!
//! Sends of one round run concurrently, each with the adapter's timeout, so a provider
//! that hangs or answers 500 holds only its own messages: they go back to the queue with
//! backoff (about 10 s, 1 min, 5 min, 30 min, 2 h), then fail.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use memberops_campaigns::Channel;
pub use memberops_campaigns::rules::Policy;
use memberops_campaigns::rules::{self, Decision, Recipient, Sent};
use memberops_campaigns::spec::Message;
use memberops_campaigns::template;
use memberops_core::time::{Millis, now_millis};
use memberops_store::Store;
use memberops_store::campaigns::{
    MSG_DELIVERED, MSG_FAILED, MSG_HELD, MSG_PENDING, MSG_SENT, MessageRow, MessageSettle,
};
use tokio_util::sync::CancellationToken;

use super::channels::{Channels, Outcome, Outgoing};
use super::vars::{self, Facts};
use crate::error::Result;
use crate::workspace::{Workspace, Workspaces};

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// A claim's hold on its messages: longer than a round's slowest send.
    pub lease: Duration,
    /// Messages claimed per round.
    pub batch: i64,
    /// Waits before the 2nd, 3rd… attempt; attempts = schedule + 1.
    pub schedule: Vec<Duration>,
    /// Per send, on top of the adapter's own timeout.
    pub send_timeout: Duration,
    /// Sleep when nothing is due.
    pub poll: Duration,
    /// Messages per second each provider (the SMTP server, the gateway) is sent at most;
    /// the rest of a round waits a second. None: no limit.
    pub provider_rate: Option<u32>,
    pub policy: Policy,
    /// The server's public address, for unsubscribe links (`{public_url}/u/{token}`).
    pub public_url: String,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        let s = Duration::from_secs;
        DispatchConfig {
            lease: crate::env_secs("MEMBEROPS_CAMPAIGN_LEASE_SECS").unwrap_or(s(60)),
            batch: 500,
            schedule: vec![s(10), s(60), s(300), s(1800), s(7200)],
            send_timeout: s(30),
            poll: Duration::from_secs(1),
            provider_rate: std::env::var("MEMBEROPS_PROVIDER_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|r| *r > 0),
            policy: Policy::default(),
            public_url: super::public_url(),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    workspaces: Workspaces,
    channels: Channels,
    config: DispatchConfig,
    /// Per provider: tokens left and when they were counted (the round's clock).
    buckets: std::sync::Mutex<HashMap<&'static str, (f64, Millis)>>,
}

/// What the rules made of a claimed message: settled now, or sent.
enum Step {
    Settle(MessageSettle),
    Send(Outgoing),
}

impl Dispatcher {
    pub fn new(workspaces: Workspaces, channels: Channels, config: DispatchConfig) -> Dispatcher {
        Dispatcher {
            store: workspaces.store().clone(),
            workspaces,
            channels,
            config,
            buckets: std::sync::Mutex::default(),
        }
    }

    /// Claims due messages under a new lease: `(lease_id, messages)`.
    pub async fn claim(&self, now: Millis) -> Result<(String, Vec<MessageRow>)> {
        let lease_id = ulid::Ulid::generate().to_string();
        let rows = self
            .store
            .claim_messages(&lease_id, now, ms(self.config.lease), self.config.batch)
            .await?;
        Ok((lease_id, rows))
    }

    /// One round at `now`: claims, decides, sends, records. Returns how many messages
    /// it handled. Tests call this with their own clock; the worker runs [`Self::run`].
    pub async fn round(&self, now: Millis) -> Result<usize> {
        let (lease_id, rows) = self.claim(now).await?;
        self.process(&lease_id, rows, now).await
    }

    /// Decides, sends and records claimed messages.
    pub async fn process(
        &self,
        lease_id: &str,
        rows: Vec<MessageRow>,
        now: Millis,
    ) -> Result<usize> {
        let n = rows.len();
        let mut by_ws: HashMap<String, Vec<MessageRow>> = HashMap::new();
        for r in rows {
            by_ws.entry(r.workspace_id.clone()).or_default().push(r);
        }
        let mut settles = Vec::with_capacity(n);
        let mut sends: Vec<(MessageRow, Outgoing)> = Vec::new();
        for (ws_id, rows) in by_ws {
            let ws = self.workspaces.get(&ws_id).await?;
            for (row, step) in self.decide_all(&ws, rows, lease_id, now).await? {
                match step {
                    Step::Settle(s) => settles.push(s),
                    Step::Send(o) => sends.push((row, o)),
                }
            }
        }
        // Over a provider's rate: back to the queue for a second, not an attempt.
        sends.retain(|(row, o)| {
            if self.take_token(o.channel, now) {
                return true;
            }
            let mut s = Self::settle(row, lease_id, MSG_PENDING, now + 1000);
            s.attempt = false;
            s.at = now;
            settles.push(s);
            false
        });
        let timeout = self.config.send_timeout;
        let outcomes = futures_util::future::join_all(sends.iter().map(|(_, o)| async move {
            let Some(adapter) = self.channels.adapter(o.channel) else {
                return Outcome::Failed {
                    error: format!("the {} channel is not configured", o.channel),
                    retry: false,
                };
            };
            tokio::time::timeout(timeout, adapter.send(o))
                .await
                .unwrap_or_else(|_| Outcome::Failed {
                    error: "timed out".into(),
                    retry: true,
                })
        }))
        .await;
        let done = now_millis().max(now);
        for ((row, _), outcome) in sends.iter().zip(outcomes) {
            settles.push(self.settle_of(row, lease_id, outcome, done));
        }
        self.store.settle_messages(&settles).await?;
        Ok(n)
    }

    /// Takes one send from the channel's provider bucket (refilled at `provider_rate` per
    /// second of the round's clock); false when it is empty.
    fn take_token(&self, channel: Channel, now: Millis) -> bool {
        let Some(rate) = self.config.provider_rate else {
            return true;
        };
        let provider = match channel {
            Channel::Email => "smtp",
            Channel::Sms | Channel::Push | Channel::Wechat => "gateway",
            Channel::Inapp | Channel::Call => return true,
        };
        let rate = f64::from(rate);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = buckets.entry(provider).or_insert((rate, now));
        let elapsed = (now - *at).max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * rate).min(rate);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn settle(row: &MessageRow, lease_id: &str, status: &'static str, at: Millis) -> MessageSettle {
        MessageSettle {
            id: row.id.clone(),
            lease_id: lease_id.to_owned(),
            status,
            held_reason: None,
            deferred: None,
            due_at: at,
            error: None,
            sent_at: None,
            attempt: true,
            at,
        }
    }

    fn settle_of(
        &self,
        row: &MessageRow,
        lease_id: &str,
        o: Outcome,
        now: Millis,
    ) -> MessageSettle {
        let mut s = Self::settle(row, lease_id, MSG_FAILED, now);
        match o {
            Outcome::Delivered | Outcome::Sent => {
                s.status = if o == Outcome::Delivered {
                    MSG_DELIVERED
                } else {
                    MSG_SENT
                };
                s.sent_at = Some(now);
            }
            Outcome::Failed { error, retry } => {
                let wait = usize::try_from(row.attempts.max(1) - 1)
                    .ok()
                    .and_then(|i| self.config.schedule.get(i));
                if let (true, Some(w)) = (retry, wait) {
                    s.status = MSG_PENDING;
                    s.due_at = now + ms(*w);
                }
                s.error = Some(error);
            }
        }
        s
    }

    /// Applies the rules to one workspace's claimed messages, in due order, counting each
    /// send against the member's caps before the next is decided.
    async fn decide_all(
        &self,
        ws: &Workspace,
        mut rows: Vec<MessageRow>,
        lease_id: &str,
        now: Millis,
    ) -> Result<Vec<(MessageRow, Step)>> {
        rows.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.member_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let longest = self
            .config
            .policy
            .caps
            .iter()
            .map(|c| c.days)
            .max()
            .unwrap_or(0);
        let since = now - i64::from(longest) * 86_400_000;
        let mut history: HashMap<String, Vec<Sent>> = HashMap::new();
        for (m, at, ch) in self.store.marketing_sent(&ws.id, &ids, since).await? {
            if let Some(channel) = Channel::parse(&ch) {
                history.entry(m).or_default().push(Sent { at, channel });
            }
        }
        let unsubscribed: HashSet<(String, String)> = self
            .store
            .unsubscribes(&ws.id, &ids)
            .await?
            .into_iter()
            .collect();
        let mut facts: HashMap<String, Option<Facts>> = HashMap::new();
        let mut campaigns: HashMap<String, Option<Message>> = HashMap::new();
        let mut steps = crate::journeys::StepMessages::default();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if !facts.contains_key(&row.member_id) {
                let f = self
                    .store
                    .member(&ws.id, &row.member_id)
                    .await?
                    .map(|(r, s)| Facts::of(&r.into_member(s)));
                facts.insert(row.member_id.clone(), f);
            }
            let journey = crate::journeys::is_journey(&row.campaign_id);
            if !journey && !campaigns.contains_key(&row.campaign_id) {
                let m = match self.store.campaign(&ws.id, &row.campaign_id).await? {
                    Some(c) => super::input_of(&c)
                        .ok()
                        .and_then(|i| super::parse(&i).ok())
                        .map(|p| p.message),
                    None => None,
                };
                campaigns.insert(row.campaign_id.clone(), m);
            }
            let fact = facts.get(&row.member_id).cloned().flatten();
            let message = if journey {
                steps.get(self.store.as_ref(), ws, &row).await?
            } else {
                campaigns.get(&row.campaign_id).cloned().flatten()
            };
            let step = self
                .decide_one(
                    ws,
                    &row,
                    fact,
                    message,
                    &unsubscribed,
                    &mut history,
                    lease_id,
                    now,
                )
                .await?;
            out.push((row, step));
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_one(
        &self,
        ws: &Workspace,
        row: &MessageRow,
        fact: Option<Facts>,
        message: Option<Message>,
        unsubscribed: &HashSet<(String, String)>,
        history: &mut HashMap<String, Vec<Sent>>,
        lease_id: &str,
        now: Millis,
    ) -> Result<Step> {
        let fail = |error: &str| {
            let mut s = Self::settle(row, lease_id, MSG_FAILED, now);
            s.error = Some(error.to_owned());
            Step::Settle(s)
        };
        let (Some(message), Some(channel)) = (message, Channel::parse(&row.channel)) else {
            return Ok(fail("the campaign or its message is no longer readable"));
        };
        let Some(f) = fact else {
            let mut s = Self::settle(row, lease_id, MSG_HELD, now);
            s.held_reason = Some("no_address".into());
            return Ok(Step::Settle(s));
        };
        let tz = f.time_zone.parse().unwrap_or(ws.time_zone);
        let r = Recipient {
            time_zone: tz,
            consent: f.consent.get(channel.consent_key()).copied(),
            unsubscribed: unsubscribed.contains(&(f.id.clone(), channel.as_str().to_owned())),
            address: f.address(channel),
        };
        let transactional = row.transactional != 0;
        let sent = history.get(&f.id).map_or(&[][..], Vec::as_slice);
        match rules::decide(&self.config.policy, channel, transactional, &r, sent, now) {
            Decision::Hold(reason) => {
                let mut s = Self::settle(row, lease_id, MSG_HELD, now);
                s.held_reason = Some(reason.as_str().into());
                Ok(Step::Settle(s))
            }
            Decision::Defer { reason, until } => {
                let mut s = Self::settle(row, lease_id, MSG_PENDING, until);
                s.deferred = Some(reason.as_str().into());
                s.attempt = false;
                s.at = now;
                Ok(Step::Settle(s))
            }
            Decision::Send => {
                let url = format!(
                    "{}/u/{}",
                    self.config.public_url.trim_end_matches('/'),
                    row.token
                );
                let to = r.address.unwrap_or_default().to_owned();
                let v = vars::vars(self.store.as_ref(), ws, &f, url.clone()).await?;
                let (_, variant) = vars::pick(&message, f.locale.as_deref());
                let rendered = template::render(&variant.subject, &v)
                    .and_then(|s| Ok((s, template::render(&variant.body, &v)?)));
                let (subject, body) = match rendered {
                    Ok(x) => x,
                    Err(e) => return Ok(fail(&format!("template: {}", e.msg))),
                };
                if !transactional {
                    history
                        .entry(f.id.clone())
                        .or_default()
                        .push(Sent { at: now, channel });
                }
                Ok(Step::Send(Outgoing {
                    id: row.id.clone(),
                    workspace_id: ws.id.clone(),
                    campaign_id: row.campaign_id.clone(),
                    member_id: f.id.clone(),
                    channel,
                    to,
                    subject,
                    body,
                    unsubscribe_url: url,
                }))
            }
        }
    }

    /// Sends until `cancel`: a round as soon as the last one found work, else after the
    /// poll.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        tracing::info!("campaign dispatcher started");
        while !cancel.is_cancelled() {
            let idle = match self.round(now_millis()).await {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::error!(error = %e, "campaign dispatch round failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
        tracing::info!("campaign dispatcher stopped");
    }
}

/// Starts a dispatcher with the channels of the environment (see [`Channels::from_env`])
/// and the default rules.
pub fn spawn_from_env(
    workspaces: &Workspaces,
    cancel: &CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    let channels = Channels::from_env(workspaces.store().clone())?;
    let d = Arc::new(Dispatcher::new(
        workspaces.clone(),
        channels,
        DispatchConfig::default(),
    ));
    Ok(tokio::spawn(d.run(cancel.clone())))
}
