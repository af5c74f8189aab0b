//! A campaign as the API takes it, parsed into domain values with the path of every
//! problem (`["body", "message", "body"]`), so a refused campaign names its field.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use memberops_core::error::{Collector, FieldError};

use crate::Channel;
use crate::schedule::{Schedule, Zone};
use crate::template;

/// Subject and body in one locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub subject: String,
    pub body: String,
}

/// What is sent: a channel, the default variant, and variants per locale (`zh-CN`, `en`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: Channel,
    pub default: Variant,
    pub locales: BTreeMap<String, Variant>,
    /// Transactional messages (a points statement, an order notice) skip quiet hours and
    /// frequency caps; consent still applies.
    pub transactional: bool,
}

impl Message {
    /// The variant for a member's locale: exact (`zh-CN`), then the language (`zh`), then
    /// the default.
    pub fn variant(&self, locale: Option<&str>) -> &Variant {
        let Some(l) = locale else {
            return &self.default;
        };
        if let Some(v) = self.locales.get(l) {
            return v;
        }
        let lang = l.split(['-', '_']).next().unwrap_or(l);
        self.locales
            .iter()
            .find(|(k, _)| k.split(['-', '_']).next() == Some(lang))
            .map_or(&self.default, |(_, v)| v)
    }
}

/// What counts as a conversion: this event type within `within_days` of the send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub event_type: String,
    pub within_days: u32,
}

const LOCALES: &[&str] = &["zh-CN", "zh-TW", "zh", "en", "en-US", "en-GB", "ja", "ko"];

fn err(at: &[&str], code: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(at, code, msg)
}

/// An error at `path` + `leaf`.
fn under(path: &[&str], leaf: &str, code: &str, msg: impl Into<String>) -> FieldError {
    let mut p = path.to_vec();
    p.push(leaf);
    FieldError::new(&p, code, msg)
}

/// Parses a channel name at `at`.
pub fn channel(s: &str, at: &[&str], c: &mut Collector) -> Option<Channel> {
    let ch = Channel::parse(s);
    if ch.is_none() {
        let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        c.push(err(
            at,
            "invalid_channel",
            format!("channel is one of {}", names.join(", ")),
        ));
    }
    ch
}

/// Checks one subject/body pair at `at`; the subject may be empty only off email.
pub fn variant(
    ch: Option<Channel>,
    subject: Option<&str>,
    body: &str,
    at: &[&str],
    c: &mut Collector,
) -> Variant {
    let check = |leaf: &str, src: &str, c: &mut Collector| {
        if let Err(e) = template::check(src) {
            c.push(under(at, leaf, "invalid_template", e.msg));
        }
    };
    if ch == Some(Channel::Email) && subject.is_none_or(|s| s.trim().is_empty()) {
        c.push(under(at, "subject", "required", "an email needs a subject"));
    }
    if body.trim().is_empty() {
        c.push(under(at, "body", "required", "the body is empty"));
    }
    if let Some(s) = subject {
        check("subject", s, c);
    }
    check("body", body, c);
    Variant {
        subject: subject.unwrap_or_default().to_owned(),
        body: body.to_owned(),
    }
}

/// Checks a locale name at `at`.
pub fn locale(l: &str, at: &[&str], c: &mut Collector) {
    if !LOCALES.contains(&l) {
        c.push(err(
            at,
            "invalid_locale",
            format!("locales are {}", LOCALES.join(", ")),
        ));
    }
}

/// A schedule: none (send at launch), `at` (RFC 3339 instant), or `local_at`
/// (`YYYY-MM-DDTHH:MM[:SS]` wall-clock) with `zone` `member` (default) or `brand`.
pub fn schedule(
    at: Option<&str>,
    local_at: Option<&str>,
    zone: Option<&str>,
    path: &[&str],
    c: &mut Collector,
) -> Schedule {
    let mut push = |leaf: &str, code: &str, msg: &str| c.push(under(path, leaf, code, msg));
    match (at, local_at) {
        (Some(_), Some(_)) => {
            push("local_at", "conflict", "give `at` or `local_at`, not both");
            Schedule::Now
        }
        (Some(a), None) => match chrono::DateTime::parse_from_rfc3339(a) {
            Ok(t) => Schedule::At(t.timestamp_millis()),
            Err(_) => {
                push("at", "invalid_time", "an RFC 3339 time with its offset");
                Schedule::Now
            }
        },
        (None, Some(l)) => {
            let parsed = NaiveDateTime::parse_from_str(l, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(l, "%Y-%m-%dT%H:%M"));
            let zone = match zone.unwrap_or("member") {
                "member" => Zone::Member,
                "brand" => Zone::Brand,
                _ => {
                    push("zone", "invalid_zone", "zone is `member` or `brand`");
                    Zone::Member
                }
            };
            match parsed {
                Ok(at) => Schedule::Local { at, zone },
                Err(_) => {
                    push(
                        "local_at",
                        "invalid_time",
                        "a wall-clock time YYYY-MM-DDTHH:MM, without offset",
                    );
                    Schedule::Now
                }
            }
        }
        (None, None) => {
            if zone.is_some() {
                push("zone", "conflict", "`zone` goes with `local_at`");
            }
            Schedule::Now
        }
    }
}

/// A goal: an event type and a window of 1–90 days.
pub fn goal(event_type: &str, within_days: i64, path: &[&str], c: &mut Collector) -> Goal {
    if event_type.trim().is_empty() {
        c.push(under(
            path,
            "event_type",
            "required",
            "the goal's event type",
        ));
    }
    if !(1..=90).contains(&within_days) {
        c.push(under(
            path,
            "within_days",
            "out_of_range",
            "within_days is 1–90",
        ));
    }
    Goal {
        event_type: event_type.trim().to_owned(),
        within_days: u32::try_from(within_days.clamp(1, 90)).unwrap_or(7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_template_is_named_by_its_path() {
        let mut c = Collector::default();
        variant(
            Some(Channel::Email),
            Some("Hi"),
            "Hello {{ member.name ",
            &["body", "message"],
            &mut c,
        );
        let e = c.finish().expect_err("refused");
        assert_eq!(e.0[0].loc, vec!["body", "message", "body"]);
        assert_eq!(e.0[0].code, "invalid_template");
    }

    #[test]
    fn an_email_needs_a_subject_and_a_locale_falls_back_to_its_language() {
        let mut c = Collector::default();
        variant(
            Some(Channel::Email),
            None,
            "x",
            &["body", "message"],
            &mut c,
        );
        assert_eq!(c.finish().expect_err("refused").0[0].code, "required");
        let v = |s: &str| Variant {
            subject: s.into(),
            body: s.into(),
        };
        let m = Message {
            channel: Channel::Email,
            default: v("默认"),
            locales: BTreeMap::from([("en".to_owned(), v("hello"))]),
            transactional: false,
        };
        assert_eq!(m.variant(Some("en-US")).body, "hello");
        assert_eq!(m.variant(Some("zh-CN")).body, "默认");
        assert_eq!(m.variant(None).body, "默认");
    }

    #[test]
    fn schedules_parse_with_their_paths() {
        let mut c = Collector::default();
        let s = schedule(
            None,
            Some("2026-12-08T10:00"),
            None,
            &["body", "schedule"],
            &mut c,
        );
        assert!(matches!(
            s,
            Schedule::Local {
                zone: Zone::Member,
                ..
            }
        ));
        schedule(Some("yesterday"), None, None, &["body", "schedule"], &mut c);
        let e = c.finish().expect_err("refused");
        assert_eq!(e.0[0].loc, vec!["body", "schedule", "at"]);
    }
}
