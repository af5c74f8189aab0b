//! `memberops coupons …`: list templates, print a template's report, generate codes.

use clap::Subcommand;
use memberops_app::coupons::{issue, report, templates};
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
    }
    Ok(())
}
