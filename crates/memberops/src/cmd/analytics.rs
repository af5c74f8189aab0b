//! `memberops report cohorts|overview` and `memberops analytics rebuild`: the analytics
//! reports from the command line (the same use cases the API calls; docs/analytics.md).

use std::io::Write;

use anyhow::Context;
use memberops_app::analytics::funnel::{self, FunnelParams};
use memberops_app::analytics::reports::{self, ChannelParams, CohortParams, OverviewParams};
use memberops_app::analytics::tables::channels::CHANNEL_COLUMNS;
use memberops_app::analytics::tables::cohorts::COHORT_COLUMNS;
use memberops_app::analytics::tables::decomposition::DECOMPOSITION_COLUMNS;
use memberops_app::analytics::tables::funnel::{FUNNEL_COLUMNS, FunnelGroup};
use memberops_app::analytics::tables::overview::OVERVIEW_COLUMNS;
use memberops_app::analytics::tables::portrait::PORTRAIT_COLUMNS;
use memberops_app::analytics::tables::repurchase::MAGIC_COLUMNS;
use memberops_app::segments::IndexCache;

use super::segments::ReportCommand;

/// Where a report goes and in which form.
#[derive(clap::Args)]
pub struct Output {
    /// `csv` or `json`.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
}

impl Output {
    fn check(&self) -> anyhow::Result<()> {
        if !matches!(self.format.as_str(), "csv" | "json") {
            anyhow::bail!("--format is csv or json");
        }
        Ok(())
    }

