//! `memberops worker`: the background worker on its own (`serve` runs one too, unless
//! `--no-worker`): the daily jobs, the event log's consumers and the webhook dispatcher.
//! Several workers may run against one PostgreSQL database: job and delivery claims use
//! leases with `FOR UPDATE SKIP LOCKED`, and a consumer's page holds its workspace's write
//! lock, so nothing runs twice at a time.

use std::sync::Arc;
use std::time::Duration;

use memberops_app::Workspaces;
use memberops_app::consumers::Registry;
use memberops_app::jobs::{Runner, WorkerConfig};
use memberops_app::webhooks::AddressPolicy;
use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
use memberops_store::Store;
use tokio::task::JoinHandle;
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
    /// Milliseconds between polls of the event log by the consumers when this process
    /// commits nothing (its own commits wake them at once).
    #[arg(long, env = "MEMBEROPS_CONSUMER_POLL_MS", default_value_t = 250)]
    pub consumer_poll_ms: u64,
    /// Let webhook endpoints point at loopback, link-local or private addresses (tests, a
    /// receiver on the brand's own network). Off: an API key cannot make the server call
    /// its own network.
    #[arg(long, env = "MEMBEROPS_WEBHOOKS_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub webhooks_allow_private: bool,
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

impl WorkerArgs {
    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy {
            allow_private: self.webhooks_allow_private,
        }
    }

    /// Starts the jobs loop, the consumers and the webhook dispatcher; each stops at
    /// `cancel` after finishing what it has started.
    pub fn spawn(
        &self,
        workspaces: Workspaces,
        segments: memberops_app::segments::IndexCache,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Vec<JoinHandle<()>>> {
        let store: Arc<dyn Store> = workspaces.store().clone();
        let runner = self.runner(store.clone(), segments.clone())?;
        let ids = runner.config.workspaces.clone();
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            DispatchConfig {
                policy: self.address_policy(),
                ..DispatchConfig::default()
            },
        )?);
        let campaigns = memberops_app::campaigns::dispatch::spawn_from_env(&workspaces, cancel)?;
        let journeys = memberops_app::journeys::runner::spawn(&workspaces, &segments, cancel);
        Ok(vec![
            journeys,
            tokio::spawn(memberops_app::ops::heartbeat(store.clone(), cancel.clone())),
            campaigns,
            tokio::spawn(memberops_app::jobs::run(runner, cancel.clone())),
            tokio::spawn(memberops_app::consumers::run(
                workspaces,
                ids,
                Registry::standard(),
                Duration::from_millis(self.consumer_poll_ms.max(1)),
                cancel.clone(),
            )),
            tokio::spawn(dispatcher.run(cancel.clone())),
        ])
    }
}

pub async fn run(db: &str, args: WorkerArgs) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let cancel = CancellationToken::new();
    let tasks = args.spawn(Workspaces::new(store), Default::default(), &cancel)?;
    super::serve::shutdown_signal().await;
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}
