//! Stable string ids: a short type prefix and a ULID, so ids sort by creation time and say
//! what they name (`mbr_01J…` is a member, `key_01J…` an API key).

pub const MEMBER: &str = "mbr";
pub const API_KEY: &str = "key";
pub const EVENT: &str = "evt";

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::generate())
}

/// The default workspace every single-tenant installation uses.
pub const DEFAULT_WORKSPACE: &str = "default";
