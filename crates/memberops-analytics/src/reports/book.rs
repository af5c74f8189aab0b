//! The compact form the reports compute over: members numbered densely (a slot each), days
//! as numbers, and each member's active days and order days as one sorted slice of a shared
//! vector. No strings, no hash maps: a report over a million member-days walks arrays.

use chrono::{Days, NaiveDate};

use super::{DayRow, MemberIx, MemberRow, OrderDay};

/// A local date as days since 1970-01-01 (the store's day numbers).
pub type DayNum = i32;

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01");

/// The day number of a date (saturating far outside the reports' years).
pub fn day_number(d: NaiveDate) -> DayNum {
    DayNum::try_from((d - EPOCH).num_days()).unwrap_or(if d < EPOCH {
        DayNum::MIN
    } else {
        DayNum::MAX
    })
}

/// The date of a day number.
pub fn date_of(n: DayNum) -> NaiveDate {
    let days = Days::new(u64::from(n.unsigned_abs()));
    let d = if n >= 0 {
        EPOCH.checked_add_days(days)
    } else {
        EPOCH.checked_sub_days(days)
    };
    d.unwrap_or(if n < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

/// Per slot, a slice of one shared vector (empty for a slot without items).
#[derive(Debug, Clone)]
pub struct Lists<T> {
    spans: Vec<(u32, u32)>,
    items: Vec<T>,
}

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Lists::with_slots(0)
    }
}

impl<T> Lists<T> {
    pub fn with_slots(slots: usize) -> Self {
        Lists {
            spans: vec![(0, 0); slots],
            items: Vec::new(),
        }
    }

    /// Appends `items` as `slot`'s list (replacing a list given before).
    pub fn set(&mut self, slot: usize, items: impl IntoIterator<Item = T>) {
        let start = self.items.len();
        self.items.extend(items);
        let len = self.items.len() - start;
        if slot >= self.spans.len() {
            self.spans.resize(slot + 1, (0, 0));
        }
        self.spans[slot] = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(len).unwrap_or(0),
        );
    }

    /// The list of `slot` (empty when it has none).
    pub fn of(&self, slot: usize) -> &[T] {
        match self.spans.get(slot) {
            Some(&(start, len)) => {
                let s = start as usize;
                self.items.get(s..s + len as usize).unwrap_or(&[])
            }
            None => &[],
        }
    }

    pub fn slots(&self) -> usize {
        self.spans.len()
    }

    /// Every item of every slot.
    pub fn total(&self) -> usize {
        self.spans.iter().map(|s| s.1 as usize).sum()
    }

    /// `(slot, list)` for the slots with items.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[T])> {
        (0..self.spans.len())
            .map(|s| (s, self.of(s)))
            .filter(|(_, l)| !l.is_empty())
    }
}

/// A member's orders of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOrders {
    pub day: DayNum,
    /// Orders that count (not fully refunded).
    pub orders: u32,
    pub paid_minor: i64,
    pub refunded_minor: i64,
}

impl DayOrders {
    pub fn net_minor(&self) -> i64 {
        self.paid_minor.saturating_sub(self.refunded_minor)
    }
}

/// The rows of the reports in compact form.
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// Per slot: the member's join day (`None`: no member in that slot).
    pub joined: Vec<Option<DayNum>>,
    /// Per slot: the acquisition channel (empty when not read).
    pub channels: Vec<Option<String>>,
    /// Per slot: active days, ascending, each once.
    pub active: Lists<DayNum>,
    /// Per slot: order days, ascending, each once.
    pub orders: Lists<DayOrders>,
}

impl Book {
    /// Slots: members, and whoever has rows.
    pub fn slots(&self) -> usize {
        self.joined
            .len()
            .max(self.active.slots())
            .max(self.orders.slots())
    }

