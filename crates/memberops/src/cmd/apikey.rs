use clap::Subcommand;
use memberops_core::time::millis_to_rfc3339;
use memberops_store::{KeyScope, RateLimit};

const SCOPES_HELP: &str = "ingest (events only), checkout (till and member center), read (every GET, phones and emails masked), operator (programs, coupons, segments, campaigns, tags), admin (everything)";

/// `--scope read,checkout`.
#[derive(Clone, Debug)]
pub struct Scopes(Vec<KeyScope>);

fn parse_scopes(s: &str) -> Result<Scopes, String> {
    KeyScope::parse_list(s)
        .map(Scopes)
        .ok_or_else(|| format!("`{s}`: scopes are {SCOPES_HELP}"))
}

#[derive(clap::Args)]
pub struct LimitArgs {
    /// Requests per second this key may send on average (429 with Retry-After above).
    #[arg(long, requires = "burst")]
    rps: Option<u32>,
    /// Requests this key may send at once above its rate.
    #[arg(long, requires = "rps")]
    burst: Option<u32>,
}

impl LimitArgs {
    fn limit(&self) -> Option<RateLimit> {
        Some(RateLimit {
            rps: self.rps?,
            burst: self.burst?,
        })
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a key and print its secret (shown once; only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
        /// One or more scopes, comma-separated: ingest, checkout, read, operator, admin.
        #[arg(long, default_value = "admin", value_parser = parse_scopes)]
        scope: Scopes,
        #[command(flatten)]
        limit: LimitArgs,
    },
    /// List keys (never their secrets): id, name, scopes, prefix, created, state, rate
    /// limit, last use.
    List,
    /// Revoke a key by id.
    Revoke { id: String },
    /// Set a key's rate limit (`--rps N --burst M`), or remove it (`--none`).
    Limit {
        id: String,
        #[command(flatten)]
        limit: LimitArgs,
        /// No limit of its own.
        #[arg(long, conflicts_with_all = ["rps", "burst"])]
        none: bool,
    },
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = memberops_core::id::DEFAULT_WORKSPACE;
    match c {
        Command::Create { name, scope, limit } => {
            let (key, secret) = memberops_app::keys::create_with(
                store.as_ref(),
                ws,
                &name,
                &scope.0,
                limit.limit(),
            )
            .await?;
            eprintln!(
                "created key {} ({}, scope {}); the secret is shown only now:",
                key.id,
                key.name,
                KeyScope::join(&key.scopes)
            );
            println!("{secret}");
        }
        Command::List => {
            for k in store.list_api_keys(ws).await? {
                let state = k
                    .revoked_at
                    .map(|t| format!("revoked {}", millis_to_rfc3339(t)))
                    .unwrap_or_else(|| "active".into());
                let limit = k
                    .rate_limit
                    .map(|l| format!("{}/s burst {}", l.rps, l.burst))
                    .unwrap_or_else(|| "no limit".into());
                let used = k
                    .last_used_at
                    .map(millis_to_rfc3339)
                    .unwrap_or_else(|| "never used".into());
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}\t{}\t{}",
                    k.id,
                    k.name,
                    KeyScope::join(&k.scopes),
                    k.key_prefix,
                    millis_to_rfc3339(k.created_at),
                    state,
                    limit,
                    used
                );
            }
        }
        Command::Revoke { id } => {
            if store
                .revoke_api_key(ws, &id, memberops_core::time::now_millis())
                .await?
            {
                println!("revoked {id}");
            } else {
                anyhow::bail!("no active key `{id}`");
            }
        }
        Command::Limit { id, limit, none } => {
            let limit = match (limit.limit(), none) {
                (Some(l), false) => Some(l),
                (None, true) => None,
                _ => anyhow::bail!("give `--rps N --burst M`, or `--none`"),
            };
            memberops_app::keys::set_limit(store.as_ref(), ws, &id, limit).await?;
            println!(
                "key {id}: {}",
                limit.map_or("no limit".into(), |l| format!(
                    "{}/s burst {}",
                    l.rps, l.burst
                ))
            );
        }
    }
    Ok(())
}
