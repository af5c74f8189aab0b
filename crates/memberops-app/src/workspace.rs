use std::collections::HashMap;
use std::sync::Arc;

use chrono_tz::Tz;
use memberops_core::Currency;
use memberops_store::Store;
use tokio::sync::{Notify, RwLock};

use crate::error::{AppError, Result};
use crate::member_cache::MemberCache;
use crate::segments::settings::SettingsCache;

/// A workspace's settings as the use cases need them; loaded once and kept by the server.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: String,
    /// The currency the books are kept in.
    pub currency: Currency,
    /// Zone of members that did not give one.
    pub time_zone: Tz,
    /// Country calling code (no `+`) that phone numbers written nationally take.
    pub calling_code: String,
    /// The member-intelligence rules as last read (see `segments::settings`).
    pub(crate) intel: SettingsCache,
    /// What event batches last committed about members (see `member_cache`).
    pub(crate) members: MemberCache,
    /// Woken when a batch commits events, so this process's consumers start at once
    /// instead of at their next poll.
    pub(crate) committed: Arc<Notify>,
}

impl Workspace {
    pub async fn load(store: &dyn Store, id: &str) -> Result<Workspace> {
        let w = store
            .workspace(id)
            .await?
            .ok_or(AppError::NotFound { what: "workspace" })?;
        Ok(Workspace {
            id: w.id,
            currency: Currency::parse(&w.currency)?,
            time_zone: memberops_core::time::parse_tz(&w.time_zone)?,
            calling_code: w.calling_code,
            intel: SettingsCache::default(),
            members: MemberCache::default(),
            committed: Arc::default(),
        })
    }

    /// Waits until a batch of this process commits events, or `at_most` passes.
    pub async fn committed_or(&self, at_most: std::time::Duration) {
        let _ = tokio::time::timeout(at_most, self.committed.notified()).await;
    }
}

/// The workspaces of one process, each loaded once and shared by the API and the worker,
/// so that both see the same caches.
#[derive(Clone)]
pub struct Workspaces {
    store: Arc<dyn Store>,
    loaded: Arc<RwLock<HashMap<String, Arc<Workspace>>>>,
}

impl Workspaces {
    pub fn new(store: Arc<dyn Store>) -> Workspaces {
        Workspaces {
            store,
            loaded: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn get(&self, id: &str) -> Result<Arc<Workspace>> {
        if let Some(w) = self.loaded.read().await.get(id) {
            return Ok(w.clone());
        }
        let w = Arc::new(Workspace::load(self.store.as_ref(), id).await?);
        Ok(self
            .loaded
            .write()
            .await
            .entry(id.to_owned())
            .or_insert(w)
            .clone())
    }
}

/// The workspace's settings as `GET /v1/workspace` shows them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkspaceOut {
    pub id: String,
    pub name: String,
    /// ISO 4217; fixed when the workspace is made (the books are kept in it).
    pub currency: String,
    /// IANA zone of reports and of members who gave none.
    pub time_zone: String,
    /// Country calling code (no `+`) that phone numbers written without one take.
    pub calling_code: String,
}

/// What `PATCH /v1/workspace` may change; absent fields stay.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    /// E.g. `"86"`, `"1"`, `"852"`: phones stored from now on are normalised with it;
    /// stored phones keep their E.164 form.
    pub calling_code: Option<String>,
}

impl From<memberops_store::Workspace> for WorkspaceOut {
    fn from(w: memberops_store::Workspace) -> Self {
        WorkspaceOut {
            id: w.id,
            name: w.name,
            currency: w.currency,
            time_zone: w.time_zone,
            calling_code: w.calling_code,
        }
    }
}

pub async fn settings(store: &dyn Store, id: &str) -> Result<WorkspaceOut> {
    Ok(store
        .workspace(id)
        .await?
        .ok_or(AppError::NotFound { what: "workspace" })?
        .into())
}

impl Workspaces {
    /// Changes the workspace's settings and the copy this process keeps (its caches stay);
    /// other processes read the change when they start.
    pub async fn update(&self, id: &str, patch: WorkspacePatch) -> Result<WorkspaceOut> {
        use memberops_core::{FieldError, Invalid};
        let mut errors = Vec::new();
        let name = patch.name.as_deref().map(str::trim);
        if name.is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
            errors.push(FieldError {
                loc: vec!["name".into()],
                code: "invalid_name".into(),
                msg: "1 to 200 characters".into(),
            });
        }
        let code = patch
            .calling_code
            .as_deref()
            .map(|c| c.trim().trim_start_matches('+'));
        if code.is_some_and(|c| !memberops_core::phone::is_calling_code(c)) {
            errors.push(FieldError {
                loc: vec!["calling_code".into()],
                code: "invalid_calling_code".into(),
                msg: "not an assigned country calling code (e.g. 86, 1, 852)".into(),
            });
        }
        if !errors.is_empty() {
            return Err(Invalid(errors).into());
        }
        let row = self
            .store
            .update_workspace(id, name, code)
            .await?
            .ok_or(AppError::NotFound { what: "workspace" })?;
        let mut loaded = self.loaded.write().await;
        if let Some(old) = loaded.get(id) {
            let mut w = Workspace::clone(old);
            w.calling_code = row.calling_code.clone();
            loaded.insert(id.to_owned(), Arc::new(w));
        }
        Ok(row.into())
    }
}
