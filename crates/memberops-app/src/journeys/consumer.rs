//! The `journeys` consumer of the event log. For each event, in commit order:
//! 1. a goal event ends the member's journeys that have it as their goal (`converted`);
//! 2. an event a wait is waiting for resumes the member there;
//! 3. an event that triggers a journey (its type, its property conditions) enters the
//!    member, as the entry rule allows (once ever, once per N days, every time), keyed by
//!    the event so that a page handled twice enters nobody twice.
//!
//! All in the transaction that moves the consumer's cursor. The runner then runs the
//! first steps.

use async_trait::async_trait;
use memberops_core::id;
use memberops_store::journeys::{E_ACTIVE, E_HOLDOUT, EnrollmentRow, JourneyRow};
use memberops_store::{LogEvent, WriteTx};

use super::spec::{Action, Parsed, Trigger, WaitFor};
use crate::consumers::Consumer;
use crate::error::Result;
use crate::workspace::Workspace;

pub struct Journeys;

/// An active journey with its parsed version.
pub(crate) struct Live {
    pub row: JourneyRow,
    pub spec: Parsed,
}

/// The active journeys, parsed (an unreadable one is skipped).
pub(crate) async fn live(tx: &mut dyn WriteTx) -> Result<Vec<Live>> {
    let mut out = Vec::new();
    for (row, text) in tx.live_journeys().await? {
        let parsed = serde_json::from_str::<super::JourneyIn>(&text)
            .map_err(|e| e.to_string())
            .and_then(|j| super::spec::parse(&j).map_err(|e| e.to_string()));
        match parsed {
            Ok(spec) => out.push(Live { row, spec }),
            Err(e) => tracing::warn!(journey = %row.id, error = %e, "journey spec unreadable"),
        }
    }
    Ok(out)
}

/// Enters `member_id` into `j` at `at` for `occurrence`, if the entry rule allows; true
/// if entered. The experiment puts the member in a variant (its start step) or the
/// holdout (entered, never run).
pub(crate) async fn enter(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    j: &Live,
    member_id: &str,
    occurrence: &str,
    at: memberops_core::time::Millis,
) -> Result<bool> {
    let last = tx.last_entry(&j.row.id, member_id).await?;
    if !j.spec.entry.allows(last, at) {
        return Ok(false);
    }
    let (grp, start, status) = match &j.spec.experiment {
        None => (String::new(), j.spec.start.clone(), E_ACTIVE),
        Some(x) => match x.group(&j.row.id, member_id) {
            Some((name, start)) => (name.to_owned(), start.to_owned(), E_ACTIVE),
            None => (E_HOLDOUT.to_owned(), j.spec.start.clone(), E_HOLDOUT),
        },
    };
    let row = EnrollmentRow {
        id: id::new_id("enr"),
        workspace_id: ws.id.clone(),
        journey_id: j.row.id.clone(),
        version: j.row.version,
        member_id: member_id.to_owned(),
        occurrence: occurrence.to_owned(),
        grp,
        status: status.into(),
        step: start,
        waiting: 0,
        wait_event: None,
        resume_step: None,
        due_at: at,
        lease_id: None,
        attempts: 0,
        visits: 0,
        entered_at: at,
        updated_at: at,
        ended_at: None,
        end_reason: None,
    };
    Ok(tx.insert_enrollment(&row).await?)
}

#[async_trait]
impl Consumer for Journeys {
    fn name(&self) -> &'static str {
        "journeys"
    }

    fn changes_members(&self) -> bool {
        false
    }

    async fn handle(&self, tx: &mut dyn WriteTx, ws: &Workspace, page: &[LogEvent]) -> Result<()> {
        let journeys = live(tx).await?;
        if journeys.is_empty() {
            return Ok(());
        }
        // The event types some wait is waiting for (in any version a member may be on,
        // the current one names them too unless it was edited away).
        let waited: std::collections::HashSet<&str> = journeys
            .iter()
            .flat_map(|j| j.spec.steps.values())
            .filter_map(|s| match &s.action {
                Action::Wait(WaitFor::Event { event_type, .. }) => Some(event_type.as_str()),
                _ => None,
            })
            .collect();
        for ev in page {
            for j in &journeys {
                if let Some(g) = &j.spec.goal
                    && g.event_type == ev.kind
                {
                    tx.convert_enrollments(
                        &j.row.id,
                        &ev.member_id,
                        ev.occurred_at,
                        ev.occurred_at,
                    )
                    .await?;
                }
            }
            if waited.contains(ev.kind.as_str()) {
                tx.resume_waiting(&ev.member_id, &ev.kind, ev.occurred_at, ev.occurred_at)
                    .await?;
            }
            let props: serde_json::Value =
                serde_json::from_str(&ev.properties).unwrap_or(serde_json::Value::Null);
            for j in &journeys {
                let Trigger::Event {
                    event_type,
                    conditions,
                } = &j.spec.trigger
                else {
                    continue;
                };
                if *event_type != ev.kind || !conditions.iter().all(|c| c.matches(&props)) {
                    continue;
                }
                // Only events received once the journey was active: members do not enter
                // for last year's orders.
                if j.row.activated_at.is_none_or(|a| ev.received_at < a) {
                    continue;
                }
                enter(tx, ws, j, &ev.member_id, &ev.id, ev.occurred_at).await?;
            }
        }
        Ok(())
    }
}
