//! `memberops worker`: the background worker on its own (`serve` runs one too, unless
//! `--no-worker`). Several workers may run against one PostgreSQL database: claims use
//! leases with `FOR UPDATE SKIP LOCKED`, so each job runs once at a time.

use std::time::Duration;

use memberops_app::jobs::{Runner, WorkerConfig};
use memberops_store::Store;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args, Clone)]
pub struct WorkerArgs {
    /// Seconds between polls of the jobs table when nothing is due.
    #[arg(long, env = "MEMBEROPS_WORKER_POLL_SECS", default_value_t = 5.0)]
    pub poll_secs: f64,
    /// Seconds a claimed job is leased for (extended while it runs).
    #[arg(long, env = "MEMBEROPS_WORKER_LEASE_SECS", default_value_t = 60)]
    pub lease_secs: u64,
    /// Attempts before a failing job is given up.
    #[arg(long, env = "MEMBEROPS_WORKER_MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: i32,
    /// Do not enqueue the daily jobs from this process (only drain the queue).
    #[arg(long)]
    pub no_schedule: bool,
}

impl WorkerArgs {
    pub fn runner(
        &self,
        store: std::sync::Arc<dyn Store>,
        segments: memberops_app::segments::IndexCache,
    ) -> anyhow::Result<Runner> {
        if !(self.poll_secs.is_finite() && self.poll_secs > 0.0) {
            anyhow::bail!("--poll-secs must be a positive number");
        }
        if self.lease_secs < 3 {
            anyhow::bail!("--lease-secs must be at least 3");
        }
        if self.max_attempts < 1 {
            anyhow::bail!("--max-attempts must be at least 1");
        }
        Ok(Runner {
            store,
            segments,
            config: WorkerConfig {
                poll: Duration::from_secs_f64(self.poll_secs),
                lease: Duration::from_secs(self.lease_secs),
                max_attempts: self.max_attempts,
                schedule: !self.no_schedule,
                ..WorkerConfig::default()
            },
        })
    }
}

pub async fn run(db: &str, args: WorkerArgs) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let runner = args.runner(store, Default::default())?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        stop.cancel();
    });
    memberops_app::jobs::run(runner, cancel).await;
    Ok(())
}
