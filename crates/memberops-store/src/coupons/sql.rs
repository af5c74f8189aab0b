//! The coupon SQL, shared by both backends (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT … DO NOTHING`), stamped out per driver by `impl_coupons!`.

macro_rules! impl_coupons {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        mod coupons_impl {
            use std::collections::HashMap;

            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::{QueryBuilder, Row};

            // `prefix WHERE workspace_id = … AND column IN (…)`, shared with the core SQL.
            use super::{$Store, $Tx, in_list};
            use crate::coupons::*;
            use crate::error::Result;
            use crate::CHUNK;

            type DbRow = <$Db as sqlx::Database>::Row;

            fn template_from(r: &DbRow) -> Result<TemplateRow> {
                Ok(TemplateRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    spec: r.try_get("spec")?,
                    shared_code: r.try_get("shared_code")?,
                    stock: r.try_get("stock")?,
                    issued_count: r.try_get("issued_count")?,
                    budget_minor: r.try_get("budget_minor")?,
                    budget_used_minor: r.try_get("budget_used_minor")?,
                    archived_at: r.try_get("archived_at")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn coupon_from(r: &DbRow) -> Result<CouponRow> {
                Ok(CouponRow {
                    id: r.try_get("id")?,
                    template_id: r.try_get("template_id")?,
                    member_id: r.try_get("member_id")?,
                    code: r.try_get("code")?,
                    status: r.try_get("status")?,
                    source: r.try_get("source")?,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: r.try_get("valid_to")?,
                    issued_at: r.try_get("issued_at")?,
                    claimed_at: r.try_get("claimed_at")?,
                    order_id: r.try_get("order_id")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn order_from(r: &DbRow) -> Result<CouponOrderRow> {
                Ok(CouponOrderRow {
                    order_id: r.try_get("order_id")?,
                    member_id: r.try_get("member_id")?,
                    coupon_ids: r.try_get("coupon_ids")?,
                    result: r.try_get("result")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn redemption_from(r: &DbRow) -> Result<RedemptionRow> {
                Ok(RedemptionRow {
                    order_id: r.try_get("order_id")?,
                    coupon_id: r.try_get("coupon_id")?,
                    template_id: r.try_get("template_id")?,
                    member_id: r.try_get("member_id")?,
                    discount_minor: r.try_get("discount_minor")?,
                    status: r.try_get("status")?,
                    locked_at: r.try_get("locked_at")?,
                    paid_at: r.try_get("paid_at")?,
                    closed_at: r.try_get("closed_at")?,
                })
            }

            fn pack_from(r: &DbRow) -> Result<GiftPackRow> {
                Ok(GiftPackRow { id: r.try_get("id")?, name: r.try_get("name")?, items: r.try_get("items")?, created_at: r.try_get("created_at")? })
            }

            fn rule_from(r: &DbRow) -> Result<EventRuleRow> {
                Ok(EventRuleRow {
                    id: r.try_get("id")?,
                    event_type: r.try_get("event_type")?,
                    template_id: r.try_get("template_id")?,
                    pack_id: r.try_get("pack_id")?,
                    created_at: r.try_get("created_at")?,
                    archived_at: r.try_get("archived_at")?,
                    condition: r.try_get("condition")?,
                    since_seq: r.try_get("since_seq")?,
                    disabled_at: r.try_get("disabled_at")?,
                    issued_count: r.try_get("issued_count")?,
                    skipped_count: r.try_get("skipped_count")?,
                    last_skip_code: r.try_get("last_skip_code")?,
                    last_skip_at: r.try_get("last_skip_at")?,
                })
            }

            fn link_from(r: &DbRow) -> Result<ShareLinkRow> {
                Ok(ShareLinkRow {
                    id: r.try_get("id")?,
                    template_id: r.try_get("template_id")?,
                    sharer_id: r.try_get("sharer_id")?,
                    claims: r.try_get("claims")?,
                    conversions: r.try_get("conversions")?,
                    rewards: r.try_get("rewards")?,
                    created_at: r.try_get("created_at")?,
                })
            }

            fn claim_from(r: &DbRow) -> Result<ShareClaimRow> {
                Ok(ShareClaimRow {
                    link_id: r.try_get("link_id")?,
                    template_id: r.try_get("template_id")?,
                    claimant_id: r.try_get("claimant_id")?,
                    coupon_id: r.try_get("coupon_id")?,
                    claimed_at: r.try_get("claimed_at")?,
                    converted_order_id: r.try_get("converted_order_id")?,
                    converted_at: r.try_get("converted_at")?,
                })
            }

            /// `SELECT … FROM table WHERE workspace_id = ws AND column IN (items)`.
            fn push_coupon_values(q: &mut QueryBuilder<$Db>, ws: &str, rows: &[CouponRow]) {
                q.push_values(rows, |mut b, c| {
                    b.push_bind(ws.to_owned())
                        .push_bind(c.id.clone())
                        .push_bind(c.template_id.clone())
                        .push_bind(c.member_id.clone())
                        .push_bind(c.code.clone())
                        .push_bind(c.status.clone())
                        .push_bind(c.source.clone())
                        .push_bind(c.valid_from)
                        .push_bind(c.valid_to)
                        .push_bind(c.issued_at)
                        .push_bind(c.claimed_at)
                        .push_bind(c.order_id.clone())
                        .push_bind(c.updated_at);
                });
            }

            const COUPON_INSERT: &str = "INSERT INTO coupons (workspace_id, id, template_id, member_id, code, status, source, \
                 valid_from, valid_to, issued_at, claimed_at, order_id, updated_at) ";

            #[async_trait]
            impl CouponsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn checkout_coupons(&self, ws: &str, external_id: &str) -> Result<Option<CheckoutCoupons>> {
                    let rows = sqlx::query(
                        "SELECT m.id AS m_id, lm.tier AS m_tier, c.id, c.template_id, c.member_id, c.code, c.status, c.source, c.valid_from, \
                         c.valid_to, c.issued_at, c.claimed_at, c.order_id, c.updated_at, t.updated_at AS t_updated_at, \
                         t.budget_minor AS t_budget_minor, t.budget_used_minor AS t_budget_used_minor \
                         FROM members m \
                         LEFT JOIN loyalty_members lm ON lm.workspace_id = m.workspace_id AND lm.member_id = m.id \
                         LEFT JOIN coupons c ON c.workspace_id = m.workspace_id AND c.member_id = m.id \
                         LEFT JOIN coupon_templates t ON t.workspace_id = c.workspace_id AND t.id = c.template_id \
                         WHERE m.workspace_id = $1 AND m.external_id = $2 ORDER BY c.id",
                    )
                    .bind(ws)
                    .bind(external_id)
                    .fetch_all(self.reader())
                    .await?;
                    let Some(first) = rows.first() else {
                        return Ok(None);
                    };
                    let mut out = CheckoutCoupons {
                        member_id: first.try_get("m_id")?,
                        tier: first.try_get("m_tier")?,
                        coupons: Vec::with_capacity(rows.len()),
                    };
                    for r in &rows {
                        let coupon: Option<String> = r.try_get("id")?;
                        let updated: Option<Millis> = r.try_get("t_updated_at")?;
                        let (Some(_), Some(updated_at)) = (coupon, updated) else {
                            continue;
                        };
                        let state = TemplateState {
                            updated_at,
                            budget_minor: r.try_get("t_budget_minor")?,
                            budget_used_minor: r.try_get("t_budget_used_minor")?,
                        };
                        out.coupons.push((coupon_from(r)?, state));
                    }
                    Ok(Some(out))
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_template(&self, ws: &str, id: &str) -> Result<Option<TemplateRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_templates WHERE workspace_id = $1 AND id = $2")
                        .bind(ws)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?;
                    r.as_ref().map(template_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_templates(&self, ws: &str) -> Result<Vec<TemplateRow>> {
                    let rows = sqlx::query("SELECT * FROM coupon_templates WHERE workspace_id = $1 ORDER BY id")
                        .bind(ws)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(template_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_templates_by_ids(&self, ws: &str, ids: &[&str]) -> Result<Vec<TemplateRow>> {
                    let mut out = Vec::new();
                    for chunk in ids.chunks(CHUNK) {
                        let rows = in_list("SELECT * FROM coupon_templates", ws, "id", chunk).build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(self.reader()).await?;
                        for r in &rows {
                            out.push(template_from(r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_coupons(&self, ws: &str, member_id: &str) -> Result<Vec<CouponRow>> {
                    let rows = sqlx::query("SELECT * FROM coupons WHERE workspace_id = $1 AND member_id = $2 ORDER BY id")
                        .bind(ws)
                        .bind(member_id)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(coupon_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon(&self, ws: &str, id: &str) -> Result<Option<CouponRow>> {
                    let r = sqlx::query("SELECT * FROM coupons WHERE workspace_id = $1 AND id = $2")
                        .bind(ws)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?;
                    r.as_ref().map(coupon_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_order(&self, ws: &str, order_id: &str) -> Result<Option<CouponOrderRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_orders WHERE workspace_id = $1 AND order_id = $2")
                        .bind(ws)
                        .bind(order_id)
                        .fetch_optional(self.reader())
                        .await?;
                    r.as_ref().map(order_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn gift_packs(&self, ws: &str) -> Result<Vec<GiftPackRow>> {
                    let rows = sqlx::query("SELECT * FROM coupon_gift_packs WHERE workspace_id = $1 ORDER BY id")
                        .bind(ws)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(pack_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_event_rules(&self, ws: &str) -> Result<Vec<EventRuleRow>> {
                    let rows = sqlx::query("SELECT * FROM coupon_event_rules WHERE workspace_id = $1 ORDER BY id")
                        .bind(ws)
                        .fetch_all(self.reader())
                        .await?;
                    rows.iter().map(rule_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn share_link(&self, ws: &str, id: &str) -> Result<Option<ShareLinkRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_share_links WHERE workspace_id = $1 AND id = $2")
                        .bind(ws)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?;
                    r.as_ref().map(link_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn template_counts(&self, ws: &str, template_id: &str, now: Millis) -> Result<TemplateCounts> {
                    let rows = sqlx::query(
                        "SELECT source, status, CAST(CASE WHEN member_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS owned, \
                         CAST(COUNT(*) AS BIGINT) AS n, \
                         CAST(SUM(CASE WHEN status = 'issued' AND valid_to IS NOT NULL AND valid_to <= $3 THEN 1 ELSE 0 END) AS BIGINT) AS overdue \
                         FROM coupons WHERE workspace_id = $1 AND template_id = $2 \
                         GROUP BY source, status, CASE WHEN member_id IS NULL THEN 0 ELSE 1 END",
                    )
                    .bind(ws)
                    .bind(template_id)
                    .bind(now)
                    .fetch_all(self.reader())
                    .await?;
                    let mut out = TemplateCounts::default();
                    for r in &rows {
                        let owned: i64 = r.try_get("owned")?;
                        out.groups.push((r.try_get("source")?, r.try_get("status")?, owned == 1, r.try_get("n")?, r.try_get("overdue")?));
                    }
                    let r = sqlx::query(
                        "SELECT CAST(COALESCE(SUM(discount_minor), 0) AS BIGINT) AS d, CAST(COUNT(DISTINCT order_id) AS BIGINT) AS n \
                         FROM coupon_redemptions WHERE workspace_id = $1 AND template_id = $2 AND status = 'redeemed'",
                    )
                    .bind(ws)
                    .bind(template_id)
                    .fetch_one(self.reader())
                    .await?;
                    out.discount_minor = r.try_get("d")?;
                    out.orders = r.try_get("n")?;
                    out.revenue_minor = sqlx::query_scalar(
                        "SELECT CAST(COALESCE(SUM(amount_minor - refunded_minor), 0) AS BIGINT) FROM orders \
                         WHERE workspace_id = $1 AND order_id IN (SELECT order_id FROM coupon_redemptions \
                         WHERE workspace_id = $1 AND template_id = $2 AND status = 'redeemed')",
                    )
                    .bind(ws)
                    .bind(template_id)
                    .fetch_one(self.reader())
                    .await?;
                    Ok(out)
                }
            }

            impl $Tx {
                /// Whether `sql` (a `SELECT 1 … WHERE workspace_id = $1 LIMIT 1` on a table keyed
                /// by workspace first, so one index probe) finds a row.
                #[tracing::instrument(level = "debug", skip_all)]
                async fn any_row(&mut self, sql: &'static str) -> Result<bool> {
                    let found: Option<i32> = sqlx::query_scalar(sql)
                        .bind(&self.ws)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    Ok(found.is_some())
                }
            }

            crate::coupons::impl_coupons_tx!($Tx, $Db);
        }
    };
}

pub(crate) use impl_coupons;
