//! Time: instants are UTC (stored as epoch milliseconds); calendar questions (which day
//! was this order, is it the member's birthday) are answered in the member's IANA zone.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::Invalid;

pub type Millis = i64;

/// A point in time as the client wrote it. Text without an offset is wall-clock time in the
/// member's zone, which is only known once the member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Instant(DateTime<Utc>),
    LocalDate(NaiveDate),
    LocalDateTime(NaiveDateTime),
}

impl When {
    /// Accepts RFC 3339 (`2026-05-01T10:00:00+08:00`), `YYYY-MM-DD` and
    /// `YYYY-MM-DD HH:MM[:SS]` (wall clock).
    pub fn parse(text: &str, field: &str) -> Result<When, Invalid> {
        let t = text.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(When::Instant(dt.with_timezone(&Utc)));
        }
        // Day-first and month-first forms (1/2/2011) are ambiguous and refused.
        for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"] {
            if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
                return Ok(When::LocalDate(d));
            }
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y/%m/%d %H:%M:%S",
            "%Y/%m/%d %H:%M",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok(When::LocalDateTime(dt));
            }
        }
        Err(Invalid::one(
            &[field],
            "invalid_time",
            format!("`{text}` is not a time: use RFC 3339, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"),
        ))
    }

    /// The UTC instant and the member's local calendar day.
    pub fn resolve(&self, tz: Tz) -> (Millis, NaiveDate) {
        let utc = match *self {
            When::Instant(dt) => dt,
            When::LocalDate(d) => local_to_utc(tz, d.and_time(NaiveTime::MIN)),
            When::LocalDateTime(dt) => local_to_utc(tz, dt),
        };
        let local = match *self {
            When::LocalDate(d) => d,
            When::LocalDateTime(dt) => dt.date(),
            When::Instant(dt) => dt.with_timezone(&tz).date_naive(),
        };
        (utc.timestamp_millis(), local)
    }
}

/// Wall-clock time in `tz` to UTC. In a DST gap the clock jumped forward: take the instant
/// one hour later; in a fold take the earlier of the two.
fn local_to_utc(tz: Tz, dt: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&dt) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => match tz.from_local_datetime(&(dt + chrono::Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => Utc.from_utc_datetime(&dt),
        },
    }
}

pub fn parse_tz(text: &str) -> Result<Tz, Invalid> {
    text.trim().parse::<Tz>().map_err(|_| {
        Invalid::one(
            &["time_zone"],
            "invalid_time_zone",
            format!("`{text}` is not an IANA time zone such as Asia/Shanghai"),
        )
    })
}

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn millis_to_rfc3339(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms) {
        LocalResult::Single(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        _ => String::new(),
    }
}

pub fn millis_to_datetime(ms: Millis) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Serde for an instant kept as epoch milliseconds and shown as RFC 3339 (docs/api.md:
/// times are RFC 3339 everywhere). Input takes RFC 3339 or, for clients written against
/// the older form, epoch milliseconds.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Millis, millis_to_rfc3339};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&millis_to_rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Millis(Millis),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Millis(ms) => Ok(ms),
            Either::Text(t) => chrono::DateTime::parse_from_rfc3339(t.trim())
                .map(|dt| dt.timestamp_millis())
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`{t}` is not an RFC 3339 time such as 2026-05-01T00:00:00+08:00"
                    ))
                }),
        }
    }

    /// The same for an optional instant.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use super::Millis;

        pub fn serialize<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => super::serialize(ms, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(deserialize_with = "super::deserialize")] Millis);
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Window {
        #[serde(with = "rfc3339")]
        at: Millis,
        #[serde(default, with = "rfc3339::option")]
        until: Option<Millis>,
    }

    #[test]
    fn instants_show_as_rfc3339_and_read_either_form() {
        let w = Window {
            at: 1_777_593_600_000,
            until: None,
        };
        let text = serde_json::to_string(&w).expect("parses");
        assert_eq!(text, r#"{"at":"2026-05-01T00:00:00.000Z","until":null}"#);
        assert_eq!(serde_json::from_str::<Window>(&text).expect("parses"), w);
        let old: Window =
            serde_json::from_str(r#"{"at":1777593600000,"until":"2026-05-02T08:00:00+08:00"}"#)
                .expect("parses");
        assert_eq!(old.at, w.at);
        assert_eq!(old.until, Some(1_777_680_000_000));
        assert!(serde_json::from_str::<Window>(r#"{"at":"May 1st"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Window>(r#"{"at":0}"#)
                .expect("parses")
                .until,
            None
        );
    }

    #[test]
    fn date_only_keeps_the_calendar_day_in_any_zone() {
        let w = When::parse("2011-12-09", "t").expect("date");
        for tz in [
            chrono_tz::America::Los_Angeles,
            chrono_tz::Asia::Shanghai,
            chrono_tz::UTC,
            chrono_tz::Pacific::Kiritimati,
        ] {
            let (_, day) = w.resolve(tz);
            assert_eq!(day.to_string(), "2011-12-09");
        }
        let (ms, _) = w.resolve(chrono_tz::Asia::Shanghai);
        assert_eq!(millis_to_rfc3339(ms), "2011-12-08T16:00:00.000Z");
    }

    #[test]
    fn instants_fall_on_the_members_local_day() {
        let w = When::parse("2026-01-31T20:00:00Z", "t").expect("instant");
        assert_eq!(
            w.resolve(chrono_tz::Asia::Shanghai).1.to_string(),
            "2026-02-01"
        );
        assert_eq!(w.resolve(chrono_tz::UTC).1.to_string(), "2026-01-31");
    }

    #[test]
    fn dst_gap_moves_forward() {
        let w = When::parse("2026-03-08 02:30:00", "t").expect("local");
        let (ms, _) = w.resolve(chrono_tz::America::New_York);
        assert_eq!(millis_to_rfc3339(ms), "2026-03-08T07:30:00.000Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(When::parse("yesterday", "t").is_err());
        assert!(When::parse("2026-13-01", "t").is_err());
        assert!(When::parse("12/1/2010 8:26", "t").is_err());
        assert_eq!(When::parse("19970101", "t"), When::parse("1997-01-01", "t"));
        assert_eq!(
            When::parse("1997/01/01", "t"),
            When::parse("1997-01-01", "t")
        );
        assert!(parse_tz("Mars/Olympus").is_err());
        assert!(parse_tz("Europe/Berlin").is_ok());
    }
}
