//! `memberops workspace show|set`: the workspace's settings (name, currency, zone, calling
//! code); `set` changes the name or the calling code, as `PATCH /v1/workspace` does.

use memberops_app::Workspaces;
use memberops_app::workspace::{self, WorkspacePatch};
use memberops_core::id::DEFAULT_WORKSPACE;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the settings as JSON.
    Show,
    /// Change the name or the calling code (e.g. `--calling-code 1`).
    Set {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        calling_code: Option<String>,
    },
}

pub async fn run(db: &str, cmd: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let out = match cmd {
        Command::Show => workspace::settings(store.as_ref(), DEFAULT_WORKSPACE).await?,
        Command::Set { name, calling_code } => {
            if name.is_none() && calling_code.is_none() {
                anyhow::bail!("give --name or --calling-code");
            }
            Workspaces::new(store)
                .update(DEFAULT_WORKSPACE, WorkspacePatch { name, calling_code })
                .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
