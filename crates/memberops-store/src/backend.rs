//! The SQL both backends share. `$1`-style placeholders, `RETURNING`, `ON CONFLICT` and
//! `CAST(… AS BIGINT)` mean the same on SQLite and PostgreSQL, so one text serves both;
//! the macro below stamps it out for each native driver (no `Any` driver in between).

use crate::error::{Result, StoreError};
pub(crate) use crate::profile_cols::{RawProfile, parse_profile, profile_cols};

/// The member columns, in the order `insert_members` binds them.
pub(crate) const MEMBER_COLUMNS: &str = "id, workspace_id, external_id, phone, email, name, gender, birthday, income_band, region, \
     channel, registered_at, time_zone, consent, attributes, tags, created_at, updated_at";

pub(crate) const MEMBER_SELECT: &str = "SELECT m.id, m.workspace_id, m.external_id, m.phone, m.email, m.name, m.gender, m.birthday, \
     m.income_band, m.region, m.channel, m.registered_at, m.time_zone, m.consent, m.attributes, m.tags, m.created_at, \
     m.updated_at, s.first_order_at, s.last_order_at, s.last_order_date, COALESCE(s.order_count, 0) AS order_count, \
     COALESCE(s.order_days, 0) AS order_days, COALESCE(s.paid_minor, 0) AS paid_minor, \
     COALESCE(s.refunded_minor, 0) AS refunded_minor, s.last_active_at, COALESCE(s.event_count, 0) AS event_count, \
     a.store_code, a.staff_code \
     FROM members m LEFT JOIN member_stats s ON s.member_id = m.id LEFT JOIN member_stores a ON a.member_id = m.id";

pub(crate) const EVENT_SELECT: &str = "SELECT seq, workspace_id, id, member_id, type, occurred_at, received_at, properties FROM events";

/// [`memberops_core::order::counts_as_order`] over the `orders` view's columns: the one
/// SQL form of that rule (a test checks the two agree).
macro_rules! counts_as_order_sql {
    () => {
        "(refunded_minor < amount_minor OR amount_minor = 0)"
    };
}

/// The same rule as a string, for SQL assembled at run time (unqualified columns of the
/// `orders` view, so it reads the innermost `orders` in scope).
pub(crate) const COUNTS_AS_ORDER_SQL: &str = counts_as_order_sql!();

/// A fully refunded order stops counting as an order (and its day as an order day); its
/// paid and refunded amounts still count, so spend nets out to zero.
pub(crate) const REFRESH_ORDER_STATS: &str = concat!(
    "INSERT INTO member_stats \
     (member_id, workspace_id, first_order_at, last_order_at, order_count, order_days, paid_minor, refunded_minor, \
      last_order_date) \
     SELECT member_id, MIN(workspace_id), MIN(CASE WHEN ",
    counts_as_order_sql!(),
    " THEN paid_at END), MAX(CASE WHEN ",
    counts_as_order_sql!(),
    " THEN paid_at END), CAST(SUM(CASE WHEN ",
    counts_as_order_sql!(),
    " THEN 1 ELSE 0 END) AS BIGINT), CAST(COUNT(DISTINCT CASE WHEN ",
    counts_as_order_sql!(),
    " THEN local_date END) AS BIGINT), CAST(SUM(amount_minor) AS BIGINT), CAST(SUM(refunded_minor) AS BIGINT), \
     MAX(CASE WHEN ",
    counts_as_order_sql!(),
    " THEN local_date END) FROM orders WHERE member_id IN ("
);

/// Member ids are unique across workspaces, so the filter is on `member_id` alone: a
/// `workspace_id` term would lead SQLite to the (workspace_id, order_id) key and a scan.
pub(crate) const REFRESH_ORDER_STATS_TAIL: &str = ") GROUP BY member_id \
     ON CONFLICT (member_id) DO UPDATE SET first_order_at = excluded.first_order_at, \
     last_order_at = excluded.last_order_at, order_count = excluded.order_count, order_days = excluded.order_days, \
     paid_minor = excluded.paid_minor, refunded_minor = excluded.refunded_minor, \
     last_order_date = excluded.last_order_date";

