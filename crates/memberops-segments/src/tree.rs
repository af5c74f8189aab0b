//! Segment condition trees (人群圈选条件): AND / OR / NOT over typed field and event
//! conditions. The JSON form is parsed and validated in [`crate::parse`]; this module holds
//! the validated tree and the value tests both evaluators share.
//!
//! # Semantics
//! - `all: []` is true, `any: []` is false; `not` is plain boolean negation.
//! - A condition on a missing value (`None`, a JSON-null attribute) is false for every
//!   operator except `is_null` (true). So `region ne "Beijing"` excludes members without a
//!   region; write `any: [ne, is_null]` to include them. `not` of a condition does include
//!   them.
//! - Tags are never missing: `is_set` = at least one tag, `is_null` = no tags.
//! - Consent (`consent.<channel>`) is true, false or missing (never recorded).
//! - Measures (`points_expiring`, `purchased`) are never missing: 0 when nothing applies.
//!   They depend on the as-of instant, so the store computes them per query
//!   ([`crate::eval::EventCounts::measure`]), as it counts events.
//! - Calendar operators work on the member's local calendar: `today` is the as-of instant's
//!   day in the member's zone. `within_last_days n`: `today - n <= day <= today`;
//!   `within_next_days n`: `today <= day <= today + n`; on `birthday` it is the next
//!   birthday on or after today (29 Feb → 28 Feb in common years) within `n` days.
//! - Instant bounds: a `YYYY-MM-DD` value compares the member's local day, an RFC 3339 value
//!   compares the instant.
//! - `between` is inclusive at both ends. `contains` is a case-sensitive substring test (or
//!   array membership for a JSON-array attribute).

use chrono::{Days, NaiveDate};
use memberops_core::time::Millis;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SegmentError;

/// The deepest nesting accepted, so a hostile tree cannot overflow the stack.
pub const MAX_DEPTH: usize = 32;

/// The most conditions (leaves) in one tree: a tree is written by a person in the
/// console; a larger one is a list that belongs in a tag or an `in` operand.
pub const MAX_LEAVES: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Cond(Cond),
    Event(EventCond),
    /// A per-member quantity the store computes for the evaluation's as-of instant
    /// (points expiring soon, orders that bought a product).
    Measure(MeasureCond),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub field: Field,
    pub op: Op,
    /// The operand as written (kept for serialisation); `Null` for is_set / is_null.
    pub value: serde_json::Value,
    pub test: Test,
}

/// "Did `event` at least `value` times in the last `within_last_days` days".
#[derive(Debug, Clone, PartialEq)]
pub struct EventCond {
    pub event: String,
    pub within_last_days: u32,
    pub op: Op,
    pub value: serde_json::Value,
    pub test: IntTest,
}

/// "`measure` compared with `value`": a whole number per member, 0 when nothing applies.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureCond {
    pub measure: Measure,
    pub op: Op,
    pub value: serde_json::Value,
    pub test: IntTest,
}

/// What a product condition looks at in an order's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductKey {
    Sku,
    Category,
    /// The store an order was placed at (its `store_code`).
    Store,
}

impl ProductKey {
    pub fn name(self) -> &'static str {
        match self {
            ProductKey::Sku => "sku",
            ProductKey::Category => "category",
            ProductKey::Store => "store",
        }
    }
}

/// Quantities that depend on the as-of instant, so they are read from the store per query
/// (the same numbers feed the index and the SQL engine).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// Points in lots still open at as-of that expire within the next `n` days:
    /// `as_of < expires_at <= as_of + n days` (what the member centre shows as expiring).
    PointsExpiring { within_next_days: u32 },
    /// Orders (not fully refunded) with a line whose `key` is one of `values`, paid in the
    /// last `within_last_days` days (`as_of - n days < paid_at <= as_of`), or ever before
    /// as-of when `None`.
    Purchased {
        key: ProductKey,
        values: Vec<String>,
        within_last_days: Option<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Gender,
    Age,
    Birthday,
    Region,
    Channel,
    Tier,
    RegisteredAt,
    Orders,
    Spend,
    Aov,
    LastOrderAt,
    PointsBalance,
    Stage,
    RScore,
    FScore,
    MScore,
    RfmClass,
    ValueClass,
    Tags,
    FirstOrderAt,
    IncomeBand,
    /// Stored-value balance (principal + bonus), minor units.
    StoredValue,
    /// The member's home store code (门店).
    Store,
    /// The code of the staff member (导购) who owns the member.
    Staff,
    /// Predicted value (docs/predicted-value.md), from the last refresh; missing for
    /// members without an order by its as-of date. P(alive), 0–1.
    PAlive,
    /// Expected orders in the next 90 days.
    ExpectedOrders90d,
    /// 12-month customer lifetime value, in major units of the workspace currency.
    Clv12m,
    /// Consent to be contacted on a channel, written `consent.<channel>`.
    Consent(String),
    /// A custom attribute, written `attributes.<key>`.
    Attr(String),
}

