//! The member portrait (docs/analytics.md, "Portrait"): every member's profile, tier and
//! segments, narrowed to a saved segment when asked, divided dimension by dimension.

use std::collections::HashSet;

use chrono::NaiveDate;
use memberops_analytics::reports::portrait::{self, PortraitRow, Profile};
use memberops_store::Store;
use serde::Serialize;

use super::reports::{date_or, today};
use crate::error::Result;
use crate::segments::{IndexCache, saved};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Portrait {
    /// The saved segment described (null: every member).
    pub segment_id: Option<String>,
    /// Ages are counted on this day, YYYY-MM-DD.
    pub as_of: String,
    /// Members described.
    pub members: u64,
    /// Dimension by dimension (gender, age_band, region, channel, tier, stage, rfm_class,
    /// value_class), values by count, `(unknown)` last.
    pub distribution: Vec<PortraitRow>,
}

fn date(text: Option<&str>) -> Option<NaiveDate> {
    text.and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
}

pub async fn portrait(
    store: &dyn Store,
    cache: &IndexCache,
    ws: &Workspace,
    segment_id: Option<&str>,
    as_of: Option<&str>,
) -> Result<Portrait> {
    let on = date_or(as_of, "as_of", today(ws))?;
    let inside: Option<HashSet<String>> = match segment_id {
        Some(id) => {
            let (_, node) = saved::get(store, ws, id).await?;
            let now = memberops_core::time::now_millis();
            let members = saved::all_members(store, cache, ws, &node, now).await?;
            Some(members.into_iter().map(|m| m.id).collect())
        }
        None => None,
    };
    let profiles: Vec<Profile> = store
        .portrait_rows(&ws.id)
        .await?
        .into_iter()
        .filter(|r| inside.as_ref().is_none_or(|s| s.contains(&r.id)))
        .map(|r| Profile {
            gender: r.gender,
            birthday: date(r.birthday.as_deref()),
            region: r.region,
            channel: r.channel,
            tier: r.tier,
            stage: r.stage,
            rfm_class: r.rfm_class,
            value_class: r.value_class,
        })
        .collect();
    Ok(Portrait {
        segment_id: segment_id.map(str::to_owned),
        as_of: on.format("%Y-%m-%d").to_string(),
        members: profiles.len() as u64,
        distribution: portrait::portrait(&profiles, on),
    })
}
