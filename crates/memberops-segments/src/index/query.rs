//! Query evaluation over the columns: each leaf becomes a bitset in one pass over the slots,
//! combined word-wise. Leaves on small domains (strings, enums, scores) are first turned
//! into a lookup table by running the shared leaf test on every code, so the per-member
//! work is one load, and the answer is the row evaluator's by construction.

use std::collections::BinaryHeap;

use chrono::{Datelike, NaiveDate};
use memberops_core::member::age_on;
use memberops_core::time::Millis;

use super::{SegmentIndex, bit};
use crate::error::SegmentError;
use crate::eval::{EvalContext, Val, event_matches, measure_matches, test_value};
use crate::row::{days_until_birthday, local_day};
use crate::tree::{Cond, Field, Node, TagTest, Test, TimeTest};

type Bits = Vec<u64>;

/// Per-query facts per time zone: today, and days to each (month, day) birthday.
struct Zones {
    today: Vec<NaiveDate>,
    /// Lazily built: `[zone][month * 32 + day]` days until that birthday.
    birthday_days: Vec<Vec<i64>>,
}

impl SegmentIndex {
    fn words(&self) -> usize {
        self.slots().div_ceil(64)
    }

    /// Bitset with bit `i` = `f(i)`, for every slot.
    fn fill(&self, f: impl Fn(usize) -> bool) -> Bits {
        let n = self.slots();
        let mut out = vec![0u64; self.words()];
        for (w, word) in out.iter_mut().enumerate() {
            let base = w * 64;
            let end = (base + 64).min(n);
            let mut acc = 0u64;
            for i in base..end {
                acc |= u64::from(f(i)) << (i - base);
            }
            *word = acc;
        }
        out
    }

    fn constant(&self, on: bool) -> Bits {
        vec![if on { u64::MAX } else { 0 }; self.words()]
    }

    fn zones(&self, as_of: Millis, need_birthdays: bool) -> Zones {
        let today: Vec<NaiveDate> = self.zones.iter().map(|&tz| local_day(as_of, tz)).collect();
        let birthday_days = if need_birthdays {
            today
                .iter()
                .map(|&t| {
                    let mut table = vec![i64::MAX; 13 * 32];
                    for m in 1..=12u32 {
                        for d in 1..=31u32 {
                            // The year is irrelevant to the next birthday; 2000 admits 29 Feb.
                            if let Some(b) = NaiveDate::from_ymd_opt(2000, m, d) {
                                table[(m * 32 + d) as usize] = days_until_birthday(b, t);
                            }
                        }
                    }
                    table
                })
                .collect()
        } else {
            Vec::new()
        };
        Zones {
            today,
            birthday_days,
        }
    }

    /// Bitset of live members matching `node`.
    pub fn matches(&self, node: &Node, ctx: &EvalContext<'_>) -> Vec<u64> {
        let zones = self.zones(ctx.as_of, needs_birthday_table(node));
        let mut bits = self.node(node, ctx, &zones);
        for (b, l) in bits.iter_mut().zip(&self.live) {
            *b &= l;
        }
        bits
    }

    /// Number of members matching `node`.
    pub fn count(&self, node: &Node, ctx: &EvalContext<'_>) -> u64 {
        self.matches(node, ctx)
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// Matching member ids in ascending order, `limit` at a time, after `cursor` (the
    /// previous page's `next_cursor`). Ordering by id keeps pages stable under upserts.
    pub fn members(
        &self,
        node: &Node,
        ctx: &EvalContext<'_>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<super::Page, SegmentError> {
        if limit == 0 {
            return Err(SegmentError::config("limit", "must be at least 1"));
        }
        let bits = self.matches(node, ctx);
        // Keep the `limit + 1` smallest ids after the cursor: a bounded max-heap.
        let mut heap: BinaryHeap<&str> = BinaryHeap::with_capacity(limit + 2);
        for (w, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let id = self.member_id(i);
                if cursor.is_some_and(|c| id <= c) {
                    continue;
                }
                if heap.len() <= limit {
                    heap.push(id);
                } else if heap.peek().is_some_and(|&top| id < top) {
                    heap.pop();
                    heap.push(id);
                }
            }
        }
        let mut ids: Vec<String> = heap
            .into_sorted_vec()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let more = ids.len() > limit;
        ids.truncate(limit);
        let next_cursor = if more { ids.last().cloned() } else { None };
        Ok(super::Page { ids, next_cursor })
    }

