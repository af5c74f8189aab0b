use chrono_tz::Tz;
use memberops_core::Currency;
use memberops_store::Store;

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
    /// The member-intelligence rules as last read (see `segments::settings`).
    pub(crate) intel: SettingsCache,
    /// What event batches last committed about members (see `member_cache`).
    pub(crate) members: MemberCache,
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
            intel: SettingsCache::default(),
            members: MemberCache::default(),
        })
    }
}
