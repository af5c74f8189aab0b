//! Compact storage pieces of the index: an id arena with an open-addressing id → slot
//! table, a string dictionary, and a tag-list arena. All avoid one heap allocation per
//! member, which is what keeps the index under 200 bytes a member.

use std::collections::HashMap;

const EMPTY: u32 = u32::MAX;
const TOMB: u32 = u32::MAX - 1;
/// Largest slot number, leaving room for the table's two markers.
pub(crate) const MAX_SLOTS: usize = (u32::MAX - 2) as usize;

/// FNV-1a: deterministic and fast on short ids.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Mix the high bits down: the table masks the low bits.
    h ^ (h >> 29)
}

/// Member ids, concatenated; slot `i` is `bytes[start[i]..start[i] + len[i]]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdArena {
    bytes: Vec<u8>,
    start: Vec<u32>,
    len: Vec<u16>,
    garbage: usize,
}

impl IdArena {
    pub fn get(&self, slot: u32) -> &str {
        let s = self.start[slot as usize] as usize;
        let e = s + self.len[slot as usize] as usize;
        // Only whole `&str`s are ever copied in, so the range is valid UTF-8.
        std::str::from_utf8(&self.bytes[s..e]).unwrap_or("")
    }

    /// Sets slot `slot` (== the current slot count to add one) to `id`.
    pub fn set(&mut self, slot: u32, id: &str) {
        if self.bytes.len() + id.len() > u32::MAX as usize {
            self.compact();
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(id.as_bytes());
        let i = slot as usize;
        if i == self.start.len() {
            self.start.push(start);
            self.len.push(id.len() as u16);
        } else {
            self.garbage += self.len[i] as usize;
            self.start[i] = start;
            self.len[i] = id.len() as u16;
        }
    }

    pub fn clear(&mut self, slot: u32) {
        let i = slot as usize;
        self.garbage += self.len[i] as usize;
        self.len[i] = 0;
        if self.garbage > 1 << 20 && self.garbage * 2 > self.bytes.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut bytes = Vec::with_capacity(self.bytes.len() - self.garbage);
        for i in 0..self.start.len() {
            let s = self.start[i] as usize;
            let e = s + self.len[i] as usize;
            self.start[i] = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[s..e]);
        }
        self.bytes = bytes;
        self.garbage = 0;
    }

    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity() + self.start.capacity() * 4 + self.len.capacity() * 2
    }
}

/// Open addressing with linear probing over slot numbers; the ids themselves stay in the
/// arena, so an entry costs 4 bytes.
#[derive(Debug, Clone)]
pub(crate) struct IdTable {
    table: Vec<u32>,
    used: usize,
    live: usize,
}

impl Default for IdTable {
    fn default() -> Self {
        IdTable {
            table: vec![EMPTY; 16],
            used: 0,
            live: 0,
        }
    }
}

impl IdTable {
    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// Position holding `id`, if present.
    fn position(&self, id: &str, ids: &IdArena) -> Option<usize> {
        let mut p = hash(id.as_bytes()) as usize & self.mask();
        loop {
            match self.table[p] {
                EMPTY => return None,
                TOMB => {}
                s if ids.get(s) == id => return Some(p),
                _ => {}
            }
            p = (p + 1) & self.mask();
        }
    }

    pub fn get(&self, id: &str, ids: &IdArena) -> Option<u32> {
        self.position(id, ids).map(|p| self.table[p])
    }

    /// Inserts `slot` for an id known to be absent (already written to the arena).
    pub fn insert(&mut self, slot: u32, ids: &IdArena) {
        if (self.used + 1) * 4 > self.table.len() * 3 {
            self.rebuild(ids);
        }
        let mut p = hash(ids.get(slot).as_bytes()) as usize & self.mask();
        while self.table[p] != EMPTY && self.table[p] != TOMB {
            p = (p + 1) & self.mask();
        }
        if self.table[p] == EMPTY {
            self.used += 1;
        }
        self.table[p] = slot;
        self.live += 1;
    }

    pub fn remove(&mut self, id: &str, ids: &IdArena) -> Option<u32> {
        let p = self.position(id, ids)?;
        let slot = self.table[p];
        self.table[p] = TOMB;
        self.live -= 1;
        Some(slot)
    }

