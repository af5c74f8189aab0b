//! Journeys: a trigger and a graph of steps (send a message, issue a coupon, grant points,
//! tag, create a call task, wait, branch, split, exit), versioned and editable while
//! draft; activated, paused, archived; and the report.
//!
//! - Entering: [`consumer::Journeys`] reads the event log (event triggers, goal events,
//!   waits for an event); [`dates`] enters members of date, points-expiry and schedule
//!   triggers from the daily job `journey_dates`.
//! - Running: [`runner::Runner`] claims due enrollments under leases and runs their steps,
//!   each once. A send step writes a row of `campaign_messages` keyed by (journey, step,
//!   member, enrollment:visit): the campaign dispatcher sends it under the same delivery
//!   rules as a broadcast (consent, quiet hours, caps, unsubscribes).

pub mod consumer;
pub mod dates;
pub mod dto;
mod report;
pub mod runner;
pub mod spec;
pub mod templates;

use memberops_core::error::FieldError;
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_core::{Invalid, id};
use memberops_store::journeys::{J_ACTIVE, J_ARCHIVED, J_DRAFT, J_PAUSED, JourneyRow};
use memberops_store::{Store, StoreError};

pub use dto::*;
pub use report::report;

use crate::error::{AppError, Result};
use crate::lists::Page;
use crate::workspace::Workspace;

fn corrupt(e: serde_json::Error) -> AppError {
    AppError::Store(StoreError::Corrupt(e.to_string()))
}

/// The checks that need the database: saved segments, coupon templates and packs, staff.
async fn check_refs(store: &dyn Store, ws: &Workspace, p: &spec::Parsed) -> Result<()> {
    let mut errs: Vec<FieldError> = Vec::new();
    if let Some(s) = &p.segment_id
        && store.segment(&ws.id, s).await?.is_none()
    {
        errs.push(FieldError::new(
            &["body", "trigger", "segment_id"],
            "unknown_segment",
            "no saved segment has this id",
        ));
    }
    let packs = store.gift_packs(&ws.id).await?;
    for (step, t, pack) in p.coupon_refs() {
        if let Some(t) = t {
            let live = store
                .coupon_template(&ws.id, t)
                .await?
                .is_some_and(|r| r.archived_at.is_none());
            if !live {
                errs.push(FieldError::new(
                    &["body", "steps", step, "template_id"],
                    "unknown_coupon_template",
                    "no live coupon template has this id",
                ));
            }
        }
        if let Some(pk) = pack
            && !packs.iter().any(|g| g.id == pk)
        {
            errs.push(FieldError::new(
                &["body", "steps", step, "pack_id"],
                "unknown_gift_pack",
                "no gift pack has this id",
            ));
        }
    }
    for (step, s) in &p.steps {
        if let spec::Action::Task {
            assignee: Some(a), ..
        } = &s.action
            && store.staff_row(&ws.id, a).await?.is_none()
        {
            errs.push(FieldError::new(
                &["body", "steps", step, "assignee"],
                "unknown_staff",
                "no staff member has this code",
            ));
        }
    }
    errs.sort_by(|a, b| a.loc.cmp(&b.loc));
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errs).into())
    }
}

/// Parses and checks a journey (422 naming the step and field).
pub async fn validate(store: &dyn Store, ws: &Workspace, j: &JourneyIn) -> Result<spec::Parsed> {
    let p = spec::parse(j)?;
    check_refs(store, ws, &p).await?;
    Ok(p)
}

pub(crate) async fn spec_of(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    version: i32,
) -> Result<JourneyIn> {
    let text = store
        .journey_version(&ws.id, id, version)
        .await?
        .ok_or(AppError::NotFound { what: "journey" })?;
    serde_json::from_str(&text).map_err(corrupt)
}

fn out(row: &JourneyRow, j: JourneyIn) -> JourneyOut {
    JourneyOut {
        id: row.id.clone(),
        name: row.name.clone(),
        status: row.status.clone(),
        version: row.version,
        template: row.template.clone(),
        trigger: j.trigger,
        entry: j.entry,
        goal: j.goal,
        start: j.start,
        steps: j.steps,
        experiment: j.experiment,
        created_at: millis_to_rfc3339(row.created_at),
        updated_at: millis_to_rfc3339(row.updated_at),
        activated_at: row.activated_at.map(millis_to_rfc3339),
    }
}

