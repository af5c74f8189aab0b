//! Coupon use cases: templates, issuing (to members, lists, gift packs, claims, codes,
//! share links, event rules), checkout validation and redemption, and the reactions to
//! order events. Rules come from `memberops-coupons`; each write is one transaction.

use std::collections::HashMap;

pub mod checkout;
pub mod expire;
mod hook;
pub mod issue;
pub mod privileges;
pub mod report;
pub mod rules;
pub mod share;
pub mod templates;

use memberops_core::Invalid;
use memberops_core::id::new_id;
use memberops_core::time::{Millis, millis_to_rfc3339};
use memberops_coupons::{CouponStatus, TemplateSpec};
use memberops_store::{CouponRow, MemberRef, StoreError, TemplateRow, WriteTx};
use serde::{Deserialize, Serialize};

pub use expire::{ExpireOut, expire_due};
pub use hook::on_events;

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub const TEMPLATE: &str = "tpl";
pub const COUPON: &str = "cpn";
pub const PACK: &str = "gpk";
pub const RULE: &str = "crl";
pub const LINK: &str = "shr";
pub const REWARD: &str = "rwd";

/// A template row with its rules parsed.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: TemplateRow,
    pub spec: TemplateSpec,
}

pub(crate) fn load(row: TemplateRow) -> Result<Loaded> {
    let spec: TemplateSpec = serde_json::from_str(&row.spec)
        .map_err(|e| StoreError::Corrupt(format!("coupon template {}: {e}", row.id)))?;
    Ok(Loaded { row, spec })
}

/// JSON text of a value (serialising our own types cannot fail; if it did, it is internal).
pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()).into())
}

pub(crate) fn conflict(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::Conflict {
        code,
        detail: detail.into(),
    }
}

/// A coupon as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CouponOut {
    pub id: String,
    pub template_id: String,
    pub member_id: Option<String>,
    pub code: Option<String>,
    /// `issued`, `locked`, `redeemed`, `expired` or `void`.
    pub status: String,
    /// How it was issued: `issue`, `pack`, `rule`, `claim`, `code`, `shared_code`,
    /// `share`, `share_reward`, `spend_return`.
    pub source: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub issued_at: String,
    pub order_id: Option<String>,
}

impl From<&CouponRow> for CouponOut {
    fn from(c: &CouponRow) -> Self {
        CouponOut {
            id: c.id.clone(),
            template_id: c.template_id.clone(),
            member_id: c.member_id.clone(),
            code: c.code.clone(),
            status: c.status.clone(),
            source: c.source.clone(),
            valid_from: c.valid_from.map(millis_to_rfc3339),
            valid_to: c.valid_to.map(millis_to_rfc3339),
            issued_at: millis_to_rfc3339(c.issued_at),
            order_id: c.order_id.clone(),
        }
    }
}

/// Members by external id inside a transaction; unknown ones are a 422 naming them.
pub(crate) async fn members_in_tx(
    tx: &mut dyn WriteTx,
    external_ids: &[String],
    field: &str,
) -> Result<Vec<MemberRef>> {
    let ids: Vec<&str> = external_ids.iter().map(String::as_str).collect();
    let found = tx.members_by_external_ids(&ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    let mut errs = Vec::new();
    for (i, ext) in ids.iter().enumerate() {
        match found.iter().find(|m| m.external_id == *ext) {
            Some(m) => out.push(m.clone()),
            None => errs.push(memberops_core::FieldError::new(
                &[field, &i.to_string()],
                "member_not_found",
                format!("no member with external id `{ext}`"),
            )),
        }
    }
    if !errs.is_empty() {
        return Err(Invalid(errs).into());
    }
    Ok(out)
}

pub(crate) async fn member_in_tx(tx: &mut dyn WriteTx, external_id: &str) -> Result<MemberRef> {
    tx.members_by_external_ids(&[external_id])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { what: "member" })
}

pub(crate) async fn templates_in_tx(tx: &mut dyn WriteTx, ids: &[&str]) -> Result<Vec<Loaded>> {
    tx.tx_coupon_templates(ids)
        .await?
        .into_iter()
        .map(load)
        .collect()
}

/// One line of an issuing plan: `quantity` coupons of `templates[template]` to a member.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub template: usize,
    pub member_id: String,
    pub quantity: i64,
}

