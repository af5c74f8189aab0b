//! Staff call tasks (回访): created by hand or by a journey step, assigned to a
//! staff member or a pool, due within a window of a day in the member's zone; each call's
//! outcome is logged on the task and on the member's timeline (`task.logged`).

use chrono::{NaiveDate, TimeZone};
use memberops_campaigns::rules::Window;
use memberops_campaigns::schedule::local_instant;
use memberops_core::event::SystemEvent;
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_core::{Invalid, id};
use memberops_store::Store;
use memberops_store::campaigns::{TaskFilter, TaskRow};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::lists::Page;
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

pub const OUTCOMES: &[&str] = &["reached", "no_answer", "callback_at", "not_interested"];

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TaskIn {
    /// The member's id or external id.
    pub member: String,
    /// A staff code (`GET /v1/staff`); or give a `pool`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// A pool any staff member of it may take (e.g. a store's code).
    #[serde(default)]
    pub pool: Option<String>,
    #[schema(example = "3天回访")]
    pub title: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The member's local day the call is due (default: today there).
    #[serde(default)]
    #[schema(example = "2026-12-08")]
    pub due_date: Option<String>,
    /// Local hours of that day, `HH:MM-HH:MM` (default `11:00-17:00`).
    #[serde(default)]
    #[schema(example = "11:00-12:00")]
    pub window: Option<String>,
    /// The same key again returns the first task.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct OutcomeIn {
    /// `reached`, `no_answer`, `callback_at` or `not_interested`.
    pub outcome: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// With `callback_at`: when to call again (RFC 3339); the task moves there.
    #[serde(default)]
    pub callback_at: Option<String>,
    /// The same key again records nothing more.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskOut {
    pub id: String,
    pub member_id: String,
    pub assignee: Option<String>,
    pub pool: Option<String>,
    pub title: String,
    pub note: String,
    pub due_from: String,
    pub due_to: String,
    /// The member's local day.
    pub due_date: String,
    pub time_zone: String,
    /// `open` or `done`.
    pub status: String,
    /// The last outcome logged.
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub callback_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub done_at: Option<String>,
}

fn out(r: TaskRow, tz: &str) -> TaskOut {
    TaskOut {
        id: r.id,
        member_id: r.member_id,
        assignee: r.assignee,
        pool: r.pool,
        title: r.title,
        note: r.note,
        due_from: millis_to_rfc3339(r.due_from),
        due_to: millis_to_rfc3339(r.due_to),
        due_date: r.due_date,
        time_zone: tz.to_owned(),
        status: r.status,
        outcome: r.outcome,
        notes: r.notes,
        callback_at: r.callback_at.map(millis_to_rfc3339),
        created_at: millis_to_rfc3339(r.created_at),
        updated_at: millis_to_rfc3339(r.updated_at),
        done_at: r.done_at.map(millis_to_rfc3339),
    }
}

async fn zone_of(store: &dyn Store, ws: &Workspace, member_id: &str) -> Result<chrono_tz::Tz> {
    Ok(store
        .member_zones(&ws.id, &[member_id.to_owned()])
        .await?
        .first()
        .and_then(|(_, z)| z.parse().ok())
        .unwrap_or(ws.time_zone))
}

/// The bounds of a local day in `tz`.
fn day_bounds(tz: chrono_tz::Tz, d: NaiveDate) -> (Millis, Millis) {
    let at = |d: NaiveDate| {
        local_instant(tz, d.and_time(chrono::NaiveTime::MIN)).map_or(0, |t| t.timestamp_millis())
    };
    (at(d), at(d.succ_opt().unwrap_or(d)))
}

/// The local date of an instant in `tz`.
fn local_date(tz: chrono_tz::Tz, at: Millis) -> NaiveDate {
    chrono::Utc
        .timestamp_millis_opt(at)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
        .unwrap_or_default()
}

