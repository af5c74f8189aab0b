//! A segment condition tree as SQL: a `WHERE` clause over `memberops_store::SEGMENT_FROM`
//! (`m` members, `s` aggregates, `g` stored intelligence, `l` loyalty account) that means
//! exactly what the row evaluator means (see `memberops_segments::tree` for the semantics).
//! Measures (points expiring, purchases) are the store's own subqueries, the ones the index
//! prefetches with, so both engines read the same numbers.
//!
//! Two things make that exact:
//! - every leaf is `COALESCE(…, FALSE)`, so a missing value is false and `NOT` of it true,
//!   as in the evaluator (SQL's NULL would otherwise make `NOT` false too);
//! - calendar tests run on each member's local calendar: the clause branches on
//!   `m.time_zone` (a workspace has few zones) and turns "local day ≥ D" into "instant ≥
//!   the first instant of D in that zone", ages into birth-date cut-offs, and "birthday
//!   within n days" into the list of month-days that qualify.
//!
//! Operands are written as literals (numbers formatted by Rust, strings quoted with `'`
//! doubled), so the clause is self-contained and can be embedded in subqueries.

use chrono::{Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use memberops_core::time::Millis;
use memberops_segments::row::{days_until_birthday, local_day};
use memberops_segments::tree::{
    AttrTest, CmpOp, EventCond, Field, IntTest, Kind, Measure, MeasureCond, Node, NumTest, Scalar,
    StrTest, TagTest, Test, TimeBound, TimeTest,
};
use memberops_store::Backend;

/// What a tree is rendered against.
pub struct SqlContext {
    pub backend: Backend,
    pub workspace_id: String,
    pub as_of: Millis,
    /// Every zone members of the workspace are in.
    pub zones: Vec<Tz>,
    /// The tier of members without a loyalty account (the program's first tier).
    pub base_tier: Option<String>,
    /// Minor-unit digits of the workspace currency (`clv_12m` is compared in major units).
    pub money_exponent: u8,
}

const DAY_MS: i64 = 86_400_000;

pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn num(x: f64) -> String {
    // `{:?}` always keeps a decimal point or exponent, which both databases read as a float.
    format!("{x:?}")
}

fn leaf(expr: String) -> String {
    format!("COALESCE(({expr}), FALSE)")
}

/// The `WHERE` clause for `node`.
pub fn where_sql(node: &Node, cx: &SqlContext) -> String {
    match node {
        Node::All(xs) if xs.is_empty() => "TRUE".into(),
        Node::Any(xs) if xs.is_empty() => "FALSE".into(),
        Node::All(xs) => join(xs, " AND ", cx),
        Node::Any(xs) => join(xs, " OR ", cx),
        Node::Not(x) => format!("(NOT ({}))", where_sql(x, cx)),
        Node::Cond(c) => leaf(cond(&c.field, &c.test, cx)),
        Node::Event(e) => leaf(event(e, cx)),
        Node::Measure(m) => leaf(measure(m, cx)),
    }
}

fn measure(m: &MeasureCond, cx: &SqlContext) -> String {
    let x = match &m.measure {
        Measure::PointsExpiring { within_next_days } => memberops_store::points_expiring_sql(
            "m.id",
            cx.as_of,
            cx.as_of
                .saturating_add(i64::from(*within_next_days) * DAY_MS),
        ),
        Measure::Purchased {
            key,
            values,
            within_last_days,
        } => memberops_store::purchased_sql(
            "m.id",
            key.name(),
            values,
            within_last_days.map(|n| cx.as_of - i64::from(n) * DAY_MS),
            cx.as_of,
        ),
    };
    int_test(&x, &m.test)
}

fn join(xs: &[Node], op: &str, cx: &SqlContext) -> String {
    let parts: Vec<String> = xs
        .iter()
        .map(|x| format!("({})", where_sql(x, cx)))
        .collect();
    balanced(&parts, op)
}

/// `(a op b op …)` grouped in nested runs of at most eight, so that a long list nests a
/// few levels deep instead of one per item (SQLite refuses expressions deeper than 1,000:
/// `Expression tree is too large`).
fn balanced(parts: &[String], op: &str) -> String {
    const RUN: usize = 8;
    if parts.len() <= RUN {
        return format!("({})", parts.join(op));
    }
    let chunk = parts.len().div_ceil(RUN);
    let groups: Vec<String> = parts.chunks(chunk).map(|c| balanced(c, op)).collect();
    format!("({})", groups.join(op))
}

fn event(e: &EventCond, cx: &SqlContext) -> String {
    let since = cx.as_of - i64::from(e.within_last_days) * DAY_MS;
    let count = format!(
        "(SELECT COUNT(*) FROM events e WHERE e.workspace_id = {} AND e.member_id = m.id AND e.type = {} \
         AND e.occurred_at > {since} AND e.occurred_at <= {})",
        quote(&cx.workspace_id),
        quote(&e.event),
        cx.as_of
    );
    int_test(&count, &e.test)
}

fn int_test(x: &str, t: &IntTest) -> String {
    let list = |xs: &[i64]| xs.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    match t {
        IntTest::Eq(v) => format!("{x} = {v}"),
        IntTest::Ne(v) => format!("{x} <> {v}"),
        IntTest::In(vs) => format!("{x} IN ({})", list(vs)),
        IntTest::NotIn(vs) => format!("{x} NOT IN ({})", list(vs)),
        IntTest::Gt(v) => format!("{x} > {v}"),
        IntTest::Gte(v) => format!("{x} >= {v}"),
        IntTest::Lt(v) => format!("{x} < {v}"),
        IntTest::Lte(v) => format!("{x} <= {v}"),
        IntTest::Between(lo, hi) => format!("{x} BETWEEN {lo} AND {hi}"),
    }
}

const SPEND: &str = "(COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0))";

fn column(field: &Field, cx: &SqlContext) -> String {
    match field {
        Field::Gender => "m.gender".into(),
        Field::Birthday => "m.birthday".into(),
        Field::Region => "m.region".into(),
        Field::Channel => "m.channel".into(),
        // A member without a loyalty account is on the program's first tier with nothing.
        Field::Tier => match &cx.base_tier {
            Some(t) => format!("COALESCE(l.tier, {})", quote(t)),
            None => "l.tier".into(),
        },
        Field::PointsBalance => "COALESCE(l.points_balance, 0)".into(),
        Field::StoredValue => "(COALESCE(l.sv_principal, 0) + COALESCE(l.sv_bonus, 0))".into(),
        Field::FirstOrderAt => "s.first_order_at".into(),
        Field::IncomeBand => "m.income_band".into(),
        // Beside the member row (most members of a brand without stores have none).
        Field::Store => {
            "(SELECT a.store_code FROM member_stores a WHERE a.member_id = m.id)".into()
        }
        Field::Staff => {
            "(SELECT a.staff_code FROM member_stores a WHERE a.member_id = m.id)".into()
        }
        Field::PAlive | Field::ExpectedOrders90d | Field::Clv12m => predicted(field, cx),
        Field::RegisteredAt => "m.registered_at".into(),
        Field::Orders => "COALESCE(s.order_count, 0)".into(),
        Field::Spend => SPEND.into(),
        Field::Aov => {
            format!("(CASE WHEN COALESCE(s.order_count, 0) > 0 THEN {SPEND} / s.order_count END)")
        }
        Field::LastOrderAt => "s.last_order_at".into(),
        Field::Stage => "g.stage".into(),
        Field::RScore => "g.r_score".into(),
        Field::FScore => "g.f_score".into(),
        Field::MScore => "g.m_score".into(),
        Field::RfmClass => "g.rfm_class".into(),
        Field::ValueClass => "g.value_class".into(),
        // Handled by their own renderers.
        Field::Age | Field::Tags | Field::Attr(_) | Field::Consent(_) => "NULL".into(),
    }
}

/// A predicted value (`member_predictions`, docs/predicted-value.md), as the index reads it:
/// the CLV in major units is the minor amount as a double divided by 10^exponent, the same
/// IEEE division on both sides.
fn predicted(field: &Field, cx: &SqlContext) -> String {
    let expr = match field {
        Field::PAlive => "pv.p_alive".to_owned(),
        Field::ExpectedOrders90d => "pv.expected_orders_90d".to_owned(),
        _ => format!(
            "CAST(pv.clv_12m_minor AS DOUBLE PRECISION) / {}",
            10_i64.pow(u32::from(cx.money_exponent))
        ),
    };
    format!("(SELECT {expr} FROM member_predictions pv WHERE pv.member_id = m.id)")
}

fn cond(field: &Field, test: &Test, cx: &SqlContext) -> String {
    match field {
        Field::Tags => return tags(test, cx),
        Field::Attr(key) => return attr(key, test, cx),
        Field::Age => return age(test, cx),
        Field::Consent(ch) => return consent(ch, test, cx),
        _ => {}
    }
    let col = column(field, cx);
    match test {
        Test::IsSet => format!("{col} IS NOT NULL"),
        Test::IsNull => format!("{col} IS NULL"),
        Test::Int(t) => int_test(&col, t),
        Test::Enum(mask) => {
            let codes = match field.kind() {
                Kind::Enum(codes) => codes,
                _ => &[][..],
            };
            let on: Vec<String> = codes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask >> i & 1 == 1)
                .map(|(_, c)| quote(c))
                .collect();
            if on.is_empty() {
                "FALSE".into()
            } else {
                format!("{col} IN ({})", on.join(", "))
            }
        }
        Test::Str(t) => str_test(&col, t, cx),
        Test::Num(NumTest::Cmp(op, x)) => {
            let op = match op {
                CmpOp::Gt => ">",
                CmpOp::Gte => ">=",
                CmpOp::Lt => "<",
                CmpOp::Lte => "<=",
            };
            format!("{col} {op} {}", num(*x))
        }
        Test::Num(NumTest::Between(lo, hi)) => {
            format!("{col} BETWEEN {} AND {}", num(*lo), num(*hi))
        }
        Test::Time(t) if *field == Field::Birthday => birthday(&col, t, cx),
        Test::Time(t) => instant(&col, t, cx),
        Test::Tags(_) | Test::Attr(_) | Test::Bool(_) => "FALSE".into(),
    }
}

