//! `memberops report clv`: predicted member value as of a date (docs/predicted-value.md).

use std::io::Write;

use anyhow::Context;
use memberops_app::clv;
use memberops_core::time::now_millis;

#[derive(clap::Args)]
pub struct ClvArgs {
    /// The as-of date (YYYY-MM-DD): the models are fitted on the orders on or before it.
    #[arg(long)]
    as_of: String,
    /// `csv` (money in major units) or `json` (money in `*_minor` fields).
    #[arg(long, default_value = "csv")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
}

pub async fn run(db: &str, args: ClvArgs) -> anyhow::Result<()> {
    if !matches!(args.format.as_str(), "csv" | "json") {
        anyhow::bail!("--format is csv or json");
    }
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let as_of = memberops_app::segments::parse_date(&args.as_of, "as_of")?;
    let run = clv::compute(store.as_ref(), &ws, as_of, now_millis()).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let exponent = ws.currency.exponent();
    if args.format == "csv" {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(clv::CSV_COLUMNS)?;
        for r in &run.rows {
            w.write_record(clv::csv_record(r, exponent))?;
        }
        w.flush()?;
    } else {
        writeln!(out, "[")?;
        for (i, r) in run.rows.iter().enumerate() {
            let sep = if i + 1 < run.rows.len() { "," } else { "" };
            let row = serde_json::json!({
                "member_id": r.member_id,
                "p_alive": r.p_alive,
                "expected_orders_90d": r.expected_orders_90d,
                "expected_aov_minor": r.expected_aov_minor,
                "clv_12m_minor": r.clv_12m_minor,
            });
            writeln!(out, "{row}{sep}")?;
        }
        writeln!(out, "]")?;
    }
    out.flush()?;
    let params = clv::ModelParams::from(&run.model);
    eprintln!(
        "{} members ({} with a repeat order day) as of {}; fitted {}",
        run.members,
        run.repeat_members,
        args.as_of,
        serde_json::to_string(&params)?
    );
    Ok(())
}
