//! When a broadcast reaches each member: now, at one instant, or at a wall-clock time in
//! each member's zone or the brand's (10:00 local: a member in UTC+8 and one in UTC−5 each
//! get it at their own 10:00).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use memberops_core::time::Millis;

/// Whose clock a local send time is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Member,
    Brand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Now,
    At(Millis),
    Local { at: NaiveDateTime, zone: Zone },
}

/// A wall-clock time in `tz` as an instant. In a DST gap the clock jumped forward: the
/// instant an hour later; in a fold, the earlier one.
pub fn local_instant(tz: Tz, dt: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&dt) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => match tz.from_local_datetime(&(dt + Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        },
    }
}

/// When a member in `member_tz` is due; never before `now` (launched late: send now).
pub fn due_at(schedule: Schedule, member_tz: Tz, brand_tz: Tz, now: Millis) -> Millis {
    let at = match schedule {
        Schedule::Now => now,
        Schedule::At(t) => t,
        Schedule::Local { at, zone } => {
            let tz = match zone {
                Zone::Member => member_tz,
                Zone::Brand => brand_tz,
            };
            local_instant(tz, at).map_or(now, |t| t.timestamp_millis())
        }
    };
    at.max(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Millis {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .timestamp_millis()
    }

    #[test]
    fn ten_oclock_in_each_members_own_zone() {
        let at = NaiveDateTime::parse_from_str("2026-12-08T10:00:00", "%Y-%m-%dT%H:%M:%S")
            .expect("time");
        let s = Schedule::Local {
            at,
            zone: Zone::Member,
        };
        let now = ms("2026-12-01T00:00:00Z");
        let shanghai = due_at(s, chrono_tz::Asia::Shanghai, chrono_tz::UTC, now);
        let new_york = due_at(s, chrono_tz::America::New_York, chrono_tz::UTC, now);
        assert_eq!(shanghai, ms("2026-12-08T02:00:00Z"));
        assert_eq!(new_york, ms("2026-12-08T15:00:00Z"));
        // In the brand's zone, everyone at the brand's 10:00.
        let brand = Schedule::Local {
            at,
            zone: Zone::Brand,
        };
        let b = chrono_tz::Asia::Shanghai;
        assert_eq!(
            due_at(brand, chrono_tz::America::New_York, b, now),
            shanghai
        );
    }

    #[test]
    fn a_time_already_past_sends_now_and_a_dst_gap_moves_an_hour() {
        let now = ms("2026-12-10T00:00:00Z");
        assert_eq!(
            due_at(Schedule::At(now - 5), chrono_tz::UTC, chrono_tz::UTC, now),
            now
        );
        // 2026-03-08 02:30 does not exist in New York.
        let gap = NaiveDateTime::parse_from_str("2026-03-08T02:30:00", "%Y-%m-%dT%H:%M:%S")
            .expect("time");
        let t = local_instant(chrono_tz::America::New_York, gap).expect("instant");
        assert_eq!(t.timestamp_millis(), ms("2026-03-08T07:30:00Z"));
    }
}
