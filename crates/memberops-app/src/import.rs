//! CSV imports of members and orders. Rows become events and go through the same batch
//! path as the API, so imports are idempotent: every row gets a deterministic event id,
//! and a re-run (after a crash, or of the same file) only adds what is missing.
//!
//! Files are streamed: memory stays flat whatever the file size.

use std::collections::HashMap;
use std::io::Read;

use memberops_core::event::{EventIn, MEMBER_REGISTERED, ORDER_PAID};
use memberops_core::member::CONSENT_CHANNELS;
use memberops_store::Store;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::ingest::{BatchOptions, RowStatus, apply_batch};
use crate::workspace::Workspace;

/// Events per transaction during imports.
pub const IMPORT_BATCH: usize = 10_000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Events newly applied (order lines merged into one order count once).
    pub applied: u64,
    /// Rows already imported before.
    pub duplicates: u64,
    pub rejected: u64,
    /// Order lines added to the order on the line above (same order_id): part of that
    /// order's event. rows_read = applied + duplicates + rejected + merged_lines.
    pub merged_lines: u64,
    pub members_created: u64,
    /// `(line number, reason)`, line 1 being the header.
    pub rejected_lines: Vec<(u64, String)>,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, why: impl Into<String>) {
        self.rejected += 1;
        if self.rejected_lines.len() < MAX_REPORTED_REJECTS {
            self.rejected_lines.push((line, why.into()));
        }
    }
}

/// Rejected lines listed in a summary; the count goes on past it.
pub const MAX_REPORTED_REJECTS: usize = 10_000;

/// Which import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Members,
    Orders,
}

/// One pending event and the file line it came from.
struct Pending {
    line: u64,
    event: EventIn,
}

/// Imports a CSV stream. `progress` is called after every batch with the summary so far.
pub async fn import_csv<R: Read>(
    store: &dyn Store,
    ws: &Workspace,
    kind: Kind,
    reader: R,
    mut progress: impl FnMut(&ImportSummary),
) -> Result<ImportSummary> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| memberops_core::Invalid::one(&["file"], "invalid_csv", e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let cols = Columns::new(&headers);
    cols.check(kind)?;
    let mut summary = ImportSummary::default();
    let mut pending: Vec<Pending> = Vec::with_capacity(IMPORT_BATCH);
    // Order lines with the same order_id next to each other are one order.
    let mut open_order: Option<(Pending, i64)> = None;
    let mut record = csv::StringRecord::new();
    let mut fingerprint: Option<String> = None;
    loop {
        let line = summary.rows_read + 2;
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                summary.rows_read += 1;
                summary.reject(line, format!("unreadable row: {e}"));
                continue;
            }
        }
        summary.rows_read += 1;
        let fp = fingerprint.get_or_insert_with(|| row_fingerprint(&record));
        let row = Row {
            cols: &cols,
            record: &record,
        };
        match kind {
            Kind::Members => match member_event(&row) {
                Ok(event) => pending.push(Pending { line, event }),
                Err(why) => summary.reject(line, why),
            },
            Kind::Orders => match order_line(&row, ws, fp, line) {
                Ok((event, minor)) => {
                    let order_id = event
                        .properties
                        .get("order_id")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned);
                    let merged = match (&mut open_order, &order_id) {
                        (Some((open, total)), Some(id))
                            if row.get("order_id").is_some()
                                && open
                                    .event
                                    .properties
                                    .get("order_id")
                                    .and_then(|v| v.as_str())
                                    == Some(id) =>
                        {
                            if open.event.member != event.member {
                                summary.reject(
                                    line,
                                    format!("order `{id}` continues with another member_id"),
                                );
                            } else {
                                *total += minor;
                                summary.merged_lines += 1;
                            }
                            true
                        }
                        _ => false,
                    };
                    if !merged {
                        if let Some((open, total)) = open_order.take() {
                            pending.push(close_order(open, total));
                        }
                        open_order = Some((Pending { line, event }, minor));
                    }
                }
                Err(why) => summary.reject(line, why),
            },
        }
        if pending.len() >= IMPORT_BATCH {
            flush(store, ws, &mut pending, &mut summary).await?;
            progress(&summary);
        }
    }
    if let Some((open, total)) = open_order.take() {
        pending.push(close_order(open, total));
    }
    flush(store, ws, &mut pending, &mut summary).await?;
    progress(&summary);
    Ok(summary)
}

