use chrono::NaiveDate;
use memberops_app::Workspace;
use memberops_app::ingest::{BatchOptions, apply_batch};
use memberops_core::event::EventIn;
use memberops_demo::{DemoConfig, generate};
use memberops_store::Store;

#[derive(clap::Args)]
pub struct Args {
    /// How many members to create.
    #[arg(long, default_value_t = 2000)]
    members: usize,
    /// The same seed gives the same membership.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The last day of the simulated history (default and latest: yesterday, UTC, so no
    /// event is dated in the future).
    #[arg(long)]
    today: Option<NaiveDate>,
}

pub async fn run(db: &str, args: Args) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let t = fill(store.as_ref(), &ws, args.members, args.seed, today, true).await?;
    println!(
        "demo data: {} members, {} events applied ({} already there, {} rejected)",
        args.members, t.applied, t.duplicates, t.rejected
    );
    Ok(())
}

#[derive(Default)]
pub struct Totals {
    pub applied: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// Generates the membership and applies it through the event path, a few thousand events
/// per transaction. Deterministic ids make a re-run a no-op.
pub async fn fill(
    store: &dyn Store,
    ws: &Workspace,
    members: usize,
    seed: u64,
    today: NaiveDate,
    show_progress: bool,
) -> anyhow::Result<Totals> {
    const BATCH: usize = 5_000;
    // A simulated day runs to 23:59:59 UTC: only a day already over keeps every event in
    // the past (events dated in the future are refused).
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let today = today.min(yesterday);
    let cfg = DemoConfig {
        members,
        seed,
        today,
    };
    let bar = if show_progress {
        super::progress_bar(
            members as u64,
            "{spinner} [{elapsed_precise}] [{wide_bar}] {pos}/{len} members",
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut totals = Totals::default();
    let mut pending: Vec<EventIn> = Vec::with_capacity(BATCH + 64);
    for member_events in generate(&cfg) {
        pending.extend(member_events);
        bar.inc(1);
        if pending.len() >= BATCH {
            apply(store, ws, &mut pending, &mut totals).await?;
        }
    }
    apply(store, ws, &mut pending, &mut totals).await?;
    bar.finish_and_clear();
    Ok(totals)
}

async fn apply(
    store: &dyn Store,
    ws: &Workspace,
    pending: &mut Vec<EventIn>,
    totals: &mut Totals,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let report = apply_batch(store, ws, std::mem::take(pending), BatchOptions::default()).await?;
    totals.applied += report.accepted;
    totals.duplicates += report.duplicates;
    totals.rejected += report.rejected;
    if let Some(bad) = report.results.iter().find(|r| r.error.is_some()) {
        tracing::warn!(id = %bad.id, error = ?bad.error, "demo event rejected");
    }
    Ok(())
}
