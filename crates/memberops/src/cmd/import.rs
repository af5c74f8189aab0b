use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use memberops_app::import::{ImportSummary, Kind, import_csv};

#[derive(Subcommand)]
pub enum Command {
    /// Members CSV: member_id (or external_id), phone, email, name, gender, birthday,
    /// income_band, region, channel, registered_at, time_zone, consent_<channel>, tags;
    /// other columns become custom attributes.
    Members(FileArgs),
    /// Orders CSV: member_id, order_id (optional), ordered_at (YYYY-MM-DD or RFC 3339),
    /// amount (decimal, e.g. 12.50), channel (optional). Unknown members are created;
    /// consecutive lines of one order_id are one order.
    Orders(FileArgs),
}

#[derive(clap::Args)]
pub struct FileArgs {
    file: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let (kind, args) = match c {
        Command::Members(a) => (Kind::Members, a),
        Command::Orders(a) => (Kind::Orders, a),
    };
    // A bounded footprint matters more to a one-off import than the last few percent of
    // speed: with a 64 MiB writer cache a 1M-row import peaked at 289 MiB, with 32 MiB at
    // 252 MiB. The event path's member cache (~55 MB for 100k members with aggregates and
    // loyalty state) took the same import to 311,500 kB, past the 300 MB bound: an import
    // keeps none unless `MEMBEROPS_MEMBER_CACHE` says (bench/RESULTS.md).
    memberops_store::SqliteStore::set_default_writer_cache_mib(32);
    memberops_app::member_cache::set_default_max_members(0);
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = super::progress_bar(
        size,
        "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {msg}",
    );
    let reader = Counting {
        inner: BufReader::with_capacity(1 << 20, file),
        bar: bar.clone(),
    };
    let summary = import_csv(store.as_ref(), &ws, kind, reader, |s| {
        bar.set_message(format!(
            "{} rows, {} applied, {} duplicates, {} rejected",
            s.rows_read, s.applied, s.duplicates, s.rejected
        ));
    })
    .await?;
    bar.finish_and_clear();
    print_summary(&summary, args.json)?;
    Ok(())
}

fn print_summary(s: &ImportSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    println!("rows read:       {}", s.rows_read);
    println!("applied:         {}", s.applied);
    println!("duplicates:      {}", s.duplicates);
    println!("rejected:        {}", s.rejected);
    if s.merged_lines > 0 {
        println!(
            "merged lines:    {} (extra lines of multi-line orders)",
            s.merged_lines
        );
    }
    println!("members created: {}", s.members_created);
    const SHOWN: usize = 50;
    for (line, why) in s.rejected_lines.iter().take(SHOWN) {
        println!("  line {line}: {why}");
    }
    if s.rejected as usize > SHOWN {
        println!(
            "  … and {} more (use --json for the full list)",
            s.rejected as usize - SHOWN
        );
    }
    Ok(())
}
