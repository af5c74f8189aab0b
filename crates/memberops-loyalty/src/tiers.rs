//! Growth value (成长值) and tiers (会员等级). Growth is never spent; it only decides the
//! tier. Upgrades happen the moment a threshold is reached; downgrades only on a review,
//! over a rolling window of growth, after the tier's protection period, and by at most
//! `max_drop` tiers at a time.

use chrono::Months;
use chrono_tz::Tz;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::calendar::{local_date, start_of_day};
use crate::error::LoyaltyError;
use crate::program::{Program, TierDef};

/// One growth ledger line (negative when a refund takes growth back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrowthEntry {
    pub at: Millis,
    pub growth: i64,
    /// The event (or refund) that caused it.
    pub reference: String,
    pub rule_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierChangeKind {
    Upgrade,
    Downgrade,
}

/// What the caller records as a `tier.changed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    pub from: String,
    pub to: String,
    pub kind: TierChangeKind,
    pub at: Millis,
    /// The growth value the decision was based on.
    pub growth: i64,
}

/// The highest tier whose threshold `growth` reaches; `None` only for a program without
/// tiers (which `Program::validate` refuses).
pub fn tier_for_growth(program: &Program, growth: i64) -> Option<(usize, &TierDef)> {
    program
        .tiers
        .iter()
        .enumerate()
        .rev()
        .find(|(_, t)| growth >= t.threshold)
        .or_else(|| program.tiers.first().map(|t| (0, t)))
}

/// Growth counted for tiers at `at`: the sum over the review window, which starts at local
/// midnight `window_months` calendar months before `at`'s local day.
pub fn window_growth(program: &Program, entries: &[GrowthEntry], at: Millis, tz: Tz) -> i64 {
    let start = window_start(program, at, tz);
    entries
        .iter()
        .filter(|e| e.at >= start && e.at <= at)
        .map(|e| e.growth)
        .sum()
}

/// Where the review window of `at` begins: local midnight `window_months` calendar months
/// before `at`'s local day. Later instants never have earlier windows.
pub fn window_start(program: &Program, at: Millis, tz: Tz) -> Millis {
    let day = local_date(at, tz);
    let from = day
        .checked_sub_months(Months::new(program.tier_review.window_months))
        .unwrap_or(day);
    start_of_day(from, tz)
}

/// Called after growth was added: an upgrade when `growth` (the member's window growth,
/// the same measure reviews use, so an upgrade is not undone by the next review) reaches
/// a higher threshold. Never downgrades.
pub fn check_upgrade(
    program: &Program,
    current: &str,
    growth: i64,
    at: Millis,
) -> Result<Option<TierChange>, LoyaltyError> {
    let (cur, _) = program.tier(current)?;
    let Some((target, t)) = tier_for_growth(program, growth) else {
        return Ok(None);
    };
    Ok((target > cur).then(|| TierChange {
        from: current.to_owned(),
        to: t.code.clone(),
        kind: TierChangeKind::Upgrade,
        at,
        growth,
    }))
}

/// The upgrade growth now allows when growth lands, whatever its date. Growth dated in the
/// past (an offline order entered late, a backdated import) adds to every window that
/// covers it, so window growth is checked at each moment it could have risen since `from`
/// (every entry at or after `from`) and as of `now`: a late order that, with what came
/// after it, reaches a threshold upgrades at once instead of at the next review. The
/// highest tier reached wins, dated the first moment it was reached. Never downgrades.
pub fn upgrade_since(
    program: &Program,
    current: &str,
    entries: &[GrowthEntry],
    from: Millis,
    now: Millis,
    tz: Tz,
) -> Result<Option<TierChange>, LoyaltyError> {
    let mut sorted: Vec<(Millis, i64)> = entries.iter().map(|e| (e.at, e.growth)).collect();
    sorted.sort_unstable();
    // prefix[i] = growth of the first i entries, so a window is two look-ups.
    let mut prefix = Vec::with_capacity(sorted.len() + 1);
    prefix.push(0i64);
    for (_, g) in &sorted {
        let last = prefix.last().copied().unwrap_or(0);
        prefix.push(last.saturating_add(*g));
    }
    let mut moments: Vec<Millis> = sorted
        .iter()
        .map(|(at, _)| *at)
        .filter(|at| *at >= from)
        .collect();
    moments.push(now.max(from));
    moments.dedup();
    let mut best: Option<(usize, TierChange)> = None;
    for at in moments {
        let start = window_start(program, at, tz);
        let lo = sorted.partition_point(|(t, _)| *t < start);
        let hi = sorted.partition_point(|(t, _)| *t <= at);
        let growth = prefix[hi].saturating_sub(prefix[lo.min(hi)]);
        if let Some(c) = check_upgrade(program, current, growth, at)? {
            let (to, _) = program.tier(&c.to)?;
            if best.as_ref().is_none_or(|(b, _)| to > *b) {
                best = Some((to, c));
            }
        }
    }
    Ok(best.map(|(_, c)| c))
}

