pub mod analytics;
pub mod apikey;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod bench_webhooks;
pub mod clv;
pub mod consumers;
pub mod coupons;
pub mod demo;
pub mod import;
pub mod loyalty;
pub mod segments;
pub mod segments_bench;
pub mod serve;
pub mod user;
pub mod worker;
pub mod workspace;

use std::sync::Arc;

use anyhow::Context;
use memberops_app::Workspace;
use memberops_store::Store;
use tracing_subscriber::EnvFilter;

/// Logs go to stderr; `RUST_LOG` sets the filter, `MEMBEROPS_LOG_FORMAT=json` gives JSON lines.
pub fn init_tracing() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("MEMBEROPS_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the database and brings its schema up to date.
pub async fn open(db: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store = memberops_store::connect(db)
        .await
        .with_context(|| format!("opening database `{db}`"))?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

pub async fn default_workspace(store: &dyn Store) -> anyhow::Result<Workspace> {
    Ok(Workspace::load(store, memberops_core::id::DEFAULT_WORKSPACE).await?)
}

pub async fn migrate(db: &str) -> anyhow::Result<()> {
    open(db).await?;
    println!("database `{db}` is up to date");
    Ok(())
}

pub fn openapi_json() -> anyhow::Result<String> {
    Ok(memberops_api::openapi().to_pretty_json()?)
}

/// A progress bar on a terminal; hidden when output is piped.
pub fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
