//! The index must answer exactly like the row evaluator: unit tests for the moving parts
//! (slot reuse, attributes, paging) and a property test over random trees and rows.

use std::collections::HashMap;

use chrono::NaiveDate;
use memberops_core::member::Gender;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::eval::{EvalContext, NoEvents, eval};
use crate::lifecycle::Stage;
use crate::rfm::RfmClass;
use crate::tree::Node;
use crate::value_class::ValueClass;

const AS_OF: Millis = 1_780_000_000_000; // 2026-05-28T20:26:40Z

fn tree(v: serde_json::Value) -> Node {
    Node::from_json(&v).expect("valid tree")
}

#[test]
fn upsert_remove_and_reuse_slots() {
    let mut idx = SegmentIndex::new();
    for i in 0..10 {
        let mut r = MemberRow::new(format!("m{i}"), chrono_tz::UTC);
        r.orders = i;
        r.region = Some(if i % 2 == 0 { "east" } else { "west" }.into());
        idx.upsert(&r).expect("upsert");
    }
    let ctx = EvalContext::new(AS_OF, &NoEvents);
    let east = tree(json!({"field": "region", "op": "eq", "value": "east"}));
    assert_eq!(idx.count(&east, &ctx), 5);
    assert!(idx.remove("m0"));
    assert!(!idx.remove("m0"));
    assert_eq!(idx.count(&east, &ctx), 4);
    let mut r = MemberRow::new("new", chrono_tz::UTC);
    r.region = Some("east".into());
    idx.upsert(&r).expect("upsert");
    assert_eq!(idx.len(), 10);
    assert_eq!(idx.count(&east, &ctx), 5);
    // Replacing a row moves it between segments.
    r.region = Some("west".into());
    idx.upsert(&r).expect("upsert");
    assert_eq!(idx.count(&east, &ctx), 4);
    assert!(idx.contains("new") && !idx.contains("m0"));
}

#[test]
fn predicted_values_compare_as_numbers_and_missing_matches_nothing() {
    let mut idx = SegmentIndex::new();
    let mut rows = Vec::new();
    for (id, alive, clv) in [("a", 0.1, 1500.5), ("b", 0.3, 1000.0), ("c", 0.9, 20.0)] {
        let mut r = MemberRow::new(id, chrono_tz::UTC);
        r.p_alive = Some(alive);
        r.expected_orders_90d = Some(alive * 2.0);
        r.clv_12m = Some(clv);
        rows.push(r);
    }
    rows.push(MemberRow::new("never_bought", chrono_tz::UTC));
    for r in &rows {
        idx.upsert(r).expect("upsert");
    }
    let ctx = EvalContext::new(AS_OF, &NoEvents);
    let ids = |v: serde_json::Value| {
        let t = tree(v);
        let page = idx.members(&t, &ctx, 10, None).expect("page");
        let by_rows: Vec<String> = rows
            .iter()
            .filter(|r| eval(&t, r, &ctx))
            .map(|r| r.member_id.clone())
            .collect();
        assert_eq!(page.ids, by_rows, "index and row evaluator");
        page.ids
    };
    assert_eq!(
        ids(json!({"field": "p_alive", "op": "lt", "value": 0.3})),
        ["a"]
    );
    assert_eq!(
        ids(json!({"field": "p_alive", "op": "lte", "value": 0.3})),
        ["a", "b"]
    );
    assert_eq!(
        ids(json!({"field": "clv_12m", "op": "gt", "value": 1000})),
        ["a"]
    );
    assert_eq!(
        ids(json!({"field": "expected_orders_90d", "op": "between", "value": [0.5, 2]})),
        ["b", "c"]
    );
    assert_eq!(
        ids(json!({"field": "p_alive", "op": "is_null"})),
        ["never_bought"]
    );
    assert_eq!(
        ids(json!({"not": {"field": "clv_12m", "op": "gte", "value": 100}})),
        ["c", "never_bought"]
    );
    // Equality on a real number is not offered; text is not a number.
    for bad in [
        json!({"field": "p_alive", "op": "eq", "value": 0.3}),
        json!({"field": "clv_12m", "op": "gt", "value": "1000"}),
        json!({"field": "p_alive", "op": "between", "value": [0.5, 0.1]}),
    ] {
        assert!(Node::from_json(&bad).is_err(), "{bad}");
    }
}

