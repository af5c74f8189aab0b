use super::*;

fn node<'a>(id: &'a str, waits: bool, edges: &[(&'a str, &'a str)]) -> Node<'a> {
    Node {
        id,
        waits,
        edges: edges.to_vec(),
    }
}

#[test]
fn a_cycle_without_a_wait_and_an_unreachable_step_are_named() {
    let nodes = [
        node("a", false, &[("next", "b")]),
        node("b", false, &[("next", "a")]),
        node("lost", false, &[]),
    ];
    let errs = check_graph("a", &nodes);
    let codes: Vec<(&str, &str)> = errs
        .iter()
        .map(|e| (e.loc[2].as_str(), e.code.as_str()))
        .collect();
    assert!(codes.contains(&("lost", "unreachable_step")), "{codes:?}");
    assert!(codes.contains(&("b", "cycle_without_wait")), "{codes:?}");
}

#[test]
fn a_cycle_through_a_wait_is_allowed_and_unknown_targets_are_named() {
    let ok = [
        node("a", false, &[("next", "w")]),
        node("w", true, &[("next", "a")]),
    ];
    assert!(check_graph("a", &ok).is_empty());
    let bad = [node("a", false, &[("next", "nope")])];
    let e = check_graph("a", &bad);
    assert_eq!(e[0].loc, vec!["body", "steps", "a", "next"]);
    assert_eq!(e[0].code, "unknown_step");
}

#[test]
fn entry_rules() {
    let day = 86_400_000;
    assert!(Entry::Once.allows(None, 0));
    assert!(!Entry::Once.allows(Some(0), 400 * day));
    assert!(!Entry::OncePer { days: 30 }.allows(Some(0), 29 * day));
    assert!(Entry::OncePer { days: 30 }.allows(Some(0), 30 * day));
    assert!(Entry::EveryTime.allows(Some(0), 1));
}

#[test]
fn property_conditions() {
    let props = serde_json::json!({"to": "churned", "amount": "129.50", "items": {"n": 3}});
    let c = |p: &str, op: &str, v: Value| PropCond {
        property: p.into(),
        op: PropOp::parse(op).expect("op"),
        value: v,
    };
    assert!(c("to", "eq", "churned".into()).matches(&props));
    assert!(!c("to", "eq", "silent".into()).matches(&props));
    assert!(c("amount", "gte", 100.into()).matches(&props));
    assert!(c("items.n", "in", serde_json::json!([2, 3])).matches(&props));
    assert!(!c("missing", "exists", Value::Null).matches(&props));
}

#[test]
fn waits_until_a_local_time_of_day() {
    // 2027-01-05T14:30Z is 22:30 in Shanghai: 10:00 local is tomorrow, 02:00Z.
    let now = 1_799_159_400_000;
    let at = NaiveTime::from_hms_opt(10, 0, 0).expect("time");
    let t = wait_until(Wait::UntilTime { at }, chrono_tz::Asia::Shanghai, now);
    assert_eq!(t, 1_799_200_800_000);
    assert_eq!(
        wait_until(Wait::For { ms: 5 }, chrono_tz::UTC, now),
        now + 5
    );
}

#[test]
fn experiment_groups_follow_their_shares() {
    let e = Experiment {
        variants: vec![("a".into(), 50, "s1".into()), ("b".into(), 50, "s2".into())],
        holdout_percent: 20,
    };
    let mut counts = HashMap::new();
    for i in 0..10_000 {
        let g = e
            .group("jrn_1", &format!("mem_{i}"))
            .map_or(HOLDOUT, |g| g.0);
        *counts.entry(g).or_insert(0) += 1;
    }
    for (g, lo, hi) in [(HOLDOUT, 1700, 2300), ("a", 3700, 4300), ("b", 3700, 4300)] {
        let n = counts.get(g).copied().unwrap_or(0);
        assert!((lo..hi).contains(&n), "{g}: {n}");
    }
    // Stable per member.
    assert_eq!(e.group("jrn_1", "mem_7"), e.group("jrn_1", "mem_7"));
}

#[test]
fn uplift_interval_covers_the_difference() {
    let g = GroupStats {
        members: 1000,
        converted: 150,
        revenue_minor: 150_000,
        revenue_sq: 150.0 * 1000.0 * 1000.0,
    };
    let h = GroupStats {
        members: 1000,
        converted: 100,
        revenue_minor: 100_000,
        revenue_sq: 100.0 * 1000.0 * 1000.0,
    };
    let u = conversion_uplift(&g, &h).expect("uplift");
    assert!((u.diff - 0.05).abs() < 1e-9);
    assert!(u.low > 0.0 && u.low < 0.05 && u.high > 0.05, "{u:?}");
    let r = revenue_uplift(&g, &h).expect("uplift");
    assert!((r.diff - 50.0).abs() < 1e-9 && r.low < 50.0 && r.high > 50.0);
}
