use clap::Subcommand;
use memberops_core::time::millis_to_rfc3339;
use memberops_store::KeyScope;

#[derive(Subcommand)]
pub enum Command {
    /// Create a key and print its secret (shown once; only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
        /// `admin` (everything) or `ingest` (send events only).
        #[arg(long, default_value = "admin", value_parser = ["admin", "ingest"])]
        scope: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = memberops_core::id::DEFAULT_WORKSPACE;
    match c {
        Command::Create { name, scope } => {
            let scope = KeyScope::parse(&scope).unwrap_or(KeyScope::Admin);
            let (key, secret) =
                memberops_app::keys::create(store.as_ref(), ws, &name, scope).await?;
            eprintln!(
                "created key {} ({}, scope {}); the secret is shown only now:",
                key.id,
                key.name,
                key.scope.as_str()
            );
            println!("{secret}");
        }
        Command::List => {
            for k in store.list_api_keys(ws).await? {
                let state = k
                    .revoked_at
                    .map(|t| format!("revoked {}", millis_to_rfc3339(t)))
                    .unwrap_or_else(|| "active".into());
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}",
                    k.id,
                    k.name,
                    k.scope.as_str(),
                    k.key_prefix,
                    millis_to_rfc3339(k.created_at),
                    state
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
    }
    Ok(())
}
