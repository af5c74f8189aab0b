use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memberops_app::{Workspace, keys};
use memberops_store::{ApiKey, Store};
use tokio::sync::RwLock;

use crate::error::ApiError;

/// How long a verified key is trusted without asking the database again. Revoking a key
/// takes effect within this time on every server.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    workspaces: Arc<RwLock<HashMap<String, Arc<Workspace>>>>,
    keys: Arc<RwLock<HashMap<String, (ApiKey, Instant)>>>,
    /// In-memory segment indexes, refreshed from the database as it changes.
    pub segments: memberops_app::segments::IndexCache,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            workspaces: Arc::default(),
            keys: Arc::default(),
            segments: Default::default(),
        }
    }

    pub async fn workspace(&self, id: &str) -> Result<Arc<Workspace>, ApiError> {
        if let Some(w) = self.workspaces.read().await.get(id) {
            return Ok(w.clone());
        }
        let w = Arc::new(Workspace::load(self.store.as_ref(), id).await?);
        self.workspaces
            .write()
            .await
            .insert(id.to_owned(), w.clone());
        Ok(w)
    }

    /// Checks a secret, with a short cache so that hot paths do not hash-and-query on
    /// every request.
    pub async fn verify_key(&self, secret: &str) -> Result<ApiKey, ApiError> {
        let hash = keys::hash_secret(secret);
        if let Some((key, at)) = self.keys.read().await.get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(key.clone());
        }
        let key = keys::verify(self.store.as_ref(), secret)
            .await
            .map_err(ApiError::from)?;
        let mut cache = self.keys.write().await;
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(hash, (key.clone(), Instant::now()));
        Ok(key)
    }
}
