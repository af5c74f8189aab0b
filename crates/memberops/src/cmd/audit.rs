//! `memberops audit`: the audit log of writes by operator and admin keys, newest first.

use memberops_app::audit::{self, Query};

#[derive(clap::Args)]
pub struct Args {
    /// Only writes about this member (its id).
    #[arg(long)]
    member: Option<String>,
    /// Only writes by this key (its id).
    #[arg(long)]
    actor: Option<String>,
    /// Only writes at or after this instant (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// One JSON object per line instead of tab-separated text.
    #[arg(long)]
    json: bool,
}

pub async fn run(db: &str, a: Args) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = super::default_workspace(store.as_ref()).await?;
    let mut cursor = None;
    let mut left = a.limit;
    while left > 0 {
        let q = Query {
            member: a.member.clone(),
            actor: a.actor.clone(),
            since: a.since.clone(),
            cursor: cursor.take(),
            limit: Some(i64::try_from(left.min(1000)).unwrap_or(1000)),
        };
        let page = audit::page(store.as_ref(), &ws, q).await?;
        left = left.saturating_sub(page.data.len());
        for e in &page.data {
            if a.json {
                println!("{}", serde_json::to_string(e)?);
            } else {
                println!(
                    "{}\t{}\t{} ({})\t{} {}\t{}\t{}",
                    e.seq,
                    e.at,
                    e.actor.name,
                    e.actor.key_id,
                    e.method,
                    e.path,
                    e.status,
                    e.member_id.as_deref().unwrap_or("-")
                );
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(())
}
