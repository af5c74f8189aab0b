//! Which scope each route needs: one table keyed by method and route template (the OpenAPI
//! path, as axum's `MatchedPath` gives it), with a default for routes it does not name
//! (GET → `read`, any other method → `operator`), so a new route has a sensible scope
//! without a line of its own. `tests/it/scopes.rs` walks every route of the OpenAPI
//! document with every scope.

use axum::http::Method;
use memberops_store::KeyScope;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// No key (health, metrics, public pages) or a key the handler checks itself
    /// (Segment's write keys come as HTTP Basic or in the body).
    Public,
    /// A bearer key with this scope (or one that covers it, see [`allows`]).
    Scope(KeyScope),
}

use KeyScope::{Admin, Checkout, Ingest, Operator};
use Need::{Public, Scope};

/// The routes that differ from the default. `*` at the end of a template matches any rest.
const RULES: &[(&str, &str, Need)] = &[
    // Public: health, metrics, the document, the Tracking API (checks its own write key),
    // and campaigns' unsubscribe page.
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Public),
    ("POST", "/ingest/segment/v1/*", Public),
    ("GET", "/u/*", Public),
    ("POST", "/u/*", Public),
    // Ingest: the event write path.
    ("POST", "/v1/events", Scope(Ingest)),
    ("POST", "/v1/events:batch", Scope(Ingest)),
    // Checkout: what a shop's back end does at the till and in the member center.
    ("POST", "/v1/checkout/validate", Scope(Checkout)),
    ("POST", "/v1/checkout/redeem", Scope(Checkout)),
    ("GET", "/v1/checkout/orders/{order_id}", Scope(Checkout)),
    ("POST", "/v1/members/{id}/points:spend", Scope(Checkout)),
    (
        "POST",
        "/v1/members/{id}/stored-value:spend",
        Scope(Checkout),
    ),
    (
        "POST",
        "/v1/members/{id}/stored-value:top-up",
        Scope(Checkout),
    ),
    (
        "POST",
        "/v1/members/{id}/stored-value:refund",
        Scope(Checkout),
    ),
    ("POST", "/v1/members/{id}/checkin", Scope(Checkout)),
    // The member center's make-up check-in and inbox.
    ("POST", "/v1/members/{id}/checkin:makeup", Scope(Checkout)),
    ("GET", "/v1/members/{id}/inbox", Scope(Checkout)),
    ("POST", "/v1/members/{id}/inbox:read", Scope(Checkout)),
    ("POST", "/v1/coupons/claim", Scope(Checkout)),
    ("POST", "/v1/coupons/share-links", Scope(Checkout)),
    (
        "POST",
        "/v1/coupons/share-links/{id}/claims",
        Scope(Checkout),
    ),
    ("GET", "/v1/members/{id}", Scope(Checkout)),
    ("GET", "/v1/members/{id}/loyalty", Scope(Checkout)),
    ("GET", "/v1/members/{id}/coupons", Scope(Checkout)),
    ("GET", "/v1/members/{id}/points/ledger", Scope(Checkout)),
    (
        "GET",
        "/v1/members/{id}/stored-value/ledger",
        Scope(Checkout),
    ),
    ("GET", "/v1/members/{id}/growth/ledger", Scope(Checkout)),
    ("GET", "/v1/members/{id}/invitees", Scope(Checkout)),
    ("GET", "/v1/coupons/{id}", Scope(Checkout)),
    // Admin: keys, settings, webhooks (they send member data out), the audit log,
    // a member's export (every field unmasked) and erasure.
    ("*", "/v1/keys*", Scope(Admin)),
    ("GET", "/v1/audit", Scope(Admin)),
    ("PATCH", "/v1/workspace", Scope(Admin)),
    ("PUT", "/v1/intelligence/settings", Scope(Admin)),
    ("*", "/v1/webhooks/*", Scope(Admin)),
    ("*", "/v1/settings*", Scope(Admin)),
    ("GET", "/v1/members/{id}/export", Scope(Admin)),
    ("POST", "/v1/members/{id}:erase", Scope(Admin)),
    // `{id}:verb` routes are matched as `/v1/members/{id}` (one parameter per segment):
    // the only one today is `:erase`.
    ("POST", "/v1/members/{id}", Scope(Admin)),
];

