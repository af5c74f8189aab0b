//! Deterministic synthetic membership data for demos and load tests.
//!
//! [`generate`] yields, member by member, the events a brand's shop, app and tills would
//! have sent over the three years before `today`: a `member.registered` with a full
//! profile, then product views, carts, paid and refunded orders, check-ins, reviews,
//! shares and referrals. The `memberops demo` command feeds them through the ordinary
//! event-ingestion path, so every dashboard is built from data the API could have
//! received.
//!
//! Nothing is labelled: each member is simulated (acquisition channel, a Pareto spend
//! persona, engagement, a churn date) and the lifecycle mix — roughly 15% new, 25%
//! growing, 20% mature, 15% silent, 25% churned — follows from those lives.
//!
//! The same `(members, seed, today)` gives byte-identical output, and member `i`'s events
//! depend only on `(seed, i, today)`: each member has its own ChaCha8 stream.

mod behaviour;
mod calendar;
mod names;
mod profile;
mod sample;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use memberops_core::event::{EventIn, MEMBER_REGISTERED};
use rand::SeedableRng;

use crate::behaviour::Raw;
use crate::sample::DemoRng;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    pub members: usize,
    pub seed: u64,
    /// The last day of the simulated history; nothing happens after its end (UTC).
    pub today: NaiveDate,
}

/// One `Vec` per member, events in chronological order, `member.registered` first.
pub fn generate(cfg: &DemoConfig) -> impl Iterator<Item = Vec<EventIn>> + '_ {
    (0..cfg.members).map(move |index| member_events(cfg, index))
}

/// The external id of the `index`-th demo member, e.g. `demo-000042`.
pub fn member_external_id(index: usize) -> String {
    format!("demo-{index:06}")
}

/// The latest instant any generated event may carry: the end of `today` in UTC.
pub(crate) fn upper_bound(today: NaiveDate) -> DateTime<Utc> {
    let last = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    today.and_time(last).and_utc()
}

/// Member `index`'s own random stream: independent of how many members come before it.
fn member_rng(seed: u64, index: usize) -> DemoRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    key[16..].copy_from_slice(b"memberops-demo/1");
    DemoRng::from_seed(key)
}

fn member_events(cfg: &DemoConfig, index: usize) -> Vec<EventIn> {
    let mut rng = member_rng(cfg.seed, index);
    let persona = behaviour::persona(&mut rng);
    let place = names::place(&mut rng);
    let tz: Tz = place.time_zone.parse().unwrap_or(Tz::Asia__Shanghai);
    // Neither after today in UTC nor on tomorrow's date on the member's own calendar.
    let local_end = calendar::local_to_utc(tz, upper_bound(cfg.today).naive_utc());
    let bound = upper_bound(cfg.today).min(local_end);
    let day = behaviour::registration_day(&mut rng, cfg.today);
    let registered_at = behaviour::registration_time(&mut rng, tz, day, bound);
    let profile = profile::profile(
        &mut rng,
        &profile::ProfileInput {
            index,
            seed: cfg.seed,
            today: cfg.today,
            persona: &persona,
            place,
            tz,
            registered_at,
        },
    );
    let mut raws = behaviour::simulate(
        &mut rng,
        behaviour::SimInput {
            persona: &persona,
            tz,
            registered_at,
            bound,
            key: format!("{}-{index:06}", cfg.seed),
            preferred_category: profile.preferred_category,
        },
    );
    // Stable: events at the same second keep the order they were caused in.
    raws.sort_by_key(|r| r.at);

    let member = member_external_id(index);
    let registered = Raw {
        at: registered_at,
        kind: MEMBER_REGISTERED,
        properties: profile.properties,
    };
    std::iter::once(registered)
        .chain(raws)
        .enumerate()
        .map(|(n, raw)| EventIn {
            id: format!("demo-{}-{index}-{n}", cfg.seed),
            kind: raw.kind.to_owned(),
            member: member.clone(),
            occurred_at: Some(calendar::rfc3339(tz, raw.at)),
            properties: raw.properties,
            // The registration creates the member; everything after refers to it.
            auto_create: raw.kind == MEMBER_REGISTERED,
        })
        .collect()
}