    fn writer(&self) -> anyhow::Result<Box<dyn Write>> {
        let out: Box<dyn Write> = match &self.output {
            Some(p) => Box::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        Ok(Box::new(std::io::BufWriter::with_capacity(1 << 20, out)))
    }

    /// Writes `header` and `rows` as CSV, or `json` as JSON.
    fn write<S: serde::Serialize>(
        &self,
        header: &[&str],
        rows: Vec<Vec<String>>,
        json: &S,
    ) -> anyhow::Result<()> {
        let mut out = self.writer()?;
        if self.format == "csv" {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(header)?;
            for r in rows {
                w.write_record(&r)?;
            }
            w.flush()?;
        } else {
            serde_json::to_writer_pretty(&mut out, json)?;
            writeln!(out)?;
        }
        out.flush()?;
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct CohortsArgs {
    /// `first_order` (the local month or week of the first order that counts) or `registration`.
    #[arg(long, default_value = "first_order")]
    by: String,
    /// `month` or `week` (ISO weeks, Monday first).
    #[arg(long, default_value = "month")]
    period: String,
    /// `ordered` (at least one order in the period) or `active` (at least one event of the member's own).
    #[arg(long, default_value = "ordered")]
    measure: String,
    /// YYYY-MM-DD (default today in the workspace's zone): nothing after it counts.
    #[arg(long)]
    as_of: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct OverviewArgs {
    /// First day, YYYY-MM-DD (default 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (default today in the workspace's zone).
    #[arg(long)]
    to: Option<String>,
    /// `day`, `week` or `month`: the series' periods.
    #[arg(long, default_value = "day")]
    interval: String,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct ChannelsArgs {
    /// First join day, YYYY-MM-DD (default 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last join day, YYYY-MM-DD (default today in the workspace's zone).
    #[arg(long)]
    to: Option<String>,
    /// YYYY-MM-DD, not before --to (default today): nothing after it counts.
    #[arg(long)]
    as_of: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct RepurchaseArgs {
    /// YYYY-MM-DD (default today in the workspace's zone): nothing after it counts.
    #[arg(long)]
    as_of: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct DecompositionArgs {
    /// First day, YYYY-MM-DD (default 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (default today in the workspace's zone).
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct FunnelArgs {
    /// Comma-separated steps: `type` or `type[key op value;…]` (op: = != > >= < <=), e.g.
    /// `member.registered,order.paid,order.paid`.
    #[arg(long)]
    steps: String,
    /// Days allowed after the step before, one per step after the first (default 30 each).
    #[arg(long)]
    within: Option<String>,
    /// First entry day, YYYY-MM-DD (default 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last entry day, YYYY-MM-DD (default today in the workspace's zone).
    #[arg(long)]
    to: Option<String>,
    /// `channel` or `segment` (with --segment-id).
    #[arg(long)]
    split: Option<String>,
    /// Comma-separated saved segment ids, with `--split segment`.
    #[arg(long)]
    segment_id: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Args)]
pub struct PortraitArgs {
    /// A saved segment to describe (default every member).
    #[arg(long)]
    segment_id: Option<String>,
    /// Count ages on this day, YYYY-MM-DD (default today in the workspace's zone).
    #[arg(long)]
    as_of: Option<String>,
    #[command(flatten)]
    out: Output,
}

pub async fn report(db: &str, c: ReportCommand) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    match c {
        ReportCommand::Cohorts(a) => {
            a.out.check()?;
            let q = CohortParams {
                by: Some(a.by),
                period: Some(a.period),
                measure: Some(a.measure),
                as_of: a.as_of,
            }
            .parse(&ws)?;
            let rows = reports::cohorts(store.as_ref(), &ws, &q).await?;
            let csv = rows.iter().map(|r| r.csv_record().to_vec()).collect();
            a.out.write(&COHORT_COLUMNS, csv, &rows)?;
            eprintln!("{} cells as of {}", rows.len(), q.as_of);
        }
        ReportCommand::Overview(a) => {
            a.out.check()?;
            let p = OverviewParams {
                from: a.from,
                to: a.to,
                interval: Some(a.interval),
            };
            let o = reports::overview(store.as_ref(), &ws, &p).await?;
            a.out.write(&OVERVIEW_COLUMNS, o.csv_records(), &o)?;
        }
        ReportCommand::Channels(a) => {
            a.out.check()?;
            let p = ChannelParams {
                from: a.from,
                to: a.to,
                as_of: a.as_of,
            };
            let rows = reports::channels(store.as_ref(), &ws, &p).await?;
            let csv = rows.iter().map(|r| r.csv_record()).collect();
            a.out.write(&CHANNEL_COLUMNS, csv, &rows)?;
        }
        ReportCommand::Repurchase(a) => {
            a.out.check()?;
            let r = reports::repurchase(store.as_ref(), &ws, a.as_of.as_deref()).await?;
            let csv = r.by_orders.iter().map(|m| m.csv_record()).collect();
            a.out.write(&MAGIC_COLUMNS, csv, &r)?;
        }
        ReportCommand::Decomposition(a) => {
            a.out.check()?;
            let rows =
                reports::decomposition(store.as_ref(), &ws, a.from.as_deref(), a.to.as_deref())
                    .await?;
            let csv = rows.iter().map(|r| r.csv_record()).collect();
            a.out.write(&DECOMPOSITION_COLUMNS, csv, &rows)?;
        }
        ReportCommand::Funnel(a) => {
            a.out.check()?;
            let p = FunnelParams {
                steps: a.steps,
                within: a.within,
                from: a.from,
                to: a.to,
                split: a.split,
                segment_id: a.segment_id,
            };
            let f = funnel::funnel(store.as_ref(), &IndexCache::new(), &ws, &p).await?;
            let csv = f.groups.iter().flat_map(FunnelGroup::csv_records).collect();
            a.out.write(&FUNNEL_COLUMNS, csv, &f)?;
        }
        ReportCommand::Portrait(a) => {
            a.out.check()?;
            let p = memberops_app::analytics::portrait::portrait(
                store.as_ref(),
                &IndexCache::new(),
                &ws,
                a.segment_id.as_deref(),
                a.as_of.as_deref(),
            )
            .await?;
            let csv = p.distribution.iter().map(|r| r.csv_record()).collect();
            a.out.write(&PORTRAIT_COLUMNS, csv, &p)?;
        }
        ReportCommand::Rfm(_) | ReportCommand::Clv(_) => {
            anyhow::bail!("`report rfm` and `report clv` are not daily-aggregate reports")
        }
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute the daily aggregates the reports read from every event and order (after an
    /// import, or members merged), in one transaction; the `analytics` consumer then goes on
    /// from the log's head.
    Rebuild,
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let Command::Rebuild = c;
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let started = std::time::Instant::now();
    let r = memberops_app::analytics::rebuild(store.as_ref(), &ws).await?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    eprintln!("rebuilt in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