async fn row(store: &dyn Store, ws: &Workspace, id: &str) -> Result<JourneyRow> {
    store
        .journey(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound { what: "journey" })
}

fn trigger_cols(p: &spec::Parsed) -> (String, Option<String>) {
    let event = match &p.trigger {
        spec::Trigger::Event { event_type, .. } => Some(event_type.clone()),
        _ => None,
    };
    (p.trigger.kind().to_owned(), event)
}

/// Creates a draft journey.
pub async fn create(
    store: &dyn Store,
    ws: &Workspace,
    mut j: JourneyIn,
    template: Option<String>,
    now: Millis,
) -> Result<JourneyOut> {
    j.name = j.name.trim().to_owned();
    let p = validate(store, ws, &j).await?;
    let (trigger_kind, trigger_event) = trigger_cols(&p);
    let row = JourneyRow {
        id: id::new_id("jrn"),
        workspace_id: ws.id.clone(),
        name: j.name.clone(),
        status: J_DRAFT.into(),
        version: 1,
        trigger_kind,
        trigger_event,
        template,
        created_at: now,
        updated_at: now,
        activated_at: None,
    };
    let text = serde_json::to_string(&j).map_err(corrupt)?;
    let mut tx = store.begin_write(&ws.id).await?;
    tx.insert_journey(&row, &text).await?;
    tx.commit().await?;
    Ok(out(&row, j))
}

/// Creates a draft from a shipped template.
pub async fn create_from_template(
    store: &dyn Store,
    ws: &Workspace,
    input: FromTemplateIn,
    now: Millis,
) -> Result<JourneyOut> {
    if let Some(e) = templates::missing(&input.template, &input.params) {
        return Err(e.into());
    }
    let mut j = templates::instantiate(&input.template, &input.params)?;
    if let Some(n) = input.name {
        j.name = n;
    }
    create(store, ws, j, Some(input.template), now).await
}

pub async fn list(
    store: &dyn Store,
    ws: &Workspace,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<JourneyOut>> {
    let limit = crate::members::page_limit(limit)?;
    if cursor.is_some_and(|c| !id::is_id("jrn", c)) {
        return Err(crate::lists::invalid_cursor());
    }
    let mut rows = store.journeys_page(&ws.id, cursor, limit + 1).await?;
    let next = crate::members::cut_page(&mut rows, limit, |r| r.id.clone());
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        data.push(out(r, spec_of(store, ws, &r.id, r.version).await?));
    }
    Ok(Page::new(data, next))
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<JourneyOut> {
    let r = row(store, ws, id).await?;
    let j = spec_of(store, ws, id, r.version).await?;
    Ok(out(&r, j))
}

/// Edits a journey. A draft is rewritten in place; an active or paused journey gets a new
/// version that new entries follow (members already in keep theirs); an archived one is
/// refused.
pub async fn patch(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    p: JourneyPatch,
    now: Millis,
) -> Result<JourneyOut> {
    let current = row(store, ws, id).await?;
    if current.status == J_ARCHIVED {
        return Err(AppError::Conflict {
            code: "journey_archived",
            detail: "an archived journey cannot change".into(),
        });
    }
    let mut j = spec_of(store, ws, id, current.version).await?;
    if let Some(n) = p.name {
        j.name = n.trim().to_owned();
    }
    if let Some(t) = p.trigger {
        j.trigger = t;
    }
    if let Some(e) = p.entry {
        j.entry = Some(e);
    }
    if let Some(g) = p.goal {
        j.goal = Some(g);
    }
    if let Some(s) = p.start {
        j.start = s;
    }
    if let Some(s) = p.steps {
        j.steps = s;
    }
    if let Some(e) = p.experiment {
        j.experiment = Some(e);
    }
    let parsed = validate(store, ws, &j).await?;
    let text = serde_json::to_string(&j).map_err(corrupt)?;
    let mut tx = store.begin_write(&ws.id).await?;
    let mut r = tx
        .journey_in_tx(id)
        .await?
        .ok_or(AppError::NotFound { what: "journey" })?;
    if r.status != J_DRAFT {
        r.version += 1;
    }
    let (kind, event) = trigger_cols(&parsed);
    r.name = j.name.clone();
    r.trigger_kind = kind;
    r.trigger_event = event;
    r.updated_at = now;
    tx.put_journey_version(id, r.version, &text, now).await?;
    tx.update_journey(&r).await?;
    tx.commit().await?;
    Ok(out(&r, j))
}

/// `activate`, `pause` or `archive`. Archiving ends the members' journeys and cancels
/// their messages not sent yet.
pub async fn set_state(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    verb: &str,
    now: Millis,
) -> Result<JourneyOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    let mut r = tx
        .journey_in_tx(id)
        .await?
        .ok_or(AppError::NotFound { what: "journey" })?;
    let to = match (verb, r.status.as_str()) {
        (_, J_ARCHIVED) if verb != "archive" => {
            return Err(AppError::Conflict {
                code: "journey_archived",
                detail: "the journey was archived".into(),
            });
        }
        ("activate", _) => J_ACTIVE,
        ("pause", J_ACTIVE | J_PAUSED) => J_PAUSED,
        ("pause", _) => {
            return Err(AppError::Conflict {
                code: "not_active",
                detail: "activate the journey first".into(),
            });
        }
        ("archive", _) => J_ARCHIVED,
        _ => return Err(AppError::NotFound { what: "action" }),
    };
    if to == J_ARCHIVED && r.status != J_ARCHIVED {
        tx.end_enrollments(id, "archived", now).await?;
        tx.cancel_messages(id, now).await?;
    }
    if to != r.status {
        r.status = to.into();
        r.updated_at = now;
        if to == J_ACTIVE && r.activated_at.is_none() {
            r.activated_at = Some(now);
        }
        tx.update_journey(&r).await?;
    }
    tx.commit().await?;
    let j = spec_of(store, ws, id, r.version).await?;
    Ok(out(&r, j))
}

