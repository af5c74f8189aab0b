//! Per-template report: how many coupons went out and how, what came back as orders.

use memberops_core::time::now_millis;
use memberops_coupons::CouponStatus;
use memberops_store::Store;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct TemplateReport {
    pub template_id: String,
    /// Given by operators, packs, event rules and rewards.
    pub issued: i64,
    /// Taken by members: self-service, codes, shared codes, share links.
    pub claimed: i64,
    /// Generated codes nobody has claimed yet.
    pub unclaimed_codes: i64,
    /// Held and usable now or later.
    pub available: i64,
    pub locked: i64,
    pub redeemed: i64,
    /// Expired unused (including issued coupons whose window has closed).
    pub expired: i64,
    pub void: i64,
    /// Discount given on paid orders (refund-restored ones excluded).
    pub discount_minor: i64,
    /// Paid orders that used the template.
    pub orders: i64,
    /// What those orders paid, net of refunds.
    pub revenue_minor: i64,
}

pub async fn template_report(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
) -> Result<TemplateReport> {
    if store.coupon_template(&ws.id, id).await?.is_none() {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    }
    let c = store.template_counts(&ws.id, id, now_millis()).await?;
    let mut r = TemplateReport {
        template_id: id.to_owned(),
        discount_minor: c.discount_minor,
        orders: c.orders,
        revenue_minor: c.revenue_minor,
        ..TemplateReport::default()
    };
    for (source, status, owned, n, overdue) in c.groups {
        if !owned {
            r.unclaimed_codes += n;
            continue;
        }
        match source.as_str() {
            "claim" | "code" | "shared_code" | "share" => r.claimed += n,
            _ => r.issued += n,
        }
        match CouponStatus::parse(&status) {
            Some(CouponStatus::Issued) => {
                r.available += n - overdue;
                r.expired += overdue;
            }
            Some(CouponStatus::Locked) => r.locked += n,
            Some(CouponStatus::Redeemed) => r.redeemed += n,
            Some(CouponStatus::Expired) => r.expired += n,
            Some(CouponStatus::Void) | None => r.void += n,
        }
    }
    Ok(r)
}
