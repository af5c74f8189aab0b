//! Events (用户行为): append-only facts about a member. Known types have their properties
//! checked here; any other well-formed type is stored as a custom behaviour event.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Invalid};
use crate::member::{ProfileIn, ProfilePatch};
use crate::money::{Currency, Money};
use crate::time::When;

pub const MEMBER_REGISTERED: &str = "member.registered";
pub const PROFILE_COMPLETED: &str = "profile.completed";
pub const CHECKIN: &str = "checkin";
pub const ORDER_PAID: &str = "order.paid";
pub const ORDER_REFUNDED: &str = "order.refunded";
pub const REVIEW_POSTED: &str = "review.posted";
pub const CONTENT_SHARED: &str = "content.shared";
pub const REFERRAL_ACCEPTED: &str = "referral.accepted";

/// `order.cancelled`: an unpaid order was given up (its locked coupons go back).
pub const ORDER_CANCELLED: &str = "order.cancelled";

/// The types clients send whose meaning MemberOps knows (any other well-formed type that
/// is not a [`SystemEvent`] is stored as a custom behaviour event).
pub const CLIENT_TYPES: &[&str] = &[
    MEMBER_REGISTERED,
    PROFILE_COMPLETED,
    CHECKIN,
    ORDER_PAID,
    ORDER_REFUNDED,
    ORDER_CANCELLED,
    REVIEW_POSTED,
    CONTENT_SHARED,
    REFERRAL_ACCEPTED,
];

/// What MemberOps records itself when it changes a member's state, whoever caused the
/// change (an event, a job, an operator). Clients cannot send these types; they are not
/// activity (a downgrade is not the member doing something), and consumers of the event
/// log see them in one order with the clients' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemEvent {
    /// `{"from", "to", "kind": "upgrade"|"downgrade", "growth"}`
    TierChanged,
    /// `{"from", "to", "cause"}`
    LifecycleChanged,
    /// `{"points", "lots"}`: points left in lots whose validity ended.
    PointsExpired,
    /// `{"coupon_ids", "template_id", "source"}`
    CouponIssued,
    /// `{"coupon_ids", "order_id"}`
    CouponRedeemed,
    /// `{"coupon_ids"}`
    CouponExpired,
    /// `{"year", "tier", "points", "coupon_ids"}`
    BirthdayGift,
    /// `{"channel", "campaign_id", "message_id", "source": "unsubscribe_link"}`
    ConsentWithdrawn,
    /// `{"task_id", "outcome", "notes", "callback_at", "staff"}`: a staff call's outcome.
    TaskLogged,
}

impl SystemEvent {
    pub const ALL: [SystemEvent; 9] = [
        SystemEvent::TierChanged,
        SystemEvent::LifecycleChanged,
        SystemEvent::PointsExpired,
        SystemEvent::CouponIssued,
        SystemEvent::CouponRedeemed,
        SystemEvent::CouponExpired,
        SystemEvent::BirthdayGift,
        SystemEvent::ConsentWithdrawn,
        SystemEvent::TaskLogged,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SystemEvent::TierChanged => "tier.changed",
            SystemEvent::LifecycleChanged => "lifecycle.changed",
            SystemEvent::PointsExpired => "points.expired",
            SystemEvent::CouponIssued => "coupon.issued",
            SystemEvent::CouponRedeemed => "coupon.redeemed",
            SystemEvent::CouponExpired => "coupon.expired",
            SystemEvent::BirthdayGift => "birthday.gift",
            SystemEvent::ConsentWithdrawn => "consent.withdrawn",
            SystemEvent::TaskLogged => "task.logged",
        }
    }

    pub fn parse(kind: &str) -> Option<SystemEvent> {
        SystemEvent::ALL.into_iter().find(|s| s.as_str() == kind)
    }
}

impl std::fmt::Display for SystemEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Types the system records itself; clients cannot send them.
pub const RESERVED: &[&str] = &[
    SystemEvent::TierChanged.as_str(),
    SystemEvent::LifecycleChanged.as_str(),
    SystemEvent::PointsExpired.as_str(),
    SystemEvent::CouponIssued.as_str(),
    SystemEvent::CouponRedeemed.as_str(),
    SystemEvent::CouponExpired.as_str(),
    SystemEvent::BirthdayGift.as_str(),
    SystemEvent::ConsentWithdrawn.as_str(),
    SystemEvent::TaskLogged.as_str(),
];

