//! A journey's report: members entered and where they are, per step (reached, sent, held
//! by reason, waiting, exited, outcomes), and conversion and revenue per experiment group
//! with the uplift against the holdout and its 95% confidence interval.

use std::collections::BTreeMap;

use memberops_campaigns::journey::{
    GroupStats, HOLDOUT, Uplift, conversion_uplift, revenue_uplift,
};
use memberops_store::Store;
use memberops_store::journeys::{E_ACTIVE, E_CONVERTED, E_DONE, E_EXITED, E_HOLDOUT};

use super::dto::{GroupOut, JourneyReport, StepReport, UpliftOut};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

fn up(u: Option<Uplift>) -> Option<UpliftOut> {
    u.map(|u| UpliftOut {
        diff: u.diff,
        ci95_low: u.low,
        ci95_high: u.high,
    })
}

pub async fn report(store: &dyn Store, ws: &Workspace, id: &str) -> Result<JourneyReport> {
    let r = store
        .journey(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "journey" })?;
    let j = super::spec_of(store, ws, id, r.version).await?;
    let n = store.journey_counts(&ws.id, id).await?;
    let status = |s: &str| {
        n.by_status
            .iter()
            .find(|(k, _)| k == s)
            .map_or(0, |(_, v)| *v)
    };
    let mut steps: Vec<StepReport> = j
        .steps
        .iter()
        .map(|s| StepReport {
            step: s.id.clone(),
            kind: s.kind.clone(),
            ..StepReport::default()
        })
        .collect();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        by_id.insert(s.step.clone(), i);
    }
    // Steps of older versions that the current one no longer has still show.
    let mut slot = |step: &str, steps: &mut Vec<StepReport>| -> usize {
        *by_id.entry(step.to_owned()).or_insert_with(|| {
            steps.push(StepReport {
                step: step.to_owned(),
                kind: "removed".into(),
                ..StepReport::default()
            });
            steps.len() - 1
        })
    };
    for (step, outcome, c) in &n.outcomes {
        let i = slot(step, &mut steps);
        if outcome != "timeout" && outcome != "waited" {
            steps[i].reached += c;
        }
        *steps[i].outcomes.entry(outcome.clone()).or_insert(0) += c;
    }
    for (step, st, reason, c) in &n.messages {
        let i = slot(step, &mut steps);
        let s = &mut steps[i];
        match st.as_str() {
            "sent" | "delivered" => s.sent += c,
            "pending" | "sending" => s.pending += c,
            "failed" => s.failed += c,
            _ => {}
        }
        // Held for good, or moved by a rule (quiet hours) and sent later.
        if !reason.is_empty() && (st == "held" || reason == "quiet_hours") {
            *s.held.entry(reason.clone()).or_insert(0) += c;
        }
    }
    for (step, c) in &n.at_step {
        let i = slot(step, &mut steps);
        steps[i].waiting += c;
    }
    for (step, _, c) in &n.ended {
        let i = slot(step, &mut steps);
        steps[i].exited += c;
    }
    let mut groups = Vec::new();
    if let Some(g) = &j.goal {
        let window = g.within_days.clamp(1, 90) * 86_400_000;
        let rows = store
            .journey_groups(&ws.id, id, &g.event_type, window)
            .await?;
        let mut stats: BTreeMap<String, GroupStats> = BTreeMap::new();
        for row in rows {
            let name = if row.grp.is_empty() {
                "all".to_owned()
            } else {
                row.grp
            };
            let s = stats.entry(name).or_default();
            s.members += 1;
            s.converted += u64::from(row.converted > 0);
            s.revenue_minor += row.revenue_minor;
            s.revenue_sq += (row.revenue_minor as f64).powi(2);
        }
        let holdout = stats.get(HOLDOUT).copied();
        for (name, s) in &stats {
            let vs = holdout.filter(|_| name != HOLDOUT);
            groups.push(GroupOut {
                group: name.clone(),
                members: i64::try_from(s.members).unwrap_or(i64::MAX),
                converted: i64::try_from(s.converted).unwrap_or(i64::MAX),
                conversion_rate: s.rate(),
                revenue_minor: s.revenue_minor,
                revenue_per_member_minor: s.revenue_per_member(),
                conversion_uplift: up(vs.and_then(|h| conversion_uplift(s, &h))),
                revenue_per_member_uplift: up(vs.and_then(|h| revenue_uplift(s, &h))),
            });
        }
    }
    Ok(JourneyReport {
        journey_id: r.id.clone(),
        status: r.status.clone(),
        entered: n.by_status.iter().map(|(_, v)| v).sum(),
        active: status(E_ACTIVE),
        completed: status(E_DONE),
        exited: status(E_EXITED),
        converted: status(E_CONVERTED),
        holdout: status(E_HOLDOUT),
        steps,
        groups,
    })
}
