//! The row evaluator: does one member match a condition tree? This is the reference
//! semantics (documented in [`crate::tree`]); the columnar index must agree with it.

use chrono::NaiveDate;
use memberops_core::member::Gender;
use memberops_core::time::Millis;

use crate::row::{MemberRow, local_day};
use crate::tree::{AttrRef, Cond, EventCond, Field, Measure, MeasureCond, Node, Test};

/// Per-member event counts, supplied by the storage layer (typically prefetched per
/// `(event, within_last_days)` pair of the tree for the evaluation's as-of instant).
pub trait EventCounts {
    /// How many `event`s the member did in the last `within_last_days` days.
    fn event_count(&self, member_id: &str, event: &str, within_last_days: u32) -> u64;

    /// The member's value of a store-computed measure (0 when nothing applies).
    fn measure(&self, _member_id: &str, _m: &Measure) -> i64 {
        0
    }
}

/// For trees without event conditions: every count is 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventCounts for NoEvents {
    fn event_count(&self, _: &str, _: &str, _: u32) -> u64 {
        0
    }
}

impl<F: Fn(&str, &str, u32) -> u64> EventCounts for F {
    fn event_count(&self, member_id: &str, event: &str, within_last_days: u32) -> u64 {
        self(member_id, event, within_last_days)
    }
}

/// The as-of instant and where event counts come from.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub as_of: Millis,
    pub events: &'a dyn EventCounts,
}

impl<'a> EvalContext<'a> {
    pub fn new(as_of: Millis, events: &'a dyn EventCounts) -> Self {
        EvalContext { as_of, events }
    }
}

pub(crate) fn enum_index(codes: &[&str], s: &str) -> Option<usize> {
    codes.iter().position(|c| *c == s).or_else(|| {
        // Chinese names are accepted too, mapped through the domain enums.
        crate::lifecycle::Stage::parse(s)
            .map(|x| x.code())
            .or_else(|| crate::rfm::RfmClass::parse(s).map(|x| x.code()))
            .or_else(|| crate::value_class::ValueClass::parse(s).map(|x| x.code()))
            .and_then(|code| codes.iter().position(|c| *c == code))
    })
}

pub(crate) fn gender_index(g: Gender) -> u8 {
    match g {
        Gender::Male => 0,
        Gender::Female => 1,
        Gender::Other => 2,
        Gender::Unknown => 3,
    }
}

