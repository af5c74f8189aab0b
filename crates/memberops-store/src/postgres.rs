//! The production backend: PostgreSQL. API and worker processes are stateless over it.

use sqlx::postgres::{PgPool, PgPoolOptions};

pub struct PgStore {
    pool: PgPool,
    stats_throttle: crate::stats::Throttle,
}

impl PgStore {
    const BACKEND: crate::Backend = crate::Backend::Postgres;

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn connect(url: &str) -> Result<Self, crate::StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        Ok(PgStore {
            pool,
            stats_throttle: crate::stats::Throttle::new(),
        })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn begin_tx(
        &self,
        workspace_id: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, crate::StoreError> {
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        // Serialises writers of one workspace (released at commit or rollback), so checks
        // made inside the transaction hold until it ends, as on SQLite.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        crate::audit::note_write_wait(started.elapsed());
        Ok(tx)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn run_migrations(&self) -> Result<(), crate::StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        // A migration may have filled or rewritten tables; the first statements after it
        // should not be planned blind (see `stats`).
        if self.stats_throttle.enabled {
            crate::stats::analyze_grown(&self.pool).await?;
        }
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn stats_throttle(&self) -> &crate::stats::Throttle {
        &self.stats_throttle
    }
}

crate::backend::impl_backend!(PgStore, PgTx, sqlx::Postgres);
crate::analytics::impl_analytics!(
    PgStore,
    PgTx,
    sqlx::Postgres,
    "string_agg(",
    ", ',' ORDER BY day)"
);
crate::loyalty::impl_loyalty!(PgStore, PgTx, sqlx::Postgres);
crate::loyalty::history::impl_loyalty_history!(PgTx, sqlx::Postgres);
crate::loyalty::trials::impl_tier_trials!(PgStore, PgTx, sqlx::Postgres);
crate::loyalty::referrals::impl_referrals!(PgStore, PgTx, sqlx::Postgres);
crate::coupons::impl_coupons!(PgStore, PgTx, sqlx::Postgres);
crate::tracking::impl_tracking!(PgStore, PgTx, sqlx::Postgres);
crate::segments::impl_segments!(PgStore, PgTx, sqlx::Postgres);
crate::segments::impl_tags!(PgTx, sqlx::Postgres);
crate::segments::impl_segment_catalog!(PgStore);
crate::intel_settings::impl_intel_settings!(PgStore, PgTx, sqlx::Postgres);
crate::log::impl_log!(PgStore, PgTx, sqlx::Postgres);
crate::lists::impl_lists!(PgStore, sqlx::Postgres);
crate::stores::impl_stores!(PgStore, PgTx, sqlx::Postgres);
crate::keys::impl_keys!(PgStore);
crate::privacy::impl_privacy!(PgStore, PgTx, sqlx::Postgres);
crate::audit::impl_audit!(PgStore, sqlx::Postgres, "./migrations/postgres");
crate::clv::impl_clv!(PgStore, PgTx, sqlx::Postgres);
crate::operators::impl_operators!(PgStore, sqlx::Postgres);
crate::webhooks::impl_webhooks!(
    PgStore,
    PgTx,
    sqlx::Postgres,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED"
);
crate::campaigns::impl_campaigns!(
    PgStore,
    PgTx,
    sqlx::Postgres,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED"
);
crate::journeys::impl_journeys!(
    PgStore,
    PgTx,
    sqlx::Postgres,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED"
);
