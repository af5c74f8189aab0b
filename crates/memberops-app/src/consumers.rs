//! Who reacts to what happened to a member, and when.
//!
//! Two kinds of reaction:
//! - **Reactors** run inside an event batch's transaction, only for what must commit with
//!   the event (see [`crate::hooks::after_events`]): loyalty earning and tiers, coupon order
//!   states (locked coupons confirmed, released, restored), the lifecycle stage.
//! - **Consumers** run after the commit, in the worker. Each reads the event log after its
//!   own cursor, a page at a time in commit order, and moves the cursor in the same
//!   transaction as its own writes: a crash repeats nothing and skips nothing, and a
//!   consumer that fails never rejects or slows a shop's batch (it retries with backoff;
//!   the others go on).
//!
//! The consumers, in the order each page is offered to them:
//!
//! | consumer | reacts to | does |
//! |---|---|---|
//! | `coupon_rules` | any type a coupon event rule names (`member.registered`, `tier.changed` to gold, `lifecycle.changed` to churned…) | issues the rule's coupon or gift pack, once per (rule, event) |
//! | `webhooks` | the types each webhook endpoint subscribes to | writes one outbox delivery per (endpoint, event); the dispatcher sends them |
//! | `analytics` | every event | keeps the daily per-member aggregates the analytics reports read (docs/analytics.md) |
//! | `journeys` | the trigger, goal and wait event types of active journeys | enters members (once per event), ends journeys on their goal, resumes waits for an event (docs/campaigns.md) |

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use memberops_core::time::{Millis, millis_to_rfc3339, now_millis};
use memberops_store::{LogEvent, StartAt, Store, WriteTx};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::workspace::{Workspace, Workspaces};

/// A reaction to the event log that runs after the commit.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Stable: the cursor is stored under it.
    fn name(&self) -> &'static str;
    /// Where it starts the first time it runs. From the beginning by default: the
    /// consumers here filter by what their configuration saw (a rule or an endpoint reacts
    /// to events after its creation), so reading an old log once costs a few seconds per
    /// million events and loses nothing committed before the worker first ran.
    fn start(&self) -> StartAt {
        StartAt::Beginning
    }
    /// Whether its writes may change what the member cache holds of a member (profile,
    /// aggregates, stage, loyalty account). A consumer that says no keeps the cache valid
    /// across its page; one that says yes makes the next batch read members again.
    fn changes_members(&self) -> bool {
        true
    }
    /// Handles a page, inside the transaction that moves the cursor past it. An error rolls
    /// back the page's writes and the cursor alike.
    async fn handle(&self, tx: &mut dyn WriteTx, ws: &Workspace, page: &[LogEvent]) -> Result<()>;
    /// After a handled page has committed: where a consumer wakes whoever acts on its
    /// writes (the outbox wakes the dispatcher).
    fn committed(&self) {}
}

/// The consumers a process runs, in order.
#[derive(Clone)]
pub struct Registry {
    consumers: Vec<Arc<dyn Consumer>>,
    /// Events per page (one transaction).
    pub page: i64,
}

impl Registry {
    /// Every consumer MemberOps has (the table in this module's documentation).
    pub fn standard() -> Registry {
        Registry::of(vec![
            Arc::new(crate::coupons::rules::CouponRules),
            Arc::new(crate::webhooks::outbox::WebhookOutbox),
            Arc::new(crate::analytics::AnalyticsDays),
            Arc::new(crate::journeys::consumer::Journeys),
        ])
    }

    pub fn of(consumers: Vec<Arc<dyn Consumer>>) -> Registry {
        Registry {
            consumers,
            page: 1000,
        }
    }

    pub fn consumers(&self) -> &[Arc<dyn Consumer>] {
        &self.consumers
    }
}

/// What one step of one consumer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing after the cursor.
    Idle,
    /// Handled a page of this many events.
    Handled(usize),
    /// Waiting for its retry time after a failure.
    Waiting { until: Millis },
    /// The page failed; its writes were rolled back.
    Failed { error: String },
}

/// Backoff after `failures` failed pages in a row: 1 s doubling, at most 5 minutes.
fn retry_delay(failures: i32) -> i64 {
    let shift = u32::try_from(failures.clamp(0, 9)).unwrap_or(0);
    (1000_i64 << shift).min(300_000)
}

/// One page of one consumer: read the events after its cursor, handle them, move the
/// cursor, all in one workspace write transaction.
///
/// The page is read first on a reader, without the member cache or the writer, so the
/// shop's batches do not wait while it is read; under the writer it is used only if the
/// cursor is still where it was (another worker may have moved it), else read again.
pub async fn step(
    store: &dyn Store,
    ws: &Workspace,
    consumer: &dyn Consumer,
    page: i64,
) -> Result<Step> {
    let now = now_millis();
    let seen = store
        .consumers(&ws.id)
        .await?
        .into_iter()
        .find(|r| r.name == consumer.name());
    let ahead = match seen {
        Some(r) => {
            if let Some(until) = r.retry_at.filter(|t| *t > now) {
                return Ok(Step::Waiting { until });
            }
            let events = store.log_page(&ws.id, r.cursor_seq, page).await?;
            if events.is_empty() {
                // Caught up as of this snapshot: nothing to write, no lock to take.
                return Ok(Step::Idle);
            }
            Some((r.cursor_seq, events))
        }
        _ => None,
    };
    // Member cache before the writer, as event batches take them.
    let mut hot = ws.members.lock().await;
    let mut tx = store.begin_write(&ws.id).await?;
    let from = tx.write_epoch().await?;
    let row = tx.consumer(consumer.name(), consumer.start(), now).await?;
    if let Some(until) = row.retry_at.filter(|t| *t > now) {
        return Ok(Step::Waiting { until });
    }
    let events = match ahead {
        Some((cursor, events)) if cursor == row.cursor_seq => events,
        _ => tx.log_after(row.cursor_seq, page).await?,
    };
    let Some(last) = events.last() else {
        let to = tx.write_epoch().await?;
        tx.commit().await?;
        hot.carry(from, to);
        return Ok(Step::Idle);
    };
    if let Err(e) = consumer.handle(tx.as_mut(), ws, &events).await {
        drop(tx);
        let error = e.to_string();
        tracing::warn!(consumer = consumer.name(), %error, "consumer page failed");
        let failures = row.failures.saturating_add(1);
        store
            .consumer_failed(
                &row,
                &error,
                now.saturating_add(retry_delay(failures - 1)),
                now,
            )
            .await?;
        hot.check(None);
        return Ok(Step::Failed { error });
    }
    let n = events.len();
    tx.advance_consumer(consumer.name(), last, n as i64, now)
        .await?;
    let to = tx.write_epoch().await?;
    tx.commit().await?;
    consumer.committed();
    if consumer.changes_members() {
        hot.check(None);
    } else {
        hot.carry(from, to);
    }
    drop(hot);
    // Consumers grow tables too (the webhook outbox gains a row per delivered event).
    crate::planner::after_growth(store).await;
    Ok(Step::Handled(n))
}

