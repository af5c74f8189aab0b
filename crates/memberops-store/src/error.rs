/// What went wrong in storage, classified so that nothing above this crate sees sqlx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (e.g. a duplicate external id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row held data this version cannot read (e.g. a malformed JSON column).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The disk (or SQLite's `max_page_count`, or PostgreSQL's tablespace) is full: the
    /// write was rolled back, nothing half-written.
    #[error("the database's disk is full")]
    Full,
    /// No connection came free within the pool's acquire timeout.
    #[error("the database is busy: no connection came free in time")]
    Busy,
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db) if is_full(db.code().as_deref()) => StoreError::Full,
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            _ => StoreError::Database(e),
        }
    }
}

/// SQLITE_FULL (13) and PostgreSQL's `disk_full` (53100).
fn is_full(code: Option<&str>) -> bool {
    matches!(code, Some("13" | "53100"))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