pub(crate) const STATS_COLUMNS: &str = "member_id, workspace_id, first_order_at, last_order_at, order_count, order_days, \
     paid_minor, refunded_minor, last_active_at, event_count, last_order_date";

pub(crate) const SAVE_STATS_TAIL: &str = " ON CONFLICT (member_id) DO UPDATE SET first_order_at = excluded.first_order_at, \
     last_order_at = excluded.last_order_at, order_count = excluded.order_count, order_days = excluded.order_days, \
     paid_minor = excluded.paid_minor, refunded_minor = excluded.refunded_minor, last_active_at = excluded.last_active_at, \
     event_count = excluded.event_count, last_order_date = excluded.last_order_date";

/// Rewrites whole aggregate rows from `(VALUES …)` in [`STATS_COLUMNS`] order.
pub(crate) const UPDATE_STATS_TAIL: &str = " SET first_order_at = d.column3, last_order_at = d.column4, \
     order_count = d.column5, order_days = d.column6, paid_minor = d.column7, refunded_minor = d.column8, \
     last_active_at = d.column9, event_count = d.column10, last_order_date = d.column11 FROM (";

/// The verb of [`UPDATE_STATS_TAIL`]: like [`insert_checked`], `OR IGNORE` spares SQLite
/// the statement journal, and the caller checks the row count.
pub(crate) fn update_checked(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => "UPDATE OR IGNORE member_stats",
        crate::Backend::Postgres => "UPDATE member_stats",
    }
}

/// Members with their aggregates and stored stage; the caller adds the external-id list.
pub(crate) const MEMBER_STATES: &str = "SELECT m.id, m.external_id, m.time_zone, m.registered_at, \
     s.member_id AS stats_member, s.first_order_at, s.last_order_at, s.order_count, s.order_days, s.paid_minor, \
     s.refunded_minor, s.last_active_at, s.event_count, s.last_order_date, g.stage \
     FROM members m LEFT JOIN member_stats s ON s.member_id = m.id \
     LEFT JOIN member_segments g ON g.member_id = m.id WHERE m.workspace_id = ";

/// The verb of the event path's bulk inserts. On SQLite, a multi-row INSERT that a
/// constraint could abort half-way copies every page it touches into a statement journal
/// so that the statement alone can be undone (~5% of ingest CPU in perf). The event path
/// never needs that: it checked the keys beforehand and rolls back the whole transaction on
/// any error. `OR IGNORE` needs no statement journal, and [`expect_inserted`] turns a row
/// the constraints skipped into an error, so nothing is lost silently.
pub(crate) fn insert_checked(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => "INSERT OR IGNORE INTO",
        crate::Backend::Postgres => "INSERT INTO",
    }
}

/// `{column} NOT IN ('tier.changed', …)`: the events that are the member's own activity.
/// What MemberOps records itself (every [`memberops_core::event::RESERVED`] type) is not
/// activity: a downgrade or an expiry is not the member doing something. Every SQL that
/// derives last activity or counts activity from the event rows filters with this.
pub(crate) fn activity_only(column: &str) -> String {
    let types: Vec<String> = memberops_core::event::RESERVED
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect();
    format!("{column} NOT IN ({})", types.join(", "))
}

/// Fails when a checked insert wrote fewer rows than it was given.
pub(crate) fn expect_inserted(table: &str, written: u64, given: usize) -> Result<()> {
    if written == given as u64 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "{table}: {} of {given} rows were refused by a constraint",
            given as u64 - written.min(given as u64)
        )))
    }
}