    fn node(&self, node: &Node, ctx: &EvalContext<'_>, z: &Zones) -> Bits {
        match node {
            Node::All(xs) => {
                let mut acc = self.constant(true);
                for x in xs {
                    let b = self.node(x, ctx, z);
                    acc.iter_mut().zip(&b).for_each(|(a, b)| *a &= b);
                }
                acc
            }
            Node::Any(xs) => {
                let mut acc = self.constant(false);
                for x in xs {
                    let b = self.node(x, ctx, z);
                    acc.iter_mut().zip(&b).for_each(|(a, b)| *a |= b);
                }
                acc
            }
            Node::Not(x) => {
                let mut b = self.node(x, ctx, z);
                b.iter_mut().for_each(|w| *w = !*w);
                b
            }
            Node::Event(e) => self.fill(|i| {
                // Dead slots are masked out later; skip the (possibly costly) lookup.
                self.is_live(i)
                    && event_matches(
                        e,
                        ctx.events
                            .event_count(self.member_id(i), &e.event, e.within_last_days),
                    )
            }),
            Node::Measure(m) => self.fill(|i| {
                self.is_live(i)
                    && measure_matches(m, ctx.events.measure(self.member_id(i), &m.measure))
            }),
            Node::Cond(c) => self.cond(c, z),
        }
    }

