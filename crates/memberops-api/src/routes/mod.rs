pub mod audit;
pub mod campaigns;
pub mod analytics;
pub mod coupons;
pub mod events;
pub mod health;
pub mod inbox;
pub mod intelligence;
pub mod lists;
pub mod loyalty;
pub mod members;
pub mod ops;
pub mod privacy;
pub mod segments;
pub mod stores;
pub mod tasks;
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
pub const CAMPAIGNS: &str = "campaigns";
pub const ANALYTICS: &str = "analytics";
