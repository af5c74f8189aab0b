//! The embedded backend: one SQLite file in WAL mode. A single writer connection (SQLite
//! allows one writer at a time anyway; queuing in the pool is cheaper than lock retries)
//! and a small pool of readers that WAL lets run beside it.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

/// Every half second, a passive checkpoint from a reader connection: it copies committed
/// WAL frames into the database without taking the write lock, so commits stay short.
/// Ends when the pool is closed.
fn spawn_checkpointer(pool: SqlitePool) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    break;
                }
                tracing::debug!(error = %e, "background checkpoint failed");
            }
        }
    });
}

/// Writer connections opened by this process (any store): part of the write epoch.
static WRITER_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn writer_connections() -> u64 {
    WRITER_CONNECTIONS.load(Ordering::SeqCst)
}

/// The writer's page cache when `MEMBEROPS_SQLITE_CACHE_MIB` does not say (see
/// [`SqliteStore::set_default_writer_cache_mib`]).
static DEFAULT_WRITER_CACHE_MIB: AtomicU64 = AtomicU64::new(64);

/// The writer's page cache in KiB: `MEMBEROPS_SQLITE_CACHE_MIB`, else the process default
/// (64 MiB). A larger cache keeps more of the member-keyed indexes that every batch touches
/// in memory; it also raises the process's resident memory by as much.
fn writer_cache_kib() -> u64 {
    std::env::var("MEMBEROPS_SQLITE_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|mib| *mib > 0)
        .unwrap_or_else(|| DEFAULT_WRITER_CACHE_MIB.load(Ordering::Relaxed))
        .saturating_mul(1024)
}

impl SqliteStore {
    const BACKEND: crate::Backend = crate::Backend::Sqlite;

    /// Opens (creating if needed) the database file at `path`; `:memory:` gives a private
    /// in-memory database on one connection.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(path: &str) -> Result<Self, crate::StoreError> {
        let base = if path == ":memory:" {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
        };
        let opts = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536")
            // Rows cross from SQLite's worker thread to the task in a bounded channel; the
            // default of 50 makes a 10,000-row read wait on 200 thread hand-offs.
            .row_buffer_size(4096);
        // Checkpoints run in the background (below), not in the commit that crosses the
        // threshold: a checkpoint copies the WAL into the database and syncs it, which would
        // stall the one writer and every request queued behind it. The writer's own
        // auto-checkpoint stays as a bound (~256 MiB of WAL) should the background fall behind.
        let writer_opts = if path == ":memory:" {
            opts.clone()
        } else {
            opts.clone()
                .pragma("cache_size", format!("-{}", writer_cache_kib()))
                .pragma("wal_autocheckpoint", "65536")
                // Once reset, a WAL that grew during a bulk load shrinks back to 64 MiB.
                .pragma("journal_size_limit", "67108864")
        };
        // The one writer connection lives as long as the store (no lifetime or idle limit):
        // its `total_changes()` is half of the write epoch, and each connection opened
        // counts in the other half.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .after_connect(|_, _| {
                Box::pin(async {
                    WRITER_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            })
            .connect_with(writer_opts)
            .await?;
        let readers = if path == ":memory:" {
            writer.clone()
        } else {
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?;
            spawn_checkpointer(readers.clone());
            readers
        };
        Ok(SqliteStore { writer, readers })
    }

    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin_tx(
        &self,
        _workspace_id: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, crate::StoreError> {
        // IMMEDIATE takes the write lock now, so a transaction never fails half-way with
        // SQLITE_BUSY when it first writes.
        let started = std::time::Instant::now();
        let tx = match self.writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            // SQLite rolls a transaction back itself on SQLITE_FULL or an I/O error; sqlx's
            // own rollback then fails and leaves the connection counting a transaction that
            // is gone, so every later write would fail. Replace the connection.
            Err(sqlx::Error::InvalidSavePointStatement | sqlx::Error::BeginFailed) => {
                tracing::warn!("replacing the SQLite writer connection after a failed transaction");
                self.writer.acquire().await?.close().await?;
                self.writer.begin_with("BEGIN IMMEDIATE").await?
            }
            Err(e) => return Err(e.into()),
        };
        crate::audit::note_write_wait(started.elapsed());
        Ok(tx)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn run_migrations(&self) -> Result<(), crate::StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    /// Sets the writer's page cache for stores opened afterwards in this process, unless
    /// `MEMBEROPS_SQLITE_CACHE_MIB` is set: a bulk import keeps its memory bounded with a
    /// smaller cache than a long-running server wants.
    pub fn set_default_writer_cache_mib(mib: u64) {
        DEFAULT_WRITER_CACHE_MIB.store(mib.max(1), Ordering::Relaxed);
    }

    /// The writer pool, for benchmarks that compare against raw inserts.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }
}

crate::backend::impl_backend!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::analytics::impl_analytics!(SqliteStore, SqliteTx, sqlx::Sqlite, "group_concat(", ")");
crate::loyalty::impl_loyalty!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::loyalty::history::impl_loyalty_history!(SqliteTx, sqlx::Sqlite);
crate::loyalty::trials::impl_tier_trials!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::loyalty::referrals::impl_referrals!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::coupons::impl_coupons!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::tracking::impl_tracking!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::segments::impl_segments!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::segments::impl_tags!(SqliteTx, sqlx::Sqlite);
crate::segments::impl_segment_catalog!(SqliteStore);
crate::intel_settings::impl_intel_settings!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::log::impl_log!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::lists::impl_lists!(SqliteStore, sqlx::Sqlite);
crate::stores::impl_stores!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::keys::impl_keys!(SqliteStore);
crate::privacy::impl_privacy!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::audit::impl_audit!(SqliteStore, sqlx::Sqlite, "./migrations/sqlite");
crate::clv::impl_clv!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::operators::impl_operators!(SqliteStore, sqlx::Sqlite);
crate::webhooks::impl_webhooks!(SqliteStore, SqliteTx, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
crate::campaigns::impl_campaigns!(SqliteStore, SqliteTx, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
crate::journeys::impl_journeys!(SqliteStore, SqliteTx, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