/// Where an error in a step's field points.
pub fn step_loc(step: &str, field: &str) -> Vec<String> {
    ["body", "steps", step, field]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// The messages of journeys' send steps, by the version each member follows: what the
/// campaign dispatcher sends for a journey's message row.
#[derive(Default)]
pub(crate) struct StepMessages {
    specs: std::collections::HashMap<(String, i32), Option<spec::Parsed>>,
}

impl StepMessages {
    /// The message of `row`'s step (its occurrence is `<enrollment>:<visit>`); None when
    /// the journey, its version or the step can no longer be read.
    pub async fn get(
        &mut self,
        store: &dyn Store,
        ws: &Workspace,
        row: &memberops_store::campaigns::MessageRow,
    ) -> Result<Option<memberops_campaigns::spec::Message>> {
        let enrollment = row.occurrence.split(':').next().unwrap_or_default();
        let Some(e) = store.enrollment(&ws.id, enrollment).await? else {
            return Ok(None);
        };
        let key = (e.journey_id.clone(), e.version);
        if !self.specs.contains_key(&key) {
            let parsed = match spec_of(store, ws, &e.journey_id, e.version).await {
                Ok(j) => spec::parse(&j).ok(),
                Err(AppError::NotFound { .. }) => None,
                Err(err) => return Err(err),
            };
            self.specs.insert(key.clone(), parsed);
        }
        let step = self
            .specs
            .get(&key)
            .and_then(|p| p.as_ref())
            .and_then(|p| p.steps.get(&row.step));
        Ok(match step.map(|s| &s.action) {
            Some(spec::Action::Send(m)) => Some((**m).clone()),
            _ => None,
        })
    }
}

/// Whether a message row belongs to a journey (its campaign id is a journey's).
pub(crate) fn is_journey(campaign_id: &str) -> bool {
    id::is_id("jrn", campaign_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_template_parses() {
        for t in templates::all() {
            let params = t
                .params
                .iter()
                .filter(|p| *p != "channel")
                .map(|p| (p.clone(), "x".to_owned()))
                .collect();
            let j = templates::instantiate(&t.key, &params).expect("instantiate");
            if let Err(e) = spec::parse(&j) {
                panic!("{}: {e}", t.key);
            }
        }
    }

    #[test]
    fn a_step_error_names_the_step_and_field() {
        let mut j = templates::instantiate("churn_winback", &Default::default()).expect("t");
        j.steps[0].next = Some("nowhere".into());
        let e = spec::parse(&j).expect_err("refused");
        assert!(
            e.0.iter()
                .any(|f| f.loc == step_loc(&j.steps[0].id, "next") && f.code == "unknown_step")
        );
    }
}