    /// The book of plain rows (members numbered by `member`).
    pub fn from_rows(members: &[MemberRow], orders: &[OrderDay], active: &[DayRow]) -> Book {
        let mut book = Book::default();
        for m in members {
            let s = m.member as usize;
            if s >= book.joined.len() {
                book.joined.resize(s + 1, None);
                book.channels.resize(s + 1, None);
            }
            book.joined[s] = Some(day_number(m.joined));
            book.channels[s].clone_from(&m.channel);
        }
        let mut a: Vec<(MemberIx, DayNum)> = active
            .iter()
            .map(|r| (r.member, day_number(r.day)))
            .collect();
        a.sort_unstable();
        a.dedup();
        for chunk in a.chunk_by(|x, y| x.0 == y.0) {
            book.active
                .set(chunk[0].0 as usize, chunk.iter().map(|(_, d)| *d));
        }
        let mut o: Vec<(MemberIx, DayOrders)> = orders
            .iter()
            .map(|r| {
                (
                    r.member,
                    DayOrders {
                        day: day_number(r.day),
                        orders: r.orders,
                        paid_minor: r.paid_minor,
                        refunded_minor: r.refunded_minor,
                    },
                )
            })
            .collect();
        o.sort_unstable_by_key(|(m, d)| (*m, d.day));
        for chunk in o.chunk_by(|x, y| x.0 == y.0) {
            book.orders
                .set(chunk[0].0 as usize, chunk.iter().map(|(_, d)| *d));
        }
        book
    }

    /// Back to plain rows (slots as member numbers), for the reports that take them.
    pub fn rows(&self) -> (Vec<MemberRow>, Vec<OrderDay>, Vec<DayRow>) {
        let ix = |s: usize| MemberIx::try_from(s).unwrap_or(MemberIx::MAX);
        let members = self
            .joined
            .iter()
            .enumerate()
            .filter_map(|(s, j)| {
                j.map(|j| MemberRow {
                    member: ix(s),
                    joined: date_of(j),
                    channel: self.channels.get(s).cloned().flatten(),
                })
            })
            .collect();
        let mut orders = Vec::with_capacity(self.orders.total());
        for (s, list) in self.orders.iter() {
            orders.extend(list.iter().map(|o| OrderDay {
                member: ix(s),
                day: date_of(o.day),
                orders: o.orders,
                paid_minor: o.paid_minor,
                refunded_minor: o.refunded_minor,
            }));
        }
        let mut active = Vec::with_capacity(self.active.total());
        for (s, list) in self.active.iter() {
            active.extend(list.iter().map(|d| DayRow {
                member: ix(s),
                day: date_of(*d),
            }));
        }
        (members, orders, active)
    }
}

/// The items of a sorted list whose day lies in `[a, b]`.
pub fn days_within<T>(list: &[T], day: impl Fn(&T) -> DayNum, a: DayNum, b: DayNum) -> &[T] {
    let lo = list.partition_point(|x| day(x) < a);
    let hi = list.partition_point(|x| day(x) <= b);
    list.get(lo..hi.max(lo)).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).expect("date");
        assert_eq!(day_number(EPOCH), 0);
        assert_eq!(day_number(d), 20513);
        assert_eq!(date_of(20513), d);
        assert_eq!(
            date_of(-1),
            NaiveDate::from_ymd_opt(1969, 12, 31).expect("date")
        );
    }

    #[test]
    fn lists_hold_a_slice_per_slot() {
        let mut l: Lists<DayNum> = Lists::with_slots(2);
        l.set(3, [5, 7]);
        l.set(0, [1]);
        assert_eq!(l.of(3), &[5, 7]);
        assert_eq!(l.of(0), &[1]);
        assert!(l.of(1).is_empty() && l.of(9).is_empty());
        assert_eq!(l.total(), 3);
        assert_eq!(days_within(l.of(3), |d| *d, 6, 9), &[7]);
        assert!(days_within(l.of(3), |d| *d, 8, 9).is_empty());
    }
}