#[test]
fn attributes_and_null_semantics() {
    let mut idx = SegmentIndex::new();
    let mut a = MemberRow::new("a", chrono_tz::UTC);
    a.attributes.insert("level".into(), json!(3));
    let mut b = MemberRow::new("b", chrono_tz::UTC);
    b.attributes.insert("level".into(), json!("gold"));
    let c = MemberRow::new("c", chrono_tz::UTC);
    for r in [&a, &b, &c] {
        idx.upsert(r).expect("upsert");
    }
    let ctx = EvalContext::new(AS_OF, &NoEvents);
    let count = |idx: &SegmentIndex, v| idx.count(&tree(v), &ctx);
    assert_eq!(
        count(
            &idx,
            json!({"field": "attributes.level", "op": "gte", "value": 2})
        ),
        1
    );
    assert_eq!(
        count(
            &idx,
            json!({"field": "attributes.level", "op": "ne", "value": 3})
        ),
        1
    );
    assert_eq!(
        count(&idx, json!({"field": "attributes.level", "op": "is_null"})),
        1
    );
    assert_eq!(
        count(
            &idx,
            json!({"not": {"field": "attributes.level", "op": "eq", "value": 3}})
        ),
        2
    );
    assert_eq!(
        count(&idx, json!({"field": "attributes.nope", "op": "is_null"})),
        3
    );
    a.attributes.clear();
    idx.upsert(&a).expect("upsert");
    assert_eq!(
        count(&idx, json!({"field": "attributes.level", "op": "is_set"})),
        1
    );
}

#[test]
fn pages_walk_all_matches_in_id_order() {
    let mut idx = SegmentIndex::new();
    for i in (0..25).rev() {
        idx.upsert(&MemberRow::new(format!("m{i:02}"), chrono_tz::UTC))
            .expect("upsert");
    }
    let ctx = EvalContext::new(AS_OF, &NoEvents);
    let all = tree(json!({"all": []}));
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let page = idx
            .members(&all, &ctx, 10, cursor.as_deref())
            .expect("page");
        seen.extend(page.ids.clone());
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    assert_eq!(seen, want);
}

// ---- property test: index == row evaluator ----

const ZONES: [chrono_tz::Tz; 3] = [
    chrono_tz::Asia::Shanghai,
    chrono_tz::America::Los_Angeles,
    chrono_tz::Pacific::Kiritimati,
];
const WORDS: [&str; 4] = ["a", "b", "ab", "c"];
const DAY_MS: i64 = 86_400_000;

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 3 => s.prop_map(Some)].boxed()
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned)
}

