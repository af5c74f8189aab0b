//! A columnar in-memory segment index: one vector per field, strings dictionary-encoded,
//! tags in a shared pool, attributes sparse per key. A query turns each condition into a
//! bitset over member slots with one tight pass over one column, then combines bitsets
//! word by word, so a count touches only the columns the tree names.
//!
//! It answers exactly like the row evaluator ([`crate::eval::eval`]): leaf tests call the
//! same functions, and a property test compares the two on random trees and rows.

mod query;
mod store;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::time::Millis;

use crate::error::SegmentError;
use crate::eval::gender_index;
use crate::row::{MemberRow, local_day};
use store::{Dict, IdArena, IdTable, MAX_SLOTS, TagArena};

/// One page of matching member ids, in ascending id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub ids: Vec<String>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An attribute value as stored: strings as dictionary codes.
#[derive(Debug, Clone, PartialEq)]
enum AttrVal {
    Str(u32),
    Num(f64),
    Bool(bool),
    Other(Box<serde_json::Value>),
}

#[derive(Debug, Clone, Default)]
pub struct SegmentIndex {
    ids: IdArena,
    by_id: IdTable,
    free: Vec<u32>,
    live: Vec<u64>,
    live_count: usize,
    dict: Dict,
    zones: Vec<Tz>,
    zone_codes: HashMap<Tz, u16>,

    tz: Vec<u16>,
    /// 0 = none, else gender index + 1.
    gender: Vec<u8>,
    birthday: Vec<Option<NaiveDate>>,
    region: Vec<u32>,
    channel: Vec<u32>,
    tier: Vec<u32>,
    /// Instants with their local day; the day column is `None` when the instant is missing.
    registered_ms: Vec<Millis>,
    registered_day: Vec<Option<NaiveDate>>,
    last_order_ms: Vec<Millis>,
    last_order_day: Vec<Option<NaiveDate>>,
    orders: Vec<u32>,
    spend: Vec<i64>,
    points: Vec<i64>,
    first_order_ms: Vec<Millis>,
    first_order_day: Vec<Option<NaiveDate>>,
    income_band: Vec<u32>,
    store: Vec<u32>,
    staff: Vec<u32>,
    stored_value: Vec<i64>,
    /// Predicted values; NaN where the member has none.
    p_alive: Vec<f64>,
    expected_orders: Vec<f64>,
    clv_12m: Vec<f64>,
    /// Two bits per consent channel (in `CONSENT_CHANNELS` order): 0 unknown, 1 false,
    /// 2 true.
    consent: Vec<u16>,
    /// Enums: 0 = none, else code + 1.
    stage: Vec<u8>,
    rfm_class: Vec<u8>,
    value_class: Vec<u8>,
    /// Scores: 0 = none, else score + 1.
    r: Vec<u16>,
    f: Vec<u16>,
    m: Vec<u16>,
    tags: TagArena,
    /// Attribute key code → slot → value; only members that have the key appear.
    attrs: HashMap<u32, BTreeMap<u32, AttrVal>>,
    attr_entries: usize,
    /// Slots that have any attribute, so removal skips the key maps otherwise.
    has_attrs: Vec<u64>,
}