/// Consent on one channel (a fixed name, so it is safe in a JSON path): `m.consent` holds
/// `{"sms": true, …}`; a channel left out, or not a boolean, is unknown.
fn consent(ch: &str, test: &Test, cx: &SqlContext) -> String {
    let (is_bool, is_true) = match cx.backend {
        Backend::Sqlite => {
            let ty = format!("json_type(m.consent, '$.{ch}')");
            (
                format!("{ty} IN ('true', 'false')"),
                format!("{ty} = 'true'"),
            )
        }
        Backend::Postgres => {
            let j = format!("(m.consent::jsonb -> '{ch}')");
            (
                format!("jsonb_typeof({j}) = 'boolean'"),
                format!("({j}) = 'true'::jsonb"),
            )
        }
    };
    match test {
        Test::IsSet => is_bool,
        Test::IsNull => format!("NOT COALESCE(({is_bool}), FALSE)"),
        Test::Bool(mask) => match mask & 3 {
            0 => "FALSE".into(),
            1 => format!("({is_bool}) AND NOT ({is_true})"),
            2 => is_true,
            _ => is_bool,
        },
        _ => "FALSE".into(),
    }
}

fn contains(hay: &str, needle: &str, cx: &SqlContext) -> String {
    match cx.backend {
        Backend::Sqlite => format!("instr({hay}, {}) > 0", quote(needle)),
        Backend::Postgres => format!("strpos({hay}, {}) > 0", quote(needle)),
    }
}

