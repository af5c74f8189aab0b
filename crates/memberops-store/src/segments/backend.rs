//! The segments storage on both backends, stamped out by [`impl_segments`] for each
//! native driver.

/// Implements [`SegmentsTx`] and [`SegmentsStore`] for one sqlx driver.
macro_rules! impl_segments {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::{QueryBuilder, Row};

            use crate::error::Result;
            use memberops_core::time::Millis;
            use crate::segments::*;
            use crate::CHUNK;

            type DbRow = <$Db as sqlx::Database>::Row;

            fn intel_from(r: &DbRow) -> Result<IntelRow> {
                Ok(IntelRow {
                    member_id: r.try_get("member_id")?,
                    stage: r.try_get("stage")?,
                    stage_since: r.try_get("stage_since")?,
                    previous_stage: r.try_get("previous_stage")?,
                    r: r.try_get("r_score")?,
                    f: r.try_get("f_score")?,
                    m: r.try_get("m_score")?,
                    rfm_class: r.try_get("rfm_class")?,
                    value_class: r.try_get("value_class")?,
                    scored_on: r.try_get("scored_on")?,
                })
            }

            fn source_from(r: &DbRow) -> Result<IndexSource> {
                let stage: Option<String> = r.try_get("stage")?;
                let intel = match stage {
                    Some(stage) => Some(IntelRow {
                        member_id: r.try_get("id")?,
                        stage,
                        stage_since: r.try_get("stage_since")?,
                        previous_stage: r.try_get("previous_stage")?,
                        r: r.try_get("r_score")?,
                        f: r.try_get("f_score")?,
                        m: r.try_get("m_score")?,
                        rfm_class: r.try_get("rfm_class")?,
                        value_class: r.try_get("value_class")?,
                        scored_on: r.try_get("scored_on")?,
                    }),
                    None => None,
                };
                Ok(IndexSource {
                    id: r.try_get("id")?,
                    time_zone: r.try_get("time_zone")?,
                    gender: r.try_get("gender")?,
                    birthday: r.try_get("birthday")?,
                    region: r.try_get("region")?,
                    channel: r.try_get("channel")?,
                    registered_at: r.try_get("registered_at")?,
                    attributes: r.try_get("attributes")?,
                    tags: r.try_get("tags")?,
                    extra_tags: Vec::new(),
                    orders: r.try_get("orders")?,
                    spend: r.try_get("spend")?,
                    last_order_at: r.try_get("last_order_at")?,
                    first_order_at: r.try_get("first_order_at")?,
                    intel,
                    tier: r.try_get("tier")?,
                    points_balance: r.try_get("points_balance")?,
                    stored_value: r.try_get("stored_value")?,
                    income_band: r.try_get("income_band")?,
                    consent: r.try_get("consent")?,
                    store: None,
                    staff: None,
                    predicted: None,
                })
            }

            fn push_ids(q: &mut QueryBuilder<$Db>, ids: &[&str]) {
                q.push("(");
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind((*id).to_owned());
                }
                q.push(")");
            }

            /// A page of index sources as one packed row (SQLite; see [`packed_sql`]).
            #[tracing::instrument(level = "debug", skip_all)]
            async fn index_page_packed<'e, E>(ex: E, workspace_id: &str, after: &str, limit: i64) -> Result<Option<Vec<IndexSource>>>
            where
                E: sqlx::Executor<'e, Database = $Db>,
            {
                let exprs = INDEX_EXPRS;
                let sql = packed_sql(&exprs, INDEX_FROM, "m.workspace_id = $1", "m.id", "$2", limit);
                let (page, _, _): (Option<String>, Option<String>, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(workspace_id)
                    .bind(after)
                    .fetch_one(ex)
                    .await?;
                let Some(page) = page else { return Ok(Some(Vec::new())) };
                let Some(recs) = unpack(&page, exprs.len()) else { return Ok(None) };
                let mut out = Vec::with_capacity(recs.len() / exprs.len());
                for f in recs.chunks_exact(exprs.len()) {
                    let intel = match text(f[12]) {
                        Some(stage) => Some(IntelRow {
                            member_id: text(f[0]).unwrap_or_default(),
                            stage,
                            stage_since: text(f[13]).unwrap_or_default(),
                            previous_stage: text(f[14]),
                            r: int(f[15])?,
                            f: int(f[16])?,
                            m: int(f[17])?,
                            rfm_class: text(f[18]),
                            value_class: text(f[19]),
                            scored_on: text(f[20]),
                        }),
                        None => None,
                    };
                    out.push(IndexSource {
                        id: text(f[0]).unwrap_or_default(),
                        time_zone: text(f[1]).unwrap_or_default(),
                        gender: text(f[2]),
                        birthday: text(f[3]),
                        region: text(f[4]),
                        channel: text(f[5]),
                        registered_at: int(f[6])?,
                        attributes: text(f[7]).unwrap_or_default(),
                        tags: text(f[8]).unwrap_or_default(),
                        extra_tags: Vec::new(),
                        orders: int(f[9])?.unwrap_or(0),
                        spend: int(f[10])?.unwrap_or(0),
                        last_order_at: int(f[11])?,
                        first_order_at: int(f[24])?,
                        intel,
                        tier: text(f[21]),
                        points_balance: int(f[22])?.unwrap_or(0),
                        stored_value: int(f[23])?.unwrap_or(0),
                        income_band: text(f[25]),
                        consent: text(f[26]).unwrap_or_default(),
                        store: None,
                        staff: None,
                        predicted: None,
                    });
                }
                Ok(Some(out))
            }

            #[async_trait]
            impl SegmentsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn intel_rows(&mut self, member_ids: &[&str]) -> Result<Vec<IntelRow>> {
                    let mut out = Vec::with_capacity(member_ids.len());
                    for chunk in member_ids.chunks(CHUNK) {
                        // By primary key alone (member ids are unique across workspaces): with a
                        // workspace predicate and a long IN list SQLite prefers the
                        // (workspace_id, stage) index and scans the whole workspace.
                        let mut q = QueryBuilder::<$Db>::new(format!("SELECT {INTEL_COLUMNS} FROM member_segments"));
                        q.push(" WHERE member_id IN ");
                        push_ids(&mut q, chunk);
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                            out.push(intel_from(&r)?);
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn upsert_intel(&mut self, rows: &[IntelRow]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO member_segments (workspace_id, {INTEL_COLUMNS}) "));
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(self.ws.clone())
                                .push_bind(r.member_id.clone())
                                .push_bind(r.stage.clone())
                                .push_bind(r.stage_since.clone())
                                .push_bind(r.previous_stage.clone())
                                .push_bind(r.r)
                                .push_bind(r.f)
                                .push_bind(r.m)
                                .push_bind(r.rfm_class.clone())
                                .push_bind(r.value_class.clone())
                                .push_bind(r.scored_on.clone());
                        });
                        q.push(
                            " ON CONFLICT (member_id) DO UPDATE SET stage = excluded.stage, stage_since = excluded.stage_since, \
                             previous_stage = excluded.previous_stage, r_score = excluded.r_score, f_score = excluded.f_score, \
                             m_score = excluded.m_score, rfm_class = excluded.rfm_class, value_class = excluded.value_class, \
                             scored_on = excluded.scored_on",
                        );
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_transitions(&mut self, rows: &[Transition]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new(
                            "INSERT INTO lifecycle_transitions (workspace_id, event_id, member_id, from_stage, to_stage, on_date, at) ",
                        );
                        q.push_values(chunk, |mut b, t| {
                            b.push_bind(self.ws.clone())
                                .push_bind(t.event_id.clone())
                                .push_bind(t.member_id.clone())
                                .push_bind(t.from_stage.clone())
                                .push_bind(t.to_stage.clone())
                                .push_bind(t.on_date.clone())
                                .push_bind(t.at);
                        });
                        q.push(" ON CONFLICT (workspace_id, event_id) DO NOTHING");
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_segment(&mut self, s: &SegmentRecord) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segments (id, workspace_id, name, condition, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, 1)",
                    )
                    .bind(&s.id)
                    .bind(&self.ws)
                    .bind(&s.name)
                    .bind(&s.condition)
                    .bind(s.created_at)
                    .bind(s.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    self.insert_segment_version(s, 1).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn update_segment(&mut self, s: &SegmentRecord) -> Result<()> {
                    let n = sqlx::query(
                        "UPDATE segments SET name = $1, condition = $2, updated_at = $3, version = $4 \
                         WHERE workspace_id = $5 AND id = $6 AND version = $4 - 1",
                    )
                    .bind(&s.name)
                    .bind(&s.condition)
                    .bind(s.updated_at)
                    .bind(s.version)
                    .bind(&self.ws)
                    .bind(&s.id)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected();
                    if n != 1 {
                        return Err(crate::error::StoreError::Conflict(format!("segment {} changed meanwhile", s.id)));
                    }
                    self.insert_segment_version(s, s.version).await
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_order_items(&mut self, rows: &[OrderItem]) -> Result<()> {
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = QueryBuilder::<$Db>::new("INSERT INTO order_items (member_id, kind, value, order_id, workspace_id) ");
                        q.push_values(chunk, |mut b, r| {
                            b.push_bind(r.member_id.clone())
                                .push_bind(r.kind.clone())
                                .push_bind(r.value.clone())
                                .push_bind(r.order_id.clone())
                                .push_bind(self.ws.clone());
                        });
                        q.push(" ON CONFLICT DO NOTHING");
                        q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                    }
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn delete_segment(&mut self, id: &str) -> Result<bool> {
                    let n = sqlx::query("DELETE FROM segments WHERE workspace_id = $1 AND id = $2")
                        .bind(&self.ws)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?
                        .rows_affected();
                    Ok(n > 0)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn record_segment_size(&mut self, segment_id: &str, on_date: &str, size: i64, at: Millis) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segment_sizes (segment_id, on_date, size, at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (segment_id, on_date) DO UPDATE SET size = excluded.size, at = excluded.at",
                    )
                    .bind(segment_id)
                    .bind(on_date)
                    .bind(size)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn bump_segments_version(&mut self) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segment_state (workspace_id, version) VALUES ($1, 1) \
                         ON CONFLICT (workspace_id) DO UPDATE SET version = segment_state.version + 1",
                    )
                    .bind(&self.ws)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }

            impl $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_segment_version(&mut self, s: &SegmentRecord, version: i64) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO segment_versions (segment_id, version, workspace_id, name, condition, at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&s.id)
                    .bind(version)
                    .bind(&self.ws)
                    .bind(&s.name)
                    .bind(&s.condition)
                    .bind(s.updated_at)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl SegmentsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn facts_as_of(&self, workspace_id: &str, as_of: &str, cutoff: Millis) -> Result<Vec<MemberFacts>> {
                    use futures_util::TryStreamExt;
                    let mut sink = FactsSink::new(as_of, cutoff);
                    let mut packed = <$Db as sqlx::Database>::NAME == "SQLite";
                    if packed {
                        let sql = packed_sql(
                            &FACTS_EXPRS,
                            "members m NOT INDEXED LEFT JOIN member_stats s ON s.member_id = m.id",
                            "m.workspace_id = $1",
                            "m.rowid",
                            "CAST($2 AS INTEGER)",
                            PACK,
                        );
                        let mut after = "0".to_owned();
                        'pages: loop {
                            let (page, last, n): (Option<String>, Option<String>, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                                .bind(workspace_id)
                                .bind(&after)
                                .fetch_one(self.reader())
                                .await?;
                            let (Some(page), Some(last)) = (page, last) else { break };
                            let Some(recs) = unpack(&page, FACTS_EXPRS.len()) else {
                                packed = false;
                                sink = FactsSink::new(as_of, cutoff);
                                break 'pages;
                            };
                            for f in recs.chunks_exact(FACTS_EXPRS.len()) {
                                sink.push(FactsRaw {
                                    id: text(f[0]).unwrap_or_default(),
                                    external_id: text(f[1]).unwrap_or_default(),
                                    time_zone: text(f[2]).unwrap_or_default(),
                                    registered_at: int(f[3])?,
                                    filled: int(f[4])?.unwrap_or(0),
                                    first_order_at: int(f[5])?,
                                    last_order_date: text(f[6]),
                                    orders: int(f[7])?.unwrap_or(0),
                                    order_days: int(f[8])?.unwrap_or(0),
                                    monetary: int(f[9])?.unwrap_or(0),
                                    last_active_at: int(f[10])?,
                                });
                            }
                            if n < PACK {
                                break;
                            }
                            after = last;
                        }
                    }
                    if !packed {
                        let mut rows = sqlx::query(FACTS_STREAM).bind(workspace_id).fetch(self.reader());
                        while let Some(r) = rows.try_next().await? {
                            sink.push(FactsRaw {
                                id: r.try_get(0)?,
                                external_id: r.try_get(1)?,
                                time_zone: r.try_get(2)?,
                                registered_at: r.try_get(3)?,
                                filled: r.try_get(4)?,
                                first_order_at: r.try_get(5)?,
                                last_order_date: r.try_get(6)?,
                                orders: r.try_get(7)?,
                                order_days: r.try_get(8)?,
                                monetary: r.try_get(9)?,
                                last_active_at: r.try_get(10)?,
                            });
                        }
                    }
                    let FactsSink { mut out, stale, late, .. } = sink;
                    for chunk in stale.chunks(CHUNK) {
                        let pos: std::collections::HashMap<&str, usize> =
                            chunk.iter().map(|&i| (out[i].member_id.as_str(), i)).collect();
                        let refs: Vec<&str> = pos.keys().copied().collect();
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, local_date, amount_minor, refunded_minor FROM orders WHERE member_id IN ",
                        );
                        push_ids(&mut q, &refs);
                        q.push(" AND local_date <= ").push_bind(as_of.to_owned());
                        q.push(" ORDER BY member_id, local_date");
                        let rows = q.build().persistent(crate::reusable(refs.len(), crate::CHUNK)).fetch_all(self.reader()).await?;
                        let mut folds: std::collections::HashMap<usize, OrderFold> = std::collections::HashMap::new();
                        for r in &rows {
                            let id: String = r.try_get(0)?;
                            if let Some(&i) = pos.get(id.as_str()) {
                                folds.entry(i).or_default().add(r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
                            }
                        }
                        drop(pos);
                        for &i in chunk {
                            folds.remove(&i).unwrap_or_default().store(&mut out[i]);
                        }
                    }
                    for chunk in late.chunks(CHUNK) {
                        let refs: Vec<&str> = chunk.iter().map(|&i| out[i].member_id.as_str()).collect();
                        let mut q = QueryBuilder::<$Db>::new(
                            "SELECT member_id, MAX(occurred_at) FROM events WHERE member_id IN ",
                        );
                        push_ids(&mut q, &refs);
                        q.push(" AND occurred_at <= ").push_bind(cutoff);
                        q.push(format!(" AND {} GROUP BY member_id", crate::backend::activity_only("type")));
                        let rows = q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(self.reader()).await?;
                        let mut last: std::collections::HashMap<String, Option<Millis>> = std::collections::HashMap::new();
                        for r in &rows {
                            last.insert(r.try_get(0)?, r.try_get(1)?);
                        }
                        for &i in chunk {
                            out[i].last_active_at = last.remove(&out[i].member_id).flatten();
                        }
                    }
                    // Members registered after the cutoff are left out unless they ordered by then.
                    out.retain(|f| f.registered_at.is_none_or(|t| t <= cutoff) || f.orders > 0);
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn all_intel(&self, workspace_id: &str) -> Result<Vec<IntelRow>> {
                    if <$Db as sqlx::Database>::NAME == "SQLite" {
                        let exprs: Vec<&str> = INTEL_COLUMNS.split(", ").collect();
                        let sql = packed_sql(&exprs, "member_segments", "+workspace_id = $1", "member_id", "$2", PACK);
                        let mut out = Vec::new();
                        let mut after = String::new();
                        let mut ok = true;
                        loop {
                            let (page, last, n): (Option<String>, Option<String>, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                                .bind(workspace_id)
                                .bind(&after)
                                .fetch_one(self.reader())
                                .await?;
                            let (Some(page), Some(last)) = (page, last) else { break };
                            let Some(recs) = unpack(&page, exprs.len()) else {
                                ok = false;
                                break;
                            };
                            for f in recs.chunks_exact(exprs.len()) {
                                out.push(IntelRow {
                                    member_id: text(f[0]).unwrap_or_default(),
                                    stage: text(f[1]).unwrap_or_default(),
                                    stage_since: text(f[2]).unwrap_or_default(),
                                    previous_stage: text(f[3]),
                                    r: int(f[4])?,
                                    f: int(f[5])?,
                                    m: int(f[6])?,
                                    rfm_class: text(f[7]),
                                    value_class: text(f[8]),
                                    scored_on: text(f[9]),
                                });
                            }
                            if n < PACK {
                                break;
                            }
                            after = last;
                        }
                        if ok {
                            return Ok(out);
                        }
                    }
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {INTEL_COLUMNS} FROM member_segments WHERE workspace_id = $1"
                    )))
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(intel_from).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_intel(&self, workspace_id: &str, member_id: &str) -> Result<Option<IntelRow>> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {INTEL_COLUMNS} FROM member_segments WHERE workspace_id = $1 AND member_id = $2"
                    )))
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_optional(self.reader())
                    .await?;
                    row.map(|r| intel_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn member_extra_tags(&self, workspace_id: &str, member_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar(
                        "SELECT DISTINCT tag FROM member_tags WHERE workspace_id = $1 AND member_id = $2 ORDER BY tag",
                    )
                    .bind(workspace_id)
                    .bind(member_id)
                    .fetch_all(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn index_sources(
                    &self,
                    workspace_id: &str,
                    after: Option<&str>,
                    ids: Option<&[String]>,
                    limit: i64,
                ) -> Result<Vec<IndexSource>> {
                    let mut q = QueryBuilder::<$Db>::new(INDEX_SELECT);
                    q.push(" WHERE m.workspace_id = ").push_bind(workspace_id.to_owned());
                    if let Some(a) = after {
                        q.push(" AND m.id > ").push_bind(a.to_owned());
                    }
                    if let Some(ids) = ids {
                        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                        q.push(" AND m.id IN ");
                        push_ids(&mut q, &refs);
                    }
                    q.push(" ORDER BY m.id LIMIT ").push_bind(limit);
                    let packed = if ids.is_none() && <$Db as sqlx::Database>::NAME == "SQLite" {
                        index_page_packed(self.reader(), workspace_id, after.unwrap_or(""), limit).await?
                    } else {
                        None
                    };
                    let mut out: Vec<IndexSource> = match packed {
                        Some(out) => out,
                        None => {
                            let rows = q.build().persistent(ids.is_none()).fetch_all(self.reader()).await?;
                            rows.iter().map(source_from).collect::<Result<_>>()?
                        }
                    };
                    let (Some(first), Some(last)) = (out.first(), out.last()) else {
                        return Ok(out);
                    };
                    let tags = sqlx::query(
                        "SELECT DISTINCT member_id, tag FROM member_tags WHERE workspace_id = $1 AND member_id >= $2 AND member_id <= $3",
                    )
                    .bind(workspace_id)
                    .bind(&first.id)
                    .bind(&last.id)
                    .fetch_all(self.reader())
                    .await?;
                    crate::stores::fill_assignments(self, workspace_id, &mut out).await?;
                    crate::clv::fill_predictions(self, workspace_id, &mut out).await?;
                    if !tags.is_empty() {
                        let pos: std::collections::HashMap<String, usize> =
                            out.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
                        for r in tags {
                            let id: String = r.try_get(0)?;
                            if let Some(&i) = pos.get(&id) {
                                out[i].extra_tags.push(r.try_get(1)?);
                            }
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn watermark(&self, workspace_id: &str) -> Result<Watermark> {
                    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_one(self.reader())
                        .await?;
                    let updated: Option<i64> = sqlx::query_scalar("SELECT MAX(updated_at) FROM members WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_one(self.reader())
                        .await?;
                    let version: Option<i64> = sqlx::query_scalar("SELECT version FROM segment_state WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_optional(self.reader())
                        .await?;
                    // Newest line first along the primary key: stops at the workspace's last line
                    // instead of aggregating the ledger.
                    let points_seq: Option<i64> = sqlx::query_scalar(
                        "SELECT seq FROM points_ledger WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(workspace_id)
                    .fetch_optional(self.reader())
                    .await?;
                    let sv_seq: Option<i64> = sqlx::query_scalar(
                        "SELECT seq FROM stored_value_ledger WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(workspace_id)
                    .fetch_optional(self.reader())
                    .await?;
                    Ok(Watermark {
                        seq: seq.unwrap_or(0),
                        updated_at: updated.unwrap_or(0),
                        version: version.unwrap_or(0),
                        points_seq: points_seq.unwrap_or(0),
                        sv_seq: sv_seq.unwrap_or(0),
                    })
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn touched_since(&self, workspace_id: &str, w: &Watermark, limit: i64) -> Result<Vec<String>> {
                    let mut ids: Vec<String> = sqlx::query_scalar(
                        "SELECT DISTINCT member_id FROM events WHERE workspace_id = $1 AND seq > $2 LIMIT $3",
                    )
                    .bind(workspace_id)
                    .bind(w.seq)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    let edited: Vec<String> = sqlx::query_scalar(
                        "SELECT id FROM members WHERE workspace_id = $1 AND updated_at >= $2 LIMIT $3",
                    )
                    .bind(workspace_id)
                    .bind(w.updated_at)
                    .bind(limit)
                    .fetch_all(self.reader())
                    .await?;
                    ids.extend(edited);
                    for (table, after) in [("points_ledger", w.points_seq), ("stored_value_ledger", w.sv_seq)] {
                        let moved: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT DISTINCT member_id FROM {table} WHERE workspace_id = $1 AND seq > $2 LIMIT $3"
                        )))
                        .bind(workspace_id)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(self.reader())
                        .await?;
                        ids.extend(moved);
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    Ok(ids)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn distinct_zones(&self, workspace_id: &str) -> Result<Vec<String>> {
                    Ok(sqlx::query_scalar("SELECT DISTINCT time_zone FROM members WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .fetch_all(self.reader())
                        .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn event_counts(&self, workspace_id: &str, event: &str, since: Millis, until: Millis) -> Result<Vec<(String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT member_id, CAST(COUNT(*) AS BIGINT) FROM events WHERE workspace_id = $1 AND type = $2 \
                         AND occurred_at > $3 AND occurred_at <= $4 GROUP BY member_id",
                    )
                    .bind(workspace_id)
                    .bind(event)
                    .bind(since)
                    .bind(until)
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn segment_ids_sql(&self, workspace_id: &str, where_sql: &str, after: Option<&str>, limit: Option<i64>) -> Result<Vec<String>> {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT m.id FROM {SEGMENT_FROM} WHERE m.workspace_id = "));
                    q.push_bind(workspace_id.to_owned());
                    if let Some(a) = after {
                        q.push(" AND m.id > ").push_bind(a.to_owned());
                    }
                    q.push(format!(" AND ({where_sql}) ORDER BY m.id"));
                    if let Some(l) = limit {
                        q.push(" LIMIT ").push_bind(l);
                    }
                    let rows = q.build().fetch_all(self.reader()).await?;
                    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn segment_count_sql(&self, workspace_id: &str, where_sql: &str) -> Result<i64> {
                    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM {SEGMENT_FROM} WHERE m.workspace_id = $1 AND ({where_sql})"
                    )))
                    .bind(workspace_id)
                    .fetch_one(self.reader())
                    .await?)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn external_ids(&self, workspace_id: &str, ids: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(CHUNK) {
                        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                        let mut q = QueryBuilder::<$Db>::new("SELECT id, external_id FROM members WHERE workspace_id = ");
                        q.push_bind(workspace_id.to_owned()).push(" AND id IN ");
                        push_ids(&mut q, &refs);
                        for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(self.reader()).await? {
                            out.push((r.try_get(0)?, r.try_get(1)?));
                        }
                    }
                    Ok(out)
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn resolve_members(&self, workspace_id: &str, given: &[String]) -> Result<Vec<(String, String)>> {
                    let mut out = Vec::with_capacity(given.len());
                    for chunk in given.chunks(CHUNK) {
                        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                        let mut q = QueryBuilder::<$Db>::new("SELECT id, external_id FROM members WHERE workspace_id = ");
                        q.push_bind(workspace_id.to_owned()).push(" AND (external_id IN ");
                        push_ids(&mut q, &refs);
                        q.push(" OR id IN ");
                        push_ids(&mut q, &refs);
                        q.push(")");
                        let found: Vec<(String, String)> = q
                            .build().persistent(crate::reusable(chunk.len(), crate::CHUNK))
                            .fetch_all(self.reader())
                            .await?
                            .iter()
                            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                            .collect::<Result<_>>()?;
                        for g in chunk {
                            if let Some((id, _)) = found.iter().find(|(id, ext)| ext == g || id == g) {
                                out.push((g.clone(), id.clone()));
                            }
                        }
                    }
                    Ok(out)
                }
            }
        };
    };
}

pub(crate) use impl_segments;
