//! The loyalty program as configuration: tiers with their privileges, earning rules and the
//! points, check-in, referral and stored-value policies. Operators edit it as JSON; every
//! saved change gets a new `version`, and awards carry the version that produced them so an
//! audit can tell which rules applied.

use std::collections::BTreeSet;

use memberops_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};

use crate::checkin::CheckinPolicy;
use crate::error::LoyaltyError;
use crate::points::PointsPolicy;
use crate::referral::ReferralPolicy;
use crate::rules::{Caps, Conditions, EarningRule, PointsMultiplier, Reward, RewardAmount};
use crate::stored_value::StoredValuePolicy;

/// Basis points: 10_000 = ×1. Integers only, so points and money never meet a float.
pub const BP_ONE: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Program {
    /// Assigned by the server when the program is saved (the saved version + 1); a value
    /// sent with the program is ignored.
    #[serde(default)]
    #[schema(read_only)]
    pub version: u32,
    /// When false, events earn nothing and tiers do not move (the ledgers stay as they are).
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Ascending by `threshold`; the first one starts at 0 growth.
    pub tiers: Vec<TierDef>,
    pub rules: Vec<EarningRule>,
    pub points: PointsPolicy,
    pub tier_review: TierReviewPolicy,
    pub checkin: CheckinPolicy,
    pub referral: ReferralPolicy,
    pub stored_value: StoredValuePolicy,
    /// How the tiers' `discount_bp` meets coupons at checkout.
    #[serde(default)]
    pub member_discount: MemberDiscountPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TierDef {
    /// Stable code (`gold`), what members' rows store.
    pub code: String,
    /// Display name (`金卡`).
    pub name: String,
    /// Growth value needed to reach the tier.
    pub threshold: i64,
    pub privileges: Privileges,
}

/// What a tier gives. Pure data: the coupon and checkout modules read it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Privileges {
    /// Points multiplier in basis points (15_000 = ×1.5) for rules that use it.
    pub points_multiplier_bp: u32,
    /// Price paid in basis points (9_500 = 95折); 10_000 = no discount.
    pub discount_bp: u32,
    /// Points granted on the birthday; 0 = none.
    #[serde(default)]
    pub birthday_points: i64,
    /// Coupon template given on the birthday, if any.
    #[serde(default)]
    pub birthday_coupon: Option<String>,
    #[serde(default)]
    pub free_shipping: bool,
    /// Free-form labels the console shows (专属客服, 优先发货…).
    #[serde(default)]
    pub labels: Vec<String>,
}

/// Where the member discount (会员折扣) applies at checkout, relative to coupons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberDiscountApply {
    /// On what the coupons left (先满减后折扣): coupon minimums see full prices.
    #[default]
    AfterCoupons,
    /// On the cart first: coupons see member prices, and their minimums too.
    BeforeCoupons,
}

/// The checkout side of the tiers' privileges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberDiscountPolicy {
    #[serde(default)]
    pub apply: MemberDiscountApply,
    /// Special-price (特价) lines keep their price: they are already the lowest.
    #[serde(default = "enabled_default")]
    pub exclude_special_price: bool,
}

impl Default for MemberDiscountPolicy {
    fn default() -> Self {
        Self {
            apply: MemberDiscountApply::default(),
            exclude_special_price: true,
        }
    }
}

/// How tiers are re-evaluated downward. Upgrades never wait for a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TierReviewPolicy {
    /// Growth counted for the review: the last N calendar months (member's zone).
    pub window_months: u32,
    /// A tier is kept at least this many months after it was reached.
    pub protection_months: u32,
    /// At most this many tiers lost in one review (soft landing keeps members engaged).
    pub max_drop: u32,
    /// The review runs on this day of every month (1–28, workspace zone), scheduled by the
    /// worker.
    #[serde(default = "default_review_day")]
    pub review_day: u32,
}

fn default_review_day() -> u32 {
    1
}

impl TierReviewPolicy {
    /// Whether `date` (workspace zone) is a review date.
    pub fn is_review_date(&self, date: chrono::NaiveDate) -> bool {
        chrono::Datelike::day(&date) == self.review_day
    }
}

impl Default for TierReviewPolicy {
    fn default() -> Self {
        Self {
            window_months: 12,
            protection_months: 12,
            max_drop: 1,
            review_day: default_review_day(),
        }
    }
}

impl Program {
    pub fn tier(&self, code: &str) -> Result<(usize, &TierDef), LoyaltyError> {
        self.tiers
            .iter()
            .enumerate()
            .find(|(_, t)| t.code == code)
            .ok_or_else(|| LoyaltyError::UnknownTier(code.to_owned()))
    }

