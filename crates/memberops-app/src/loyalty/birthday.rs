//! Birthday gifts (生日礼), a tier privilege: on the member's birthday in the member's own
//! time zone, the points (`birthday_points`) and coupon (`birthday_coupon`) of the tier the
//! member holds. Run by the daily scheduler; once a year per member (the grant's key is
//! `birthday:<year>:<member>`, so any re-run, on the same day or the next, gives nothing
//! more). A run also catches up the day after the birthday, so one missed or late daily run
//! loses no gift. 29 February birthdays are celebrated on 28 February in common years.

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use memberops_core::time::Millis;
use memberops_loyalty::calendar::local_date;
use serde::Serialize;

use super::current_program;
use super::ops::grant_points;
use crate::coupons::issue::{IssueIn, issue};
use crate::error::Result;
use crate::workspace::Workspace;
use memberops_store::Store;

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
        let key = format!("birthday:{year}:{}", m.member_id);
        let p = &tier.privileges;
        if p.birthday_points > 0 {
            let (r, fresh) = grant_points(
                store,
                ws,
                &m.member_id,
                tz,
                p.birthday_points,
                &key,
                &format!("birthday gift {year} ({})", tier.code),
                "system:birthday",
            )
            .await?;
            if fresh {
                report.points += r.points;
            }
        }
        if let Some(template) = &p.birthday_coupon {
            let out = issue(
                store,
                ws,
                IssueIn {
                    template_id: Some(template.clone()),
                    pack_id: None,
                    members: vec![m.external_id.clone()],
                    quantity: 1,
                    idempotency_key: Some(key.clone()),
                },
            )
            .await;
            match out {
                Ok(o) => report.coupons += o.issued,
                // A deleted or exhausted template must not block the points of others.
                Err(e) => {
                    tracing::warn!(member = %m.member_id, %template, error = %e, "birthday coupon not issued")
                }
            }
        }
    }
    Ok(report)
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