/// A task of a journey step for `member_id` in `tz`: due `days` after `now`'s local date,
/// in `window`; keyed so that running the step again adds nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn journey_task(
    ws: &Workspace,
    member_id: &str,
    tz: chrono_tz::Tz,
    title: &str,
    note: &str,
    assignee: Option<&str>,
    pool: Option<&str>,
    window: Window,
    days: i64,
    key: String,
    now: Millis,
) -> TaskRow {
    let date = local_date(tz, now) + chrono::Duration::days(days);
    let at = |t| local_instant(tz, date.and_time(t)).map_or(now, |x| x.timestamp_millis());
    let (day_start, day_end) = day_bounds(tz, date);
    TaskRow {
        id: id::new_id("tsk"),
        workspace_id: ws.id.clone(),
        member_id: member_id.to_owned(),
        assignee: assignee.map(str::to_owned),
        pool: pool.map(str::to_owned),
        title: title.to_owned(),
        note: note.to_owned(),
        due_from: at(window.start),
        due_to: at(window.end),
        due_date: date.format("%Y-%m-%d").to_string(),
        day_start,
        day_end,
        status: "open".into(),
        outcome: None,
        notes: None,
        callback_at: None,
        idempotency_key: Some(key),
        created_at: now,
        updated_at: now,
        done_at: None,
    }
}

fn bad(loc: &[&str], code: &str, msg: &str) -> AppError {
    Invalid::one(loc, code, msg).into()
}

pub async fn create(
    store: &dyn Store,
    ws: &Workspace,
    t: TaskIn,
    now: Millis,
) -> Result<(TaskOut, bool)> {
    if t.title.trim().is_empty() || t.title.chars().count() > 200 {
        return Err(bad(
            &["body", "title"],
            "invalid_title",
            "a title of 1–200 characters",
        ));
    }
    let m = match crate::members::get(store, ws, &t.member).await {
        Ok(m) => m,
        Err(AppError::NotFound { .. }) => {
            return Err(bad(&["body", "member"], "unknown_member", "no such member"));
        }
        Err(e) => return Err(e),
    };
    match (&t.assignee, &t.pool) {
        (None, None) => {
            return Err(bad(
                &["body", "assignee"],
                "required",
                "give an assignee (staff code) or a pool",
            ));
        }
        (Some(a), _) if store.staff_row(&ws.id, a).await?.is_none() => {
            return Err(bad(
                &["body", "assignee"],
                "unknown_staff",
                "no staff member has this code",
            ));
        }
        _ => {}
    }
    let tz: chrono_tz::Tz = m.time_zone.parse().unwrap_or(ws.time_zone);
    let today = local_date(tz, now);
    let date = match &t.due_date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| bad(&["body", "due_date"], "invalid_date", "YYYY-MM-DD"))?,
        None => today,
    };
    let window = match &t.window {
        Some(w) => Window::parse(w)
            .filter(|w| w.start < w.end)
            .ok_or_else(|| {
                bad(
                    &["body", "window"],
                    "invalid_window",
                    "HH:MM-HH:MM within one day",
                )
            })?,
        None => Window::parse("11:00-17:00")
            .ok_or_else(|| bad(&["body", "window"], "invalid_window", "default"))?,
    };
    let at = |time| {
        local_instant(tz, date.and_time(time))
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| {
                bad(
                    &["body", "due_date"],
                    "invalid_date",
                    "not a time in the member's zone",
                )
            })
    };
    let (day_start, day_end) = day_bounds(tz, date);
    let row = TaskRow {
        id: id::new_id("tsk"),
        workspace_id: ws.id.clone(),
        member_id: m.id.clone(),
        assignee: t.assignee.clone(),
        pool: t.pool.clone(),
        title: t.title.trim().to_owned(),
        note: t.note.clone().unwrap_or_default(),
        due_from: at(window.start)?,
        due_to: at(window.end)?,
        due_date: date.format("%Y-%m-%d").to_string(),
        day_start,
        day_end,
        status: "open".into(),
        outcome: None,
        notes: None,
        callback_at: None,
        idempotency_key: t.idempotency_key.clone(),
        created_at: now,
        updated_at: now,
        done_at: None,
    };
    let mut tx = store.begin_write(&ws.id).await?;
    let added = tx.insert_task(&row).await?;
    tx.commit().await?;
    if !added {
        let first = store
            .tasks_page(
                &ws.id,
                &TaskFilter {
                    member_id: Some(m.id.clone()),
                    ..TaskFilter::default()
                },
                None,
                1000,
            )
            .await?
            .into_iter()
            .find(|r| r.idempotency_key == t.idempotency_key)
            .ok_or(AppError::NotFound { what: "task" })?;
        return Ok((out(first, &m.time_zone), false));
    }
    Ok((out(row, &m.time_zone), true))
}

