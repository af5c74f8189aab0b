//! Stable string ids: a short type prefix and a ULID, so ids sort by creation time and say
//! what they name (`mbr_01J…` is a member, `key_01J…` an API key).

use std::sync::Mutex;

pub const MEMBER: &str = "mbr";
pub const API_KEY: &str = "key";

/// Monotonic within the process: ids made in the same millisecond still sort in the
/// order they were made, so "oldest first" listings and cursors are exact.
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

pub fn new_id(prefix: &str) -> String {
    let ulid = match GENERATOR.lock() {
        Ok(mut g) => match g.generate() {
            Ok(u) => u,
            Err(overflow) => overflow.commit_overflow_increment(),
        },
        Err(_) => ulid::Ulid::generate(),
    };
    format!("{prefix}_{ulid}")
}

/// Whether `s` is an id of the given type (`mbr_` and a ULID): a cursor made of an id is
/// checked with it, so a foreign cursor is refused instead of starting a list anywhere.
pub fn is_id(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|u| ulid::Ulid::from_string(u).is_ok())
}

/// The default workspace every single-tenant installation uses.
pub const DEFAULT_WORKSPACE: &str = "default";

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_in_creation_order() {
        let ids: Vec<String> = (0..10_000).map(|_| super::new_id("x")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn made_ids_are_ids_of_their_type_only() {
        let id = new_id(MEMBER);
        assert!(is_id(MEMBER, &id));
        assert!(!is_id(API_KEY, &id));
        assert!(!is_id(MEMBER, "mbr_not-a-ulid"));
        assert!(!is_id(MEMBER, "zz not a cursor"));
    }
}
