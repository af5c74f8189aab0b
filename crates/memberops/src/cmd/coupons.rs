//! `memberops coupons …`: list templates, print a template's report, generate codes,
//! issue to a segment, run the expiry sweep.

use anyhow::Context;
use clap::Subcommand;
use memberops_app::coupons::{issue, report, templates};
use memberops_app::segments::IndexCache;
use memberops_core::time::When;
use memberops_coupons::codes::CodePattern;

#[derive(Subcommand)]
pub enum Command {
    /// List coupon templates (id, type, name, issued).
    Templates,
    /// Print a template's report as JSON.
    Report { template_id: String },
    /// Generate unique codes for a template and print them, one per line.
    Codes {
        #[arg(long)]
        template: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value_t = 10)]
        length: usize,
    },
    /// Issue a template (or a gift pack) to every member of a saved segment; prints the
    /// summary as JSON. Idempotent by --key: running it again resumes or repeats the answer.
    IssueSegment {
        #[arg(long)]
        segment: String,
        #[arg(long, conflicts_with = "pack", required_unless_present = "pack")]
        template: Option<String>,
        #[arg(long)]
        pack: Option<String>,
        #[arg(long, default_value_t = 1)]
        quantity: i64,
        #[arg(long)]
        key: String,
    },
    /// Move coupons whose validity ended to `expired`; prints how many (JSON).
    Expire {
        /// RFC 3339 instant or YYYY-MM-DD (midnight in the workspace's zone); default now.
        #[arg(long)]
        as_of: Option<String>,
    },
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    match c {
        Command::Templates => {
            for t in templates::list(store.as_ref(), &ws).await? {
                let state = if t.archived { "archived" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    t.id,
                    t.spec.benefit.kind(),
                    t.spec.name,
                    t.issued_count
                );
            }
        }
        Command::Report { template_id } => {
            let r = report::template_report(store.as_ref(), &ws, &template_id).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        Command::Codes {
            template,
            count,
            prefix,
            length,
        } => {
            let pattern = CodePattern {
                prefix,
                length,
                charset: None,
            };
            let out = issue::generate_codes(
                store.as_ref(),
                &ws,
                &template,
                issue::CodesIn { count, pattern },
            )
            .await?;
            eprintln!("generated {} codes for {}", out.generated, out.template_id);
            for code in out.codes {
                println!("{code}");
            }
        }
        Command::IssueSegment {
            segment,
            template,
            pack,
            quantity,
            key,
        } => {
            let out = issue::issue_to_segment(
                store.as_ref(),
                &IndexCache::new(),
                &ws,
                issue::SegmentIssueIn {
                    segment_id: segment,
                    template_id: template,
                    pack_id: pack,
                    quantity,
                    idempotency_key: key,
                },
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Expire { as_of } => {
            let at = match as_of {
                None => memberops_core::time::now_millis(),
                Some(t) => {
                    When::parse(&t, "as_of")
                        .context("--as-of")?
                        .resolve(ws.time_zone)
                        .0
                }
            };
            let out = memberops_app::coupons::expire_due(store.as_ref(), &ws, at).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}