/// Whether MemberOps knows this type: a client type with a meaning or a system type.
pub fn is_builtin(kind: &str) -> bool {
    CLIENT_TYPES.contains(&kind) || RESERVED.contains(&kind)
}

/// An event as a client sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct EventIn {
    /// The client's id for this event: sending it again is a no-op.
    #[schema(example = "evt-20260501-0001")]
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "order.paid")]
    pub kind: String,
    /// The member's external id.
    #[schema(example = "u1001")]
    pub member: String,
    /// RFC 3339 or YYYY-MM-DD (wall-clock in the member's zone); defaults to now.
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"order_id": "o-1", "amount": "199.00"}))]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Create an unknown member instead of rejecting the event.
    #[serde(default)]
    pub auto_create: bool,
}

/// What a known event type means for the stores it touches.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Custom and behaviour events: stored, counted as activity.
    None,
    Registered(Box<ProfilePatch>),
    OrderPaid {
        order_id: String,
        amount: Money,
        channel: Option<String>,
    },
    /// `amount` None refunds whatever is left of the order.
    OrderRefunded {
        order_id: String,
        amount: Option<Money>,
    },
}

/// An event that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub member: String,
    pub when: When,
    pub properties: serde_json::Map<String, serde_json::Value>,
    pub auto_create: bool,
    pub effect: Effect,
}

impl EventIn {
    /// Checks the envelope and, for known types, the properties. `now` is used when the
    /// client gave no time; `currency` and `calling_code` (for phone numbers written
    /// without one) are the workspace's.
    pub fn validate(
        self,
        now: When,
        currency: Currency,
        calling_code: &str,
    ) -> Result<Event, Invalid> {
        let mut errs = Vec::new();
        // NUL first: no other check need look at text the store cannot hold.
        for (field, text) in [
            ("id", Some(self.id.as_str())),
            ("type", Some(self.kind.as_str())),
            ("member", Some(self.member.as_str())),
            ("occurred_at", self.occurred_at.as_deref()),
        ] {
            if text.is_some_and(|t| t.contains('\0')) {
                errs.push(crate::text::nul_error(vec![field.to_owned()]));
            }
        }
        if let Some(mut at) = crate::text::find_nul_in(&self.properties) {
            at.insert(0, "properties".to_owned());
            errs.push(crate::text::nul_error(at));
        }
        if !errs.is_empty() {
            return Err(Invalid(errs));
        }
        if self.id.trim().is_empty() || self.id.len() > 200 {
            errs.push(FieldError::new(
                &["id"],
                "invalid_id",
                "id must be 1–200 characters",
            ));
        }
        if self.member.trim().is_empty() || self.member.len() > 200 {
            errs.push(FieldError::new(
                &["member"],
                "invalid_member",
                "member must be the member's external id (1–200 characters)",
            ));
        }
        let kind = self.kind.trim().to_owned();
        if kind.is_empty() || kind.len() > 100 || kind.chars().any(char::is_control) {
            errs.push(FieldError::new(
                &["type"],
                "invalid_type",
                "type must be 1–100 printable characters",
            ));
        } else if RESERVED.contains(&kind.as_str()) {
            errs.push(FieldError::new(
                &["type"],
                "reserved_type",
                format!("`{kind}` is recorded by MemberOps itself"),
            ));
        }
        let when = match self.occurred_at.as_deref() {
            None | Some("") => Some(now),
            Some(t) => match When::parse(t, "occurred_at") {
                Ok(w) => Some(w),
                Err(Invalid(e)) => {
                    errs.extend(e);
                    None
                }
            },
        };
        if let (Some(w), When::Instant(n)) = (&when, &now)
            && is_future(w, n)
        {
            errs.push(FieldError::new(
                &["occurred_at"],
                "occurred_at_in_future",
                format!(
                    "occurred_at is more than {} minutes in the future",
                    FUTURE_SKEW_MINUTES
                ),
            ));
        }
        let effect = match effect_of(&kind, &self.properties, currency, calling_code) {
            Ok(e) => Some(e),
            Err(Invalid(e)) => {
                errs.extend(e.into_iter().map(|e| e.under("properties")));
                None
            }
        };
        match (when, effect) {
            (Some(when), Some(effect)) if errs.is_empty() => Ok(Event {
                id: self.id.trim().to_owned(),
                kind,
                member: self.member.trim().to_owned(),
                when,
                properties: self.properties,
                auto_create: self.auto_create,
                effect,
            }),
            _ => Err(Invalid(errs)),
        }
    }
}

