pub mod clv;
pub mod coupons;
pub mod events;
pub mod health;
pub mod intelligence;
pub mod lists;
pub mod loyalty;
pub mod members;
pub mod segments;
pub mod stores;
pub mod tracking;
pub mod webhooks;

/// Tag names used to group operations in the OpenAPI document.
pub const MEMBERS: &str = "members";
pub const EVENTS: &str = "events";
pub const SYSTEM: &str = "system";
pub const LOYALTY: &str = "loyalty";
pub const SEGMENTS: &str = "segments";
pub const WEBHOOKS: &str = "webhooks";
pub const STORES: &str = "stores";
