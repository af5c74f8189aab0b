//! Staff call tasks (回访): created by hand, listed per assignee and due day, outcomes
//! logged on the task and on the member's timeline.

use reqwest::StatusCode;
use serde_json::json;

use super::campaigns::member;
use crate::both;
use crate::helpers::TestApp;

async fn call_tasks_are_assigned_listed_and_logged(app: TestApp) {
    let (s, b) = app
        .post("/v1/staff", json!({"code": "g1", "name": "小王"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let m = member(
        &app,
        "t1",
        json!({"time_zone": "America/New_York", "phone": "+12025550100"}),
    )
    .await;
    let (s, t) = app
        .post(
            "/v1/tasks",
            json!({"member": "t1", "assignee": "g1", "title": "3天回访", "due_date": "2027-01-05",
                   "window": "11:00-12:00", "idempotency_key": "333:t1:3d"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    // The window is in the member's zone (New York, UTC−5 in January).
    assert_eq!(t["due_from"], "2027-01-05T16:00:00.000Z", "{t}");
    assert_eq!(t["due_to"], "2027-01-05T17:00:00.000Z");
    assert_eq!(
        (t["status"].as_str(), t["time_zone"].as_str()),
        (Some("open"), Some("America/New_York"))
    );
    let id = t["id"].as_str().expect("id").to_owned();
    // The same key gives the same task.
    let (s, again) = app
        .post(
            "/v1/tasks",
            json!({"member": "t1", "assignee": "g1", "title": "3天回访",
            "due_date": "2027-01-05", "idempotency_key": "333:t1:3d"}),
        )
        .await;
    assert_eq!(
        (s, again["id"].as_str()),
        (StatusCode::OK, Some(id.as_str())),
        "{again}"
    );
    // Today's tasks (the workspace's day) of the assignee.
    let (s, today) = app
        .post(
            "/v1/tasks",
            json!({"member": "t1", "pool": "SH-1", "title": "今日回访"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{today}");
    let (_, list) = app.get("/v1/tasks?due=today").await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, vec![today["id"].as_str().expect("id")], "{list}");
    let (_, list) = app.get("/v1/tasks?assignee=g1&due=2027-01-05").await;
    assert_eq!(list["data"][0]["id"], id.as_str(), "{list}");
    let (_, none) = app.get("/v1/tasks?assignee=g2").await;
    assert_eq!(none["data"], json!([]));
    let (s, b) = app.get("/v1/tasks?due=someday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // No answer: still open. Call back later: moved. Reached: done.
    let path = format!("/v1/tasks/{id}:log");
    let log = |body| app.post(&path, body);
    let (s, b) = log(json!({"outcome": "no_answer"})).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("open")),
        "{b}"
    );
    let (s, b) = log(json!({"outcome": "callback_at", "callback_at": "2027-01-06T20:00:00+08:00", "notes": "晚上再打"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["due_from"].as_str(), b["due_date"].as_str()),
        (Some("2027-01-06T12:00:00.000Z"), Some("2027-01-06")),
        "{b}"
    );
    let (s, b) = log(json!({"outcome": "reached", "notes": "满意", "idempotency_key": "r1"})).await;
    assert_eq!(
        (s, b["status"].as_str(), b["outcome"].as_str()),
        (StatusCode::OK, Some("done"), Some("reached")),
        "{b}"
    );
    // The same key again records nothing more.
    log(json!({"outcome": "reached", "notes": "满意", "idempotency_key": "r1"})).await;
    let (_, events) = app.get(&format!("/v1/members/{m}/events")).await;
    let logged: Vec<&serde_json::Value> = events["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "task.logged")
        .collect();
    assert_eq!(logged.len(), 3, "{events}");
    assert_eq!(logged[0]["properties"]["outcome"], "reached", "{events}");
    assert_eq!(logged[0]["properties"]["notes"], "满意");

    // The SLA: the task reached before its (moved) window ended is in time; a task due on
    // a day already past and still open is overdue.
    let (s, sla) = app
        .get("/v1/tasks/sla?from=2027-01-01&to=2027-01-31&assignee=g1")
        .await;
    assert_eq!(s, StatusCode::OK, "{sla}");
    assert_eq!(
        (
            sla["total"].as_i64(),
            sla["done_in_window"].as_i64(),
            sla["done_late"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{sla}"
    );
    let (s, late) = app
        .post(
            "/v1/tasks",
            json!({"member": "t1", "assignee": "g1", "title": "过期", "due_date": "2026-11-02"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{late}");
    let (_, sla) = app.get("/v1/tasks/sla?from=2026-11-01&to=2026-11-30").await;
    assert_eq!(
        (
            sla["total"].as_i64(),
            sla["overdue"].as_i64(),
            sla["in_window_rate"].as_f64()
        ),
        (Some(1), Some(1), Some(0.0)),
        "{sla}"
    );
    let (s, b) = app.get("/v1/tasks/sla?from=2027-01-31&to=2027-01-01").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Bad input names its field.
    let (s, b) = log(json!({"outcome": "maybe"})).await;
    assert_eq!(
        (s, b["errors"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "outcome"])),
        "{b}"
    );
    let (s, b) = log(json!({"outcome": "callback_at"})).await;
    assert_eq!(
        (s, b["errors"][0]["loc"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["body", "callback_at"])
        ),
        "{b}"
    );
    let (s, b) = app
        .post(
            "/v1/tasks",
            json!({"member": "t1", "assignee": "nobody", "title": "x"}),
        )
        .await;
    assert_eq!(
        (s, b["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_staff")),
        "{b}"
    );
    let (s, b) = app
        .post("/v1/tasks", json!({"member": "t1", "title": "x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app
        .post("/v1/tasks/tsk_nope:log", json!({"outcome": "reached"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
}
both!(call_tasks_are_assigned_listed_and_logged);
