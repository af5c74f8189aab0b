//! JSON → validated condition tree. Every error names the JSON path of the offending part,
//! so the console can point at the exact row of the condition editor.
//!
//! Node shapes:
//! - `{"all": [node…]}`, `{"any": [node…]}`, `{"not": node}`
//! - `{"field": "<field>", "op": "<op>", "value": …}` (`value` omitted for is_set/is_null)
//! - `{"event": "<type>", "within_last_days": 30, "op": "gte", "value": 2}`

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::error::SegmentError;
use crate::tree::{
    AttrTest, CmpOp, Cond, EventCond, Field, IntTest, Kind, MAX_DEPTH, Measure, MeasureCond, Node,
    NumTest, Op, ProductKey, Scalar, StrTest, TagTest, Test, TimeBound, TimeTest,
};

const MAX_LIST: usize = 10_000;
const MAX_DAYS: u64 = 36_500;

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn tree_err(path: &str, msg: impl Into<String>) -> SegmentError {
    SegmentError::InvalidTree {
        path: if path.is_empty() {
            "$".into()
        } else {
            path.into()
        },
        msg: msg.into(),
    }
}

fn mismatch(path: String, expected: &str) -> SegmentError {
    SegmentError::TypeMismatch {
        path,
        expected: expected.to_owned(),
    }
}

pub(crate) fn parse_node(v: &Value, path: &str, depth: usize) -> Result<Node, SegmentError> {
    if depth > MAX_DEPTH {
        return Err(SegmentError::TreeTooDeep {
            path: path.to_owned(),
            max: MAX_DEPTH,
        });
    }
    let Value::Object(o) = v else {
        return Err(tree_err(path, "expected a condition object"));
    };
    for key in ["all", "any"] {
        if let Some(children) = o.get(key) {
            only_keys(o, &[key], path)?;
            let p = join(path, key);
            let Value::Array(items) = children else {
                return Err(mismatch(p, "an array of conditions"));
            };
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, c)| parse_node(c, &index(&p, i), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if key == "all" {
                Node::All(nodes)
            } else {
                Node::Any(nodes)
            });
        }
    }
    if let Some(inner) = o.get("not") {
        only_keys(o, &["not"], path)?;
        return Ok(Node::Not(Box::new(parse_node(
            inner,
            &join(path, "not"),
            depth + 1,
        )?)));
    }
    if o.contains_key("event") {
        only_keys(o, &["event", "within_last_days", "op", "value"], path)?;
        return parse_event(o, path).map(Node::Event);
    }
    if o.contains_key("purchased") {
        only_keys(o, &["purchased", "within_last_days", "op", "value"], path)?;
        return parse_purchased(o, path).map(Node::Measure);
    }
    if o.get("field").and_then(Value::as_str) == Some("points_expiring") {
        only_keys(o, &["field", "within_next_days", "op", "value"], path)?;
        return parse_points_expiring(o, path).map(Node::Measure);
    }
    if o.contains_key("field") {
        only_keys(o, &["field", "op", "value"], path)?;
        return parse_cond(o, path).map(Node::Cond);
    }
    Err(tree_err(
        path,
        "expected one of `all`, `any`, `not`, `field`, `event`, `purchased`",
    ))
}

/// `op` and `value` of a measure: an integer comparison (`gte 1` when both are left out).
fn measure_test(
    o: &Map<String, Value>,
    path: &str,
    what: &str,
) -> Result<(Op, Value, IntTest), SegmentError> {
    if !o.contains_key("op") && !o.contains_key("value") {
        return Ok((Op::Gte, Value::from(1), IntTest::Gte(1)));
    }
    let op = parse_op(o, path)?;
    let value = o.get("value").cloned().unwrap_or(Value::Null);
    let test = int_test(op, &value, &join(path, "value")).map_err(|e| match e {
        SegmentError::UnsupportedOperator { op, .. } => SegmentError::UnsupportedOperator {
            path: join(path, "op"),
            op,
            field: what.to_owned(),
        },
        e => e,
    })?;
    Ok((op, value, test))
}

