//! Birthday gifts (生日礼), a tier privilege: on the member's birthday in the member's own
//! time zone, the points (`birthday_points`) and coupon (`birthday_coupon`) of the tier the
//! member holds. Run by the daily scheduler; once a year per member (the grant's key is
//! `birthday:<year>:<member>`, so any re-run, on the same day or the next, gives nothing
//! more). A run also catches up the day after the birthday, so one missed or late daily run
//! loses no gift. 29 February birthdays are celebrated on 28 February in common years.

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use memberops_core::event::SystemEvent;
use memberops_core::time::Millis;
use memberops_loyalty::calendar::local_date;
use memberops_loyalty::program::TierDef;
use memberops_store::{Store, StoreError, WriteTx};
use serde::Serialize;

use super::current_program;
use super::ops::grant_points_in_tx;
use crate::coupons::issue::IssueOut;
use crate::coupons::{CouponOut, Grant, issue_grants, templates_in_tx};
use crate::error::{AppError, Result};
use crate::system_events::{insert_new, system_event};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BirthdayReport {
    /// Members whose birthday it is (or was yesterday) in their zone.
    pub members: usize,
    /// Points granted by this run (0 for members already given this year's gift).
    pub points: i64,
    /// Birthday coupons of these members (a re-run reports the first issue again).
    pub coupons: usize,
}

/// The day the birthday is celebrated in `year`.
fn celebrated_on(birthday: &str, year: i32) -> Option<NaiveDate> {
    let d = NaiveDate::parse_from_str(birthday, "%Y-%m-%d").ok()?;
    NaiveDate::from_ymd_opt(year, d.month(), d.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, d.month(), 28))
}

/// The year whose birthday `today` celebrates (the birthday itself or the day after), if any.
pub fn gift_year(birthday: &str, today: NaiveDate) -> Option<i32> {
    [today.year(), today.year() - 1].into_iter().find(|&y| {
        celebrated_on(birthday, y)
            .is_some_and(|b| b == today || b.checked_add_days(Days::new(1)) == Some(today))
    })
}

/// Gives today's birthday gifts (as of `now`).
pub async fn birthday_gifts(
    store: &dyn Store,
    ws: &Workspace,
    now: Millis,
) -> Result<BirthdayReport> {
    let mut report = BirthdayReport::default();
    let program = current_program(store, ws).await?;
    if !program.enabled {
        return Ok(report);
    }
    // Zones are at most 14 hours from UTC: every member's local day is within one day of
    // the UTC day, and the catch-up day adds one more before it.
    let utc = local_date(now, Tz::UTC);
    let mut days: Vec<String> = (0..4u64)
        .filter_map(|back| {
            utc.checked_add_days(Days::new(1))?
                .checked_sub_days(Days::new(back))
        })
        .map(|d| d.format("%m-%d").to_string())
        .collect();
    if days.iter().any(|d| d == "02-28" || d == "03-01") {
        days.push("02-29".into());
    }
    let refs: Vec<&str> = days.iter().map(String::as_str).collect();
    for m in store.members_with_birthday(&ws.id, &refs).await? {
        let tz = m.time_zone.parse::<Tz>().unwrap_or(ws.time_zone);
        let Some(year) = gift_year(&m.birthday, local_date(now, tz)) else {
            continue;
        };
        report.members += 1;
        let tier = match store.loyalty_member(&ws.id, &m.member_id).await? {
            Some(row) => row.tier,
            None => program
                .tiers
                .first()
                .map(|t| t.code.clone())
                .unwrap_or_default(),
        };
        let Ok((_, tier)) = program.tier(&tier) else {
            continue;
        };
        let (points, coupons) = give(store, ws, &m.member_id, tz, year, tier, now).await?;
        report.points += points;
        report.coupons += coupons;
    }
    Ok(report)
}

