//! The jobs table and the worker on both databases: idempotent enqueue, leases that run out
//! and are taken over, completed jobs that stay done, concurrent workers that never share a
//! job, retries with backoff, and the daily jobs (expiry, birthday gifts, lifecycle) run
//! through the worker.

use std::collections::HashSet;
use std::time::Duration;

use memberops_app::jobs::{self, Outcome, Runner, WorkerConfig};
use memberops_core::time::now_millis;
use memberops_store::NewJob;
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

const T0: i64 = 1_800_000_000_000;

fn new_job(app: &TestApp, key: &str, kind: &str, max_attempts: i32) -> NewJob {
    NewJob {
        workspace_id: app.ws.id.clone(),
        key: key.to_owned(),
        kind: kind.to_owned(),
        payload: "{}".into(),
        run_at: T0,
        max_attempts,
    }
}

fn runner(app: &TestApp) -> Runner {
    Runner {
        store: app.store.clone(),
        config: WorkerConfig {
            lease: Duration::from_secs(30),
            ..WorkerConfig::default()
        },
        segments: Default::default(),
    }
}

async fn enqueue_is_idempotent_by_key(app: TestApp) {
    let s = app.store.as_ref();
    let job = new_job(&app, "points_expiry:2026-11-27", "points_expiry", 3);
    assert!(s.enqueue_job(&job, T0).await.expect("enqueue"));
    assert!(!s.enqueue_job(&job, T0 + 1).await.expect("again"));
    let mut other = job.clone();
    other.payload = r#"{"date":"changed"}"#.into();
    assert!(!s.enqueue_job(&other, T0 + 2).await.expect("same key"));
    let stored = s
        .job(&app.ws.id, &job.key)
        .await
        .expect("job")
        .expect("stored");
    assert_eq!(
        (stored.status.as_str(), stored.payload.as_str()),
        ("queued", "{}")
    );
    // Still refused once the job is done: the key is the day's job, whatever its state.
    let c = s
        .claim_job("l1", T0, 1000)
        .await
        .expect("claim")
        .expect("due");
    assert!(
        s.complete_job(&app.ws.id, &c.key, "l1", T0 + 5)
            .await
            .expect("done")
    );
    assert!(!s.enqueue_job(&job, T0 + 10).await.expect("after done"));
    assert!(
        s.claim_job("l2", T0 + 10, 1000)
            .await
            .expect("claim")
            .is_none()
    );
}
both!(enqueue_is_idempotent_by_key);