/// One field's value on one member, as the tests see it.
pub(crate) enum Val<'a> {
    Null,
    Int(i64),
    Enum(u8),
    Str(&'a str),
    Instant(Millis, NaiveDate),
    Birthday(NaiveDate),
    Tags(&'a [String]),
    Bool(bool),
    Attr(AttrRef<'a>),
    Num(f64),
}

pub(crate) fn field_value<'a>(row: &'a MemberRow, field: &Field, today: NaiveDate) -> Val<'a> {
    let opt_int = |v: Option<i64>| v.map_or(Val::Null, Val::Int);
    let opt_enum = |v: Option<u8>| v.map_or(Val::Null, Val::Enum);
    let opt_str = |v: &'a Option<String>| v.as_deref().map_or(Val::Null, Val::Str);
    let instant = |v: Option<Millis>| {
        v.map_or(Val::Null, |ms| {
            Val::Instant(ms, local_day(ms, row.time_zone))
        })
    };
    match field {
        Field::Gender => opt_enum(row.gender.map(gender_index)),
        Field::Age => opt_int(
            row.birthday
                .map(|b| i64::from(memberops_core::member::age_on(b, today))),
        ),
        Field::Birthday => row.birthday.map_or(Val::Null, Val::Birthday),
        Field::Region => opt_str(&row.region),
        Field::Channel => opt_str(&row.channel),
        Field::Tier => opt_str(&row.tier),
        Field::RegisteredAt => instant(row.registered_at),
        Field::Orders => Val::Int(i64::from(row.orders)),
        Field::Spend => Val::Int(row.spend),
        Field::Aov => opt_int(row.aov()),
        Field::LastOrderAt => instant(row.last_order_at),
        Field::PointsBalance => Val::Int(row.points_balance),
        Field::Stage => opt_enum(row.stage.map(|s| s as u8)),
        Field::RScore => opt_int(row.r.map(i64::from)),
        Field::FScore => opt_int(row.f.map(i64::from)),
        Field::MScore => opt_int(row.m.map(i64::from)),
        Field::RfmClass => opt_enum(row.rfm_class.map(|c| c as u8)),
        Field::ValueClass => opt_enum(row.value_class.map(|c| c as u8)),
        Field::Tags => Val::Tags(&row.tags),
        Field::FirstOrderAt => instant(row.first_order_at),
        Field::IncomeBand => opt_str(&row.income_band),
        Field::Store => opt_str(&row.store),
        Field::Staff => opt_str(&row.staff),
        Field::StoredValue => Val::Int(row.stored_value),
        Field::PAlive => row.p_alive.map_or(Val::Null, Val::Num),
        Field::ExpectedOrders90d => row.expected_orders_90d.map_or(Val::Null, Val::Num),
        Field::Clv12m => row.clv_12m.map_or(Val::Null, Val::Num),
        Field::Consent(ch) => row.consent.get(ch).map_or(Val::Null, |b| Val::Bool(*b)),
        Field::Attr(key) => row
            .attributes
            .get(key)
            .and_then(AttrRef::from_json)
            .map_or(Val::Null, Val::Attr),
    }
}

/// The shared leaf rule: missing values match only `is_null`.
pub(crate) fn test_value(test: &Test, v: &Val<'_>, today: NaiveDate) -> bool {
    match (test, v) {
        (Test::IsSet, Val::Tags(t)) => !t.is_empty(),
        (Test::IsNull, Val::Tags(t)) => t.is_empty(),
        (Test::IsSet, v) => !matches!(v, Val::Null),
        (Test::IsNull, v) => matches!(v, Val::Null),
        (_, Val::Null) => false,
        (Test::Int(t), Val::Int(x)) => t.matches(*x),
        (Test::Enum(mask), Val::Enum(i)) => *i < 32 && (mask >> i) & 1 == 1,
        (Test::Str(t), Val::Str(s)) => t.matches(s),
        (Test::Time(t), Val::Instant(ms, day)) => t.matches_instant(*ms, *day, today),
        (Test::Time(t), Val::Birthday(b)) => t.matches_birthday(*b, today),
        (Test::Tags(t), Val::Tags(tags)) => t.matches(tags),
        (Test::Bool(mask), Val::Bool(b)) => (mask >> u8::from(*b)) & 1 == 1,
        (Test::Attr(t), Val::Attr(a)) => t.matches(*a),
        (Test::Num(t), Val::Num(x)) => t.matches(*x),
        // The parser pairs tests with field kinds, so this is unreachable for valid trees.
        _ => false,
    }
}

pub fn eval_cond(c: &Cond, row: &MemberRow, today: NaiveDate) -> bool {
    test_value(&c.test, &field_value(row, &c.field, today), today)
}

/// Does `row` match `node` at `ctx.as_of`?
pub fn eval(node: &Node, row: &MemberRow, ctx: &EvalContext<'_>) -> bool {
    let today = local_day(ctx.as_of, row.time_zone);
    eval_at(node, row, today, ctx)
}

fn eval_at(node: &Node, row: &MemberRow, today: NaiveDate, ctx: &EvalContext<'_>) -> bool {
    match node {
        Node::All(xs) => xs.iter().all(|x| eval_at(x, row, today, ctx)),
        Node::Any(xs) => xs.iter().any(|x| eval_at(x, row, today, ctx)),
        Node::Not(x) => !eval_at(x, row, today, ctx),
        Node::Cond(c) => eval_cond(c, row, today),
        Node::Event(e) => event_matches(
            e,
            ctx.events
                .event_count(&row.member_id, &e.event, e.within_last_days),
        ),
        Node::Measure(m) => measure_matches(m, ctx.events.measure(&row.member_id, &m.measure)),
    }
}

