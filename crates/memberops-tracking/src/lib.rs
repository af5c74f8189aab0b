//! Segment-compatible tracking (the HTTP Tracking API that Segment's and RudderStack's SDKs
//! speak), as pure rules: a JSON message in, a MemberOps event draft out.
//!
//! - [`message`]: reading one message leniently (unknown fields ignored, ids that are
//!   numbers accepted) and the event time with the client's clock skew corrected;
//! - [`traits`]: `identify` traits → a profile patch, bad values kept as raw attributes;
//! - [`mapping`]: message → event type and properties (the E-commerce spec table).
//!
//! Identity resolution (which member an `anonymousId` belongs to) needs storage and lives
//! in `memberops-app`.

pub mod mapping;
pub mod message;
pub mod traits;

pub use mapping::{Draft, map_message};
pub use message::{Kind, Message};

/// Largest message the SDKs send (Segment's documented limit), in bytes of JSON.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest batch request the SDKs send, in bytes of (inflated) JSON.
pub const MAX_BATCH_BYTES: usize = 500 * 1024;

/// The member external id of the anonymous profile kept for an `anonymousId`.
pub fn anonymous_external_id(anonymous_id: &str) -> String {
    format!("{ANON_PREFIX}{anonymous_id}")
}

/// Prefix of anonymous profiles' external ids.
pub const ANON_PREFIX: &str = "anon:";