fn str_test(col: &str, t: &StrTest, cx: &SqlContext) -> String {
    let list = |xs: &[String]| xs.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", ");
    match t {
        StrTest::Eq(v) => format!("{col} = {}", quote(v)),
        StrTest::Ne(v) => format!("{col} <> {}", quote(v)),
        StrTest::In(vs) => format!("{col} IN ({})", list(vs)),
        StrTest::NotIn(vs) => format!("{col} NOT IN ({})", list(vs)),
        StrTest::Contains(v) => contains(col, v, cx),
    }
}

/// `CASE m.time_zone WHEN … THEN f(zone) … ELSE FALSE END`.
fn per_zone(cx: &SqlContext, f: impl Fn(Tz, NaiveDate) -> String) -> String {
    if cx.zones.is_empty() {
        return "FALSE".into();
    }
    let arms: Vec<String> = cx
        .zones
        .iter()
        .map(|&tz| {
            format!(
                "WHEN {} THEN ({})",
                quote(tz.name()),
                f(tz, local_day(cx.as_of, tz))
            )
        })
        .collect();
    format!("(CASE m.time_zone {} ELSE FALSE END)", arms.join(" "))
}

/// The first instant whose local day in `tz` is `d` or later.
pub fn day_start(d: NaiveDate, tz: Tz) -> Millis {
    // Midnight may not exist (a DST gap): take the first hour that does.
    for h in 0..24 {
        if let Some(t) = d
            .and_hms_opt(h, 0, 0)
            .and_then(|n| tz.from_local_datetime(&n).earliest())
        {
            return t.timestamp_millis();
        }
    }
    d.and_hms_opt(0, 0, 0)
        .map(|n| n.and_utc().timestamp_millis())
        .unwrap_or(0)
}

