//! Daily check-in (签到): one per member per local calendar day, streaks, streak rewards and
//! optional make-up check-ins (补签).
//!
//! The base reward of a check-in is not here: the caller records a `checkin` event and the
//! earning rules (`rules::evaluate`) award it, so caps and campaigns apply to it like to any
//! other behaviour. This module decides whether the check-in is allowed, the streak, and
//! the extra streak rewards.
//!
//! The caller passes the member's checked-in local days. Streaks are counted from that set,
//! so it must reach back at least as far as the current streak (or the streak cycle, when
//! the program has one: then only the position in the cycle matters).

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use memberops_core::FieldError;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::calendar::local_date;
use crate::error::LoyaltyError;
use crate::program::Program;
use crate::rules::Award;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckinPolicy {
    /// Extra rewards on reaching a streak day (e.g. day 7).
    pub streak_rewards: Vec<StreakReward>,
    /// Streaks count in cycles of this many days (day 8 counts as day 1 of the next
    /// week); `None` = no cycle, each streak day rewarded once per streak.
    pub cycle_days: Option<u32>,
    pub makeup: Option<MakeupPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreakReward {
    pub day: u32,
    pub growth: i64,
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MakeupPolicy {
    /// Make-ups allowed per local calendar month (the month the make-up is done in).
    pub max_per_month: u32,
    /// Points the make-up costs; the caller spends them with `PointsAccount::spend`.
    pub cost_points: i64,
    /// Only days within this many days before today.
    pub max_days_back: u32,
}

impl Default for CheckinPolicy {
    fn default() -> Self {
        Self {
            streak_rewards: vec![
                StreakReward {
                    day: 3,
                    growth: 0,
                    points: 5,
                },
                StreakReward {
                    day: 7,
                    growth: 20,
                    points: 20,
                },
            ],
            cycle_days: Some(7),
            makeup: Some(MakeupPolicy {
                max_per_month: 2,
                cost_points: 10,
                max_days_back: 7,
            }),
        }
    }
}

impl CheckinPolicy {
    pub(crate) fn check(&self, errs: &mut Vec<FieldError>) {
        let mut seen = BTreeSet::new();
        for (i, r) in self.streak_rewards.iter().enumerate() {
            let bad_cycle = self.cycle_days.is_some_and(|c| r.day > c);
            if r.day == 0 || !seen.insert(r.day) || bad_cycle || r.growth < 0 || r.points < 0 {
                errs.push(FieldError::new(
                    &["checkin", "streak_rewards", &i.to_string()],
                    "out_of_range",
                    "streak days are unique, 1..=cycle_days, with non-negative rewards",
                ));
            }
        }
        if self.cycle_days == Some(0) {
            errs.push(FieldError::new(
                &["checkin", "cycle_days"],
                "out_of_range",
                "cycle_days is at least 1",
            ));
        }
        if let Some(m) = &self.makeup
            && (m.cost_points < 0 || m.max_days_back == 0)
        {
            errs.push(FieldError::new(
                &["checkin", "makeup"],
                "out_of_range",
                "make-up cost cannot be negative and max_days_back is at least 1",
            ));
        }
    }
}

/// Consecutive checked-in days ending on `day` (0 if `day` is not checked in).
pub fn streak_ending(days: &BTreeSet<NaiveDate>, day: NaiveDate) -> u32 {
    let mut n = 0;
    let mut d = day;
    while days.contains(&d) {
        n += 1;
        match d.pred_opt() {
            Some(p) => d = p,
            None => break,
        }
    }
    n
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinOutcome {
    /// The member's local day checked in; the caller adds it to the history.
    pub day: NaiveDate,
    pub streak: u32,
    /// Streak rewards (rule id `checkin.streak.<day>`), usually empty.
    pub awards: Vec<Award>,
}

/// Today's check-in. `event_id` is the check-in event the awards point back to.
pub fn check_in(
    program: &Program,
    days: &BTreeSet<NaiveDate>,
    event_id: &str,
    at: Millis,
    tz: Tz,
) -> Result<CheckinOutcome, LoyaltyError> {
    let today = local_date(at, tz);
    if days.contains(&today) {
        return Err(LoyaltyError::AlreadyCheckedIn(today));
    }
    let streak = today
        .pred_opt()
        .map_or(0, |y| streak_ending(days, y))
        .saturating_add(1);
    let awards = streak_awards(program, streak, event_id);
    Ok(CheckinOutcome {
        day: today,
        streak,
        awards,
    })
}

/// The streak a check-in on `today` gives, knowing only the member's latest check-in day
/// and its streak (what storage keeps). `None` when `today` is already checked in.
pub fn streak_after(last: Option<(NaiveDate, u32)>, today: NaiveDate) -> Option<u32> {
    match last {
        Some((d, _)) if d == today => None,
        Some((d, n)) if today.pred_opt() == Some(d) => Some(n.saturating_add(1)),
        _ => Some(1),
    }
}

/// The streak rewards due on reaching streak day `streak` (position in the cycle).
pub fn streak_awards(program: &Program, streak: u32, event_id: &str) -> Vec<Award> {
    let policy = &program.checkin;
    let position = match policy.cycle_days {
        Some(c) if c > 0 => (streak.max(1) - 1) % c + 1,
        _ => streak,
    };
    policy
        .streak_rewards
        .iter()
        .filter(|r| r.day == position && (r.growth > 0 || r.points > 0))
        .map(|r| Award {
            rule_id: format!("checkin.streak.{}", r.day),
            event_id: event_id.to_owned(),
            program_version: program.version,
            growth: r.growth,
            points: r.points,
            capped: false,
            trial: None,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakeupOutcome {
    pub day: NaiveDate,
    pub cost_points: i64,
    /// The streak the member now has: ending today if checked in today, else yesterday.
    pub streak: u32,
    /// The new streak of the made-up day and of each checked-in day that follows it without
    /// a gap: the caller stores the first and rewrites the others.
    pub mended: Vec<(NaiveDate, u32)>,
}

/// A make-up check-in for a missed past `day`. It only mends the streak: it earns no base
/// reward and pays no streak reward (those belong to real check-ins), so buying make-ups
/// cannot be a way to buy points.
///
/// `days` holds every checked-in day from `day` to today (earlier ones may be there too);
/// `streak_before` is the stored streak of the day before `day` (0 if it was missed), so the
/// caller never loads a member's whole history.
pub fn make_up(
    policy: &CheckinPolicy,
    days: &BTreeSet<NaiveDate>,
    streak_before: u32,
    day: NaiveDate,
    makeups_this_month: u32,
    at: Millis,
    tz: Tz,
) -> Result<MakeupOutcome, LoyaltyError> {
    let m = policy.makeup.as_ref().ok_or(LoyaltyError::MakeupDisabled)?;
    let today = local_date(at, tz);
    let back = today.signed_duration_since(day).num_days();
    if back < 1 || back > i64::from(m.max_days_back) {
        return Err(LoyaltyError::MakeupOutOfRange {
            max_days_back: m.max_days_back,
        });
    }
    if days.contains(&day) {
        return Err(LoyaltyError::AlreadyCheckedIn(day));
    }
    if makeups_this_month >= m.max_per_month {
        return Err(LoyaltyError::MakeupLimitReached {
            limit: m.max_per_month,
        });
    }
    let mut mended = vec![(day, streak_before.saturating_add(1))];
    let mut next = day.succ_opt();
    while let (Some(d), Some(&(_, s))) = (next, mended.last()) {
        if !days.contains(&d) {
            break;
        }
        mended.push((d, s.saturating_add(1)));
        next = d.succ_opt();
    }
    let mut after = days.clone();
    after.insert(day);
    let end = if after.contains(&today) {
        Some(today)
    } else {
        today.pred_opt()
    };
    // A run that reaches the made-up day was mended; any later run lies wholly in `days`.
    let streak = end.map_or(0, |e| {
        mended
            .iter()
            .find(|(d, _)| *d == e)
            .map_or_else(|| streak_ending(&after, e), |(_, s)| *s)
    });
    Ok(MakeupOutcome {
        day,
        cost_points: m.cost_points,
        streak,
        mended,
    })
}

/// The local month key (`2026-05`) a make-up counts against, for the caller's counter.
pub fn month_key(at: Millis, tz: Tz) -> String {
    let d = local_date(at, tz);
    format!("{:04}-{:02}", d.year(), d.month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).expect("date")
    }

    fn at_local(m: u32, day: u32, h: u32) -> Millis {
        SH.with_ymd_and_hms(2026, m, day, h, 0, 0)
            .single()
            .expect("valid")
            .timestamp_millis()
    }

    #[test]
    fn one_check_in_per_local_day() {
        let p = Program::default();
        let mut days = BTreeSet::new();
        // 23:30 local on May 1 is 15:30 UTC; 00:30 local May 2 is still May 1 in UTC.
        let o = check_in(&p, &days, "c1", at_local(5, 1, 23), SH).expect("first");
        assert_eq!((o.day, o.streak), (d(5, 1), 1));
        days.insert(o.day);
        assert_eq!(
            check_in(&p, &days, "c2", at_local(5, 1, 23) + 1_000, SH).map_err(|e| e.code()),
            Err("already_checked_in")
        );
        let o = check_in(&p, &days, "c3", at_local(5, 2, 0), SH).expect("next local day");
        assert_eq!((o.day, o.streak), (d(5, 2), 2));
    }

    #[test]
    fn streak_rewards_follow_the_cycle() {
        let p = Program::default();
        let days: BTreeSet<_> = (1..=6).map(|i| d(5, i)).collect();
        let o = check_in(&p, &days, "c7", at_local(5, 7, 9), SH).expect("day 7");
        assert_eq!(o.streak, 7);
        assert_eq!(o.awards.len(), 1);
        assert_eq!(
            (
                o.awards[0].rule_id.as_str(),
                o.awards[0].points,
                o.awards[0].event_id.as_str()
            ),
            ("checkin.streak.7", 20, "c7")
        );
        let days: BTreeSet<_> = (1..=9).map(|i| d(5, i)).collect();
        let o = check_in(&p, &days, "c10", at_local(5, 10, 9), SH).expect("day 10");
        assert_eq!(
            (o.streak, o.awards[0].rule_id.as_str()),
            (10, "checkin.streak.3")
        );
        // A gap resets the streak.
        let days: BTreeSet<_> = [d(5, 1), d(5, 2)].into();
        let o = check_in(&p, &days, "c", at_local(5, 4, 9), SH).expect("after gap");
        assert_eq!((o.streak, o.awards.len()), (1, 0));
    }

    #[test]
    fn make_up_mends_the_streak_within_limits() {
        let p = Program::default();
        let days: BTreeSet<_> = [d(5, 1), d(5, 2), d(5, 4), d(5, 5)].into();
        let now = at_local(5, 5, 20);
        let o = make_up(&p.checkin, &days, 2, d(5, 3), 0, now, SH).expect("make up");
        assert_eq!((o.streak, o.cost_points), (5, 10));
        assert_eq!(o.mended, vec![(d(5, 3), 3), (d(5, 4), 4), (d(5, 5), 5)]);
        // A streak stored before the loaded days carries on; a later run keeps its own count.
        let o = make_up(&p.checkin, &[d(5, 5)].into(), 9, d(5, 3), 0, now, SH).expect("gap");
        assert_eq!((o.mended, o.streak), (vec![(d(5, 3), 10)], 1));
        let code = |r: Result<MakeupOutcome, LoyaltyError>| r.map_err(|e| e.code());
        assert_eq!(
            code(make_up(&p.checkin, &days, 2, d(5, 3), 2, now, SH)),
            Err("makeup_limit_reached")
        );
        assert_eq!(
            code(make_up(&p.checkin, &days, 2, d(5, 5), 0, now, SH)),
            Err("makeup_out_of_range")
        );
        assert_eq!(
            code(make_up(&p.checkin, &days, 2, d(4, 27), 0, now, SH)),
            Err("makeup_out_of_range")
        );
        assert_eq!(
            code(make_up(&p.checkin, &days, 2, d(5, 2), 0, now, SH)),
            Err("already_checked_in")
        );
        let off = CheckinPolicy {
            makeup: None,
            ..CheckinPolicy::default()
        };
        assert_eq!(
            code(make_up(&off, &days, 2, d(5, 3), 0, now, SH)),
            Err("makeup_disabled")
        );
        assert_eq!(month_key(now, SH), "2026-05");
    }
}