fn parse_points_expiring(o: &Map<String, Value>, path: &str) -> Result<MeasureCond, SegmentError> {
    let dp = join(path, "within_next_days");
    let days = match o.get("within_next_days") {
        Some(v) => days(v, &dp)?,
        None => return Err(tree_err(&dp, "missing")),
    };
    if !o.contains_key("op") {
        return Err(tree_err(&join(path, "op"), "missing"));
    }
    let (op, value, test) = measure_test(o, path, "points_expiring")?;
    Ok(MeasureCond {
        measure: Measure::PointsExpiring {
            within_next_days: days,
        },
        op,
        value,
        test,
    })
}

fn parse_purchased(o: &Map<String, Value>, path: &str) -> Result<MeasureCond, SegmentError> {
    let pp = join(path, "purchased");
    let Some(Value::Object(what)) = o.get("purchased") else {
        return Err(mismatch(pp, "an object: {\"sku\": …} or {\"category\": …}"));
    };
    let mut keys = what.iter();
    let (Some((k, v)), None) = (keys.next(), keys.next()) else {
        return Err(tree_err(
            &pp,
            "name exactly one of `sku`, `category`, `store`",
        ));
    };
    let key = match k.as_str() {
        "sku" => ProductKey::Sku,
        "category" => ProductKey::Category,
        "store" => ProductKey::Store,
        _ => {
            return Err(tree_err(
                &join(&pp, k),
                "expected `sku`, `category` or `store`",
            ));
        }
    };
    let vp = join(&pp, k);
    let mut values = match v {
        Value::String(_) => vec![string(v, &vp)?],
        _ => list(v, &vp, string)?,
    };
    if values.iter().any(|s| s.is_empty()) {
        return Err(tree_err(&vp, "empty value"));
    }
    values.sort_unstable();
    values.dedup();
    let within_last_days = match o.get("within_last_days") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|d| (1..=MAX_DAYS).contains(d))
                .map(|d| d as u32)
                .ok_or_else(|| {
                    mismatch(
                        join(path, "within_last_days"),
                        "a whole number of days, 1–36500",
                    )
                })?,
        ),
    };
    let (op, value, test) = measure_test(o, path, "purchased")?;
    Ok(MeasureCond {
        measure: Measure::Purchased {
            key,
            values,
            within_last_days,
        },
        op,
        value,
        test,
    })
}

fn only_keys(o: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), SegmentError> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(tree_err(&join(path, k), "unexpected key")),
        None => Ok(()),
    }
}

fn get_str<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, SegmentError> {
    match o.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(mismatch(join(path, key), "a string")),
        None => Err(tree_err(&join(path, key), "missing")),
    }
}

fn parse_op(o: &Map<String, Value>, path: &str) -> Result<Op, SegmentError> {
    let name = get_str(o, "op", path)?;
    Op::parse(name).ok_or_else(|| SegmentError::UnknownOperator {
        path: join(path, "op"),
        op: name.to_owned(),
    })
}

fn parse_event(o: &Map<String, Value>, path: &str) -> Result<EventCond, SegmentError> {
    let event = get_str(o, "event", path)?;
    if event.trim().is_empty() {
        return Err(tree_err(&join(path, "event"), "empty event type"));
    }
    let dp = join(path, "within_last_days");
    let days = match o.get("within_last_days") {
        Some(v) => v
            .as_u64()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| mismatch(dp.clone(), "a whole number of days, 1–36500"))?,
        None => return Err(tree_err(&dp, "missing")),
    };
    let op = parse_op(o, path)?;
    let value = o.get("value").cloned().unwrap_or(Value::Null);
    let test = int_test(op, &value, &join(path, "value")).map_err(|e| match e {
        SegmentError::UnsupportedOperator { op, .. } => SegmentError::UnsupportedOperator {
            path: join(path, "op"),
            op,
            field: format!("event {event}"),
        },
        e => e,
    })?;
    Ok(EventCond {
        event: event.to_owned(),
        within_last_days: u32::try_from(days).unwrap_or(u32::MAX),
        op,
        value,
        test,
    })
}

