//! Issuing: to one member or a list, gift packs, member claims (by template, by a generated
//! code, by a public shared code), bulk code generation, and voiding.

use std::collections::HashSet;

use memberops_core::Invalid;
use memberops_core::id::new_id;
use memberops_core::time::{Millis, now_millis};
use memberops_coupons::CouponStatus;
use memberops_coupons::codes::CodePattern;
use memberops_store::{CouponRow, Store, StoreError, WriteTx};
use serde::{Deserialize, Serialize};

use super::templates::PackItem;
use super::{
    COUPON, CouponOut, Grant, Loaded, conflict, issue_grants, member_in_tx, members_in_tx,
    templates_in_tx, write_grants,
};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// Most members one issuing call may name.
pub const MAX_MEMBERS: usize = 10_000;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct IssueIn {
    /// A template, or…
    #[serde(default)]
    pub template_id: Option<String>,
    /// …a gift pack (all its templates, issued together).
    #[serde(default)]
    pub pack_id: Option<String>,
    /// Members' external ids. All of them get their coupons, or none does.
    pub members: Vec<String>,
    /// Coupons of the template per member (ignored for packs).
    #[serde(default = "one")]
    pub quantity: i64,
    /// Sending the same key again returns the first answer and issues nothing.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssueOut {
    pub issued: usize,
    pub coupons: Vec<CouponOut>,
}

async fn pack_templates(
    tx: &mut dyn WriteTx,
    pack_id: &str,
) -> Result<(Vec<Loaded>, Vec<PackItem>)> {
    let pack = tx
        .tx_gift_pack(pack_id)
        .await?
        .ok_or(AppError::NotFound { what: "gift pack" })?;
    let items: Vec<PackItem> = serde_json::from_str(&pack.items)
        .map_err(|e| StoreError::Corrupt(format!("gift pack {pack_id}: {e}")))?;
    let ids: Vec<&str> = items.iter().map(|i| i.template_id.as_str()).collect();
    let templates = templates_in_tx(tx, &ids).await?;
    Ok((templates, items))
}

/// The plan for giving a template or a pack to each member.
pub(crate) async fn plan_for(
    tx: &mut dyn WriteTx,
    template_id: Option<&str>,
    pack_id: Option<&str>,
    quantity: i64,
    member_ids: &[&str],
) -> Result<(Vec<Loaded>, Vec<Grant>)> {
    match (template_id, pack_id) {
        (Some(t), None) => {
            let templates = templates_in_tx(tx, &[t]).await?;
            if templates.is_empty() {
                return Err(AppError::NotFound {
                    what: "coupon template",
                });
            }
            let grants = member_ids
                .iter()
                .map(|m| Grant {
                    template: 0,
                    member_id: (*m).to_owned(),
                    quantity,
                })
                .collect();
            Ok((templates, grants))
        }
        (None, Some(p)) => {
            let (templates, items) = pack_templates(tx, p).await?;
            let mut grants = Vec::new();
            for m in member_ids {
                for it in &items {
                    let Some(ti) = templates.iter().position(|t| t.row.id == it.template_id) else {
                        return Err(conflict(
                            "template_not_found",
                            format!("pack {p} names a missing template"),
                        ));
                    };
                    grants.push(Grant {
                        template: ti,
                        member_id: (*m).to_owned(),
                        quantity: it.quantity,
                    });
                }
            }
            Ok((templates, grants))
        }
        _ => Err(Invalid::one(
            &["template_id"],
            "one_required",
            "give exactly one of template_id and pack_id",
        )
        .into()),
    }
}