/// How far ahead of the server's clock an event may be dated (clock skew of senders).
pub const FUTURE_SKEW_MINUTES: i64 = 5;

/// Whether `w` lies more than the allowed skew after `now`. A wall-clock time or a local
/// date is judged in the zone furthest ahead (UTC+14), since the member's zone is not known
/// here: refused only when it is in the future everywhere.
fn is_future(w: &When, now: &chrono::DateTime<chrono::Utc>) -> bool {
    let limit = *now + chrono::Duration::minutes(FUTURE_SKEW_MINUTES);
    let ahead = chrono::Duration::hours(14);
    match w {
        When::Instant(t) => *t > limit,
        When::LocalDateTime(dt) => *dt > (limit + ahead).naive_utc(),
        When::LocalDate(d) => *d > (limit + ahead).date_naive(),
    }
}

fn effect_of(
    kind: &str,
    props: &serde_json::Map<String, serde_json::Value>,
    currency: Currency,
    calling_code: &str,
) -> Result<Effect, Invalid> {
    match kind {
        MEMBER_REGISTERED => {
            let profile: ProfileIn =
                serde_json::from_value(serde_json::Value::Object(props.clone()))
                    .map_err(|e| Invalid::one(&[], "invalid_profile", e.to_string()))?;
            Ok(Effect::Registered(Box::new(
                profile.validate(calling_code)?,
            )))
        }
        ORDER_PAID => {
            let order_id = order_id(props)?;
            let amount = amount(props, currency)?.ok_or_else(|| {
                Invalid::one(&["amount"], "missing", "order.paid needs an amount")
            })?;
            if amount.minor < 0 {
                return Err(Invalid::one(
                    &["amount"],
                    "invalid_amount",
                    "a paid amount cannot be negative",
                ));
            }
            let channel = props
                .get("channel")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            Ok(Effect::OrderPaid {
                order_id,
                amount,
                channel,
            })
        }
        ORDER_REFUNDED => {
            let order_id = order_id(props)?;
            let amount = amount(props, currency)?;
            if amount.is_some_and(|a| a.minor <= 0) {
                return Err(Invalid::one(
                    &["amount"],
                    "invalid_amount",
                    "a refund amount must be positive",
                ));
            }
            Ok(Effect::OrderRefunded { order_id, amount })
        }
        _ => Ok(Effect::None),
    }
}

fn order_id(props: &serde_json::Map<String, serde_json::Value>) -> Result<String, Invalid> {
    match props.get("order_id") {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => {
            Ok(s.trim().to_owned())
        }
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(Invalid::one(
            &["order_id"],
            "invalid_order_id",
            "order_id must be a non-empty string",
        )),
        None => Err(Invalid::one(
            &["order_id"],
            "missing",
            "order_id is required",
        )),
    }
}

