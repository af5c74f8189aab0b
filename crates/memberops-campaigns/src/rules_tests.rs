use chrono::DateTime;
use proptest::prelude::*;

use super::*;

fn ms(s: &str) -> Millis {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .timestamp_millis()
}

fn member(tz: Tz) -> Recipient<'static> {
    Recipient {
        time_zone: tz,
        consent: Some(true),
        unsubscribed: false,
        address: Some("a@example.com"),
    }
}

const SH: Tz = chrono_tz::Asia::Shanghai;
const NY: Tz = chrono_tz::America::New_York;

#[test]
fn quiet_hours_move_a_send_to_the_members_next_morning() {
    let p = Policy::default();
    // 22:30 in Shanghai (14:30 UTC): quiet until 09:00 local, 01:00 UTC next day.
    let now = ms("2026-12-07T14:30:00Z");
    assert_eq!(
        decide(&p, Channel::Email, false, &member(SH), &[], now),
        Decision::Defer {
            reason: HoldReason::QuietHours,
            until: ms("2026-12-08T01:00:00Z"),
        }
    );
    // The same instant is 09:30 in New York: open.
    assert_eq!(
        decide(&p, Channel::Email, false, &member(NY), &[], now),
        Decision::Send
    );
    // Transactional messages are not held by quiet hours.
    assert_eq!(
        decide(&p, Channel::Email, true, &member(SH), &[], now),
        Decision::Send
    );
}

#[test]
fn calls_wait_for_their_window() {
    let p = Policy::default();
    // 09:30 Shanghai: outside quiet hours but before the 11:00 call window.
    let now = ms("2026-12-08T01:30:00Z");
    assert_eq!(
        decide(&p, Channel::Call, false, &member(SH), &[], now),
        Decision::Defer {
            reason: HoldReason::QuietHours,
            until: ms("2026-12-08T03:00:00Z"),
        }
    );
    // 12:30: the next window is 16:00.
    assert_eq!(
        next_open(&p, Channel::Call, SH, ms("2026-12-08T04:30:00Z")),
        ms("2026-12-08T08:00:00Z")
    );
}

#[test]
fn consent_unsubscribe_and_address_hold_for_good() {
    let p = Policy::default();
    let now = ms("2026-12-08T03:00:00Z");
    let mut r = member(SH);
    r.consent = None;
    assert_eq!(
        decide(&p, Channel::Sms, false, &r, &[], now),
        Decision::Hold(HoldReason::NoConsent)
    );
    r.consent = Some(false);
    assert_eq!(
        decide(&p, Channel::Email, true, &r, &[], now),
        Decision::Hold(HoldReason::NoConsent)
    );
    // The inbox needs no consent, only an address (the member).
    assert_eq!(
        decide(&p, Channel::Inapp, false, &r, &[], now),
        Decision::Send
    );
    let mut r = member(SH);
    r.unsubscribed = true;
    assert_eq!(
        decide(&p, Channel::Email, false, &r, &[], now),
        Decision::Hold(HoldReason::Unsubscribed)
    );
    let mut r = member(SH);
    r.address = None;
    assert_eq!(
        decide(&p, Channel::Email, false, &r, &[], now),
        Decision::Hold(HoldReason::NoAddress)
    );
}

#[test]
fn caps_count_marketing_messages_across_channels_in_their_window() {
    let mut p = Policy {
        quiet_hours: None,
        ..Policy::default()
    };
    let now = ms("2026-12-08T03:00:00Z");
    let day = 86_400_000;
    let one = [Sent {
        at: now - day,
        channel: Channel::Sms,
    }];
    let two = [
        one[0],
        Sent {
            at: now - 2 * day,
            channel: Channel::Email,
        },
    ];
    let r = member(SH);
    assert_eq!(
        decide(&p, Channel::Push, false, &r, &one, now),
        Decision::Send
    );
    assert_eq!(
        decide(&p, Channel::Push, false, &r, &two, now),
        Decision::Hold(HoldReason::FrequencyCap)
    );
    // Transactional: exempt.
    assert_eq!(
        decide(&p, Channel::Push, true, &r, &two, now),
        Decision::Send
    );
    // Out of the 7-day window: not counted.
    let old = [Sent {
        at: now - 8 * day,
        channel: Channel::Email,
    }; 5];
    assert_eq!(
        decide(&p, Channel::Push, false, &r, &old, now),
        Decision::Send
    );
    // A per-channel cap counts that channel only.
    p.caps = vec![Cap {
        channel: Some(Channel::Sms),
        max: 1,
        days: 30,
    }];
    assert_eq!(
        decide(&p, Channel::Sms, false, &r, &one, now),
        Decision::Hold(HoldReason::FrequencyCap)
    );
    assert_eq!(
        decide(&p, Channel::Email, false, &r, &one, now),
        Decision::Send
    );
}

#[test]
fn windows_parse_and_wrap_past_midnight() {
    let w = Window::parse("21:00-09:00").expect("window");
    let t = |s| NaiveTime::parse_from_str(s, "%H:%M").expect("time");
    assert!(w.contains(t("23:00")) && w.contains(t("08:59")) && !w.contains(t("09:00")));
    assert_eq!(w.to_string(), "21:00-09:00");
    assert!(Window::parse("09:00-09:00").is_none());
    assert!(Window::parse("25:00-09:00").is_none());
}

fn zones() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        chrono_tz::Asia::Shanghai,
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Sydney,
        chrono_tz::UTC,
        chrono_tz::Asia::Kathmandu,
    ])
}

proptest! {
    /// A held message is moved, not dropped: the next open time is never before now,
    /// within two days, and open in the member's zone.
    #[test]
    fn the_next_open_time_is_open_and_soon(
        now in 1_700_000_000_000i64..1_900_000_000_000i64,
        tz in zones(),
        call in any::<bool>(),
    ) {
        let p = Policy::default();
        let ch = if call { Channel::Call } else { Channel::Sms };
        let at = next_open(&p, ch, tz, now);
        prop_assert!(at >= now);
        prop_assert!(at - now <= 2 * 86_400_000);
        let local = Utc.timestamp_millis_opt(at).single().expect("instant").with_timezone(&tz);
        prop_assert!(open_at(&p, ch, local.time()), "{local} is not open");
        // Nothing earlier in between is open (checked at minute steps).
        let mut t = now;
        while t < at {
            let l = Utc.timestamp_millis_opt(t).single().expect("instant").with_timezone(&tz);
            prop_assert!(!open_at(&p, ch, l.time()), "{l} was open before {local}");
            t += 60_000 * 7;
        }
    }

    /// A cap never lets through more than `max` messages in any window of its length.
    #[test]
    fn a_cap_holds_the_line(offsets in prop::collection::vec(0i64..30 * 86_400_000, 0..40)) {
        let p = Policy { quiet_hours: None, send_windows: vec![], ..Policy::default() };
        let mut sent: Vec<Sent> = Vec::new();
        let mut times = offsets;
        times.sort_unstable();
        for t in times {
            if !capped(&p, Channel::Email, &sent, t) {
                sent.push(Sent { at: t, channel: Channel::Email });
            }
        }
        for s in &sent {
            let n = sent.iter().filter(|x| x.at > s.at - 7 * 86_400_000 && x.at <= s.at).count();
            prop_assert!(n <= 2);
        }
    }
}
