//! The calendar of the simulated market: when people shop (11.11, 6.18, the weeks of
//! Chinese New Year gifting, December, weekends) and at what hour of their own day.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime};
use chrono::{TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::sample::{self, DemoRng};

/// No day weighs more than this in [`shopping_weight`]: the ceiling for thinning.
pub const MAX_WEIGHT: f64 = 8.0;

/// Spring Festival (春节) by year; outside the table, early February is close enough.
const SPRING_FESTIVAL: &[(i32, u32, u32)] = &[
    (2018, 2, 16),
    (2019, 2, 5),
    (2020, 1, 25),
    (2021, 2, 12),
    (2022, 2, 1),
    (2023, 1, 22),
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
    (2031, 1, 23),
    (2032, 2, 11),
    (2033, 1, 31),
    (2034, 2, 19),
    (2035, 2, 8),
];

pub fn spring_festival(year: i32) -> NaiveDate {
    let (m, d) = SPRING_FESTIVAL
        .iter()
        .find(|(y, _, _)| *y == year)
        .map_or((2, 5), |&(_, m, d)| (m, d));
    NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN)
}

/// Days from `d` to the nearest Spring Festival (negative: before it).
pub fn days_to_spring_festival(d: NaiveDate) -> i64 {
    [d.year() - 1, d.year(), d.year() + 1]
        .into_iter()
        .map(|y| (d - spring_festival(y)).num_days())
        .min_by_key(|n| n.abs())
        .unwrap_or(i64::MAX)
}

/// How busy a day is for shopping, relative to an ordinary weekday (≈1).
pub fn shopping_weight(d: NaiveDate) -> f64 {
    let weekly = match d.weekday() {
        Weekday::Mon => 0.88,
        Weekday::Tue | Weekday::Wed => 0.93,
        Weekday::Thu => 0.97,
        Weekday::Fri => 1.05,
        Weekday::Sat => 1.25,
        Weekday::Sun => 1.2,
    };
    let festival = match (d.month(), d.day()) {
        (11, 11) => 6.0,            // 双十一
        (11, 10) | (11, 12) => 2.2, // the eve and the last-chance day
        (11, 1..=9) => 1.5,         // pre-sale (预售) and deposits
        (10, 20..=31) => 1.2,       // warm-up
        (6, 18) => 4.0,             // 6.18
        (6, 1..=17) | (6, 19..=20) => 1.4,
        (12, 12) => 2.5,          // 双十二
        (12, 20..=31) => 1.4,     // Christmas and year-end gifts
        (3, 8) => 1.8,            // 女神节
        (5, 20) | (2, 14) => 1.5, // 520, Valentine's
        (8, 20..=31) => 1.1,      // back to school
        _ => 1.0,
    };
    let spring: f64 = match days_to_spring_festival(d) {
        -25..=-5 => 1.6, // 年货 and gifting
        -4..=6 => 0.55,  // couriers on holiday
        _ => 1.0,
    };
    (weekly * festival * spring).min(MAX_WEIGHT)
}

/// Registrations follow the same calendar, damped: campaigns bring sign-ups too.
pub fn signup_weight(d: NaiveDate) -> f64 {
    1.0 + (shopping_weight(d) - 1.0) * 0.4
}

/// Relative activity by local hour: lunch break and the evening peak after 8 p.m.
const HOURS: [f64; 24] = [
    1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.7, 1.8, 2.8, 3.2, 3.6, 4.2, 5.8, 5.2, 3.9, 3.8, 4.2, 4.8, 5.2,
    6.2, 7.8, 8.4, 7.0, 3.4,
];

/// A local time of day, drawn from the daily rhythm.
pub fn time_of_day(rng: &mut DemoRng) -> NaiveTime {
    let hour = sample::weighted_index(rng, &HOURS) as u32;
    let minute = sample::int(rng, 0, 59) as u32;
    let second = sample::int(rng, 0, 59) as u32;
    NaiveTime::from_hms_opt(hour, minute, second).unwrap_or(NaiveTime::MIN)
}

/// Wall-clock time in `tz` to UTC. In a DST gap take the instant an hour later; in a fold
/// the earlier one.
pub fn local_to_utc(tz: Tz, dt: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&dt) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => match tz.from_local_datetime(&(dt + Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => Utc.from_utc_datetime(&dt),
        },
    }
}

/// A moment on local day `d`, at an hour drawn from the daily rhythm.
pub fn moment_on(rng: &mut DemoRng, tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let t = time_of_day(rng);
    local_to_utc(tz, d.and_time(t))
}

/// The local calendar day of an instant.
pub fn local_day(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// RFC 3339 in the member's own offset, to the second: what a client app would send.
pub fn rfc3339(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn singles_day_is_the_peak_and_spring_festival_is_quiet() {
        let singles = shopping_weight(day(2025, 11, 11));
        let ordinary = shopping_weight(day(2025, 9, 17));
        assert!(singles > 4.0 * ordinary);
        assert!(shopping_weight(day(2025, 1, 30)) < ordinary);
        assert!(shopping_weight(day(2025, 1, 10)) > ordinary);
        let max = (0..800)
            .map(|n| shopping_weight(day(2024, 1, 1) + Duration::days(n)))
            .fold(0.0, f64::max);
        assert!(max <= MAX_WEIGHT);
    }
}
