//! Member profiles (会员档案): the fields, their validation and normalisation.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Collector, FieldError, Invalid};
use crate::time::{Millis, When};

/// Channels a member can consent to be contacted on.
pub const CONSENT_CHANNELS: &[&str] = &["email", "sms", "push", "wechat", "phone", "inapp"];

/// Profile fields as a client sends them, on create, on `member.registered` or as a patch.
/// On a patch, an absent field is left alone and `null` clears it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ProfileIn {
    /// Stored in E.164; a number without a country code takes the workspace's
    /// (`138 0013 8000` → `+8613800138000`).
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "+8613800138000")]
    pub phone: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// male, female, other or unknown (男/女 accepted).
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub gender: Option<Option<String>>,
    /// YYYY-MM-DD.
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "1990-05-20")]
    pub birthday: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub income_band: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    /// Acquisition channel (where the member came from).
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Option<String>>,
    /// RFC 3339 or YYYY-MM-DD; defaults to the time of the registration event.
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub registered_at: Option<Option<String>>,
    /// IANA zone, e.g. Asia/Shanghai.
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "Asia/Shanghai")]
    pub time_zone: Option<Option<String>>,
    /// Per channel: true = may contact.
    pub consent: Option<BTreeMap<String, bool>>,
    /// Custom attributes, merged key by key; a null value removes the key.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces the member's manual tags.
    pub tags: Option<Vec<String>>,
}

/// Distinguishes an absent field (outer `None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
    Other,
    Unknown,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
            Gender::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Result<Gender, Invalid> {
        match text.trim().to_lowercase().as_str() {
            "male" | "m" | "男" => Ok(Gender::Male),
            "female" | "f" | "女" => Ok(Gender::Female),
            "other" | "o" => Ok(Gender::Other),
            "unknown" | "u" | "" => Ok(Gender::Unknown),
            _ => Err(Invalid::one(
                &["gender"],
                "invalid_gender",
                format!("`{text}` is not male, female, other or unknown"),
            )),
        }
    }
}

/// A validated, normalised change to a profile. `Some(None)` clears a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilePatch {
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub gender: Option<Option<Gender>>,
    pub birthday: Option<Option<NaiveDate>>,
    pub income_band: Option<Option<String>>,
    pub region: Option<Option<String>>,
    pub channel: Option<Option<String>>,
    pub registered_at: Option<When>,
    pub time_zone: Option<Option<chrono_tz::Tz>>,
    pub consent: Option<BTreeMap<String, bool>>,
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    pub tags: Option<Vec<String>>,
}

impl ProfileIn {
    /// Validates every field and reports all problems at once, each under its field name.
    /// `calling_code` is the workspace's, for phone numbers written without one.
    pub fn validate(self, calling_code: &str) -> Result<ProfilePatch, Invalid> {
        let mut c = Collector::default();
        let mut out = ProfilePatch {
            consent: self.consent.clone(),
            attributes: self.attributes,
            ..ProfilePatch::default()
        };
        out.phone = self
            .phone
            .map(|v| v.and_then(|s| c.take(normalize_phone(&s, calling_code)).flatten()));
        out.email = self
            .email
            .map(|v| v.and_then(|s| c.take(normalize_email(&s)).flatten()));
        out.name = self
            .name
            .map(|v| v.and_then(|s| c.take(text_field("name", &s, 200)).flatten()));
        out.gender = self
            .gender
            .map(|v| v.and_then(|s| c.take(Gender::parse(&s))));
        out.birthday = self
            .birthday
            .map(|v| v.and_then(|s| c.take(parse_birthday(&s)).flatten()));
        out.income_band = self
            .income_band
            .map(|v| v.and_then(|s| c.take(text_field("income_band", &s, 64)).flatten()));
        out.region = self
            .region
            .map(|v| v.and_then(|s| c.take(text_field("region", &s, 200)).flatten()));
        out.channel = self
            .channel
            .map(|v| v.and_then(|s| c.take(text_field("channel", &s, 64)).flatten()));
        out.registered_at = self
            .registered_at
            .flatten()
            .and_then(|s| c.take(When::parse(&s, "registered_at")));
        out.time_zone = self
            .time_zone
            .map(|v| v.and_then(|s| c.take(crate::time::parse_tz(&s))));
        if let Some(consent) = &self.consent {
            for ch in consent.keys() {
                if !CONSENT_CHANNELS.contains(&ch.as_str()) {
                    c.push(FieldError::new(
                        &["consent", ch],
                        "unknown_channel",
                        format!("consent channels are {}", CONSENT_CHANNELS.join(", ")),
                    ));
                }
            }
        }
        if let Some(tags) = self.tags {
            let mut clean = Vec::with_capacity(tags.len());
            for t in tags {
                if let Some(t) = c.take(text_field("tags", &t, 64)).flatten()
                    && !clean.contains(&t)
                {
                    clean.push(t);
                }
            }
            out.tags = Some(clean);
        }
        c.finish().map(|()| out)
    }
}

