//! Loyalty use cases (会员成长体系): earning as events land ([`engine::on_events`]), the
//! program configuration, the member-center reads, points and stored-value operations
//! ([`ops`]) and the expiry and tier-review jobs ([`jobs`]).
//!
//! The rules live in `memberops-loyalty`; this module loads state, calls them and writes
//! the entries they return in one transaction.

pub mod birthday;
pub mod center;
pub mod engine;
pub mod growth;
pub mod jobs;
pub mod makeup;
pub mod ops;
pub mod trial;

use chrono_tz::Tz;
use memberops_core::time::{Millis, now_millis};
use memberops_core::{FieldError, Invalid};
use memberops_loyalty::points::{Lot, PointsEntry};
use memberops_loyalty::{LoyaltyError, Program};
use memberops_store::{AuditRow, LotRow, LoyaltyMemberRow, PointsLine, ProgramRow, Store, WriteTx};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub use engine::on_events;

impl From<LoyaltyError> for AppError {
    fn from(e: LoyaltyError) -> Self {
        match e {
            LoyaltyError::InvalidProgram(inv) => AppError::Invalid(inv),
            LoyaltyError::ReasonRequired => {
                AppError::Invalid(Invalid::one(&["reason"], "required", e.to_string()))
            }
            LoyaltyError::InvalidAmount(_) => {
                AppError::Invalid(Invalid::one(&["amount"], "invalid_amount", e.to_string()))
            }
            LoyaltyError::BalanceOverflow(_) => AppError::Unprocessable {
                code: e.code(),
                detail: e.to_string(),
            },
            other => AppError::Conflict {
                code: other.code(),
                detail: other.to_string(),
            },
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Store(memberops_store::StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_program(row: Option<ProgramRow>) -> Result<Program> {
    match row {
        None => Ok(Program::default()),
        Some(r) => serde_json::from_str(&r.program).map_err(|e| corrupt("loyalty program", e)),
    }
}

/// The program in force (the seed program until an operator saves one).
pub async fn program_in_tx(tx: &mut dyn WriteTx) -> Result<Program> {
    parse_program(tx.loyalty_program().await?)
}

pub async fn current_program(store: &dyn Store, ws: &Workspace) -> Result<Program> {
    parse_program(store.current_loyalty_program(&ws.id).await?)
}

/// Saves `program` as the next version (the version the client sent is ignored), after
/// validating it; records who did it and which sections changed.
pub async fn save_program(
    store: &dyn Store,
    ws: &Workspace,
    mut program: Program,
    actor: &str,
) -> Result<Program> {
    let mut tx = store.begin_write(&ws.id).await?;
    let before = program_in_tx(tx.as_mut()).await?;
    program.version = before.version.saturating_add(1);
    program.validate()?;
    let now = now_millis();
    let json = serde_json::to_value(&program).map_err(|e| corrupt("program", e))?;
    let old = serde_json::to_value(&before).map_err(|e| corrupt("program", e))?;
    let changed: Vec<String> = match (&json, &old) {
        (serde_json::Value::Object(n), serde_json::Value::Object(o)) => n
            .iter()
            .filter(|(k, v)| k.as_str() != "version" && o.get(k.as_str()) != Some(v))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    };
    tx.insert_loyalty_program(&ProgramRow {
        version: i64::from(program.version),
        program: json.to_string(),
        created_at: now,
        created_by: actor.to_owned(),
    })
    .await?;
    tx.insert_loyalty_audit(&AuditRow {
        at: now,
        actor: actor.to_owned(),
        action: "program.updated".into(),
        member_id: None,
        detail: serde_json::json!({"from_version": before.version, "to_version": program.version, "changed": changed})
            .to_string(),
    })
    .await?;
    tx.commit().await?;
    Ok(program)
}

/// A fresh loyalty state: the first tier, nothing earned.
fn new_state(program: &Program, member_id: &str, tz: Tz, at: Millis) -> LoyaltyMemberRow {
    LoyaltyMemberRow {
        member_id: member_id.to_owned(),
        time_zone: tz.name().to_owned(),
        tier: program
            .tiers
            .first()
            .map(|t| t.code.clone())
            .unwrap_or_default(),
        tier_since: at,
        growth_total: 0,
        points_balance: 0,
        points_debt: 0,
        sv_principal: 0,
        sv_bonus: 0,
        updated_at: at,
    }
}

fn lot_from_row(r: &LotRow) -> Lot {
    Lot {
        id: r.id.clone(),
        earned_at: r.earned_at,
        available_at: r.available_at,
        expires_at: r.expires_at,
        original: r.original,
        remaining: r.remaining,
        order_id: r.order_id.clone(),
    }
}

fn lot_to_row(member_id: &str, l: &Lot) -> LotRow {
    LotRow {
        member_id: member_id.to_owned(),
        id: l.id.clone(),
        earned_at: l.earned_at,
        available_at: l.available_at,
        expires_at: l.expires_at,
        original: l.original,
        remaining: l.remaining,
        order_id: l.order_id.clone(),
    }
}

fn kind_str<T: Serialize>(k: &T) -> String {
    match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// A domain entry as a ledger line.
fn line(
    member_id: &str,
    e: &PointsEntry,
    rule_id: Option<&str>,
    order_id: Option<&str>,
    actor: Option<&str>,
) -> PointsLine {
    PointsLine {
        seq: 0,
        member_id: member_id.to_owned(),
        kind: kind_str(&e.kind),
        at: e.at,
        points: e.points,
        lot_id: e.lot_id.clone(),
        lot_delta: e.lot_delta,
        debt_delta: e.debt_delta,
        event_id: e.reference.clone(),
        rule_id: rule_id.map(str::to_owned),
        order_id: order_id.map(str::to_owned),
        reason: e.reason.clone(),
        actor: actor.map(str::to_owned),
    }
}

/// Idempotency keys: 1–200 printable characters.
fn check_key(key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > 200 || key.chars().any(char::is_control) {
        return Err(Invalid(vec![FieldError::new(
            &["idempotency_key"],
            "required",
            "an idempotency_key of 1–200 characters is required",
        )])
        .into());
    }
    Ok(())
}
