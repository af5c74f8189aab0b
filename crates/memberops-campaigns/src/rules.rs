//! Delivery rules: whether a message may go to a member now, and if not, why and until
//! when. Checked for every message just before it is sent.
//!
//! - `unsubscribed`, `no_consent`, `no_address`: the member cannot be reached on this
//!   channel; the message is held for good (recorded, never sent).
//! - `quiet_hours`: the member's local time is inside the quiet hours, or outside the
//!   channel's send windows; the message is moved to the next open time, not dropped.
//! - `frequency_cap`: the member already had as many marketing messages as a cap allows
//!   in its window (per channel or across channels); held for good. Transactional
//!   messages are exempt from caps and quiet hours (consent still applies).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::Channel;

/// Why a message was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    NoConsent,
    QuietHours,
    FrequencyCap,
    Unsubscribed,
    NoAddress,
}

impl HoldReason {
    pub const ALL: [HoldReason; 5] = [
        HoldReason::NoConsent,
        HoldReason::QuietHours,
        HoldReason::FrequencyCap,
        HoldReason::Unsubscribed,
        HoldReason::NoAddress,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HoldReason::NoConsent => "no_consent",
            HoldReason::QuietHours => "quiet_hours",
            HoldReason::FrequencyCap => "frequency_cap",
            HoldReason::Unsubscribed => "unsubscribed",
            HoldReason::NoAddress => "no_address",
        }
    }

    pub fn parse(s: &str) -> Option<HoldReason> {
        HoldReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A local time-of-day window `[start, end)`; `start > end` wraps past midnight
/// (21:00–09:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Option<Window> {
        let (a, b) = s.split_once('-')?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
        let w = Window {
            start: t(a)?,
            end: t(b)?,
        };
        (w.start != w.end).then_some(w)
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// At most `max` marketing messages in `days` days, on one channel or (channel None) on
/// all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub channel: Option<Channel>,
    pub max: u32,
    pub days: u32,
}

/// The workspace's delivery rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// No marketing message inside these local hours.
    pub quiet_hours: Option<Window>,
    /// Per channel: marketing messages only inside one of these local windows (calls
    /// 11:00–12:00 and 16:00–17:00). A channel without windows may send any time
    /// outside the quiet hours.
    pub send_windows: Vec<(Channel, Vec<Window>)>,
    pub caps: Vec<Cap>,
}

impl Default for Policy {
    /// No messages 21:00–09:00; calls 11:00–12:00 and 16:00–17:00; at most 2 marketing
    /// messages in 7 days across channels.
    fn default() -> Self {
        let w = |s| Window::parse(s).expect("a valid default window");
        Policy {
            quiet_hours: Some(w("21:00-09:00")),
            send_windows: vec![(Channel::Call, vec![w("11:00-12:00"), w("16:00-17:00")])],
            caps: vec![Cap {
                channel: None,
                max: 2,
                days: 7,
            }],
        }
    }
}

/// What the rules know of the member for this message.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    pub time_zone: Tz,
    /// The profile's consent per channel (absent: not given).
    pub consent: Option<bool>,
    /// Withdrawn through an unsubscribe link.
    pub unsubscribed: bool,
    /// An email, a phone number, or for the inbox and push the member id itself.
    pub address: Option<&'a str>,
}

/// A marketing message sent earlier to the member: when and on which channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub at: Millis,
    pub channel: Channel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Not now: try again at `until` (UTC ms).
    Defer {
        reason: HoldReason,
        until: Millis,
    },
    /// Never: recorded as held.
    Hold(HoldReason),
}

/// Whether a message on `channel` may go to `r` at `now`, given the member's marketing
/// messages already sent (`history`, any order).
pub fn decide(
    policy: &Policy,
    channel: Channel,
    transactional: bool,
    r: &Recipient<'_>,
    history: &[Sent],
    now: Millis,
) -> Decision {
    if r.unsubscribed {
        return Decision::Hold(HoldReason::Unsubscribed);
    }
    // The inbox is the member's own space in the app: it needs no consent.
    if channel != Channel::Inapp && r.consent != Some(true) {
        return Decision::Hold(HoldReason::NoConsent);
    }
    if r.address.is_none_or(|a| a.trim().is_empty()) {
        return Decision::Hold(HoldReason::NoAddress);
    }
    if transactional {
        return Decision::Send;
    }
    let open = next_open(policy, channel, r.time_zone, now);
    if open > now {
        return Decision::Defer {
            reason: HoldReason::QuietHours,
            until: open,
        };
    }
    if capped(policy, channel, history, now) {
        return Decision::Hold(HoldReason::FrequencyCap);
    }
    Decision::Send
}

/// Whether one more marketing message on `channel` at `now` would break a cap.
pub fn capped(policy: &Policy, channel: Channel, history: &[Sent], now: Millis) -> bool {
    policy.caps.iter().any(|cap| {
        if cap.channel.is_some_and(|c| c != channel) {
            return false;
        }
        let since = now - i64::from(cap.days) * 86_400_000;
        let n = history
            .iter()
            .filter(|s| s.at > since && s.at <= now)
            .filter(|s| cap.channel.is_none_or(|c| c == s.channel))
            .count();
        n >= cap.max as usize
    })
}

/// Whether a local time is open for marketing on `channel`.
fn open_at(policy: &Policy, channel: Channel, t: NaiveTime) -> bool {
    if policy.quiet_hours.is_some_and(|q| q.contains(t)) {
        return false;
    }
    match policy.send_windows.iter().find(|(c, _)| *c == channel) {
        Some((_, ws)) if !ws.is_empty() => ws.iter().any(|w| w.contains(t)),
        _ => true,
    }
}

/// The first instant at or after `now` when `channel` is open in zone `tz` (`now` itself
/// when it is open). Open times start at window edges, so only those are tried; two days
/// ahead covers every window and DST change.
pub fn next_open(policy: &Policy, channel: Channel, tz: Tz, now: Millis) -> Millis {
    let Some(now_utc) = Utc.timestamp_millis_opt(now).single() else {
        return now;
    };
    let local = now_utc.with_timezone(&tz);
    if open_at(policy, channel, local.time()) {
        return now;
    }
    let mut edges: Vec<NaiveTime> = Vec::new();
    if let Some(q) = policy.quiet_hours {
        edges.push(q.end);
    }
    for (c, ws) in &policy.send_windows {
        if *c == channel {
            edges.extend(ws.iter().map(|w| w.start));
        }
    }
    let today = local.date_naive();
    let mut best: Option<DateTime<Utc>> = None;
    for day in 0..3 {
        let date = today + Duration::days(day);
        for e in &edges {
            let Some(at) = crate::schedule::local_instant(tz, date.and_time(*e)) else {
                continue;
            };
            if at <= now_utc {
                continue;
            }
            let t = at.with_timezone(&tz).time();
            if open_at(policy, channel, t) && best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        }
    }
    // No edge opens (every hour is quiet for this channel): leave it to the caller.
    best.map_or(now + 86_400_000, |b| {
        b.with_nanosecond(0).unwrap_or(b).timestamp_millis()
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
