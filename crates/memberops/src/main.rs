//! `memberops`: the MemberOps server and command-line tool.

mod cmd;

// glibc's allocator spends much of the ingest path consolidating free lists (seen with
// perf); mimalloc does not. Its `override` feature also routes the bundled SQLite's
// malloc/free (about a tenth of ingest CPU) through mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// MemberOps: member operations platform (会员运营系统).
#[derive(Parser)]
#[command(name = "memberops", version, about, long_about = None)]
struct Cli {
    /// Database: a SQLite file path (default ./memberops.db) or postgres://user@host/db.
    #[arg(
        long,
        global = true,
        env = "MEMBEROPS_DATABASE_URL",
        default_value = "memberops.db"
    )]
    db: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server: the API (JSON under /v1, /healthz, /openapi.json, /docs) and the
    /// web console (/, /login).
    Serve(cmd::serve::Args),
    /// Run the background worker alone: daily jobs (points expiry, tier review, lifecycle
    /// recompute, birthday gifts) from the jobs table, the event log's consumers (coupon
    /// rules, webhooks) and the webhook dispatcher.
    Worker(cmd::worker::WorkerArgs),
    /// The event log's consumers: cursor, lag behind the head, last error.
    Consumers(cmd::consumers::Args),
    /// Apply database migrations and exit.
    Migrate,
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Apikey(cmd::apikey::Command),
    /// Web console accounts: `user create --email E --role admin`, `reset-password`, `list`.
    #[command(subcommand)]
    User(cmd::user::Command),
    /// The audit log of writes by operator and admin keys, newest first.
    Audit(cmd::audit::Args),
    /// The workspace's settings: `workspace show`, `workspace set --calling-code 1`.
    #[command(subcommand)]
    Workspace(cmd::workspace::Command),
    /// Write an online, consistent snapshot of the SQLite database to FILE.
    Backup(cmd::backup::BackupArgs),
    /// Replace the SQLite database with a snapshot (refuses a live one without --force).
    Restore(cmd::backup::RestoreArgs),
    /// Import members or orders from CSV files through the event path (idempotent).
    #[command(subcommand)]
    Import(cmd::import::Command),
    /// Coupon templates, reports and code generation.
    #[command(subcommand)]
    Coupons(cmd::coupons::Command),
    /// Fill the database with a realistic synthetic membership.
    Demo(cmd::demo::Args),
    /// Print the OpenAPI document.
    Openapi,
    /// Loyalty jobs: points expiry and the tier review.
    #[command(subcommand)]
    Loyalty(cmd::loyalty::Command),
    /// Reports: RFM as of a date, analytics (cohorts, overview).
    #[command(subcommand)]
    Report(cmd::segments::ReportCommand),
    /// Analytics aggregates: `analytics rebuild`.
    #[command(subcommand)]
    Analytics(cmd::analytics::Command),
    /// Lifecycle stages: the daily recompute job.
    #[command(subcommand)]
    Lifecycle(cmd::segments::LifecycleCommand),
    /// Member-intelligence rules: `intelligence settings show|set FILE`.
    #[command(subcommand)]
    Intelligence(cmd::segments::IntelligenceCommand),
    /// Member-intelligence benchmark on a fresh SQLite file (see bench/segments).
    BenchSegments(cmd::segments_bench::Args),
    /// Run a benchmark (see bench/).
    #[command(subcommand)]
    Bench(cmd::bench::Command),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    cmd::init_tracing();
    let result = run(cli).await;
    match result {
        // The reader went away (`memberops report rfm … | head`): nothing left to say.
        Err(e) if is_broken_pipe(&e) => std::process::exit(0),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when stdout's reader has closed (Rust ignores SIGPIPE, and unsafe code
/// to restore it is forbidden here): such a panic ends the process quietly with status 0,
/// as a command piped into `head` should; every other panic keeps the default report.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => cmd::serve::run(&cli.db, args).await,
        Command::Worker(args) => cmd::worker::run(&cli.db, args).await,
        Command::Consumers(args) => cmd::consumers::run(&cli.db, args).await,
        Command::Migrate => cmd::migrate(&cli.db).await,
        Command::Apikey(c) => cmd::apikey::run(&cli.db, c).await,
        Command::User(c) => cmd::user::run(&cli.db, c).await,
        Command::Audit(a) => cmd::audit::run(&cli.db, a).await,
        Command::Workspace(c) => cmd::workspace::run(&cli.db, c).await,
        Command::Backup(a) => cmd::backup::backup(&cli.db, a).await,
        Command::Restore(a) => cmd::backup::restore(&cli.db, a).await,
        Command::Import(c) => cmd::import::run(&cli.db, c).await,
        Command::Coupons(c) => cmd::coupons::run(&cli.db, c).await,
        Command::Demo(args) => cmd::demo::run(&cli.db, args).await,
        Command::Openapi => {
            println!("{}", cmd::openapi_json()?);
            Ok(())
        }
        Command::Loyalty(c) => cmd::loyalty::run(&cli.db, c).await,
        Command::Bench(c) => cmd::bench::run(c).await,
        Command::BenchSegments(a) => cmd::segments_bench::run(a).await,
        Command::Report(c) => cmd::segments::report(&cli.db, c).await,
        Command::Analytics(c) => cmd::analytics::run(&cli.db, c).await,
        Command::Lifecycle(c) => cmd::segments::lifecycle(&cli.db, c).await,
        Command::Intelligence(c) => cmd::segments::intelligence(&cli.db, c).await,
    }
}
