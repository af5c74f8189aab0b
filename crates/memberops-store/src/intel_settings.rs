//! Storage of the member-intelligence rules: one row per saved version per workspace, the
//! highest version in force (the shape of `loyalty_programs`).

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelSettingsRow {
    pub version: i64,
    /// The settings as JSON (the segments crate's `IntelSettings`).
    pub settings: String,
    pub created_at: Millis,
    /// The API key (or `cli`) that saved it.
    pub created_by: String,
}

/// Inside the workspace's write transaction: saving a version, and the read the event hook
/// makes when its cached copy is stale.
#[async_trait]
pub trait IntelSettingsTx: Send {
    /// The version in force, if one was ever saved.
    async fn intel_settings(&mut self) -> Result<Option<IntelSettingsRow>>;
    async fn insert_intel_settings(&mut self, row: &IntelSettingsRow) -> Result<()>;
}

#[async_trait]
pub trait IntelSettingsStore: Send + Sync {
    async fn current_intel_settings(&self, workspace_id: &str) -> Result<Option<IntelSettingsRow>>;
    /// Every saved version, newest first.
    async fn intel_settings_versions(&self, workspace_id: &str) -> Result<Vec<IntelSettingsRow>>;
}

pub(crate) const VERSIONS: &str = "SELECT version, settings, created_at, created_by FROM intel_settings WHERE workspace_id = $1 \
     ORDER BY version DESC";
pub(crate) const LATEST: &str = "SELECT version, settings, created_at, created_by FROM intel_settings WHERE workspace_id = $1 \
     ORDER BY version DESC LIMIT 1";

macro_rules! impl_intel_settings {
    ($Store:ty, $Tx:ident, $Db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;

            use crate::error::Result;
            use crate::intel_settings::*;

            fn row_from(r: &<$Db as sqlx::Database>::Row) -> Result<IntelSettingsRow> {
                Ok(IntelSettingsRow {
                    version: r.try_get("version")?,
                    settings: r.try_get("settings")?,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                })
            }

            #[async_trait]
            impl IntelSettingsTx for $Tx {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn intel_settings(&mut self) -> Result<Option<IntelSettingsRow>> {
                    let r = sqlx::query(LATEST)
                        .bind(&self.ws)
                        .fetch_optional(&mut *self.tx)
                        .await?;
                    r.map(|r| row_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn insert_intel_settings(&mut self, row: &IntelSettingsRow) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO intel_settings (workspace_id, version, settings, created_at, created_by) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&self.ws)
                    .bind(row.version)
                    .bind(&row.settings)
                    .bind(row.created_at)
                    .bind(&row.created_by)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(())
                }
            }

            #[async_trait]
            impl IntelSettingsStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn current_intel_settings(
                    &self,
                    workspace_id: &str,
                ) -> Result<Option<IntelSettingsRow>> {
                    let r = sqlx::query(LATEST)
                        .bind(workspace_id)
                        .fetch_optional(self.reader())
                        .await?;
                    r.map(|r| row_from(&r)).transpose()
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn intel_settings_versions(
                    &self,
                    workspace_id: &str,
                ) -> Result<Vec<IntelSettingsRow>> {
                    sqlx::query(VERSIONS)
                        .bind(workspace_id)
                        .fetch_all(self.reader())
                        .await?
                        .iter()
                        .map(row_from)
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_intel_settings;
