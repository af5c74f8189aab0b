//! Templates and gift packs: what operators configure (event rules: `rules`).

use memberops_core::id::new_id;
use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_core::{FieldError, Invalid};
use memberops_coupons::TemplateSpec;
use memberops_coupons::template::{Benefit, SpendReward};
use memberops_store::{GiftPackRow, Store, StoreError, TemplateRow};
use serde::{Deserialize, Serialize};

use super::{Loaded, PACK, TEMPLATE, conflict, load, templates_in_tx};
use crate::error::{AppError, Result};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateOut {
    pub id: String,
    #[serde(flatten)]
    pub spec: TemplateSpec,
    pub issued_count: i64,
    pub budget_used_minor: i64,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Loaded> for TemplateOut {
    fn from(t: Loaded) -> Self {
        TemplateOut {
            id: t.row.id,
            spec: t.spec,
            issued_count: t.row.issued_count,
            budget_used_minor: t.row.budget_used_minor,
            archived: t.row.archived_at.is_some(),
            created_at: millis_to_rfc3339(t.row.created_at),
            updated_at: millis_to_rfc3339(t.row.updated_at),
        }
    }
}

fn normalise(mut spec: TemplateSpec, ws: &Workspace) -> Result<TemplateSpec> {
    spec.name = spec.name.trim().to_owned();
    spec.shared_code = spec.shared_code.map(|c| c.trim().to_ascii_uppercase());
    spec.validate(ws.time_zone)?;
    Ok(spec)
}

/// Templates a spec refers to (follow-up coupons, share rewards) must exist.
async fn check_references(
    tx: &mut dyn memberops_store::WriteTx,
    spec: &TemplateSpec,
) -> Result<()> {
    let mut refs: Vec<(&str, Vec<&str>)> = Vec::new();
    if let Benefit::SpendReturn {
        reward: SpendReward::Coupon { template_id },
        ..
    } = &spec.benefit
    {
        refs.push((template_id, vec!["benefit", "reward", "template_id"]));
    }
    if let Some(s) = &spec.share {
        refs.push((&s.reward_template_id, vec!["share", "reward_template_id"]));
    }
    for (id, loc) in refs {
        if tx.tx_coupon_templates(&[id]).await?.is_empty() {
            return Err(Invalid::one(
                &loc,
                "template_not_found",
                format!("no coupon template `{id}`"),
            )
            .into());
        }
    }
    Ok(())
}

fn row(id: String, spec: &TemplateSpec, now: i64) -> Result<TemplateRow> {
    Ok(TemplateRow {
        id,
        name: spec.name.clone(),
        kind: spec.benefit.kind().to_owned(),
        spec: serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        shared_code: spec.shared_code.clone(),
        stock: spec.limits.stock,
        issued_count: 0,
        budget_minor: spec.limits.budget_minor,
        budget_used_minor: 0,
        archived_at: None,
        created_at: now,
        updated_at: now,
    })
}

fn code_taken(e: AppError, spec: &TemplateSpec) -> AppError {
    match e {
        AppError::Store(StoreError::Conflict(_)) => conflict(
            "code_taken",
            format!(
                "shared code `{}` is used by another template",
                spec.shared_code.as_deref().unwrap_or("")
            ),
        ),
        e => e,
    }
}

pub async fn create(store: &dyn Store, ws: &Workspace, spec: TemplateSpec) -> Result<TemplateOut> {
    let spec = normalise(spec, ws)?;
    let now = now_millis();
    let mut tx = store.begin_write(&ws.id).await?;
    check_references(tx.as_mut(), &spec).await?;
    let r = row(new_id(TEMPLATE), &spec, now)?;
    tx.insert_coupon_template(&r)
        .await
        .map_err(|e| code_taken(e.into(), &spec))?;
    tx.commit().await?;
    Ok(Loaded { row: r, spec }.into())
}

/// Replaces a template's rules. Coupons already issued keep their validity window.
pub async fn update(
    store: &dyn Store,
    ws: &Workspace,
    id: &str,
    spec: TemplateSpec,
) -> Result<TemplateOut> {
    let spec = normalise(spec, ws)?;
    let mut tx = store.begin_write(&ws.id).await?;
    let Some(old) = templates_in_tx(tx.as_mut(), &[id])
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    };
    check_references(tx.as_mut(), &spec).await?;
    if spec.limits.stock.is_some_and(|s| s < old.row.issued_count) {
        return Err(Invalid::one(
            &["limits", "stock"],
            "below_issued",
            format!("{} coupons are already issued", old.row.issued_count),
        )
        .into());
    }
    let mut r = row(id.to_owned(), &spec, now_millis())?;
    r.issued_count = old.row.issued_count;
    r.budget_used_minor = old.row.budget_used_minor;
    r.created_at = old.row.created_at;
    r.archived_at = old.row.archived_at;
    // `updated_at` is the version checkout caches parsed rules by: it must move on every
    // edit, even two in one millisecond.
    r.updated_at = r.updated_at.max(old.row.updated_at + 1);
    tx.update_coupon_template(&r)
        .await
        .map_err(|e| code_taken(e.into(), &spec))?;
    tx.commit().await?;
    Ok(Loaded { row: r, spec }.into())
}

