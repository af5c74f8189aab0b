//! Temporary tiers (体验会员, a trial VIP): an operator grants a higher tier for N days; the
//! member holds it (and its privileges) until local midnight N days after the grant's local
//! day, then returns to the tier they earned. Growth earned meanwhile counts: a member who
//! reached the trial tier (or a higher one) on their own keeps what they reached.
//!
//! Decisions: a trial must be above the tier held (a trial never lowers anyone); one trial
//! at a time; the tier review leaves members on trial alone, and the end of the trial plays
//! the upgrade part of it (downgrades wait for the next review, as after any upgrade).

use chrono::Days;
use chrono_tz::Tz;
use memberops_core::time::Millis;

use crate::calendar::{local_date, start_of_day};
use crate::error::LoyaltyError;
use crate::program::Program;
use crate::tiers::{self, GrowthEntry, TierChange, TierChangeKind};

/// Longest trial, in days.
pub const MAX_DAYS: u32 = 366;

/// Why a grant is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    /// `days` outside 1..=[`MAX_DAYS`].
    Days,
    /// The member already holds this tier or a higher one.
    NotHigher { held: String },
}

/// When a trial granted at `at` for `days` ends: local midnight `days` days after the
/// grant's local day (a 7-day trial granted on the 1st at 15:00 ends as the 8th begins).
pub fn ends_at(at: Millis, days: u32, tz: Tz) -> Millis {
    let day = local_date(at, tz);
    let end = day
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(day);
    start_of_day(end, tz)
}

/// Checks a grant of `tier` for `days` to a member holding `held`; the `tier.changed`
/// upgrade it makes.
pub fn grant(
    program: &Program,
    held: &str,
    tier: &str,
    days: u32,
    at: Millis,
    growth: i64,
) -> Result<Result<TierChange, GrantRefusal>, LoyaltyError> {
    let (to, _) = program.tier(tier)?;
    let (cur, _) = program.tier(held)?;
    if days == 0 || days > MAX_DAYS {
        return Ok(Err(GrantRefusal::Days));
    }
    if to <= cur {
        return Ok(Err(GrantRefusal::NotHigher {
            held: held.to_owned(),
        }));
    }
    Ok(Ok(TierChange {
        from: held.to_owned(),
        to: tier.to_owned(),
        kind: TierChangeKind::Upgrade,
        at,
        growth,
    }))
}

/// What ending a trial does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialEnd {
    /// The member no longer holds the trial tier (they earned a higher one meanwhile):
    /// nothing changes.
    Superseded,
    /// The member earned the trial tier meanwhile and keeps it, dated when it was reached.
    Earned { since: Millis },
    /// Back to the earned tier (`since`: when that holding began, so its protection
    /// period runs on); the change is a downgrade from the trial tier.
    Returned { since: Millis, change: TierChange },
}

/// The trial's state when it ends, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial<'a> {
    pub tier: &'a str,
    pub earned_tier: &'a str,
    pub earned_since: Millis,
    pub starts_at: Millis,
}