fn text_field(field: &str, s: &str, max: usize) -> Result<Option<String>, Invalid> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(Invalid::one(
            &[field],
            "too_long",
            format!("at most {max} characters"),
        ));
    }
    Ok(if t.is_empty() {
        None
    } else {
        Some(t.to_owned())
    })
}

/// Phone numbers are stored in E.164; a national number takes `calling_code`, the
/// workspace's (see [`crate::phone::to_e164`]). An empty string clears the field.
pub fn normalize_phone(s: &str, calling_code: &str) -> Result<Option<String>, Invalid> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    crate::phone::to_e164(s, calling_code).map(Some)
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Stored lower-cased so look-ups match however the member typed it.
pub fn normalize_email(s: &str) -> Result<Option<String>, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Invalid::one(
            &["email"],
            "invalid_email",
            format!("`{s}` is not an email address"),
        )
    };
    let (local, domain) = t.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if local.is_empty()
        || local.len() > 64
        || t.len() > 254
        || !domain_ok
        || local.contains(char::is_whitespace)
        || local.contains('@')
    {
        return Err(bad());
    }
    Ok(Some(t.to_lowercase()))
}

/// YYYY-MM-DD, not in the future, not before 1900.
pub fn parse_birthday(s: &str) -> Result<Option<NaiveDate>, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
        Invalid::one(
            &["birthday"],
            "invalid_birthday",
            format!("`{s}` is not a date (YYYY-MM-DD)"),
        )
    })?;
    if d.year() < 1900 || d > Utc::now().date_naive() {
        return Err(Invalid::one(
            &["birthday"],
            "invalid_birthday",
            format!("`{s}` is not a plausible birthday"),
        ));
    }
    Ok(Some(d))
}

/// A member's profile as stored: normalised values, no aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub income_band: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub registered_at: Option<Millis>,
    pub time_zone: chrono_tz::Tz,
    pub consent: BTreeMap<String, bool>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub tags: Vec<String>,
}

impl Profile {
    pub fn empty(time_zone: chrono_tz::Tz) -> Self {
        Profile {
            phone: None,
            email: None,
            name: None,
            gender: None,
            birthday: None,
            income_band: None,
            region: None,
            channel: None,
            registered_at: None,
            time_zone,
            consent: BTreeMap::new(),
            attributes: serde_json::Map::new(),
            tags: Vec::new(),
        }
    }

