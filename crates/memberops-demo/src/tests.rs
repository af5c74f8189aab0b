use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use memberops_core::Currency;
use memberops_core::event::{Effect, Event};
use memberops_core::time::When;

use super::*;

fn cfg(members: usize, seed: u64) -> DemoConfig {
    DemoConfig {
        members,
        seed,
        today: NaiveDate::from_ymd_opt(2026, 3, 15).expect("date"),
    }
}

fn at(e: &EventIn) -> DateTime<Utc> {
    let t = e
        .occurred_at
        .as_deref()
        .expect("every event carries its time");
    DateTime::parse_from_rfc3339(t)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn validated(members: &[Vec<EventIn>]) -> Vec<Vec<Event>> {
    let now = When::Instant(Utc::now());
    members
        .iter()
        .map(|m| {
            m.iter()
                .map(|e| {
                    e.clone()
                        .validate(now, Currency::CNY, "86")
                        .unwrap_or_else(|err| panic!("{e:?} is invalid: {err:?}"))
                })
                .collect()
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_and_other_seed_other_data() {
    let a = serde_json::to_string(&generate(&cfg(150, 7)).collect::<Vec<_>>()).expect("json");
    let b = serde_json::to_string(&generate(&cfg(150, 7)).collect::<Vec<_>>()).expect("json");
    let c = serde_json::to_string(&generate(&cfg(150, 8)).collect::<Vec<_>>()).expect("json");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_member_does_not_depend_on_how_many_are_generated() {
    let few: Vec<_> = generate(&cfg(20, 3)).collect();
    let many: Vec<_> = generate(&cfg(300, 3)).collect();
    for (x, y) in few.iter().zip(&many) {
        assert_eq!(
            serde_json::to_string(x).expect("json"),
            serde_json::to_string(y).expect("json")
        );
    }
}

#[test]
fn every_event_is_valid_ordered_unique_and_not_in_the_future() {
    let c = cfg(500, 42);
    let members: Vec<_> = generate(&c).collect();
    let bound = upper_bound(c.today);
    let start = bound - chrono::Duration::days(3 * 366);
    let today = c.today.to_string();
    let mut ids = HashSet::new();
    let mut orders = HashSet::new();
    for (i, events) in members.iter().enumerate() {
        assert_eq!(events[0].kind, "member.registered");
        let reg = at(&events[0]);
        assert!(reg >= start, "registered more than three years ago");
        let mut last = reg;
        for e in events {
            assert_eq!(e.member, member_external_id(i));
            assert!(ids.insert(e.id.clone()), "duplicate id {}", e.id);
            let t = at(e);
            assert!(t <= bound, "{} is after today", e.id);
            let local = e.occurred_at.as_deref().expect("time");
            assert!(local[..10] <= *today, "{} is tomorrow locally", e.id);
            assert!(t >= last, "{} is out of order", e.id);
            last = t;
            if e.kind == "order.paid" {
                let id = e.properties["order_id"].as_str().expect("order id");
                assert!(orders.insert(id.to_owned()), "order {id} paid twice");
            }
        }
    }
    validated(&members);
}

#[test]
fn refunds_follow_a_paid_order_of_the_same_member_and_never_exceed_it() {
    let members: Vec<_> = generate(&cfg(500, 11)).collect();
    let mut refunds = 0;
    let mut paid_count = 0;
    for events in validated(&members) {
        let mut paid: HashMap<String, i64> = HashMap::new();
        let mut refunded: HashMap<String, i64> = HashMap::new();
        for e in &events {
            match &e.effect {
                Effect::OrderPaid {
                    order_id, amount, ..
                } => {
                    assert!(amount.minor > 0);
                    paid.insert(order_id.clone(), amount.minor);
                    paid_count += 1;
                }
                Effect::OrderRefunded { order_id, amount } => {
                    let total = paid
                        .get(order_id)
                        .copied()
                        .unwrap_or_else(|| panic!("refund of unknown order {order_id}"));
                    let r = refunded.entry(order_id.clone()).or_default();
                    *r += amount.map_or(total, |a| a.minor);
                    assert!(*r <= total, "refunded more than paid for {order_id}");
                    refunds += 1;
                }
                _ => {}
            }
        }
    }
    let share = f64::from(refunds) / f64::from(paid_count);
    assert!((0.02..0.09).contains(&share), "refund share {share}");
}

/// The simple stage rules of the brief, from the events alone.
fn stage(events: &[EventIn], bound: DateTime<Utc>) -> &'static str {
    let last = events.iter().map(at).max().expect("registered");
    let idle = (bound - last).num_days();
    let orders = events.iter().filter(|e| e.kind == "order.paid").count();
    match (idle, orders) {
        (180.., _) => "churned",
        (60.., _) => "silent",
        (_, 0) => "new",
        (_, 1..=2) => "growing",
        _ => "mature",
    }
}

#[test]
fn the_lifecycle_mix_falls_out_of_the_simulation() {
    let c = cfg(2000, 5);
    let bound = upper_bound(c.today);
    let mut mix: BTreeMap<&str, usize> = BTreeMap::new();
    let mut events = 0;
    for m in generate(&c) {
        events += m.len();
        *mix.entry(stage(&m, bound)).or_default() += 1;
    }
    let share = |s: &str| mix.get(s).copied().unwrap_or(0) as f64 / c.members as f64;
    let per_member = events as f64 / c.members as f64;
    eprintln!("mix {mix:?}, {per_member:.1} events per member");
    for (stage, lo, hi) in [
        ("new", 0.08, 0.24),
        ("growing", 0.15, 0.35),
        ("mature", 0.12, 0.30),
        ("silent", 0.08, 0.24),
        ("churned", 0.15, 0.35),
    ] {
        let s = share(stage);
        assert!((lo..=hi).contains(&s), "{stage}: {s:.3} outside {lo}..{hi}");
    }
    assert!(
        (8.0..=30.0).contains(&per_member),
        "{per_member} events per member"
    );
}

/// `cargo test -p memberops-demo -- --ignored --nocapture stats`: the numbers an operator
/// would look at first.
#[test]
#[ignore = "prints statistics"]
fn stats() {
    let c = cfg(5000, 1);
    let bound = upper_bound(c.today);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_channel: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut spend: Vec<i64> = Vec::new();
    let mut mix: BTreeMap<&str, usize> = BTreeMap::new();
    let mut months: BTreeMap<String, usize> = BTreeMap::new();
    for m in generate(&c) {
        for e in &m {
            *kinds.entry(e.kind.clone()).or_default() += 1;
            if e.kind == "order.paid" {
                let t = e.occurred_at.as_deref().unwrap_or_default();
                *months.entry(t[..7].to_owned()).or_default() += 1;
            }
        }
        let st = stage(&m, bound);
        *mix.entry(st).or_default() += 1;
        let ch = m[0].properties["channel"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let entry = by_channel.entry(ch).or_default();
        entry.0 += 1;
        entry.1 += usize::from(st != "churned" && st != "silent");
        let fen: i64 = m
            .iter()
            .filter(|e| e.kind == "order.paid")
            .map(|e| {
                let a = e.properties["amount"].as_str().unwrap_or("0");
                (a.parse::<f64>().unwrap_or(0.0) * 100.0).round() as i64
            })
            .sum();
        spend.push(fen);
    }
    spend.sort_unstable_by(|a, b| b.cmp(a));
    let total: i64 = spend.iter().sum();
    let top = |p: f64| {
        spend[..(spend.len() as f64 * p) as usize]
            .iter()
            .sum::<i64>() as f64
            / total as f64
    };
    eprintln!("kinds {kinds:#?}");
    eprintln!("mix {mix:?}");
    eprintln!("channel (members, active) {by_channel:?}");
    eprintln!(
        "top 1% spend share {:.2}, top 10% {:.2}, total ¥{}",
        top(0.01),
        top(0.1),
        total / 100
    );
    eprintln!("orders by month {months:?}");
}
