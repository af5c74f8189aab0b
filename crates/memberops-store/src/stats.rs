//! Planner statistics.
//!
//! PostgreSQL plans every statement from the statistics `ANALYZE` gathers. Autovacuum
//! normally keeps them fresh, but where it is off (as on our development machines) or lags
//! a bulk load, a table that grew from nothing keeps no statistics at all, and the planner
//! falls back to fixed guesses: a 1,000-key `IN` list is taken to match the whole table, so
//! the batch path's look-up of stored event ids read every event of the workspace, batch
//! after batch (456 events/s at 100,000 events; `bench/RESULTS.md`). The store therefore
//! analyses tables itself once they have grown: after migrations, and after the writes
//! that grow tables (event batches, imports, SDK tracking, the log's consumers).

use async_trait::async_trait;

use crate::error::Result;

/// Tables smaller than this many pages (8 KiB each) are read whole in a blink whatever
/// the plan; analysing them would only cost.
pub(crate) const MIN_PAGES: i64 = 8;

/// The tables of the store's schema that hold at least [`MIN_PAGES`] pages and either have
/// no statistics yet or have more than doubled in size since they were last analysed
/// (`relpages` is what the last `ANALYZE` saw). The file size is read directly, so a load
/// that has just committed counts at once (unlike the cumulative statistics views, which
/// sessions report to with a delay). Doubling keeps the estimates within a factor of two,
/// which is well inside what the plans of our statements tolerate, and makes a load of N
/// rows cost about log2(N) analyses.
pub(crate) const GROWN_TABLES: &str = "SELECT c.oid::regclass::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind = 'r' AND n.nspname = current_schema() \
     AND pg_relation_size(c.oid) >= $1 * current_setting('block_size')::bigint \
     AND (pg_relation_size(c.oid) > 2 * c.relpages::bigint * current_setting('block_size')::bigint \
          OR NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)) \
     ORDER BY 1";

/// Keeping the query planner's statistics in step with the data.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Analyses the tables that have grown since their last analysis (see [`GROWN_TABLES`])
    /// and returns their names. Cheap to call after every write that may grow tables: on
    /// PostgreSQL it reads the catalog at most once a second per store (more often it
    /// returns at once); on SQLite it does nothing: SQLite's planner prefers indexes when it
    /// has no statistics (every SQLite figure in `bench/RESULTS.md` was taken without any).
    async fn analyze_if_grown(&self) -> Result<Vec<String>>;
}

/// Analyses the grown tables of the pool's database now (no rate limit). Another session
/// analysing the same table at the same time is not waited for (`SKIP_LOCKED`).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn analyze_grown(pool: &sqlx::PgPool) -> Result<Vec<String>> {
    let grown: Vec<String> = sqlx::query_scalar(GROWN_TABLES)
        .bind(MIN_PAGES)
        .fetch_all(pool)
        .await?;
    if !grown.is_empty() {
        // Names come from the catalog, quoted by `regclass`.
        let sql = format!("ANALYZE (SKIP_LOCKED) {}", grown.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
        tracing::debug!(tables = ?grown, "analysed grown tables");
    }
    Ok(grown)
}

/// At most one check per interval: callers run after every batch, and a busy server
/// commits many small batches a second.
pub(crate) struct Throttle {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    /// `MEMBEROPS_PG_ANALYZE=off` leaves statistics to autovacuum alone (a server whose
    /// autovacuum is tuned for bulk loads; and the "before" runs of `bench/RESULTS.md`).
    pub(crate) enabled: bool,
}

impl Throttle {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        Throttle {
            last: std::sync::Mutex::new(None),
            enabled: std::env::var("MEMBEROPS_PG_ANALYZE").map_or(true, |v| v != "off"),
        }
    }

    /// Whether a check is due now (and if so, records it).
    pub(crate) fn due(&self) -> bool {
        let now = std::time::Instant::now();
        let mut last = match self.last.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        match *last {
            Some(t) if now.duration_since(t) < Self::EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[async_trait]
impl StatsStore for crate::PgStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn analyze_if_grown(&self) -> Result<Vec<String>> {
        if !self.stats_throttle().enabled || !self.stats_throttle().due() {
            return Ok(Vec::new());
        }
        analyze_grown(self.pool()).await
    }
}

#[async_trait]
impl StatsStore for crate::SqliteStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn analyze_if_grown(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}
