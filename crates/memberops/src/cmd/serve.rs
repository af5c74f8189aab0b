use anyhow::Context;
use memberops_api::AppState;
use memberops_store::KeyScope;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "MEMBEROPS_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Fill an empty database with demo data first and print an admin key for it, and
    /// the web console's address with the password of `admin@demo.local`.
    #[arg(long)]
    demo: bool,
    /// Members to generate with --demo.
    #[arg(long, default_value_t = 2000)]
    demo_members: usize,
    /// Do not run the background worker in this process (run `memberops worker` instead).
    #[arg(long, env = "MEMBEROPS_NO_WORKER")]
    no_worker: bool,
    /// Connections served at once (keep it below `ulimit -n` minus the database pool);
    /// further clients wait in the listen backlog.
    #[arg(long, env = "MEMBEROPS_MAX_CONNECTIONS", default_value_t = 512)]
    max_connections: usize,
    /// Seconds a request may take, its body upload included (then 503 `timeout`).
    #[arg(long, env = "MEMBEROPS_REQUEST_TIMEOUT", default_value_t = 60)]
    request_timeout: u64,
    /// Seconds a client may take to send a request head, or stay idle between requests.
    #[arg(long, env = "MEMBEROPS_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    #[command(flatten)]
    worker: super::worker::WorkerArgs,
}

pub async fn run(db: &str, args: Args) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    if args.demo {
        let ws = super::default_workspace(store.as_ref()).await?;
        if store.counts(&ws.id).await?.members == 0 {
            tracing::info!(
                members = args.demo_members,
                "filling the empty database with demo data"
            );
            let t = super::demo::fill(
                store.as_ref(),
                &ws,
                args.demo_members,
                42,
                chrono::Utc::now().date_naive(),
                false,
            )
            .await?;
            tracing::info!(events = t.applied, "demo data ready");
        }
        let (_, secret) =
            memberops_app::keys::create(store.as_ref(), &ws.id, "demo", KeyScope::Admin).await?;
        println!("demo API key (admin): {secret}");
        println!(
            "try: curl -H 'Authorization: Bearer {secret}' 'http://{}/v1/members?limit=3'",
            args.addr
        );
        let password = memberops_app::operators::demo_admin(
            store.as_ref(),
            &ws.id,
            memberops_core::time::now_millis(),
        )
        .await?;
        println!(
            "web console: http://{}/ (sign in as {} with password {password})",
            args.addr,
            memberops_app::operators::DEMO_ADMIN
        );
    }
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, db = %redact(db), "MemberOps listening");
    let workspaces = memberops_app::Workspaces::new(store.clone());
    let state = AppState::new(store.clone())
        .with_workspaces(workspaces.clone())
        .with_webhook_policy(args.worker.address_policy());
    // The segment index loads in the background; segment queries wait for it.
    let ws = super::default_workspace(state.store.as_ref()).await?;
    state.segments.warm(state.store.clone(), ws);
    let cancel = tokio_util::sync::CancellationToken::new();
    let background = if args.no_worker {
        Vec::new()
    } else {
        args.worker
            .spawn(workspaces, state.segments.clone(), &cancel)?
    };
    let stop = cancel.clone();
    let limits = memberops_api::Limits {
        max_connections: args.max_connections.max(1),
        request_timeout: std::time::Duration::from_secs(args.request_timeout.max(1)),
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
        ..Default::default()
    };
    memberops_api::serve_with(listener, state, limits, async move {
        shutdown_signal().await;
        stop.cancel();
    })
    .await?;
    cancel.cancel();
    // A job, a consumer page or a delivery in progress finishes first (its lease would
    // otherwise hand it to another worker).
    for task in background {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish requests in flight.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// A database URL without its password, for logs.
fn redact(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &db[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &db[..scheme + 3], &db[at..]),
                None => db.to_owned(),
            }
        }
        _ => db.to_owned(),
    }
}
