//! Per-instance coupon codes (券码), generated in bulk from a pattern. The default charset
//! leaves out characters people confuse (0/O, 1/I/L), and a pattern must have room for
//! far more codes than are asked for, so random draws rarely collide; codes that do
//! collide (within the batch here, with stored codes in the database's unique index) are
//! drawn again by the caller.

use std::collections::HashSet;

use memberops_core::Invalid;
use serde::{Deserialize, Serialize};

use crate::error::CouponError;

/// No 0, O, 1, I or L.
pub const SAFE_CHARSET: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const MAX_PER_CALL: usize = 100_000;
/// How many times larger than the request the code space must be.
const HEADROOM: u128 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CodePattern {
    /// Written before the random part, e.g. `SPRING-`.
    #[serde(default)]
    pub prefix: String,
    /// Random characters after the prefix (6–24).
    #[serde(default = "default_length")]
    pub length: usize,
    /// Characters to draw from; defaults to an unambiguous upper-case set.
    #[serde(default)]
    pub charset: Option<String>,
}

fn default_length() -> usize {
    10
}

impl CodePattern {
    fn charset(&self) -> Vec<u8> {
        let mut set: Vec<u8> = self
            .charset
            .as_deref()
            .unwrap_or(SAFE_CHARSET)
            .to_ascii_uppercase()
            .into_bytes();
        set.sort_unstable();
        set.dedup();
        set
    }

    pub fn validate(&self, wanted: usize) -> Result<(), CouponError> {
        if self.prefix.len() > 16
            || !self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Invalid::one(
                &["pattern", "prefix"],
                "invalid_prefix",
                "prefix is up to 16 letters, digits or '-'",
            )
            .into());
        }
        if !(6..=24).contains(&self.length) {
            return Err(Invalid::one(
                &["pattern", "length"],
                "out_of_range",
                "length must be 6–24",
            )
            .into());
        }
        let set = self.charset();
        if set.len() < 10 || !set.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Invalid::one(
                &["pattern", "charset"],
                "invalid_charset",
                "charset needs at least 10 distinct letters or digits",
            )
            .into());
        }
        if !(1..=MAX_PER_CALL).contains(&wanted) {
            return Err(Invalid::one(
                &["count"],
                "out_of_range",
                format!("count must be 1–{MAX_PER_CALL}"),
            )
            .into());
        }
        let capacity = (set.len() as u128).saturating_pow(self.length as u32);
        let need = wanted as u128 * HEADROOM;
        if capacity < need {
            return Err(CouponError::PatternTooSmall {
                capacity,
                wanted: need,
            });
        }
        Ok(())
    }

    /// `n` distinct codes not in `taken`, drawing randomness from `next_u64`.
    pub fn generate(
        &self,
        n: usize,
        taken: &HashSet<String>,
        mut next_u64: impl FnMut() -> u64,
    ) -> Vec<String> {
        let set = self.charset();
        let base = set.len() as u64;
        let mut seen: HashSet<String> = HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let mut code = String::with_capacity(self.prefix.len() + self.length);
            code.push_str(&self.prefix.to_ascii_uppercase());
            let mut r = next_u64();
            let mut left = 64u32;
            for _ in 0..self.length {
                // Refill when the word runs low; the modulo bias over 2^64 is negligible.
                if left < 8 {
                    r = next_u64();
                    left = 64;
                }
                code.push(char::from(set[(r % base) as usize]));
                r /= base;
                left -= 6;
            }
            if !taken.contains(&code) && seen.insert(code.clone()) {
                out.push(code);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            // splitmix64: a tiny deterministic source for tests.
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn hundred_thousand_distinct_codes_in_one_call() {
        let p = CodePattern {
            prefix: "VIP-".into(),
            length: 10,
            charset: None,
        };
        p.validate(100_000).expect("valid");
        let codes = p.generate(100_000, &HashSet::new(), rng(7));
        let distinct: HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), 100_000);
        assert!(codes.iter().all(|c| c.starts_with("VIP-") && c.len() == 14));
        assert!(
            codes
                .iter()
                .all(|c| !c[4..].contains(['0', 'O', '1', 'I', 'L']))
        );
    }

    #[test]
    fn taken_codes_are_skipped_and_small_patterns_refused() {
        let p = CodePattern {
            prefix: String::new(),
            length: 6,
            charset: Some("ABCDEFGHJK".into()),
        };
        let first = p.generate(50, &HashSet::new(), rng(1));
        let taken: HashSet<String> = first.iter().cloned().collect();
        let again = p.generate(50, &taken, rng(1));
        assert!(again.iter().all(|c| !taken.contains(c)));
        assert!(matches!(
            p.validate(10_000),
            Err(CouponError::PatternTooSmall { .. })
        ));
    }
}
