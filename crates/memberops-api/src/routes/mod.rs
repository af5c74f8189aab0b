pub mod events;
pub mod health;
pub mod members;
pub mod segments;

/// Tag names used to group operations in the OpenAPI document.
pub const MEMBERS: &str = "members";
pub const EVENTS: &str = "events";
pub const SYSTEM: &str = "system";
pub const SEGMENTS: &str = "segments";
