//! What happens after events land: domain modules react to the accepted events of a batch
//! inside the same transaction (loyalty awards, lifecycle stages, coupon redemptions…).
//!
//! Each domain adds one call to [`after_events`]; its own module does the work through its
//! own storage trait (an upcast of the [`WriteTx`]).

use chrono::NaiveDate;
use chrono_tz::Tz;
use memberops_core::event::Event;
use memberops_core::time::Millis;
use memberops_store::WriteTx;

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

/// Runs every domain's reaction to the batch's accepted events, in batch order, inside
/// the batch's transaction. An error rolls the whole batch back.
pub async fn after_events(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    applied: &[AppliedEvent],
) -> Result<()> {
    crate::loyalty::on_events(tx, ws, applied).await?;
    crate::coupons::on_events(tx, ws, applied).await?;
    crate::segments::on_events(tx, ws, applied).await?;
    Ok(())
}
