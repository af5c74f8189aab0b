//! The journey runner: claims due enrollments under a lease and runs their steps until a
//! wait, an exit or the end of the path.
//!
//! Each enrollment runs in one workspace write transaction that first checks the lease is
//! still its own, then writes every effect of its steps (the message row, the coupon, the
//! points, the tag, the call task, the step log) and the enrollment's new place, and
//! commits: a worker killed mid-run leaves nothing behind, and the enrollment is claimed
//! again when the lease runs out, so every step takes effect once. Effects also carry
//! keys (`journey:<enrollment>:<visit>`) that make a repeat a no-op.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use memberops_campaigns::journey::{bucket, pick, wait_until};
use memberops_core::id;
use memberops_core::time::{Millis, now_millis};
use memberops_segments::eval::{EvalContext, eval};
use memberops_segments::tree::Node as Tree;
use memberops_store::campaigns::{MSG_PENDING, MessageRow};
use memberops_store::journeys::{E_DONE, E_EXITED, EnrollmentRow};
use memberops_store::{Store, WriteTx};
use tokio_util::sync::CancellationToken;

use super::spec::{Action, Parsed, WaitFor};
use crate::coupons::issue::{IssueOut, plan_for};
use crate::coupons::{CouponOut, issue_grants};
use crate::error::{AppError, Result};
use crate::segments::IndexCache;
use crate::workspace::{Workspace, Workspaces};

/// Most steps one enrollment runs in one go (a path without waits is at most this long).
const MAX_STEPS: usize = 200;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub lease: Duration,
    pub batch: i64,
    pub poll: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            lease: Duration::from_secs(60),
            batch: 200,
            poll: Duration::from_secs(1),
        }
    }
}

pub struct Runner {
    store: Arc<dyn Store>,
    workspaces: Workspaces,
    segments: IndexCache,
    config: RunnerConfig,
}

/// Parsed versions by (journey, version).
type Specs = HashMap<(String, i32), Option<Arc<(String, Parsed)>>>;

impl Runner {
    pub fn new(workspaces: Workspaces, segments: IndexCache, config: RunnerConfig) -> Runner {
        Runner {
            store: workspaces.store().clone(),
            workspaces,
            segments,
            config,
        }
    }

    /// Claims due enrollments under a new lease: `(lease_id, enrollments)`.
    pub async fn claim(&self, now: Millis) -> Result<(String, Vec<EnrollmentRow>)> {
        let lease_id = ulid::Ulid::generate().to_string();
        let lease = i64::try_from(self.config.lease.as_millis()).unwrap_or(60_000);
        let rows = self
            .store
            .claim_enrollments(&lease_id, now, lease, self.config.batch)
            .await?;
        Ok((lease_id, rows))
    }

    /// One round at `now`: claims and runs. Returns how many enrollments it ran. Tests
    /// call it with their own clock; the worker runs [`Self::run`].
    pub async fn round(&self, now: Millis) -> Result<usize> {
        let (lease_id, rows) = self.claim(now).await?;
        self.process(&lease_id, rows, now).await
    }

    /// Runs claimed enrollments. One that fails keeps its lease until it runs out, then
    /// is claimed again.
    pub async fn process(
        &self,
        lease_id: &str,
        rows: Vec<EnrollmentRow>,
        now: Millis,
    ) -> Result<usize> {
        let n = rows.len();
        let mut specs: Specs = HashMap::new();
        for r in rows {
            let ws = self.workspaces.get(&r.workspace_id).await?;
            let key = (r.journey_id.clone(), r.version);
            if !specs.contains_key(&key) {
                let p = self.load(&ws, &r.journey_id, r.version).await?;
                specs.insert(key.clone(), p.map(Arc::new));
            }
            let Some(Some(spec)) = specs.get(&key).cloned() else {
                tracing::warn!(journey = %r.journey_id, "journey version unreadable");
                continue;
            };
            if let Err(e) = self.run_one(&ws, &spec, &r, lease_id, now).await {
                tracing::warn!(enrollment = %r.id, error = %e, "journey step failed");
            }
        }
        Ok(n)
    }

    async fn load(
        &self,
        ws: &Workspace,
        id: &str,
        version: i32,
    ) -> Result<Option<(String, Parsed)>> {
        let j = super::spec_of(self.store.as_ref(), ws, id, version).await?;
        Ok(super::spec::parse(&j).ok().map(|p| (j.name, p)))
    }