fn next_day(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(1))
}

/// `local_day(col) op d` as instant comparisons in zone `tz`.
fn day_cmp(col: &str, op: CmpOp, d: NaiveDate, tz: Tz) -> String {
    let after = |d: NaiveDate| match next_day(d) {
        Some(n) => format!("{col} >= {}", day_start(n, tz)),
        None => "FALSE".into(),
    };
    let before_next = |d: NaiveDate| match next_day(d) {
        Some(n) => format!("{col} < {}", day_start(n, tz)),
        None => format!("{col} IS NOT NULL"),
    };
    match op {
        CmpOp::Gt => after(d),
        CmpOp::Gte => format!("{col} >= {}", day_start(d, tz)),
        CmpOp::Lt => format!("{col} < {}", day_start(d, tz)),
        CmpOp::Lte => before_next(d),
    }
}

fn bound(col: &str, op: CmpOp, b: TimeBound, cx: &SqlContext) -> String {
    let sym = match op {
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
    };
    match b {
        TimeBound::Instant(x) => format!("{col} {sym} {x}"),
        TimeBound::Day(d) => per_zone(cx, |tz, _| day_cmp(col, op, d, tz)),
    }
}

fn instant(col: &str, t: &TimeTest, cx: &SqlContext) -> String {
    match *t {
        TimeTest::Cmp(op, b) => bound(col, op, b, cx),
        TimeTest::Between(lo, hi) => format!(
            "({}) AND ({})",
            bound(col, CmpOp::Gte, lo, cx),
            bound(col, CmpOp::Lte, hi, cx)
        ),
        TimeTest::WithinLastDays(n) => per_zone(cx, |tz, today| {
            match today.checked_sub_days(Days::new(n.into())) {
                Some(start) => format!(
                    "({}) AND ({})",
                    day_cmp(col, CmpOp::Gte, start, tz),
                    day_cmp(col, CmpOp::Lte, today, tz)
                ),
                None => "FALSE".into(),
            }
        }),
        TimeTest::WithinNextDays(n) => per_zone(cx, |tz, today| {
            let lo = day_cmp(col, CmpOp::Gte, today, tz);
            match today.checked_add_days(Days::new(n.into())) {
                Some(end) => format!("({lo}) AND ({})", day_cmp(col, CmpOp::Lte, end, tz)),
                None => lo,
            }
        }),
    }
}

fn date_lit(d: NaiveDate) -> String {
    quote(&d.format("%Y-%m-%d").to_string())
}

fn birthday(col: &str, t: &TimeTest, cx: &SqlContext) -> String {
    let cmp = |op: CmpOp, b: TimeBound| match b {
        TimeBound::Day(d) => {
            let sym = match op {
                CmpOp::Gt => ">",
                CmpOp::Gte => ">=",
                CmpOp::Lt => "<",
                CmpOp::Lte => "<=",
            };
            format!("{col} {sym} {}", date_lit(d))
        }
        // The parser only takes dates for birthdays.
        TimeBound::Instant(_) => "FALSE".into(),
    };
    match *t {
        TimeTest::Cmp(op, b) => cmp(op, b),
        TimeTest::Between(lo, hi) => {
            format!("({}) AND ({})", cmp(CmpOp::Gte, lo), cmp(CmpOp::Lte, hi))
        }
        TimeTest::WithinLastDays(_) => "FALSE".into(),
        TimeTest::WithinNextDays(n) => per_zone(cx, |_, today| {
            // The month-days whose next birthday is within n days, by the evaluator's own
            // rule (29 February falls on 28 February in common years).
            let mut days = Vec::new();
            for m in 1..=12u32 {
                for d in 1..=31u32 {
                    if let Some(b) = NaiveDate::from_ymd_opt(2000, m, d)
                        && days_until_birthday(b, today) <= i64::from(n)
                    {
                        days.push(quote(&format!("{m:02}-{d:02}")));
                    }
                }
            }
            if days.is_empty() {
                "FALSE".into()
            } else {
                format!("substr({col}, 6, 5) IN ({})", days.join(", "))
            }
        }),
    }
}

