//! What event batches know of stored members, kept from one batch to the next on the
//! embedded store.
//!
//! Every batch needs, for each member it touches, the internal id, time zone, registration
//! time, aggregates and lifecycle stage. Read from SQLite, that is three random look-ups per
//! member (members, member_stats, member_segments): about a third of a 10,000-event batch.
//! A batch that follows another of this process, with nothing written in between, can take
//! them from what the previous batch committed instead.
//!
//! "Nothing written in between" is the store's [`WriteEpoch`]: SQLite's `data_version`
//! moves when another connection (another process) commits, and `total_changes` moves
//! with every row this process writes through its one writer connection, whatever the
//! use case, rolled-back writes included. The cache is used only when the epoch at the
//! start of a batch is the one recorded when the last batch committed; otherwise it is
//! emptied and the batch reads the store. On PostgreSQL there is no epoch (other servers
//! write too) and nothing is kept.

use foldhash::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono_tz::Tz;
use memberops_core::time::Millis;
use memberops_store::{LoyaltyMemberRow, StatsRow, WriteEpoch};
use tokio::sync::{Mutex, MutexGuard};

/// Most members kept when `MEMBEROPS_MEMBER_CACHE` does not say (see
/// [`set_default_max_members`]); a batch that would pass it empties the cache first. About
/// 550 bytes each with aggregates and loyalty state, so ~110 MB at most.
static DEFAULT_MAX_MEMBERS: AtomicUsize = AtomicUsize::new(200_000);

/// Sets the bound for this process unless `MEMBEROPS_MEMBER_CACHE` is set; 0 keeps
/// nothing. A one-off import keeps its footprint bounded with 0.
pub fn set_default_max_members(n: usize) {
    DEFAULT_MAX_MEMBERS.store(n, Ordering::Relaxed);
}

