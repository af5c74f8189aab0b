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
