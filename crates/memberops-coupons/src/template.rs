//! Coupon templates (券模板): what a coupon gives, on which products, when, to whom, how
//! often, and with which other coupons it may be combined. A template is checked once when
//! it is saved; coupons issued from it carry their own concrete validity window.

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use memberops_core::error::Collector;
use memberops_core::time::{Millis, When};
use memberops_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};

/// Largest amount a template may name: far above any real price, far below overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

/// What the coupon gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Benefit {
    /// 满X减Y: `off_minor` off once the eligible items reach `min_spend_minor`.
    AmountOff {
        off_minor: i64,
        #[serde(default)]
        min_spend_minor: i64,
    },
    /// Percent off the eligible items (15 = 8.5折), at most `cap_minor`.
    PercentOff {
        percent_off: i64,
        #[serde(default)]
        cap_minor: Option<i64>,
        #[serde(default)]
        min_spend_minor: i64,
    },
    /// 满赠: a free gift once the eligible items reach the minimum.
    FreeGift {
        gift_sku: String,
        #[serde(default = "one")]
        gift_quantity: i64,
        #[serde(default)]
        min_spend_minor: i64,
    },
    /// 满返: points or a follow-up coupon, granted after the order is paid.
    SpendReturn {
        #[serde(default)]
        min_spend_minor: i64,
        reward: SpendReward,
    },
    /// The cart's shipping fee, at most `cap_minor`.
    FreeShipping {
        #[serde(default)]
        min_spend_minor: i64,
        #[serde(default)]
        cap_minor: Option<i64>,
    },
    /// Trial / experience voucher (体验券): one unit of `sku` free, at most `cap_minor`.
    Trial {
        sku: String,
        #[serde(default)]
        cap_minor: Option<i64>,
    },
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpendReward {
    Points { points: i64 },
    Coupon { template_id: String },
}

impl Benefit {
    pub fn kind(&self) -> &'static str {
        match self {
            Benefit::AmountOff { .. } => "amount_off",
            Benefit::PercentOff { .. } => "percent_off",
            Benefit::FreeGift { .. } => "free_gift",
            Benefit::SpendReturn { .. } => "spend_return",
            Benefit::FreeShipping { .. } => "free_shipping",
            Benefit::Trial { .. } => "trial",
        }
    }

    pub fn min_spend(&self) -> i64 {
        match self {
            Benefit::AmountOff {
                min_spend_minor, ..
            }
            | Benefit::PercentOff {
                min_spend_minor, ..
            }
            | Benefit::FreeGift {
                min_spend_minor, ..
            }
            | Benefit::SpendReturn {
                min_spend_minor, ..
            }
            | Benefit::FreeShipping {
                min_spend_minor, ..
            } => *min_spend_minor,
            Benefit::Trial { .. } => 0,
        }
    }

    /// Order in which a combination applies its coupons: product vouchers first, then
    /// amount off, then percent off on what is left (先满减后折扣), shipping last.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Benefit::Trial { .. } => 0,
            Benefit::AmountOff { .. } => 1,
            Benefit::PercentOff { .. } => 2,
            Benefit::FreeShipping { .. } => 3,
            Benefit::FreeGift { .. } => 4,
            Benefit::SpendReturn { .. } => 5,
        }
    }
}

/// Which cart lines a coupon applies to. With no include list every product is in scope;
/// otherwise a line is in scope when its SKU, category or brand is included. Exclusions
/// win over inclusions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub brands: Vec<String>,
    #[serde(default)]
    pub exclude_skus: Vec<String>,
    #[serde(default)]
    pub exclude_categories: Vec<String>,
    #[serde(default)]
    pub exclude_brands: Vec<String>,
    /// 特价商品不参与: lines flagged special-price are out of scope.
    #[serde(default)]
    pub exclude_special_price: bool,
}

impl Scope {
    pub fn covers(&self, line: &crate::cart::CartLine) -> bool {
        let has =
            |list: &[String], v: &Option<String>| v.as_ref().is_some_and(|v| list.contains(v));
        if self.exclude_special_price && line.special_price {
            return false;
        }
        if self.exclude_skus.contains(&line.sku)
            || has(&self.exclude_categories, &line.category)
            || has(&self.exclude_brands, &line.brand)
        {
            return false;
        }
        let open = self.skus.is_empty() && self.categories.is_empty() && self.brands.is_empty();
        open || self.skus.contains(&line.sku)
            || has(&self.categories, &line.category)
            || has(&self.brands, &line.brand)
    }
}

/// When an issued coupon can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validity {
    /// A fixed window. A date without a time means the whole day in the workspace's zone:
    /// `to: "2026-06-30"` lasts until that day ends.
    Fixed { from: String, to: String },
    /// From the moment of issue for this many days.
    DaysFromIssue { days: i64 },
}

