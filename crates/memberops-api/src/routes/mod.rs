pub mod analytics;
pub mod audit;
pub mod campaigns;
pub mod clv;
pub mod coupons;
pub mod events;
pub mod health;
pub mod inbox;
pub mod intelligence;
pub mod journeys;
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
pub mod workspace;

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

// The router cannot match `{id}:verb` inside one path segment, so an action route is
// registered as `POST …/{id}` and its handler splits the verb off with these.
use axum::http::StatusCode;

use crate::error::ApiError;

/// `{id}:{verb}` → `(id, verb)`; 404 without a verb.
pub(crate) fn split_action(path: &str) -> Result<(String, &str), ApiError> {
    path.rsplit_once(':')
        .map(|(id, v)| (id.to_owned(), v))
        .ok_or_else(|| no_action(path))
}

pub(crate) fn no_action(path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no action `{path}`"),
    )
}
