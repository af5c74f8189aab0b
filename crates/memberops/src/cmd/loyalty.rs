//! `memberops loyalty …`: the loyalty jobs, run by cron or by hand. Both are idempotent:
//! running a date twice writes nothing the second time.

use anyhow::Context;
use clap::Subcommand;
use memberops_core::time::When;

#[derive(Subcommand)]
pub enum Command {
    /// Write `expire` lines for points left in lots expired at --as-of.
    Expire(JobArgs),
    /// The tier review: downgrade (or upgrade) members on the review date.
    Review(JobArgs),
}

#[derive(clap::Args)]
pub struct JobArgs {
    /// RFC 3339 instant or YYYY-MM-DD (midnight in the workspace's zone); default now.
    #[arg(long)]
    as_of: Option<String>,
}

fn as_of(a: &JobArgs, ws: &memberops_app::Workspace) -> anyhow::Result<i64> {
    match &a.as_of {
        None => Ok(memberops_core::time::now_millis()),
        Some(t) => Ok(When::parse(t, "as_of")
            .context("--as-of")?
            .resolve(ws.time_zone)
            .0),
    }
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    match c {
        Command::Expire(a) => {
            let r =
                memberops_app::loyalty::jobs::expire(store.as_ref(), &ws, as_of(&a, &ws)?).await?;
            println!(
                "expired {} points in {} lots of {} members",
                r.points, r.lots, r.members
            );
        }
        Command::Review(a) => {
            let r =
                memberops_app::loyalty::jobs::review(store.as_ref(), &ws, as_of(&a, &ws)?).await?;
            println!(
                "reviewed {} members: {} upgraded, {} downgraded",
                r.reviewed, r.upgraded, r.downgraded
            );
        }
    }
    Ok(())
}