pub async fn issue(store: &dyn Store, ws: &Workspace, req: IssueIn) -> Result<IssueOut> {
    if req.members.is_empty() || req.members.len() > MAX_MEMBERS {
        return Err(Invalid::one(
            &["members"],
            "out_of_range",
            format!("name 1–{MAX_MEMBERS} members"),
        )
        .into());
    }
    if !(1..=100).contains(&req.quantity) {
        return Err(Invalid::one(&["quantity"], "out_of_range", "quantity must be 1–100").into());
    }
    let key = match &req.idempotency_key {
        Some(k) if k.is_empty() || k.len() > 200 => {
            return Err(Invalid::one(
                &["idempotency_key"],
                "invalid_key",
                "idempotency_key must be 1–200 characters",
            )
            .into());
        }
        Some(k) => Some(format!("issue:{k}")),
        None => None,
    };
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    if let Some(k) = &key
        && let Some(saved) = tx.issue_key_result(k).await?
    {
        return serde_json::from_str(&saved).map_err(|e| StoreError::Corrupt(e.to_string()).into());
    }
    let members = members_in_tx(tx.as_mut(), &req.members, "members").await?;
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (templates, grants) = plan_for(
        tx.as_mut(),
        req.template_id.as_deref(),
        req.pack_id.as_deref(),
        req.quantity,
        &ids,
    )
    .await?;
    let source = if req.pack_id.is_some() {
        "pack"
    } else {
        "issue"
    };
    let rows = issue_grants(tx.as_mut(), ws, &templates, &grants, source, now).await?;
    let out = IssueOut {
        issued: rows.len(),
        coupons: rows.iter().map(CouponOut::from).collect(),
    };
    if let Some(k) = &key {
        let text = serde_json::to_string(&out).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.save_issue_key(k, &text, now).await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// A member takes a coupon: from a claimable template, with a generated code, or with a
/// template's public shared code.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ClaimIn {
    pub member: String,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

pub async fn claim(store: &dyn Store, ws: &Workspace, req: ClaimIn) -> Result<CouponOut> {
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    let member = member_in_tx(tx.as_mut(), &req.member).await?;
    let out = match (&req.template_id, &req.code) {
        (Some(t), None) => {
            let templates = templates_in_tx(tx.as_mut(), &[t]).await?;
            let Some(tpl) = templates.first() else {
                return Err(AppError::NotFound {
                    what: "coupon template",
                });
            };
            if !tpl.spec.claimable {
                return Err(conflict(
                    "not_claimable",
                    format!("template {t} cannot be claimed by members"),
                ));
            }
            claim_one(tx.as_mut(), ws, templates, &member.id, "claim", now).await?
        }
        (None, Some(code)) => {
            let code = code.trim().to_ascii_uppercase();
            if let Some(c) = tx.coupon_by_code(&code).await? {
                claim_code(tx.as_mut(), ws, c, &member.id, now).await?
            } else if let Some(t) = tx.template_by_shared_code(&code).await? {
                claim_one(
                    tx.as_mut(),
                    ws,
                    vec![super::load(t)?],
                    &member.id,
                    "shared_code",
                    now,
                )
                .await?
            } else {
                return Err(AppError::NotFound {
                    what: "coupon code",
                });
            }
        }
        _ => {
            return Err(Invalid::one(
                &["template_id"],
                "one_required",
                "give exactly one of template_id and code",
            )
            .into());
        }
    };
    tx.commit().await?;
    Ok(out)
}

/// Self-service claims are one per member unless the template says otherwise.
async fn claim_one(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    mut templates: Vec<Loaded>,
    member_id: &str,
    source: &str,
    now: Millis,
) -> Result<CouponOut> {
    if let Some(t) = templates.first_mut() {
        t.spec.limits.per_member.get_or_insert(1);
    }
    let grants = [Grant {
        template: 0,
        member_id: member_id.to_owned(),
        quantity: 1,
    }];
    let rows = issue_grants(tx, ws, &templates, &grants, source, now).await?;
    rows.first()
        .map(CouponOut::from)
        .ok_or(AppError::NotFound { what: "coupon" })
}

async fn claim_code(
    tx: &mut dyn WriteTx,
    ws: &Workspace,
    c: CouponRow,
    member_id: &str,
    now: Millis,
) -> Result<CouponOut> {
    if c.member_id.as_deref() == Some(member_id) {
        return Ok(CouponOut::from(&c));
    }
    if c.member_id.is_some() || CouponStatus::parse(&c.status) != Some(CouponStatus::Issued) {
        return Err(conflict("already_claimed", "this code has been claimed"));
    }
    let Some(t) = templates_in_tx(tx, &[&c.template_id])
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    };
    if let Some(max) = t.spec.limits.per_member {
        let have = tx
            .member_template_counts(member_id, &[&c.template_id])
            .await?;
        if have.get(&c.template_id).copied().unwrap_or(0) >= max {
            return Err(conflict(
                "limit_reached",
                format!("a member may hold at most {max} of this template"),
            ));
        }
    }
    let (from, to) = t.spec.validity.window(now, ws.time_zone)?;
    if !tx
        .claim_coupon_code(&c.id, member_id, from, to, now)
        .await?
    {
        return Err(conflict("already_claimed", "this code has been claimed"));
    }
    let mut c = c;
    c.member_id = Some(member_id.to_owned());
    c.valid_from = Some(from);
    c.valid_to = Some(to);
    c.claimed_at = Some(now);
    // The member receives the coupon now: issued to them, as far as the log is concerned.
    let events = super::issued_events(ws, std::slice::from_ref(&c), &c.source, now);
    crate::system_events::insert_new(tx, events, |_| None).await?;
    Ok(CouponOut::from(&c))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CodesIn {
    /// 1–100,000 codes in one call.
    pub count: usize,
    #[serde(default = "default_pattern")]
    pub pattern: CodePattern,
}

fn default_pattern() -> CodePattern {
    CodePattern {
        prefix: String::new(),
        length: 10,
        charset: None,
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodesOut {
    pub template_id: String,
    pub generated: usize,
    pub codes: Vec<String>,
}

/// Generates unclaimed coupons with unique codes. Codes that collide with stored ones
/// (the database's unique index says so) are drawn again.
pub async fn generate_codes(
    store: &dyn Store,
    ws: &Workspace,
    template_id: &str,
    req: CodesIn,
) -> Result<CodesOut> {
    let mut pattern = req.pattern;
    pattern.prefix = pattern.prefix.to_ascii_uppercase();
    pattern.validate(req.count).map_err(|e| match e {
        memberops_coupons::CouponError::Invalid(i) => AppError::Invalid(i),
        e => Invalid::one(&["pattern"], "pattern_too_small", e.to_string()).into(),
    })?;
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    let Some(t) = templates_in_tx(tx.as_mut(), &[template_id])
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    };
    if t.row.archived_at.is_some() {
        return Err(conflict(
            "template_archived",
            format!("template {template_id} is archived"),
        ));
    }
    let n = i64::try_from(req.count).unwrap_or(i64::MAX);
    if !tx.take_coupon_stock(template_id, n).await? {
        return Err(conflict(
            "out_of_stock",
            format!("template {template_id} has not enough stock left"),
        ));
    }
    let mut taken = std::collections::HashSet::new();
    let mut codes: Vec<String> = Vec::with_capacity(req.count);
    for _round in 0..8 {
        let want = req.count - codes.len();
        if want == 0 {
            break;
        }
        let drawn = pattern.generate(want, &taken, rand::random::<u64>);
        let rows: Vec<CouponRow> = drawn
            .iter()
            .map(|code| CouponRow {
                id: new_id(COUPON),
                template_id: template_id.to_owned(),
                member_id: None,
                code: Some(code.clone()),
                status: CouponStatus::Issued.as_str().into(),
                source: "code".into(),
                valid_from: None,
                valid_to: None,
                issued_at: now,
                claimed_at: None,
                order_id: None,
                updated_at: now,
            })
            .collect();
        let inserted: std::collections::HashSet<String> =
            tx.insert_coupon_codes(&rows).await?.into_iter().collect();
        for r in rows {
            if let Some(code) = r.code {
                if inserted.contains(&r.id) {
                    codes.push(code);
                } else {
                    taken.insert(code);
                }
            }
        }
    }
    if codes.len() < req.count {
        return Err(conflict(
            "pattern_exhausted",
            "could not draw enough unused codes; use a longer pattern",
        ));
    }
    tx.commit().await?;
    Ok(CodesOut {
        template_id: template_id.to_owned(),
        generated: codes.len(),
        codes,
    })
}

pub async fn void(store: &dyn Store, ws: &Workspace, coupon_id: &str) -> Result<CouponOut> {
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    let Some(mut c) = tx.tx_coupons(&[coupon_id]).await?.into_iter().next() else {
        return Err(AppError::NotFound { what: "coupon" });
    };
    let (from, to) = (CouponStatus::Issued.as_str(), CouponStatus::Void.as_str());
    if tx.move_coupons(&[coupon_id], from, to, now).await? == 0 {
        return Err(conflict(
            "not_voidable",
            format!("coupon is {}; only issued coupons can be voided", c.status),
        ));
    }
    tx.commit().await?;
    c.status = CouponStatus::Void.as_str().into();
    Ok(CouponOut::from(&c))
}

/// A member's coupons, oldest first.
pub async fn member_coupons(
    store: &dyn Store,
    ws: &Workspace,
    member: &str,
) -> Result<Vec<CouponOut>> {
    let m = crate::members::get(store, ws, member).await?;
    Ok(store
        .member_coupons(&ws.id, &m.id)
        .await?
        .iter()
        .map(CouponOut::from)
        .collect())
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<CouponOut> {
    store
        .coupon(&ws.id, id)
        .await?
        .as_ref()
        .map(CouponOut::from)
        .ok_or(AppError::NotFound { what: "coupon" })
}

/// Members per transaction when issuing to a segment.
pub const SEGMENT_BATCH: usize = 1_000;

/// Issue a template or a gift pack to every member of a saved segment.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SegmentIssueIn {
    pub segment_id: String,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub pack_id: Option<String>,
    /// Coupons of the template per member (ignored for packs).
    #[serde(default = "one")]
    pub quantity: i64,
    /// Required: the same key again returns the first run's answer; a run that stopped
    /// half-way resumes and skips the members it already handled.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentIssueOut {
    pub segment_id: String,
    pub template_id: Option<String>,
    pub pack_id: Option<String>,
    /// Members of the segment handled by this key (all runs together).
    pub members: i64,
    /// Members who got their coupons (the whole pack, or `quantity` of the template).
    pub members_issued: i64,
    pub coupons_issued: i64,
    /// Members skipped because they hold the template's per-member limit already.
    pub skipped_limit_reached: i64,
    /// Members skipped because the stock ran out.
    pub skipped_out_of_stock: i64,
}

/// Issues to every member of a saved segment (as it is now), [`SEGMENT_BATCH`] members per
/// transaction. Unlike a list, a segment is not all-or-nothing: members at a per-member
/// limit are skipped, and once the stock runs out the rest are skipped, each counted. Each
/// handled member is recorded under the key, so a retry never issues twice.
pub async fn issue_to_segment(
    store: &dyn Store,
    cache: &crate::segments::IndexCache,
    ws: &Workspace,
    req: SegmentIssueIn,
) -> Result<SegmentIssueOut> {
    if !(1..=100).contains(&req.quantity) {
        return Err(Invalid::one(&["quantity"], "out_of_range", "quantity must be 1–100").into());
    }
    let k = req.idempotency_key.trim();
    if k.is_empty() || k.len() > 200 {
        return Err(Invalid::one(
            &["idempotency_key"],
            "invalid_key",
            "idempotency_key must be 1–200 characters",
        )
        .into());
    }
    if req.template_id.is_some() == req.pack_id.is_some() {
        return Err(Invalid::one(
            &["template_id"],
            "one_required",
            "give exactly one of template_id and pack_id",
        )
        .into());
    }
    let key = format!("segment:{k}");
    {
        let mut tx = store.begin_write(&ws.id).await?;
        if let Some(saved) = tx.issue_key_result(&key).await? {
            let out: SegmentIssueOut =
                serde_json::from_str(&saved).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if out.segment_id != req.segment_id
                || out.template_id != req.template_id
                || out.pack_id != req.pack_id
            {
                return Err(conflict(
                    "key_reused",
                    format!("idempotency key {k} was used for another issue"),
                ));
            }
            return Ok(out);
        }
    }
    let now = now_millis();
    let (_, node) = crate::segments::saved::get(store, ws, &req.segment_id).await?;
    let members = crate::segments::saved::all_members(store, cache, ws, &node, now).await?;
    let all: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    for chunk in all.chunks(SEGMENT_BATCH) {
        let mut tx = store.begin_write(&ws.id).await?;
        let done: HashSet<String> = tx
            .issue_members_done(&key, chunk)
            .await?
            .into_iter()
            .collect();
        let todo: Vec<&str> = chunk
            .iter()
            .copied()
            .filter(|m| !done.contains(*m))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let (templates, grants) = plan_for(
            tx.as_mut(),
            req.template_id.as_deref(),
            req.pack_id.as_deref(),
            req.quantity,
            &todo,
        )
        .await?;
        if let Some(t) = templates.iter().find(|t| t.row.archived_at.is_some()) {
            return Err(conflict(
                "template_archived",
                format!("template {} is archived", t.row.id),
            ));
        }
        let limited: Vec<&str> = templates
            .iter()
            .filter(|t| t.spec.limits.per_member.is_some())
            .map(|t| t.row.id.as_str())
            .collect();
        let have = tx.members_template_counts(&todo, &limited).await?;
        let mut left: Vec<Option<i64>> = templates
            .iter()
            .map(|t| t.row.stock.map(|s| s - t.row.issued_count))
            .collect();
        let mut accepted: Vec<Grant> = Vec::with_capacity(grants.len());
        let mut handled: Vec<(String, &'static str, i64)> = Vec::with_capacity(todo.len());
        // `plan_for` lists each member's grants together, in member order.
        let mut i = 0;
        while i < grants.len() {
            let m = grants[i].member_id.clone();
            let mut j = i;
            while j < grants.len() && grants[j].member_id == m {
                j += 1;
            }
            let mine = &grants[i..j];
            i = j;
            let mut need = vec![0i64; templates.len()];
            for g in mine {
                need[g.template] += g.quantity;
            }
            let over_limit = templates.iter().zip(&need).any(|(t, n)| {
                *n > 0
                    && t.spec.limits.per_member.is_some_and(|max| {
                        have.get(&(m.clone(), t.row.id.clone()))
                            .copied()
                            .unwrap_or(0)
                            + n
                            > max
                    })
            });
            let outcome = if over_limit {
                "limit_reached"
            } else if left
                .iter()
                .zip(&need)
                .any(|(l, n)| l.is_some_and(|l| l < *n))
            {
                "out_of_stock"
            } else {
                for (l, n) in left.iter_mut().zip(&need) {
                    if let Some(l) = l {
                        *l -= n;
                    }
                }
                accepted.extend(mine.iter().cloned());
                "issued"
            };
            let coupons = if outcome == "issued" {
                need.iter().sum()
            } else {
                0
            };
            handled.push((m, outcome, coupons));
        }
        let source = if req.pack_id.is_some() {
            "pack"
        } else {
            "segment"
        };
        write_grants(tx.as_mut(), ws, &templates, &accepted, source, now).await?;
        tx.insert_issue_members(&key, &handled, now).await?;
        tx.commit().await?;
    }
    let mut tx = store.begin_write(&ws.id).await?;
    let summary = tx.issue_members_summary(&key).await?;
    let get = |o: &str| summary.get(o).copied().unwrap_or((0, 0));
    let out = SegmentIssueOut {
        segment_id: req.segment_id.clone(),
        template_id: req.template_id.clone(),
        pack_id: req.pack_id.clone(),
        members: summary.values().map(|(m, _)| m).sum(),
        members_issued: get("issued").0,
        coupons_issued: get("issued").1,
        skipped_limit_reached: get("limit_reached").0,
        skipped_out_of_stock: get("out_of_stock").0,
    };
    let text = serde_json::to_string(&out).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.save_issue_key(&key, &text, now).await?;
    tx.commit().await?;
    Ok(out)
}