async fn expired_lease_is_reclaimed_and_completed_job_is_not_rerun(app: TestApp) {
    let s = app.store.as_ref();
    let ws = app.ws.id.as_str();
    s.enqueue_job(&new_job(&app, "k", "points_expiry", 3), T0)
        .await
        .expect("enqueue");
    // Not due before its run time.
    assert!(
        s.claim_job("early", T0 - 1, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    let a = s
        .claim_job("A", T0, 1000)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!((a.status.as_str(), a.attempts), ("running", 1));
    assert_eq!(a.lease_id.as_deref(), Some("A"));
    // While the lease holds, nobody else gets the job; a heartbeat moves the lease on.
    assert!(
        s.claim_job("B", T0 + 999, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        s.extend_job_lease(ws, "k", "A", T0 + 2000)
            .await
            .expect("extend")
    );
    assert!(
        s.claim_job("B", T0 + 1500, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    // The worker died: its lease runs out and another worker takes the job over.
    let b = s
        .claim_job("B", T0 + 2000, 1000)
        .await
        .expect("claim")
        .expect("re-claimed");
    assert_eq!((b.key.as_str(), b.attempts), ("k", 2));
    // The old holder can neither extend, complete nor fail it any more.
    assert!(
        !s.extend_job_lease(ws, "k", "A", T0 + 9000)
            .await
            .expect("extend")
    );
    assert!(
        !s.complete_job(ws, "k", "A", T0 + 2100)
            .await
            .expect("complete")
    );
    assert!(
        !s.fail_job(ws, "k", "A", "x", None, T0 + 2100)
            .await
            .expect("fail")
    );
    assert!(
        s.complete_job(ws, "k", "B", T0 + 2200)
            .await
            .expect("complete")
    );
    let done = s.job(ws, "k").await.expect("job").expect("stored");
    assert_eq!(
        (done.status.as_str(), done.finished_at),
        ("done", Some(T0 + 2200))
    );
    assert_eq!(done.lease_id, None);
    // A completed job is never claimed again, however late.
    assert!(
        s.claim_job("C", T0 + 86_400_000, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        !s.complete_job(ws, "k", "B", T0 + 2300)
            .await
            .expect("twice")
    );
}
both!(expired_lease_is_reclaimed_and_completed_job_is_not_rerun);

async fn two_workers_never_run_the_same_job(app: TestApp) {
    let n = 40;
    for i in 0..n {
        app.store
            .enqueue_job(
                &new_job(&app, &format!("job:{i:02}"), "points_expiry", 3),
                T0,
            )
            .await
            .expect("enqueue");
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut i = 0;
            while let Some(j) = store
                .claim_job(&format!("w{w}-{i}"), T0 + 1, 60_000)
                .await
                .expect("claim")
            {
                got.push(j.key);
                i += 1;
            }
            got
        }));
    }
    let mut all = Vec::new();
    let mut busy_workers = 0;
    for t in tasks {
        let got = t.await.expect("worker");
        busy_workers += usize::from(!got.is_empty());
        all.extend(got);
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), n, "every job claimed exactly once: {all:?}");
    assert_eq!(unique.len(), n);
    assert!(busy_workers >= 1);
    for key in unique {
        let j = app
            .store
            .job(&app.ws.id, key)
            .await
            .expect("job")
            .expect("stored");
        assert_eq!((j.status.as_str(), j.attempts), ("running", 1), "{key}");
    }
}
both!(two_workers_never_run_the_same_job);

async fn failures_retry_with_backoff_then_give_up(app: TestApp) {
    let s = app.store.as_ref();
    let ws = app.ws.id.as_str();
    s.enqueue_job(&new_job(&app, "f", "points_expiry", 2), T0)
        .await
        .expect("enqueue");
    let a = s
        .claim_job("A", T0, 1000)
        .await
        .expect("claim")
        .expect("due");
    assert!(
        s.fail_job(ws, "f", "A", "boom", Some(T0 + 500), T0 + 10)
            .await
            .expect("fail")
    );
    let q = s.job(ws, "f").await.expect("job").expect("stored");
    assert_eq!((q.status.as_str(), q.due_at), ("queued", T0 + 500));
    assert_eq!(q.last_error.as_deref(), Some("boom"));
    assert!(
        s.claim_job("B", T0 + 499, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    let b = s
        .claim_job("B", T0 + 500, 1000)
        .await
        .expect("claim")
        .expect("retry");
    assert_eq!(b.attempts, a.attempts + 1);
    // The last attempt's lease runs out: the job is given up, not run a third time.
    assert!(
        s.claim_job("C", T0 + 1500, 1000)
            .await
            .expect("claim")
            .is_none()
    );
    let f = s.job(ws, "f").await.expect("job").expect("stored");
    assert_eq!((f.status.as_str(), f.attempts), ("failed", 2));

    // Through the worker: a job it cannot run fails for good at once, with the reason.
    let mut odd = new_job(&app, "odd", "no_such_kind", 5);
    odd.run_at = now_millis();
    s.enqueue_job(&odd, odd.run_at).await.expect("enqueue");
    let out = jobs::run_next(&runner(&app)).await.expect("step");
    match out {
        Some(Outcome::Failed { key, error }) => {
            assert_eq!(key, "odd");
            assert!(error.contains("no_such_kind"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(jobs::run_next(&runner(&app)).await.expect("step").is_none());
}
both!(failures_retry_with_backoff_then_give_up);

async fn daily_jobs_run_once_through_the_worker(app: TestApp) {
    let tz = app.ws.time_zone;
    let now = now_millis();
    let today = memberops_loyalty::calendar::local_date(now, tz);
    let birthday = format!("1990-{}", today.format("%m-%d")).replace("1990-02-29", "1992-02-29");
    let (s, b) = app
        .post(
            "/v1/members",
            json!({"external_id": "bday", "birthday": birthday, "time_zone": tz.name()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().expect("id").to_owned();
    // An old order whose points expired at the end of 2025, and a recent one that makes
    // the member 银卡 (silver: 100 birthday points) with growth inside the review window.
    let recent = chrono::DateTime::from_timestamp_millis(now - 30 * 86_400_000)
        .expect("time")
        .to_rfc3339();
    let r = app
        .batch(json!([
            {"id": "old", "type": "order.paid", "member": "bday", "occurred_at": "2024-01-10T12:00:00+08:00",
             "properties": {"order_id": "o-old", "amount": "100.00"}},
            {"id": "new", "type": "order.paid", "member": "bday", "occurred_at": recent,
             "properties": {"order_id": "o-new", "amount": "2500.00"}},
        ]))
        .await;
    assert_eq!(r["accepted"], 2, "{r}");
    let state = app
        .store
        .loyalty_member(&app.ws.id, &id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(state.tier, "silver");
    let expired: i64 = app
        .store
        .member_open_lots(&app.ws.id, &id)
        .await
        .expect("lots")
        .iter()
        .filter(|l| l.expires_at.is_some_and(|e| e <= now))
        .map(|l| l.remaining)
        .sum();
    assert_eq!(expired, 100);
    let before = state.points_balance;

    let keys = jobs::schedule_day(app.store.as_ref(), &app.ws, today, 3, now)
        .await
        .expect("schedule");
    let day = today.format("%Y-%m-%d");
    let mut want = vec![
        format!("points_expiry:{day}"),
        format!("coupon_expiry:{day}"),
        format!("birthday_gifts:{day}"),
        format!("lifecycle_recompute:{day}"),
        format!("clv_refresh:{day}"),
        format!("tier_trials_end:{day}"),
        format!("journey_dates:{day}"),
    ];
    if chrono::Datelike::day(&today) == 1 {
        want.insert(1, format!("tier_review:{day}"));
    }
    assert_eq!(keys, want);
    // The scheduler of another process (or after a restart) adds nothing.
    assert!(
        jobs::schedule_day(app.store.as_ref(), &app.ws, today, 3, now)
            .await
            .expect("again")
            .is_empty()
    );
    let w = runner(&app);
    let mut done = Vec::new();
    while let Some(out) = jobs::run_next(&w).await.expect("step") {
        match out {
            Outcome::Done { key, .. } => done.push(key),
            other => panic!("job did not complete: {other:?}"),
        }
    }
    done.sort();
    want.sort();
    assert_eq!(done, want);

    let lines = app
        .store
        .all_points_lines(&app.ws.id, &id)
        .await
        .expect("lines");
    let expire: Vec<i64> = lines
        .iter()
        .filter(|l| l.kind == "expire")
        .map(|l| l.points)
        .collect();
    assert_eq!(expire, vec![-100]);
    let gifts: Vec<_> = lines
        .iter()
        .filter(|l| l.rule_id.as_deref() == Some("birthday"))
        .map(|l| (l.points, l.event_id.clone()))
        .collect();
    let year = chrono::Datelike::year(&today);
    assert_eq!(gifts, vec![(100, format!("birthday:{year}:{id}"))]);
    let after = app
        .store
        .loyalty_member(&app.ws.id, &id)
        .await
        .expect("state")
        .expect("row");
    assert_eq!(after.points_balance, before - 100 + 100);
    assert_eq!(
        after.points_balance,
        lines.iter().map(|l| l.points).sum::<i64>()
    );
    let intel = app.store.all_intel(&app.ws.id).await.expect("intel");
    assert!(
        intel.iter().any(|r| r.member_id == id),
        "lifecycle stage stored"
    );

    // Nothing runs twice: no job is due, and the gift itself is once a year.
    assert!(jobs::run_next(&w).await.expect("step").is_none());
    let again = memberops_app::loyalty::birthday::birthday_gifts(app.store.as_ref(), &app.ws, now)
        .await
        .expect("gifts");
    assert_eq!((again.members, again.points), (1, 0));
    let lines2 = app
        .store
        .all_points_lines(&app.ws.id, &id)
        .await
        .expect("lines");
    assert_eq!(lines2.len(), lines.len());

    // The tier review is scheduled on the program's review day (the 1st by default) only.
    let first = chrono::NaiveDate::from_ymd_opt(2020, 3, 1).expect("date");
    let second = chrono::NaiveDate::from_ymd_opt(2020, 3, 2).expect("date");
    let k1 = jobs::schedule_day(app.store.as_ref(), &app.ws, first, 3, now)
        .await
        .expect("s");
    let k2 = jobs::schedule_day(app.store.as_ref(), &app.ws, second, 3, now)
        .await
        .expect("s");
    assert!(k1.contains(&"tier_review:2020-03-01".to_owned()), "{k1:?}");
    assert!(!k2.iter().any(|k| k.starts_with("tier_review")), "{k2:?}");
}
both!(daily_jobs_run_once_through_the_worker);
