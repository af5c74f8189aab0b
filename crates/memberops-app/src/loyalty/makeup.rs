//! Make-up check-in (补签): a missed day within the program's limits, paid for in points,
//! written in one transaction with the spend, once per idempotency key.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::Invalid;
use memberops_core::time::Millis;
use memberops_loyalty::checkin;
use memberops_store::{CheckinRow, Store, WriteTx};
use serde::{Deserialize, Serialize};

use super::ops::{begin, finish, points_tx, refused, resolve};
use super::program_in_tx;
use crate::error::Result;
use crate::workspace::Workspace;

const OP: &str = "checkin.makeup";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MakeupResult {
    pub idempotency_key: String,
    pub member_id: String,
    /// The made-up local day (YYYY-MM-DD, the member's zone).
    pub date: String,
    /// The member's streak now: ending today if checked in today, else yesterday.
    pub streak: i64,
    /// What the make-up cost (the program's `checkin.makeup.cost_points`).
    pub cost_points: i64,
    pub points_balance: i64,
}

/// Makes up the missed `date`. Refusals: 409 `makeup_disabled`, `makeup_out_of_range`
/// (today or further back than the program allows), `makeup_limit_reached` (per local
/// month), `already_checked_in`, `insufficient_points`; nothing is written on a refusal.
pub async fn make_up(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    date: &str,
    key: &str,
    at: Millis,
) -> Result<MakeupResult> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| Invalid::one(&["date"], "invalid_date", "date is a local day, YYYY-MM-DD"))?;
    let (member_id, tz) = resolve(store, ws, member).await?;
    let mut tx = match begin::<MakeupResult>(store, ws, key, OP, &member_id).await? {
        Ok(saved) => return Ok(saved),
        Err(tx) => tx,
    };
    match make_up_tx(tx.as_mut(), &member_id, tz, day, key, at).await {
        Ok(out) => Ok(finish(store, ws, tx, key, OP, &member_id, out).await?.0),
        Err(e) => refused(tx.as_mut(), key, OP, &member_id, e).await,
    }
}

async fn make_up_tx(
    tx: &mut dyn WriteTx,
    member_id: &str,
    tz: Tz,
    day: NaiveDate,
    key: &str,
    at: Millis,
) -> Result<MakeupResult> {
    let program = program_in_tx(tx).await?;
    let month = checkin::month_key(at, tz);
    let before = day.pred_opt().unwrap_or(day);
    let mut days = BTreeSet::new();
    let mut streak_before = 0;
    for r in tx.checkins_from(member_id, &ymd(before)).await? {
        if let Ok(d) = NaiveDate::parse_from_str(&r.local_date, "%Y-%m-%d") {
            if d == before && d != day {
                streak_before = r.streak;
            }
            days.insert(d);
        }
    }
    let made = tx.makeups_in_month(member_id, &month).await?;
    let outcome = checkin::make_up(
        &program.checkin,
        &days,
        u32::try_from(streak_before).unwrap_or(u32::MAX),
        day,
        u32::try_from(made).unwrap_or(u32::MAX),
        at,
        tz,
    )?;
    let points_balance = if outcome.cost_points > 0 {
        let reason = Some(format!("补签 make-up check-in {}", ymd(day)));
        points_tx(
            tx,
            member_id,
            tz,
            key,
            "points.spend",
            outcome.cost_points,
            reason,
            None,
        )
        .await?
        .balance
    } else {
        let rows = tx.loyalty_members(&[member_id]).await?;
        rows.first().map_or(0, |r| r.points_balance)
    };
    let mut mended = outcome.mended.iter().map(|(d, s)| (ymd(*d), i64::from(*s)));
    let (date, streak) = mended.next().unwrap_or((ymd(day), 1));
    let row = CheckinRow {
        member_id: member_id.to_owned(),
        local_date: date.clone(),
        at,
        event_id: format!("{OP}:{key}"),
        streak,
    };
    tx.insert_makeup(&row, &month).await?;
    tx.set_checkin_streaks(member_id, &mended.collect::<Vec<_>>())
        .await?;
    Ok(MakeupResult {
        idempotency_key: key.to_owned(),
        member_id: member_id.to_owned(),
        date,
        streak: i64::from(outcome.streak),
        cost_points: outcome.cost_points,
        points_balance,
    })
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}