    /// Grows (or just drops tombstones) so the load stays under 3/4.
    fn rebuild(&mut self, ids: &IdArena) {
        let mut cap = self.table.len();
        while (self.live + 1) * 2 > cap {
            cap *= 2;
        }
        let old = std::mem::replace(&mut self.table, vec![EMPTY; cap]);
        self.used = 0;
        self.live = 0;
        for s in old.into_iter().filter(|&s| s != EMPTY && s != TOMB) {
            self.insert(s, ids);
        }
    }

    pub fn memory_bytes(&self) -> usize {
        self.table.capacity() * 4
    }
}

/// Strings (regions, channels, tiers, tags, attribute keys and string values) as codes.
/// Code 0 means "none"; the dictionary only grows.
#[derive(Debug, Clone)]
pub(crate) struct Dict {
    codes: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    name_bytes: usize,
}

impl Default for Dict {
    fn default() -> Self {
        Dict {
            codes: HashMap::new(),
            names: vec![Box::from("")],
            name_bytes: 0,
        }
    }
}

impl Dict {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&c) = self.codes.get(s) {
            return c;
        }
        let c = self.names.len() as u32;
        self.names.push(Box::from(s));
        self.codes.insert(Box::from(s), c);
        self.name_bytes += s.len();
        c
    }

    pub fn code(&self, s: &str) -> Option<u32> {
        self.codes.get(s).copied()
    }

    pub fn name(&self, c: u32) -> &str {
        self.names.get(c as usize).map_or("", |s| s)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn memory_bytes(&self) -> usize {
        // Two copies of each name, the vector, and the map's entries and control bytes.
        self.name_bytes * 2 + self.names.capacity() * 16 + self.codes.capacity() * (16 + 4 + 4 + 1)
    }
}

/// Each member's tag codes, sorted and deduplicated, in one shared pool.
#[derive(Debug, Default, Clone)]
pub(crate) struct TagArena {
    pool: Vec<u32>,
    start: Vec<u32>,
    len: Vec<u16>,
    garbage: usize,
}

impl TagArena {
    pub fn get(&self, slot: usize) -> &[u32] {
        let s = self.start[slot] as usize;
        &self.pool[s..s + self.len[slot] as usize]
    }

    pub fn set(&mut self, slot: usize, codes: &[u32]) {
        if slot == self.start.len() {
            self.start.push(self.pool.len() as u32);
            self.len.push(0);
        }
        let old = self.len[slot] as usize;
        if codes.len() <= old {
            // Shrinking in place wastes the tail, which compaction reclaims.
            let s = self.start[slot] as usize;
            self.pool[s..s + codes.len()].copy_from_slice(codes);
            self.garbage += old - codes.len();
        } else {
            if self.pool.len() + codes.len() > u32::MAX as usize {
                self.compact();
            }
            self.garbage += old;
            self.start[slot] = self.pool.len() as u32;
            self.pool.extend_from_slice(codes);
        }
        self.len[slot] = codes.len() as u16;
        if self.garbage > 1 << 16 && self.garbage * 2 > self.pool.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut pool = Vec::with_capacity(self.pool.len() - self.garbage);
        for i in 0..self.start.len() {
            let s = self.start[i] as usize;
            let e = s + self.len[i] as usize;
            self.start[i] = pool.len() as u32;
            pool.extend_from_slice(&self.pool[s..e]);
        }
        self.pool = pool;
        self.garbage = 0;
    }

    pub fn memory_bytes(&self) -> usize {
        self.pool.capacity() * 4 + self.start.capacity() * 4 + self.len.capacity() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_table_survives_removal_and_growth() {
        let mut ids = IdArena::default();
        let mut t = IdTable::default();
        for i in 0..1000u32 {
            ids.set(i, &format!("mbr_{i}"));
            t.insert(i, &ids);
        }
        for i in (0..1000u32).step_by(2) {
            assert_eq!(t.remove(&format!("mbr_{i}"), &ids), Some(i));
            ids.clear(i);
        }
        for i in 0..1000u32 {
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(t.get(&format!("mbr_{i}"), &ids), want);
        }
        ids.set(0, "again");
        t.insert(0, &ids);
        assert_eq!(t.get("again", &ids), Some(0));
    }

    #[test]
    fn tag_arena_reuses_and_compacts() {
        let mut a = TagArena::default();
        a.set(0, &[1, 2, 3]);
        a.set(1, &[4]);
        a.set(0, &[5]);
        a.set(1, &[6, 7]);
        assert_eq!(a.get(0), &[5]);
        assert_eq!(a.get(1), &[6, 7]);
        a.compact();
        assert_eq!(a.get(0), &[5]);
        assert_eq!(a.get(1), &[6, 7]);
    }
}
