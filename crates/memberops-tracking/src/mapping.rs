//! Which MemberOps event a message becomes (docs/integrations.md has the table).
//!
//! - `Order Completed` → `order.paid`, `Order Refunded` → `order.refunded`, `Signed Up` →
//!   `member.registered`: they drive orders, aggregates and registration;
//! - the other E-commerce spec events get `noun.verb` names (`Product Viewed` →
//!   `product.viewed`), so funnels and segments name them like MemberOps' own events;
//! - any other track call is `track:<event name as sent>`; page and screen calls are
//!   `page.viewed` / `screen.viewed` with the name in the properties; identify, group and
//!   alias are stored as `identify`, `group`, `alias`.
//!
//! Amounts stay as the client sent them (`total`, else `revenue`, copied to `amount`):
//! the event path converts them exactly and refuses what would need rounding.

use chrono::{DateTime, SecondsFormat, Utc};
use memberops_core::FieldError;
use memberops_core::event::{MEMBER_REGISTERED, ORDER_PAID, ORDER_REFUNDED};
use memberops_core::member::ProfilePatch;
use serde_json::{Map, Value};

use crate::message::{Kind, Message};
use crate::traits::profile_from_traits;

/// E-commerce spec events stored as behaviour events, with their MemberOps names.
pub const ECOMMERCE_BEHAVIOUR: &[(&str, &str)] = &[
    ("Products Searched", "products.searched"),
    ("Product List Viewed", "product_list.viewed"),
    ("Product List Filtered", "product_list.filtered"),
    ("Promotion Viewed", "promotion.viewed"),
    ("Promotion Clicked", "promotion.clicked"),
    ("Product Clicked", "product.clicked"),
    ("Product Viewed", "product.viewed"),
    ("Product Added", "product.added"),
    ("Product Removed", "product.removed"),
    ("Cart Viewed", "cart.viewed"),
    ("Checkout Started", "checkout.started"),
    ("Checkout Step Viewed", "checkout_step.viewed"),
    ("Checkout Step Completed", "checkout_step.completed"),
    ("Payment Info Entered", "payment_info.entered"),
    ("Order Updated", "order.updated"),
    ("Order Cancelled", "order.cancelled"),
    ("Coupon Entered", "coupon.entered"),
    ("Coupon Applied", "coupon.applied"),
    ("Coupon Denied", "coupon.denied"),
    ("Coupon Removed", "coupon.removed"),
    ("Product Added to Wishlist", "wishlist.product_added"),
    ("Product Removed from Wishlist", "wishlist.product_removed"),
    (
        "Wishlist Product Added to Cart",
        "wishlist.product_added_to_cart",
    ),
    ("Product Shared", "product.shared"),
    ("Cart Shared", "cart.shared"),
    ("Product Reviewed", "product.reviewed"),
];

/// Profile fields a `member.registered` event reads from its properties: `Signed Up`
/// properties of these names go to the profile through the lenient trait mapping instead,
/// so that a bad value cannot fail the registration.
const PROFILE_KEYS: &[&str] = &[
    "phone",
    "email",
    "name",
    "gender",
    "birthday",
    "income_band",
    "region",
    "channel",
    "registered_at",
    "time_zone",
    "consent",
    "attributes",
    "tags",
];

/// Context fields worth keeping on every event (where it came from, on what).
const CONTEXT_KEPT: &[&str] = &[
    "page",
    "campaign",
    "library",
    "ip",
    "locale",
    "userAgent",
    "app",
    "device",
    "os",
    "referrer",
];

/// A message ready for the event path; the member it belongs to is decided by identity
/// resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The event id: the message id.
    pub id: String,
    pub kind: String,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    pub properties: Map<String, Value>,
    /// Profile changes (identify traits; Signed Up traits).
    pub profile: Option<ProfilePatch>,
    /// An anonymous id this message links to its `userId` (identify with both ids; alias).
    pub link: Option<String>,
    /// Values that were kept raw or ignored.
    pub warnings: Vec<FieldError>,
}

/// The MemberOps type of a track event name.
pub fn track_type(event: &str) -> String {
    match event {
        "Order Completed" => ORDER_PAID.to_owned(),
        "Order Refunded" => ORDER_REFUNDED.to_owned(),
        "Signed Up" => MEMBER_REGISTERED.to_owned(),
        _ => ECOMMERCE_BEHAVIOUR
            .iter()
            .find(|(name, _)| *name == event)
            .map(|(_, t)| (*t).to_owned())
            .unwrap_or_else(|| format!("track:{event}")),
    }
}