/// One member's gift of `year`, in one transaction: the points, the coupon and the
/// `birthday.gift` event `{"year", "tier", "points", "coupon_ids"}` (id
/// `birthday.gift:{member}:{year}`). Each part is once a year by the key
/// `birthday:<year>:<member>`; the event is written when this call gave something.
/// Returns the points given now and the member's birthday coupons of the year.
async fn give(
    store: &dyn Store,
    ws: &Workspace,
    member_id: &str,
    tz: Tz,
    year: i32,
    tier: &TierDef,
    now: Millis,
) -> Result<(i64, usize)> {
    let p = &tier.privileges;
    if p.birthday_points <= 0 && p.birthday_coupon.is_none() {
        return Ok((0, 0));
    }
    let key = format!("birthday:{year}:{member_id}");
    let mut tx = store.begin_write(&ws.id).await?;
    let mut points = 0;
    if p.birthday_points > 0 {
        let reason = format!("birthday gift {year} ({})", tier.code);
        let given = grant_points_in_tx(
            tx.as_mut(),
            member_id,
            tz,
            p.birthday_points,
            &key,
            &reason,
            "system:birthday",
        )
        .await?;
        points = given.map_or(0, |r| r.points);
    }
    let (coupons, fresh) = match &p.birthday_coupon {
        Some(t) => coupon(tx.as_mut(), ws, member_id, t, &key).await?,
        None => (Vec::new(), false),
    };
    if points > 0 || fresh {
        let kind = SystemEvent::BirthdayGift;
        let id = format!("{}:{member_id}:{year}", kind.as_str());
        let props = serde_json::json!({"year": year, "tier": tier.code, "points": points,
            "coupon_ids": coupons});
        let event = system_event(ws, kind, id, member_id, now, props);
        // Taken: an earlier run gave part of the gift (the coupon could not be issued then).
        let part = coupons.first().cloned().unwrap_or_else(|| "points".into());
        insert_new(tx.as_mut(), vec![event], |e| {
            Some(format!("{}:{part}", e.id))
        })
        .await?;
    }
    tx.commit().await?;
    Ok((points, coupons.len()))
}

/// The birthday coupon of `template`, issued once per key (saved as an issue answer under
/// `issue:<key>`): its ids, and whether this call issued it. A deleted or exhausted
/// template gives nothing and must not block the points.
async fn coupon(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    member_id: &str,
    template: &str,
    key: &str,
) -> Result<(Vec<String>, bool)> {
    let key = format!("issue:{key}");
    let corrupt = |e: serde_json::Error| AppError::from(StoreError::Corrupt(e.to_string()));
    if let Some(saved) = tx.issue_key_result(&key).await? {
        let out: IssueOut = serde_json::from_str(&saved).map_err(corrupt)?;
        return Ok((out.coupons.into_iter().map(|c| c.id).collect(), false));
    }
    let templates = templates_in_tx(tx, &[template]).await?;
    let grants = [Grant {
        template: 0,
        member_id: member_id.to_owned(),
        quantity: 1,
    }];
    let now = memberops_core::time::now_millis();
    let issued = if templates.is_empty() {
        Err(AppError::NotFound {
            what: "coupon template",
        })
    } else {
        issue_grants(tx, ws, &templates, &grants, "issue", now).await
    };
    match issued {
        Ok(rows) => {
            let out = IssueOut {
                issued: rows.len(),
                coupons: rows.iter().map(CouponOut::from).collect(),
            };
            let text = serde_json::to_string(&out).map_err(corrupt)?;
            tx.save_issue_key(&key, &text, now).await?;
            Ok((rows.into_iter().map(|c| c.id).collect(), true))
        }
        // Refused before anything was written: the transaction goes on with the points.
        Err(e @ (AppError::Conflict { .. } | AppError::NotFound { .. })) => {
            tracing::warn!(member = %member_id, %template, error = %e, "birthday coupon not issued");
            Ok((Vec::new(), false))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_birthday_and_the_day_after_give_this_years_gift() {
        assert_eq!(gift_year("1990-05-20", d("2026-05-20")), Some(2026));
        assert_eq!(gift_year("1990-05-20", d("2026-05-21")), Some(2026));
        assert_eq!(gift_year("1990-05-20", d("2026-05-19")), None);
        assert_eq!(gift_year("1990-05-20", d("2026-05-22")), None);
        // 31 December, caught up on 1 January: last year's gift.
        assert_eq!(gift_year("1990-12-31", d("2027-01-01")), Some(2026));
        // 29 February in a common year is celebrated on the 28th.
        assert_eq!(gift_year("2000-02-29", d("2026-02-28")), Some(2026));
        assert_eq!(gift_year("2000-02-29", d("2028-02-29")), Some(2028));
        assert_eq!(gift_year("2000-02-29", d("2028-02-28")), None);
        assert_eq!(gift_year("not a date", d("2026-02-28")), None);
    }
}