/// Stops issuing; coupons already issued stay usable.
pub async fn archive(store: &dyn Store, ws: &Workspace, id: &str) -> Result<TemplateOut> {
    let mut tx = store.begin_write(&ws.id).await?;
    let Some(mut t) = templates_in_tx(tx.as_mut(), &[id])
        .await?
        .into_iter()
        .next()
    else {
        return Err(AppError::NotFound {
            what: "coupon template",
        });
    };
    let now = now_millis();
    t.row.archived_at.get_or_insert(now);
    t.row.updated_at = now.max(t.row.updated_at + 1);
    tx.update_coupon_template(&t.row).await?;
    tx.commit().await?;
    Ok(t.into())
}

pub async fn get(store: &dyn Store, ws: &Workspace, id: &str) -> Result<TemplateOut> {
    let row = store
        .coupon_template(&ws.id, id)
        .await?
        .ok_or(AppError::NotFound {
            what: "coupon template",
        })?;
    Ok(load(row)?.into())
}

pub async fn list(store: &dyn Store, ws: &Workspace) -> Result<Vec<TemplateOut>> {
    store
        .coupon_templates(&ws.id)
        .await?
        .into_iter()
        .map(|r| load(r).map(TemplateOut::from))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PackItem {
    pub template_id: String,
    #[serde(default = "one")]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PackIn {
    #[schema(example = "新人大礼包")]
    pub name: String,
    pub items: Vec<PackItem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PackOut {
    pub id: String,
    pub name: String,
    pub items: Vec<PackItem>,
    pub created_at: String,
}

pub(crate) fn pack_out(p: GiftPackRow) -> Result<PackOut> {
    let items: Vec<PackItem> = serde_json::from_str(&p.items)
        .map_err(|e| StoreError::Corrupt(format!("gift pack {}: {e}", p.id)))?;
    Ok(PackOut {
        id: p.id,
        name: p.name,
        items,
        created_at: millis_to_rfc3339(p.created_at),
    })
}

pub async fn create_pack(store: &dyn Store, ws: &Workspace, p: PackIn) -> Result<PackOut> {
    let mut errs = Vec::new();
    if p.name.trim().is_empty() || p.name.chars().count() > 100 {
        errs.push(FieldError::new(
            &["name"],
            "invalid_name",
            "name must be 1–100 characters",
        ));
    }
    if p.items.is_empty() || p.items.len() > 50 {
        errs.push(FieldError::new(
            &["items"],
            "invalid_items",
            "a pack holds 1–50 items",
        ));
    }
    for (i, it) in p.items.iter().enumerate() {
        if !(1..=100).contains(&it.quantity) {
            errs.push(FieldError::new(
                &["items", &i.to_string(), "quantity"],
                "out_of_range",
                "quantity must be 1–100",
            ));
        }
    }
    let mut tx = store.begin_write(&ws.id).await?;
    let ids: Vec<&str> = p.items.iter().map(|i| i.template_id.as_str()).collect();
    let found = tx.tx_coupon_templates(&ids).await?;
    for (i, it) in p.items.iter().enumerate() {
        if !found.iter().any(|t| t.id == it.template_id) {
            errs.push(FieldError::new(
                &["items", &i.to_string(), "template_id"],
                "template_not_found",
                format!("no coupon template `{}`", it.template_id),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(Invalid(errs).into());
    }
    let row = GiftPackRow {
        id: new_id(PACK),
        name: p.name.trim().to_owned(),
        items: serde_json::to_string(&p.items).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: now_millis(),
    };
    tx.insert_gift_pack(&row).await?;
    tx.commit().await?;
    pack_out(row)
}

pub async fn list_packs(store: &dyn Store, ws: &Workspace) -> Result<Vec<PackOut>> {
    store
        .gift_packs(&ws.id)
        .await?
        .into_iter()
        .map(pack_out)
        .collect()
}