pub(crate) fn measure_matches(m: &MeasureCond, v: i64) -> bool {
    m.test.matches(v)
}

pub(crate) fn event_matches(e: &EventCond, count: u64) -> bool {
    e.test.matches(i64::try_from(count).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(s: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp_millis()
    }

    fn row() -> MemberRow {
        let mut r = MemberRow::new("mbr_1", chrono_tz::Asia::Shanghai);
        r.gender = Some(Gender::Female);
        r.birthday = NaiveDate::from_ymd_opt(1996, 5, 20);
        r.region = Some("上海".into());
        r.orders = 3;
        r.spend = 90_000;
        r.last_order_at = Some(ms("2026-05-01T18:00:00Z")); // 2 May in Shanghai
        r.tags = vec!["coffee".into()];
        r.attributes.insert("vip_level".into(), json!(3));
        r
    }

    fn check(tree: serde_json::Value, as_of: &str) -> bool {
        let node = Node::from_json(&tree).expect("valid");
        let counts = |_: &str, event: &str, days: u32| -> u64 {
            if event == "content.shared" && days == 30 {
                2
            } else {
                0
            }
        };
        eval(&node, &row(), &EvalContext::new(ms(as_of), &counts))
    }

    #[test]
    fn evaluates_profile_aggregates_tags_attributes_and_events() {
        let t = json!({"all": [
            {"field": "gender", "op": "eq", "value": "female"},
            {"field": "age", "op": "between", "value": [29, 30]},
            {"field": "aov", "op": "eq", "value": 30_000},
            {"field": "tags", "op": "has_tag", "value": "coffee"},
            {"field": "attributes.vip_level", "op": "gte", "value": 3},
            {"event": "content.shared", "within_last_days": 30, "op": "gte", "value": 2}
        ]});
        assert!(check(t, "2026-05-15T00:00:00Z"));
        // Missing values match only is_null.
        assert!(!check(
            json!({"field": "channel", "op": "ne", "value": "x"}),
            "2026-05-15T00:00:00Z"
        ));
        assert!(check(
            json!({"not": {"field": "channel", "op": "eq", "value": "x"}}),
            "2026-05-15T00:00:00Z"
        ));
        assert!(check(
            json!({"field": "channel", "op": "is_null"}),
            "2026-05-15T00:00:00Z"
        ));
        assert!(!check(json!({"any": []}), "2026-05-15T00:00:00Z"));
        assert!(check(json!({"all": []}), "2026-05-15T00:00:00Z"));
    }

    #[test]
    fn calendar_conditions_use_the_members_zone() {
        // 2026-05-13T17:00Z is 14 May 01:00 in Shanghai: the birthday (20 May) is 6 days off.
        let t = json!({"field": "birthday", "op": "within_next_days", "value": 6});
        assert!(check(t.clone(), "2026-05-13T17:00:00Z"));
        assert!(!check(t, "2026-05-13T15:00:00Z"));
        // Last order on 2 May local: within the last 0 days on 2 May local only.
        let t = json!({"field": "last_order_at", "op": "within_last_days", "value": 0});
        assert!(check(t.clone(), "2026-05-02T15:00:00Z"));
        assert!(!check(t, "2026-05-02T16:00:00Z"));
        let t = json!({"field": "last_order_at", "op": "gte", "value": "2026-05-02"});
        assert!(check(t, "2026-06-01T00:00:00Z"));
        let t = json!({"field": "last_order_at", "op": "gte", "value": "2026-05-02T00:00:00Z"});
        assert!(!check(t, "2026-06-01T00:00:00Z"));
    }
}