impl Validity {
    /// The concrete window `[from, to)` of a coupon issued at `issued_at`.
    pub fn window(&self, issued_at: Millis, tz: Tz) -> Result<(Millis, Millis), Invalid> {
        match self {
            Validity::Fixed { from, to } => {
                let from = When::parse(from, "from")?.resolve(tz).0;
                let to = match When::parse(to, "to")? {
                    When::LocalDate(d) => {
                        When::LocalDateTime((d + Duration::days(1)).and_time(NaiveTime::MIN))
                            .resolve(tz)
                            .0
                    }
                    w => w.resolve(tz).0,
                };
                Ok((from, to))
            }
            Validity::DaysFromIssue { days } => Ok((issued_at, issued_at + days * 86_400_000)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    /// Most coupons of this template one member may receive.
    #[serde(default)]
    pub per_member: Option<i64>,
    /// Most coupons of this template one member may use (locked or redeemed).
    #[serde(default)]
    pub per_member_uses: Option<i64>,
    /// Most coupons that may ever be issued (库存).
    #[serde(default)]
    pub stock: Option<i64>,
    /// Most discount, in minor units, all redemptions together may give (预算).
    #[serde(default)]
    pub budget_minor: Option<i64>,
}

/// With which other coupons this one combines in one order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Stacking {
    /// Alone only (the default, 不可叠加).
    #[default]
    Exclusive,
    /// With coupons of other templates that share at least one group.
    Stackable { groups: Vec<String> },
}

impl Stacking {
    pub fn combines_with(&self, other: &Stacking) -> bool {
        match (self, other) {
            (Stacking::Stackable { groups: a }, Stacking::Stackable { groups: b }) => {
                a.iter().any(|g| b.contains(g))
            }
            _ => false,
        }
    }
}

/// What happens to a redeemed coupon when its order is refunded in full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundPolicy {
    /// The coupon returns to the member (退款返券).
    #[default]
    Restore,
    /// The coupon stays used.
    Keep,
}

/// Share-to-claim (分享裂变): a member shares a link; friends claim a coupon of this template;
/// the sharer earns a coupon of `reward_template_id` for every `threshold` claims (or
/// friends' first orders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareRule {
    pub reward_template_id: String,
    #[serde(default)]
    pub trigger: ShareTrigger,
    pub threshold: i64,
    /// Most rewards one sharer may earn from this template.
    #[serde(default)]
    pub max_rewards_per_sharer: Option<i64>,
    /// Most claims one link accepts.
    #[serde(default)]
    pub max_claims_per_link: Option<i64>,
    /// Most share claims one member may make on this template (default 1).
    #[serde(default = "one")]
    pub max_claims_per_claimant: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareTrigger {
    #[default]
    Claims,
    FirstOrders,
}

/// A template as operators write it and as it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateSpec {
    #[schema(example = "满200减30")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub benefit: Benefit,
    #[serde(default)]
    pub scope: Scope,
    pub validity: Validity,
    #[serde(default)]
    pub limits: Limits,
    /// Channels where the coupon may be used (e.g. `app`, `store`); empty means all.
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub stacking: Stacking,
    /// Members may claim it themselves (领券中心).
    #[serde(default)]
    pub claimable: bool,
    /// A public code anyone may enter to claim one (limited by stock and per-member limit).
    #[serde(default)]
    pub shared_code: Option<String>,
    #[serde(default)]
    pub on_refund: RefundPolicy,
    #[serde(default)]
    pub share: Option<ShareRule>,
}