fn max_members() -> usize {
    std::env::var("MEMBEROPS_MEMBER_CACHE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| DEFAULT_MAX_MEMBERS.load(Ordering::Relaxed))
}

/// A stored member as the last committed batch left it.
#[derive(Debug, Clone)]
pub(crate) struct HotMember {
    pub id: String,
    pub time_zone: Tz,
    pub registered_at: Option<Millis>,
    /// None: no aggregate row yet.
    pub stats: Option<StatsRow>,
    /// None: no intelligence row yet.
    pub stage: Option<String>,
    /// None: not known here (the loyalty hook reads it).
    pub loyalty: Option<LoyaltyMemberRow>,
}

#[derive(Debug, Default)]
pub(crate) struct HotMembers {
    /// The epoch at which every entry was true; None when the entries are unknown.
    epoch: Option<WriteEpoch>,
    by_external_id: HashMap<String, HotMember>,
    hits: u64,
    misses: u64,
}

impl HotMembers {
    /// Keeps the entries only when nothing was written since they were recorded (`now` is
    /// the epoch at the start of a batch, read inside its transaction).
    pub fn check(&mut self, now: Option<WriteEpoch>) {
        if now.is_none() || self.epoch != now {
            self.by_external_id.clear();
            self.epoch = None;
        }
    }

    /// Takes a member's entry out for the batch, which puts back what it commits (see
    /// [`HotMembers::settle`]); a batch that fails or writes nothing leaves it out, and the
    /// member is read from the store next time. Taking spares a copy of every entry.
    pub fn take(&mut self, external_id: &str) -> Option<(String, HotMember)> {
        let found = self.by_external_id.remove_entry(external_id);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Keeps the entries across a write that changed none of the facts they hold (a
    /// consumer filling the webhook outbox, a coupon rule issuing coupons): `from` is the
    /// epoch at the start of that write's transaction, `to` the one just before its commit.
    /// Entries recorded at any other epoch stay as they are (the next batch empties them).
    pub fn carry(&mut self, from: Option<WriteEpoch>, to: Option<WriteEpoch>) {
        if from.is_some() && self.epoch == from && to.is_some() {
            self.epoch = to;
        }
    }

    /// Records what a batch committed; `end` is the epoch read just before its commit
    /// (a commit changes neither number for the committing connection).
    pub fn settle(&mut self, end: Option<WriteEpoch>, members: Vec<(String, HotMember)>) {
        self.settle_within(end, members, max_members());
    }

    fn settle_within(
        &mut self,
        end: Option<WriteEpoch>,
        members: Vec<(String, HotMember)>,
        max: usize,
    ) {
        let Some(end) = end.filter(|_| max > 0 && members.len() <= max) else {
            self.check(None);
            return;
        };
        if self.by_external_id.len() + members.len() > max {
            self.by_external_id.clear();
        }
        self.by_external_id.extend(members);
        self.epoch = Some(end);
        tracing::debug!(
            members = self.by_external_id.len(),
            hits = self.hits,
            misses = self.misses,
            "member cache settled"
        );
    }
}

/// The cache of one workspace, shared by the clones of its [`crate::Workspace`]. Holding
/// the lock for a whole batch keeps this process's batches of the workspace in line (the
/// store has one writer anyway), so no batch sees another's half-recorded entries.
#[derive(Debug, Clone, Default)]
pub struct MemberCache(Arc<Mutex<HotMembers>>);

impl MemberCache {
    pub(crate) async fn lock(&self) -> MutexGuard<'_, HotMembers> {
        self.0.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HotMembers {
        fn holds(&self, external_id: &str) -> bool {
            self.by_external_id.contains_key(external_id)
        }
    }

    fn member(id: &str) -> HotMember {
        HotMember {
            id: id.to_owned(),
            time_zone: chrono_tz::UTC,
            registered_at: None,
            stats: None,
            stage: None,
            loyalty: None,
        }
    }

    fn epoch(data_version: i64, total_changes: i64) -> Option<WriteEpoch> {
        Some(WriteEpoch {
            connection: 1,
            data_version,
            total_changes,
        })
    }

    /// A cache after one batch that began at epoch (1, 10) and committed member `m1`
    /// (internal id `a`) at (1, 20).
    fn batch_committed_m1() -> HotMembers {
        let mut hot = HotMembers::default();
        hot.check(epoch(1, 10));
        hot.settle(epoch(1, 20), vec![("m1".into(), member("a"))]);
        hot
    }

    #[test]
    fn a_write_that_keeps_members_carries_the_entries_forward() {
        let mut hot = batch_committed_m1();
        hot.carry(epoch(1, 20), epoch(1, 25));
        hot.check(epoch(1, 25));
        assert!(hot.holds("m1"), "carried to the consumer's end epoch");

        // A carry that did not start where the entries stand changes nothing.
        let mut hot = batch_committed_m1();
        hot.carry(epoch(1, 21), epoch(1, 25));
        hot.check(epoch(1, 25));
        assert!(!hot.holds("m1"), "something else wrote in between");

        // PostgreSQL has no epoch: nothing is carried.
        let mut hot = batch_committed_m1();
        hot.carry(None, None);
        hot.check(epoch(1, 20));
        assert!(hot.holds("m1"));
    }

    #[test]
    fn entries_survive_only_an_unchanged_epoch() {
        let mut hot = batch_committed_m1();
        hot.check(epoch(1, 20));
        assert!(hot.holds("m1"), "same epoch keeps the entry");

        // A write through this process's writer in between.
        hot.check(epoch(1, 21));
        assert!(!hot.holds("m1"));

        hot.settle(epoch(1, 30), vec![("m1".into(), member("a"))]);
        // A commit by another connection in between.
        hot.check(epoch(2, 30));
        assert!(!hot.holds("m1"));
    }

    #[test]
    fn the_bound_empties_the_cache_and_zero_keeps_nothing() {
        let mut hot = HotMembers::default();
        let two = || vec![("m1".into(), member("a")), ("m2".into(), member("b"))];
        hot.settle_within(epoch(1, 10), two(), 3);
        hot.settle_within(epoch(1, 20), vec![("m3".into(), member("c"))], 3);
        assert!(hot.holds("m1") && hot.holds("m3"));
        // A fourth member would pass the bound: the cache starts again from this batch.
        hot.settle_within(epoch(1, 30), vec![("m4".into(), member("d"))], 3);
        assert!(!hot.holds("m1") && hot.holds("m4"));

        // A batch larger than the bound is not kept at all.
        hot.settle_within(epoch(1, 35), two(), 1);
        hot.check(epoch(1, 35));
        assert!(!hot.holds("m4") && !hot.holds("m1"));

        hot.settle_within(epoch(1, 40), two(), 0);
        hot.check(epoch(1, 40));
        assert!(!hot.holds("m1") && !hot.holds("m4"));
    }

    #[test]
    fn a_taken_entry_is_gone_until_its_batch_settles() {
        let mut hot = batch_committed_m1();
        hot.check(epoch(1, 20));
        let (key, taken) = hot.take("m1").expect("cached");
        assert_eq!((key.as_str(), taken.id.as_str()), ("m1", "a"));
        assert!(hot.take("m1").is_none(), "a failed batch leaves it out");
        hot.settle(epoch(1, 30), vec![(key, taken)]);
        hot.check(epoch(1, 30));
        assert!(hot.holds("m1"));
    }

    #[test]
    fn nothing_is_kept_without_an_epoch() {
        let mut hot = HotMembers::default();
        hot.check(None);
        hot.settle(None, vec![("m1".into(), member("a"))]);
        hot.check(None);
        assert!(!hot.holds("m1"));
    }

    #[test]
    fn a_failed_batch_leaves_an_epoch_that_no_longer_matches() {
        let mut hot = batch_committed_m1();
        // The next batch starts at the recorded epoch, writes, and rolls back: its changes
        // still count, so the batch after it reads the store again.
        hot.check(epoch(1, 20));
        hot.check(epoch(1, 35));
        assert!(!hot.holds("m1"));
    }
}
