//! Background work: the daily scheduler and the worker that drains the jobs table.
//!
//! The scheduler enqueues each workspace's daily jobs once its local date begins (keys such
//! as `points_expiry:2026-11-27`, so enqueueing twice, from two processes or after a
//! restart, adds nothing). The worker claims one job at a time with a lease, extends the
//! lease while the job runs, and marks it done, or queues it again with backoff when it
//! failed. A worker that dies mid-job leaves a lease that runs out, and another worker (or
//! the same one after a restart) runs the job again: every job is idempotent, so a job run
//! twice gives the same result as once.
//!
//! [`run_next`] is one step (claim, run, settle), which tests call directly; [`run`] loops it
//! with the scheduler until cancelled.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use memberops_core::time::{Millis, now_millis};
use memberops_loyalty::calendar::{local_date, start_of_day};
use memberops_store::{Job, NewJob, Store};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, Result};
use crate::segments::IndexCache;
use crate::workspace::Workspace;

/// Points left in expired lots get their `expire` lines.
pub const POINTS_EXPIRY: &str = "points_expiry";
/// The tier review, on the program's review day.
pub const TIER_REVIEW: &str = "tier_review";
/// RFM, value classes and lifecycle stages as of the day; rule tags; segment sizes.
pub const LIFECYCLE_RECOMPUTE: &str = "lifecycle_recompute";
/// Tier birthday gifts (points, coupon) of members whose birthday it is.
pub const BIRTHDAY_GIFTS: &str = "birthday_gifts";
/// Coupons whose validity ended move to `expired`.
pub const COUPON_EXPIRY: &str = "coupon_expiry";
/// Temporary tiers whose days are over go back to the earned tier (also queued for the
/// moment a trial ends, keyed `tier_trials_end:{millis}`).
pub const TIER_TRIALS_END: &str = "tier_trials_end";
/// Predicted member value (P(alive), expected orders, CLV) refitted as of the day.
pub const CLV_REFRESH: &str = "clv_refresh";
/// Members of journeys with date, points-expiry and schedule triggers enter (docs/campaigns.md).
pub const JOURNEY_DATES: &str = "journey_dates";

/// The payload of the daily jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayPayload {
    /// The workspace's local date the job is for (`YYYY-MM-DD`).
    pub date: String,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The workspaces whose daily jobs the scheduler enqueues.
    pub workspaces: Vec<String>,
    /// Sleep between polls when nothing is due.
    pub poll: Duration,
    /// How long a claim holds a job before another worker may take it over; extended every
    /// third of it while the job runs.
    pub lease: Duration,
    /// Attempts before a job is given up (`failed`).
    pub max_attempts: i32,
    /// First retry delay; doubled on each attempt, at most an hour.
    pub backoff: Duration,
    /// Whether this process enqueues the daily jobs (several may: enqueueing is idempotent).
    pub schedule: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workspaces: vec![memberops_core::id::DEFAULT_WORKSPACE.to_owned()],
            poll: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            max_attempts: 5,
            backoff: Duration::from_secs(30),
            schedule: true,
        }
    }
}