fn row_strategy(id: usize) -> impl Strategy<Value = MemberRow> {
    let profile = (
        0..3usize,
        opt(prop::sample::select(vec![
            Gender::Male,
            Gender::Female,
            Gender::Other,
            Gender::Unknown,
        ])),
        opt((1960..2020i32, 1..=12u32, 1..=31u32)),
        opt(word()),
        opt(word()),
        opt(word()),
        opt(-400..10i64),
    );
    let aggregates = (
        0..5u32,
        -100..1000i64,
        opt(-400..1i64),
        -50..50i64,
        opt(prop::sample::select(Stage::ALL.to_vec())),
        opt(1..=5u8),
        opt(1..=5u8),
        opt(1..=5u8),
        opt(prop::sample::select(RfmClass::ALL.to_vec())),
        opt(prop::sample::select(ValueClass::ALL.to_vec())),
    );
    let extra = (
        prop::collection::vec(word(), 0..3),
        prop::collection::btree_map(
            prop::sample::select(vec!["k1".to_owned(), "k2".to_owned()]),
            prop_oneof![
                Just(json!(null)),
                (-3..3i64).prop_map(|n| json!(n)),
                word().prop_map(|w| json!(w)),
                any::<bool>().prop_map(|b| json!(b)),
                prop::collection::vec(word(), 0..2).prop_map(|v| json!(v)),
            ],
            0..3,
        ),
        -DAY_MS..DAY_MS,
    );
    let more = (
        opt(-400..1i64),
        opt(word()),
        -50..50i64,
        prop::collection::btree_map(
            prop::sample::select(vec!["sms".to_owned(), "email".to_owned()]),
            any::<bool>(),
            0..3,
        ),
        opt(word()),
        opt(word()),
        (opt(0..=20u32), opt(0..40u32), opt(0..3000i64)),
    );
    (profile, aggregates, extra, more).prop_map(move |(p, a, e, x)| {
        let mut r = MemberRow::new(format!("m{id:03}"), ZONES[p.0]);
        r.gender = p.1;
        r.birthday = p.2.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
        r.region = p.3;
        r.channel = p.4;
        r.tier = p.5;
        r.registered_at = p.6.map(|d| AS_OF + d * DAY_MS + e.2);
        r.orders = a.0;
        r.spend = a.1;
        r.last_order_at = a.2.map(|d| AS_OF + d * DAY_MS - e.2);
        r.points_balance = a.3;
        r.stage = a.4;
        r.r = a.5;
        r.f = a.6;
        r.m = a.7;
        r.rfm_class = a.8;
        r.value_class = a.9;
        r.tags = e.0;
        r.attributes = e.1;
        r.first_order_at = x.0.map(|d| AS_OF + d * DAY_MS + e.2);
        r.income_band = x.1;
        r.stored_value = x.2;
        r.consent = x.3;
        r.store = x.4;
        r.staff = x.5;
        // Predicted values on a coarse grid, so thresholds hit them exactly too.
        r.p_alive = x.6.0.map(|n| f64::from(n) / 20.0);
        r.expected_orders_90d = x.6.1.map(|n| f64::from(n) / 8.0);
        r.clv_12m = x.6.2.map(|minor| minor as f64 / 100.0);
        r
    })
}

fn int_value(field: &str) -> BoxedStrategy<serde_json::Value> {
    let range = match field {
        "age" => 0..70i64,
        "spend" | "aov" => -100..1000,
        "points_balance" | "stored_value_minor" => -50..50,
        _ => 0..6,
    };
    prop_oneof![
        range.clone().prop_map(|n| json!(n)),
        prop::collection::vec(range.clone(), 1..3).prop_map(|v| json!(v)),
        (range.clone(), range).prop_map(|(a, b)| json!([a.min(b), a.max(b)])),
    ]
    .boxed()
}

fn date_value(lo: i64, hi: i64) -> BoxedStrategy<serde_json::Value> {
    prop_oneof![
        (lo..hi).prop_map(|d| {
            json!(crate::row::local_day(AS_OF + d * DAY_MS, chrono_tz::UTC).to_string())
        }),
        (lo..hi, -DAY_MS..DAY_MS).prop_map(|(d, x)| {
            json!(memberops_core::time::millis_to_rfc3339(
                AS_OF + d * DAY_MS + x
            ))
        }),
    ]
    .boxed()
}