    async fn run_one(
        &self,
        ws: &Workspace,
        spec: &(String, Parsed),
        claimed: &EnrollmentRow,
        lease_id: &str,
        now: Millis,
    ) -> Result<()> {
        let (name, p) = spec;
        let store = self.store.as_ref();
        let tz: Tz = store
            .member_zones(&ws.id, std::slice::from_ref(&claimed.member_id))
            .await?
            .first()
            .and_then(|(_, z)| z.parse().ok())
            .unwrap_or(ws.time_zone);
        let mut tx = store.begin_write(&ws.id).await?;
        let Some(mut e) = tx.leased_enrollment(&claimed.id, lease_id).await? else {
            // Another worker took it over, or the goal ended it meanwhile.
            return Ok(());
        };
        let mut touched = false;
        for _ in 0..MAX_STEPS {
            let Some(step) = p.steps.get(&e.step) else {
                end(&mut e, E_EXITED, "missing_step", now);
                break;
            };
            let sid = e.step.clone();
            if e.waiting == 1 {
                // The wait is over: its time came, or its event did not.
                e.waiting = 0;
                e.wait_event = None;
                e.resume_step = None;
                e.visits += 1;
                let next = match &step.action {
                    Action::Wait(WaitFor::Event { timeout_next, .. }) => {
                        tx.insert_journey_step(&e, &sid, "timeout", now).await?;
                        timeout_next.clone()
                    }
                    _ => {
                        tx.insert_journey_step(&e, &sid, "waited", now).await?;
                        step.next.clone()
                    }
                };
                if !advance(&mut e, next, now) {
                    break;
                }
                continue;
            }
            e.visits += 1;
            let key = format!("journey:{}:{}", e.id, e.visits);
            let mut next = step.next.clone();
            let outcome: String = match &step.action {
                Action::Send(m) => {
                    let row = MessageRow {
                        id: id::new_id("msg"),
                        workspace_id: ws.id.clone(),
                        campaign_id: e.journey_id.clone(),
                        step: sid.clone(),
                        member_id: e.member_id.clone(),
                        occurrence: format!("{}:{}", e.id, e.visits),
                        channel: m.channel.as_str().into(),
                        transactional: i32::from(m.transactional),
                        status: MSG_PENDING.into(),
                        held_reason: None,
                        deferred: None,
                        due_at: now,
                        lease_id: None,
                        attempts: 0,
                        last_error: None,
                        token: format!("{:032x}", rand::random::<u128>()),
                        sent_at: None,
                        created_at: now,
                        updated_at: now,
                    };
                    tx.insert_messages(std::slice::from_ref(&row)).await?;
                    "planned".into()
                }
                Action::Coupon {
                    template_id,
                    pack_id,
                } => {
                    coupon(
                        tx.as_mut(),
                        ws,
                        &e.member_id,
                        template_id.as_deref(),
                        pack_id.as_deref(),
                        &key,
                        now,
                    )
                    .await?
                }
                Action::Points(n) => {
                    let reason = format!("journey {name}");
                    crate::loyalty::ops::grant_points_in_tx(
                        tx.as_mut(),
                        &e.member_id,
                        tz,
                        *n,
                        &key,
                        &reason,
                        "system:journey",
                    )
                    .await?;
                    touched = true;
                    "granted".into()
                }
                Action::Tag { add, remove } => {
                    let m = [e.member_id.as_str()];
                    if let Some(t) = add {
                        tx.add_tags(t, "manual", &m, now).await?;
                    }
                    if let Some(t) = remove {
                        tx.remove_tags(t, Some("manual"), &m).await?;
                    }
                    touched = true;
                    "tagged".into()
                }
                Action::Task {
                    title,
                    note,
                    assignee,
                    pool,
                    window,
                    days,
                } => {
                    let row = crate::campaigns::tasks::journey_task(
                        ws,
                        &e.member_id,
                        tz,
                        title,
                        note,
                        assignee.as_deref(),
                        pool.as_deref(),
                        *window,
                        *days,
                        key.clone(),
                        now,
                    );
                    tx.insert_task(&row).await?;
                    "created".into()
                }
                Action::Wait(w) => {
                    e.waiting = 1;
                    match w {
                        WaitFor::Time(w) => e.due_at = wait_until(*w, tz, now),
                        WaitFor::Event {
                            event_type,
                            timeout_ms,
                            ..
                        } => {
                            e.wait_event = Some(event_type.clone());
                            e.resume_step = step.next.clone();
                            e.due_at = now.saturating_add(*timeout_ms);
                        }
                    }
                    tx.insert_journey_step(&e, &sid, "entered", now).await?;
                    break;
                }
                Action::Branch {
                    condition, yes, no, ..
                } => {
                    // Read on the readers: what the member is as of the last commit.
                    let y = matches(store, ws, condition, &e.member_id, now).await?;
                    next = if y { yes.clone() } else { no.clone() };
                    (if y { "yes" } else { "no" }).into()
                }
                Action::Split(bs) => {
                    let shares: Vec<u32> = bs.iter().map(|b| b.0).collect();
                    let i = pick(&shares, bucket(&sid, &e.id));
                    next = bs.get(i).map(|b| b.1.clone());
                    format!("branch_{}", i + 1)
                }
                Action::Exit => {
                    tx.insert_journey_step(&e, &sid, "exit", now).await?;
                    end(&mut e, E_EXITED, "exit", now);
                    break;
                }
            };
            tx.insert_journey_step(&e, &sid, &outcome, now).await?;
            if !advance(&mut e, next, now) {
                break;
            }
        }
        e.updated_at = now;
        tx.save_enrollment(&e).await?;
        tx.commit().await?;
        if touched {
            self.segments
                .reload_members(store, ws, std::slice::from_ref(&e.member_id))
                .await?;
        }
        Ok(())
    }

