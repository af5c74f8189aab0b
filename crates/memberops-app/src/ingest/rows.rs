//! A batch as a client sends it: raw JSON rows, each parsed once into an event. A row that
//! does not even have the event shape is rejected on its own, so that one bad row cannot
//! hide the others; in an atomic batch it keeps every row out.

use memberops_core::event::{Event, EventIn};
use memberops_core::time::When;
use memberops_core::{FieldError, Invalid};
use memberops_store::Store;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{BatchOptions, BatchReport, MAX_BATCH, RowResult, RowStatus, apply_batch};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// Applies a client's batch of raw rows (at most [`MAX_BATCH`]) and reports every row at
/// its position in the request.
pub async fn apply_rows(
    store: &dyn Store,
    ws: &Workspace,
    rows: Vec<Box<RawValue>>,
    opts: BatchOptions,
) -> Result<BatchReport> {
    if rows.len() > MAX_BATCH {
        return Err(AppError::TooLarge {
            code: "batch_too_large",
            detail: format!("a batch holds at most {MAX_BATCH} events"),
        });
    }
    let mut indexes = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let mut misshapen: Vec<(usize, String)> = Vec::new();
    for (i, raw) in rows.iter().enumerate() {
        match serde_json::from_str::<EventIn>(raw.get()) {
            Ok(e) => {
                indexes.push(i);
                events.push(e);
            }
            Err(e) => misshapen.push((i, e.to_string())),
        }
    }
    drop(rows);
    let mut report = if opts.atomic && !misshapen.is_empty() {
        // Nothing may land: the shaped rows are skipped without touching the store.
        skipped(&events)
    } else {
        apply_batch(store, ws, events, opts).await?
    };
    for r in &mut report.results {
        r.index = indexes[r.index];
    }
    for (index, msg) in misshapen {
        report.results.push(RowResult {
            index,
            id: String::new(),
            status: RowStatus::Rejected,
            member_id: None,
            error: Some(RowError::with_fields(
                "invalid_shape",
                msg.clone(),
                vec![FieldError::new(&[], "invalid_shape", msg)],
            )),
        });
        report.rejected += 1;
    }
    report.results.sort_by_key(|r| r.index);
    Ok(report)
}

/// Checks every row; the valid ones are returned with their positions.
pub(super) fn validate_rows(
    events: Vec<EventIn>,
    ws: &Workspace,
) -> (Vec<RowResult>, Vec<(usize, Event)>) {
    let now = When::Instant(chrono::Utc::now());
    let mut results: Vec<RowResult> = Vec::with_capacity(events.len());
    let mut valid: Vec<(usize, Event)> = Vec::with_capacity(events.len());
    for (index, e) in events.into_iter().enumerate() {
        let id = e.id.clone();
        match e.validate(now, ws.currency, &ws.calling_code) {
            Ok(ev) => {
                results.push(RowResult {
                    index,
                    id,
                    status: RowStatus::Accepted,
                    member_id: None,
                    error: None,
                });
                valid.push((index, ev));
            }
            Err(err) => results.push(RowResult {
                index,
                id,
                status: RowStatus::Rejected,
                member_id: None,
                error: Some(RowError::invalid(err)),
            }),
        }
    }

    (results, valid)
}

fn skipped(events: &[EventIn]) -> BatchReport {
    BatchReport {
        committed: false,
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        members_created: 0,
        results: events
            .iter()
            .enumerate()
            .map(|(i, e)| RowResult {
                index: i,
                id: e.id.clone(),
                status: RowStatus::Skipped,
                member_id: None,
                error: None,
            })
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Stable machine-readable reason, e.g. `member_not_found`, `invalid_amount`.
    pub code: String,
    /// For people.
    pub detail: String,
    /// Field-level problems, when the row failed validation (the error body's `errors`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// `detail` under its older name, kept for clients written before the one error body.
    pub message: String,
    /// `errors` under its older name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl RowError {
    pub(crate) fn with_fields(code: &str, detail: String, errors: Vec<FieldError>) -> Self {
        RowError {
            code: code.to_owned(),
            message: detail.clone(),
            detail,
            fields: errors.clone(),
            errors,
        }
    }

    pub(super) fn new(code: &str, message: impl Into<String>) -> Self {
        Self::with_fields(code, message.into(), Vec::new())
    }

    pub(super) fn invalid(e: Invalid) -> Self {
        let (code, detail) = (e.code().to_owned(), e.to_string());
        Self::with_fields(&code, detail, e.0)
    }
}