impl TemplateSpec {
    /// Checks every rule and reports all problems at once.
    pub fn validate(&self, tz: Tz) -> Result<(), Invalid> {
        let mut c = Collector::default();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            c.push(FieldError::new(
                &["name"],
                "invalid_name",
                "name must be 1–100 characters",
            ));
        }
        let amount = |c: &mut Collector, loc: &[&str], v: i64, positive: bool| {
            if v < i64::from(positive) || v > MAX_MINOR {
                let what = if positive { "positive" } else { "zero or more" };
                c.push(FieldError::new(
                    loc,
                    "invalid_amount",
                    format!("must be {what} and at most {MAX_MINOR}"),
                ));
            }
        };
        let min = self.benefit.min_spend();
        amount(&mut c, &["benefit", "min_spend_minor"], min, false);
        match &self.benefit {
            Benefit::AmountOff { off_minor, .. } => {
                amount(&mut c, &["benefit", "off_minor"], *off_minor, true)
            }
            Benefit::PercentOff {
                percent_off,
                cap_minor,
                ..
            } => {
                if !(1..=100).contains(percent_off) {
                    c.push(FieldError::new(
                        &["benefit", "percent_off"],
                        "out_of_range",
                        "percent_off must be 1–100",
                    ));
                }
                if let Some(cap) = cap_minor {
                    amount(&mut c, &["benefit", "cap_minor"], *cap, true);
                }
            }
            Benefit::FreeGift {
                gift_sku,
                gift_quantity,
                ..
            } => {
                if gift_sku.trim().is_empty() {
                    c.push(FieldError::new(
                        &["benefit", "gift_sku"],
                        "required",
                        "gift_sku is required",
                    ));
                }
                if !(1..=1000).contains(gift_quantity) {
                    c.push(FieldError::new(
                        &["benefit", "gift_quantity"],
                        "out_of_range",
                        "gift_quantity must be 1–1000",
                    ));
                }
            }
            Benefit::SpendReturn { reward, .. } => match reward {
                SpendReward::Points { points } if *points <= 0 => {
                    c.push(FieldError::new(
                        &["benefit", "reward", "points"],
                        "out_of_range",
                        "points must be positive",
                    ));
                }
                SpendReward::Coupon { template_id } if template_id.trim().is_empty() => {
                    c.push(FieldError::new(
                        &["benefit", "reward", "template_id"],
                        "required",
                        "template_id is required",
                    ));
                }
                _ => {}
            },
            Benefit::FreeShipping { cap_minor, .. } => {
                if let Some(cap) = cap_minor {
                    amount(&mut c, &["benefit", "cap_minor"], *cap, true);
                }
            }
            Benefit::Trial { sku, cap_minor } => {
                if sku.trim().is_empty() {
                    c.push(FieldError::new(
                        &["benefit", "sku"],
                        "required",
                        "sku is required",
                    ));
                }
                if let Some(cap) = cap_minor {
                    amount(&mut c, &["benefit", "cap_minor"], *cap, true);
                }
            }
        }
        match &self.validity {
            Validity::DaysFromIssue { days } if !(1..=3660).contains(days) => {
                c.push(FieldError::new(
                    &["validity", "days"],
                    "out_of_range",
                    "days must be 1–3660",
                ));
            }
            Validity::Fixed { .. } => match self.validity.window(0, tz) {
                Ok((from, to)) if from >= to => c.push(FieldError::new(
                    &["validity", "to"],
                    "invalid_window",
                    "to must be after from",
                )),
                Ok(_) => {}
                Err(Invalid(errs)) => errs.into_iter().for_each(|e| c.push(e.under("validity"))),
            },
            _ => {}
        }
        let l = &self.limits;
        for (name, v) in [
            ("per_member", l.per_member),
            ("per_member_uses", l.per_member_uses),
            ("stock", l.stock),
        ] {
            if v.is_some_and(|v| v < 1) {
                c.push(FieldError::new(
                    &["limits", name],
                    "out_of_range",
                    format!("{name} must be at least 1"),
                ));
            }
        }
        if let Some(b) = l.budget_minor {
            amount(&mut c, &["limits", "budget_minor"], b, true);
        }
        if let Stacking::Stackable { groups } = &self.stacking
            && (groups.is_empty() || groups.iter().any(|g| g.trim().is_empty()))
        {
            c.push(FieldError::new(
                &["stacking", "groups"],
                "required",
                "a stackable coupon needs at least one named group",
            ));
        }
        if let Some(code) = &self.shared_code
            && !valid_code(code)
        {
            c.push(FieldError::new(
                &["shared_code"],
                "invalid_code",
                "shared_code must be 3–40 letters, digits or '-'",
            ));
        }
        if let Some(s) = &self.share {
            if s.threshold < 1 {
                c.push(FieldError::new(
                    &["share", "threshold"],
                    "out_of_range",
                    "threshold must be at least 1",
                ));
            }
            if s.max_claims_per_claimant < 1 {
                c.push(FieldError::new(
                    &["share", "max_claims_per_claimant"],
                    "out_of_range",
                    "must be at least 1",
                ));
            }
            if s.reward_template_id.trim().is_empty() {
                c.push(FieldError::new(
                    &["share", "reward_template_id"],
                    "required",
                    "reward_template_id is required",
                ));
            }
        }
        c.finish()
    }
}

/// Codes people type: ASCII letters, digits and '-', compared case-insensitively (stored
/// upper-case).
pub fn valid_code(code: &str) -> bool {
    (3..=40).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The life of one coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    /// Held by a member (or, for a generated code, waiting to be claimed).
    Issued,
    /// Reserved for an order that is not paid yet.
    Locked,
    Redeemed,
    Expired,
    Void,
}

impl CouponStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CouponStatus::Issued => "issued",
            CouponStatus::Locked => "locked",
            CouponStatus::Redeemed => "redeemed",
            CouponStatus::Expired => "expired",
            CouponStatus::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<CouponStatus> {
        Some(match s {
            "issued" => CouponStatus::Issued,
            "locked" => CouponStatus::Locked,
            "redeemed" => CouponStatus::Redeemed,
            "expired" => CouponStatus::Expired,
            "void" => CouponStatus::Void,
            _ => return None,
        })
    }
}