/// What is needed to run jobs.
#[derive(Clone)]
pub struct Runner {
    pub store: Arc<dyn Store>,
    pub config: WorkerConfig,
    /// The server's segment indexes (segment sizes are counted on them).
    pub segments: IndexCache,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The job ran; its report as JSON.
    Done { key: String, report: String },
    /// It failed and is queued again at `retry_at`.
    Retry {
        key: String,
        error: String,
        retry_at: Millis,
    },
    /// It failed for the last time (or cannot run at all).
    Failed { key: String, error: String },
    /// Another worker took the job over (our lease ran out): its result is not recorded.
    LeaseLost { key: String },
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn day_key(kind: &str, date: NaiveDate) -> String {
    format!("{kind}:{}", date.format("%Y-%m-%d"))
}

/// Enqueues the daily jobs of `date` (the workspace's local date): points and coupon expiry, lifecycle
/// recompute and birthday gifts every day, the tier review on the program's review day.
/// Returns the keys added (none when they were already there).
pub async fn schedule_day(
    store: &dyn Store,
    ws: &Workspace,
    date: NaiveDate,
    max_attempts: i32,
    now: Millis,
) -> Result<Vec<String>> {
    let program = crate::loyalty::current_program(store, ws).await?;
    let mut kinds = vec![
        POINTS_EXPIRY,
        COUPON_EXPIRY,
        BIRTHDAY_GIFTS,
        LIFECYCLE_RECOMPUTE,
        CLV_REFRESH,
        TIER_TRIALS_END,
        JOURNEY_DATES,
    ];
    if program.tier_review.is_review_date(date) {
        kinds.insert(1, TIER_REVIEW);
    }
    let payload = serde_json::to_string(&DayPayload {
        date: date.format("%Y-%m-%d").to_string(),
    })
    .map_err(|e| AppError::Store(memberops_store::StoreError::Corrupt(e.to_string())))?;
    let mut added = Vec::new();
    for kind in kinds {
        let job = NewJob {
            workspace_id: ws.id.clone(),
            key: day_key(kind, date),
            kind: kind.to_owned(),
            payload: payload.clone(),
            run_at: now,
            max_attempts,
        };
        if store.enqueue_job(&job, now).await? {
            added.push(job.key);
        }
    }
    Ok(added)
}

/// Runs one job's work. Every kind is idempotent.
async fn execute(runner: &Runner, job: &Job) -> Result<String> {
    if ![
        POINTS_EXPIRY,
        COUPON_EXPIRY,
        TIER_REVIEW,
        BIRTHDAY_GIFTS,
        LIFECYCLE_RECOMPUTE,
        CLV_REFRESH,
        TIER_TRIALS_END,
        JOURNEY_DATES,
    ]
    .contains(&job.kind.as_str())
    {
        return Err(AppError::Conflict {
            code: "unknown_job_kind",
            detail: format!("no handler for job kind `{}`", job.kind),
        });
    }
    let store = runner.store.as_ref();
    let ws = Workspace::load(store, &job.workspace_id).await?;
    let day: DayPayload = serde_json::from_str(&job.payload).map_err(|e| {
        AppError::Store(memberops_store::StoreError::Corrupt(format!(
            "job payload: {e}"
        )))
    })?;
    let date = crate::segments::parse_date(&day.date, "date")?;
    let now = now_millis();
    // The day's jobs act as of the day: no later than its end, however late they run.
    let end_of_day = date
        .succ_opt()
        .map_or(now, |d| start_of_day(d, ws.time_zone) - 1);
    let report = match job.kind.as_str() {
        POINTS_EXPIRY => {
            let r = crate::loyalty::jobs::expire(store, &ws, now.min(end_of_day)).await?;
            serde_json::to_value(r)
        }
        COUPON_EXPIRY => {
            let r = crate::coupons::expire_due(store, &ws, now.min(end_of_day)).await?;
            serde_json::to_value(r)
        }
        TIER_REVIEW => {
            let r =
                crate::loyalty::jobs::review(store, &ws, start_of_day(date, ws.time_zone)).await?;
            serde_json::to_value(r)
        }
        BIRTHDAY_GIFTS => {
            let r =
                crate::loyalty::birthday::birthday_gifts(store, &ws, now.min(end_of_day)).await?;
            serde_json::to_value(r)
        }
        LIFECYCLE_RECOMPUTE => {
            use crate::segments::{recompute, saved, settings};
            let intel = settings::in_force(store, &ws).await?;
            let s = recompute(store, &ws, date, &intel, now).await?;
            let rules = saved::refresh_rules(store, &ws, now).await?;
            let sizes = saved::record_all_sizes(store, &runner.segments, &ws, now).await?;
            serde_json::to_value(serde_json::json!({
                "members": s.members,
                "rule_tags_refreshed": rules,
                "segment_sizes": sizes,
            }))
        }
        CLV_REFRESH => serde_json::to_value(crate::clv::refresh_job(store, &ws, date, now).await?),
        // Whatever is due by now, not by the day's end: a trial ends at its own midnight.
        TIER_TRIALS_END => {
            serde_json::to_value(crate::loyalty::trial::end_due(store, &ws, now).await?)
        }
        JOURNEY_DATES => serde_json::to_value(
            crate::journeys::dates::enter_due(store, &runner.segments, &ws, date, now).await?,
        ),
        other => {
            return Err(AppError::Conflict {
                code: "unknown_job_kind",
                detail: format!("no handler for job kind `{other}`"),
            });
        }
    };
    Ok(report.map_or_else(|e| e.to_string(), |v| v.to_string()))
}

/// Errors that a retry cannot fix: an unknown kind, a payload or row this version cannot
/// read, invalid input.
fn permanent(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Conflict {
            code: "unknown_job_kind",
            ..
        } | AppError::Invalid(_)
            | AppError::Store(memberops_store::StoreError::Corrupt(_))
    )
}

