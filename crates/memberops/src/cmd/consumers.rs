//! `memberops consumers`: where each consumer of the event log stands, how far behind the
//! log's head (events and seconds), and its last error; `--drain` first brings them all up
//! to the head in this process (what the worker does continuously).

use memberops_app::consumers::{self, Registry};

#[derive(clap::Args)]
pub struct Args {
    /// `table` (default) or `json`.
    #[arg(long, default_value = "table")]
    format: String,
    /// Run every consumer up to the log's head first.
    #[arg(long)]
    drain: bool,
}

pub async fn run(db: &str, args: Args) -> anyhow::Result<()> {
    if !["table", "json"].contains(&args.format.as_str()) {
        anyhow::bail!("--format is `table` or `json`");
    }
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let registry = Registry::standard();
    if args.drain {
        let n = consumers::drain(store.as_ref(), &ws, &registry).await?;
        eprintln!("handled {n} events");
    }
    let lag = consumers::lag(store.as_ref(), &ws, &registry).await?;
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&lag)?);
        return Ok(());
    }
    println!(
        "{:<16} {:>12} {:>12} {:>14} {:>12} {:>9}  last error",
        "consumer", "cursor", "head", "events behind", "seconds", "failures"
    );
    for c in lag {
        println!(
            "{:<16} {:>12} {:>12} {:>14} {:>12.1} {:>9}  {}",
            c.name,
            c.cursor_seq,
            c.head_seq,
            c.events_behind,
            c.seconds_behind,
            c.failures,
            c.last_error.unwrap_or_default()
        );
    }
    Ok(())
}