fn parse_cond(o: &Map<String, Value>, path: &str) -> Result<Cond, SegmentError> {
    let name = get_str(o, "field", path)?;
    let field = Field::parse(name).ok_or_else(|| SegmentError::UnknownField {
        path: join(path, "field"),
        field: name.to_owned(),
    })?;
    let op = parse_op(o, path)?;
    let vp = join(path, "value");
    let unsupported = || SegmentError::UnsupportedOperator {
        path: join(path, "op"),
        field: name.to_owned(),
        op: op.name().to_owned(),
    };
    if matches!(op, Op::IsSet | Op::IsNull) {
        if o.get("value").is_some_and(|v| !v.is_null()) {
            return Err(tree_err(&vp, "is_set and is_null take no value"));
        }
        let test = if op == Op::IsSet {
            Test::IsSet
        } else {
            Test::IsNull
        };
        return Ok(Cond {
            field,
            op,
            value: Value::Null,
            test,
        });
    }
    let Some(value) = o.get("value") else {
        return Err(tree_err(&vp, "missing"));
    };
    let test = match field.kind() {
        Kind::Int => Test::Int(int_test(op, value, &vp).map_err(|e| match e {
            SegmentError::UnsupportedOperator { .. } => unsupported(),
            e => e,
        })?),
        Kind::Enum(codes) => Test::Enum(enum_test(op, value, &vp, codes).ok_or_else(unsupported)??),
        Kind::Str => Test::Str(match op {
            Op::Eq => StrTest::Eq(string(value, &vp)?),
            Op::Ne => StrTest::Ne(string(value, &vp)?),
            Op::In => StrTest::In(list(value, &vp, string)?),
            Op::NotIn => StrTest::NotIn(list(value, &vp, string)?),
            Op::Contains => StrTest::Contains(string(value, &vp)?),
            _ => return Err(unsupported()),
        }),
        Kind::Instant | Kind::Birthday => {
            let birthday = field.kind() == Kind::Birthday;
            let bound = |v: &Value, p: &str| time_bound(v, p, birthday);
            Test::Time(match op {
                Op::Gt => TimeTest::Cmp(CmpOp::Gt, bound(value, &vp)?),
                Op::Gte => TimeTest::Cmp(CmpOp::Gte, bound(value, &vp)?),
                Op::Lt => TimeTest::Cmp(CmpOp::Lt, bound(value, &vp)?),
                Op::Lte => TimeTest::Cmp(CmpOp::Lte, bound(value, &vp)?),
                Op::Between => {
                    let (lo, hi) = pair(value, &vp)?;
                    TimeTest::Between(bound(lo, &index(&vp, 0))?, bound(hi, &index(&vp, 1))?)
                }
                Op::WithinLastDays if !birthday => TimeTest::WithinLastDays(days(value, &vp)?),
                Op::WithinNextDays => TimeTest::WithinNextDays(days(value, &vp)?),
                _ => return Err(unsupported()),
            })
        }
        Kind::Bool => {
            let bit = |v: &Value, p: &str| -> Result<u8, SegmentError> {
                v.as_bool()
                    .map(|b| 1u8 << u8::from(b))
                    .ok_or_else(|| mismatch(p.to_owned(), "true or false"))
            };
            Test::Bool(match op {
                Op::Eq => bit(value, &vp)?,
                Op::Ne => 3 & !bit(value, &vp)?,
                _ => return Err(unsupported()),
            })
        }
        Kind::Num => Test::Num(num_test(op, value, &vp)?.ok_or_else(unsupported)?),
        Kind::Tags => Test::Tags(match op {
            Op::HasTag | Op::Contains => TagTest::Has(string(value, &vp)?),
            Op::In => TagTest::Any(list(value, &vp, string)?),
            Op::NotIn => TagTest::None(list(value, &vp, string)?),
            _ => return Err(unsupported()),
        }),
        Kind::Attr => Test::Attr(match op {
            Op::Eq => AttrTest::Eq(scalar(value, &vp)?),
            Op::Ne => AttrTest::Ne(scalar(value, &vp)?),
            Op::In => AttrTest::In(list(value, &vp, scalar)?),
            Op::NotIn => AttrTest::NotIn(list(value, &vp, scalar)?),
            Op::Contains => AttrTest::Contains(string(value, &vp)?),
            _ => match num_test(op, value, &vp)?.ok_or_else(unsupported)? {
                NumTest::Cmp(c, x) => AttrTest::Num(c, x),
                NumTest::Between(lo, hi) => AttrTest::Between(lo, hi),
            },
        }),
    };
    Ok(Cond {
        field,
        op,
        value: value.clone(),
        test,
    })
}