    /// Runs until `cancel`: a round as soon as the last found work, else after the poll.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        tracing::info!("journey runner started");
        while !cancel.is_cancelled() {
            let idle = match self.round(now_millis()).await {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::error!(error = %e, "journey round failed");
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
        tracing::info!("journey runner stopped");
    }
}

/// Ends the enrollment.
fn end(e: &mut EnrollmentRow, status: &str, reason: &str, now: Millis) {
    e.status = status.into();
    e.end_reason = Some(reason.into());
    e.ended_at = Some(now);
}

/// Moves to `next` (due now); false when the path ended (the enrollment is done).
fn advance(e: &mut EnrollmentRow, next: Option<String>, now: Millis) -> bool {
    match next {
        Some(n) => {
            e.step = n;
            e.due_at = now;
            true
        }
        None => {
            end(e, E_DONE, "completed", now);
            false
        }
    }
}

/// Whether a member meets a condition tree now.
pub(crate) async fn matches(
    store: &dyn Store,
    ws: &Workspace,
    node: &Tree,
    member_id: &str,
    now: Millis,
) -> Result<bool> {
    use crate::segments::index::{base_tier, member_row, prefetch_events};
    let src = store
        .index_sources(&ws.id, None, Some(&[member_id.to_owned()]), 1)
        .await?;
    let Some(s) = src.first() else {
        return Ok(false);
    };
    let base = base_tier(store, ws).await?;
    let row = member_row(s, ws.time_zone, base.as_deref(), ws.currency.exponent());
    let pre = prefetch_events(store, ws, node, now).await?;
    Ok(eval(node, &row, &EvalContext::new(now, &pre)))
}

/// The step's coupon or gift pack, issued once per key: `issued`, or why not (a template
/// out of stock or archived does not stop the journey).
async fn coupon(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    template_id: Option<&str>,
    pack_id: Option<&str>,
    key: &str,
    now: Millis,
) -> Result<String> {
    let key = format!("issue:{key}");
    if tx.issue_key_result(&key).await?.is_some() {
        return Ok("issued".into());
    }
    let planned = plan_for(tx, template_id, pack_id, 1, &[member_id]).await;
    let issued = match planned {
        Ok((templates, grants)) => issue_grants(tx, ws, &templates, &grants, "journey", now).await,
        Err(e) => Err(e),
    };
    match issued {
        Ok(rows) => {
            let out = IssueOut {
                issued: rows.len(),
                coupons: rows.iter().map(CouponOut::from).collect(),
            };
            let text = serde_json::to_string(&out)
                .map_err(|e| memberops_store::StoreError::Corrupt(e.to_string()))?;
            tx.save_issue_key(&key, &text, now).await?;
            Ok("issued".into())
        }
        Err(AppError::Conflict { code, .. }) => Ok(format!("not_issued:{code}")),
        Err(AppError::NotFound { .. }) => Ok("not_issued:not_found".into()),
        Err(e) => Err(e),
    }
}

/// Starts a runner with default settings.
pub fn spawn(
    workspaces: &Workspaces,
    segments: &IndexCache,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let r = Arc::new(Runner::new(
        workspaces.clone(),
        segments.clone(),
        RunnerConfig::default(),
    ));
    tokio::spawn(r.run(cancel.clone()))
}