/// `amount` in decimal major units, or `amount_minor` as an integer; `currency` must be the
/// workspace's, so that totals never add up different currencies.
fn amount(
    props: &serde_json::Map<String, serde_json::Value>,
    currency: Currency,
) -> Result<Option<Money>, Invalid> {
    if let Some(c) = props.get("currency").and_then(|v| v.as_str()) {
        let given = Currency::parse(c)?;
        if given != currency {
            return Err(Invalid::one(
                &["currency"],
                "currency_mismatch",
                format!("this workspace keeps its books in {currency}"),
            ));
        }
    }
    if let Some(v) = props.get("amount_minor") {
        let minor = v.as_i64().ok_or_else(|| {
            Invalid::one(
                &["amount_minor"],
                "invalid_amount",
                "amount_minor must be an integer",
            )
        })?;
        crate::money::check_bound(minor, "amount_minor")?;
        return Ok(Some(Money { minor, currency }));
    }
    match props.get("amount") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => Money::from_json(v, currency).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: serde_json::Value) -> Result<Event, Invalid> {
        let e: EventIn = serde_json::from_value(v).expect("shape");
        e.validate(
            When::parse("2026-01-01", "t").expect("now"),
            Currency::CNY,
            "86",
        )
    }

    #[test]
    fn events_dated_in_the_future_are_refused() {
        let now = When::parse("2026-01-01T12:00:00Z", "t").expect("now");
        let at = |t: &str| {
            let e: EventIn = serde_json::from_value(
                json!({"id": "1", "type": "page.viewed", "member": "m", "occurred_at": t}),
            )
            .expect("shape");
            e.validate(now, Currency::CNY, "86")
                .map_err(|e| e.0[0].code.clone())
                .map(|_| ())
        };
        assert_eq!(at("2026-01-01T12:05:00Z"), Ok(()), "within the skew");
        assert_eq!(
            at("2026-01-01T12:05:01Z"),
            Err("occurred_at_in_future".into())
        );
        // A local date or wall clock is in the future only when it is everywhere.
        assert_eq!(at("2026-01-02"), Ok(()));
        assert_eq!(at("2026-01-03"), Err("occurred_at_in_future".into()));
        assert_eq!(at("2026-01-02 02:00:00"), Ok(()));
        assert_eq!(
            at("2026-01-02 03:00:00"),
            Err("occurred_at_in_future".into())
        );
    }

    #[test]
    fn order_paid_needs_order_id_and_amount() {
        let err = ev(json!({"id": "1", "type": "order.paid", "member": "m", "properties": {}}))
            .expect_err("invalid");
        assert_eq!(err.0[0].loc, vec!["properties", "order_id"]);
        let err = ev(json!({"id": "1", "type": "order.paid", "member": "m", "properties": {"order_id": "o"}})).expect_err("invalid");
        assert_eq!(err.0[0].loc, vec!["properties", "amount"]);
        let ok = ev(json!({"id": "1", "type": "order.paid", "member": "m", "properties": {"order_id": 7, "amount": 19.99}})).expect("valid");
        assert_eq!(
            ok.effect,
            Effect::OrderPaid {
                order_id: "7".into(),
                amount: Money {
                    minor: 1999,
                    currency: Currency::CNY
                },
                channel: None
            }
        );
    }

    #[test]
    fn custom_types_pass_and_reserved_ones_do_not() {
        assert_eq!(
            ev(json!({"id": "1", "type": "coupon.viewed", "member": "m"}))
                .expect("custom")
                .effect,
            Effect::None
        );
        assert_eq!(
            ev(json!({"id": "1", "type": "tier.changed", "member": "m"}))
                .expect_err("reserved")
                .code(),
            "reserved_type"
        );
    }

    #[test]
    fn every_system_type_is_reserved_and_parses_back() {
        for s in SystemEvent::ALL {
            assert!(RESERVED.contains(&s.as_str()), "{s}");
            assert_eq!(SystemEvent::parse(s.as_str()), Some(s));
            assert!(is_builtin(s.as_str()));
        }
        assert_eq!(RESERVED.len(), SystemEvent::ALL.len());
        assert!(is_builtin("order.paid") && !is_builtin("cart.abandoned"));
    }

    #[test]
    fn nul_is_refused_where_it_stands() {
        let err =
            ev(json!({"id": "1", "type": "x", "member": "m", "properties": {"note": "a\u{0}b"}}))
                .expect_err("nul");
        assert_eq!(
            (err.0[0].loc.clone(), err.code()),
            (
                vec!["properties".to_owned(), "note".to_owned()],
                "nul_character"
            )
        );
        let err = ev(json!({"id": "1\u{0}", "type": "x", "member": "m"})).expect_err("nul");
        assert_eq!(err.0[0].loc, vec!["id"]);
    }

    #[test]
    fn registration_validates_the_profile() {
        let err = ev(json!({"id": "1", "type": "member.registered", "member": "m", "properties": {"email": "bad"}})).expect_err("invalid");
        assert_eq!(err.0[0].loc, vec!["properties", "email"]);
        assert_eq!(err.code(), "invalid_email");
    }

    #[test]
    fn foreign_currency_is_refused() {
        let err = ev(json!({"id": "1", "type": "order.paid", "member": "m", "properties": {"order_id": "o", "amount": "1", "currency": "USD"}})).expect_err("invalid");
        assert_eq!(err.code(), "currency_mismatch");
    }
}