/// Comparisons of a number (`gt`, `gte`, `lt`, `lte`, `between`); `None` for another
/// operator.
fn num_test(op: Op, value: &Value, vp: &str) -> Result<Option<NumTest>, SegmentError> {
    let cmp = match op {
        Op::Gt => CmpOp::Gt,
        Op::Gte => CmpOp::Gte,
        Op::Lt => CmpOp::Lt,
        Op::Lte => CmpOp::Lte,
        Op::Between => {
            let (lo, hi) = pair(value, vp)?;
            let lo = number(lo, &index(vp, 0))?;
            let hi = number(hi, &index(vp, 1))?;
            if lo > hi {
                return Err(tree_err(vp, "between needs low <= high"));
            }
            return Ok(Some(NumTest::Between(lo, hi)));
        }
        _ => return Ok(None),
    };
    Ok(Some(NumTest::Cmp(cmp, number(value, vp)?)))
}

/// Integer operators; an operator that does not apply is reported by the caller.
fn int_test(op: Op, value: &Value, vp: &str) -> Result<IntTest, SegmentError> {
    let int = |v: &Value, p: &str| {
        v.as_i64()
            .ok_or_else(|| mismatch(p.to_owned(), "an integer"))
    };
    Ok(match op {
        Op::Eq => IntTest::Eq(int(value, vp)?),
        Op::Ne => IntTest::Ne(int(value, vp)?),
        Op::Gt => IntTest::Gt(int(value, vp)?),
        Op::Gte => IntTest::Gte(int(value, vp)?),
        Op::Lt => IntTest::Lt(int(value, vp)?),
        Op::Lte => IntTest::Lte(int(value, vp)?),
        Op::In => IntTest::In(list(value, vp, |v, p| int(v, p))?),
        Op::NotIn => IntTest::NotIn(list(value, vp, |v, p| int(v, p))?),
        Op::Between => {
            let (lo, hi) = pair(value, vp)?;
            let lo = int(lo, &index(vp, 0))?;
            let hi = int(hi, &index(vp, 1))?;
            if lo > hi {
                return Err(tree_err(vp, "between needs low <= high"));
            }
            IntTest::Between(lo, hi)
        }
        _ => {
            return Err(SegmentError::UnsupportedOperator {
                path: vp.to_owned(),
                field: String::new(),
                op: op.name().to_owned(),
            });
        }
    })
}