/// Which tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub assignee: Option<String>,
    pub pool: Option<String>,
    pub member: Option<String>,
    /// Members' home store code.
    pub store: Option<String>,
    /// Members' owning staff code.
    pub staff: Option<String>,
    /// `today` (open tasks due today, each in its member's zone), `overdue` (open,
    /// window passed) or a date `YYYY-MM-DD`.
    pub due: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub async fn list(
    store: &dyn Store,
    ws: &Workspace,
    q: TaskQuery,
    now: Millis,
) -> Result<Page<TaskOut>> {
    let limit = crate::members::page_limit(q.limit)?;
    if q.cursor.as_deref().is_some_and(|c| !id::is_id("tsk", c)) {
        return Err(crate::lists::invalid_cursor());
    }
    let mut f = TaskFilter {
        assignee: q.assignee,
        pool: q.pool,
        member_store: q.store,
        member_staff: q.staff,
        ..TaskFilter::default()
    };
    if let Some(m) = q.member {
        f.member_id = Some(crate::members::get(store, ws, &m).await?.id);
    }
    match q.due.as_deref() {
        None | Some("") => {}
        Some("today") => f.due_on_day_of = Some(now),
        Some("overdue") => f.overdue_at = Some(now),
        Some(d) => {
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                bad(
                    &["query", "due"],
                    "invalid_due",
                    "`today`, `overdue` or YYYY-MM-DD",
                )
            })?;
            f.due_date = Some(d.to_owned());
        }
    }
    let mut rows = store
        .tasks_page(&ws.id, &f, q.cursor.as_deref(), limit + 1)
        .await?;
    let next = crate::members::cut_page(&mut rows, limit, |r| r.id.clone());
    let ids: Vec<String> = rows.iter().map(|r| r.member_id.clone()).collect();
    let zones: std::collections::HashMap<String, String> = store
        .member_zones(&ws.id, &ids)
        .await?
        .into_iter()
        .collect();
    let data = rows
        .into_iter()
        .map(|r| {
            let tz = zones
                .get(&r.member_id)
                .cloned()
                .unwrap_or_else(|| ws.time_zone.name().to_owned());
            out(r, &tz)
        })
        .collect();
    Ok(Page::new(data, next))
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<TaskOut> {
    let r = store
        .task(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "task" })?;
    let tz = zone_of(store, ws, &r.member_id).await?;
    Ok(out(r, tz.name()))
}