/// The member's tier and since when they hold it, for a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierHolding {
    pub tier: String,
    /// When the member reached (or was last confirmed in) this tier.
    pub since: Millis,
}

/// The periodic review (e.g. monthly). Upgrades if the window growth allows (a review
/// also catches upgrades missed by a late event); downgrades only after protection, by at
/// most `max_drop` tiers. `None` = keep.
pub fn review(
    program: &Program,
    holding: &TierHolding,
    entries: &[GrowthEntry],
    at: Millis,
    tz: Tz,
) -> Result<Option<TierChange>, LoyaltyError> {
    let growth = window_growth(program, entries, at, tz);
    if let Some(up) = check_upgrade(program, &holding.tier, growth, at)? {
        return Ok(Some(up));
    }
    let (cur, _) = program.tier(&holding.tier)?;
    if at < protected_until(program, holding.since, tz) {
        return Ok(None);
    }
    let earned = tier_for_growth(program, growth).map_or(0, |(i, _)| i);
    if earned >= cur {
        return Ok(None);
    }
    let max_drop = usize::try_from(program.tier_review.max_drop).unwrap_or(usize::MAX);
    let to = earned.max(cur.saturating_sub(max_drop));
    let Some(to) = program.tiers.get(to) else {
        return Ok(None);
    };
    Ok(Some(TierChange {
        from: holding.tier.clone(),
        to: to.code.clone(),
        kind: TierChangeKind::Downgrade,
        at,
        growth,
    }))
}

/// A tier is kept until local midnight `protection_months` after the local day it began.
pub fn protected_until(program: &Program, since: Millis, tz: Tz) -> Millis {
    let day = local_date(since, tz);
    let until = day
        .checked_add_months(Months::new(program.tier_review.protection_months))
        .unwrap_or(day);
    start_of_day(until, tz)
}

/// Member center: how far the member is from the next tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierProgress {
    pub tier: String,
    pub growth: i64,
    /// `None` at the top tier.
    pub next_tier: Option<String>,
    pub growth_needed: i64,
}