/// Latest birth date whose age on `today` is at least `n`, as a literal; `None` when no
/// date qualifies (`Some("")`-like cases are folded into TRUE/FALSE by the caller).
fn age_cut(today: NaiveDate, n: i64) -> Result<NaiveDate, bool> {
    let year = i64::from(today.year()) - n;
    if year < 1 {
        return Err(false);
    }
    if year > 9999 {
        return Err(true);
    }
    let y = year as i32;
    NaiveDate::from_ymd_opt(y, today.month(), today.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, 2, 28))
        .ok_or(false)
}

fn age(test: &Test, cx: &SqlContext) -> String {
    let t = match test {
        Test::IsSet => return "m.birthday IS NOT NULL".into(),
        Test::IsNull => return "m.birthday IS NULL".into(),
        Test::Int(t) => t,
        _ => return "FALSE".into(),
    };
    per_zone(cx, |_, today| {
        // age >= n  <=>  birthday <= cut(n)
        let ge = |n: i64| match age_cut(today, n) {
            Ok(d) => format!("m.birthday <= {}", date_lit(d)),
            Err(true) => "m.birthday IS NOT NULL".into(),
            Err(false) => "FALSE".into(),
        };
        let lt = |n: i64| format!("m.birthday IS NOT NULL AND NOT ({})", ge(n));
        let le = |n: i64| lt(n.saturating_add(1));
        let eq = |n: i64| format!("({}) AND ({})", ge(n), le(n));
        let ne = |n: i64| format!("m.birthday IS NOT NULL AND NOT ({})", eq(n));
        match t {
            IntTest::Eq(n) => eq(*n),
            IntTest::Ne(n) => ne(*n),
            IntTest::In(ns) => balanced(
                &ns.iter()
                    .map(|n| format!("({})", eq(*n)))
                    .collect::<Vec<_>>(),
                " OR ",
            ),
            IntTest::NotIn(ns) => balanced(
                &ns.iter()
                    .map(|n| format!("({})", ne(*n)))
                    .collect::<Vec<_>>(),
                " AND ",
            ),
            IntTest::Gt(n) => ge(n.saturating_add(1)),
            IntTest::Gte(n) => ge(*n),
            IntTest::Lt(n) => lt(*n),
            IntTest::Lte(n) => le(*n),
            IntTest::Between(lo, hi) => format!("({}) AND ({})", ge(*lo), le(*hi)),
        }
    })
}

fn tags(test: &Test, cx: &SqlContext) -> String {
    let any = |list: &[String]| {
        let items = list.iter().map(|t| quote(t)).collect::<Vec<_>>().join(", ");
        let profile = match cx.backend {
            Backend::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(m.tags) j WHERE j.value IN ({items}))")
            }
            Backend::Postgres => format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(m.tags::jsonb) j(v) WHERE j.v IN ({items}))"
            ),
        };
        format!(
            "(EXISTS (SELECT 1 FROM member_tags t WHERE t.member_id = m.id AND t.tag IN ({items})) OR {profile})"
        )
    };
    let some = || {
        let len = match cx.backend {
            Backend::Sqlite => "json_array_length(m.tags)",
            Backend::Postgres => "jsonb_array_length(m.tags::jsonb)",
        };
        format!("({len} > 0 OR EXISTS (SELECT 1 FROM member_tags t WHERE t.member_id = m.id))")
    };
    match test {
        Test::IsSet => some(),
        Test::IsNull => format!("NOT {}", some()),
        Test::Tags(TagTest::Has(t)) => any(std::slice::from_ref(t)),
        Test::Tags(TagTest::Any(ts)) => any(ts),
        Test::Tags(TagTest::None(ts)) => format!("NOT {}", any(ts)),
        _ => "FALSE".into(),
    }
}

/// The pieces of an attribute lookup for one backend.
struct AttrSql {
    present: String,
    is_str: String,
    is_num: String,
    is_bool: String,
    text: String,
    number: String,
    truth: String,
    array_has: Box<dyn Fn(&str) -> String>,
}

