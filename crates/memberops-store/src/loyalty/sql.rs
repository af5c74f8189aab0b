//! The loyalty SQL, shared by both backends through the macro below.

/// Implements [`LoyaltyTx`] and [`LoyaltyStore`] for one backend, from the same SQL.
macro_rules! impl_loyalty {
    ($Store:ident, $Tx:ident, $Db:ty) => {
        mod loyalty_impl {
            use async_trait::async_trait;
            use memberops_core::time::Millis;
            use sqlx::{QueryBuilder, Row};

            use super::{$Store, $Tx};
            use crate::error::Result;
            use crate::loyalty::*;
            use crate::CHUNK;

            type Conn = <$Db as sqlx::Database>::Connection;
            type DbRow = <$Db as sqlx::Database>::Row;

            fn in_list(q: &mut QueryBuilder<$Db>, column: &str, items: &[&str]) {
                q.push(format!(" AND {column} IN ("));
                let mut sep = q.separated(", ");
                for it in items {
                    sep.push_bind((*it).to_owned());
                }
                q.push(")");
            }

            fn program_row(r: &DbRow) -> Result<ProgramRow> {
                Ok(ProgramRow {
                    version: r.try_get("version")?,
                    program: r.try_get("program")?,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                })
            }

            fn lm_row(r: &DbRow) -> Result<LoyaltyMemberRow> {
                Ok(LoyaltyMemberRow {
                    member_id: r.try_get("member_id")?,
                    time_zone: r.try_get("time_zone")?,
                    tier: r.try_get("tier")?,
                    tier_since: r.try_get("tier_since")?,
                    growth_total: r.try_get("growth_total")?,
                    points_balance: r.try_get("points_balance")?,
                    points_debt: r.try_get("points_debt")?,
                    sv_principal: r.try_get("sv_principal")?,
                    sv_bonus: r.try_get("sv_bonus")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }

            fn lot_row(r: &DbRow) -> Result<LotRow> {
                Ok(LotRow {
                    member_id: r.try_get("member_id")?,
                    id: r.try_get("id")?,
                    earned_at: r.try_get("earned_at")?,
                    available_at: r.try_get("available_at")?,
                    expires_at: r.try_get("expires_at")?,
                    original: r.try_get("original")?,
                    remaining: r.try_get("remaining")?,
                    order_id: r.try_get("order_id")?,
                })
            }

            fn pl_row(r: &DbRow) -> Result<PointsLine> {
                Ok(PointsLine {
                    seq: r.try_get("seq")?,
                    member_id: r.try_get("member_id")?,
                    kind: r.try_get("kind")?,
                    at: r.try_get("at")?,
                    points: r.try_get("points")?,
                    lot_id: r.try_get("lot_id")?,
                    lot_delta: r.try_get("lot_delta")?,
                    debt_delta: r.try_get("debt_delta")?,
                    event_id: r.try_get("event_id")?,
                    rule_id: r.try_get("rule_id")?,
                    order_id: r.try_get("order_id")?,
                    reason: r.try_get("reason")?,
                    actor: r.try_get("actor")?,
                })
            }

            fn gl_row(r: &DbRow) -> Result<GrowthLine> {
                Ok(GrowthLine {
                    seq: r.try_get("seq")?,
                    member_id: r.try_get("member_id")?,
                    at: r.try_get("at")?,
                    growth: r.try_get("growth")?,
                    kind: r.try_get("kind")?,
                    event_id: r.try_get("event_id")?,
                    rule_id: r.try_get("rule_id")?,
                    order_id: r.try_get("order_id")?,
                })
            }

            fn checkin_row(r: &DbRow) -> Result<CheckinRow> {
                Ok(CheckinRow {
                    member_id: r.try_get("member_id")?,
                    local_date: r.try_get("local_date")?,
                    at: r.try_get("at")?,
                    event_id: r.try_get("event_id")?,
                    streak: r.try_get("streak")?,
                })
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn q_program(c: &mut Conn, ws: &str) -> Result<Option<ProgramRow>> {
                let r = sqlx::query(
                    "SELECT version, program, created_at, created_by FROM loyalty_programs \
                     WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(ws)
                .fetch_optional(&mut *c)
                .await?;
                r.map(|r| program_row(&r)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn q_members(c: &mut Conn, ws: &str, ids: &[&str]) -> Result<Vec<LoyaltyMemberRow>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {LM_COLS} FROM loyalty_members WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    in_list(&mut q, "member_id", chunk);
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *c).await? {
                        out.push(lm_row(&r)?);
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn q_open_lots(c: &mut Conn, ws: &str, ids: &[&str]) -> Result<Vec<LotRow>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {LOT_COLS} FROM points_lots WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    in_list(&mut q, "member_id", chunk);
                    q.push(" AND remaining <> 0");
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *c).await? {
                        out.push(lot_row(&r)?);
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn q_growth_since(c: &mut Conn, ws: &str, ids: &[&str], since: Millis) -> Result<Vec<GrowthLine>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT seq, {GL_COLS} FROM growth_ledger WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    in_list(&mut q, "member_id", chunk);
                    q.push(" AND at >= ").push_bind(since);
                    q.push(" ORDER BY seq");
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *c).await? {
                        out.push(gl_row(&r)?);
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn q_last_checkins(c: &mut Conn, ws: &str, ids: &[&str]) -> Result<Vec<CheckinRow>> {
                let mut out = Vec::new();
                for chunk in ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT c.member_id, c.local_date, c.at, c.event_id, c.streak FROM checkins c \
                         JOIN (SELECT member_id, MAX(local_date) AS d FROM checkins WHERE workspace_id = ",
                    );
                    q.push_bind(ws.to_owned());
                    in_list(&mut q, "member_id", chunk);
                    q.push(" GROUP BY member_id) l ON l.member_id = c.member_id AND l.d = c.local_date");
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *c).await? {
                        out.push(checkin_row(&r)?);
                    }
                }
                Ok(out)
            }

            #[async_trait]
            impl LoyaltyTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_program(&mut self) -> Result<Option<ProgramRow>> {
                    q_program(&mut *self.tx, &self.ws).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_loyalty_program(&mut self, row: &ProgramRow) -> Result<()> {
                    sqlx::query("INSERT INTO loyalty_programs (workspace_id, version, program, created_at, created_by) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&self.ws)
                        .bind(row.version)
                        .bind(&row.program)
                        .bind(row.created_at)
                        .bind(&row.created_by)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_loyalty_audit(&mut self, row: &AuditRow) -> Result<()> {
                    sqlx::query("INSERT INTO loyalty_audit (workspace_id, at, actor, action, member_id, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(&self.ws)
                        .bind(row.at)
                        .bind(&row.actor)
                        .bind(&row.action)
                        .bind(&row.member_id)
                        .bind(&row.detail)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_members(&mut self, member_ids: &[&str]) -> Result<Vec<LoyaltyMemberRow>> {
                    q_members(&mut *self.tx, &self.ws, member_ids).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_member_page(&mut self, after: &str, limit: i64) -> Result<Vec<LoyaltyMemberRow>> {
                    let sql = format!("SELECT {LM_COLS} FROM loyalty_members WHERE workspace_id = $1 AND member_id > $2 ORDER BY member_id LIMIT $3");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&self.ws).bind(after).bind(limit).fetch_all(&mut *self.tx).await?;
                    rows.iter().map(lm_row).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_loyalty_members(&mut self, rows: &[LoyaltyMemberRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO loyalty_members ({LM_COLS}) "));
                        q.push_values(chunk, |mut b, m| {
                            b.push_bind(m.member_id.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(m.time_zone.clone())
                                .push_bind(m.tier.clone())
                                .push_bind(m.tier_since)
                                .push_bind(m.growth_total)
                                .push_bind(m.points_balance)
                                .push_bind(m.points_debt)
                                .push_bind(m.sv_principal)
                                .push_bind(m.sv_bonus)
                                .push_bind(m.updated_at);
                        });
                        q.push(
                            " ON CONFLICT (member_id) DO UPDATE SET time_zone = excluded.time_zone, tier = excluded.tier, tier_since = excluded.tier_since, \
                             growth_total = excluded.growth_total, points_balance = excluded.points_balance, \
                             points_debt = excluded.points_debt, sv_principal = excluded.sv_principal, \
                             sv_bonus = excluded.sv_bonus, updated_at = excluded.updated_at",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn open_lots(&mut self, member_ids: &[&str]) -> Result<Vec<LotRow>> {
                    q_open_lots(&mut *self.tx, &self.ws, member_ids).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn expired_lots(&mut self, at: Millis, after_member: &str, limit: i64) -> Result<Vec<LotRow>> {
                    let sql = format!(
                        "SELECT {LOT_COLS} FROM points_lots WHERE workspace_id = $1 AND remaining > 0 AND expires_at <= $2 \
                         AND member_id > $3 ORDER BY member_id, id LIMIT $4"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&self.ws)
                        .bind(at)
                        .bind(after_member)
                        .bind(limit)
                        .fetch_all(&mut *self.tx)
                        .await?;
                    rows.iter().map(lot_row).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_lots(&mut self, rows: &[LotRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO points_lots ({LOT_COLS}) "));
                        q.push_values(chunk, |mut b, l| {
                            b.push_bind(l.member_id.clone())
                                .push_bind(l.id.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(l.earned_at)
                                .push_bind(l.available_at)
                                .push_bind(l.expires_at)
                                .push_bind(l.original)
                                .push_bind(l.remaining)
                                .push_bind(l.order_id.clone());
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_lots(&mut self, rows: &[LotRow]) -> Result<()> {
                    for l in rows {
                        sqlx::query("UPDATE points_lots SET remaining = $1 WHERE member_id = $2 AND id = $3")
                            .bind(l.remaining)
                            .bind(&l.member_id)
                            .bind(&l.id)
                            .execute(&mut *self.tx)
                            .await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_points_lines(&mut self, rows: &[PointsLine]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO points_ledger ({PL_COLS}) "));
                        q.push_values(chunk, |mut b, e| {
                            b.push_bind(self.ws.clone())
                                .push_bind(e.member_id.clone())
                                .push_bind(e.kind.clone())
                                .push_bind(e.at)
                                .push_bind(e.points)
                                .push_bind(e.lot_id.clone())
                                .push_bind(e.lot_delta)
                                .push_bind(e.debt_delta)
                                .push_bind(e.event_id.clone())
                                .push_bind(e.rule_id.clone())
                                .push_bind(e.order_id.clone())
                                .push_bind(e.reason.clone())
                                .push_bind(e.actor.clone());
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_growth_lines(&mut self, rows: &[GrowthLine]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO growth_ledger ({GL_COLS}) "));
                        q.push_values(chunk, |mut b, e| {
                            b.push_bind(self.ws.clone())
                                .push_bind(e.member_id.clone())
                                .push_bind(e.at)
                                .push_bind(e.growth)
                                .push_bind(e.kind.clone())
                                .push_bind(e.event_id.clone())
                                .push_bind(e.rule_id.clone())
                                .push_bind(e.order_id.clone());
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn growth_since(&mut self, member_ids: &[&str], since: Millis) -> Result<Vec<GrowthLine>> {
                    q_growth_since(&mut *self.tx, &self.ws, member_ids, since).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_usage(&mut self, member_ids: &[&str], periods: &[&str]) -> Result<Vec<UsageRow>> {
                    let mut out = Vec::new();
                    if periods.is_empty() {
                        return Ok(out);
                    }
                    for chunk in member_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("SELECT member_id, rule_id, period, growth, points, count FROM loyalty_usage WHERE 1 = 1");
                        in_list(&mut q, "member_id", chunk);
                        in_list(&mut q, "period", periods);
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(UsageRow {
                                member_id: r.try_get(0)?,
                                rule_id: r.try_get(1)?,
                                period: r.try_get(2)?,
                                growth: r.try_get(3)?,
                                points: r.try_get(4)?,
                                count: r.try_get(5)?,
                            });
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_loyalty_usage(&mut self, rows: &[UsageRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO loyalty_usage (member_id, rule_id, period, growth, points, count) ");
                        q.push_values(chunk, |mut b, u| {
                            b.push_bind(u.member_id.clone())
                                .push_bind(u.rule_id.clone())
                                .push_bind(u.period.clone())
                                .push_bind(u.growth)
                                .push_bind(u.points)
                                .push_bind(u.count);
                        });
                        q.push(
                            " ON CONFLICT (member_id, rule_id, period) DO UPDATE SET growth = excluded.growth, \
                             points = excluded.points, count = excluded.count",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_orders(&mut self, order_ids: &[&str]) -> Result<Vec<LoyaltyOrderRow>> {
                    let mut out = Vec::new();
                    for chunk in order_ids.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT order_id, member_id, paid_minor, points_earned, growth_earned, points_reversed, growth_reversed \
                             FROM loyalty_orders WHERE workspace_id = ",
                        );
                        q.push_bind(self.ws.clone());
                        in_list(&mut q, "order_id", chunk);
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(LoyaltyOrderRow {
                                order_id: r.try_get(0)?,
                                member_id: r.try_get(1)?,
                                paid_minor: r.try_get(2)?,
                                points_earned: r.try_get(3)?,
                                growth_earned: r.try_get(4)?,
                                points_reversed: r.try_get(5)?,
                                growth_reversed: r.try_get(6)?,
                            });
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_loyalty_orders(&mut self, rows: &[LoyaltyOrderRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO loyalty_orders (workspace_id, order_id, member_id, paid_minor, points_earned, growth_earned, \
                             points_reversed, growth_reversed) ",
                        );
                        q.push_values(chunk, |mut b, o| {
                            b.push_bind(self.ws.clone())
                                .push_bind(o.order_id.clone())
                                .push_bind(o.member_id.clone())
                                .push_bind(o.paid_minor)
                                .push_bind(o.points_earned)
                                .push_bind(o.growth_earned)
                                .push_bind(o.points_reversed)
                                .push_bind(o.growth_reversed);
                        });
                        q.push(
                            " ON CONFLICT (workspace_id, order_id) DO UPDATE SET points_earned = excluded.points_earned, \
                             growth_earned = excluded.growth_earned, points_reversed = excluded.points_reversed, \
                             growth_reversed = excluded.growth_reversed",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_sv_lines(&mut self, rows: &[SvLine]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO stored_value_ledger (workspace_id, member_id, kind, at, principal_delta, bonus_delta, reference) ",
                        );
                        q.push_values(chunk, |mut b, e| {
                            b.push_bind(self.ws.clone())
                                .push_bind(e.member_id.clone())
                                .push_bind(e.kind.clone())
                                .push_bind(e.at)
                                .push_bind(e.principal_delta)
                                .push_bind(e.bonus_delta)
                                .push_bind(e.reference.clone());
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn last_checkins(&mut self, member_ids: &[&str]) -> Result<Vec<CheckinRow>> {
                    q_last_checkins(&mut *self.tx, &self.ws, member_ids).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_checkins(&mut self, rows: &[CheckinRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO checkins (member_id, local_date, workspace_id, at, event_id, streak) ");
                        q.push_values(chunk, |mut b, c| {
                            b.push_bind(c.member_id.clone())
                                .push_bind(c.local_date.clone())
                                .push_bind(self.ws.clone())
                                .push_bind(c.at)
                                .push_bind(c.event_id.clone())
                                .push_bind(c.streak);
                        });
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_request(&mut self, key: &str) -> Result<Option<RequestRow>> {
                    let r = sqlx::query("SELECT key, op, member_id, response, created_at FROM loyalty_requests WHERE workspace_id = $1 AND key = $2")
                        .bind(&self.ws)
                        .bind(key)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.map(|r| {
                        Ok(RequestRow {
                            key: r.try_get(0)?,
                            op: r.try_get(1)?,
                            member_id: r.try_get(2)?,
                            response: r.try_get(3)?,
                            created_at: r.try_get(4)?,
                        })
                    })
                    .transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_loyalty_request(&mut self, row: &RequestRow) -> Result<()> {
                    sqlx::query("INSERT INTO loyalty_requests (workspace_id, key, op, member_id, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(&self.ws)
                        .bind(&row.key)
                        .bind(&row.op)
                        .bind(&row.member_id)
                        .bind(&row.response)
                        .bind(row.created_at)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl LoyaltyStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn current_loyalty_program(&self, ws: &str) -> Result<Option<ProgramRow>> {
                    let mut c = self.reader().acquire().await?;
                    q_program(&mut c, ws).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_member(&self, ws: &str, member_id: &str) -> Result<Option<LoyaltyMemberRow>> {
                    let mut c = self.reader().acquire().await?;
                    Ok(q_members(&mut c, ws, &[member_id]).await?.pop())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_open_lots(&self, ws: &str, member_id: &str) -> Result<Vec<LotRow>> {
                    let mut c = self.reader().acquire().await?;
                    q_open_lots(&mut c, ws, &[member_id]).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn points_lines(&self, ws: &str, member_id: &str, before_seq: Option<i64>, limit: i64) -> Result<Vec<PointsLine>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT seq, {PL_COLS} FROM points_ledger WHERE workspace_id = "));
                    q.push_bind(ws.to_owned());
                    q.push(" AND member_id = ").push_bind(member_id.to_owned());
                    if let Some(b) = before_seq {
                        q.push(" AND seq < ").push_bind(b);
                    }
                    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                    let rows = q.build().fetch_all(self.reader()).await?;
                    rows.iter().map(pl_row).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn all_points_lines(&self, ws: &str, member_id: &str) -> Result<Vec<PointsLine>> {
                    let sql = format!("SELECT seq, {PL_COLS} FROM points_ledger WHERE workspace_id = $1 AND member_id = $2 ORDER BY seq");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ws).bind(member_id).fetch_all(self.reader()).await?;
                    rows.iter().map(pl_row).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_growth_since(&self, ws: &str, member_id: &str, since: Millis) -> Result<Vec<GrowthLine>> {
                    let mut c = self.reader().acquire().await?;
                    q_growth_since(&mut c, ws, &[member_id], since).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn sv_lines_page(
                    &self,
                    ws: &str,
                    member_id: &str,
                    before_seq: Option<i64>,
                    limit: i64,
                ) -> Result<Vec<SvLine>> {
                    let rows = sqlx::query(
                        "SELECT seq, member_id, kind, at, principal_delta, bonus_delta, reference FROM stored_value_ledger \
                         WHERE workspace_id = $1 AND member_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4",
                    )
                    .bind(ws)
                    .bind(member_id)
                    .bind(before_seq.unwrap_or(i64::MAX))
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SvLine {
                                seq: r.try_get(0)?,
                                member_id: r.try_get(1)?,
                                kind: r.try_get(2)?,
                                at: r.try_get(3)?,
                                principal_delta: r.try_get(4)?,
                                bonus_delta: r.try_get(5)?,
                                reference: r.try_get(6)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn saved_loyalty_request(&self, ws: &str, key: &str) -> Result<Option<RequestRow>> {
                    let r = sqlx::query("SELECT key, op, member_id, response, created_at FROM loyalty_requests WHERE workspace_id = $1 AND key = $2")
                        .bind(ws)
                        .bind(key)
                        .fetch_optional(self.reader())
                        .await?;
                    r.map(|r| {
                        Ok(RequestRow {
                            key: r.try_get(0)?,
                            op: r.try_get(1)?,
                            member_id: r.try_get(2)?,
                            response: r.try_get(3)?,
                            created_at: r.try_get(4)?,
                        })
                    })
                    .transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn members_with_birthday(
                    &self,
                    ws: &str,
                    month_days: &[&str],
                ) -> Result<Vec<BirthdayRow>> {
                    if month_days.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut q = QueryBuilder::<$Db>::new(
                        "SELECT id, external_id, birthday, time_zone FROM members WHERE workspace_id = ",
                    );
                    q.push_bind(ws.to_owned());
                    q.push(" AND birthday IS NOT NULL AND length(birthday) = 10");
                    in_list(&mut q, "substr(birthday, 6, 5)", month_days);
                    q.push(" ORDER BY id");
                    let rows = q.build().fetch_all(self.reader()).await?;
                    rows.iter()
                        .map(|r| {
                            Ok(BirthdayRow {
                                member_id: r.try_get(0)?,
                                external_id: r.try_get(1)?,
                                birthday: r.try_get(2)?,
                                time_zone: r.try_get(3)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn sv_lines(&self, ws: &str, member_id: &str) -> Result<Vec<SvLine>> {
                    let rows = sqlx::query(
                        "SELECT seq, member_id, kind, at, principal_delta, bonus_delta, reference FROM stored_value_ledger \
                         WHERE workspace_id = $1 AND member_id = $2 ORDER BY seq",
                    )
                    .bind(ws)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SvLine {
                                seq: r.try_get(0)?,
                                member_id: r.try_get(1)?,
                                kind: r.try_get(2)?,
                                at: r.try_get(3)?,
                                principal_delta: r.try_get(4)?,
                                bonus_delta: r.try_get(5)?,
                                reference: r.try_get(6)?,
                            })
                        })
                        .collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn last_checkin(&self, ws: &str, member_id: &str) -> Result<Option<CheckinRow>> {
                    let mut c = self.reader().acquire().await?;
                    Ok(q_last_checkins(&mut c, ws, &[member_id]).await?.pop())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn loyalty_audit(&self, ws: &str, limit: i64) -> Result<Vec<AuditRow>> {
                    let rows = sqlx::query(
                        "SELECT at, actor, action, member_id, detail FROM loyalty_audit WHERE workspace_id = $1 ORDER BY seq DESC LIMIT $2",
                    )
                    .bind(ws)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(AuditRow {
                                at: r.try_get(0)?,
                                actor: r.try_get(1)?,
                                action: r.try_get(2)?,
                                member_id: r.try_get(3)?,
                                detail: r.try_get(4)?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}

pub(crate) use impl_loyalty;
