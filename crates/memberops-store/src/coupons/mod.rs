//! Coupon storage: templates, coupons, redemptions, gift packs, share-to-claim, event rules
//! and rewards. Rules stay in `memberops-coupons`; this module only reads and writes rows.
//!
//! Every state change of a coupon is a conditional `UPDATE … WHERE status = …` that reports
//! whether it happened, so two requests racing for one coupon cannot both win, whatever
//! the backend's locking.

use std::collections::HashMap;

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The template's rules as JSON.
    pub spec: String,
    pub shared_code: Option<String>,
    pub stock: Option<i64>,
    pub issued_count: i64,
    pub budget_minor: Option<i64>,
    pub budget_used_minor: i64,
    pub archived_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRow {
    pub id: String,
    pub template_id: String,
    pub member_id: Option<String>,
    pub code: Option<String>,
    pub status: String,
    pub source: String,
    pub valid_from: Option<Millis>,
    pub valid_to: Option<Millis>,
    pub issued_at: Millis,
    pub claimed_at: Option<Millis>,
    pub order_id: Option<String>,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponOrderRow {
    pub order_id: String,
    pub member_id: String,
    /// JSON array of coupon ids, in the order the client chose them.
    pub coupon_ids: String,
    /// JSON of the answer given when the coupons were locked.
    pub result: String,
    /// `locked`, `paid`, `partially_refunded`, `refunded`, `released` or `cancelled`
    /// (`memberops_coupons::CouponOrderStatus`).
    pub status: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionRow {
    pub order_id: String,
    pub coupon_id: String,
    pub template_id: String,
    pub member_id: String,
    pub discount_minor: i64,
    /// `locked`, `redeemed`, `released` or `restored`
    /// (`memberops_coupons::RedemptionStatus`).
    pub status: String,
    pub locked_at: Millis,
    pub paid_at: Option<Millis>,
    pub closed_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftPackRow {
    pub id: String,
    pub name: String,
    /// JSON `[{template_id, quantity}]`.
    pub items: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRuleRow {
    pub id: String,
    pub event_type: String,
    pub template_id: Option<String>,
    pub pack_id: Option<String>,
    pub created_at: Millis,
    /// Deleted: kept for the history of what it issued.
    pub archived_at: Option<Millis>,
    /// JSON object: the condition on the event (`{"to_tier": "gold"}`…).
    pub condition: String,
    /// The rule sees events after this sequence number (the log's head at creation).
    pub since_seq: i64,
    pub disabled_at: Option<Millis>,
    pub issued_count: i64,
    pub skipped_count: i64,
    /// Why the last firing issued nothing (`out_of_stock`, `limit_reached`…).
    pub last_skip_code: Option<String>,
    pub last_skip_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLinkRow {
    pub id: String,
    pub template_id: String,
    pub sharer_id: String,
    pub claims: i64,
    pub conversions: i64,
    pub rewards: i64,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareClaimRow {
    pub link_id: String,
    pub template_id: String,
    pub claimant_id: String,
    pub coupon_id: String,
    pub claimed_at: Millis,
    pub converted_order_id: Option<String>,
    pub converted_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardRow {
    pub id: String,
    pub member_id: String,
    pub template_id: String,
    pub order_id: Option<String>,
    /// `points` or `coupon`.
    pub kind: String,
    pub points: Option<i64>,
    pub coupon_id: Option<String>,
    pub created_at: Millis,
}

/// Coupon counts of one template, grouped: `(source, status, owned, count, overdue)` where
/// `overdue` counts issued coupons whose window has closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateCounts {
    pub groups: Vec<(String, String, bool, i64, i64)>,
    pub discount_minor: i64,
    pub orders: i64,
    pub revenue_minor: i64,
}

/// The live counters of a coupon's template, read with the coupon at checkout. The rules
/// (`spec`) are not read: callers cache them by `(id, updated_at)`, which changes with
/// every edit of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateState {
    pub updated_at: Millis,
    pub budget_minor: Option<i64>,
    pub budget_used_minor: i64,
}

/// What checkout reads about a member in one query: the member's id and every coupon they
/// own (oldest id first) with its template's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutCoupons {
    pub member_id: String,
    /// The member's tier code; None before the loyalty program has seen them.
    pub tier: Option<String>,
    pub coupons: Vec<(CouponRow, TemplateState)>,
}

/// Coupon reads outside a write transaction.
#[async_trait]
pub trait CouponsStore: Send + Sync {
    /// The member (by external id), their tier and their coupons with template counters,
    /// in one query; `None` when there is no such member.
    async fn checkout_coupons(
        &self,
        ws: &str,
        external_id: &str,
    ) -> Result<Option<CheckoutCoupons>>;
    async fn coupon_template(&self, ws: &str, id: &str) -> Result<Option<TemplateRow>>;
    async fn coupon_templates(&self, ws: &str) -> Result<Vec<TemplateRow>>;
    async fn coupon_templates_by_ids(&self, ws: &str, ids: &[&str]) -> Result<Vec<TemplateRow>>;
    /// Every coupon the member owns, oldest first.
    async fn member_coupons(&self, ws: &str, member_id: &str) -> Result<Vec<CouponRow>>;
    async fn coupon(&self, ws: &str, id: &str) -> Result<Option<CouponRow>>;
    async fn coupon_order(&self, ws: &str, order_id: &str) -> Result<Option<CouponOrderRow>>;
    async fn gift_packs(&self, ws: &str) -> Result<Vec<GiftPackRow>>;
    async fn coupon_event_rules(&self, ws: &str) -> Result<Vec<EventRuleRow>>;
    async fn share_link(&self, ws: &str, id: &str) -> Result<Option<ShareLinkRow>>;
    async fn template_counts(
        &self,
        ws: &str,
        template_id: &str,
        now: Millis,
    ) -> Result<TemplateCounts>;
}

/// Coupon writes (and the reads they depend on) inside a write transaction.
#[async_trait]
pub trait CouponsTx: Send {
    /// Moves owned `issued` coupons whose window closed at or before `now` to `expired`:
    /// those of the members the first `limit` of them (soonest closed first) belong to,
    /// every due coupon of each such member together (so at least `limit` coupons when
    /// that many are due, fewer only at the end). Returns `(coupon_id, member_id)` of
    /// each coupon moved.
    async fn expire_due_coupons(
        &mut self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<(String, String)>>;
    /// Coupons of these templates each of these members has ever received:
    /// `(member_id, template_id) → count`.
    async fn members_template_counts(
        &mut self,
        member_ids: &[&str],
        template_ids: &[&str],
    ) -> Result<HashMap<(String, String), i64>>;
    /// Which of these members an issuing run (by its key) has already handled.
    async fn issue_members_done(&mut self, key: &str, member_ids: &[&str]) -> Result<Vec<String>>;
    /// Records members an issuing run has handled: `(member_id, outcome, coupons)`.
    async fn insert_issue_members(
        &mut self,
        key: &str,
        rows: &[(String, &'static str, i64)],
        at: Millis,
    ) -> Result<()>;
    /// What an issuing run has done so far: `outcome → (members, coupons)`.
    async fn issue_members_summary(&mut self, key: &str) -> Result<HashMap<String, (i64, i64)>>;
    async fn insert_coupon_template(&mut self, t: &TemplateRow) -> Result<()>;
    /// Rewrites the rules and limits; false if there is no such template.
    async fn update_coupon_template(&mut self, t: &TemplateRow) -> Result<bool>;
    async fn tx_coupon_templates(&mut self, ids: &[&str]) -> Result<Vec<TemplateRow>>;
    async fn template_by_shared_code(&mut self, code: &str) -> Result<Option<TemplateRow>>;
    /// Takes `n` from the template's stock; false (and nothing taken) if not enough is left.
    async fn take_coupon_stock(&mut self, template_id: &str, n: i64) -> Result<bool>;
    /// Adds to the discount spent from the budget (negative gives back); false (and
    /// nothing spent) if it would exceed the budget.
    async fn spend_coupon_budget(&mut self, template_id: &str, minor: i64) -> Result<bool>;
    async fn insert_coupons(&mut self, rows: &[CouponRow]) -> Result<()>;
    /// Inserts coupons whose code is not taken yet; returns the ids inserted.
    async fn insert_coupon_codes(&mut self, rows: &[CouponRow]) -> Result<Vec<String>>;
    /// Coupons of these templates the member has ever received: `template_id → count`.
    async fn member_template_counts(
        &mut self,
        member_id: &str,
        template_ids: &[&str],
    ) -> Result<HashMap<String, i64>>;
    async fn tx_member_coupons(&mut self, member_id: &str) -> Result<Vec<CouponRow>>;
    async fn tx_coupons(&mut self, ids: &[&str]) -> Result<Vec<CouponRow>>;
    async fn coupon_by_code(&mut self, code: &str) -> Result<Option<CouponRow>>;
    /// Gives an unclaimed code coupon to a member; false if someone has it already.
    async fn claim_coupon_code(
        &mut self,
        id: &str,
        member_id: &str,
        from: Millis,
        to: Millis,
        at: Millis,
    ) -> Result<bool>;
    /// `issued` → `locked` for this member's coupon; false if it was not issued to them.
    async fn lock_coupon(
        &mut self,
        id: &str,
        member_id: &str,
        order_id: &str,
        at: Millis,
    ) -> Result<bool>;
    /// Moves coupons from one status to another (clearing the order when they return to
    /// `issued`); returns how many moved.
    async fn move_coupons(&mut self, ids: &[&str], from: &str, to: &str, at: Millis)
    -> Result<u64>;
    async fn insert_coupon_order(&mut self, o: &CouponOrderRow) -> Result<()>;
    async fn tx_coupon_order(&mut self, order_id: &str) -> Result<Option<CouponOrderRow>>;
    /// Which of these orders have coupons locked or redeemed against them (one query for
    /// a whole event batch, so orders without coupons cost nothing more).
    async fn orders_with_coupons(&mut self, order_ids: &[&str]) -> Result<Vec<String>>;
    async fn set_coupon_order_status(
        &mut self,
        order_id: &str,
        status: &str,
        at: Millis,
    ) -> Result<()>;
    async fn insert_redemptions(&mut self, rows: &[RedemptionRow]) -> Result<()>;
    async fn order_redemptions(&mut self, order_id: &str) -> Result<Vec<RedemptionRow>>;
    /// Moves one redemption of an order from one status to another; `paid` stamps
    /// `paid_at`, otherwise `closed_at`. Returns whether it moved.
    async fn set_redemption_status(
        &mut self,
        order_id: &str,
        coupon_id: &str,
        from: &str,
        to: &str,
        paid: bool,
        at: Millis,
    ) -> Result<bool>;
    async fn issue_key_result(&mut self, key: &str) -> Result<Option<String>>;
    async fn save_issue_key(&mut self, key: &str, result: &str, at: Millis) -> Result<()>;
    async fn insert_gift_pack(&mut self, p: &GiftPackRow) -> Result<()>;
    async fn tx_gift_pack(&mut self, id: &str) -> Result<Option<GiftPackRow>>;
    async fn insert_event_rule(&mut self, r: &EventRuleRow) -> Result<()>;
    /// Live (not deleted) rules on these event types, disabled ones included.
    async fn event_rules_for(&mut self, types: &[&str]) -> Result<Vec<EventRuleRow>>;
    async fn tx_event_rule(&mut self, id: &str) -> Result<Option<EventRuleRow>>;
    /// Sets the disabled and deleted times of a rule.
    async fn set_event_rule_state(
        &mut self,
        id: &str,
        disabled_at: Option<Millis>,
        archived_at: Option<Millis>,
    ) -> Result<()>;
    /// Records that the rule fired on the event; false when it already had (nothing written).
    async fn record_rule_fire(
        &mut self,
        rule_id: &str,
        event_id: &str,
        member_id: &str,
        outcome: &str,
        at: Millis,
    ) -> Result<bool>;
    /// Counts a firing on the rule: issued (`skip_code` None) or skipped and why (also
    /// written on the event's firing).
    async fn count_rule_outcome(
        &mut self,
        rule_id: &str,
        event_id: &str,
        skip_code: Option<&str>,
        at: Millis,
    ) -> Result<()>;
    async fn share_link_of(
        &mut self,
        template_id: &str,
        sharer_id: &str,
    ) -> Result<Option<ShareLinkRow>>;
    async fn tx_share_link(&mut self, id: &str) -> Result<Option<ShareLinkRow>>;
    async fn insert_share_link(&mut self, l: &ShareLinkRow) -> Result<()>;
    async fn bump_share_link(
        &mut self,
        id: &str,
        claims: i64,
        conversions: i64,
        rewards: i64,
    ) -> Result<()>;
    async fn insert_share_claim(&mut self, c: &ShareClaimRow) -> Result<()>;
    async fn count_share_claims(&mut self, template_id: &str, claimant_id: &str) -> Result<i64>;
    async fn open_share_claims(&mut self, claimant_id: &str) -> Result<Vec<ShareClaimRow>>;
    /// Which of these members hold share claims not yet converted by a first order.
    async fn members_with_open_claims(&mut self, member_ids: &[&str]) -> Result<Vec<String>>;
    async fn convert_share_claim(
        &mut self,
        link_id: &str,
        claimant_id: &str,
        order_id: &str,
        at: Millis,
    ) -> Result<()>;
    async fn insert_reward(&mut self, r: &RewardRow) -> Result<()>;
    /// Orders the member has, paid at any time (refunded ones included).
    async fn member_order_count(&mut self, member_id: &str) -> Result<i64>;
}

mod sql;
mod tx_sql;

pub(crate) use sql::impl_coupons;
pub(crate) use tx_sql::impl_coupons_tx;