/// Checks every grant (template live, stock, per-member limit) and only then writes, so a
/// plan is issued whole or not at all.
pub(crate) async fn issue_grants(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    templates: &[Loaded],
    grants: &[Grant],
    source: &str,
    now: Millis,
) -> Result<Vec<CouponRow>> {
    let mut per_template = vec![0i64; templates.len()];
    for g in grants {
        per_template[g.template] += g.quantity;
    }
    // Per-member limits count what the member already has plus this plan.
    let mut members: Vec<&str> = grants.iter().map(|g| g.member_id.as_str()).collect();
    members.sort_unstable();
    members.dedup();
    let limited: Vec<&str> = templates
        .iter()
        .filter(|t| t.spec.limits.per_member.is_some())
        .map(|t| t.row.id.as_str())
        .collect();
    if !limited.is_empty() {
        let have = tx.members_template_counts(&members, &limited).await?;
        let mut plan: HashMap<(&str, usize), i64> = HashMap::new();
        for g in grants {
            *plan.entry((g.member_id.as_str(), g.template)).or_insert(0) += g.quantity;
        }
        for m in &members {
            for (ti, t) in templates.iter().enumerate() {
                let Some(max) = t.spec.limits.per_member else {
                    continue;
                };
                let adding = plan.get(&(*m, ti)).copied().unwrap_or(0);
                let held = have
                    .get(&((*m).to_owned(), t.row.id.clone()))
                    .copied()
                    .unwrap_or(0);
                if adding > 0 && held + adding > max {
                    return Err(conflict(
                        "limit_reached",
                        format!("member {m} may hold at most {max} of template {}", t.row.id),
                    ));
                }
            }
        }
    }
    for (t, n) in templates.iter().zip(&per_template) {
        if *n == 0 {
            continue;
        }
        if t.row.archived_at.is_some() {
            return Err(conflict(
                "template_archived",
                format!("template {} is archived", t.row.id),
            ));
        }
        if t.row.stock.is_some_and(|s| t.row.issued_count + n > s) {
            return Err(conflict(
                "out_of_stock",
                format!("template {} has not enough stock left", t.row.id),
            ));
        }
    }
    write_grants(tx, ws, templates, grants, source, now).await
}

/// Takes the stock and writes the coupons of an already checked plan.
pub(crate) async fn write_grants(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    templates: &[Loaded],
    grants: &[Grant],
    source: &str,
    now: Millis,
) -> Result<Vec<CouponRow>> {
    let mut per_template = vec![0i64; templates.len()];
    for g in grants {
        per_template[g.template] += g.quantity;
    }
    for (t, n) in templates.iter().zip(&per_template) {
        if *n > 0 && !tx.take_coupon_stock(&t.row.id, *n).await? {
            return Err(conflict(
                "out_of_stock",
                format!("template {} has not enough stock left", t.row.id),
            ));
        }
    }
    let mut rows = Vec::new();
    for g in grants {
        let t = &templates[g.template];
        let (from, to) = t.spec.validity.window(now, ws.time_zone)?;
        for _ in 0..g.quantity {
            rows.push(CouponRow {
                id: new_id(COUPON),
                template_id: t.row.id.clone(),
                member_id: Some(g.member_id.clone()),
                code: None,
                status: CouponStatus::Issued.as_str().into(),
                source: source.to_owned(),
                valid_from: Some(from),
                valid_to: Some(to),
                issued_at: now,
                claimed_at: None,
                order_id: None,
                updated_at: now,
            });
        }
    }
    tx.insert_coupons(&rows).await?;
    let events = issued_events(ws, &rows, source, now);
    crate::system_events::insert_new(tx, events, |_| None).await?;
    Ok(rows)
}

/// One `coupon.issued` per member and template of `rows` (in first-seen order):
/// `{"coupon_ids", "template_id", "source"}`, id `coupon.issued:{first coupon id}`.
pub(crate) fn issued_events(
    ws: &Workspace,
    rows: &[CouponRow],
    source: &str,
    at: Millis,
) -> Vec<memberops_store::NewEvent> {
    let kind = memberops_core::event::SystemEvent::CouponIssued;
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    let mut slot: HashMap<(&str, &str), usize> = HashMap::new();
    for c in rows {
        let Some(m) = c.member_id.as_deref() else {
            continue;
        };
        let i = *slot.entry((m, c.template_id.as_str())).or_insert_with(|| {
            groups.push((m, c.template_id.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[i].2.push(c.id.as_str());
    }
    groups
        .into_iter()
        .map(|(m, template, ids)| {
            let id = format!("{}:{}", kind.as_str(), ids[0]);
            let props =
                serde_json::json!({"coupon_ids": ids, "template_id": template, "source": source});
            crate::system_events::system_event(ws, kind, id, m, at, props)
        })
        .collect()
}
