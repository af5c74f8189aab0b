use serde_json::json;

use super::*;

const H: i64 = 3_600_000;
const D: i64 = 24 * H;
/// 2026-03-01T00:00:00Z.
const MAR1: i64 = 1_772_323_200_000;

fn ev(member: MemberIx, at: i64, steps: u16) -> FunnelEvent {
    FunnelEvent {
        member,
        at,
        seq: 0,
        steps,
    }
}

fn query(within: &str) -> FunnelQuery {
    FunnelQuery {
        steps: parse_steps("member.registered,order.paid,order.paid", Some(within)).expect("steps"),
        from: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
        to: NaiveDate::from_ymd_opt(2026, 3, 31).expect("date"),
    }
}

#[test]
fn steps_parse_with_filters_and_windows() {
    let s = parse_steps(
        "member.registered, order.paid[amount>=100;channel=app],checkin",
        Some("7,3"),
    )
    .expect("parse");
    assert_eq!(s.len(), 3);
    assert_eq!(s[1].event_type, "order.paid");
    assert_eq!(
        s[1].filters,
        vec![
            Filter {
                key: "amount".into(),
                op: Op::Ge,
                value: "100".into()
            },
            Filter {
                key: "channel".into(),
                op: Op::Eq,
                value: "app".into()
            },
        ]
    );
    assert_eq!((s[1].within_days, s[2].within_days), (7, 3));
    assert!(parse_steps("a", None).is_err(), "one step is no funnel");
    assert!(
        parse_steps("a,b[x]", None).is_err(),
        "a filter needs an operator"
    );
    assert!(
        parse_steps("a,b", Some("7,3")).is_err(),
        "one window per later step"
    );
    assert!(parse_steps("a,b", Some("0")).is_err());
    assert_eq!(
        parse_steps("a,b", None).expect("ok")[1].within_days,
        DEFAULT_WITHIN_DAYS
    );
}

#[test]
fn filters_compare_numbers_as_numbers_and_text_as_text() {
    let p = json!({"amount": "120.50", "n": 9, "channel": "app"});
    let f = |t: &str| Filter::parse(t).expect("filter");
    assert!(
        f("amount>=100").passes(&p),
        "120.5 ≥ 100 (not '1' < '2' as text)"
    );
    assert!(f("n<10").passes(&p), "9 < 10 as numbers");
    assert!(f("channel=app").passes(&p));
    assert!(!f("channel!=app").passes(&p));
    assert!(
        f("missing!=x").passes(&p),
        "a missing property is only unequal"
    );
    assert!(!f("missing=x").passes(&p));
    let step = Step::parse("order.paid[amount>200]").expect("step");
    assert!(!step.matches("order.paid", Some(&p)));
    assert!(
        !step.matches("order.paid", None),
        "a filtered step needs properties"
    );
    assert!(
        Step::parse("order.paid")
            .expect("step")
            .matches("order.paid", None)
    );
}

/// Registered in March (Shanghai days), orders after:
/// 1: registered 1 Mar, order on day 10 (in 30), another 40 days later (in 60): all 3 steps;
/// 2: registered 2 Mar, order on day 31 after (out of 30): step 1 only;
/// 3: registered 3 Mar, order 2 days later, the next 70 days after it (out of 60), then
///    one more 5 days later (75 after the first order: still out): steps 1–2;
/// 4: order before registering (not a step after it), registered 4 Mar, then an order 4
///    days later and another the same day: all 3 steps;
/// 5: registered 28 Feb 17:00 UTC = 1 Mar 01:00 in Shanghai: enters in March; no order;
/// 6: registered in April: not in the range.
fn shop() -> Vec<FunnelEvent> {
    vec![
        ev(1, MAR1, 0b001),
        ev(1, MAR1 + 10 * D, 0b110),
        ev(1, MAR1 + 50 * D, 0b110),
        ev(2, MAR1 + D, 0b001),
        ev(2, MAR1 + 32 * D, 0b110),
        ev(3, MAR1 + 2 * D, 0b001),
        ev(3, MAR1 + 4 * D, 0b110),
        ev(3, MAR1 + 74 * D, 0b110),
        ev(3, MAR1 + 79 * D, 0b110),
        ev(4, MAR1 + 2 * D, 0b110),
        ev(4, MAR1 + 3 * D, 0b001),
        ev(4, MAR1 + 7 * D, 0b110),
        ev(4, MAR1 + 7 * D + H, 0b110),
        ev(5, MAR1 - 7 * H, 0b001),
        ev(6, MAR1 + 40 * D, 0b001),
        ev(6, MAR1 + 41 * D, 0b110),
    ]
}

#[test]
fn members_go_as_far_as_each_window_allows() {
    let q = query("30,60");
    let times = reach(&q, chrono_tz::Asia::Shanghai, &mut shop());
    let steps: BTreeMap<MemberIx, usize> = times.iter().map(|(m, t)| (*m, t.len())).collect();
    assert_eq!(
        steps,
        BTreeMap::from([(1, 3), (2, 1), (3, 2), (4, 3), (5, 1)])
    );
    let rows = group_rows(&q, "(all)", times.values());
    type Figures = (u64, Option<f64>, Option<f64>, Option<f64>);
    let got: Vec<Figures> = rows
        .steps
        .iter()
        .map(|r| (r.members, r.conversion, r.step_conversion, r.median_days))
        .collect();
    assert_eq!(
        got,
        vec![
            (5, Some(1.0), None, None),
            // Days to the first order: 10 (1), 2 (3), 4 (4): median 4.
            (3, Some(0.6), Some(0.6), Some(4.0)),
            // Days to the second: 40 (1) and 1 hour (4): mean of the two middle ones.
            (2, Some(0.4), Some(0.666667), Some(20.02)),
        ]
    );
    assert_eq!(
        rows.csv_records()[2].join(","),
        "(all),3,order.paid,2,0.4,0.666667,20.02"
    );
    // With wider windows member 2 (31 days) and 3 (70 days) go further.
    let wide = reach(&query("40,80"), chrono_tz::Asia::Shanghai, &mut shop());
    assert_eq!(wide[&2].len(), 2);
    assert_eq!(wide[&3].len(), 3);
}