/// A random valid leaf: an operator that fits the field, a value that fits the operator.
fn leaf() -> BoxedStrategy<serde_json::Value> {
    let presence = prop::sample::select(vec!["is_set", "is_null"])
        .prop_map(|op| (op, serde_json::Value::Null))
        .boxed();
    let int_field = prop::sample::select(vec![
        "age",
        "orders",
        "spend",
        "aov",
        "points_balance",
        "stored_value_minor",
        "r_score",
        "f_score",
        "m_score",
    ])
    .prop_flat_map(move |f| {
        let ops = prop::sample::select(vec!["eq", "ne", "gt", "gte", "lt", "lte"]);
        let scalar = int_value(f).prop_filter("scalar", |v| v.is_i64());
        let list = int_value(f).prop_filter("list", |v| v.is_array());
        prop_oneof![
            (ops, scalar).prop_map(|(o, v)| (o, v)).boxed(),
            (prop::sample::select(vec!["in", "not_in", "between"]), list)
                .prop_filter("between pair", |(o, v)| {
                    *o != "between"
                        || v.as_array()
                            .is_some_and(|a| a.len() == 2 && a[0].as_i64() <= a[1].as_i64())
                })
                .boxed(),
        ]
        .prop_map(move |(o, v)| (f, o, v))
    });
    let enum_field = prop::sample::select(vec![
        ("gender", crate::tree::GENDER_CODES),
        ("stage", crate::tree::STAGE_CODES),
        ("rfm_class", crate::tree::RFM_CODES),
        ("value_class", crate::tree::VALUE_CODES),
    ])
    .prop_flat_map(|(f, codes)| {
        let code = prop::sample::select(codes.to_vec());
        prop_oneof![
            (prop::sample::select(vec!["eq", "ne"]), code.clone()).prop_map(|(o, c)| (o, json!(c))),
            (
                prop::sample::select(vec!["in", "not_in"]),
                prop::collection::vec(code, 1..4)
            )
                .prop_map(|(o, c)| (o, json!(c))),
        ]
        .prop_map(move |(o, v)| (f, o, v))
    });
    let str_field = (
        prop::sample::select(vec![
            "region",
            "channel",
            "tier",
            "income_band",
            "store",
            "staff",
            "tags",
        ]),
        prop::sample::select(vec!["eq", "ne", "contains", "has_tag", "in", "not_in"]),
        word(),
        prop::collection::vec(word(), 1..3),
    )
        .prop_filter_map("op fits", |(f, o, w, ws)| {
            let tags = f == "tags";
            match o {
                "in" | "not_in" => Some((f, o, json!(ws))),
                "has_tag" if tags => Some((f, o, json!(w))),
                "eq" | "ne" if !tags => Some((f, o, json!(w))),
                "contains" => Some((f, o, json!(w))),
                _ => None,
            }
        });
    let instant_field = (
        prop::sample::select(vec!["registered_at", "last_order_at", "first_order_at"]),
        prop_oneof![
            (
                prop::sample::select(vec!["gt", "gte", "lt", "lte"]),
                date_value(-400, 10)
            ),
            (
                Just("between"),
                (date_value(-400, -100), date_value(-100, 10)).prop_map(|(a, b)| json!([a, b]))
            ),
            (
                prop::sample::select(vec!["within_last_days", "within_next_days"]),
                (0..200u32).prop_map(|n| json!(n))
            ),
        ],
    )
        .prop_map(|(f, (o, v))| (f, o, v));
    let birthday = prop_oneof![
        (0..370u32).prop_map(|n| ("within_next_days", json!(n))),
        (prop::sample::select(vec!["gt", "lte"]), 1960..2020i32)
            .prop_map(|(o, y)| (o, json!(format!("{y}-06-15")))),
    ]
    .prop_map(|(o, v)| ("birthday", o, v));
    let attr_value = prop_oneof![
        (-3..3i64).prop_map(|n| json!(n)),
        word().prop_map(|w| json!(w)),
        any::<bool>().prop_map(|b| json!(b)),
    ];
    let attr = (
        prop::sample::select(vec!["attributes.k1", "attributes.k2"]),
        prop::sample::select(vec![
            "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains",
        ]),
        attr_value.clone(),
        prop::collection::vec(attr_value, 1..3),
        (-3..3i64, 0..3i64),
        word(),
    )
        .prop_map(|(f, o, v, vs, (lo, w), s)| match o {
            "in" | "not_in" => (f, o, json!(vs)),
            "gt" | "gte" | "lt" | "lte" => (f, o, json!(lo)),
            "between" => (f, o, json!([lo, lo + w])),
            "contains" => (f, o, json!(s)),
            _ => (f, o, v),
        });
    let num_field = (
        prop::sample::select(vec!["p_alive", "expected_orders_90d", "clv_12m"]),
        prop::sample::select(vec!["gt", "gte", "lt", "lte", "between"]),
        (0..=20u32, 0..=10u32),
    )
        .prop_map(|(f, o, (a, w))| {
            let scale = match f {
                "p_alive" => 20.0,
                "expected_orders_90d" => 8.0,
                _ => 0.5,
            };
            let lo = f64::from(a) / scale;
            match o {
                "between" => (f, o, json!([lo, lo + f64::from(w) / scale])),
                _ => (f, o, json!(lo)),
            }
        });
    let consent = (
        prop::sample::select(vec!["consent.sms", "consent.email", "consent.push"]),
        prop::sample::select(vec!["eq", "ne"]),
        any::<bool>(),
    )
        .prop_map(|(f, o, b)| (f, o, json!(b)));
    let any_field = prop::sample::select(vec![
        "consent.sms",
        "income_band",
        "store",
        "staff",
        "first_order_at",
        "gender",
        "age",
        "birthday",
        "region",
        "registered_at",
        "aov",
        "stage",
        "r_score",
        "rfm_class",
        "value_class",
        "tags",
        "attributes.k1",
        "last_order_at",
        "p_alive",
        "clv_12m",
    ]);
    prop_oneof![
        2 => (any_field, presence).prop_map(|(f, (o, v))| (f, o, v)),
        3 => int_field,
        3 => enum_field,
        3 => str_field,
        2 => instant_field,
        1 => birthday,
        3 => attr,
        2 => consent,
        2 => num_field,
    ]
    .prop_map(|(f, o, v)| {
        if v.is_null() {
            json!({"field": f, "op": o})
        } else {
            json!({"field": f, "op": o, "value": v})
        }
    })
    .boxed()
}

