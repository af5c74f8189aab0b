//! Rows as the store reads and writes them.

use memberops_core::member::{Gender, Member, MemberStats, Profile};
use memberops_core::time::{Millis, millis_to_rfc3339};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    /// Country calling code (no `+`) of phone numbers written without one.
    pub calling_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// One or more, sorted (docs/operations.md).
    pub scopes: Vec<crate::KeyScope>,
    /// Hex SHA-256 of the secret; the secret itself is never stored.
    pub key_hash: String,
    /// The first characters of the secret, to recognise a key in a list.
    pub key_prefix: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    /// None: no limit of its own.
    pub rate_limit: Option<crate::RateLimit>,
    /// Recorded at most about once a minute.
    pub last_used_at: Option<Millis>,
}

/// A member row without aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    pub id: String,
    pub workspace_id: String,
    pub external_id: String,
    pub profile: Profile,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Home store and owning staff member (`member_stores`), as read; writes of the member
    /// row ignore them (assignments have their own audited path).
    pub store_code: Option<String>,
    pub staff_code: Option<String>,
}

/// The few member facts the event path needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub id: String,
    pub external_id: String,
    pub time_zone: String,
    pub registered_at: Option<Millis>,
}

/// What an event batch needs of a stored member: who it is, its aggregates (None: no
/// row yet) and its stored lifecycle stage (None: no intelligence row yet).
#[derive(Debug, Clone)]
pub struct MemberState {
    pub member: MemberRef,
    pub stats: Option<StatsRow>,
    pub stage: Option<String>,
}

/// Where the embedded store's data stands, as seen by the writer: changes committed by
/// other connections (`data_version`) and rows changed through the writer itself
/// (`total_changes`, rolled-back ones included). Equal epochs mean nothing was written in
/// between, so what was read at the first is still true at the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteEpoch {
    /// Writer connections opened in this process so far: both numbers below start again
    /// on a new connection, so a reconnect alone makes the epoch differ.
    pub connection: u64,
    pub data_version: i64,
    pub total_changes: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsRow {
    pub first_order_at: Option<Millis>,
    pub last_order_at: Option<Millis>,
    pub order_count: i64,
    pub order_days: i64,
    pub paid_minor: i64,
    pub refunded_minor: i64,
    pub last_active_at: Option<Millis>,
    pub event_count: i64,
    /// Local calendar day (YYYY-MM-DD) of the last order that counts.
    pub last_order_date: Option<String>,
}

impl MemberRecord {
    pub fn into_member(self, stats: StatsRow) -> Member {
        let p = self.profile;
        Member {
            id: self.id,
            external_id: self.external_id,
            phone: p.phone,
            email: p.email,
            name: p.name,
            gender: p.gender,
            birthday: p.birthday,
            income_band: p.income_band,
            region: p.region,
            channel: p.channel,
            registered_at: p.registered_at.map(millis_to_rfc3339),
            time_zone: p.time_zone.name().to_owned(),
            consent: p.consent,
            attributes: p.attributes,
            profile_tags: p.tags.clone(),
            tags: p.tags,
            store_code: self.store_code,
            staff_code: self.staff_code,
            created_at: millis_to_rfc3339(self.created_at),
            updated_at: millis_to_rfc3339(self.updated_at),
            stats: MemberStats {
                first_order_at: stats.first_order_at.map(millis_to_rfc3339),
                last_order_at: stats.last_order_at.map(millis_to_rfc3339),
                order_count: stats.order_count,
                order_days: stats.order_days,
                total_spend_minor: stats.paid_minor - stats.refunded_minor,
                total_paid_minor: stats.paid_minor,
                total_refunded_minor: stats.refunded_minor,
                last_active_at: stats.last_active_at.map(millis_to_rfc3339),
                event_count: stats.event_count,
            },
        }
    }
}

pub(crate) fn gender_from_str(s: &str) -> Option<Gender> {
    Gender::parse(s).ok()
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub workspace_id: String,
    pub id: String,
    pub member_id: String,
    pub kind: String,
    pub occurred_at: Millis,
    pub received_at: Millis,
    pub properties: String,
    /// On an `order.paid` event: the order it records (read back through `orders`).
    pub order: Option<EventOrder>,
}

/// The order facts an `order.paid` event row carries; the `orders` view reads them, and a
/// refund later updates `refunded_minor` in place.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOrder {
    pub order_id: String,
    /// The member's calendar day of the payment, `YYYY-MM-DD`.
    pub local_date: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub currency: String,
    pub channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub member_id: String,
    pub kind: String,
    pub occurred_at: Millis,
    pub received_at: Millis,
    pub properties: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub workspace_id: String,
    pub order_id: String,
    pub member_id: String,
    pub paid_at: Millis,
    pub local_date: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub currency: String,
    pub channel: Option<String>,
    pub event_id: String,
}

/// Filters for listing members; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct MemberQuery {
    pub external_id: Option<String>,
    /// Members whose phone is any of these (empty: no phone filter).
    pub phones: Vec<String>,
    pub email: Option<String>,
    pub name_prefix: Option<String>,
    /// Members with ids after this one (ids sort by creation).
    pub after: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub members: i64,
    pub events: i64,
    pub orders: i64,
}