/// Implements [`crate::WriteTx`] and the reads of [`crate::Store`] for one sqlx driver. The
/// store type must provide `reader()`, `begin_tx()` and `run_migrations()` and `BACKEND`.
macro_rules! impl_backend {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        use std::collections::HashSet;

        use async_trait::async_trait;
        use sqlx::{QueryBuilder, Row};

        use crate::backend::*;
        use crate::error::Result;
        use crate::model::*;
        use crate::{Backend, CHUNK, Store, WriteTx};

        pub struct $Tx {
            tx: sqlx::Transaction<'static, $Db>,
            ws: String,
        }

        fn member_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<(MemberRecord, StatsRow)> {
            let profile = parse_profile(RawProfile {
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                gender: r.try_get("gender")?,
                birthday: r.try_get("birthday")?,
                income_band: r.try_get("income_band")?,
                region: r.try_get("region")?,
                channel: r.try_get("channel")?,
                registered_at: r.try_get("registered_at")?,
                time_zone: r.try_get("time_zone")?,
                consent: r.try_get("consent")?,
                attributes: r.try_get("attributes")?,
                tags: r.try_get("tags")?,
            })?;
            let record = MemberRecord {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                external_id: r.try_get("external_id")?,
                profile,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                // Only the member reads join `member_stores`.
                store_code: r.try_get("store_code").unwrap_or(None),
                staff_code: r.try_get("staff_code").unwrap_or(None),
            };
            let stats = if r.try_get::<Option<i64>, _>("order_count").is_ok() {
                stats_columns(r)?
            } else {
                StatsRow::default()
            };
            Ok((record, stats))
        }

        fn event_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<EventRow> {
            Ok(EventRow {
                seq: r.try_get("seq")?,
                id: r.try_get("id")?,
                member_id: r.try_get("member_id")?,
                kind: r.try_get("type")?,
                occurred_at: r.try_get("occurred_at")?,
                received_at: r.try_get("received_at")?,
                properties: r.try_get("properties")?,
            })
        }

        /// The aggregate columns of a row, named as in `member_stats`.
        fn stats_columns(r: &<$Db as sqlx::Database>::Row) -> Result<StatsRow> {
            Ok(StatsRow {
                first_order_at: r.try_get("first_order_at")?,
                last_order_at: r.try_get("last_order_at")?,
                order_count: r.try_get("order_count")?,
                order_days: r.try_get("order_days")?,
                paid_minor: r.try_get("paid_minor")?,
                refunded_minor: r.try_get("refunded_minor")?,
                last_active_at: r.try_get("last_active_at")?,
                event_count: r.try_get("event_count")?,
                last_order_date: r.try_get("last_order_date")?,
            })
        }

        fn stats_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<(String, StatsRow)> {
            Ok((r.try_get("member_id")?, stats_columns(r)?))
        }

        /// `VALUES` of whole aggregate rows, in [`STATS_COLUMNS`] order.
        /// Runs one statement per chunk of `rows` and returns each chunk's affected-row
        /// count with its length. The next chunk's statement is built while the database
        /// runs the current one: SQLite executes on its worker thread, so building
        /// arguments here and B-tree work there overlap on two cores.
        #[tracing::instrument(level = "debug", skip_all)]
        async fn execute_chunks<T>(
            tx: &mut sqlx::Transaction<'static, $Db>,
            rows: &[T],
            mut build: impl FnMut(&[T]) -> QueryBuilder<$Db>,
            mut check: impl FnMut(u64, usize) -> Result<()>,
        ) -> Result<()> {
            let mut chunks = rows.chunks(CHUNK);
            let mut next = chunks.next().map(|c| (build(c), c.len()));
            while let Some((mut q, len)) = next.take() {
                let (done, following) = tokio::join!(q.build().persistent(crate::reusable(len, CHUNK)).execute(&mut **tx), async {
                    chunks.next().map(|c| (build(c), c.len()))
                });
                check(done?.rows_affected(), len)?;
                next = following;
            }
            Ok(())
        }

        fn push_stats_values(q: &mut QueryBuilder<$Db>, ws: &str, rows: &[(String, StatsRow)]) {
            q.push_values(rows, |mut b, (id, s)| {
                b.push_bind(id.clone())
                    .push_bind(ws.to_owned())
                    .push_bind(s.first_order_at)
                    .push_bind(s.last_order_at)
                    .push_bind(s.order_count)
                    .push_bind(s.order_days)
                    .push_bind(s.paid_minor)
                    .push_bind(s.refunded_minor)
                    .push_bind(s.last_active_at)
                    .push_bind(s.event_count)
                    .push_bind(s.last_order_date.clone());
            });
        }

        fn order_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<OrderRow> {
            Ok(OrderRow {
                workspace_id: r.try_get("workspace_id")?,
                order_id: r.try_get("order_id")?,
                member_id: r.try_get("member_id")?,
                paid_at: r.try_get("paid_at")?,
                local_date: r.try_get("local_date")?,
                amount_minor: r.try_get("amount_minor")?,
                refunded_minor: r.try_get("refunded_minor")?,
                currency: r.try_get("currency")?,
                channel: r.try_get("channel")?,
                event_id: r.try_get("event_id")?,
            })
        }

        fn key_from_row(r: &<$Db as sqlx::Database>::Row) -> Result<ApiKey> {
            let scope: String = r.try_get("scope")?;
            Ok(ApiKey {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                name: r.try_get("name")?,
                scopes: crate::KeyScope::parse_list(&scope).ok_or_else(|| crate::StoreError::Corrupt(format!("key scope `{scope}`")))?,
                key_hash: r.try_get("key_hash")?,
                key_prefix: r.try_get("key_prefix")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
                rate_limit: crate::keys::limit_from(r.try_get("rate_rps")?, r.try_get("rate_burst")?),
                last_used_at: r.try_get("last_used_at")?,
            })
        }

        /// `prefix` + `(?, ?, …)` over `items`.
        fn in_list<'a>(prefix: &str, ws: &'a str, column: &str, items: &[&'a str]) -> QueryBuilder<$Db> {
            let mut q = QueryBuilder::<$Db>::new(prefix);
            q.push(" WHERE workspace_id = ");
            q.push_bind(ws.to_owned());
            q.push(format!(" AND {column} IN ("));
            let mut sep = q.separated(", ");
            for it in items {
                sep.push_bind((*it).to_owned());
            }
            q.push(")");
            q
        }

        #[async_trait]
        impl WriteTx for $Tx {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn existing_event_ids(&mut self, ids: &[&str]) -> Result<HashSet<String>> {
                let mut found = HashSet::new();
                for chunk in ids.chunks(CHUNK) {
                    let mut q = in_list("SELECT id FROM events", &self.ws, "id", chunk);
                    for row in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                        found.insert(row.try_get::<String, _>(0)?);
                    }
                }
                Ok(found)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn members_by_external_ids(&mut self, external_ids: &[&str]) -> Result<Vec<MemberRef>> {
                let mut out = Vec::with_capacity(external_ids.len());
                for chunk in external_ids.chunks(CHUNK) {
                    let mut q = in_list("SELECT id, external_id, time_zone, registered_at FROM members", &self.ws, "external_id", chunk);
                    for row in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                        out.push(MemberRef {
                            id: row.try_get(0)?,
                            external_id: row.try_get(1)?,
                            time_zone: row.try_get(2)?,
                            registered_at: row.try_get(3)?,
                        });
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member_for_update(&mut self, external_id: &str) -> Result<Option<MemberRecord>> {
                let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE workspace_id = $1 AND external_id = $2");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&self.ws).bind(external_id).fetch_optional(&mut *self.tx).await?;
                row.map(|r| member_from_row(&r).map(|(m, _)| m)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_members(&mut self, rows: &[MemberRecord]) -> Result<()> {
                for chunk in rows.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO members ({MEMBER_COLUMNS}) "));
                    q.push_values(chunk, |mut b, m| {
                        let p = &m.profile;
                        let c = profile_cols(p);
                        b.push_bind(m.id.clone())
                            .push_bind(m.workspace_id.clone())
                            .push_bind(m.external_id.clone())
                            .push_bind(p.phone.clone())
                            .push_bind(p.email.clone())
                            .push_bind(p.name.clone())
                            .push_bind(c.gender)
                            .push_bind(c.birthday)
                            .push_bind(p.income_band.clone())
                            .push_bind(p.region.clone())
                            .push_bind(p.channel.clone())
                            .push_bind(p.registered_at)
                            .push_bind(c.time_zone)
                            .push_bind(c.consent)
                            .push_bind(c.attributes)
                            .push_bind(c.tags)
                            .push_bind(m.created_at)
                            .push_bind(m.updated_at);
                    });
                    q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_member(&mut self, m: &MemberRecord) -> Result<()> {
                let p = &m.profile;
                let c = profile_cols(p);
                let done = sqlx::query(
                    "UPDATE members SET phone = $1, email = $2, name = $3, gender = $4, birthday = $5, income_band = $6, \
                     region = $7, channel = $8, registered_at = $9, time_zone = $10, consent = $11, attributes = $12, \
                     tags = $13, updated_at = $14 WHERE workspace_id = $15 AND id = $16",
                )
                .bind(&p.phone)
                .bind(&p.email)
                .bind(&p.name)
                .bind(c.gender)
                .bind(c.birthday)
                .bind(&p.income_band)
                .bind(&p.region)
                .bind(&p.channel)
                .bind(p.registered_at)
                .bind(c.time_zone)
                .bind(c.consent)
                .bind(c.attributes)
                .bind(c.tags)
                .bind(m.updated_at)
                .bind(&self.ws)
                .bind(&m.id)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::NotFound);
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_events(&mut self, rows: &[NewEvent]) -> Result<()> {
                let head = format!(
                    "{} events (workspace_id, id, member_id, type, occurred_at, received_at, properties, \
                     order_id, local_date, amount_minor, refunded_minor, currency, channel) ",
                    insert_checked(<$Store>::BACKEND)
                );
                let build = |chunk: &[NewEvent]| {
                    let mut q = QueryBuilder::<$Db>::new(head.clone());
                    q.push_values(chunk, |mut b, e| {
                        let o = e.order.as_ref();
                        b.push_bind(e.workspace_id.clone())
                            .push_bind(e.id.clone())
                            .push_bind(e.member_id.clone())
                            .push_bind(e.kind.clone())
                            .push_bind(e.occurred_at)
                            .push_bind(e.received_at)
                            .push_bind(e.properties.clone())
                            .push_bind(o.map(|o| o.order_id.clone()))
                            .push_bind(o.map(|o| o.local_date.clone()))
                            .push_bind(o.map(|o| o.amount_minor))
                            .push_bind(o.map(|o| o.refunded_minor))
                            .push_bind(o.map(|o| o.currency.clone()))
                            .push_bind(o.and_then(|o| o.channel.clone()));
                    });
                    q
                };
                execute_chunks(&mut self.tx, rows, build, |done, len| expect_inserted("events", done, len)).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn orders_by_ids(&mut self, order_ids: &[&str]) -> Result<Vec<OrderRow>> {
                let mut out = Vec::new();
                for chunk in order_ids.chunks(CHUNK) {
                    let mut q = in_list("SELECT * FROM orders", &self.ws, "order_id", chunk);
                    for row in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                        out.push(order_from_row(&row)?);
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn set_refunded(&mut self, refunds: &[(String, i64)]) -> Result<()> {
                for (order_id, refunded) in refunds {
                    sqlx::query("UPDATE events SET refunded_minor = $1 WHERE workspace_id = $2 AND order_id = $3")
                        .bind(*refunded)
                        .bind(&self.ws)
                        .bind(order_id)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn load_stats(&mut self, member_ids: &[&str]) -> Result<Vec<(String, StatsRow)>> {
                let mut out = Vec::with_capacity(member_ids.len());
                for chunk in member_ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(format!("SELECT {STATS_COLUMNS} FROM member_stats WHERE member_id IN ("));
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind((*id).to_owned());
                    }
                    q.push(")");
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                        out.push(stats_from_row(&r)?);
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_stats(&mut self, rows: &[(String, StatsRow)]) -> Result<()> {
                let ws = self.ws.as_str();
                let build = |chunk: &[(String, StatsRow)]| {
                    let mut q = QueryBuilder::<$Db>::new(update_checked(<$Store>::BACKEND));
                    q.push(UPDATE_STATS_TAIL);
                    push_stats_values(&mut q, ws, chunk);
                    q.push(") AS d WHERE member_stats.member_id = d.column1");
                    q
                };
                execute_chunks(&mut self.tx, rows, build, |done, len| expect_inserted("member_stats", done, len)).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member_states(&mut self, external_ids: &[&str]) -> Result<Vec<MemberState>> {
                let mut out = Vec::with_capacity(external_ids.len());
                for chunk in external_ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(MEMBER_STATES);
                    q.push_bind(self.ws.clone());
                    q.push(" AND m.external_id IN (");
                    let mut sep = q.separated(", ");
                    for it in chunk {
                        sep.push_bind((*it).to_owned());
                    }
                    q.push(")");
                    for r in q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).fetch_all(&mut *self.tx).await? {
                        let with_stats: Option<String> = r.try_get("stats_member")?;
                        out.push(MemberState {
                            member: MemberRef {
                                id: r.try_get("id")?,
                                external_id: r.try_get("external_id")?,
                                time_zone: r.try_get("time_zone")?,
                                registered_at: r.try_get("registered_at")?,
                            },
                            stats: with_stats.map(|_| stats_columns(&r)).transpose()?,
                            stage: r.try_get("stage")?,
                        });
                    }
                }
                Ok(out)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn write_epoch(&mut self) -> Result<Option<WriteEpoch>> {
                if <$Store>::BACKEND != Backend::Sqlite {
                    return Ok(None);
                }
                let r = sqlx::query("SELECT total_changes(), (SELECT data_version FROM pragma_data_version())")
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(Some(WriteEpoch {
                    connection: crate::sqlite::writer_connections(),
                    total_changes: r.try_get(0)?,
                    data_version: r.try_get(1)?,
                }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn save_stats(&mut self, rows: &[(String, StatsRow)]) -> Result<()> {
                let ws = self.ws.as_str();
                let build = |chunk: &[(String, StatsRow)]| {
                    let mut q = QueryBuilder::<$Db>::new(format!("INSERT INTO member_stats ({STATS_COLUMNS}) "));
                    push_stats_values(&mut q, ws, chunk);
                    q.push(SAVE_STATS_TAIL);
                    q
                };
                execute_chunks(&mut self.tx, rows, build, |_, _| Ok(())).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn refresh_order_stats(&mut self, member_ids: &[&str]) -> Result<()> {
                for chunk in member_ids.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$Db>::new(REFRESH_ORDER_STATS);
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind((*id).to_owned());
                    }
                    q.push(REFRESH_ORDER_STATS_TAIL);
                    q.build().persistent(crate::reusable(chunk.len(), crate::CHUNK)).execute(&mut *self.tx).await?;
                }
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn commit(self: Box<Self>) -> Result<()> {
                self.tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $Store {
            fn backend(&self) -> Backend {
                Self::BACKEND
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn migrate(&self) -> Result<()> {
                self.run_migrations().await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn begin_write(&self, workspace_id: &str) -> Result<Box<dyn WriteTx>> {
                let tx = self.begin_tx(workspace_id).await?;
                Ok(Box::new($Tx { tx, ws: workspace_id.to_owned() }))
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn workspace(&self, id: &str) -> Result<Option<Workspace>> {
                let row = sqlx::query("SELECT id, name, currency, time_zone, calling_code FROM workspaces WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(|r| {
                    Ok(Workspace {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        currency: r.try_get(2)?,
                        time_zone: r.try_get(3)?,
                        calling_code: r.try_get(4)?,
                    })
                })
                .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_workspace(&self, id: &str, name: Option<&str>, calling_code: Option<&str>) -> Result<Option<Workspace>> {
                sqlx::query(
                    "UPDATE workspaces SET name = COALESCE($2, name), calling_code = COALESCE($3, calling_code) WHERE id = $1",
                )
                .bind(id)
                .bind(name)
                .bind(calling_code)
                .execute(self.writer())
                .await?;
                self.workspace(id).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn insert_api_key(&self, k: &ApiKey) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, workspace_id, name, scope, key_hash, key_prefix, created_at, revoked_at, rate_rps, rate_burst) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&k.id)
                .bind(&k.workspace_id)
                .bind(&k.name)
                .bind(crate::KeyScope::join(&k.scopes))
                .bind(&k.key_hash)
                .bind(&k.key_prefix)
                .bind(k.created_at)
                .bind(k.revoked_at)
                .bind(k.rate_limit.map(|l| i64::from(l.rps)))
                .bind(k.rate_limit.map(|l| i64::from(l.burst)))
                .execute(self.writer())
                .await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
                let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1").bind(key_hash).fetch_optional(self.reader()).await?;
                row.map(|r| key_from_row(&r)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_api_keys(&self, workspace_id: &str) -> Result<Vec<ApiKey>> {
                let rows = sqlx::query("SELECT * FROM api_keys WHERE workspace_id = $1 ORDER BY id")
                    .bind(workspace_id)
                    .fetch_all(self.reader())
                    .await?;
                rows.iter().map(key_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn revoke_api_key(&self, workspace_id: &str, id: &str, at: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(workspace_id)
                .bind(id)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member(&self, workspace_id: &str, id: &str) -> Result<Option<(MemberRecord, StatsRow)>> {
                let sql = format!("{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.id = $2");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace_id).bind(id).fetch_optional(self.reader()).await?;
                row.map(|r| member_from_row(&r)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member_by_external_id(&self, workspace_id: &str, external_id: &str) -> Result<Option<(MemberRecord, StatsRow)>> {
                let sql = format!("{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.external_id = $2");
                let row =
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace_id).bind(external_id).fetch_optional(self.reader()).await?;
                row.map(|r| member_from_row(&r)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_members(&self, workspace_id: &str, f: &MemberQuery) -> Result<Vec<(MemberRecord, StatsRow)>> {
                let mut q = QueryBuilder::<$Db>::new(MEMBER_SELECT);
                q.push(" WHERE m.workspace_id = ");
                q.push_bind(workspace_id.to_owned());
                if let Some(v) = &f.external_id {
                    q.push(" AND m.external_id = ").push_bind(v.clone());
                }
                if !f.phones.is_empty() {
                    q.push(" AND m.phone IN (");
                    let mut sep = q.separated(", ");
                    for v in &f.phones {
                        sep.push_bind(v.clone());
                    }
                    q.push(")");
                }
                if let Some(v) = &f.email {
                    q.push(" AND m.email = ").push_bind(v.clone());
                }
                if let Some(v) = &f.name_prefix {
                    let len = i32::try_from(v.chars().count()).unwrap_or(i32::MAX);
                    q.push(" AND substr(m.name, 1, ").push_bind(len).push(") = ").push_bind(v.clone());
                }
                if let Some(v) = &f.after {
                    q.push(" AND m.id > ").push_bind(v.clone());
                }
                q.push(" ORDER BY m.id LIMIT ").push_bind(f.limit);
                let rows = q.build().fetch_all(self.reader()).await?;
                rows.iter().map(member_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn member_events(
                &self,
                workspace_id: &str,
                member_id: &str,
                before_seq: Option<i64>,
                limit: i64,
            ) -> Result<Vec<EventRow>> {
                // By member id alone (unique across workspaces) so that the member index is
                // used; the workspace is checked on the rows.
                let mut q = QueryBuilder::<$Db>::new(EVENT_SELECT);
                q.push(" WHERE member_id = ").push_bind(member_id.to_owned());
                if let Some(b) = before_seq {
                    q.push(" AND seq < ").push_bind(b);
                }
                q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
                let rows = q.build().fetch_all(self.reader()).await?;
                let events: Result<Vec<(String, EventRow)>> =
                    rows.iter().map(|r| Ok((r.try_get::<String, _>("workspace_id")?, event_from_row(r)?))).collect();
                Ok(events?.into_iter().filter(|(ws, _)| ws == workspace_id).map(|(_, e)| e).collect())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn event(&self, workspace_id: &str, id: &str) -> Result<Option<EventRow>> {
                let sql = format!("{EVENT_SELECT} WHERE workspace_id = $1 AND id = $2");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace_id).bind(id).fetch_optional(self.reader()).await?;
                row.map(|r| event_from_row(&r)).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn counts(&self, workspace_id: &str) -> Result<Counts> {
                let mut c = [0i64; 3];
                for (i, table) in ["members", "events", "orders"].iter().enumerate() {
                    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE workspace_id = $1");
                    c[i] = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(workspace_id).fetch_one(self.reader()).await?;
                }
                Ok(Counts { members: c[0], events: c[1], orders: c[2] })
            }
        }
    };
}

pub(crate) use impl_backend;

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