/// The value kind a field holds, which decides the operators it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    /// Closed set of codes; the slice lists them in code order.
    Enum(&'static [&'static str]),
    Str,
    Instant,
    Birthday,
    Tags,
    /// true / false (consent per channel).
    Bool,
    /// A real number (predicted values): `gt`, `gte`, `lt`, `lte`, `between`.
    Num,
    Attr,
}

pub(crate) const GENDER_CODES: &[&str] = &["male", "female", "other", "unknown"];
pub(crate) const STAGE_CODES: &[&str] = &["new", "growing", "mature", "silent", "churned"];
pub(crate) const RFM_CODES: &[&str] = &[
    "important_value",
    "important_development",
    "important_retention",
    "important_win_back",
    "general_value",
    "general_development",
    "general_retention",
    "general_win_back",
];
pub(crate) const VALUE_CODES: &[&str] = &[
    "vip",
    "large",
    "medium",
    "small",
    "prospect_a",
    "prospect_b",
    "prospect_c",
    "prospect_d",
];

const SIMPLE_FIELDS: &[(&str, Field)] = &[
    ("gender", Field::Gender),
    ("age", Field::Age),
    ("birthday", Field::Birthday),
    ("region", Field::Region),
    ("channel", Field::Channel),
    ("tier", Field::Tier),
    ("registered_at", Field::RegisteredAt),
    ("orders", Field::Orders),
    ("spend", Field::Spend),
    ("aov", Field::Aov),
    ("last_order_at", Field::LastOrderAt),
    ("points_balance", Field::PointsBalance),
    ("stage", Field::Stage),
    ("r_score", Field::RScore),
    ("f_score", Field::FScore),
    ("m_score", Field::MScore),
    ("rfm_class", Field::RfmClass),
    ("value_class", Field::ValueClass),
    ("tags", Field::Tags),
    ("first_order_at", Field::FirstOrderAt),
    ("income_band", Field::IncomeBand),
    ("stored_value_minor", Field::StoredValue),
    ("store", Field::Store),
    ("staff", Field::Staff),
    ("p_alive", Field::PAlive),
    ("expected_orders_90d", Field::ExpectedOrders90d),
    ("clv_12m", Field::Clv12m),
];

