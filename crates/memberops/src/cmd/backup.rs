//! `memberops backup FILE` and `memberops restore FILE`: an online, consistent snapshot of
//! the SQLite database (`VACUUM INTO`, taken while the server reads and writes), and its
//! restoration. PostgreSQL has its own tools (`pg_dump`, `pg_restore`): both commands
//! say so and refuse.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

/// A worker heartbeat younger than this means a server or worker is using the database.
const LIVE_WITHIN: Duration = Duration::from_secs(120);

const PG_BACKUP: &str = "this is a PostgreSQL database: back it up with PostgreSQL's own tools, \
e.g. `pg_dump --format=custom --file=memberops.dump \"$MEMBEROPS_DATABASE_URL\"` (consistent \
while the server runs), and restore with `pg_restore --clean --if-exists --dbname=…`";

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Where to write the snapshot (must not exist).
    file: String,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A snapshot made by `memberops backup`.
    file: String,
    /// Overwrite the database even though it holds data or a server is using it.
    #[arg(long)]
    force: bool,
}

fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

fn sqlite_path(db: &str) -> &str {
    db.strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db)
}

pub async fn backup(db: &str, a: BackupArgs) -> anyhow::Result<()> {
    if is_postgres(db) {
        bail!("{PG_BACKUP}");
    }
    if Path::new(&a.file).exists() {
        bail!("`{}` exists; a backup never overwrites a file", a.file);
    }
    if !Path::new(sqlite_path(db)).exists() {
        bail!("no database at `{db}`");
    }
    // No migration: a backup copies the database as it is.
    let store = memberops_store::connect(db)
        .await
        .with_context(|| format!("opening `{db}`"))?;
    store
        .snapshot_to(&a.file)
        .await
        .with_context(|| format!("writing the snapshot to `{}`", a.file))?;
    let copy = memberops_store::connect(&a.file).await?;
    let check = copy.integrity_check().await?;
    if check != "ok" {
        bail!(
            "the snapshot `{}` failed its integrity check: {check}",
            a.file
        );
    }
    let size = std::fs::metadata(&a.file)?.len();
    println!(
        "backed up `{db}` to `{}` ({size} bytes, integrity ok)",
        a.file
    );
    Ok(())
}

pub async fn restore(db: &str, a: RestoreArgs) -> anyhow::Result<()> {
    if is_postgres(db) {
        bail!("{PG_BACKUP}");
    }
    if !Path::new(&a.file).exists() {
        bail!("no backup at `{}`", a.file);
    }
    let snapshot = memberops_store::connect(&a.file)
        .await
        .with_context(|| format!("opening the backup `{}`", a.file))?;
    let check = snapshot.integrity_check().await?;
    if check != "ok" {
        bail!(
            "the backup `{}` failed its integrity check: {check}",
            a.file
        );
    }
    drop(snapshot);
    let target = sqlite_path(db).to_owned();
    if Path::new(&target).exists() {
        let store = memberops_store::connect(db).await?;
        let beat = store.last_beat().await.ok().flatten();
        let live = beat.is_some_and(|t| {
            memberops_core::time::now_millis().saturating_sub(t)
                < i64::try_from(LIVE_WITHIN.as_millis()).unwrap_or(i64::MAX)
        });
        drop(store);
        match (live, a.force) {
            (true, false) => bail!(
                "`{target}` is live (a worker wrote its heartbeat {}); stop the server and \
                 workers first, or pass --force",
                beat.map(memberops_core::time::millis_to_rfc3339)
                    .unwrap_or_default()
            ),
            (false, false) => {
                bail!("`{target}` exists and would be overwritten; pass --force to replace it")
            }
            _ => {}
        }
    }
    // Copy beside the target, then swap it in: the target is never half-written.
    let tmp = format!("{target}.restoring");
    std::fs::copy(&a.file, &tmp).with_context(|| format!("copying to `{tmp}`"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    for side in ["-wal", "-shm"] {
        let p = format!("{target}{side}");
        if Path::new(&p).exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing `{p}`"))?;
        }
    }
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing `{target}`"))?;
    // A backup from an older version is brought up to this version's schema.
    super::open(db).await?;
    println!("restored `{}` into `{target}`", a.file);
    Ok(())
}
