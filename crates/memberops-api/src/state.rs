use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memberops_app::consumers::Registry;
use memberops_app::webhooks::AddressPolicy;
use memberops_app::{Workspace, Workspaces, keys};
use memberops_store::{ApiKey, Store};
use tokio::sync::RwLock;

use crate::error::ApiError;

/// How long a verified key is trusted without asking the database again. Revoking a key
/// (`memberops apikey revoke`, another process) takes effect within this time on every
/// server: the bound docs/operations.md promises.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Shared with the worker of this process, so both see the same caches.
    pub workspaces: Workspaces,
    keys: Arc<RwLock<HashMap<String, (ApiKey, Instant)>>>,
    key_ttl: Duration,
    /// In-memory segment indexes, refreshed from the database as it changes.
    pub segments: memberops_app::segments::IndexCache,
    /// The consumers of the event log (their lag is shown at `/v1/consumers`).
    pub consumers: Registry,
    /// Which webhook URLs may be saved.
    pub webhooks: AddressPolicy,
    /// Per-key rate limits and last use.
    pub limiter: crate::ratelimit::Limiter,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            workspaces: Workspaces::new(store.clone()),
            store,
            keys: Arc::default(),
            key_ttl: KEY_CACHE_TTL,
            segments: Default::default(),
            consumers: Registry::standard(),
            webhooks: AddressPolicy::default(),
            limiter: Default::default(),
        }
    }

    /// Shares `workspaces` (and so their caches) with a worker of the same process.
    pub fn with_workspaces(mut self, workspaces: Workspaces) -> Self {
        self.workspaces = workspaces;
        self
    }

    /// How long a verified key is trusted before the database is asked again.
    pub fn with_key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    pub fn with_webhook_policy(mut self, policy: AddressPolicy) -> Self {
        self.webhooks = policy;
        self
    }

    pub async fn workspace(&self, id: &str) -> Result<Arc<Workspace>, ApiError> {
        Ok(self.workspaces.get(id).await?)
    }

    /// Checks a secret, with a short cache so that hot paths do not hash-and-query on
    /// every request.
    pub async fn verify_key(&self, secret: &str) -> Result<ApiKey, ApiError> {
        let hash = keys::hash_secret(secret);
        if let Some((key, at)) = self.keys.read().await.get(&hash)
            && at.elapsed() < self.key_ttl
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