impl Field {
    /// The names of the fields a condition may use, besides `attributes.<key>` and
    /// `consent.<channel>` (the console's condition builder offers these).
    pub fn names() -> impl Iterator<Item = &'static str> {
        SIMPLE_FIELDS.iter().map(|(n, _)| *n)
    }

    pub fn parse(name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("attributes.") {
            return (!key.is_empty()).then(|| Field::Attr(key.to_owned()));
        }
        if let Some(ch) = name.strip_prefix("consent.") {
            return memberops_core::member::CONSENT_CHANNELS
                .contains(&ch)
                .then(|| Field::Consent(ch.to_owned()));
        }
        SIMPLE_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone())
    }

    pub fn name(&self) -> String {
        match self {
            Field::Attr(k) => format!("attributes.{k}"),
            Field::Consent(c) => format!("consent.{c}"),
            f => SIMPLE_FIELDS
                .iter()
                .find(|(_, g)| g == f)
                .map(|(n, _)| (*n).to_owned())
                .unwrap_or_default(),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Field::Age
            | Field::Orders
            | Field::Spend
            | Field::Aov
            | Field::PointsBalance
            | Field::StoredValue
            | Field::RScore
            | Field::FScore
            | Field::MScore => Kind::Int,
            Field::Gender => Kind::Enum(GENDER_CODES),
            Field::Stage => Kind::Enum(STAGE_CODES),
            Field::RfmClass => Kind::Enum(RFM_CODES),
            Field::ValueClass => Kind::Enum(VALUE_CODES),
            Field::Region
            | Field::Channel
            | Field::Tier
            | Field::IncomeBand
            | Field::Store
            | Field::Staff => Kind::Str,
            Field::RegisteredAt | Field::LastOrderAt | Field::FirstOrderAt => Kind::Instant,
            Field::Consent(_) => Kind::Bool,
            Field::PAlive | Field::ExpectedOrders90d | Field::Clv12m => Kind::Num,
            Field::Birthday => Kind::Birthday,
            Field::Tags => Kind::Tags,
            Field::Attr(_) => Kind::Attr,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    Contains,
    HasTag,
    IsSet,
    IsNull,
    WithinLastDays,
    WithinNextDays,
}

const OPS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("between", Op::Between),
    ("contains", Op::Contains),
    ("has_tag", Op::HasTag),
    ("is_set", Op::IsSet),
    ("is_null", Op::IsNull),
    ("within_last_days", Op::WithinLastDays),
    ("within_next_days", Op::WithinNextDays),
];

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        OPS.iter().find(|(n, _)| *n == s).map(|(_, o)| *o)
    }

    pub fn name(self) -> &'static str {
        OPS.iter()
            .find(|(_, o)| *o == self)
            .map(|(n, _)| *n)
            .unwrap_or("eq")
    }
}

/// The compiled test of a condition, by field kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    IsSet,
    IsNull,
    Int(IntTest),
    /// Bit `i` set = code `i` of the field's enum matches.
    Enum(u32),
    Str(StrTest),
    Time(TimeTest),
    Tags(TagTest),
    /// Bit 0 set: `false` matches; bit 1 set: `true` matches.
    Bool(u8),
    Attr(AttrTest),
    Num(NumTest),
}

/// A comparison of a real-valued field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumTest {
    Cmp(CmpOp, f64),
    Between(f64, f64),
}

