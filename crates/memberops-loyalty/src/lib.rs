//! Loyalty domain of MemberOps (会员成长体系): growth value and tiers, earning rules, the
//! points ledger, stored value, check-in and referrals.
//!
//! Everything here is pure: plain data in, decisions and ledger entries out. The application
//! layer loads the member's state, calls a function here and writes the returned entries in
//! the same transaction as the event that caused them. Nothing in this crate reads a clock:
//! every function takes the instant (`Millis`, UTC) and, where calendar days matter, the
//! member's IANA zone.
//!
//! How the application uses it, for an `order.paid` event:
//! 1. `rules::evaluate(program, facts, member)` → awards (each names its rule and event);
//! 2. per award: a `tiers::GrowthEntry` for the growth, and
//!    `points::PointsAccount::earn(…, Earning::from_award(…))` → points entries;
//! 3. `tiers::check_upgrade` with the new window growth → maybe a `TierChange`, recorded
//!    as a `tier.changed` event;
//! 4. store the event, the entries and the tier change in one transaction.
//!
//! For `order.refunded`: `points::refund_reversal` (how much, proportionally) →
//! `PointsAccount::reverse_order` (which lots, and any debt) and a negative growth entry.
//! A refund never downgrades at once; the next `tiers::review` sees the lower growth.
//!
//! Decisions, each documented in its module: points are lots consumed soonest-expiring
//! first (`points`); refund shortfalls become debt paid from future points (`points`);
//! stored value is spent principal first, refunds forfeit bonus proportionally
//! (`stored_value`); growth is never multiplied by tier (`rules`); the base check-in reward
//! is an earning rule, streak rewards are here (`checkin`); invite codes are a keyed hash
//! (`referral`).

pub mod checkin;
pub mod error;
pub mod points;
pub mod program;
pub mod referral;
pub mod rules;
pub mod stored_value;
pub mod tiers;
pub mod trial;

pub use error::LoyaltyError;
pub use program::Program;
pub use rules::{Award, EventFacts, MemberState, evaluate};

/// Calendar helpers shared by the modules: "today" and "this month" are the member's.
pub mod calendar {
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::Tz;
    use memberops_core::time::{Millis, When};

    /// The member's local calendar day at `at`.
    pub fn local_date(at: Millis, tz: Tz) -> NaiveDate {
        match tz.timestamp_millis_opt(at) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.date_naive(),
            // Out of chrono's range: no real event is there; fall back to the epoch day.
            chrono::LocalResult::None => NaiveDate::default(),
        }
    }

    /// The instant a local day starts in `tz` (DST gaps handled by memberops-core).
    pub fn start_of_day(day: NaiveDate, tz: Tz) -> Millis {
        When::LocalDate(day).resolve(tz).0
    }
}