    /// Applies a validated patch. The zone is applied first so that a wall-clock
    /// `registered_at` in the same patch is read in the member's new zone. Consent and
    /// attributes merge key by key (a null attribute removes the key); tags are replaced.
    pub fn apply(&mut self, patch: &ProfilePatch, workspace_zone: chrono_tz::Tz) {
        fn set<T: Clone>(field: &mut Option<T>, v: &Option<Option<T>>) {
            if let Some(v) = v {
                field.clone_from(v);
            }
        }
        if let Some(tz) = patch.time_zone {
            self.time_zone = tz.unwrap_or(workspace_zone);
        }
        set(&mut self.phone, &patch.phone);
        set(&mut self.email, &patch.email);
        set(&mut self.name, &patch.name);
        set(&mut self.gender, &patch.gender);
        set(&mut self.birthday, &patch.birthday);
        set(&mut self.income_band, &patch.income_band);
        set(&mut self.region, &patch.region);
        set(&mut self.channel, &patch.channel);
        if let Some(w) = patch.registered_at {
            self.registered_at = Some(w.resolve(self.time_zone).0);
        }
        if let Some(c) = &patch.consent {
            self.consent.extend(c.iter().map(|(k, v)| (k.clone(), *v)));
        }
        if let Some(attrs) = &patch.attributes {
            for (k, v) in attrs {
                if v.is_null() {
                    self.attributes.remove(k);
                } else {
                    self.attributes.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(t) = &patch.tags {
            self.tags.clone_from(t);
        }
    }
}

/// A stored member profile with its maintained aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    /// Internal id (`mbr_…`).
    pub id: String,
    /// The brand's own id for the member, unique in the workspace.
    pub external_id: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    #[schema(value_type = Option<String>, format = Date)]
    pub birthday: Option<NaiveDate>,
    pub income_band: Option<String>,
    pub region: Option<String>,
    pub channel: Option<String>,
    /// RFC 3339, UTC.
    pub registered_at: Option<String>,
    pub time_zone: String,
    pub consent: BTreeMap<String, bool>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Profile, manual and rule tags when one member is read (`GET /v1/members/{id}`);
    /// profile tags in lists.
    pub tags: Vec<String>,
    /// The tags of the profile alone (as sent in `traits` or the members API).
    #[serde(default)]
    pub profile_tags: Vec<String>,
    /// Home store (门店) code; null when none (`/v1/members/{id}/store` has its history).
    #[serde(default)]
    pub store_code: Option<String>,
    /// Owning staff member (导购) code; null when none.
    #[serde(default)]
    pub staff_code: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub stats: MemberStats,
}

/// Aggregates kept up to date as events land.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberStats {
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    pub order_count: i64,
    /// Distinct local calendar days with an order.
    pub order_days: i64,
    /// Paid minus refunded, minor units.
    pub total_spend_minor: i64,
    pub total_paid_minor: i64,
    pub total_refunded_minor: i64,
    pub last_active_at: Option<String>,
    pub event_count: i64,
}

/// Age in whole years on `today`.
pub fn age_on(birthday: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birthday.year();
    if (today.month(), today.day()) < (birthday.month(), birthday.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_email_birthday_rules() {
        assert_eq!(
            normalize_phone("+86 138-0013-8000", "86")
                .ok()
                .flatten()
                .as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalize_phone("13800138000", "86")
                .ok()
                .flatten()
                .as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(normalize_phone(" ", "86").ok(), Some(None));
        assert!(normalize_phone("12ab", "86").is_err());
        assert!(normalize_phone("123", "86").is_err());
        assert_eq!(
            normalize_email(" Li.Lei@Example.COM ")
                .ok()
                .flatten()
                .as_deref(),
            Some("li.lei@example.com")
        );
        for bad in ["nope", "a@b", "@x.com", "a b@x.com", "a@x..com", "a@.x.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(parse_birthday("1990-02-30").is_err());
        assert!(parse_birthday("3000-01-01").is_err());
        assert!(parse_birthday("1990-02-28").is_ok());
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let p: ProfileIn = serde_json::from_value(serde_json::json!({
            "email": "x", "phone": "1", "birthday": "1990-99-01", "time_zone": "Nowhere/City", "consent": {"fax": true}
        }))
        .expect("json");
        let err = p.validate("86").expect_err("invalid");
        let codes: Vec<&str> = err.0.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            vec![
                "invalid_phone",
                "invalid_email",
                "invalid_birthday",
                "invalid_time_zone",
                "unknown_channel"
            ]
        );
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let p: ProfileIn =
            serde_json::from_value(serde_json::json!({"email": null})).expect("json");
        let patch = p.validate("86").expect("valid");
        assert_eq!(patch.email, Some(None));
        assert_eq!(patch.phone, None);
    }

    #[test]
    fn age_counts_whole_years() {
        let b = NaiveDate::from_ymd_opt(2000, 6, 15).expect("date");
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 6, 14).expect("date")),
            25
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 6, 15).expect("date")),
            26
        );
    }
}