    /// A table over a small code domain: entry `c` = the shared test on code `c`.
    fn table<'a>(
        &'a self,
        test: &Test,
        domain: usize,
        val: impl Fn(usize) -> Val<'a>,
    ) -> Vec<bool> {
        let today = NaiveDate::MIN;
        (0..domain)
            .map(|c| test_value(test, &val(c), today))
            .collect()
    }

    fn cond(&self, c: &Cond, z: &Zones) -> Bits {
        let t = &c.test;
        let dict_n = self.dict.len();
        let str_col = |col: &[u32]| {
            let tab = self.table(t, dict_n, |code| {
                if code == 0 {
                    Val::Null
                } else {
                    Val::Str(self.dict.name(code as u32))
                }
            });
            self.fill(|i| tab[col[i] as usize])
        };
        let enum_col = |col: &[u8]| {
            let tab = self.table(t, 256, |code| {
                if code == 0 {
                    Val::Null
                } else {
                    Val::Enum((code - 1) as u8)
                }
            });
            self.fill(|i| tab[col[i] as usize])
        };
        let score_col = |col: &[u16]| {
            let tab = self.table(t, 257, |code| {
                if code == 0 {
                    Val::Null
                } else {
                    Val::Int(code as i64 - 1)
                }
            });
            self.fill(|i| tab[col[i] as usize])
        };
        match &c.field {
            Field::Gender => enum_col(&self.gender),
            Field::Stage => enum_col(&self.stage),
            Field::RfmClass => enum_col(&self.rfm_class),
            Field::ValueClass => enum_col(&self.value_class),
            Field::Region => str_col(&self.region),
            Field::Channel => str_col(&self.channel),
            Field::Tier => str_col(&self.tier),
            Field::IncomeBand => str_col(&self.income_band),
            Field::Store => str_col(&self.store),
            Field::Staff => str_col(&self.staff),
            Field::StoredValue => self.int_leaf(t, |i| Some(self.stored_value[i])),
            Field::PAlive => self.num_leaf(t, &self.p_alive),
            Field::ExpectedOrders90d => self.num_leaf(t, &self.expected_orders),
            Field::Clv12m => self.num_leaf(t, &self.clv_12m),
            Field::FirstOrderAt => {
                self.instant_leaf(t, &self.first_order_ms, &self.first_order_day, z)
            }
            Field::Consent(ch) => {
                let shift = memberops_core::member::CONSENT_CHANNELS
                    .iter()
                    .position(|c| c == ch)
                    .map_or(16, |p| 2 * p as u32);
                let tab: Vec<bool> = (0..3u16)
                    .map(|code| {
                        let v = match code {
                            0 => Val::Null,
                            c => Val::Bool(c == 2),
                        };
                        test_value(t, &v, NaiveDate::MIN)
                    })
                    .collect();
                self.fill(|i| {
                    let code = self.consent[i].checked_shr(shift).unwrap_or(0) & 3;
                    tab.get(usize::from(code)).copied().unwrap_or(false)
                })
            }
            Field::RScore => score_col(&self.r),
            Field::FScore => score_col(&self.f),
            Field::MScore => score_col(&self.m),
            Field::Orders => self.int_leaf(t, |i| Some(i64::from(self.orders[i]))),
            Field::Spend => self.int_leaf(t, |i| Some(self.spend[i])),
            Field::PointsBalance => self.int_leaf(t, |i| Some(self.points[i])),
            Field::Aov => self.int_leaf(t, |i| crate::row::aov(self.spend[i], self.orders[i])),
            Field::Age => self.int_leaf(t, |i| {
                self.birthday[i].map(|b| i64::from(age_on(b, z.today[self.tz[i] as usize])))
            }),
            Field::Birthday => self.birthday_leaf(t, z),
            Field::RegisteredAt => {
                self.instant_leaf(t, &self.registered_ms, &self.registered_day, z)
            }
            Field::LastOrderAt => {
                self.instant_leaf(t, &self.last_order_ms, &self.last_order_day, z)
            }
            Field::Tags => self.tags_leaf(t),
            Field::Attr(key) => self.attr_leaf(t, key),
        }
    }

    fn int_leaf(&self, t: &Test, get: impl Fn(usize) -> Option<i64>) -> Bits {
        match t {
            Test::Int(it) => self.fill(|i| get(i).is_some_and(|x| it.matches(x))),
            Test::IsSet => self.fill(|i| get(i).is_some()),
            Test::IsNull => self.fill(|i| get(i).is_none()),
            _ => self.constant(false),
        }
    }

    /// A real-valued column, NaN where missing.
    fn num_leaf(&self, t: &Test, col: &[f64]) -> Bits {
        match t {
            Test::Num(nt) => self.fill(|i| !col[i].is_nan() && nt.matches(col[i])),
            Test::IsSet => self.fill(|i| !col[i].is_nan()),
            Test::IsNull => self.fill(|i| col[i].is_nan()),
            _ => self.constant(false),
        }
    }

    fn instant_leaf(&self, t: &Test, ms: &[Millis], day: &[Option<NaiveDate>], z: &Zones) -> Bits {
        match t {
            Test::Time(tt) => self.fill(|i| {
                day[i].is_some_and(|d| tt.matches_instant(ms[i], d, z.today[self.tz[i] as usize]))
            }),
            Test::IsSet => self.fill(|i| day[i].is_some()),
            Test::IsNull => self.fill(|i| day[i].is_none()),
            _ => self.constant(false),
        }
    }

    fn birthday_leaf(&self, t: &Test, z: &Zones) -> Bits {
        match t {
            Test::Time(TimeTest::WithinNextDays(n)) => {
                let n = i64::from(*n);
                self.fill(|i| {
                    self.birthday[i].is_some_and(|b| {
                        let tab = &z.birthday_days[self.tz[i] as usize];
                        tab[(b.month() * 32 + b.day()) as usize] <= n
                    })
                })
            }
            Test::Time(tt) => self.fill(|i| {
                self.birthday[i]
                    .is_some_and(|b| tt.matches_birthday(b, z.today[self.tz[i] as usize]))
            }),
            Test::IsSet => self.fill(|i| self.birthday[i].is_some()),
            Test::IsNull => self.fill(|i| self.birthday[i].is_none()),
            _ => self.constant(false),
        }
    }

    fn tags_leaf(&self, t: &Test) -> Bits {
        let codes = |ts: &[String]| -> Vec<u32> {
            let mut v: Vec<u32> = ts.iter().filter_map(|s| self.dict.code(s)).collect();
            v.sort_unstable();
            v
        };
        let has_any = |want: &[u32], i: usize| {
            self.tags
                .get(i)
                .iter()
                .any(|c| want.binary_search(c).is_ok())
        };
        match t {
            Test::IsSet => self.fill(|i| !self.tags.get(i).is_empty()),
            Test::IsNull => self.fill(|i| self.tags.get(i).is_empty()),
            Test::Tags(TagTest::Has(s)) => {
                let want = codes(std::slice::from_ref(s));
                self.fill(|i| has_any(&want, i))
            }
            Test::Tags(TagTest::Any(ts)) => {
                let want = codes(ts);
                self.fill(|i| has_any(&want, i))
            }
            Test::Tags(TagTest::None(ts)) => {
                let want = codes(ts);
                self.fill(|i| !has_any(&want, i))
            }
            _ => self.constant(false),
        }
    }

    fn attr_leaf(&self, t: &Test, key: &str) -> Bits {
        // Members without the key get the test's answer on a missing value.
        let missing = test_value(t, &Val::Null, NaiveDate::MIN);
        let mut bits = self.constant(missing);
        let Some(map) = self.dict.code(key).and_then(|k| self.attrs.get(&k)) else {
            return bits;
        };
        for (&slot, v) in map {
            let on = test_value(t, &Val::Attr(self.attr_ref(v)), NaiveDate::MIN);
            let (w, b) = (slot as usize / 64, slot as usize % 64);
            if on != missing {
                bits[w] ^= 1 << b;
            }
        }
        bits
    }

    /// Whether `member_id` matches (for spot checks against the bitset path).
    pub fn matches_member(&self, member_id: &str, node: &Node, ctx: &EvalContext<'_>) -> bool {
        match self.by_id.get(member_id, &self.ids) {
            Some(slot) => bit(&self.matches(node, ctx), slot as usize),
            None => false,
        }
    }
}

fn needs_birthday_table(node: &Node) -> bool {
    match node {
        Node::All(xs) | Node::Any(xs) => xs.iter().any(needs_birthday_table),
        Node::Not(x) => needs_birthday_table(x),
        Node::Event(_) | Node::Measure(_) => false,
        Node::Cond(c) => c.field == Field::Birthday,
    }
}