/// Runs every consumer until none has anything left (or each has failed once): what a test
/// or a command calls to bring the reactions up to the log's head.
pub async fn drain(store: &dyn Store, ws: &Workspace, registry: &Registry) -> Result<usize> {
    let mut handled = 0;
    for c in registry.consumers() {
        while let Step::Handled(n) = step(store, ws, c.as_ref(), registry.page).await? {
            handled += n;
        }
    }
    Ok(handled)
}

/// A consumer's place and how far behind the log's head it is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsumerLag {
    pub name: String,
    /// The last event handled (0: none yet).
    pub cursor_seq: i64,
    /// The log's last event.
    pub head_seq: i64,
    /// Events committed after the cursor.
    pub events_behind: i64,
    /// Seconds since the oldest of those was received (0 when caught up).
    pub seconds_behind: f64,
    /// Events handled since the consumer started.
    pub handled: i64,
    /// Failed pages in a row.
    pub failures: i32,
    pub last_error: Option<String>,
    /// RFC 3339: not retried before.
    pub retry_at: Option<String>,
    /// RFC 3339: when the cursor last moved or the consumer last failed.
    pub updated_at: Option<String>,
}

/// Lag of every registered consumer of the workspace. A consumer that has not run yet
/// shows where it will start.
pub async fn lag(
    store: &dyn Store,
    ws: &Workspace,
    registry: &Registry,
) -> Result<Vec<ConsumerLag>> {
    let now = now_millis();
    let rows = store.consumers(&ws.id).await?;
    let head = store.log_head(&ws.id).await?.map_or(0, |(s, _)| s);
    let mut out = Vec::new();
    for c in registry.consumers() {
        let row = rows.iter().find(|r| r.name == c.name());
        let cursor = match (row, c.start()) {
            (Some(r), _) => r.cursor_seq,
            (None, StartAt::Head) => head,
            (None, StartAt::Beginning) => 0,
        };
        let backlog = store.log_backlog(&ws.id, cursor).await?;
        out.push(ConsumerLag {
            name: c.name().to_owned(),
            cursor_seq: cursor,
            head_seq: head,
            events_behind: backlog.events,
            seconds_behind: backlog
                .oldest_received_at
                .map_or(0.0, |t| (now.saturating_sub(t)).max(0) as f64 / 1000.0),
            handled: row.map_or(0, |r| r.handled),
            failures: row.map_or(0, |r| r.failures),
            last_error: row.and_then(|r| r.last_error.clone()),
            retry_at: row.and_then(|r| r.retry_at).map(millis_to_rfc3339),
            updated_at: row.map(|r| millis_to_rfc3339(r.updated_at)),
        });
    }
    Ok(out)
}

/// Runs the consumers of `workspaces` until `cancel`: each consumer as long as it finds
/// pages, then a wait for the next commit of this process or `poll`, whichever is first
/// (another process's commits are seen at the poll).
pub async fn run(
    workspaces: Workspaces,
    ids: Vec<String>,
    registry: Registry,
    poll: Duration,
    cancel: CancellationToken,
) {
    tracing::info!(
        consumers = registry.consumers().len(),
        poll_ms = poll.as_millis() as u64,
        "consumers started"
    );
    while !cancel.is_cancelled() {
        let mut busy = false;
        let mut first: Option<Arc<Workspace>> = None;
        for id in &ids {
            let ws = match workspaces.get(id).await {
                Ok(ws) => ws,
                Err(e) => {
                    tracing::error!(workspace = %id, error = %e, "loading the workspace failed");
                    continue;
                }
            };
            for c in registry.consumers() {
                match step(workspaces.store().as_ref(), &ws, c.as_ref(), registry.page).await {
                    Ok(Step::Handled(_)) => busy = true,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(consumer = c.name(), error = %e, "consumer step failed")
                    }
                }
            }
            first.get_or_insert(ws);
        }
        if busy {
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            () = async {
                match &first {
                    Some(ws) => ws.committed_or(poll).await,
                    None => tokio::time::sleep(poll).await,
                }
            } => {}
        }
    }
    tracing::info!("consumers stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_five_minutes() {
        assert_eq!(retry_delay(0), 1000);
        assert_eq!(retry_delay(1), 2000);
        assert_eq!(retry_delay(5), 32_000);
        assert_eq!(retry_delay(9), 300_000);
        assert_eq!(retry_delay(50), 300_000);
    }
}
