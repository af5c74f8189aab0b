//! The embedded backend: one SQLite file in WAL mode. A single writer connection (SQLite
//! allows one writer at a time anyway; queuing in the pool is cheaper than lock retries)
//! and a small pool of readers that WAL lets run beside it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    const BACKEND: crate::Backend = crate::Backend::Sqlite;

    /// Opens (creating if needed) the database file at `path`; `:memory:` gives a private
    /// in-memory database on one connection.
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
            // Checkpoint every ~32 MiB of WAL instead of every 4 MiB: one event batch dirties
            // thousands of member-keyed pages, and a page changed by several batches is then
            // copied into the database once.
            .pragma("wal_autocheckpoint", "8192")
            // Rows cross from SQLite's worker thread to the task in a bounded channel; the
            // default of 50 makes a 10,000-row read wait on 200 thread hand-offs.
            .row_buffer_size(4096);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(opts.clone())
            .await?;
        let readers = if path == ":memory:" {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?
        };
        Ok(SqliteStore { writer, readers })
    }

    fn reader(&self) -> &SqlitePool {
        &self.readers
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_tx(
        &self,
        _workspace_id: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, crate::StoreError> {
        // IMMEDIATE takes the write lock now, so a transaction never fails half-way with
        // SQLITE_BUSY when it first writes.
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn run_migrations(&self) -> Result<(), crate::StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.writer)
            .await?;
        Ok(())
    }

    /// The writer pool, for benchmarks that compare against raw inserts.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }
}

crate::backend::impl_backend!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::loyalty::impl_loyalty!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::coupons::impl_coupons!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::tracking::impl_tracking!(SqliteStore, SqliteTx, sqlx::Sqlite);
crate::segments::impl_segments!(SqliteStore, SqliteTx, sqlx::Sqlite);
