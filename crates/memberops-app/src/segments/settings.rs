//! The member-intelligence rules in force per workspace: read, saved as versions, and cached
//! for the event hook.
//!
//! The hook runs on every ingested batch, so it must not read the settings from the
//! database each time: it keeps them on the [`Workspace`] (which the server, the importer
//! and the demo loader load once and reuse) for [`CACHE_TTL`]. Saving through this process
//! replaces the cached copy at once; another process sharing the database sees the change
//! within the TTL. The daily job, the recompute, reports and churn warnings read the
//! database every time (one small row beside a full scan of the members).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use memberops_core::time::{millis_to_rfc3339, now_millis};
use memberops_core::{FieldError, Invalid};
use memberops_segments::SegmentError;
use memberops_store::{IntelSettingsRow, Store, WriteTx};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

pub use memberops_segments::IntelSettings as Settings;

/// How long the event hook trusts its cached settings.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// The settings and when they were read.
type Cached = Option<(Arc<Settings>, Instant)>;

/// A workspace's settings as last read, shared by the clones of its [`Workspace`].
#[derive(Clone, Default)]
pub struct SettingsCache(Arc<RwLock<Cached>>);

impl SettingsCache {
    fn fresh(&self) -> Option<Arc<Settings>> {
        let slot = self.0.read().ok()?;
        slot.as_ref()
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(s, _)| s.clone())
    }

    fn put(&self, s: Arc<Settings>) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some((s, Instant::now()));
        }
    }
}

impl std::fmt::Debug for SettingsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SettingsCache")
    }
}

/// One version of the settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsVersion {
    /// 1, 2, … in the order saved; 0 when none was ever saved (the seed defaults).
    pub version: i64,
    pub created_at: Option<String>,
    /// The API key id that saved it (`cli` from the command line).
    pub created_by: Option<String>,
    pub settings: Settings,
}

fn corrupt(e: impl std::fmt::Display) -> AppError {
    AppError::Store(memberops_store::StoreError::Corrupt(format!(
        "intelligence settings: {e}"
    )))
}

fn version_of(row: Option<IntelSettingsRow>) -> Result<SettingsVersion> {
    Ok(match row {
        None => SettingsVersion {
            version: 0,
            created_at: None,
            created_by: None,
            settings: Settings::default(),
        },
        Some(r) => SettingsVersion {
            version: r.version,
            created_at: Some(millis_to_rfc3339(r.created_at)),
            created_by: Some(r.created_by),
            settings: serde_json::from_str(&r.settings).map_err(corrupt)?,
        },
    })
}

/// Settings problems as a 422: `loc` is the dotted path split (`["lifecycle",
/// "silent_after_days"]`).
fn invalid(errors: Vec<SegmentError>) -> AppError {
    AppError::Invalid(Invalid(
        errors
            .into_iter()
            .map(|e| FieldError {
                loc: e
                    .setting()
                    .unwrap_or("settings")
                    .split('.')
                    .map(str::to_owned)
                    .collect(),
                code: e.code().to_owned(),
                // The path is in `loc` already.
                msg: match &e {
                    SegmentError::InvalidConfig { msg, .. } => msg.clone(),
                    SegmentError::UnknownSetting { .. } => "no rule reads this setting".into(),
                    other => other.to_string(),
                },
            })
            .collect(),
    ))
}

/// The version in force, read from the database (and remembered for the event hook).
pub async fn current(store: &dyn Store, ws: &Workspace) -> Result<SettingsVersion> {
    let v = version_of(store.current_intel_settings(&ws.id).await?)?;
    ws.intel.put(Arc::new(v.settings.clone()));
    Ok(v)
}

/// The rules in force, for the jobs and reports.
pub async fn in_force(store: &dyn Store, ws: &Workspace) -> Result<Settings> {
    Ok(current(store, ws).await?.settings)
}

/// The rules in force for the event hook: the cached copy, or one read inside the batch's
/// transaction when it is missing or older than [`CACHE_TTL`].
pub(crate) async fn for_batch(tx: &mut dyn WriteTx, ws: &Workspace) -> Result<Arc<Settings>> {
    if let Some(s) = ws.intel.fresh() {
        return Ok(s);
    }
    let s = Arc::new(version_of(tx.intel_settings().await?)?.settings);
    ws.intel.put(s.clone());
    Ok(s)
}

/// Every saved version, newest first.
pub async fn versions(store: &dyn Store, ws: &Workspace) -> Result<Vec<SettingsVersion>> {
    store
        .intel_settings_versions(&ws.id)
        .await?
        .into_iter()
        .map(|r| version_of(Some(r)))
        .collect()
}

/// Validates `body` (every problem reported, nothing written when there is one) and saves
/// it as the next version. Saving the rules already in force writes nothing and returns
/// their version, so a repeated PUT is harmless. Stored stages and scores follow at the
/// next recompute (the daily job, or `POST /v1/lifecycle:recompute`); reports computed
/// on the fly use the new rules at once.
pub async fn save(
    store: &dyn Store,
    ws: &Workspace,
    body: &serde_json::Value,
    actor: &str,
) -> Result<SettingsVersion> {
    let settings = Settings::from_json(body).map_err(invalid)?;
    let mut tx = store.begin_write(&ws.id).await?;
    let before = version_of(tx.intel_settings().await?)?;
    if before.settings == settings {
        ws.intel.put(Arc::new(settings));
        return Ok(before);
    }
    let json = serde_json::to_string(&settings).map_err(corrupt)?;
    let row = IntelSettingsRow {
        version: before.version + 1,
        settings: json,
        created_at: now_millis(),
        created_by: actor.to_owned(),
    };
    tx.insert_intel_settings(&row).await?;
    tx.commit().await?;
    ws.intel.put(Arc::new(settings.clone()));
    Ok(SettingsVersion {
        version: row.version,
        created_at: Some(millis_to_rfc3339(row.created_at)),
        created_by: Some(row.created_by),
        settings,
    })
}
