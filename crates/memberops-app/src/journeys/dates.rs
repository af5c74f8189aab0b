//! Date, points-expiry and schedule triggers, run by the daily job `journey_dates` (the
//! jobs table, under its lease): on the workspace's date D, members enter
//! - `date`: whose birthday (month and day), registration anniversary (a whole number of
//!   years after), or first order falls on D minus `offset_days`;
//! - `points_expiring`: who have points expiring within `within_days` of the run;
//! - `schedule`: everyone, when D is the `day_of_month` (会员日);
//! - `segment_entry` / `segment_exit`: who entered or left `segment_id` since the last run
//!   (the first run takes the baseline and enters nobody);
//!
//! each only within the trigger's `segment_id` when it names one, and entering at the
//! trigger's local time (`at`, default 10:00) in the member's zone. The occurrence is the
//! date, so a second run of the same day enters nobody twice.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use memberops_campaigns::schedule::local_instant;
use memberops_core::time::Millis;
use memberops_store::{IndexSource, Store};
use serde::Serialize;

use super::consumer::{Live, enter, live};
use super::spec::{DateAttr, Trigger};
use crate::error::Result;
use crate::segments::IndexCache;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatesReport {
    pub journeys: usize,
    pub entered: usize,
}

const PAGE: i64 = 5000;

fn local(ms: Millis, tz: Tz) -> Option<NaiveDate> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
}

/// Whether `m` meets a date trigger on `day`.
fn on_date(attr: DateAttr, offset_days: i64, m: &IndexSource, tz: Tz, day: NaiveDate) -> bool {
    let target = day - Duration::days(offset_days);
    match attr {
        DateAttr::Birthday => m
            .birthday
            .as_deref()
            .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok())
            .is_some_and(|b| {
                (b.month(), b.day()) == (target.month(), target.day())
                    // 29 February birthdays on 28 February in common years.
                    || ((b.month(), b.day()) == (2, 29)
                        && (target.month(), target.day()) == (2, 28)
                        && NaiveDate::from_ymd_opt(target.year(), 2, 29).is_none())
            }),
        DateAttr::RegisteredAt => m.registered_at.and_then(|r| local(r, tz)).is_some_and(|r| {
            r.year() < target.year() && (r.month(), r.day()) == (target.month(), target.day())
        }),
        DateAttr::FirstOrderAt => m
            .first_order_at
            .and_then(|f| local(f, tz))
            .is_some_and(|f| f == target),
    }
}

/// Enters the members of every active journey with a date, points or schedule trigger on
/// the workspace's date `day`.
pub async fn enter_due(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    day: NaiveDate,
    now: Millis,
) -> Result<DatesReport> {
    let mut report = DatesReport::default();
    let journeys: Vec<Live> = {
        let mut tx = store.begin_write(&ws.id).await?;
        let l = live(tx.as_mut()).await?;
        drop(tx);
        l.into_iter()
            .filter(|j| !matches!(j.spec.trigger, Trigger::Event { .. }))
            .collect()
    };
    for j in &journeys {
        report.journeys += 1;
        let audience: Option<HashSet<String>> = match &j.spec.segment_id {
            Some(s) => match crate::segments::saved::get(store, ws, s).await {
                Ok((_, node)) => Some(
                    crate::segments::saved::all_members(store, cache, ws, &node, now)
                        .await?
                        .into_iter()
                        .map(|m| m.id)
                        .collect(),
                ),
                // The segment is gone: nobody enters.
                Err(crate::AppError::NotFound { .. }) => Some(HashSet::new()),
                Err(e) => return Err(e),
            },
            None => None,
        };
        if let Trigger::Segment { exit } = j.spec.trigger {
            let now_in = audience.unwrap_or_default();
            report.entered += segment_moves(store, ws, j, &now_in, exit, day, now).await?;
            continue;
        }
        let expiring: Option<HashSet<String>> = match j.spec.trigger {
            Trigger::PointsExpiring { within_days } => Some(
                store
                    .points_expiring(&ws.id, now, now + within_days * 86_400_000)
                    .await?
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(m, _)| m)
                    .collect(),
            ),
            _ => None,
        };
        let mut chosen: Vec<(String, Tz)> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .index_sources(&ws.id, after.as_deref(), None, PAGE)
                .await?;
            for m in &page {
                if audience.as_ref().is_some_and(|a| !a.contains(&m.id)) {
                    continue;
                }
                let tz: Tz = m.time_zone.parse().unwrap_or(ws.time_zone);
                let ok = match &j.spec.trigger {
                    Trigger::Date {
                        attribute,
                        offset_days,
                    } => on_date(*attribute, *offset_days, m, tz, day),
                    Trigger::PointsExpiring { .. } => {
                        expiring.as_ref().is_some_and(|e| e.contains(&m.id))
                    }
                    Trigger::Schedule { day_of_month } => day.day() == *day_of_month,
                    Trigger::Event { .. } | Trigger::Segment { .. } => false,
                };
                if ok {
                    chosen.push((m.id.clone(), tz));
                }
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => after = Some(last.id.clone()),
                _ => break,
            }
        }
        let occurrence = day.format("%Y-%m-%d").to_string();
        for chunk in chosen.chunks(500) {
            let mut tx = store.begin_write(&ws.id).await?;
            for (m, tz) in chunk {
                let at = local_instant(*tz, day.and_time(j.spec.at))
                    .map_or(now, |t| t.timestamp_millis());
                if enter(tx.as_mut(), ws, j, m, &occurrence, at).await? {
                    report.entered += 1;
                }
            }
            tx.commit().await?;
        }
    }
    Ok(report)
}

/// Members who entered (or left) the segment since the last run enter the journey; the
/// first run only takes the baseline. Returns how many entered.
async fn segment_moves(
    store: &dyn Store,
    ws: &Workspace,
    j: &Live,
    now_in: &HashSet<String>,
    exit: bool,
    day: NaiveDate,
    now: Millis,
) -> Result<usize> {
    const BASELINE: &str = "";
    let mut tx = store.begin_write(&ws.id).await?;
    let seen: HashSet<String> = tx.segment_snapshot(&j.row.id).await?.into_iter().collect();
    let came: Vec<String> = now_in.difference(&seen).cloned().collect();
    let left: Vec<String> = seen
        .iter()
        .filter(|m| m.as_str() != BASELINE && !now_in.contains(*m))
        .cloned()
        .collect();
    let mut entered = 0;
    if seen.contains(BASELINE) {
        let movers = if exit { &left } else { &came };
        let zones: std::collections::HashMap<String, String> = store
            .member_zones(&ws.id, movers)
            .await?
            .into_iter()
            .collect();
        let occurrence = day.format("%Y-%m-%d").to_string();
        for m in movers {
            let tz: Tz = zones
                .get(m)
                .and_then(|z| z.parse().ok())
                .unwrap_or(ws.time_zone);
            let at =
                local_instant(tz, day.and_time(j.spec.at)).map_or(now, |t| t.timestamp_millis());
            if enter(tx.as_mut(), ws, j, m, &occurrence, at).await? {
                entered += 1;
            }
        }
    }
    let mut add = came;
    add.push(BASELINE.to_owned());
    tx.change_snapshot(&j.row.id, &add, &left).await?;
    tx.commit().await?;
    Ok(entered)
}
