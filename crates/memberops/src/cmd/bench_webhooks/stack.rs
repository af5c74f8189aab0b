//! The server as `serve` runs it (API and worker) on a fresh database, with timing of each
//! consumer step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memberops_api::AppState;
use memberops_app::consumers::{self, Registry, Step};
use memberops_app::webhooks::dispatch::{DispatchConfig, Dispatcher};
use memberops_app::{Workspace, Workspaces};
use memberops_store::{KeyScope, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;

pub(super) struct Stack {
    pub(super) store: Arc<dyn Store>,
    pub(super) ws: Arc<Workspace>,
    pub(super) api: Api,
    pub(super) stop: CancellationToken,
    pub(super) server: JoinHandle<std::io::Result<()>>,
    pub(super) worker_stop: CancellationToken,
    pub(super) worker: Vec<JoinHandle<()>>,
    /// With [`WorkerMode::Timed`]: time in each consumer's steps.
    pub(super) steps: Option<Arc<Mutex<StepTimes>>>,
}

/// What runs beside the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WorkerMode {
    Off,
    /// `WorkerArgs::spawn`, as `serve` starts it.
    Serve,
    /// The consumers' loop (`consumers::run`) copied here with each step timed, and the
    /// dispatcher if asked; no jobs loop.
    Timed {
        dispatcher: bool,
    },
}

impl WorkerMode {
    pub(super) fn label(self) -> &'static str {
        match self {
            WorkerMode::Off => "no worker",
            WorkerMode::Serve => "worker as serve",
            WorkerMode::Timed { dispatcher: false } => "timed consumers, no dispatcher",
            WorkerMode::Timed { dispatcher: true } => "timed consumers + dispatcher",
        }
    }
}

/// Per consumer: pages handled, events in them, and the wall time of its steps (from
/// asking for the member cache lock to the commit: waiting for the lock and the writer
/// included).
#[derive(Clone, Debug, Default)]
pub(super) struct StepTime {
    pub(super) pages: usize,
    pub(super) events: usize,
    pub(super) busy: Duration,
    /// Steps that found nothing, and their time.
    pub(super) idle: usize,
    pub(super) idle_time: Duration,
}

pub(super) type StepTimes = BTreeMap<&'static str, StepTime>;

/// `consumers::run` for the default workspace, each step timed into `times`.
pub(super) async fn timed_consumers(
    workspaces: Workspaces,
    registry: Registry,
    poll: Duration,
    cancel: CancellationToken,
    times: Arc<Mutex<StepTimes>>,
) {
    let store = workspaces.store().clone();
    let ws = match workspaces.get(memberops_core::id::DEFAULT_WORKSPACE).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::error!(error = %e, "loading the workspace failed");
            return;
        }
    };
    while !cancel.is_cancelled() {
        let mut busy = false;
        for c in registry.consumers() {
            let t = Instant::now();
            let step = consumers::step(store.as_ref(), &ws, c.as_ref(), registry.page).await;
            let took = t.elapsed();
            let mut times = lock(&times);
            let e = times.entry(c.name()).or_default();
            match step {
                Ok(Step::Handled(n)) => {
                    busy = true;
                    e.pages += 1;
                    e.events += n;
                    e.busy += took;
                }
                Ok(_) => {
                    e.idle += 1;
                    e.idle_time += took;
                }
                Err(err) => {
                    tracing::error!(consumer = c.name(), error = %err, "consumer step failed")
                }
            }
        }
        if busy {
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            () = ws.committed_or(poll) => {}
        }
    }
}

/// The worker as `serve` starts it, with loopback receivers allowed and without the daily
/// job scheduler (its jobs have nothing to do with webhooks and would run at a random
/// moment of a run; the jobs loop itself runs).
pub(super) fn worker_args() -> super::super::worker::WorkerArgs {
    super::super::worker::WorkerArgs {
        poll_secs: 5.0,
        lease_secs: 60,
        max_attempts: 5,
        no_schedule: true,
        consumer_poll_ms: 250,
        webhooks_allow_private: true,
    }
}

impl Stack {
    /// Migrates a fresh database and serves the API on loopback, with the worker if asked.
    pub(super) async fn start(url: &str, mode: WorkerMode) -> anyhow::Result<Stack> {
        let store = super::super::open(url).await?;
        let workspaces = Workspaces::new(store.clone());
        let ws = workspaces
            .get(memberops_core::id::DEFAULT_WORKSPACE)
            .await?;
        let (_, key) =
            memberops_app::keys::create(store.as_ref(), &ws.id, "bench", KeyScope::Admin).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let args = worker_args();
        let state = AppState::new(store.clone())
            .with_workspaces(workspaces.clone())
            .with_webhook_policy(args.address_policy());
        state.segments.warm(
            store.clone(),
            super::super::default_workspace(store.as_ref()).await?,
        );
        let segments = state.segments.clone();
        let stop = CancellationToken::new();
        let server = tokio::spawn(memberops_api::serve(
            listener,
            state,
            stop.clone().cancelled_owned(),
        ));
        let worker_stop = CancellationToken::new();
        let mut steps = None;
        let worker = match mode {
            WorkerMode::Off => Vec::new(),
            WorkerMode::Serve => args.spawn(workspaces, segments, &worker_stop)?,
            WorkerMode::Timed { dispatcher } => {
                let times: Arc<Mutex<StepTimes>> = Arc::default();
                steps = Some(times.clone());
                let mut tasks = vec![tokio::spawn(timed_consumers(
                    workspaces,
                    Registry::standard(),
                    Duration::from_millis(args.consumer_poll_ms),
                    worker_stop.clone(),
                    times,
                ))];
                if dispatcher {
                    let d = Arc::new(Dispatcher::new(
                        store.clone(),
                        DispatchConfig {
                            policy: args.address_policy(),
                            ..DispatchConfig::default()
                        },
                    )?);
                    tasks.push(tokio::spawn(d.run(worker_stop.clone())));
                }
                tasks
            }
        };
        Ok(Stack {
            store,
            ws,
            api: Api {
                addr,
                key,
                idle: Arc::default(),
            },
            stop,
            server,
            worker_stop,
            worker,
            steps,
        })
    }

    pub(super) async fn stop(self) {
        self.worker_stop.cancel();
        for t in self.worker {
            let _ = t.await;
        }
        lock(&self.api.idle).clear();
        self.stop.cancel();
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phases.