fn matches(pattern: &str, route: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => route.starts_with(prefix),
        None => pattern == route,
    }
}

/// The scope a route needs: its line in the table, else the default by method.
pub fn need(method: &Method, route: &str) -> Need {
    RULES
        .iter()
        .find(|(m, r, _)| (*m == "*" || *m == method.as_str()) && matches(r, route))
        .map(|(_, _, n)| *n)
        .unwrap_or(if method == Method::GET || method == Method::HEAD {
            Scope(KeyScope::Read)
        } else {
            Scope(Operator)
        })
}

/// Whether one scope a key holds reaches a route needing `need`: `admin` reaches
/// everything; `operator` its own routes and every read but the admin ones; `read` every
/// read but the admin ones; `checkout` and `ingest` only their own routes.
fn covers(held: KeyScope, method: &Method, need: KeyScope) -> bool {
    let is_read = method == Method::GET || method == Method::HEAD;
    match held {
        Admin => true,
        Operator => need == Operator || (is_read && need != Admin),
        KeyScope::Read => is_read && need != Admin,
        Checkout => need == Checkout,
        Ingest => need == Ingest,
    }
}

/// Whether a key with `scopes` may call a route needing `need`.
pub fn allows(scopes: &[KeyScope], method: &Method, need: KeyScope) -> bool {
    scopes.iter().any(|s| covers(*s, method, need))
}

/// Whether phones and emails are masked in the answer: when the key reaches the route only
/// through `read`.
pub fn masks(scopes: &[KeyScope], method: &Method, need: KeyScope) -> bool {
    !scopes
        .iter()
        .any(|s| *s != KeyScope::Read && covers(*s, method, need))
}

/// The scope a refusal names, and the ones that would also do.
pub fn refusal(method: &Method, need: KeyScope) -> String {
    let also: Vec<&str> = KeyScope::ALL
        .into_iter()
        .filter(|s| *s != need && covers(*s, method, need))
        .map(KeyScope::as_str)
        .collect();
    format!(
        "this route needs a key with scope `{}` (or {})",
        need.as_str(),
        also.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_not_in_the_table_gets_read_for_get_and_operator_for_writes() {
        assert_eq!(need(&Method::GET, "/v1/campaigns"), Scope(KeyScope::Read));
        assert_eq!(
            need(&Method::POST, "/v1/campaigns/{id}:launch"),
            Scope(Operator)
        );
        assert_eq!(need(&Method::POST, "/v1/events:batch"), Scope(Ingest));
        assert_eq!(
            need(&Method::DELETE, "/v1/webhooks/endpoints/{id}"),
            Scope(Admin)
        );
        assert_eq!(need(&Method::GET, "/u/{token}"), Public);
    }

    #[test]
    fn read_reaches_reads_but_not_admin_ones_and_masks() {
        let read = [KeyScope::Read];
        assert!(allows(&read, &Method::GET, Checkout));
        assert!(!allows(&read, &Method::GET, Admin));
        assert!(!allows(&read, &Method::POST, Operator));
        assert!(masks(&read, &Method::GET, Checkout));
        assert!(!masks(&[KeyScope::Read, Checkout], &Method::GET, Checkout));
        assert!(masks(
            &[KeyScope::Read, Checkout],
            &Method::GET,
            KeyScope::Read
        ));
        assert!(!masks(&[Operator], &Method::GET, KeyScope::Read));
    }

    #[test]
    fn checkout_and_ingest_reach_only_their_own_routes() {
        assert!(allows(&[Checkout], &Method::POST, Checkout));
        assert!(!allows(&[Checkout], &Method::GET, KeyScope::Read));
        assert!(!allows(&[Ingest], &Method::POST, Operator));
        assert!(allows(&[Admin], &Method::POST, Ingest));
        assert!(!allows(&[Operator], &Method::POST, Ingest));
    }
}
