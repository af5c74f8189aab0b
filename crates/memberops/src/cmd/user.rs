//! `memberops user`: operator accounts of the web console (docs/console.md).

use std::io::Read;

use clap::Subcommand;
use memberops_app::operators::{self, Role};
use memberops_core::time::now_millis;

const ROLES_HELP: &str = "admin, operator, service, analyst or staff";

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("`{s}`: roles are {ROLES_HELP}"))
}

#[derive(Subcommand)]
pub enum Command {
    /// Create an account. Prints a generated password once, or takes one from stdin.
    Create {
        #[arg(long)]
        email: String,
        /// admin, operator, service, analyst or staff.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input (first line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (generated and printed once, or from stdin); ends the account's
    /// sessions and lifts a lock.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts: email, role, language, lock.
    List,
}

fn password_from_stdin(wanted: bool) -> anyhow::Result<Option<String>> {
    if !wanted {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let line = text.lines().next().unwrap_or("").to_owned();
    Ok(Some(line))
}

pub async fn run(db: &str, c: Command) -> anyhow::Result<()> {
    let store = super::open(db).await?;
    let ws = memberops_core::id::DEFAULT_WORKSPACE;
    match c {
        Command::Create {
            email,
            role,
            password_stdin,
        } => {
            let password = password_from_stdin(password_stdin)?;
            let (op, generated) =
                operators::create(store.as_ref(), ws, &email, role, password, now_millis()).await?;
            eprintln!(
                "created {} ({}, role {})",
                op.email,
                op.id,
                op.role.as_str()
            );
            if let Some(p) = generated {
                eprintln!("the password is shown only now:");
                println!("{p}");
            }
        }
        Command::ResetPassword {
            email,
            password_stdin,
        } => {
            let password = password_from_stdin(password_stdin)?;
            let (op, generated) =
                operators::reset_password(store.as_ref(), &email, password).await?;
            eprintln!("new password set for {}; its sessions ended", op.email);
            if let Some(p) = generated {
                println!("{p}");
            }
        }
        Command::List => {
            for op in operators::list(store.as_ref(), ws).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    op.id,
                    op.email,
                    op.role.as_str(),
                    op.locale.as_deref().unwrap_or("browser")
                );
            }
        }
    }
    Ok(())
}
