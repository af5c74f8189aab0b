//! Keeping PostgreSQL's planner statistics in step with writes that grow tables (see
//! `memberops_store::StatsStore`): without it, a new database planned its look-ups as if
//! its tables were empty until something ran `ANALYZE`.

use memberops_store::Store;

/// Called after a commit that may have grown tables, with no lock held: the store
/// analyses what has grown (nothing on SQLite; on PostgreSQL a catalog read at most once a
/// second, an `ANALYZE` when a table has doubled). What was committed stands whatever
/// happens here, so a failure is logged, not returned.
pub(crate) async fn after_growth(store: &dyn Store) {
    if let Err(e) = store.analyze_if_grown().await {
        tracing::warn!(error = %e, "refreshing planner statistics failed");
    }
}