/// Ends a trial at `now` for a member holding `held`, with their growth ledger from at
/// least one review window before the trial began.
pub fn end(
    program: &Program,
    trial: &Trial<'_>,
    held: &str,
    entries: &[GrowthEntry],
    now: Millis,
    tz: Tz,
) -> Result<TrialEnd, LoyaltyError> {
    if held != trial.tier {
        return Ok(TrialEnd::Superseded);
    }
    let (trial_rank, _) = program.tier(trial.tier)?;
    // The earned tier may be gone from a program edited meanwhile: start from the lowest.
    let earned = program
        .tier(trial.earned_tier)
        .map(|_| trial.earned_tier.to_owned())
        .unwrap_or_else(|_| {
            program
                .tiers
                .first()
                .map(|t| t.code.clone())
                .unwrap_or_default()
        });
    let growth = tiers::window_growth(program, entries, now, tz);
    let reached = tiers::upgrade_since(program, &earned, entries, trial.starts_at, now, tz)?;
    let (to, since) = match reached {
        Some(c) => (c.to.clone(), c.at),
        None => (earned, trial.earned_since),
    };
    let (to_rank, _) = program.tier(&to)?;
    if to_rank >= trial_rank {
        return Ok(TrialEnd::Earned { since });
    }
    Ok(TrialEnd::Returned {
        since,
        change: TierChange {
            from: trial.tier.to_owned(),
            to,
            kind: TierChangeKind::Downgrade,
            at: now,
            growth,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn at(d: u32, h: u32) -> Millis {
        SH.with_ymd_and_hms(2026, 3, d, h, 0, 0)
            .single()
            .expect("valid")
            .timestamp_millis()
    }

    fn g(at: Millis, growth: i64) -> GrowthEntry {
        GrowthEntry {
            at,
            growth,
            reference: format!("e{at}"),
            rule_id: None,
        }
    }

    #[test]
    fn a_trial_ends_at_local_midnight_after_its_days() {
        assert_eq!(ends_at(at(1, 15), 7, SH), at(8, 0));
        assert_eq!(ends_at(at(1, 0), 1, SH), at(2, 0));
    }

    #[test]
    fn a_grant_must_be_above_the_held_tier_and_last_1_to_366_days() {
        let p = Program::default();
        let c = grant(&p, "normal", "gold", 30, 5, 100)
            .expect("known")
            .expect("granted");
        assert_eq!((c.from.as_str(), c.to.as_str()), ("normal", "gold"));
        assert_eq!(c.kind, TierChangeKind::Upgrade);
        assert_eq!(
            grant(&p, "gold", "silver", 30, 5, 0).expect("known"),
            Err(GrantRefusal::NotHigher {
                held: "gold".into()
            })
        );
        assert_eq!(
            grant(&p, "gold", "gold", 30, 5, 0).expect("known"),
            Err(GrantRefusal::NotHigher {
                held: "gold".into()
            })
        );
        assert_eq!(
            grant(&p, "normal", "gold", 0, 5, 0).expect("known"),
            Err(GrantRefusal::Days)
        );
        assert_eq!(
            grant(&p, "normal", "gold", MAX_DAYS + 1, 5, 0).expect("known"),
            Err(GrantRefusal::Days)
        );
        assert!(grant(&p, "normal", "bronze", 3, 5, 0).is_err());
    }

    fn trial() -> Trial<'static> {
        Trial {
            tier: "gold",
            earned_tier: "normal",
            earned_since: at(1, 9),
            starts_at: at(2, 10),
        }
    }

    #[test]
    fn the_member_returns_to_the_earned_tier_with_its_protection_running_on() {
        let p = Program::default();
        let end = end(&p, &trial(), "gold", &[g(at(3, 10), 100)], at(9, 0), SH).expect("ok");
        let TrialEnd::Returned { since, change } = end else {
            panic!("returned expected, got {end:?}");
        };
        assert_eq!(since, at(1, 9));
        assert_eq!(
            (change.from.as_str(), change.to.as_str()),
            ("gold", "normal")
        );
        assert_eq!(change.kind, TierChangeKind::Downgrade);
    }

    #[test]
    fn growth_earned_during_the_trial_counts_at_its_end() {
        let p = Program::default();
        // 2,000 reaches silver, below the gold trial: the member returns to silver.
        let silver = end(&p, &trial(), "gold", &[g(at(4, 10), 2_000)], at(9, 0), SH).expect("ok");
        let TrialEnd::Returned { since, change } = silver else {
            panic!("returned expected, got {silver:?}");
        };
        assert_eq!(change.to, "silver");
        assert_eq!(since, at(4, 10), "silver held since it was reached");
        // Enough for gold: the member keeps gold, dated when it was reached.
        let gold = p
            .tiers
            .iter()
            .find(|t| t.code == "gold")
            .expect("gold")
            .threshold;
        let kept = end(&p, &trial(), "gold", &[g(at(5, 10), gold)], at(9, 0), SH).expect("ok");
        assert_eq!(kept, TrialEnd::Earned { since: at(5, 10) });
    }

    #[test]
    fn a_member_upgraded_past_the_trial_tier_is_left_alone() {
        let p = Program::default();
        assert_eq!(
            end(&p, &trial(), "platinum", &[], at(9, 0), SH).expect("ok"),
            TrialEnd::Superseded
        );
    }
}