fn close_order(mut p: Pending, total: i64) -> Pending {
    p.event.properties.remove("amount");
    p.event
        .properties
        .insert("amount_minor".into(), total.into());
    p
}

async fn flush(
    store: &dyn Store,
    ws: &Workspace,
    pending: &mut Vec<Pending>,
    summary: &mut ImportSummary,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let lines: Vec<u64> = pending.iter().map(|p| p.line).collect();
    let events: Vec<EventIn> = pending.drain(..).map(|p| p.event).collect();
    let report = apply_batch(store, ws, events, BatchOptions::default()).await?;
    summary.members_created += report.members_created as u64;
    for r in report.results {
        match r.status {
            RowStatus::Accepted => summary.applied += 1,
            RowStatus::Duplicate => summary.duplicates += 1,
            RowStatus::Rejected | RowStatus::Skipped => {
                let why = r
                    .error
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or_else(|| "rejected".into());
                summary.reject(lines[r.index], why);
            }
        }
    }
    Ok(())
}

/// Identifies a file by its first data row, so that line-numbered event ids of one file
/// never collide with another file's.
fn row_fingerprint(record: &csv::StringRecord) -> String {
    let mut h = Sha256::new();
    for f in record.iter() {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(&h.finalize()[..6])
}

struct Columns {
    index: HashMap<String, usize>,
    headers: Vec<String>,
}

impl Columns {
    fn new(headers: &[String]) -> Self {
        Columns {
            index: headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.clone(), i))
                .collect(),
            headers: headers.to_vec(),
        }
    }

    fn check(&self, kind: Kind) -> Result<()> {
        let need: &[&[&str]] = match kind {
            Kind::Members => &[&["member_id", "external_id"]],
            Kind::Orders => &[&["member_id"], &["ordered_at"], &["amount"]],
        };
        for alternatives in need {
            if !alternatives.iter().any(|c| self.index.contains_key(*c)) {
                return Err(memberops_core::Invalid::one(
                    &["file"],
                    "missing_column",
                    format!(
                        "the header must have a `{}` column",
                        alternatives.join("` or `")
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}

struct Row<'a> {
    cols: &'a Columns,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.cols
            .index
            .get(name)
            .and_then(|i| self.record.get(*i))
            .filter(|v| !v.is_empty())
    }
}

const MEMBER_FIELDS: &[&str] = &[
    "phone",
    "email",
    "name",
    "gender",
    "birthday",
    "income_band",
    "region",
    "channel",
    "registered_at",
    "time_zone",
];

/// Home store and owning staff member (门店, 导购): registration properties, as from a POS.
const ASSIGNMENT_FIELDS: &[&str] = &["store_code", "staff_code"];

/// Members CSV: `member_id` (or `external_id`), any profile column, `store_code` and
/// `staff_code`, `consent_<channel>`
/// (true/false/1/0/yes/no), `tags` (separated by `|` or `;`); every other column becomes a
/// custom attribute.
fn member_event(row: &Row<'_>) -> Result<EventIn, String> {
    let member = row
        .get("member_id")
        .or_else(|| row.get("external_id"))
        .ok_or("member_id is empty")?
        .to_owned();
    let mut props = serde_json::Map::new();
    let mut consent = serde_json::Map::new();
    let mut attrs = serde_json::Map::new();
    let mut digest = Sha256::new();
    for (i, h) in row.cols.headers.iter().enumerate() {
        let Some(v) = row.record.get(i).filter(|v| !v.is_empty()) else {
            continue;
        };
        digest.update(h.as_bytes());
        digest.update([0x1f]);
        digest.update(v.as_bytes());
        digest.update([0x1e]);
        if h == "member_id" || h == "external_id" {
            continue;
        }
        if MEMBER_FIELDS.contains(&h.as_str()) || ASSIGNMENT_FIELDS.contains(&h.as_str()) {
            props.insert(h.clone(), v.into());
        } else if let Some(ch) = h
            .strip_prefix("consent_")
            .filter(|c| CONSENT_CHANNELS.contains(c))
        {
            let yes = match v.to_lowercase().as_str() {
                "1" | "true" | "yes" | "y" => true,
                "0" | "false" | "no" | "n" => false,
                _ => return Err(format!("{h}: `{v}` is not true/false")),
            };
            consent.insert(ch.to_owned(), yes.into());
        } else if h == "tags" {
            let tags: Vec<serde_json::Value> = v
                .split(['|', ';'])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Into::into)
                .collect();
            props.insert("tags".into(), tags.into());
        } else {
            attrs.insert(h.clone(), v.into());
        }
    }
    if !consent.is_empty() {
        props.insert("consent".into(), consent.into());
    }
    if !attrs.is_empty() {
        props.insert("attributes".into(), attrs.into());
    }
    // The id changes with the row's content: re-importing the same row is a no-op, an
    // edited row updates the profile.
    let id = format!(
        "import:member:{member}:{}",
        hex::encode(&digest.finalize()[..8])
    );
    let occurred_at = row.get("registered_at").map(str::to_owned);
    Ok(EventIn {
        id,
        kind: MEMBER_REGISTERED.into(),
        member,
        occurred_at,
        properties: props,
        auto_create: true,
    })
}

/// Orders CSV: `member_id, order_id (optional), ordered_at, amount, channel (optional)`,
/// plus optional `currency`; other columns are kept as event properties. Returns the
/// event and the line's amount in minor units.
fn order_line(
    row: &Row<'_>,
    ws: &Workspace,
    fingerprint: &str,
    line: u64,
) -> Result<(EventIn, i64), String> {
    let member = row.get("member_id").ok_or("member_id is empty")?.to_owned();
    let ordered_at = row
        .get("ordered_at")
        .ok_or("ordered_at is empty")?
        .to_owned();
    let amount_text = row.get("amount").ok_or("amount is empty")?;
    // Files often carry floating-point noise (15.299999999999999): round to the minor unit.
    let money = memberops_core::Money::parse_major_rounded(amount_text, ws.currency)
        .map_err(|e| e.to_string())?;
    if money.minor < 0 {
        return Err(format!(
            "amount `{amount_text}` is negative (send refunds as order.refunded events)"
        ));
    }
    memberops_core::time::When::parse(&ordered_at, "ordered_at").map_err(|e| e.to_string())?;
    let mut props = serde_json::Map::new();
    for (i, h) in row.cols.headers.iter().enumerate() {
        if matches!(h.as_str(), "member_id" | "ordered_at" | "amount") {
            continue;
        }
        if let Some(v) = row.record.get(i).filter(|v| !v.is_empty()) {
            props.insert(h.clone(), v.into());
        }
    }
    let id = match row.get("order_id") {
        Some(order_id) => format!("order:{order_id}"),
        None => {
            let synthetic = format!("import:{fingerprint}:{line}");
            props.insert("order_id".into(), synthetic.clone().into());
            synthetic
        }
    };
    props.insert("amount".into(), amount_text.into());
    Ok((
        EventIn {
            id,
            kind: ORDER_PAID.into(),
            member,
            occurred_at: Some(ordered_at),
            properties: props,
            auto_create: true,
        },
        money.minor,
    ))
}