fn event_leaf() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(vec!["content.shared", "checkin"]),
        0..4u32,
        1..30u32,
    )
        .prop_map(|(e, n, d)| json!({"event": e, "within_last_days": d, "op": "gte", "value": n}))
}

fn measure_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (1..60u32, 0..4i64).prop_map(
            |(d, n)| json!({"field": "points_expiring", "within_next_days": d, "op": "gte", "value": n})
        ),
        (word(), opt(1..90u32), 0..3i64).prop_map(|(w, d, n)| match d {
            Some(d) => json!({"purchased": {"category": w}, "within_last_days": d, "op": "gt", "value": n}),
            None => json!({"purchased": {"sku": [w]}}),
        }),
    ]
}

/// Deterministic fake event counts and measures.
struct Fake;

impl crate::eval::EventCounts for Fake {
    fn event_count(&self, member: &str, event: &str, days: u32) -> u64 {
        events(member, event, days)
    }

    fn measure(&self, member: &str, m: &crate::tree::Measure) -> i64 {
        events(member, &format!("{m:?}"), 0) as i64
    }
}

fn tree_strategy() -> impl Strategy<Value = serde_json::Value> {
    let base = prop_oneof![8 => leaf(), 1 => event_leaf(), 1 => measure_leaf()];
    base.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"any": v})),
            inner.prop_map(|v| json!({"not": v})),
        ]
    })
}

/// Deterministic fake event counts.
fn events(member: &str, event: &str, days: u32) -> u64 {
    let h = member
        .bytes()
        .chain(event.bytes())
        .fold(u64::from(days), |a, b| {
            a.wrapping_mul(31).wrapping_add(u64::from(b))
        });
    h % 4
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn index_counts_equal_row_filter(
        rows in (1..40usize).prop_flat_map(|n| (0..n).map(row_strategy).collect::<Vec<_>>()),
        removals in prop::collection::vec(0..40usize, 0..5),
        trees in prop::collection::vec(tree_strategy(), 1..6),
        as_of_shift in -2 * DAY_MS..2 * DAY_MS,
    ) {
        let mut idx = SegmentIndex::new();
        for r in &rows {
            idx.upsert(r).expect("upsert");
        }
        let mut alive: HashMap<String, &MemberRow> =
            rows.iter().map(|r| (r.member_id.clone(), r)).collect();
        for k in removals {
            let id = format!("m{k:03}");
            prop_assert_eq!(idx.remove(&id), alive.remove(&id).is_some());
        }
        let ctx = EvalContext::new(AS_OF + as_of_shift, &Fake);
        let mut parsed = 0;
        for t in trees {
            let node = Node::from_json(&t).map_err(|e| TestCaseError::fail(format!("{t}: {e}")))?;
            parsed += 1;
            let want = alive.values().filter(|r| eval(&node, r, &ctx)).count() as u64;
            prop_assert_eq!(idx.count(&node, &ctx), want, "tree {}", t);
        }
        let _ = parsed;
    }
}