pub fn progress(
    program: &Program,
    current: &str,
    growth: i64,
) -> Result<TierProgress, LoyaltyError> {
    let (cur, _) = program.tier(current)?;
    let next = program.tiers.get(cur + 1);
    Ok(TierProgress {
        tier: current.to_owned(),
        growth,
        next_tier: next.map(|t| t.code.clone()),
        growth_needed: next.map_or(0, |t| (t.threshold - growth).max(0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn ms(y: i32, mo: u32, d: u32) -> Millis {
        SH.with_ymd_and_hms(y, mo, d, 12, 0, 0)
            .single()
            .expect("valid")
            .timestamp_millis()
    }

    fn g(at: Millis, growth: i64) -> GrowthEntry {
        GrowthEntry {
            at,
            growth,
            reference: "e".into(),
            rule_id: None,
        }
    }

    #[test]
    fn upgrades_at_once_and_may_skip_tiers() {
        let p = Program::default();
        assert_eq!(check_upgrade(&p, "normal", 1_999, 0).expect("ok"), None);
        let c = check_upgrade(&p, "normal", 2_000, 0)
            .expect("ok")
            .expect("up");
        assert_eq!((c.from.as_str(), c.to.as_str()), ("normal", "silver"));
        let c = check_upgrade(&p, "silver", 25_000, 0)
            .expect("ok")
            .expect("up");
        assert_eq!(c.to, "platinum");
        assert_eq!(check_upgrade(&p, "gold", 0, 0).expect("ok"), None);
        assert_eq!(
            check_upgrade(&p, "bronze", 0, 0).map_err(|e| e.code()),
            Err("unknown_tier")
        );
    }

    #[test]
    fn late_growth_upgrades_with_what_came_after_it() {
        let p = Program::default();
        // 1,500 growth yesterday; an order dated ten days ago adds 500, entered today.
        let late = ms(2026, 3, 5);
        let entries = vec![g(ms(2026, 3, 14), 1_500), g(late, 500)];
        // As of the late order's own date the window holds only 500.
        assert_eq!(window_growth(&p, &entries, late, SH), 500);
        let c = upgrade_since(&p, "normal", &entries, late, ms(2026, 3, 15), SH)
            .expect("ok")
            .expect("up");
        assert_eq!(
            (c.to.as_str(), c.growth, c.at),
            ("silver", 2_000, ms(2026, 3, 14))
        );
        // Growth that has left the window by now never reached 2,000 together.
        let old = vec![g(ms(2024, 1, 1), 1_500), g(ms(2025, 6, 1), 500)];
        assert_eq!(
            upgrade_since(&p, "normal", &old, ms(2025, 6, 1), ms(2026, 3, 15), SH).expect("ok"),
            None
        );
        // The highest tier reached wins, dated when it was first reached.
        let mixed = vec![
            g(ms(2026, 1, 1), 1_000),
            g(ms(2026, 2, 1), 1_000),
            g(ms(2026, 3, 1), 8_000),
        ];
        let c = upgrade_since(&p, "normal", &mixed, ms(2026, 1, 1), ms(2026, 3, 15), SH)
            .expect("ok")
            .expect("up");
        assert_eq!((c.to.as_str(), c.at), ("gold", ms(2026, 3, 1)));
        assert_eq!(
            upgrade_since(&p, "gold", &mixed, ms(2026, 1, 1), ms(2026, 3, 15), SH).expect("ok"),
            None
        );
    }

    #[test]
    fn review_respects_window_protection_and_max_drop() {
        let p = Program::default();
        let holding = TierHolding {
            tier: "platinum".into(),
            since: ms(2025, 3, 1),
        };
        // 30k growth long ago, 500 in the last 12 months.
        let entries = vec![g(ms(2024, 6, 1), 30_000), g(ms(2025, 9, 1), 500)];
        // Still protected on 2026-02-28.
        assert_eq!(
            review(&p, &holding, &entries, ms(2026, 2, 28), SH).expect("ok"),
            None
        );
        // After protection: earned tier is normal, but only one step down.
        let c = review(&p, &holding, &entries, ms(2026, 3, 1), SH)
            .expect("ok")
            .expect("down");
        assert_eq!(
            (c.to.as_str(), c.kind, c.growth),
            ("gold", TierChangeKind::Downgrade, 500)
        );
        // Enough window growth keeps the tier.
        let mut more = entries.clone();
        more.push(g(ms(2026, 1, 1), 20_000));
        assert_eq!(
            review(&p, &holding, &more, ms(2026, 3, 1), SH).expect("ok"),
            None
        );
    }

    #[test]
    fn window_starts_at_local_midnight_twelve_months_back() {
        let p = Program::default();
        let at = ms(2026, 3, 15);
        let start = SH
            .with_ymd_and_hms(2025, 3, 15, 0, 0, 0)
            .single()
            .expect("valid")
            .timestamp_millis();
        let entries = vec![g(start - 1, 7), g(start, 11), g(at, 13), g(at + 1, 17)];
        assert_eq!(window_growth(&p, &entries, at, SH), 24);
    }

    #[test]
    fn progress_to_next_tier() {
        let p = Program::default();
        let pr = progress(&p, "silver", 7_500).expect("ok");
        assert_eq!(
            (pr.next_tier.as_deref(), pr.growth_needed),
            (Some("gold"), 2_500)
        );
        let top = progress(&p, "diamond", 60_000).expect("ok");
        assert_eq!((top.next_tier, top.growth_needed), (None, 0));
    }
}