fn attr_sql(key: &str, cx: &SqlContext) -> AttrSql {
    match cx.backend {
        Backend::Sqlite => {
            let path = quote(&format!("$.\"{key}\""));
            let ty = format!("json_type(m.attributes, {path})");
            let val = format!("json_extract(m.attributes, {path})");
            let p2 = path.clone();
            AttrSql {
                present: format!("{ty} IS NOT NULL AND {ty} <> 'null'"),
                is_str: format!("{ty} = 'text'"),
                is_num: format!("{ty} IN ('integer', 'real')"),
                is_bool: format!("{ty} IN ('true', 'false')"),
                text: val.clone(),
                number: val,
                truth: format!("{ty} = 'true'"),
                array_has: Box::new(move |needle| {
                    format!(
                        "{ty} = 'array' AND EXISTS (SELECT 1 FROM json_each(m.attributes, {p2}) j \
                         WHERE j.type = 'text' AND j.value = {})",
                        quote(needle)
                    )
                }),
            }
        }
        Backend::Postgres => {
            let k = quote(key);
            let j = format!("(m.attributes::jsonb -> {k})");
            let ty = format!("jsonb_typeof({j})");
            let t2 = ty.clone();
            let j2 = j.clone();
            AttrSql {
                present: format!("{ty} IS NOT NULL AND {ty} <> 'null'"),
                is_str: format!("{ty} = 'string'"),
                is_num: format!("{ty} = 'number'"),
                is_bool: format!("{ty} = 'boolean'"),
                text: format!("(m.attributes::jsonb ->> {k})"),
                number: format!(
                    "(CASE WHEN {ty} = 'number' THEN (m.attributes::jsonb ->> {k})::float8 END)"
                ),
                truth: format!("({ty} = 'boolean' AND (m.attributes::jsonb ->> {k}) = 'true')"),
                array_has: Box::new(move |needle| {
                    format!(
                        "CASE WHEN {t2} = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({j2}) x(v) \
                         WHERE jsonb_typeof(x.v) = 'string' AND (x.v #>> '{{}}') = {}) ELSE FALSE END",
                        quote(needle)
                    )
                }),
            }
        }
    }
}

fn attr(key: &str, test: &Test, cx: &SqlContext) -> String {
    if key.contains('"') || key.contains('\\') {
        // Not addressable as a JSON path; such keys never match (the index agrees only
        // for ordinary keys, which is what the console produces).
        return match test {
            Test::IsNull => "TRUE".into(),
            _ => "FALSE".into(),
        };
    }
    let a = attr_sql(key, cx);
    let eq = |s: &Scalar| match s {
        Scalar::Str(v) => format!(
            "COALESCE(({} AND {} = {}), FALSE)",
            a.is_str,
            a.text,
            quote(v)
        ),
        Scalar::Num(x) => format!(
            "COALESCE(({} AND {} = {}), FALSE)",
            a.is_num,
            a.number,
            num(*x)
        ),
        Scalar::Bool(b) => format!(
            "COALESCE(({} AND {}{}), FALSE)",
            a.is_bool,
            if *b { "" } else { "NOT " },
            a.truth
        ),
    };
    let any = |ss: &[Scalar]| {
        let parts: Vec<String> = ss.iter().map(|s| format!("({})", eq(s))).collect();
        balanced(&parts, " OR ")
    };
    let present = format!("COALESCE(({}), FALSE)", a.present);
    let t = match test {
        Test::IsSet => return a.present,
        Test::IsNull => return format!("NOT {present}"),
        Test::Attr(t) => t,
        _ => return "FALSE".into(),
    };
    match t {
        AttrTest::Eq(s) => eq(s),
        AttrTest::Ne(s) => format!("{present} AND NOT ({})", eq(s)),
        AttrTest::In(ss) => any(ss),
        AttrTest::NotIn(ss) => format!("{present} AND NOT {}", any(ss)),
        AttrTest::Num(op, x) => {
            let sym = match op {
                CmpOp::Gt => ">",
                CmpOp::Gte => ">=",
                CmpOp::Lt => "<",
                CmpOp::Lte => "<=",
            };
            format!("{} AND {} {sym} {}", a.is_num, a.number, num(*x))
        }
        AttrTest::Between(lo, hi) => format!(
            "{} AND {} BETWEEN {} AND {}",
            a.is_num,
            a.number,
            num(*lo),
            num(*hi)
        ),
        AttrTest::Contains(needle) => format!(
            "COALESCE(({} AND {}), FALSE) OR COALESCE(({}), FALSE)",
            a.is_str,
            contains(&a.text, needle, cx),
            (a.array_has)(needle)
        ),
    }
}
