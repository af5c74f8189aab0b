//! The dashboard at `/`: the analytics overview of the last 30 days against the 30
//! before, new members per day, and members per lifecycle stage.

use axum::extract::State;
use axum::response::Html;
use memberops_app::analytics::reports::{OverviewParams, overview};
use memberops_app::segments::saved::{self, Engine};
use memberops_core::time::now_millis;
use memberops_segments::Node;
use serde::Serialize;

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::Ctx;
use crate::render;

const STAGES: [&str; 5] = ["new", "growing", "mature", "silent", "churned"];

#[derive(Serialize)]
struct Figure {
    key: &'static str,
    now: i64,
    prev: Option<i64>,
    money: bool,
}

#[derive(Serialize)]
struct Bar {
    code: &'static str,
    count: i64,
    pct: i64,
}

#[derive(Serialize)]
struct Day {
    from: String,
    count: i64,
    pct: i64,
}

fn pct(n: i64, max: i64) -> i64 {
    if max <= 0 { 0 } else { n * 100 / max }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub async fn page(State(state): State<ConsoleState>, ctx: Ctx) -> ConsoleResult<Html<String>> {
    let store = state.store.as_ref();
    let ov = overview(store, &ctx.ws, &OverviewParams::default()).await?;
    let (c, p) = (&ov.current.figures, &ov.previous.figures);
    let figures = vec![
        Figure {
            key: "members_total",
            now: int(c.members_total),
            prev: None,
            money: false,
        },
        Figure {
            key: "new_members",
            now: int(c.new_members),
            prev: Some(int(p.new_members)),
            money: false,
        },
        Figure {
            key: "active_members",
            now: int(c.active_members),
            prev: Some(int(p.active_members)),
            money: false,
        },
        Figure {
            key: "orders",
            now: int(c.orders),
            prev: Some(int(p.orders)),
            money: false,
        },
        Figure {
            key: "revenue",
            now: c.revenue_minor,
            prev: Some(p.revenue_minor),
            money: true,
        },
    ];
    let now = now_millis();
    let mut stages = Vec::with_capacity(STAGES.len());
    for code in STAGES {
        let cond = serde_json::json!({"field": "stage", "op": "eq", "value": code});
        let node = Node::from_json(&cond)
            .map_err(|e| crate::error::ConsoleError::Internal(e.to_string()))?;
        let n = saved::preview(
            store,
            &state.segments,
            &ctx.ws,
            &node,
            0,
            Engine::Index,
            now,
        )
        .await?
        .count;
        stages.push(Bar {
            code,
            count: int(n),
            pct: 0,
        });
    }
    let max = stages.iter().map(|s| s.count).max().unwrap_or(0);
    stages.iter_mut().for_each(|s| s.pct = pct(s.count, max));
    let max_new = ov
        .series
        .iter()
        .map(|b| int(b.figures.new_members))
        .max()
        .unwrap_or(0);
    let series: Vec<Day> = ov
        .series
        .iter()
        .rev()
        .take(14)
        .map(|b| Day {
            from: b.from.clone(),
            count: int(b.figures.new_members),
            pct: pct(int(b.figures.new_members), max_new),
        })
        .collect();
    render::page(
        "dashboard.html",
        &ctx,
        minijinja::context! {
            active => "dashboard",
            from => ov.current.from,
            to => ov.current.to,
            figures,
            stages,
            series,
        },
    )
}
