//! The coupon writes inside a workspace transaction ([`CouponsTx`]), stamped out per
//! driver inside `impl_coupons!`'s module, whose row readers they share.

macro_rules! impl_coupons_tx {
    ($Tx:ident, $Db:ty) => {
            #[async_trait]
            impl CouponsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn expire_due_coupons(&mut self, now: Millis, limit: i64) -> Result<Vec<(String, String)>> {
                    // Every due coupon of the members the first `limit` due coupons name, so
                    // that one batch holds all of a member's coupons due by `now`.
                    let rows = sqlx::query(
                        "UPDATE coupons SET status = 'expired', updated_at = $2 WHERE workspace_id = $1 \
                         AND status = 'issued' AND valid_to <= $2 AND member_id IN \
                         (SELECT member_id FROM coupons WHERE workspace_id = $1 AND status = 'issued' AND valid_to <= $2 \
                          AND member_id IS NOT NULL ORDER BY valid_to LIMIT $3) RETURNING id, member_id",
                    )
                    .bind(&self.ws)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn members_template_counts(
                    &mut self,
                    member_ids: &[&str],
                    template_ids: &[&str],
                ) -> Result<HashMap<(String, String), i64>> {
                    let mut out = HashMap::new();
                    if template_ids.is_empty() {
                        return Ok(out);
                    }
                    for chunk in member_ids.chunks(CHUNK / 2) {
                        let mut q = in_list(
                            "SELECT member_id, template_id, CAST(COUNT(*) AS BIGINT) AS n FROM coupons",
                            &self.ws,
                            "member_id",
                            chunk,
                        );
                        q.push(" AND template_id IN (");
                        let mut sep = q.separated(", ");
                        for t in template_ids {
                            sep.push_bind((*t).to_owned());
                        }
                        q.push(") GROUP BY member_id, template_id");
                        for r in q.build().persistent(crate::reusable(chunk.len(), CHUNK / 2)).fetch_all(&mut *self.tx).await? {
                            out.insert((r.try_get("member_id")?, r.try_get("template_id")?), r.try_get("n")?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn issue_members_done(&mut self, key: &str, member_ids: &[&str]) -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = in_list("SELECT member_id FROM coupon_issue_members", &self.ws, "member_id", chunk);
                        q.push(" AND issue_key = ").push_bind(key.to_owned());
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(r.try_get("member_id")?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_issue_members(
                    &mut self,
                    key: &str,
                    rows: &[(String, &'static str, i64)],
                    at: Millis,
                ) -> Result<()> {
                    for chunk in rows.chunks(CHUNK / 6) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO coupon_issue_members (workspace_id, issue_key, member_id, outcome, coupons, created_at) ",
                        );
                        q.push_values(chunk, |mut b, (m, outcome, n)| {
                            b.push_bind(self.ws.clone())
                                .push_bind(key.to_owned())
                                .push_bind(m.clone())
                                .push_bind(*outcome)
                                .push_bind(*n)
                                .push_bind(at);
                        });
                        q.build().persistent(crate::reusable(chunk.len(), CHUNK / 6)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn issue_members_summary(&mut self, key: &str) -> Result<HashMap<String, (i64, i64)>> {
                    let rows = sqlx::query(
                        "SELECT outcome, CAST(COUNT(*) AS BIGINT) AS members, CAST(COALESCE(SUM(coupons), 0) AS BIGINT) AS coupons \
                         FROM coupon_issue_members WHERE workspace_id = $1 AND issue_key = $2 GROUP BY outcome",
                    )
                    .bind(&self.ws)
                    .bind(key)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    let mut out = HashMap::new();
                    for r in &rows {
                        out.insert(r.try_get("outcome")?, (r.try_get("members")?, r.try_get("coupons")?));
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_coupon_template(&mut self, t: &TemplateRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_templates (workspace_id, id, name, kind, spec, shared_code, stock, issued_count, \
                         budget_minor, budget_used_minor, archived_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    )
                    .bind(&self.ws)
                    .bind(&t.id)
                    .bind(&t.name)
                    .bind(&t.kind)
                    .bind(&t.spec)
                    .bind(&t.shared_code)
                    .bind(t.stock)
                    .bind(t.issued_count)
                    .bind(t.budget_minor)
                    .bind(t.budget_used_minor)
                    .bind(t.archived_at)
                    .bind(t.created_at)
                    .bind(t.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_coupon_template(&mut self, t: &TemplateRow) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE coupon_templates SET name = $1, kind = $2, spec = $3, shared_code = $4, stock = $5, \
                         budget_minor = $6, archived_at = $7, updated_at = $8 WHERE workspace_id = $9 AND id = $10",
                    )
                    .bind(&t.name)
                    .bind(&t.kind)
                    .bind(&t.spec)
                    .bind(&t.shared_code)
                    .bind(t.stock)
                    .bind(t.budget_minor)
                    .bind(t.archived_at)
                    .bind(t.updated_at)
                    .bind(&self.ws)
                    .bind(&t.id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_coupon_templates(&mut self, ids: &[&str]) -> Result<Vec<TemplateRow>> {
                    let mut out = Vec::new();
                    for chunk in ids.chunks(CHUNK) {
                        let rows = in_list("SELECT * FROM coupon_templates", &self.ws, "id", chunk).build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await?;
                        for r in &rows {
                            out.push(template_from(r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn template_by_shared_code(&mut self, code: &str) -> Result<Option<TemplateRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_templates WHERE workspace_id = $1 AND shared_code = $2")
                        .bind(&self.ws)
                        .bind(code)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(template_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn take_coupon_stock(&mut self, template_id: &str, n: i64) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE coupon_templates SET issued_count = issued_count + $1 \
                         WHERE workspace_id = $2 AND id = $3 AND (stock IS NULL OR issued_count + $1 <= stock)",
                    )
                    .bind(n)
                    .bind(&self.ws)
                    .bind(template_id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn spend_coupon_budget(&mut self, template_id: &str, minor: i64) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE coupon_templates SET budget_used_minor = budget_used_minor + $1 \
                         WHERE workspace_id = $2 AND id = $3 AND (budget_minor IS NULL OR budget_used_minor + $1 <= budget_minor)",
                    )
                    .bind(minor)
                    .bind(&self.ws)
                    .bind(template_id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_coupons(&mut self, rows: &[CouponRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(COUPON_INSERT);
                        push_coupon_values(&mut q, &self.ws, chunk);
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_coupon_codes(&mut self, rows: &[CouponRow]) -> Result<Vec<String>> {
                    let mut out = Vec::with_capacity(rows.len());
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(COUPON_INSERT);
                        push_coupon_values(&mut q, &self.ws, chunk);
                        q.push(" ON CONFLICT (workspace_id, code) DO NOTHING RETURNING id");
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(r.try_get("id")?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_template_counts(&mut self, member_id: &str, template_ids: &[&str]) -> Result<HashMap<String, i64>> {
                    let mut out = HashMap::new();
                    for chunk in template_ids.chunks(CHUNK) {
                        let mut q = in_list(
                            "SELECT template_id, CAST(COUNT(*) AS BIGINT) AS n FROM coupons",
                            &self.ws,
                            "template_id",
                            chunk,
                        );
                        q.push(" AND member_id = ").push_bind(member_id.to_owned()).push(" GROUP BY template_id");
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.insert(r.try_get("template_id")?, r.try_get("n")?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_member_coupons(&mut self, member_id: &str) -> Result<Vec<CouponRow>> {
                    let rows = sqlx::query("SELECT * FROM coupons WHERE workspace_id = $1 AND member_id = $2 ORDER BY id")
                        .bind(&self.ws)
                        .bind(member_id)
                        .fetch_all(&mut *self.tx)
                        .await?;
                    rows.iter().map(coupon_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_coupons(&mut self, ids: &[&str]) -> Result<Vec<CouponRow>> {
                    let mut out = Vec::new();
                    for chunk in ids.chunks(CHUNK) {
                        let rows = in_list("SELECT * FROM coupons", &self.ws, "id", chunk).build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await?;
                        for r in &rows {
                            out.push(coupon_from(r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn coupon_by_code(&mut self, code: &str) -> Result<Option<CouponRow>> {
                    let r = sqlx::query("SELECT * FROM coupons WHERE workspace_id = $1 AND code = $2")
                        .bind(&self.ws)
                        .bind(code)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(coupon_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn claim_coupon_code(&mut self, id: &str, member_id: &str, from: Millis, to: Millis, at: Millis) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE coupons SET member_id = $1, valid_from = $2, valid_to = $3, claimed_at = $4, updated_at = $4 \
                         WHERE workspace_id = $5 AND id = $6 AND member_id IS NULL AND status = 'issued'",
                    )
                    .bind(member_id)
                    .bind(from)
                    .bind(to)
                    .bind(at)
                    .bind(&self.ws)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn lock_coupon(&mut self, id: &str, member_id: &str, order_id: &str, at: Millis) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE coupons SET status = 'locked', order_id = $1, updated_at = $2 \
                         WHERE workspace_id = $3 AND id = $4 AND member_id = $5 AND status = 'issued'",
                    )
                    .bind(order_id)
                    .bind(at)
                    .bind(&self.ws)
                    .bind(id)
                    .bind(member_id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn move_coupons(&mut self, ids: &[&str], from: &str, to: &str, at: Millis) -> Result<u64> {
                    let mut moved = 0;
                    for chunk in ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("UPDATE coupons SET status = ");
                        q.push_bind(to.to_owned()).push(", updated_at = ").push_bind(at);
                        if to == "issued" {
                            q.push(", order_id = NULL");
                        }
                        q.push(" WHERE workspace_id = ").push_bind(self.ws.clone());
                        q.push(" AND status = ").push_bind(from.to_owned());
                        q.push(" AND id IN (");
                        let mut sep = q.separated(", ");
                        for id in chunk {
                            sep.push_bind((*id).to_owned());
                        }
                        q.push(")");
                        moved += q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?.rows_affected();
                    }
                    Ok(moved)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_coupon_order(&mut self, o: &CouponOrderRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_orders (workspace_id, order_id, member_id, coupon_ids, result, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&self.ws)
                    .bind(&o.order_id)
                    .bind(&o.member_id)
                    .bind(&o.coupon_ids)
                    .bind(&o.result)
                    .bind(&o.status)
                    .bind(o.created_at)
                    .bind(o.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_coupon_order(&mut self, order_id: &str) -> Result<Option<CouponOrderRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_orders WHERE workspace_id = $1 AND order_id = $2")
                        .bind(&self.ws)
                        .bind(order_id)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(order_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn orders_with_coupons(&mut self, order_ids: &[&str]) -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    // Every order event asks; one probe spares a workspace without coupon
                    // orders the long IN lists.
                    if order_ids.is_empty() || !self.any_row("SELECT 1 FROM coupon_orders WHERE workspace_id = $1 LIMIT 1").await? {
                        return Ok(out);
                    }
                    for chunk in order_ids.chunks(CHUNK) {
                        let rows = in_list("SELECT order_id FROM coupon_orders", &self.ws, "order_id", chunk)
                            .build().persistent(crate::reusable(chunk.len(), crate::CHUNK))
                            .fetch_all(&mut *self.tx)
                            .await?;
                        for r in rows {
                            out.push(r.try_get(0)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_coupon_order_status(&mut self, order_id: &str, status: &str, at: Millis) -> Result<()> {
                    sqlx::query("UPDATE coupon_orders SET status = $1, updated_at = $2 WHERE workspace_id = $3 AND order_id = $4")
                        .bind(status)
                        .bind(at)
                        .bind(&self.ws)
                        .bind(order_id)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_redemptions(&mut self, rows: &[RedemptionRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO coupon_redemptions (workspace_id, order_id, coupon_id, template_id, member_id, \
                             discount_minor, status, locked_at, paid_at, closed_at) ",
                        );
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.order_id.clone())
                                .push_bind(r.coupon_id.clone())
                                .push_bind(r.template_id.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.discount_minor)
                                .push_bind(r.status.clone())
                                .push_bind(r.locked_at)
                                .push_bind(r.paid_at)
                                .push_bind(r.closed_at);
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn order_redemptions(&mut self, order_id: &str) -> Result<Vec<RedemptionRow>> {
                    let rows = sqlx::query("SELECT * FROM coupon_redemptions WHERE workspace_id = $1 AND order_id = $2 ORDER BY coupon_id")
                        .bind(&self.ws)
                        .bind(order_id)
                        .fetch_all(&mut *self.tx)
                        .await?;
                    rows.iter().map(redemption_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_redemption_status(&mut self, order_id: &str, coupon_id: &str, from: &str, to: &str, paid: bool, at: Millis) -> Result<bool> {
                    let column = if paid { "paid_at" } else { "closed_at" };
                    let sql = format!(
                        "UPDATE coupon_redemptions SET status = $1, {column} = $2 \
                         WHERE workspace_id = $3 AND order_id = $4 AND coupon_id = $5 AND status = $6"
                    );
                    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(to)
                        .bind(at)
                        .bind(&self.ws)
                        .bind(order_id)
                        .bind(coupon_id)
                        .bind(from)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn issue_key_result(&mut self, key: &str) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar("SELECT result FROM coupon_issue_keys WHERE workspace_id = $1 AND key = $2")
                        .bind(&self.ws)
                        .bind(key)
                        .fetch_optional(&mut *self.tx)
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn save_issue_key(&mut self, key: &str, result: &str, at: Millis) -> Result<()> {
                    sqlx::query("INSERT INTO coupon_issue_keys (workspace_id, key, result, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&self.ws)
                        .bind(key)
                        .bind(result)
                        .bind(at)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_gift_pack(&mut self, p: &GiftPackRow) -> Result<()> {
                    sqlx::query("INSERT INTO coupon_gift_packs (workspace_id, id, name, items, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&self.ws)
                        .bind(&p.id)
                        .bind(&p.name)
                        .bind(&p.items)
                        .bind(p.created_at)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_gift_pack(&mut self, id: &str) -> Result<Option<GiftPackRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_gift_packs WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(pack_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_event_rule(&mut self, r: &EventRuleRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_event_rules (workspace_id, id, event_type, template_id, pack_id, created_at, \
                         archived_at, condition, since_seq, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&self.ws)
                    .bind(&r.id)
                    .bind(&r.event_type)
                    .bind(&r.template_id)
                    .bind(&r.pack_id)
                    .bind(r.created_at)
                    .bind(r.archived_at)
                    .bind(&r.condition)
                    .bind(r.since_seq)
                    .bind(r.disabled_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn event_rules_for(&mut self, types: &[&str]) -> Result<Vec<EventRuleRow>> {
                    let mut out = Vec::new();
                    for chunk in types.chunks(CHUNK) {
                        let mut q = in_list("SELECT * FROM coupon_event_rules", &self.ws, "event_type", chunk);
                        q.push(" AND archived_at IS NULL ORDER BY id");
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(rule_from(&r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_event_rule(&mut self, id: &str) -> Result<Option<EventRuleRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_event_rules WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(rule_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_event_rule_state(
                    &mut self,
                    id: &str,
                    disabled_at: Option<Millis>,
                    archived_at: Option<Millis>,
                ) -> Result<()> {
                    sqlx::query("UPDATE coupon_event_rules SET disabled_at = $3, archived_at = $4 WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .bind(disabled_at)
                        .bind(archived_at)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn record_rule_fire(
                    &mut self,
                    rule_id: &str,
                    event_id: &str,
                    member_id: &str,
                    outcome: &str,
                    at: Millis,
                ) -> Result<bool> {
                    let r = sqlx::query(
                        "INSERT INTO coupon_rule_fires (workspace_id, rule_id, event_id, member_id, outcome, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, rule_id, event_id) DO NOTHING",
                    )
                    .bind(&self.ws)
                    .bind(rule_id)
                    .bind(event_id)
                    .bind(member_id)
                    .bind(outcome)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn count_rule_outcome(
                    &mut self,
                    rule_id: &str,
                    event_id: &str,
                    skip_code: Option<&str>,
                    at: Millis,
                ) -> Result<()> {
                    let q = match skip_code {
                        None => sqlx::query(
                            "UPDATE coupon_event_rules SET issued_count = issued_count + 1 \
                             WHERE workspace_id = $1 AND id = $2",
                        )
                        .bind(&self.ws)
                        .bind(rule_id),
                        Some(code) => {
                            sqlx::query(
                                "UPDATE coupon_rule_fires SET outcome = $4 \
                                 WHERE workspace_id = $1 AND rule_id = $2 AND event_id = $3",
                            )
                            .bind(&self.ws)
                            .bind(rule_id)
                            .bind(event_id)
                            .bind(code)
                            .execute(&mut *self.tx)
                            .await?;
                            sqlx::query(
                            "UPDATE coupon_event_rules SET skipped_count = skipped_count + 1, last_skip_code = $3, \
                             last_skip_at = $4 WHERE workspace_id = $1 AND id = $2",
                        )
                        .bind(&self.ws)
                        .bind(rule_id)
                        .bind(code)
                        .bind(at)
                        }
                    };
                    q.execute(&mut *self.tx).await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn share_link_of(&mut self, template_id: &str, sharer_id: &str) -> Result<Option<ShareLinkRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_share_links WHERE workspace_id = $1 AND template_id = $2 AND sharer_id = $3")
                        .bind(&self.ws)
                        .bind(template_id)
                        .bind(sharer_id)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(link_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn tx_share_link(&mut self, id: &str) -> Result<Option<ShareLinkRow>> {
                    let r = sqlx::query("SELECT * FROM coupon_share_links WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.as_ref().map(link_from).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_share_link(&mut self, l: &ShareLinkRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_share_links (workspace_id, id, template_id, sharer_id, claims, conversions, rewards, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&self.ws)
                    .bind(&l.id)
                    .bind(&l.template_id)
                    .bind(&l.sharer_id)
                    .bind(l.claims)
                    .bind(l.conversions)
                    .bind(l.rewards)
                    .bind(l.created_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn bump_share_link(&mut self, id: &str, claims: i64, conversions: i64, rewards: i64) -> Result<()> {
                    sqlx::query(
                        "UPDATE coupon_share_links SET claims = claims + $1, conversions = conversions + $2, rewards = rewards + $3 \
                         WHERE workspace_id = $4 AND id = $5",
                    )
                    .bind(claims)
                    .bind(conversions)
                    .bind(rewards)
                    .bind(&self.ws)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_share_claim(&mut self, c: &ShareClaimRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_share_claims (workspace_id, link_id, template_id, claimant_id, coupon_id, claimed_at, \
                         converted_order_id, converted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&self.ws)
                    .bind(&c.link_id)
                    .bind(&c.template_id)
                    .bind(&c.claimant_id)
                    .bind(&c.coupon_id)
                    .bind(c.claimed_at)
                    .bind(&c.converted_order_id)
                    .bind(c.converted_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn count_share_claims(&mut self, template_id: &str, claimant_id: &str) -> Result<i64> {
                    Ok(sqlx::query_scalar(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM coupon_share_claims WHERE workspace_id = $1 AND template_id = $2 AND claimant_id = $3",
                    )
                    .bind(&self.ws)
                    .bind(template_id)
                    .bind(claimant_id)
                    .fetch_one(&mut *self.tx)
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn open_share_claims(&mut self, claimant_id: &str) -> Result<Vec<ShareClaimRow>> {
                    let rows = sqlx::query(
                        "SELECT * FROM coupon_share_claims WHERE workspace_id = $1 AND claimant_id = $2 AND converted_at IS NULL ORDER BY claimed_at",
                    )
                    .bind(&self.ws)
                    .bind(claimant_id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                    rows.iter().map(claim_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn members_with_open_claims(&mut self, member_ids: &[&str]) -> Result<Vec<String>> {
                    let mut out = Vec::new();
                    if member_ids.is_empty() || !self.any_row("SELECT 1 FROM coupon_share_claims WHERE workspace_id = $1 AND converted_at IS NULL LIMIT 1").await? {
                        return Ok(out);
                    }
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = in_list("SELECT DISTINCT claimant_id FROM coupon_share_claims", &self.ws, "claimant_id", chunk);
                        q.push(" AND converted_at IS NULL");
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(r.try_get(0)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn convert_share_claim(&mut self, link_id: &str, claimant_id: &str, order_id: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "UPDATE coupon_share_claims SET converted_order_id = $1, converted_at = $2 \
                         WHERE workspace_id = $3 AND link_id = $4 AND claimant_id = $5 AND converted_at IS NULL",
                    )
                    .bind(order_id)
                    .bind(at)
                    .bind(&self.ws)
                    .bind(link_id)
                    .bind(claimant_id)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_reward(&mut self, r: &RewardRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO coupon_rewards (workspace_id, id, member_id, template_id, order_id, kind, points, coupon_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&self.ws)
                    .bind(&r.id)
                    .bind(&r.member_id)
                    .bind(&r.template_id)
                    .bind(&r.order_id)
                    .bind(&r.kind)
                    .bind(r.points)
                    .bind(&r.coupon_id)
                    .bind(r.created_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_order_count(&mut self, member_id: &str) -> Result<i64> {
                    // Member ids are unique across workspaces; a workspace term would lead
                    // SQLite to the (workspace_id, order_id) key and a walk over every order.
                    Ok(sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE member_id = $1")
                        .bind(member_id)
                        .fetch_one(&mut *self.tx)
                        .await?)
                }
            }
    };
}

pub(crate) use impl_coupons_tx;
