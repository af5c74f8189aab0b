//! MemberOps use cases: each one applies domain rules and storage in one transaction.
//!
//! The HTTP API and the command line are thin layers over these functions.

pub mod analytics;
pub mod audit;
pub mod campaigns;
pub mod clv;
pub mod consumers;
pub mod coupons;
pub mod error;
pub mod hooks;
pub mod import;
pub mod ingest;
pub mod jobs;
pub mod journeys;
pub mod keys;
mod laps;
pub mod lists;
pub mod loyalty;
pub mod member_cache;
pub mod members;
pub mod operators;
pub mod ops;
mod planner;
pub mod privacy;
pub mod segments;
pub mod stores;
mod system_events;
pub mod tracking;
pub mod webhooks;
pub mod workspace;

pub use error::AppError;
pub use workspace::{Workspace, Workspaces};

/// A positive number of seconds from the environment variable `key`, if it holds one.
pub(crate) fn env_secs(key: &str) -> Option<std::time::Duration> {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(std::time::Duration::from_secs)
}
