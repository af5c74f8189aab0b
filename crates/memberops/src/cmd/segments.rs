//! `memberops report rfm`, `memberops lifecycle recompute` and `memberops intelligence
//! settings`: member intelligence from the command line (the same use cases the API calls).

use std::io::Write;

use anyhow::Context;
use memberops_app::segments::{self as seg, IndexCache, saved, settings};
use memberops_core::time::now_millis;

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// RFM of every member as of a date: one row per member with
    /// member_id,first_order_at,last_order_at,orders,order_days,monetary,recency_days,
    /// tenure_days,r_score,f_score,m_score,rfm_class,lifecycle_stage.
    Rfm(RfmArgs),
    /// Cohort retention matrix: cohort,period,cohort_size,retained,rate (docs/analytics.md).
    Cohorts(super::analytics::CohortsArgs),
    /// Overview of a date range with the previous period beside it (docs/analytics.md).
    Overview(super::analytics::OverviewArgs),
    /// Acquisition channels: new members, first orders, day 1/7/30/90 retention, the seed's formula.
    Channels(super::analytics::ChannelsArgs),
    /// Repurchase: the magic-number table as CSV (orders,members,repurchased,rate); JSON adds
    /// the time between orders and to the second order.
    Repurchase(super::analytics::RepurchaseArgs),
    /// Sales decomposition: revenue = active × conversion × frequency × AOV per channel, with
    /// each factor's contribution to the change from the previous period (LMDI).
    Decomposition(super::analytics::DecompositionArgs),
    /// Funnel: ordered steps of event types with property filters, each within a window of
    /// the step before: group,step,event_type,members,conversion,step_conversion,median_days.
    Funnel(super::analytics::FunnelArgs),
    /// Member portrait: dimension,value,members,share over gender, age band, region,
    /// channel, tier, stage, RFM class and value class (every member or a saved segment).
    Portrait(super::analytics::PortraitArgs),
    /// Predicted value of every member with an order by a date (BG/NBD and Gamma-Gamma
    /// fitted on the member base as of it): member_id,p_alive,expected_orders_90d,
    /// expected_aov,clv_12m (money in major units). See docs/predicted-value.md.
    Clv(super::clv::ClvArgs),
}

#[derive(clap::Args)]
pub struct RfmArgs {
    /// The as-of date (YYYY-MM-DD): only orders on or before it count.
    #[arg(long)]
    as_of: String,
    /// `csv` or `json`.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum LifecycleCommand {
    /// The daily job: RFM, value classes and stages of every member as of a date; stage
    /// changes (time alone included) recorded as `lifecycle.changed` events; rule tags and
    /// segment sizes refreshed. Running it twice for one date changes nothing.
    Recompute(RecomputeArgs),
}

#[derive(clap::Args)]
pub struct RecomputeArgs {
    /// YYYY-MM-DD; default today in the workspace zone.
    #[arg(long)]
    as_of: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum IntelligenceCommand {
    /// The rules RFM, stages, value classes and churn warnings run with.
    #[command(subcommand)]
    Settings(SettingsCommand),
}

#[derive(clap::Subcommand)]
pub enum SettingsCommand {
    /// Print the rules in force with their version (0: the seed defaults) as JSON.
    Show,
    /// Save the rules in FILE (JSON, the body of `PUT /v1/intelligence/settings`; fields
    /// left out take the seed default) as the next version. Nothing is saved when they are
    /// invalid or equal the rules in force.
    Set {
        /// JSON file, e.g. `{"lifecycle": {"silent_after_days": 30}}`.
        file: std::path::PathBuf,
    },
}

pub async fn intelligence(db: &str, c: IntelligenceCommand) -> anyhow::Result<()> {
    let IntelligenceCommand::Settings(c) = c;
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let v = match c {
        SettingsCommand::Show => settings::current(store.as_ref(), &ws).await?,
        SettingsCommand::Set { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let body: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            settings::save(store.as_ref(), &ws, &body, "cli").await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

pub async fn report(db: &str, c: ReportCommand) -> anyhow::Result<()> {
    let args = match c {
        ReportCommand::Rfm(args) => args,
        ReportCommand::Clv(args) => return super::clv::run(db, args).await,
        other => return super::analytics::report(db, other).await,
    };
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let as_of = seg::parse_date(&args.as_of, "as_of")?;
    if !matches!(args.format.as_str(), "csv" | "json") {
        anyhow::bail!("--format is csv or json");
    }
    let rules = settings::in_force(store.as_ref(), &ws).await?;
    let rows = seg::compute(store.as_ref(), &ws, as_of, &rules).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    if args.format == "csv" {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(seg::intel::RFM_COLUMNS)?;
        for r in &rows {
            w.write_record(r.csv_record())?;
        }
        w.flush()?;
    } else {
        writeln!(out, "[")?;
        for (i, r) in rows.iter().enumerate() {
            let sep = if i + 1 < rows.len() { "," } else { "" };
            writeln!(out, "{}{sep}", serde_json::to_string(r)?)?;
        }
        writeln!(out, "]")?;
    }
    out.flush()?;
    eprintln!("{} members as of {}", rows.len(), args.as_of);
    Ok(())
}

pub async fn lifecycle(db: &str, c: LifecycleCommand) -> anyhow::Result<()> {
    let LifecycleCommand::Recompute(args) = c;
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let now = now_millis();
    let as_of = match &args.as_of {
        Some(d) => seg::parse_date(d, "as_of")?,
        None => memberops_segments::row::local_day(now, ws.time_zone),
    };
    let intel = settings::in_force(store.as_ref(), &ws).await?;
    let s = seg::recompute(store.as_ref(), &ws, as_of, &intel, now).await?;
    let rules = saved::refresh_rules(store.as_ref(), &ws, now).await?;
    let sizes = saved::record_all_sizes(store.as_ref(), &IndexCache::new(), &ws, now).await?;
    println!("{}", serde_json::to_string_pretty(&s)?);
    eprintln!("{rules} rule tags refreshed, {sizes} segment sizes recorded");
    Ok(())
}
