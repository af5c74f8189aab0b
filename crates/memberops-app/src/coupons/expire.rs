//! The expiry sweep: owned coupons still `issued` after their window closed become
//! `expired`. Checkout already refuses them by time; the sweep makes the stored status
//! (and every list and report) say so. Idempotent: a second run at the same time finds
//! nothing to move. Meant to be scheduled (see the jobs worker) or run from the CLI.

use memberops_core::time::Millis;
use memberops_store::Store;
use serde::Serialize;

use crate::error::Result;
use crate::workspace::Workspace;

/// Coupons moved per transaction, so the write lock is never held for long.
pub const EXPIRE_BATCH: i64 = 5_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExpireOut {
    /// Coupons moved from `issued` to `expired` by this run.
    pub expired: u64,
    /// Transactions it took.
    pub batches: u64,
}

/// Expires every owned coupon whose window ended at or before `now`.
pub async fn expire_due(store: &dyn Store, ws: &Workspace, now: Millis) -> Result<ExpireOut> {
    let mut out = ExpireOut::default();
    loop {
        let mut tx = store.begin_write(&ws.id).await?;
        let moved = tx.expire_due_coupons(now, EXPIRE_BATCH).await?;
        tx.commit().await?;
        out.expired += moved;
        if moved > 0 {
            out.batches += 1;
        }
        if moved < EXPIRE_BATCH as u64 {
            return Ok(out);
        }
    }
}
