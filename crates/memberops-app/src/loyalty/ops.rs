//! Operator and member commands on balances: spend and adjust points, top up, spend and
//! refund stored value. Each runs in one write transaction (writers of a workspace are
//! serialised, so the balance read is the balance written against: no double spend) and
//! is idempotent by the client's key: a replay returns the saved answer and writes nothing.

use chrono_tz::Tz;
use memberops_core::time::now_millis;
use memberops_loyalty::points::{Earning, PointsAccount};
use memberops_loyalty::stored_value::SvBalance;
use memberops_store::{AuditRow, LoyaltyMemberRow, RequestRow, Store, StoreError, SvLine, WriteTx};
use serde::{Deserialize, Serialize};

use super::{
    check_key, corrupt, kind_str, line, lot_from_row, lot_to_row, new_state, program_in_tx,
};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// One points ledger line as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointsLineOut {
    pub seq: i64,
    /// `earn`, `spend`, `expire`, `reverse`, `adjust`, `debt`, `settle_debt`.
    pub kind: String,
    pub at: String,
    /// Change to the balance.
    pub points: i64,
    pub lot_id: Option<String>,
    /// The event, idempotency key or job run that caused it.
    pub event_id: String,
    pub rule_id: Option<String>,
    pub order_id: Option<String>,
    pub reason: Option<String>,
}

impl From<memberops_store::PointsLine> for PointsLineOut {
    fn from(l: memberops_store::PointsLine) -> Self {
        PointsLineOut {
            seq: l.seq,
            kind: l.kind,
            at: memberops_core::time::millis_to_rfc3339(l.at),
            points: l.points,
            lot_id: l.lot_id,
            event_id: l.event_id,
            rule_id: l.rule_id,
            order_id: l.order_id,
            reason: l.reason,
        }
    }
}

/// The answer to a points spend or adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointsResult {
    pub idempotency_key: String,
    pub member_id: String,
    /// Points added (adjust) or taken (negative).
    pub points: i64,
    pub balance: i64,
    pub lines: Vec<PointsLineOut>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SvBalanceOut {
    pub principal_minor: i64,
    pub bonus_minor: i64,
    pub total_minor: i64,
}

