//! Referrals (老带新): invite codes, binding an invitee to a referrer, and rewarding both
//! sides when the invitee reaches the qualifying event.
//!
//! Invite codes are deterministic: a keyed hash of the member id and a workspace secret,
//! 8 characters from an alphabet without look-alikes (no 0/O/1/I), about 2^40 codes. They
//! are not secrets — members post them publicly — so the hash only needs to spread well;
//! the secret keeps codes from being derived from guessable member ids. The caller stores
//! code → member with a unique constraint and, on the rare collision, asks again with
//! `attempt + 1`. Deterministic codes let the same member get the same code back without
//! a lookup, and make tests reproducible.
//!
//! Who pays out: when `qualify` rewards, the referrer's award carries rule id
//! `referral.referrer` and the invitee's `referral.invitee`; the caller also records a
//! `referral.accepted` event for the referrer, which the earning rules may reward (the seed
//! program gives growth there, and points here, so nothing is paid twice).

use memberops_core::FieldError;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::error::LoyaltyError;
use crate::program::Program;
use crate::rules::Award;

const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReferralPolicy {
    pub qualifying: Qualifying,
    pub referrer_reward: RewardPair,
    pub invitee_reward: RewardPair,
    /// Referrer rewards per referrer per local calendar month; beyond it only the invitee
    /// is rewarded (the invitee did nothing wrong).
    pub max_referrer_rewards_per_month: Option<u32>,
    /// The invitee must qualify within this many days of being bound.
    pub qualify_within_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Qualifying {
    Registration,
    /// The invitee's first paid order of at least this amount.
    FirstPaidOrder {
        min_amount_minor: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RewardPair {
    pub growth: i64,
    pub points: i64,
}

impl Default for ReferralPolicy {
    fn default() -> Self {
        Self {
            qualifying: Qualifying::FirstPaidOrder {
                min_amount_minor: 0,
            },
            referrer_reward: RewardPair {
                growth: 0,
                points: 200,
            },
            invitee_reward: RewardPair {
                growth: 0,
                points: 100,
            },
            max_referrer_rewards_per_month: Some(20),
            qualify_within_days: Some(30),
        }
    }
}

impl ReferralPolicy {
    pub(crate) fn check(&self, errs: &mut Vec<FieldError>) {
        let r = [self.referrer_reward, self.invitee_reward];
        if r.iter().any(|p| p.growth < 0 || p.points < 0) {
            errs.push(FieldError::new(
                &["referral"],
                "out_of_range",
                "referral rewards cannot be negative",
            ));
        }
        if let Qualifying::FirstPaidOrder { min_amount_minor } = self.qualifying
            && min_amount_minor < 0
        {
            errs.push(FieldError::new(
                &["referral", "qualifying", "min_amount_minor"],
                "out_of_range",
                "minimum order amount cannot be negative",
            ));
        }
    }
}

/// The invite code for `member_id`. Same inputs, same code.
pub fn invite_code(member_id: &str, secret: &str, attempt: u32) -> String {
    // FNV-1a over secret ‖ 0xff ‖ member ‖ 0xff ‖ attempt, then a SplitMix64 finaliser so
    // every output bit depends on every input bit. 0xff never occurs in UTF-8, so the
    // separators make the encoding unambiguous.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = secret
        .bytes()
        .chain([0xff])
        .chain(member_id.bytes())
        .chain([0xff])
        .chain(attempt.to_le_bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (0..CODE_LEN)
        .map(|i| char::from(ALPHABET[((h >> (5 * i)) & 31) as usize]))
        .collect()
}

/// Normalises what a person typed (case, spaces, dashes) and checks the shape.
pub fn parse_invite_code(text: &str) -> Result<String, LoyaltyError> {
    let code: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b)) {
        Ok(code)
    } else {
        Err(LoyaltyError::InvalidInviteCode(text.to_owned()))
    }
}

/// An invitee bound to a referrer (one referrer per invitee, for good).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub referrer: String,
    pub invitee: String,
    pub bound_at: Millis,
}

/// Decides whether `invitee` may be bound to `referrer`. `existing_referrer` is the
/// invitee's current binding, if any; `invitee_already_qualified` says whether the invitee
/// already passed the qualifying event (an existing customer is not a new one).
pub fn bind(
    referrer: &str,
    invitee: &str,
    existing_referrer: Option<&str>,
    invitee_already_qualified: bool,
    at: Millis,
) -> Result<Binding, LoyaltyError> {
    if referrer == invitee {
        return Err(LoyaltyError::SelfReferral);
    }
    if existing_referrer.is_some() {
        return Err(LoyaltyError::AlreadyReferred);
    }
    if invitee_already_qualified {
        return Err(LoyaltyError::NotNewMember);
    }
    Ok(Binding {
        referrer: referrer.to_owned(),
        invitee: invitee.to_owned(),
        bound_at: at,
    })
}

/// An invitee's event that might qualify the referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteeEvent {
    pub event_id: String,
    pub event_type: String,
    pub at: Millis,
    pub amount_minor: Option<i64>,
    /// For `order.paid`: whether this is the invitee's first paid order.
    pub first_paid_order: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralOutcome {
    pub referrer_award: Option<Award>,
    pub invitee_award: Option<Award>,
    /// The referrer reached the monthly cap; the referral still counts as qualified.
    pub referrer_capped: bool,
}

/// `None` when the event does not qualify (or the referral was already rewarded, or the
/// window passed). `referrer_rewards_this_month` is counted in the referrer's local month.
pub fn qualify(
    program: &Program,
    binding: &Binding,
    already_rewarded: bool,
    event: &InviteeEvent,
    referrer_rewards_this_month: u32,
) -> Option<ReferralOutcome> {
    let policy = &program.referral;
    if already_rewarded || event.at < binding.bound_at {
        return None;
    }
    if let Some(days) = policy.qualify_within_days {
        let limit = binding
            .bound_at
            .saturating_add(i64::from(days).saturating_mul(86_400_000));
        if event.at > limit {
            return None;
        }
    }
    let qualifies = match policy.qualifying {
        Qualifying::Registration => event.event_type == memberops_core::event::MEMBER_REGISTERED,
        Qualifying::FirstPaidOrder { min_amount_minor } => {
            event.event_type == memberops_core::event::ORDER_PAID
                && event.first_paid_order
                && event.amount_minor.is_some_and(|a| a >= min_amount_minor)
        }
    };
    if !qualifies {
        return None;
    }
    let award = |rule: &str, r: RewardPair| {
        (r.growth > 0 || r.points > 0).then(|| Award {
            rule_id: rule.to_owned(),
            event_id: event.event_id.clone(),
            program_version: program.version,
            growth: r.growth,
            points: r.points,
            capped: false,
            trial: None,
        })
    };
    let capped = policy
        .max_referrer_rewards_per_month
        .is_some_and(|c| referrer_rewards_this_month >= c);
    Some(ReferralOutcome {
        referrer_award: if capped {
            None
        } else {
            award("referral.referrer", policy.referrer_reward)
        },
        invitee_award: award("referral.invitee", policy.invitee_reward),
        referrer_capped: capped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_deterministic_readable_and_keyed() {
        let a = invite_code("mbr_1", "s3cret", 0);
        assert_eq!(a, invite_code("mbr_1", "s3cret", 0));
        assert_eq!(a.len(), CODE_LEN);
        assert_ne!(a, invite_code("mbr_2", "s3cret", 0));
        assert_ne!(a, invite_code("mbr_1", "other", 0));
        assert_ne!(a, invite_code("mbr_1", "s3cret", 1));
        let typed = format!(" {}-{} ", a[..4].to_lowercase(), &a[4..]);
        assert_eq!(parse_invite_code(&typed).expect("valid"), a);
        assert_eq!(
            parse_invite_code("O0I1O0I1").map_err(|e| e.code()),
            Err("invalid_invite_code")
        );
        let distinct: std::collections::BTreeSet<_> = (0..2_000)
            .map(|i| invite_code(&format!("mbr_{i}"), "k", 0))
            .collect();
        assert_eq!(distinct.len(), 2_000);
    }

    #[test]
    fn binding_rules() {
        let code = |r: Result<Binding, LoyaltyError>| r.map_err(|e| e.code());
        assert_eq!(code(bind("a", "a", None, false, 0)), Err("self_referral"));
        assert_eq!(
            code(bind("a", "b", Some("c"), false, 0)),
            Err("already_referred")
        );
        assert_eq!(code(bind("a", "b", None, true, 0)), Err("not_new_member"));
        assert!(bind("a", "b", None, false, 0).is_ok());
    }

    #[test]
    fn first_paid_order_rewards_both_sides_with_a_monthly_cap() {
        let p = Program::default();
        let b = bind("a", "b", None, false, 0).expect("bind");
        let ev = |kind: &str, first: bool, at: Millis| InviteeEvent {
            event_id: "e".into(),
            event_type: kind.into(),
            at,
            amount_minor: Some(5_000),
            first_paid_order: first,
        };
        assert_eq!(
            qualify(&p, &b, false, &ev("member.registered", false, 1), 0),
            None
        );
        assert_eq!(qualify(&p, &b, false, &ev("order.paid", false, 1), 0), None);
        let o = qualify(&p, &b, false, &ev("order.paid", true, 1), 0).expect("qualifies");
        let r = o.referrer_award.expect("referrer");
        assert_eq!(
            (r.rule_id.as_str(), r.points, r.event_id.as_str()),
            ("referral.referrer", 200, "e")
        );
        assert_eq!(o.invitee_award.expect("invitee").points, 100);
        let o = qualify(&p, &b, false, &ev("order.paid", true, 1), 20).expect("qualifies");
        assert!(o.referrer_capped && o.referrer_award.is_none() && o.invitee_award.is_some());
        assert_eq!(qualify(&p, &b, true, &ev("order.paid", true, 1), 0), None);
        let late = 31 * 86_400_000;
        assert_eq!(
            qualify(&p, &b, false, &ev("order.paid", true, late), 0),
            None
        );
    }
}