impl NumTest {
    pub fn matches(&self, v: f64) -> bool {
        match *self {
            NumTest::Cmp(CmpOp::Gt, x) => v > x,
            NumTest::Cmp(CmpOp::Gte, x) => v >= x,
            NumTest::Cmp(CmpOp::Lt, x) => v < x,
            NumTest::Cmp(CmpOp::Lte, x) => v <= x,
            NumTest::Between(lo, hi) => lo <= v && v <= hi,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum IntTest {
    Eq(i64),
    Ne(i64),
    In(Vec<i64>),
    NotIn(Vec<i64>),
    Gt(i64),
    Gte(i64),
    Lt(i64),
    Lte(i64),
    Between(i64, i64),
}

impl IntTest {
    #[inline]
    pub fn matches(&self, v: i64) -> bool {
        match self {
            IntTest::Eq(x) => v == *x,
            IntTest::Ne(x) => v != *x,
            IntTest::In(xs) => xs.contains(&v),
            IntTest::NotIn(xs) => !xs.contains(&v),
            IntTest::Gt(x) => v > *x,
            IntTest::Gte(x) => v >= *x,
            IntTest::Lt(x) => v < *x,
            IntTest::Lte(x) => v <= *x,
            IntTest::Between(lo, hi) => *lo <= v && v <= *hi,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrTest {
    Eq(String),
    Ne(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Contains(String),
}

impl StrTest {
    pub fn matches(&self, v: &str) -> bool {
        match self {
            StrTest::Eq(x) => v == x,
            StrTest::Ne(x) => v != x,
            StrTest::In(xs) => xs.iter().any(|x| x == v),
            StrTest::NotIn(xs) => !xs.iter().any(|x| x == v),
            StrTest::Contains(x) => v.contains(x.as_str()),
        }
    }
}

/// A bound on an instant or date field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// A local calendar day, compared with the member's local day.
    Day(NaiveDate),
    /// An exact instant.
    Instant(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    fn holds<T: Ord>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeTest {
    Cmp(CmpOp, TimeBound),
    Between(TimeBound, TimeBound),
    WithinLastDays(u32),
    WithinNextDays(u32),
}

fn bound_holds(op: CmpOp, ms: Millis, day: NaiveDate, b: TimeBound) -> bool {
    match b {
        TimeBound::Day(d) => op.holds(day, d),
        TimeBound::Instant(x) => op.holds(ms, x),
    }
}

impl TimeTest {
    /// An instant `ms` whose local day is `day`, on a member whose today is `today`.
    pub fn matches_instant(&self, ms: Millis, day: NaiveDate, today: NaiveDate) -> bool {
        match *self {
            TimeTest::Cmp(op, b) => bound_holds(op, ms, day, b),
            TimeTest::Between(lo, hi) => {
                bound_holds(CmpOp::Gte, ms, day, lo) && bound_holds(CmpOp::Lte, ms, day, hi)
            }
            TimeTest::WithinLastDays(n) => {
                today
                    .checked_sub_days(Days::new(n.into()))
                    .is_some_and(|s| s <= day)
                    && day <= today
            }
            TimeTest::WithinNextDays(n) => {
                today <= day
                    && today
                        .checked_add_days(Days::new(n.into()))
                        .is_none_or(|e| day <= e)
            }
        }
    }

    /// A birthday: bounds compare the date of birth, `within_next_days` the next birthday.
    /// (The parser only accepts day bounds and `within_next_days` on birthdays.)
    pub fn matches_birthday(&self, b: NaiveDate, today: NaiveDate) -> bool {
        match *self {
            TimeTest::WithinNextDays(n) => {
                crate::row::days_until_birthday(b, today) <= i64::from(n)
            }
            TimeTest::WithinLastDays(_) => false,
            _ => self.matches_instant(0, b, today),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagTest {
    /// Has this tag (`has_tag`, `contains`).
    Has(String),
    /// Has at least one of these (`in`).
    Any(Vec<String>),
    /// Has none of these (`not_in`).
    None(Vec<String>),
}

impl TagTest {
    pub fn matches<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        let has = |t: &str| tags.iter().any(|x| x.as_ref() == t);
        match self {
            TagTest::Has(t) => has(t),
            TagTest::Any(ts) => ts.iter().any(|t| has(t)),
            TagTest::None(ts) => !ts.iter().any(|t| has(t)),
        }
    }
}

/// A scalar operand of an attribute test.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// A borrowed attribute value, as both evaluators see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrRef<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    /// Arrays and objects.
    Other(&'a serde_json::Value),
}

impl<'a> AttrRef<'a> {
    /// `None` for JSON null, which counts as missing.
    pub fn from_json(v: &'a serde_json::Value) -> Option<AttrRef<'a>> {
        use serde_json::Value;
        match v {
            Value::Null => None,
            Value::Bool(b) => Some(AttrRef::Bool(*b)),
            Value::Number(n) => Some(AttrRef::Num(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => Some(AttrRef::Str(s)),
            other => Some(AttrRef::Other(other)),
        }
    }
}

impl Scalar {
    fn equals(&self, v: AttrRef<'_>) -> bool {
        match (self, v) {
            (Scalar::Str(a), AttrRef::Str(b)) => a == b,
            (Scalar::Num(a), AttrRef::Num(b)) => *a == b,
            (Scalar::Bool(a), AttrRef::Bool(b)) => *a == b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrTest {
    Eq(Scalar),
    Ne(Scalar),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    /// Numeric comparison; a non-number attribute does not match.
    Num(CmpOp, f64),
    Between(f64, f64),
    Contains(String),
}

impl AttrTest {
    pub fn matches(&self, v: AttrRef<'_>) -> bool {
        let num = match v {
            AttrRef::Num(n) => Some(n),
            _ => None,
        };
        match self {
            AttrTest::Eq(s) => s.equals(v),
            AttrTest::Ne(s) => !s.equals(v),
            AttrTest::In(ss) => ss.iter().any(|s| s.equals(v)),
            AttrTest::NotIn(ss) => !ss.iter().any(|s| s.equals(v)),
            AttrTest::Num(op, x) => num.is_some_and(|n| match op {
                CmpOp::Gt => n > *x,
                CmpOp::Gte => n >= *x,
                CmpOp::Lt => n < *x,
                CmpOp::Lte => n <= *x,
            }),
            AttrTest::Between(lo, hi) => num.is_some_and(|n| *lo <= n && n <= *hi),
            AttrTest::Contains(needle) => match v {
                AttrRef::Str(s) => s.contains(needle.as_str()),
                AttrRef::Other(serde_json::Value::Array(items)) => {
                    items.iter().any(|i| i.as_str() == Some(needle.as_str()))
                }
                _ => false,
            },
        }
    }
}

impl Node {
    /// Parses and validates the JSON form; errors name the JSON path from the root.
    pub fn from_json(v: &serde_json::Value) -> Result<Node, SegmentError> {
        Node::from_json_at(v, "")
    }

    /// Like [`Node::from_json`], with paths prefixed by where the tree sits in a larger
    /// document (e.g. `conditions`).
    pub fn from_json_at(v: &serde_json::Value, prefix: &str) -> Result<Node, SegmentError> {
        let node = crate::parse::parse_node(v, prefix, 0)?;
        let leaves = node.leaves();
        if leaves > MAX_LEAVES {
            return Err(SegmentError::TreeTooLarge {
                path: if prefix.is_empty() { "$" } else { prefix }.to_owned(),
                leaves,
                max: MAX_LEAVES,
            });
        }
        Ok(node)
    }

    /// How many conditions (not `all`/`any`/`not`) the tree holds.
    pub fn leaves(&self) -> usize {
        match self {
            Node::All(xs) | Node::Any(xs) => xs.iter().map(Node::leaves).sum(),
            Node::Not(x) => x.leaves(),
            Node::Cond(_) | Node::Event(_) | Node::Measure(_) => 1,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Node::All(xs) => json!({"all": xs.iter().map(Node::to_json).collect::<Vec<_>>()}),
            Node::Any(xs) => json!({"any": xs.iter().map(Node::to_json).collect::<Vec<_>>()}),
            Node::Not(x) => json!({"not": x.to_json()}),
            Node::Cond(c) => {
                let mut o = serde_json::Map::new();
                o.insert("field".into(), c.field.name().into());
                o.insert("op".into(), c.op.name().into());
                if !matches!(c.op, Op::IsSet | Op::IsNull) {
                    o.insert("value".into(), c.value.clone());
                }
                serde_json::Value::Object(o)
            }
            Node::Event(e) => json!({
                "event": e.event,
                "within_last_days": e.within_last_days,
                "op": e.op.name(),
                "value": e.value,
            }),
            Node::Measure(m) => {
                let mut o = match &m.measure {
                    Measure::PointsExpiring { within_next_days } => json!({
                        "field": "points_expiring",
                        "within_next_days": within_next_days,
                    }),
                    Measure::Purchased {
                        key,
                        values,
                        within_last_days,
                    } => {
                        let mut o = json!({ "purchased": { key.name(): values } });
                        if let Some(n) = within_last_days {
                            o["within_last_days"] = json!(n);
                        }
                        o
                    }
                };
                o["op"] = json!(m.op.name());
                o["value"] = m.value.clone();
                o
            }
        }
    }

    /// The store-computed measures the tree names, each once.
    pub fn measures(&self) -> Vec<Measure> {
        fn walk(n: &Node, out: &mut Vec<Measure>) {
            match n {
                Node::All(xs) | Node::Any(xs) => xs.iter().for_each(|x| walk(x, out)),
                Node::Not(x) => walk(x, out),
                Node::Measure(m) if !out.contains(&m.measure) => out.push(m.measure.clone()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Whether any event condition occurs (those need an event source to evaluate).
    pub fn has_event_conditions(&self) -> bool {
        match self {
            Node::All(xs) | Node::Any(xs) => xs.iter().any(Node::has_event_conditions),
            Node::Not(x) => x.has_event_conditions(),
            Node::Cond(_) => false,
            Node::Event(_) | Node::Measure(_) => true,
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Node::from_json(&v).map_err(serde::de::Error::custom)
    }
}