/// Consent as two bits per channel: 0 unknown, 1 false, 2 true.
fn consent_bits(c: &BTreeMap<String, bool>) -> u16 {
    let mut out = 0u16;
    for (i, ch) in memberops_core::member::CONSENT_CHANNELS.iter().enumerate() {
        if let Some(&b) = c.get(*ch) {
            out |= (1 + u16::from(b)) << (2 * i);
        }
    }
    out
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

fn set_bit(bits: &mut Vec<u64>, i: usize, on: bool) {
    if i / 64 >= bits.len() {
        bits.resize(i / 64 + 1, 0);
    }
    if on {
        bits[i / 64] |= 1 << (i % 64);
    } else {
        bits[i / 64] &= !(1 << (i % 64));
    }
}

impl SegmentIndex {
    pub fn new() -> SegmentIndex {
        SegmentIndex::default()
    }

    /// Number of members in the index.
    pub fn len(&self) -> usize {
        self.live_count
    }

    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    pub fn contains(&self, member_id: &str) -> bool {
        self.by_id.get(member_id, &self.ids).is_some()
    }

    fn slots(&self) -> usize {
        self.tz.len()
    }

    /// Inserts or replaces a member's row.
    pub fn upsert(&mut self, row: &MemberRow) -> Result<(), SegmentError> {
        if row.member_id.len() > usize::from(u16::MAX) {
            return Err(SegmentError::config("member_id", "longer than 65535 bytes"));
        }
        if row.tags.len() > usize::from(u16::MAX) {
            return Err(SegmentError::config("tags", "more than 65535 tags"));
        }
        let slot = match self.by_id.get(&row.member_id, &self.ids) {
            Some(s) => s,
            None => {
                let s = match self.free.pop() {
                    Some(s) => s,
                    None if self.slots() >= MAX_SLOTS => {
                        return Err(SegmentError::config("members", "index is full"));
                    }
                    None => {
                        self.push_empty_slot();
                        (self.slots() - 1) as u32
                    }
                };
                self.ids.set(s, &row.member_id);
                self.by_id.insert(s, &self.ids);
                set_bit(&mut self.live, s as usize, true);
                self.live_count += 1;
                s
            }
        };
        self.write(slot as usize, row);
        Ok(())
    }

    /// Removes a member; `false` if it was not there.
    pub fn remove(&mut self, member_id: &str) -> bool {
        let Some(slot) = self.by_id.remove(member_id, &self.ids) else {
            return false;
        };
        self.ids.clear(slot);
        let i = slot as usize;
        set_bit(&mut self.live, i, false);
        self.live_count -= 1;
        self.tags.set(i, &[]);
        self.clear_attrs(i);
        self.free.push(slot);
        true
    }

    fn push_empty_slot(&mut self) {
        self.tz.push(0);
        self.gender.push(0);
        self.birthday.push(None);
        self.region.push(0);
        self.channel.push(0);
        self.tier.push(0);
        self.registered_ms.push(0);
        self.registered_day.push(None);
        self.last_order_ms.push(0);
        self.last_order_day.push(None);
        self.orders.push(0);
        self.spend.push(0);
        self.points.push(0);
        self.first_order_ms.push(0);
        self.first_order_day.push(None);
        self.income_band.push(0);
        self.store.push(0);
        self.staff.push(0);
        self.stored_value.push(0);
        self.p_alive.push(f64::NAN);
        self.expected_orders.push(f64::NAN);
        self.clv_12m.push(f64::NAN);
        self.consent.push(0);
        self.stage.push(0);
        self.rfm_class.push(0);
        self.value_class.push(0);
        self.r.push(0);
        self.f.push(0);
        self.m.push(0);
        let n = self.tz.len();
        self.tags.set(n - 1, &[]);
        set_bit(&mut self.live, n - 1, false);
        set_bit(&mut self.has_attrs, n - 1, false);
    }

    fn zone_code(&mut self, tz: Tz) -> u16 {
        if let Some(&c) = self.zone_codes.get(&tz) {
            return c;
        }
        // There are fewer than 600 IANA zones, so u16 cannot overflow.
        let c = self.zones.len() as u16;
        self.zones.push(tz);
        self.zone_codes.insert(tz, c);
        c
    }

    fn write(&mut self, i: usize, row: &MemberRow) {
        let tz = self.zone_code(row.time_zone);
        self.tz[i] = tz;
        self.gender[i] = row.gender.map_or(0, |g| gender_index(g) + 1);
        self.birthday[i] = row.birthday;
        let mut code = |s: &Option<String>| s.as_deref().map_or(0, |s| self.dict.intern(s));
        self.region[i] = code(&row.region);
        self.channel[i] = code(&row.channel);
        self.tier[i] = code(&row.tier);
        self.income_band[i] = code(&row.income_band);
        self.store[i] = code(&row.store);
        self.staff[i] = code(&row.staff);
        let instant = |v: Option<Millis>| match v {
            Some(ms) => (ms, Some(local_day(ms, row.time_zone))),
            None => (0, None),
        };
        (self.registered_ms[i], self.registered_day[i]) = instant(row.registered_at);
        (self.last_order_ms[i], self.last_order_day[i]) = instant(row.last_order_at);
        self.orders[i] = row.orders;
        self.spend[i] = row.spend;
        self.points[i] = row.points_balance;
        (self.first_order_ms[i], self.first_order_day[i]) = instant(row.first_order_at);
        self.stored_value[i] = row.stored_value;
        self.p_alive[i] = row.p_alive.unwrap_or(f64::NAN);
        self.expected_orders[i] = row.expected_orders_90d.unwrap_or(f64::NAN);
        self.clv_12m[i] = row.clv_12m.unwrap_or(f64::NAN);
        self.consent[i] = consent_bits(&row.consent);
        self.stage[i] = row.stage.map_or(0, |s| s as u8 + 1);
        self.rfm_class[i] = row.rfm_class.map_or(0, |c| c as u8 + 1);
        self.value_class[i] = row.value_class.map_or(0, |c| c as u8 + 1);
        let score = |s: Option<u8>| s.map_or(0, |s| u16::from(s) + 1);
        self.r[i] = score(row.r);
        self.f[i] = score(row.f);
        self.m[i] = score(row.m);
        let mut tags: Vec<u32> = row.tags.iter().map(|t| self.dict.intern(t)).collect();
        tags.sort_unstable();
        tags.dedup();
        self.tags.set(i, &tags);
        self.clear_attrs(i);
        for (key, v) in &row.attributes {
            let val = match v {
                // JSON null is "missing", exactly as the row evaluator reads it.
                serde_json::Value::Null => continue,
                serde_json::Value::Bool(b) => AttrVal::Bool(*b),
                serde_json::Value::Number(n) => AttrVal::Num(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::String(s) => AttrVal::Str(self.dict.intern(s)),
                other => AttrVal::Other(Box::new(other.clone())),
            };
            let k = self.dict.intern(key);
            self.attrs.entry(k).or_default().insert(i as u32, val);
            self.attr_entries += 1;
            set_bit(&mut self.has_attrs, i, true);
        }
    }

    fn clear_attrs(&mut self, i: usize) {
        if !bit(&self.has_attrs, i) {
            return;
        }
        for map in self.attrs.values_mut() {
            if map.remove(&(i as u32)).is_some() {
                self.attr_entries -= 1;
            }
        }
        set_bit(&mut self.has_attrs, i, false);
    }

    /// Approximate heap bytes held, counting vector capacities and estimating map
    /// overheads (a B-tree entry at 1.5× its size, a hash entry with its control byte).
    pub fn memory_bytes(&self) -> usize {
        let n = self.tz.capacity();
        let fixed = n * (2 + 1 + 4 + 4 * 4 + (8 + 4) * 3 + 4 + 8 * 3 + 8 * 3 + 2 + 3 + 2 * 3)
            + (self.live.capacity() + self.has_attrs.capacity()) * 8
            + self.free.capacity() * 4;
        let attr_values: usize = self
            .attrs
            .values()
            .flat_map(|m| m.values())
            .map(|v| match v {
                AttrVal::Other(j) => j.to_string().len() + 32,
                _ => 0,
            })
            .sum();
        fixed
            + self.ids.memory_bytes()
            + self.by_id.memory_bytes()
            + self.dict.memory_bytes()
            + self.tags.memory_bytes()
            + self.attr_entries * (4 + std::mem::size_of::<AttrVal>()) * 3 / 2
            + attr_values
            + self.zones.capacity() * 16
    }

    fn attr_ref<'a>(&'a self, v: &'a AttrVal) -> crate::tree::AttrRef<'a> {
        use crate::tree::AttrRef;
        match v {
            AttrVal::Str(c) => AttrRef::Str(self.dict.name(*c)),
            AttrVal::Num(n) => AttrRef::Num(*n),
            AttrVal::Bool(b) => AttrRef::Bool(*b),
            AttrVal::Other(j) => AttrRef::Other(j),
        }
    }

    fn member_id(&self, slot: usize) -> &str {
        self.ids.get(slot as u32)
    }

    fn is_live(&self, slot: usize) -> bool {
        bit(&self.live, slot)
    }
}

#[cfg(test)]
mod tests;