/// Maps one message received at `received`; `calling_code` is the workspace's, for phone
/// numbers written without one.
pub fn map_message(m: &Message, received: DateTime<Utc>, calling_code: &str) -> Draft {
    let (at, mut warnings) = m.event_time(received);
    let mut props = m.properties.clone();
    let mut profile = None;
    let mut link = None;
    let kind = match m.kind {
        Kind::Identify => {
            props = m.traits.clone();
            let out = profile_from_traits(&m.traits, &m.context, calling_code);
            warnings.extend(out.warnings);
            profile = Some(out.patch);
            if m.user_id.is_some() {
                link.clone_from(&m.anonymous_id);
            }
            "identify".to_owned()
        }
        Kind::Track => {
            let event = m.event.as_deref().unwrap_or_default();
            let t = track_type(event);
            props.insert("event".into(), Value::String(event.to_owned()));
            match t.as_str() {
                ORDER_PAID | ORDER_REFUNDED => order_props(&mut props),
                MEMBER_REGISTERED => {
                    // Traits come from context.traits (analytics.js) and the properties.
                    let mut traits = m
                        .context
                        .get("traits")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    let mut moved = Map::new();
                    for k in PROFILE_KEYS {
                        if let Some(v) = props.remove(*k) {
                            traits.insert((*k).to_owned(), v.clone());
                            moved.insert((*k).to_owned(), v);
                        }
                    }
                    if !moved.is_empty() {
                        props.insert("traits".into(), Value::Object(moved));
                    }
                    let out = profile_from_traits(&traits, &m.context, calling_code);
                    warnings.extend(out.warnings);
                    profile = Some(out.patch);
                }
                _ => {}
            }
            t
        }
        Kind::Page | Kind::Screen => {
            if let Some(n) = &m.name {
                props.insert("name".into(), Value::String(n.clone()));
            }
            if let Some(c) = &m.category {
                props.insert("category".into(), Value::String(c.clone()));
            }
            if m.kind == Kind::Page {
                "page.viewed"
            } else {
                "screen.viewed"
            }
            .to_owned()
        }
        Kind::Group => {
            props = Map::new();
            props.insert(
                "group_id".into(),
                m.group_id.clone().map(Value::String).unwrap_or(Value::Null),
            );
            props.insert("traits".into(), Value::Object(m.traits.clone()));
            "group".to_owned()
        }
        Kind::Alias => {
            props = Map::new();
            props.insert(
                "previous_id".into(),
                m.previous_id
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
            link.clone_from(&m.previous_id);
            "alias".to_owned()
        }
    };
    props.insert(
        "received_at".into(),
        Value::String(received.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    if let Some(a) = &m.anonymous_id {
        props.insert("anonymous_id".into(), Value::String(a.clone()));
    }
    let context: Map<String, Value> = CONTEXT_KEPT
        .iter()
        .filter_map(|k| m.context.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    if !context.is_empty() {
        props.insert("context".into(), Value::Object(context));
    }
    Draft {
        id: m.message_id.clone(),
        kind,
        occurred_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        properties: props,
        profile,
        link,
        warnings,
    }
}

/// Spec order properties → what the order events read: `order_id` (also `orderId`),
/// `amount` from `total`, else `revenue`. A refund without an amount refunds the rest.
fn order_props(props: &mut Map<String, Value>) {
    if !props.contains_key("order_id")
        && let Some(v) = props.get("orderId").cloned()
    {
        props.insert("order_id".into(), v);
    }
    props.remove("amount");
    props.remove("amount_minor");
    let amount = ["total", "revenue"]
        .iter()
        .find_map(|k| props.get(*k).filter(|v| !v.is_null()).cloned());
    if let Some(a) = amount {
        props.insert("amount".into(), a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    fn draft(v: Value) -> Draft {
        map_message(
            &Message::parse(&v, None, None).expect("message"),
            now(),
            "86",
        )
    }

    #[test]
    fn ecommerce_events_get_domain_types() {
        let d = draft(
            json!({"type": "track", "userId": "u", "messageId": "m1", "event": "Order Completed",
            "properties": {"order_id": "o1", "total": 19.99, "revenue": 15, "currency": "CNY",
                           "products": [{"product_id": "p", "price": 9.995, "quantity": 2}]}}),
        );
        assert_eq!(d.kind, "order.paid");
        assert_eq!(d.id, "m1");
        assert_eq!(d.properties["amount"], json!(19.99));
        assert_eq!(d.properties["event"], "Order Completed");
        assert_eq!(d.properties["products"][0]["price"], json!(9.995));
        assert_eq!(d.properties["received_at"], "2026-03-01T00:00:00.000Z");
        assert_eq!(
            draft(json!({"type": "track", "userId": "u", "event": "Product Viewed"})).kind,
            "product.viewed"
        );
        assert_eq!(
            draft(json!({"type": "track", "userId": "u", "event": "Played Video"})).kind,
            "track:Played Video"
        );
        let p = draft(
            json!({"type": "page", "anonymousId": "a", "name": "Home", "properties": {"url": "/"}}),
        );
        assert_eq!(
            (
                p.kind.as_str(),
                &p.properties["name"],
                &p.properties["anonymous_id"]
            ),
            ("page.viewed", &json!("Home"), &json!("a"))
        );
        assert_eq!(p.link, None);
    }

    #[test]
    fn identify_and_alias_link_ids_and_signup_fills_the_profile() {
        let d = draft(
            json!({"type": "identify", "userId": "u", "anonymousId": "a", "traits": {"email": "x@y.com"}}),
        );
        assert_eq!(d.kind, "identify");
        assert_eq!(d.link.as_deref(), Some("a"));
        assert_eq!(
            d.profile.expect("profile").email,
            Some(Some("x@y.com".into()))
        );
        let d = draft(json!({"type": "alias", "userId": "u", "previousId": "a"}));
        assert_eq!((d.kind.as_str(), d.link.as_deref()), ("alias", Some("a")));
        let d = draft(json!({"type": "track", "userId": "u", "event": "Signed Up",
            "properties": {"email": "bad", "method": "wechat"}, "context": {"traits": {"name": "Ann"}}}));
        assert_eq!(d.kind, "member.registered");
        assert!(!d.properties.contains_key("email"));
        assert_eq!(d.properties["traits"]["email"], "bad");
        let p = d.profile.expect("profile");
        assert_eq!(p.name, Some(Some("Ann".into())));
        assert_eq!(d.warnings[0].code, "invalid_email");
    }
}
