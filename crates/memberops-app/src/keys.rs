//! API keys: 32 random bytes shown once; only their SHA-256 is stored.

use memberops_core::id;
use memberops_core::time::now_millis;
use memberops_store::{ApiKey, KeyScope, RateLimit, Store};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};

const SECRET_PREFIX: &str = "mo_";

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a key of one scope and no rate limit of its own; see [`create_with`].
pub async fn create(
    store: &dyn Store,
    workspace_id: &str,
    name: &str,
    scope: KeyScope,
) -> Result<(ApiKey, String)> {
    create_with(store, workspace_id, name, &[scope], None).await
}

/// Creates a key and returns it with its secret, which is not kept anywhere.
pub async fn create_with(
    store: &dyn Store,
    workspace_id: &str,
    name: &str,
    scopes: &[KeyScope],
    limit: Option<RateLimit>,
) -> Result<(ApiKey, String)> {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(memberops_core::Invalid::one(
            &["scope"],
            "invalid_scope",
            "a key needs at least one scope",
        )
        .into());
    }
    if let Some(l) = limit {
        check_limit(l)?;
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(memberops_core::Invalid::one(
            &["name"],
            "invalid_name",
            "a key needs a name of 1–100 characters",
        )
        .into());
    }
    let bytes: [u8; 32] = rand::random();
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
    let key = ApiKey {
        id: id::new_id(id::API_KEY),
        workspace_id: workspace_id.to_owned(),
        name: name.to_owned(),
        scopes,
        key_hash: hash_secret(&secret),
        key_prefix: secret.chars().take(SECRET_PREFIX.len() + 6).collect(),
        created_at: now_millis(),
        revoked_at: None,
        rate_limit: limit,
        last_used_at: None,
    };
    store.insert_api_key(&key).await?;
    Ok((key, secret))
}

/// The live key a secret belongs to.
pub async fn verify(store: &dyn Store, secret: &str) -> Result<ApiKey> {
    let key = store
        .api_key_by_hash(&hash_secret(secret.trim()))
        .await?
        .ok_or(AppError::Unauthorized("unknown API key"))?;
    if key.revoked_at.is_some() {
        return Err(AppError::Unauthorized("this API key was revoked"));
    }
    Ok(key)
}

/// A rate limit needs at least one request per second and a burst of at least one.
pub fn check_limit(l: RateLimit) -> Result<()> {
    if l.rps == 0 || l.burst == 0 {
        return Err(memberops_core::Invalid::one(
            &["rate_limit"],
            "out_of_range",
            "requests per second and burst must both be at least 1",
        )
        .into());
    }
    Ok(())
}

/// Sets or removes a key's rate limit (it applies within the key cache's lifetime).
pub async fn set_limit(
    store: &dyn Store,
    workspace_id: &str,
    id: &str,
    limit: Option<RateLimit>,
) -> Result<()> {
    if let Some(l) = limit {
        check_limit(l)?;
    }
    if !store.set_api_key_limit(workspace_id, id, limit).await? {
        return Err(AppError::NotFound { what: "API key" });
    }
    Ok(())
}