    /// Checks everything an operator can get wrong and reports all problems at once, with
    /// `loc` paths into the JSON (`["tiers", "2", "threshold"]`).
    pub fn validate(&self) -> Result<(), LoyaltyError> {
        let mut errs = Vec::new();
        if self.version == 0 {
            errs.push(FieldError::new(
                &["version"],
                "invalid_version",
                "version starts at 1",
            ));
        }
        self.check_tiers(&mut errs);
        let codes: BTreeSet<&str> = self.tiers.iter().map(|t| t.code.as_str()).collect();
        let mut ids = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = i.to_string();
            if !ids.insert(rule.id.as_str()) {
                errs.push(FieldError::new(
                    &["rules", &at, "id"],
                    "duplicate",
                    format!("rule id `{}` is used twice", rule.id),
                ));
            }
            errs.extend(
                rule.check(&codes)
                    .into_iter()
                    .map(|e| e.under(&at).under("rules")),
            );
        }
        self.points.check(&mut errs);
        let r = &self.tier_review;
        if r.window_months == 0 {
            errs.push(FieldError::new(
                &["tier_review", "window_months"],
                "out_of_range",
                "the review window is at least one month",
            ));
        }
        if r.max_drop == 0 {
            errs.push(FieldError::new(
                &["tier_review", "max_drop"],
                "out_of_range",
                "max_drop is at least 1 (use a long protection period to never downgrade)",
            ));
        }
        if !(1..=28).contains(&r.review_day) {
            errs.push(FieldError::new(
                &["tier_review", "review_day"],
                "out_of_range",
                "review_day is a day of the month from 1 to 28",
            ));
        }
        self.checkin.check(&mut errs);
        self.referral.check(&mut errs);
        self.stored_value.check(&mut errs);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(LoyaltyError::InvalidProgram(Invalid(errs)))
        }
    }

    fn check_tiers(&self, errs: &mut Vec<FieldError>) {
        if self.tiers.is_empty() {
            errs.push(FieldError::new(
                &["tiers"],
                "required",
                "a program needs at least one tier",
            ));
            return;
        }
        let mut seen = BTreeSet::new();
        for (i, t) in self.tiers.iter().enumerate() {
            let at = i.to_string();
            let loc = |field: &str| vec!["tiers".to_owned(), at.clone(), field.to_owned()];
            let mut push = |field: &str, code: &str, msg: String| {
                errs.push(FieldError {
                    loc: loc(field),
                    code: code.to_owned(),
                    msg,
                })
            };
            if t.code.trim().is_empty() {
                push("code", "required", "tier code is empty".into());
            } else if !seen.insert(t.code.as_str()) {
                push(
                    "code",
                    "duplicate",
                    format!("tier code `{}` is used twice", t.code),
                );
            }
            if i == 0 && t.threshold != 0 {
                push(
                    "threshold",
                    "first_tier_not_zero",
                    "the first tier starts at 0 growth, so every member has a tier".into(),
                );
            }
            if i > 0 && t.threshold <= self.tiers[i - 1].threshold {
                push(
                    "threshold",
                    "not_ascending",
                    "thresholds must be strictly ascending".into(),
                );
            }
            let p = &t.privileges;
            if p.points_multiplier_bp == 0 || p.points_multiplier_bp > 100 * BP_ONE {
                push(
                    "privileges",
                    "out_of_range",
                    "points_multiplier_bp is 1..=1_000_000 (×100)".into(),
                );
            }
            if p.discount_bp == 0 || p.discount_bp > BP_ONE {
                push(
                    "privileges",
                    "out_of_range",
                    "discount_bp is 1..=10_000 (10_000 = no discount)".into(),
                );
            }
            if p.birthday_points < 0 {
                push(
                    "privileges",
                    "out_of_range",
                    "birthday_points cannot be negative".into(),
                );
            }
        }
    }
}

fn enabled_default() -> bool {
    true
}

fn tier(code: &str, name: &str, threshold: i64, mult: u32, discount: u32, bday: i64) -> TierDef {
    TierDef {
        code: code.into(),
        name: name.into(),
        threshold,
        privileges: Privileges {
            points_multiplier_bp: mult,
            discount_bp: discount,
            birthday_points: bday,
            birthday_coupon: None,
            free_shipping: threshold >= 10_000,
            labels: Vec::new(),
        },
    }
}

fn fixed_growth(id: &str, event: &str, growth: i64, caps: Caps) -> EarningRule {
    EarningRule {
        id: id.into(),
        name: id.into(),
        event_type: event.into(),
        enabled: true,
        conditions: Conditions::default(),
        reward: Reward {
            growth: RewardAmount::Fixed { amount: growth },
            points: RewardAmount::None,
            trial_tier: None,
        },
        points_multiplier: PointsMultiplier::None,
        caps,
        valid_from: None,
        valid_to: None,
    }
}

