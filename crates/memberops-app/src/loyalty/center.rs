//! The member center (会员中心) as the brand's app shows it, the points statement, and the
//! check-in command.

use memberops_core::event::{CHECKIN, EventIn};
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_loyalty::calendar::local_date;
use memberops_loyalty::points::{PointsAccount, expiring_within};
use memberops_loyalty::program::Privileges;
use memberops_loyalty::{referral, tiers};
use memberops_store::Store;
use serde::{Deserialize, Serialize};

use super::ops::{PointsLineOut, SvBalanceOut, resolve};
use super::{current_program, lot_from_row, new_state};
use crate::error::{AppError, Result};
use crate::ingest::{BatchOptions, RowStatus, apply_batch};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TierOut {
    pub code: String,
    pub name: String,
    pub threshold: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpiringLot {
    pub lot_id: String,
    pub points: i64,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointsOut {
    /// Σ ledger: what the member sees.
    pub balance: i64,
    pub available: i64,
    /// Still in the return window.
    pub pending: i64,
    /// Refund shortfall paid from future points.
    pub debt: i64,
    pub expiring_30d: i64,
    pub expiring_lots: Vec<ExpiringLot>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckinOut {
    pub checked_in_today: bool,
    pub last_date: Option<String>,
    /// Current streak (0 when the last check-in was before yesterday).
    pub streak: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferralOut {
    pub invite_code: String,
    pub invited: i64,
    pub rewarded: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GrowthOut {
    /// Lifetime growth value.
    pub total: i64,
    /// Growth in the review window (what tiers are decided on).
    pub window: i64,
}

/// Everything the member center shows.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoyaltyOut {
    pub member_id: String,
    pub program_version: u32,
    pub tier: TierOut,
    pub tier_since: String,
    pub next_tier: Option<TierOut>,
    /// Growth still needed for the next tier (0 at the top).
    pub growth_needed: i64,
    #[schema(value_type = Object)]
    pub privileges: Privileges,
    pub growth: GrowthOut,
    pub points: PointsOut,
    pub stored_value: SvBalanceOut,
    pub checkin: CheckinOut,
    pub referral: ReferralOut,
    /// The temporary tier the member holds now (体验会员), null when none.
    pub trial: Option<super::trial::TrialOut>,
}

fn tier_out(t: &memberops_loyalty::program::TierDef) -> TierOut {
    TierOut {
        code: t.code.clone(),
        name: t.name.clone(),
        threshold: t.threshold,
    }
}

/// The member's loyalty state at `at` (now, unless given).
pub async fn member_center(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    at: Millis,
) -> Result<LoyaltyOut> {
    let (member_id, tz) = resolve(store, ws, member).await?;
    let program = current_program(store, ws).await?;
    let row = store
        .loyalty_member(&ws.id, &member_id)
        .await?
        .unwrap_or_else(|| new_state(&program, &member_id, tz, at));
    let (idx, tier) = program.tier(&row.tier).or_else(|_| {
        program.tier(
            &program
                .tiers
                .first()
                .map(|t| t.code.clone())
                .unwrap_or_default(),
        )
    })?;
    let day = local_date(at, tz);
    let since = tiers::window_start(&program, at, tz);
    let entries: Vec<tiers::GrowthEntry> = store
        .member_growth_since(&ws.id, &member_id, since)
        .await?
        .into_iter()
        .map(|g| tiers::GrowthEntry {
            at: g.at,
            growth: g.growth,
            reference: g.event_id,
            rule_id: g.rule_id,
        })
        .collect();
    let window = tiers::window_growth(&program, &entries, at, tz);
    let next = program.tiers.get(idx + 1);
    let lots = store.member_open_lots(&ws.id, &member_id).await?;
    let account = PointsAccount {
        lots: lots.iter().map(lot_from_row).collect(),
        debt: row.points_debt,
    };
    let b = account.balance(&program.points, at);
    let (soon, soon_total) = expiring_within(&account.lots, at, 30);
    let last = store.last_checkin(&ws.id, &member_id).await?;
    let today = day.format("%Y-%m-%d").to_string();
    let yesterday = day
        .pred_opt()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let checkin = CheckinOut {
        checked_in_today: last.as_ref().is_some_and(|c| c.local_date == today),
        streak: last
            .as_ref()
            .filter(|c| c.local_date == today || c.local_date == yesterday)
            .map_or(0, |c| c.streak),
        last_date: last.map(|c| c.local_date),
    };
    let code = ensure_invite_code(store, ws, &member_id).await?;
    let stats = store.referral_stats(&ws.id, &member_id).await?;
    let trial = store
        .member_trials(&ws.id, &member_id)
        .await?
        .into_iter()
        .find(|t| t.status == "active" && t.tier == row.tier)
        .map(Into::into);
    Ok(LoyaltyOut {
        member_id: member_id.clone(),
        program_version: program.version,
        tier: tier_out(tier),
        tier_since: millis_to_rfc3339(row.tier_since),
        next_tier: next.map(tier_out),
        growth_needed: next.map_or(0, |t| (t.threshold - window).max(0)),
        privileges: tier.privileges.clone(),
        growth: GrowthOut {
            total: row.growth_total,
            window,
        },
        points: PointsOut {
            balance: row.points_balance,
            available: b.available,
            pending: b.pending,
            debt: row.points_debt,
            expiring_30d: soon_total,
            expiring_lots: soon
                .iter()
                .map(|l| ExpiringLot {
                    lot_id: l.id.clone(),
                    points: l.remaining,
                    expires_at: l.expires_at.map(millis_to_rfc3339).unwrap_or_default(),
                })
                .collect(),
        },
        stored_value: memberops_loyalty::stored_value::SvBalance {
            principal: row.sv_principal,
            bonus: row.sv_bonus,
        }
        .into(),
        checkin,
        referral: ReferralOut {
            invite_code: code,
            invited: stats.invited,
            rewarded: stats.rewarded,
            pending: stats.pending,
        },
        trial,
    })
}

/// The member's invite code, created on first use (members from before loyalty existed, or
/// the rare code collision at registration).
pub async fn ensure_invite_code(
    store: &dyn Store,
    ws: &Workspace,
    member_id: &str,
) -> Result<String> {
    if let Some(c) = store.invite_code_of(&ws.id, member_id).await? {
        return Ok(c);
    }
    let mut tx = store.begin_write(&ws.id).await?;
    for attempt in 0..16 {
        let code = referral::invite_code(member_id, &ws.id, attempt);
        tx.insert_invite_codes(&[(member_id.to_owned(), code.clone())])
            .await?;
        if tx.member_by_invite_code(&code).await?.as_deref() == Some(member_id) {
            tx.commit().await?;
            return Ok(code);
        }
    }
    Err(AppError::Conflict {
        code: "invite_code_unavailable",
        detail: "no free invite code".into(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerPage {
    pub data: Vec<PointsLineOut>,
    /// Pass as `cursor` for older lines; null on the last page.
    pub next_cursor: Option<String>,
    /// The same position as a number, for `before` (kept for older clients).
    pub next_before: Option<i64>,
}

pub async fn points_ledger(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<LedgerPage> {
    let limit = crate::members::page_limit(limit)?;
    let (member_id, _) = resolve(store, ws, member).await?;
    let mut rows = store
        .points_lines(&ws.id, &member_id, before, limit + 1)
        .await?;
    let next_cursor = crate::members::cut_page(&mut rows, limit, |l| l.seq.to_string());
    Ok(LedgerPage {
        data: rows.into_iter().map(PointsLineOut::from).collect(),
        next_before: next_cursor.as_deref().and_then(|c| c.parse().ok()),
        next_cursor,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckinResult {
    /// The member's local day checked in.
    pub date: String,
    pub streak: i64,
    pub event_id: String,
}

/// Today's check-in (member's local day): records a `checkin` event, which the earning rules
/// reward. A second check-in the same day → 409 `already_checked_in`.
pub async fn check_in(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    at: Millis,
) -> Result<CheckinResult> {
    let m = crate::members::get(store, ws, member).await?;
    let tz = m.time_zone.parse::<chrono_tz::Tz>().unwrap_or(ws.time_zone);
    let day = local_date(at, tz).format("%Y-%m-%d").to_string();
    let already =
        |c: &Option<memberops_store::CheckinRow>| c.as_ref().is_some_and(|c| c.local_date == day);
    if already(&store.last_checkin(&ws.id, &m.id).await?) {
        return Err(memberops_loyalty::LoyaltyError::AlreadyCheckedIn(local_date(at, tz)).into());
    }
    let id = format!("checkin:{}:{day}", m.id);
    let event = EventIn {
        id: id.clone(),
        kind: CHECKIN.to_owned(),
        member: m.external_id.clone(),
        occurred_at: Some(millis_to_rfc3339(at)),
        properties: serde_json::Map::new(),
        auto_create: false,
    };
    let report = apply_batch(store, ws, vec![event], BatchOptions { atomic: true }).await?;
    let last = store.last_checkin(&ws.id, &m.id).await?;
    match (report.results.first().map(|r| r.status), last) {
        (Some(RowStatus::Accepted), Some(c)) if c.local_date == day => Ok(CheckinResult {
            date: c.local_date,
            streak: c.streak,
            event_id: id,
        }),
        _ => Err(memberops_loyalty::LoyaltyError::AlreadyCheckedIn(local_date(at, tz)).into()),
    }
}

/// One stored-value ledger line: principal (money paid in) and bonus (the top-up gift)
/// apart, as the ledger keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SvLineOut {
    pub seq: i64,
    /// `top_up`, `spend` or `refund`.
    pub kind: String,
    pub at: String,
    pub principal_delta_minor: i64,
    pub bonus_delta_minor: i64,
    /// Change to the total balance (principal + bonus).
    pub total_delta_minor: i64,
    /// The idempotency key of the request that wrote it.
    pub reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SvLedgerPage {
    pub data: Vec<SvLineOut>,
    /// Pass as `cursor` for older lines; null on the last page.
    pub next_cursor: Option<String>,
    /// The same position as a number, for `before` (kept for older clients).
    pub next_before: Option<i64>,
    /// The balance now (not at the page's end).
    pub balance: SvBalanceOut,
}

/// The stored-value (储值) ledger, newest first.
pub async fn sv_ledger(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<SvLedgerPage> {
    let limit = crate::members::page_limit(limit)?;
    let (member_id, _) = resolve(store, ws, member).await?;
    let mut rows = store
        .sv_lines_page(&ws.id, &member_id, before, limit + 1)
        .await?;
    let next_cursor = crate::members::cut_page(&mut rows, limit, |l| l.seq.to_string());
    let balance = store
        .loyalty_member(&ws.id, &member_id)
        .await?
        .map(|r| SvBalanceOut {
            principal_minor: r.sv_principal,
            bonus_minor: r.sv_bonus,
            total_minor: r.sv_principal + r.sv_bonus,
        })
        .unwrap_or_default();
    Ok(SvLedgerPage {
        data: rows
            .into_iter()
            .map(|l| SvLineOut {
                seq: l.seq,
                kind: l.kind,
                at: millis_to_rfc3339(l.at),
                principal_delta_minor: l.principal_delta,
                bonus_delta_minor: l.bonus_delta,
                total_delta_minor: l.principal_delta + l.bonus_delta,
                reference: l.reference,
            })
            .collect(),
        next_before: next_cursor.as_deref().and_then(|c| c.parse().ok()),
        next_cursor,
        balance,
    })
}
