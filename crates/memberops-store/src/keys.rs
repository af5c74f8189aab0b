//! API keys beyond their creation: scopes, per-key rate limits and last use.

use async_trait::async_trait;
use memberops_core::time::Millis;

use crate::error::Result;

/// What an API key may do (docs/operations.md). A key holds one or more scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyScope {
    /// Send events and tracking calls only (SDKs, a shop's event feed).
    Ingest,
    /// What a shop's back end needs at the till: checkout validation and redemption,
    /// member-center reads, points and stored-value spending.
    Checkout,
    /// Every GET (except keys and the audit log), with phones and emails masked.
    Read,
    /// Configure programs, coupons, segments, campaigns and tags; reads everything.
    Operator,
    /// Everything, keys and settings included.
    Admin,
}

impl KeyScope {
    pub const ALL: [KeyScope; 5] = [
        KeyScope::Ingest,
        KeyScope::Checkout,
        KeyScope::Read,
        KeyScope::Operator,
        KeyScope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Ingest => "ingest",
            KeyScope::Checkout => "checkout",
            KeyScope::Read => "read",
            KeyScope::Operator => "operator",
            KeyScope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyScope> {
        KeyScope::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// `a,b` (as stored and as typed on the command line) into a sorted, deduplicated
    /// list; None when a name is unknown or the list is empty.
    pub fn parse_list(s: &str) -> Option<Vec<KeyScope>> {
        let mut out = s
            .split(',')
            .map(KeyScope::parse)
            .collect::<Option<Vec<_>>>()?;
        out.sort();
        out.dedup();
        (!out.is_empty()).then_some(out)
    }

    /// The stored form of a list of scopes.
    pub fn join(scopes: &[KeyScope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A key's request rate: `rps` requests per second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub rps: u32,
    pub burst: u32,
}

/// The limit stored in `rate_rps` / `rate_burst` (both set, or none).
pub(crate) fn limit_from(rps: Option<i64>, burst: Option<i64>) -> Option<RateLimit> {
    Some(RateLimit {
        rps: u32::try_from(rps?).ok()?,
        burst: u32::try_from(burst?).ok()?,
    })
}

#[async_trait]
pub trait KeysStore: Send + Sync {
    /// Records that a key was used at `at` (callers throttle this).
    async fn touch_api_key(&self, id: &str, at: Millis) -> Result<()>;
    /// Sets (or with None removes) a key's rate limit; false when there is no such key.
    async fn set_api_key_limit(
        &self,
        workspace_id: &str,
        id: &str,
        limit: Option<RateLimit>,
    ) -> Result<bool>;
}

macro_rules! impl_keys {
    ($Store:ty) => {
        const _: () = {
            use async_trait::async_trait;

            use crate::error::Result;
            use crate::keys::*;
            use memberops_core::time::Millis;

            #[async_trait]
            impl KeysStore for $Store {
                #[tracing::instrument(level = "debug", skip_all)]
                async fn touch_api_key(&self, id: &str, at: Millis) -> Result<()> {
                    sqlx::query(
                        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                         AND (last_used_at IS NULL OR last_used_at < $1)",
                    )
                    .bind(at)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "debug", skip_all)]
                async fn set_api_key_limit(
                    &self,
                    workspace_id: &str,
                    id: &str,
                    limit: Option<RateLimit>,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "UPDATE api_keys SET rate_rps = $1, rate_burst = $2 \
                         WHERE workspace_id = $3 AND id = $4",
                    )
                    .bind(limit.map(|l| i64::from(l.rps)))
                    .bind(limit.map(|l| i64::from(l.burst)))
                    .bind(workspace_id)
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                    Ok(done.rows_affected() > 0)
                }
            }
        };
    };
}
pub(crate) use impl_keys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_sorted_and_refuse_unknown_names() {
        assert_eq!(
            KeyScope::parse_list("read,checkout,read"),
            Some(vec![KeyScope::Checkout, KeyScope::Read])
        );
        assert_eq!(KeyScope::parse_list("admin"), Some(vec![KeyScope::Admin]));
        assert_eq!(KeyScope::parse_list("admin,root"), None);
        assert_eq!(KeyScope::parse_list(""), None);
        assert_eq!(
            KeyScope::join(&[KeyScope::Checkout, KeyScope::Read]),
            "checkout,read"
        );
    }
}
