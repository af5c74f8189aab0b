//! What happens after events land: domain modules react to the accepted events of a batch
//! inside the same transaction (loyalty awards, lifecycle stages, coupon redemptions…).
//!
//! Each domain adds one call to [`after_events`]; its own module does the work through its
//! own storage trait (an upcast of the [`WriteTx`]).

use chrono::NaiveDate;
use chrono_tz::Tz;
use foldhash::HashMap;
use memberops_core::event::Event;
use memberops_core::time::Millis;

use memberops_store::{LoyaltyMemberRow, StatsRow, WriteTx};

use crate::error::Result;
use crate::workspace::Workspace;

/// An event that was accepted in this batch, with the member facts resolved for it.
#[derive(Debug, Clone)]
pub struct AppliedEvent {
    pub event: Event,
    /// Internal member id.
    pub member_id: String,
    pub member_tz: Tz,
    /// UTC instant.
    pub occurred_at: Millis,
    /// The member's local calendar day of `occurred_at`.
    pub local_date: NaiveDate,
    /// Whether the member was created by this batch.
    pub member_created: bool,
}

/// Where a member of the batch stands once its events are written: the batch already
/// holds these facts, so hooks need not read them back.
#[derive(Debug, Clone)]
pub struct MemberNow {
    pub time_zone: Tz,
    pub registered_at: Option<Millis>,
    pub stats: StatsRow,
    /// Lifecycle stage: as stored before the batch (None: no intelligence row), then as
    /// the stage hook leaves it.
    pub stage: Option<String>,
    /// Loyalty state when the batch already knows it (kept from the previous batch), then
    /// as the loyalty hook leaves it; None: unknown, read it. A later hook that changes a
    /// member's loyalty state sets it back to None, or the next batch would start from the
    /// state before that change (the member cache keeps what is here).
    pub loyalty: Option<LoyaltyMemberRow>,
}

/// [`MemberNow`] by internal member id, for every member with an accepted event, as the
/// reactors leave them. A reactor that writes a member's loyalty account says so through
/// [`BatchMembers::loyalty_written`], and the batch keeps the member cache right by itself:
/// no reactor empties the cache by hand.
#[derive(Debug, Default)]
pub struct BatchMembers {
    now: HashMap<String, MemberNow>,
    /// A reactor changed a member the batch does not follow (a referrer rewarded for an
    /// invitee's order, a 满返 credit to another member).
    changed_outside: bool,
}

impl BatchMembers {
    pub fn with_capacity(n: usize) -> BatchMembers {
        BatchMembers {
            now: HashMap::with_capacity_and_hasher(n, Default::default()),
            changed_outside: false,
        }
    }

    /// A reactor wrote this member's loyalty account: `Some(row)` as it now stands, `None`
    /// when the reactor does not hold the whole state (the next batch reads it again).
    pub fn loyalty_written(&mut self, member_id: &str, row: Option<LoyaltyMemberRow>) {
        match self.now.get_mut(member_id) {
            Some(m) => m.loyalty = row,
            None => self.changed_outside = true,
        }
    }

    /// Whether a reactor changed a member outside the batch: the member cache, which the
    /// write epoch cannot warn about the batch's own writes, must be emptied.
    pub fn changed_outside(&self) -> bool {
        self.changed_outside
    }
}

impl std::ops::Deref for BatchMembers {
    type Target = HashMap<String, MemberNow>;
    fn deref(&self) -> &Self::Target {
        &self.now
    }
}

impl std::ops::DerefMut for BatchMembers {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.now
    }
}

/// Runs every domain's reaction to the batch's accepted events, in batch order, inside
/// the batch's transaction. An error rolls the whole batch back.
pub async fn after_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
    members: &mut BatchMembers,
) -> Result<()> {
    let laps = crate::laps::Laps::start("batch hooks");
    crate::loyalty::on_events(tx, ws, applied, members).await?;
    laps.lap("loyalty");
    crate::coupons::on_events(tx, ws, applied, members).await?;
    laps.lap("coupons");
    crate::segments::on_events(tx, ws, applied, members).await?;
    laps.lap("segments");
    crate::stores::on_events(tx, applied).await?;
    Ok(())
}