/// `None` when the operator does not apply to enums.
fn enum_test(
    op: Op,
    value: &Value,
    vp: &str,
    codes: &'static [&'static str],
) -> Option<Result<u32, SegmentError>> {
    let all = (1u32 << codes.len()) - 1;
    let code = |v: &Value, p: &str| -> Result<u32, SegmentError> {
        let s = v
            .as_str()
            .ok_or_else(|| mismatch(p.to_owned(), "a string"))?;
        let i = crate::eval::enum_index(codes, s)
            .ok_or_else(|| mismatch(p.to_owned(), &format!("one of {}", codes.join(", "))))?;
        Ok(1u32 << i)
    };
    let mask = |v: &Value| -> Result<u32, SegmentError> {
        Ok(list(v, vp, code)?.into_iter().fold(0, |a, b| a | b))
    };
    Some(match op {
        Op::Eq => code(value, vp),
        Op::Ne => code(value, vp).map(|m| all & !m),
        Op::In => mask(value),
        Op::NotIn => mask(value).map(|m| all & !m),
        _ => return None,
    })
}

fn string(v: &Value, p: &str) -> Result<String, SegmentError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| mismatch(p.to_owned(), "a string"))
}

fn number(v: &Value, p: &str) -> Result<f64, SegmentError> {
    v.as_f64().ok_or_else(|| mismatch(p.to_owned(), "a number"))
}

fn scalar(v: &Value, p: &str) -> Result<Scalar, SegmentError> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => n
            .as_f64()
            .map(Scalar::Num)
            .ok_or_else(|| mismatch(p.to_owned(), "a finite number")),
        _ => Err(mismatch(p.to_owned(), "a string, number or boolean")),
    }
}

fn days(v: &Value, p: &str) -> Result<u32, SegmentError> {
    v.as_u64()
        .filter(|d| *d <= MAX_DAYS)
        .map(|d| d as u32)
        .ok_or_else(|| mismatch(p.to_owned(), "a whole number of days, 0–36500"))
}

