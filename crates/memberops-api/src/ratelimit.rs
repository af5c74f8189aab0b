//! Per-key request rates (a token bucket per key: `rps` tokens a second, up to `burst`)
//! and the key's last use, written at most once a minute per key rather than per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memberops_store::{ApiKey, RateLimit, Store};

/// How often a key's `last_used_at` is written at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Shared by every request of the process (each server process limits on its own).
#[derive(Clone, Default)]
pub struct Limiter {
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
    touched: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Limiter {
    /// Takes a token for the key; `Err(seconds)` to wait when it has none.
    pub fn take(&self, key_id: &str, limit: RateLimit) -> Result<(), u64> {
        let now = Instant::now();
        let rate = f64::from(limit.rps.max(1));
        let burst = f64::from(limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(key_id.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            // Whole seconds until a token is back (Retry-After takes seconds).
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    /// Records the key's use in the background when it was not recorded in the last minute.
    pub fn note_use(&self, store: &Arc<dyn Store>, key: &ApiKey) {
        let now = Instant::now();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            if touched
                .get(&key.id)
                .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
            {
                return;
            }
            touched.insert(key.id.clone(), now);
        }
        let (store, id) = (store.clone(), key.id.clone());
        tokio::spawn(async move {
            let at = memberops_core::time::now_millis();
            if let Err(e) = store.touch_api_key(&id, at).await {
                tracing::warn!(error = %e, key = %id, "could not record the key's last use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_waits_about_a_token() {
        let l = Limiter::default();
        let limit = RateLimit { rps: 1, burst: 3 };
        for _ in 0..3 {
            assert!(l.take("k", limit).is_ok());
        }
        assert_eq!(l.take("k", limit), Err(1));
        // Another key has its own bucket.
        assert!(l.take("other", limit).is_ok());
    }
}