/// The life of one coupon's use on one order (a row of `coupon_redemptions`): `Locked`
/// at checkout, then `Redeemed` when the order is paid, or `Released` when the unpaid
/// order is cancelled or refunded; a redeemed one becomes `Restored` when a full refund or
/// a cancel after payment gives the coupon back (templates with `on_refund: restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedemptionStatus {
    Locked,
    Redeemed,
    Released,
    Restored,
}

impl RedemptionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RedemptionStatus::Locked => "locked",
            RedemptionStatus::Redeemed => "redeemed",
            RedemptionStatus::Released => "released",
            RedemptionStatus::Restored => "restored",
        }
    }

    pub fn parse(s: &str) -> Option<RedemptionStatus> {
        Some(match s {
            "locked" => RedemptionStatus::Locked,
            "redeemed" => RedemptionStatus::Redeemed,
            "released" => RedemptionStatus::Released,
            "restored" => RedemptionStatus::Restored,
            _ => return None,
        })
    }
}

/// The life of a coupon order (a row of `coupon_orders`: the coupons checkout locked to
/// one shop order). `Locked` at checkout; `order.paid` makes it `Paid`; a cancel or a
/// refund of the unpaid order makes it `Released`; a partial refund of a paid order makes
/// it `PartiallyRefunded`; a full refund of a paid (or partially refunded) order makes it
/// `Refunded`, a cancel of one `Cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponOrderStatus {
    Locked,
    Paid,
    PartiallyRefunded,
    Refunded,
    Released,
    Cancelled,
}

impl CouponOrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CouponOrderStatus::Locked => "locked",
            CouponOrderStatus::Paid => "paid",
            CouponOrderStatus::PartiallyRefunded => "partially_refunded",
            CouponOrderStatus::Refunded => "refunded",
            CouponOrderStatus::Released => "released",
            CouponOrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CouponOrderStatus> {
        Some(match s {
            "locked" => CouponOrderStatus::Locked,
            "paid" => CouponOrderStatus::Paid,
            "partially_refunded" => CouponOrderStatus::PartiallyRefunded,
            "refunded" => CouponOrderStatus::Refunded,
            "released" => CouponOrderStatus::Released,
            "cancelled" => CouponOrderStatus::Cancelled,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod status_tests {
    use super::{CouponOrderStatus, CouponStatus, RedemptionStatus};

    // The stored strings: changing one would orphan rows already in the database.

    #[test]
    fn coupon_status_round_trips() {
        let all = [
            (CouponStatus::Issued, "issued"),
            (CouponStatus::Locked, "locked"),
            (CouponStatus::Redeemed, "redeemed"),
            (CouponStatus::Expired, "expired"),
            (CouponStatus::Void, "void"),
        ];
        for (s, text) in all {
            assert_eq!(s.as_str(), text);
            assert_eq!(CouponStatus::parse(text), Some(s));
            // The API shows the same word as the database holds.
            assert_eq!(serde_json::to_value(s).expect("serializes"), text);
        }
        assert_eq!(CouponStatus::parse("Issued"), None);
        assert_eq!(CouponStatus::parse(""), None);
    }

    #[test]
    fn redemption_status_round_trips() {
        let all = [
            (RedemptionStatus::Locked, "locked"),
            (RedemptionStatus::Redeemed, "redeemed"),
            (RedemptionStatus::Released, "released"),
            (RedemptionStatus::Restored, "restored"),
        ];
        for (s, text) in all {
            assert_eq!(s.as_str(), text);
            assert_eq!(RedemptionStatus::parse(text), Some(s));
        }
        assert_eq!(RedemptionStatus::parse("paid"), None);
        assert_eq!(RedemptionStatus::parse("Locked"), None);
        assert_eq!(RedemptionStatus::parse(""), None);
    }

    #[test]
    fn coupon_order_status_round_trips() {
        let all = [
            (CouponOrderStatus::Locked, "locked"),
            (CouponOrderStatus::Paid, "paid"),
            (CouponOrderStatus::PartiallyRefunded, "partially_refunded"),
            (CouponOrderStatus::Refunded, "refunded"),
            (CouponOrderStatus::Released, "released"),
            (CouponOrderStatus::Cancelled, "cancelled"),
        ];
        for (s, text) in all {
            assert_eq!(s.as_str(), text);
            assert_eq!(CouponOrderStatus::parse(text), Some(s));
        }
        assert_eq!(CouponOrderStatus::parse("redeemed"), None);
        assert_eq!(CouponOrderStatus::parse("partially-refunded"), None);
        assert_eq!(CouponOrderStatus::parse(""), None);
    }
}