/// One step: claims a due job, runs it while keeping its lease, and records the outcome.
/// None when no job is due.
pub async fn run_next(runner: &Runner) -> Result<Option<Outcome>> {
    let store = runner.store.as_ref();
    let lease = ms(runner.config.lease);
    let lease_id = ulid::Ulid::generate().to_string();
    let Some(job) = store.claim_job(&lease_id, now_millis(), lease).await? else {
        return Ok(None);
    };
    let key = job.key.clone();
    tracing::info!(job = %key, attempt = job.attempts, "job started");
    let work = execute(runner, &job);
    // The heartbeat runs beside the work (not between its steps): on SQLite both need the
    // single writer connection, and the work must go on while the heartbeat waits for it.
    let heartbeat = async {
        let mut beat = tokio::time::interval(runner.config.lease / 3);
        beat.tick().await;
        loop {
            beat.tick().await;
            let until = now_millis().saturating_add(lease);
            match store
                .extend_job_lease(&job.workspace_id, &key, &lease_id, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(job = %key, error = %e, "extending the job lease failed"),
            }
        }
    };
    let result = tokio::select! {
        r = work => Some(r),
        // Lost: dropping the work rolls back its open transaction; the new holder runs the
        // job from the start.
        () = heartbeat => None,
    };
    let now = now_millis();
    let outcome = match result {
        None => Outcome::LeaseLost { key },
        Some(Ok(report)) => {
            if store
                .complete_job(&job.workspace_id, &key, &lease_id, now)
                .await?
            {
                Outcome::Done { key, report }
            } else {
                Outcome::LeaseLost { key }
            }
        }
        Some(Err(e)) => {
            let error = e.to_string();
            let retry_at = (!permanent(&e) && job.attempts < job.max_attempts).then(|| {
                let shift = u32::try_from(job.attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(0);
                let delay = ms(runner.config.backoff)
                    .saturating_mul(1_i64 << shift)
                    .min(3_600_000);
                now.saturating_add(delay)
            });
            let ours = store
                .fail_job(&job.workspace_id, &key, &lease_id, &error, retry_at, now)
                .await?;
            match (ours, retry_at) {
                (false, _) => Outcome::LeaseLost { key },
                (true, Some(retry_at)) => Outcome::Retry {
                    key,
                    error,
                    retry_at,
                },
                (true, None) => Outcome::Failed { key, error },
            }
        }
    };
    crate::ops::count_job(&job.kind, matches!(outcome, Outcome::Done { .. }));
    match &outcome {
        Outcome::Done { key, report } => tracing::info!(job = %key, %report, "job done"),
        Outcome::Retry { key, error, .. } => {
            tracing::warn!(job = %key, %error, "job failed, will retry")
        }
        Outcome::Failed { key, error } => {
            tracing::error!(job = %key, %error, "job failed for good")
        }
        Outcome::LeaseLost { key } => {
            tracing::warn!(job = %key, "job lease lost to another worker")
        }
    }
    Ok(Some(outcome))
}

/// Enqueues today's jobs for every workspace whose local date moved since the last call.
pub struct Scheduler {
    last: std::collections::HashMap<String, NaiveDate>,
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler {
            last: Default::default(),
        }
    }

    pub async fn tick(&mut self, runner: &Runner, now: Millis) -> Result<()> {
        for id in &runner.config.workspaces {
            let ws = Workspace::load(runner.store.as_ref(), id).await?;
            let today = local_date(now, ws.time_zone);
            if self.last.get(id) == Some(&today) {
                continue;
            }
            let added = schedule_day(
                runner.store.as_ref(),
                &ws,
                today,
                runner.config.max_attempts,
                now,
            )
            .await?;
            if !added.is_empty() {
                tracing::info!(workspace = %id, jobs = ?added, "daily jobs scheduled");
            }
            self.last.insert(id.clone(), today);
        }
        Ok(())
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

/// The worker: schedules, drains due jobs, sleeps, until `cancel`. A job that has started
/// is finished before it stops.
pub async fn run(runner: Runner, cancel: CancellationToken) {
    let mut scheduler = Scheduler::new();
    tracing::info!(
        poll_s = runner.config.poll.as_secs_f64(),
        lease_s = runner.config.lease.as_secs_f64(),
        schedule = runner.config.schedule,
        "worker started"
    );
    while !cancel.is_cancelled() {
        if runner.config.schedule
            && let Err(e) = scheduler.tick(&runner, now_millis()).await
        {
            tracing::error!(error = %e, "scheduling the daily jobs failed");
        }
        let idle = match run_next(&runner).await {
            Ok(Some(_)) => false,
            Ok(None) => true,
            Err(e) => {
                tracing::error!(error = %e, "claiming or settling a job failed");
                true
            }
        };
        if idle {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = tokio::time::sleep(runner.config.poll) => {}
            }
        }
    }
    tracing::info!("worker stopped");
}