impl From<SvBalance> for SvBalanceOut {
    fn from(b: SvBalance) -> Self {
        SvBalanceOut {
            principal_minor: b.principal,
            bonus_minor: b.bonus,
            total_minor: b.total(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SvResult {
    pub idempotency_key: String,
    pub member_id: String,
    /// `top_up`, `spend` or `refund`.
    pub kind: String,
    pub principal_delta_minor: i64,
    pub bonus_delta_minor: i64,
    pub balance: SvBalanceOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvOp {
    TopUp,
    Spend,
    Refund,
}

/// The member (by internal or external id) with its zone; 404 when unknown.
pub(crate) async fn resolve(store: &dyn Store, ws: &Workspace, id: &str) -> Result<(String, Tz)> {
    let m = crate::members::get(store, ws, id).await?;
    let tz = m.time_zone.parse::<Tz>().unwrap_or(ws.time_zone);
    Ok((m.id, tz))
}

/// A saved answer, if it is for this request (the same key for another operation or member
/// is refused).
fn decode<T: serde::de::DeserializeOwned>(
    saved: &RequestRow,
    key: &str,
    op: &str,
    member_id: &str,
) -> Result<T> {
    if saved.op != op || saved.member_id != member_id {
        return Err(AppError::Conflict {
            code: "idempotency_key_reused",
            detail: format!("idempotency key `{key}` was used for another request"),
        });
    }
    serde_json::from_str(&saved.response).map_err(|e| corrupt("saved response", e))
}

/// Answers a replay from the saved response (read without the write lock), or opens the
/// transaction. A request racing one with the same key is settled by [`finish`].
pub(super) async fn begin<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    ws: &Workspace,
    key: &str,
    op: &str,
    member_id: &str,
) -> Result<Result<T, Box<dyn WriteTx>>> {
    check_key(key)?;
    if let Some(saved) = store.saved_loyalty_request(&ws.id, key).await? {
        return Ok(Ok(decode(&saved, key, op, member_id)?));
    }
    Ok(Err(store.begin_write(&ws.id).await?))
}

/// Opens the transaction and answers a replay from inside it.
async fn begin_locked<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    ws: &Workspace,
    key: &str,
    op: &str,
    member_id: &str,
) -> Result<Result<T, Box<dyn WriteTx>>> {
    check_key(key)?;
    let mut tx = store.begin_write(&ws.id).await?;
    if let Some(saved) = tx.loyalty_request(key).await? {
        return Ok(Ok(decode(&saved, key, op, member_id)?));
    }
    Ok(Err(tx))
}

/// A refusal inside the transaction, unless a request with the same key committed after the
/// replay check: then its answer is the answer.
pub(super) async fn refused<T: serde::de::DeserializeOwned>(
    tx: &mut dyn WriteTx,
    key: &str,
    op: &str,
    member_id: &str,
    e: AppError,
) -> Result<T> {
    if !matches!(e, AppError::Conflict { .. }) {
        return Err(e);
    }
    match tx.loyalty_request(key).await? {
        Some(saved) => decode(&saved, key, op, member_id),
        None => Err(e),
    }
}

pub(super) async fn state(
    tx: &mut dyn WriteTx,
    program: &memberops_loyalty::Program,
    member_id: &str,
    tz: Tz,
) -> Result<LoyaltyMemberRow> {
    Ok(match tx.loyalty_members(&[member_id]).await?.pop() {
        Some(r) => r,
        None => new_state(program, member_id, tz, now_millis()),
    })
}

/// Saves the answer under the key and commits: `(answer, true)`. If a request with the same
/// key committed first, this one is rolled back and that answer returned: `(saved, false)`.
pub(super) async fn finish<T: Serialize + serde::de::DeserializeOwned>(
    store: &dyn Store,
    ws: &Workspace,
    mut tx: Box<dyn WriteTx>,
    key: &str,
    op: &str,
    member_id: &str,
    out: T,
) -> Result<(T, bool)> {
    let response = serde_json::to_string(&out).map_err(|e| corrupt("response", e))?;
    let saved = tx
        .insert_loyalty_request(&RequestRow {
            key: key.to_owned(),
            op: op.to_owned(),
            member_id: member_id.to_owned(),
            response,
            created_at: now_millis(),
        })
        .await;
    match saved {
        Ok(()) => {
            tx.commit().await?;
            Ok((out, true))
        }
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            let saved = store
                .saved_loyalty_request(&ws.id, key)
                .await?
                .ok_or_else(|| corrupt("idempotency key", "conflict without a saved answer"))?;
            Ok((decode(&saved, key, op, member_id)?, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// Spends points (points mall, checkout): available lots, soonest-expiring first.
/// More than available → 409 `insufficient_points`, nothing written.
pub async fn spend_points(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    points: i64,
    key: &str,
    reason: Option<String>,
) -> Result<PointsResult> {
    let (member_id, tz) = resolve(store, ws, member).await?;
    points_op(
        store,
        ws,
        &member_id,
        tz,
        key,
        "points.spend",
        points,
        reason,
        None,
    )
    .await
    .map(|(r, _)| r)
}

/// An operator's correction, positive or negative; needs a reason; audited.
pub async fn adjust_points(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    points: i64,
    key: &str,
    reason: &str,
    actor: &str,
) -> Result<PointsResult> {
    if reason.trim().is_empty() {
        return Err(memberops_loyalty::LoyaltyError::ReasonRequired.into());
    }
    if points == 0 {
        return Err(memberops_core::Invalid::one(
            &["points"],
            "invalid_amount",
            "points must not be 0",
        )
        .into());
    }
    memberops_core::money::check_bound(points, "points")?;
    let (member_id, tz) = resolve(store, ws, member).await?;
    points_op(
        store,
        ws,
        &member_id,
        tz,
        key,
        "points.adjust",
        points,
        Some(reason.trim().to_owned()),
        Some(actor),
    )
    .await
    .map(|(r, _)| r)
}

/// Points given by the program itself (the birthday gift), inside the caller's
/// transaction: a lot usable at once, an `adjust` line naming the rule `birthday`, audited
/// with `actor`; once per `key` (None when the key was used: given already).
pub(crate) async fn grant_points_in_tx(
    tx: &mut dyn WriteTx,
    member_id: &str,
    tz: Tz,
    points: i64,
    key: &str,
    reason: &str,
    actor: &str,
) -> Result<Option<PointsResult>> {
    const OP: &str = "points.gift";
    check_key(key)?;
    if let Some(saved) = tx.loyalty_request(key).await? {
        decode::<PointsResult>(&saved, key, OP, member_id)?;
        return Ok(None);
    }
    let reason = Some(reason.to_owned());
    let out = points_tx(tx, member_id, tz, key, OP, points, reason, Some(actor)).await?;
    tx.insert_loyalty_request(&RequestRow {
        key: key.to_owned(),
        op: OP.to_owned(),
        member_id: member_id.to_owned(),
        response: serde_json::to_string(&out).map_err(|e| corrupt("response", e))?,
        created_at: now_millis(),
    })
    .await?;
    Ok(Some(out))
}

#[allow(clippy::too_many_arguments)]
async fn points_op(
    store: &dyn Store,
    ws: &Workspace,
    member_id: &str,
    tz: Tz,
    key: &str,
    op: &str,
    points: i64,
    reason: Option<String>,
    actor: Option<&str>,
) -> Result<(PointsResult, bool)> {
    let mut tx = match begin::<PointsResult>(store, ws, key, op, member_id).await? {
        Ok(saved) => return Ok((saved, false)),
        Err(tx) => tx,
    };
    match points_tx(tx.as_mut(), member_id, tz, key, op, points, reason, actor).await {
        Ok(out) => finish(store, ws, tx, key, op, member_id, out).await,
        Err(e) => Ok((refused(tx.as_mut(), key, op, member_id, e).await?, false)),
    }
}

/// The points operation inside its transaction (one short write transaction: the state,
/// the open lots, then the lines, lots and cached balance written back).
#[allow(clippy::too_many_arguments)]
pub(super) async fn points_tx(
    tx: &mut dyn WriteTx,
    member_id: &str,
    tz: Tz,
    key: &str,
    op: &str,
    points: i64,
    reason: Option<String>,
    actor: Option<&str>,
) -> Result<PointsResult> {
    // A spend needs the program only for a member without loyalty state.
    let mut program = None;
    let mut row = match tx.loyalty_members(&[member_id]).await?.pop() {
        Some(r) => r,
        None => {
            let p = program_in_tx(tx).await?;
            let r = new_state(&p, member_id, tz, now_millis());
            program = Some(p);
            r
        }
    };
    let lots = tx.open_lots(&[member_id]).await?;
    let mut account = PointsAccount {
        lots: lots.iter().map(lot_from_row).collect(),
        debt: row.points_debt,
    };
    let now = now_millis();
    let entries = if op == "points.spend" {
        account.spend(points, now, key)?
    } else {
        let program = match program {
            Some(p) => p,
            None => program_in_tx(tx).await?,
        };
        let earning = Earning {
            lot_id: format!("adjust/{key}"),
            points,
            at: now,
            reference: key.to_owned(),
            order_id: None,
        };
        account.adjust(
            &program.points,
            earning,
            reason.as_deref().unwrap_or(""),
            tz,
        )?
    };
    account.apply(&entries)?;
    let lines: Vec<_> = entries
        .iter()
        .map(|e| {
            let rule = (op == "points.gift").then_some("birthday");
            let mut l = line(member_id, e, rule, None, actor);
            if op == "points.spend" {
                l.reason = reason.clone();
            }
            l
        })
        .collect();
    tx.insert_points_lines(&lines).await?;
    let before: std::collections::HashMap<&str, i64> =
        lots.iter().map(|l| (l.id.as_str(), l.remaining)).collect();
    let (mut new_lots, mut changed) = (Vec::new(), Vec::new());
    for l in &account.lots {
        match before.get(l.id.as_str()) {
            None => new_lots.push(lot_to_row(member_id, l)),
            Some(r) if *r != l.remaining => changed.push(lot_to_row(member_id, l)),
            Some(_) => {}
        }
    }
    tx.insert_lots(&new_lots).await?;
    tx.update_lots(&changed).await?;
    let before_balance = row.points_balance;
    row.points_balance = balance_after(row.points_balance, &entries)?;
    let delta = row.points_balance - before_balance;
    row.points_debt = account.debt;
    row.updated_at = now;
    tx.upsert_loyalty_members(std::slice::from_ref(&row))
        .await?;
    if let Some(actor) = actor {
        tx.insert_loyalty_audit(&AuditRow {
            at: now,
            actor: actor.to_owned(),
            action: op.to_owned(),
            member_id: Some(member_id.to_owned()),
            detail: serde_json::json!({"points": points, "reason": reason, "idempotency_key": key})
                .to_string(),
        })
        .await?;
    }
    let out = PointsResult {
        idempotency_key: key.to_owned(),
        member_id: member_id.to_owned(),
        points: delta,
        balance: row.points_balance,
        lines: lines.into_iter().map(PointsLineOut::from).collect(),
    };
    Ok(out)
}

/// Stored value (储值): top-up (with the program's bonus), spend (principal first), refund
/// of unspent principal (forfeiting bonus in proportion).
pub async fn stored_value(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    op: SvOp,
    amount_minor: i64,
    key: &str,
    actor: &str,
) -> Result<SvResult> {
    memberops_core::money::check_bound(amount_minor, "amount_minor")?;
    let (member_id, tz) = resolve(store, ws, member).await?;
    let op_name = match op {
        SvOp::TopUp => "sv.top_up",
        SvOp::Spend => "sv.spend",
        SvOp::Refund => "sv.refund",
    };
    let mut tx = match begin_locked::<SvResult>(store, ws, key, op_name, &member_id).await? {
        Ok(saved) => return Ok(saved),
        Err(tx) => tx,
    };
    let program = program_in_tx(tx.as_mut()).await?;
    let mut row = state(tx.as_mut(), &program, &member_id, tz).await?;
    let mut bal = SvBalance {
        principal: row.sv_principal,
        bonus: row.sv_bonus,
    };
    let now = now_millis();
    let entry = match op {
        SvOp::TopUp => bal.top_up(&program.stored_value, amount_minor, now, key)?,
        SvOp::Spend => bal.spend(amount_minor, now, key)?,
        SvOp::Refund => bal.refund(amount_minor, now, key)?,
    };
    bal.apply(&entry);
    tx.insert_sv_lines(&[SvLine {
        seq: 0,
        member_id: member_id.clone(),
        kind: kind_str(&entry.kind),
        at: now,
        principal_delta: entry.principal_delta,
        bonus_delta: entry.bonus_delta,
        reference: key.to_owned(),
    }])
    .await?;
    row.sv_principal = bal.principal;
    row.sv_bonus = bal.bonus;
    row.updated_at = now;
    tx.upsert_loyalty_members(std::slice::from_ref(&row))
        .await?;
    if op == SvOp::Refund {
        tx.insert_loyalty_audit(&AuditRow {
            at: now,
            actor: actor.to_owned(),
            action: op_name.to_owned(),
            member_id: Some(member_id.clone()),
            detail: serde_json::json!({"amount_minor": amount_minor, "idempotency_key": key})
                .to_string(),
        })
        .await?;
    }
    let out = SvResult {
        idempotency_key: key.to_owned(),
        member_id: member_id.clone(),
        kind: kind_str(&entry.kind),
        principal_delta_minor: entry.principal_delta,
        bonus_delta_minor: entry.bonus_delta,
        balance: bal.into(),
    };
    Ok(finish(store, ws, tx, key, op_name, &member_id, out)
        .await?
        .0)
}

/// Credits points inside the caller's transaction (the other domains' rewards, e.g. a
/// coupon's 满返): a new lot usable at once, one `adjust` ledger line with `reason`, the
/// member's balance updated. `reference` names the lot (`{reference}`) and the ledger
/// line's event; the caller makes it run once (e.g. an order moving to paid). Returns the
/// new balance.
pub(crate) async fn credit_points_in_tx(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    points: i64,
    reference: &str,
    order_id: Option<&str>,
    reason: &str,
) -> Result<i64> {
    let program = program_in_tx(tx).await?;
    let mut row = state(tx, &program, member_id, ws.time_zone).await?;
    let lots = tx.open_lots(&[member_id]).await?;
    let mut account = PointsAccount {
        lots: lots.iter().map(lot_from_row).collect(),
        debt: row.points_debt,
    };
    let now = now_millis();
    let earning = Earning {
        lot_id: reference.to_owned(),
        points,
        at: now,
        reference: reference.to_owned(),
        // Not the order's own lot: a refund's reversal of the order's earned points takes
        // from those first, and this reward is not part of them.
        order_id: None,
    };
    let entries = account.adjust(&program.points, earning, reason, ws.time_zone)?;
    account.apply(&entries)?;
    let lines: Vec<_> = entries
        .iter()
        .map(|e| line(member_id, e, None, order_id, None))
        .collect();
    tx.insert_points_lines(&lines).await?;
    let before: std::collections::HashMap<&str, i64> =
        lots.iter().map(|l| (l.id.as_str(), l.remaining)).collect();
    let (mut new_lots, mut changed) = (Vec::new(), Vec::new());
    for l in &account.lots {
        match before.get(l.id.as_str()) {
            None => new_lots.push(lot_to_row(member_id, l)),
            Some(r) if *r != l.remaining => changed.push(lot_to_row(member_id, l)),
            Some(_) => {}
        }
    }
    tx.insert_lots(&new_lots).await?;
    tx.update_lots(&changed).await?;
    row.points_balance = balance_after(row.points_balance, &entries)?;
    row.points_debt = account.debt;
    row.updated_at = now;
    tx.upsert_loyalty_members(std::slice::from_ref(&row))
        .await?;
    Ok(row.points_balance)
}

/// The balance after these entries, or 422 `balance_overflow` (never a wrapped number).
fn balance_after(balance: i64, entries: &[memberops_loyalty::points::PointsEntry]) -> Result<i64> {
    entries
        .iter()
        .try_fold(balance, |b, e| b.checked_add(e.points))
        .ok_or_else(|| memberops_loyalty::LoyaltyError::BalanceOverflow("points balance").into())
}