/// Logs a call's outcome: `reached` and `not_interested` close the task, `no_answer`
/// leaves it open, `callback_at` moves it to the time given. Each log is a `task.logged`
/// event on the member's timeline.
pub async fn log_outcome(
    store: &dyn Store,
    ws: &Workspace,
    task_id: &str,
    o: OutcomeIn,
    actor: &str,
    now: Millis,
) -> Result<TaskOut> {
    if !OUTCOMES.contains(&o.outcome.as_str()) {
        return Err(bad(
            &["body", "outcome"],
            "invalid_outcome",
            &format!("outcome is one of {}", OUTCOMES.join(", ")),
        ));
    }
    let callback = match (&o.outcome[..], &o.callback_at) {
        ("callback_at", None) => {
            return Err(bad(
                &["body", "callback_at"],
                "required",
                "when to call back",
            ));
        }
        (_, Some(c)) => Some(
            chrono::DateTime::parse_from_rfc3339(c)
                .map_err(|_| {
                    bad(
                        &["body", "callback_at"],
                        "invalid_time",
                        "RFC 3339 with its offset",
                    )
                })?
                .timestamp_millis(),
        ),
        (_, None) => None,
    };
    if o.notes.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(bad(
            &["body", "notes"],
            "too_long",
            "at most 2000 characters",
        ));
    }
    let mut tx = store.begin_write(&ws.id).await?;
    let mut t = tx
        .task_in_tx(task_id)
        .await?
        .ok_or(AppError::NotFound { what: "task" })?;
    let key = o
        .idempotency_key
        .clone()
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    let kind = SystemEvent::TaskLogged;
    let props = serde_json::json!({"task_id": t.id, "outcome": o.outcome, "notes": o.notes,
        "callback_at": callback.map(millis_to_rfc3339), "staff": t.assignee, "actor": actor});
    let event = system_event(
        ws,
        kind,
        format!("{}:{}:{key}", kind.as_str(), t.id),
        &t.member_id,
        now,
        props,
    );
    if insert_new(tx.as_mut(), vec![event], |_| None).await? == 1 {
        t.outcome = Some(o.outcome.clone());
        t.notes = o.notes.clone();
        t.updated_at = now;
        match o.outcome.as_str() {
            "reached" | "not_interested" => {
                t.status = "done".into();
                t.done_at = Some(now);
            }
            "callback_at" => {
                if let Some(c) = callback {
                    let len = (t.due_to - t.due_from).max(3_600_000);
                    t.callback_at = Some(c);
                    t.due_from = c;
                    t.due_to = c + len;
                    let tz = zone_of(store, ws, &t.member_id).await?;
                    let day = local_date(tz, c);
                    t.due_date = day.format("%Y-%m-%d").to_string();
                    (t.day_start, t.day_end) = day_bounds(tz, day);
                }
            }
            _ => {}
        }
        tx.update_task(&t).await?;
    }
    tx.commit().await?;
    get(store, ws, task_id).await
}

/// How call tasks due in a period went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaOut {
    pub from: String,
    pub to: String,
    /// Tasks due in the period.
    pub total: i64,
    /// Done within their window.
    pub done_in_window: i64,
    /// Done after their window.
    pub done_late: i64,
    /// Still open, window passed.
    pub overdue: i64,
    /// Still open, window not passed.
    pub open: i64,
    /// Done within the window, of the tasks whose window has passed or that are done.
    pub in_window_rate: f64,
}

/// The SLA of tasks due on the days `from..=to` (the workspace's zone), of one assignee
/// when given.
pub async fn sla(
    store: &dyn Store,
    ws: &Workspace,
    from: &str,
    to: &str,
    assignee: Option<&str>,
    now: Millis,
) -> Result<SlaOut> {
    let day = |s: &str, field: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad(&["query", field], "invalid_date", "YYYY-MM-DD"))
    };
    let (f, t) = (day(from, "from")?, day(to, "to")?);
    if t < f {
        return Err(bad(
            &["query", "to"],
            "out_of_range",
            "`to` is on or after `from`",
        ));
    }
    let (start, _) = day_bounds(ws.time_zone, f);
    let (_, end) = day_bounds(ws.time_zone, t);
    let [done_in_window, done_late, overdue, open] =
        store.task_sla(&ws.id, start, end, assignee, now).await?;
    let settled = done_in_window + done_late + overdue;
    Ok(SlaOut {
        from: from.to_owned(),
        to: to.to_owned(),
        total: settled + open,
        done_in_window,
        done_late,
        overdue,
        open,
        in_window_rate: if settled == 0 {
            0.0
        } else {
            done_in_window as f64 / settled as f64
        },
    })
}