fn list<T>(
    v: &Value,
    p: &str,
    item: impl Fn(&Value, &str) -> Result<T, SegmentError>,
) -> Result<Vec<T>, SegmentError> {
    let Value::Array(items) = v else {
        return Err(mismatch(p.to_owned(), "an array"));
    };
    if items.is_empty() || items.len() > MAX_LIST {
        return Err(tree_err(p, "a list of 1–10000 values"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| item(x, &index(p, i)))
        .collect()
}

fn pair<'a>(v: &'a Value, p: &str) -> Result<(&'a Value, &'a Value), SegmentError> {
    match v {
        Value::Array(items) if items.len() == 2 => Ok((&items[0], &items[1])),
        _ => Err(mismatch(p.to_owned(), "an array of two values [low, high]")),
    }
}

/// `YYYY-MM-DD` is a local day; RFC 3339 an instant (birthdays take days only).
fn time_bound(v: &Value, p: &str, day_only: bool) -> Result<TimeBound, SegmentError> {
    let expected = if day_only {
        "a date YYYY-MM-DD"
    } else {
        "a date YYYY-MM-DD or an RFC 3339 time"
    };
    let s = v.as_str().ok_or_else(|| mismatch(p.to_owned(), expected))?;
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(TimeBound::Day(d));
    }
    if !day_only && let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(TimeBound::Instant(t.timestamp_millis()));
    }
    Err(mismatch(p.to_owned(), expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> SegmentError {
        Node::from_json(&v).expect_err("invalid")
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = err(json!({"all": [
            {"field": "gender", "op": "eq", "value": "female"},
            {"any": [{"field": "age", "op": "gte", "value": "thirty"}]}
        ]}));
        assert_eq!(e.code(), "type_mismatch");
        assert_eq!(e.path(), Some("all[1].any[0].value"));

        let e = err(json!({"any": [{"field": "favourite_colour", "op": "eq", "value": 1}]}));
        assert_eq!(e.code(), "unknown_field");
        assert_eq!(e.path(), Some("any[0].field"));

        let e = err(json!({"not": {"field": "region", "op": "gt", "value": "x"}}));
        assert_eq!(e.code(), "unsupported_operator");
        assert_eq!(e.path(), Some("not.op"));

        let e = err(json!({"field": "stage", "op": "in", "value": ["new", "dormant"]}));
        assert_eq!(e.path(), Some("value[1]"));

        let e = err(json!({"field": "orders", "op": "like", "value": 1}));
        assert_eq!(e.code(), "unknown_operator");

        let e = err(json!({"field": "orders", "op": "eq", "value": 1, "vaule": 2}));
        assert_eq!((e.code(), e.path()), ("invalid_tree", Some("vaule")));

        let e = err(json!({"event": "content.shared", "op": "gte", "value": 2}));
        assert_eq!(e.path(), Some("within_last_days"));

        let e = Node::from_json_at(
            &json!({"all": [{"field": "birthday", "op": "gt", "value": "2020-01-01T00:00:00Z"}]}),
            "conditions[1]",
        )
        .expect_err("birthday takes dates");
        assert_eq!(e.path(), Some("conditions[1].all[0].value"));

        let mut deep = json!({"field": "orders", "op": "gt", "value": 0});
        for _ in 0..40 {
            deep = json!({ "not": deep });
        }
        assert_eq!(err(deep).code(), "tree_too_deep");
    }

    #[test]
    fn round_trips_through_json() {
        let v = json!({"all": [
            {"field": "gender", "op": "in", "value": ["female", "other"]},
            {"field": "age", "op": "between", "value": [20, 35]},
            {"field": "tags", "op": "has_tag", "value": "coffee"},
            {"field": "attributes.vip_level", "op": "gte", "value": 3},
            {"field": "birthday", "op": "within_next_days", "value": 7},
            {"field": "last_order_at", "op": "within_last_days", "value": 30},
            {"field": "registered_at", "op": "gte", "value": "2025-01-01"},
            {"field": "region", "op": "is_null"},
            {"not": {"event": "content.shared", "within_last_days": 30, "op": "gte", "value": 2}}
        ]});
        let node = Node::from_json(&v).expect("valid");
        assert_eq!(node.to_json(), v);
        let v = json!({"all": [
            {"field": "points_expiring", "within_next_days": 30, "op": "gte", "value": 100},
            {"purchased": {"category": ["母婴用品"]}, "within_last_days": 90, "op": "gte", "value": 1},
            {"purchased": {"sku": ["SKU-1", "SKU-2"]}, "op": "eq", "value": 0},
            {"field": "consent.sms", "op": "eq", "value": true},
            {"field": "income_band", "op": "in", "value": ["10k-20k"]},
            {"field": "first_order_at", "op": "within_last_days", "value": 3},
            {"field": "stored_value_minor", "op": "gt", "value": 0}
        ]});
        let node = Node::from_json(&v).expect("valid");
        assert_eq!(node.to_json(), v);
        assert_eq!(node.measures().len(), 3);
        // `gte 1` when op and value are left out; one value may be a bare string.
        let short = Node::from_json(&json!({"purchased": {"category": "x"}})).expect("valid");
        assert_eq!(
            short.to_json(),
            json!({"purchased": {"category": ["x"]}, "op": "gte", "value": 1})
        );
        for (bad, path) in [
            (json!({"purchased": {"brand": "x"}}), "purchased.brand"),
            (
                json!({"purchased": {"sku": "a", "category": "b"}}),
                "purchased",
            ),
            (json!({"purchased": {"sku": ""}}), "purchased.sku"),
            (
                json!({"field": "points_expiring", "op": "gte", "value": 1}),
                "within_next_days",
            ),
            (
                json!({"field": "consent.fax", "op": "eq", "value": true}),
                "field",
            ),
            (
                json!({"field": "consent.sms", "op": "eq", "value": "yes"}),
                "value",
            ),
            (
                json!({"field": "consent.sms", "op": "gt", "value": true}),
                "op",
            ),
        ] {
            let e = err(bad.clone());
            assert_eq!(e.path(), Some(path), "{bad}: {e}");
        }
        let back: Node = serde_json::from_value(v).expect("serde");
        assert_eq!(back, node);
        assert!(node.has_event_conditions());
    }
}