impl Default for Program {
    /// The seed program (from the 会员运营 practice): five tiers by growth value, growth for
    /// behaviour and spend, points for spend scaled by the tier's multiplier.
    fn default() -> Self {
        use memberops_core::event as ev;
        let once = Caps {
            lifetime_count: Some(1),
            ..Caps::default()
        };
        let mut rules = vec![
            fixed_growth("registered", ev::MEMBER_REGISTERED, 100, once.clone()),
            fixed_growth("profile_completed", ev::PROFILE_COMPLETED, 50, once),
            fixed_growth(
                "daily_checkin",
                ev::CHECKIN,
                5,
                Caps {
                    daily_count: Some(1),
                    ..Caps::default()
                },
            ),
            fixed_growth(
                "referral_accepted",
                ev::REFERRAL_ACCEPTED,
                100,
                Caps {
                    monthly_growth: Some(1_000),
                    ..Caps::default()
                },
            ),
            fixed_growth(
                "review_posted",
                ev::REVIEW_POSTED,
                10,
                Caps {
                    daily_count: Some(3),
                    ..Caps::default()
                },
            ),
            fixed_growth(
                "content_shared",
                ev::CONTENT_SHARED,
                5,
                Caps {
                    daily_growth: Some(20),
                    ..Caps::default()
                },
            ),
        ];
        // 1 growth and 1 point per yuan paid (100 minor units); points × tier multiplier.
        rules.push(EarningRule {
            id: "spend".into(),
            name: "消费积分与成长值".into(),
            event_type: ev::ORDER_PAID.into(),
            enabled: true,
            conditions: Conditions::default(),
            reward: Reward {
                growth: RewardAmount::PerAmount {
                    per_minor: 100,
                    units: 1,
                },
                points: RewardAmount::PerAmount {
                    per_minor: 100,
                    units: 1,
                },
                trial_tier: None,
            },
            points_multiplier: PointsMultiplier::Tier,
            caps: Caps::default(),
            valid_from: None,
            valid_to: None,
        });
        Program {
            version: 1,
            enabled: true,
            tiers: vec![
                tier("normal", "普通会员", 0, 10_000, 10_000, 0),
                tier("silver", "银卡会员", 2_000, 12_000, 9_800, 100),
                tier("gold", "金卡会员", 10_000, 15_000, 9_500, 200),
                tier("platinum", "白金会员", 20_000, 18_000, 9_200, 500),
                tier("diamond", "钻石会员", 50_000, 20_000, 9_000, 1_000),
            ],
            rules,
            points: PointsPolicy::default(),
            tier_review: TierReviewPolicy::default(),
            checkin: CheckinPolicy::default(),
            referral: ReferralPolicy::default(),
            stored_value: StoredValuePolicy::default(),
            member_discount: MemberDiscountPolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_program_is_valid_and_round_trips_as_json() {
        let p = Program::default();
        p.validate().expect("seed valid");
        let codes: Vec<_> = p.tiers.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, ["normal", "silver", "gold", "platinum", "diamond"]);
        let th: Vec<_> = p.tiers.iter().map(|t| t.threshold).collect();
        assert_eq!(th, [0, 2_000, 10_000, 20_000, 50_000]);
        let json = serde_json::to_string(&p).expect("serialise");
        let back: Program = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, p);
    }

    #[test]
    fn validation_reports_every_problem_with_its_location() {
        let mut p = Program {
            version: 0,
            ..Program::default()
        };
        p.tiers[0].threshold = 5;
        p.tiers[3].threshold = 10_000;
        p.tiers[2].privileges.discount_bp = 0;
        p.rules[1].id = p.rules[0].id.clone();
        p.rules[2].conditions.tiers = vec!["bronze".into()];
        let Err(LoyaltyError::InvalidProgram(Invalid(errs))) = p.validate() else {
            panic!("expected invalid program");
        };
        let got: Vec<(String, String)> = errs
            .iter()
            .map(|e| (e.loc.join("."), e.code.clone()))
            .collect();
        for want in [
            ("version", "invalid_version"),
            ("tiers.0.threshold", "first_tier_not_zero"),
            ("tiers.3.threshold", "not_ascending"),
            ("tiers.2.privileges", "out_of_range"),
            ("rules.1.id", "duplicate"),
            ("rules.2.conditions.tiers", "unknown_tier"),
        ] {
            assert!(
                got.iter().any(|(l, c)| l == want.0 && c == want.1),
                "missing {want:?} in {got:?}"
            );
        }
    }

    #[test]
    fn empty_tiers_are_refused() {
        let mut p = Program::default();
        p.tiers.clear();
        p.rules.clear();
        assert_eq!(p.validate().map_err(|e| e.code()), Err("invalid_program"));
    }
}
