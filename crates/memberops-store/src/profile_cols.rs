//! A member profile as the member table's columns: to text for binding, and back from a row.

use std::collections::BTreeMap;

use memberops_core::member::Profile;

use crate::error::{Result, StoreError};
use crate::model::gender_from_str;

/// Profile columns as text, ready to bind.
pub(crate) struct ProfileCols {
    pub gender: Option<&'static str>,
    pub birthday: Option<String>,
    pub time_zone: &'static str,
    pub consent: String,
    pub attributes: String,
    pub tags: String,
}

pub(crate) fn profile_cols(p: &Profile) -> ProfileCols {
    ProfileCols {
        gender: p.gender.map(|g| g.as_str()),
        birthday: p.birthday.map(|d| d.format("%Y-%m-%d").to_string()),
        time_zone: p.time_zone.name(),
        consent: serde_json::to_string(&p.consent).unwrap_or_else(|_| "{}".into()),
        attributes: serde_json::Value::Object(p.attributes.clone()).to_string(),
        tags: serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".into()),
    }
}

/// Raw profile columns as read from a row.
pub(crate) struct RawProfile {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birthday: Option<String>,
    pub income_band: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub registered_at: Option<i64>,
    pub time_zone: String,
    pub consent: String,
    pub attributes: String,
    pub tags: String,
}

pub(crate) fn parse_profile(r: RawProfile) -> Result<Profile> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let time_zone = r
        .time_zone
        .parse::<chrono_tz::Tz>()
        .map_err(|e| corrupt("time_zone", &e))?;
    let birthday = match r.birthday {
        Some(b) => Some(
            chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d")
                .map_err(|e| corrupt("birthday", &e))?,
        ),
        None => None,
    };
    let consent: BTreeMap<String, bool> =
        serde_json::from_str(&r.consent).map_err(|e| corrupt("consent", &e))?;
    let attributes: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&r.attributes).map_err(|e| corrupt("attributes", &e))?;
    let tags: Vec<String> = serde_json::from_str(&r.tags).map_err(|e| corrupt("tags", &e))?;
    Ok(Profile {
        phone: r.phone,
        email: r.email,
        name: r.name,
        gender: r.gender.as_deref().and_then(gender_from_str),
        birthday,
        income_band: r.income_band,
        region: r.region,
        channel: r.channel,
        registered_at: r.registered_at,
        time_zone,
        consent,
        attributes,
        tags,
    })
}
