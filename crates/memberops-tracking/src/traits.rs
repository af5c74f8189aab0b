//! `identify` traits → a profile patch. Spec traits fill profile fields; every other trait
//! becomes a custom attribute. A trait whose value does not fit its field (an email that
//! is not one) is kept under its own name as a raw attribute and reported: a shop's bad
//! data must never make a batch fail.

use memberops_core::member::{
    Gender, ProfilePatch, normalize_email, normalize_phone, parse_birthday,
};
use memberops_core::time::{When, parse_tz};
use memberops_core::{FieldError, Invalid};
use serde_json::{Map, Value};

/// A profile patch and what could not be used as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraitsOutcome {
    pub patch: ProfilePatch,
    pub warnings: Vec<FieldError>,
}

/// Traits the spec reserves and the profile consumes (camelCase and snake_case).
const CONSUMED: &[&str] = &[
    "email",
    "phone",
    "name",
    "firstName",
    "first_name",
    "lastName",
    "last_name",
    "gender",
    "birthday",
    "createdAt",
    "created_at",
    // The user id itself, repeated in traits by some SDKs.
    "id",
    "userId",
];

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Maps traits (and `context.timezone`) onto a profile patch. A phone written without a
/// country code takes `calling_code`, the workspace's.
pub fn profile_from_traits(
    traits: &Map<String, Value>,
    context: &Map<String, Value>,
    calling_code: &str,
) -> TraitsOutcome {
    let mut out = TraitsOutcome::default();
    let mut attributes = Map::new();
    let mut keep_raw = |key: &str, v: &Value, e: Invalid, warnings: &mut Vec<FieldError>| {
        attributes.insert(key.to_owned(), v.clone());
        for mut fe in e.0 {
            fe.loc = vec!["traits".into(), key.into()];
            fe.msg = format!("{}; kept as raw attribute `{key}`", fe.msg);
            warnings.push(fe);
        }
    };
    let not_text =
        |key: &str| Invalid::one(&[key], "invalid_trait", format!("`{key}` must be text"));
    let w = &mut out.warnings;

    if let Some(v) = traits.get("email").filter(|v| !v.is_null()) {
        match as_text(v)
            .ok_or_else(|| not_text("email"))
            .and_then(|s| normalize_email(&s))
        {
            Ok(e) => out.patch.email = Some(e),
            Err(e) => keep_raw("email", v, e, w),
        }
    }
    if let Some(v) = traits.get("phone").filter(|v| !v.is_null()) {
        match as_text(v)
            .ok_or_else(|| not_text("phone"))
            .and_then(|s| normalize_phone(&s, calling_code))
        {
            Ok(p) => out.patch.phone = Some(p),
            Err(e) => keep_raw("phone", v, e, w),
        }
    }
    let first = traits
        .get("firstName")
        .or_else(|| traits.get("first_name"))
        .and_then(as_text);
    let last = traits
        .get("lastName")
        .or_else(|| traits.get("last_name"))
        .and_then(as_text);
    let name = match traits
        .get("name")
        .and_then(as_text)
        .filter(|s| !s.is_empty())
    {
        Some(n) => Some(n),
        None => {
            let joined = [first.as_deref(), last.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        }
    };
    if let Some(n) = name {
        if n.chars().count() <= 200 {
            out.patch.name = Some(Some(n));
        } else if let Some(v) = traits.get("name") {
            keep_raw(
                "name",
                v,
                Invalid::one(&["name"], "too_long", "at most 200 characters"),
                w,
            );
        }
    }
    if let Some(v) = traits.get("gender").filter(|v| !v.is_null()) {
        match as_text(v)
            .ok_or_else(|| not_text("gender"))
            .and_then(|s| Gender::parse(&s))
        {
            Ok(g) => out.patch.gender = Some(Some(g)),
            Err(e) => keep_raw("gender", v, e, w),
        }
    }
    if let Some(v) = traits.get("birthday").filter(|v| !v.is_null()) {
        // SDKs often send a full ISO time for a date: its date part is the birthday.
        let parsed = as_text(v)
            .ok_or_else(|| not_text("birthday"))
            .and_then(|s| parse_birthday(s.get(..10).unwrap_or(&s)));
        match parsed {
            Ok(b) => out.patch.birthday = Some(b),
            Err(e) => keep_raw("birthday", v, e, w),
        }
    }
    if let Some(v) = traits
        .get("createdAt")
        .or_else(|| traits.get("created_at"))
        .filter(|v| !v.is_null())
    {
        match as_text(v)
            .ok_or_else(|| not_text("createdAt"))
            .and_then(|s| When::parse(&s, "createdAt"))
        {
            Ok(t) => out.patch.registered_at = Some(t),
            Err(e) => keep_raw("createdAt", v, e, w),
        }
    }
    // Region: the most precise of address.city, address.state / region.
    if let Some(Value::Object(addr)) = traits.get("address") {
        let region = ["city", "region", "state"]
            .iter()
            .find_map(|k| addr.get(*k).and_then(as_text).filter(|s| !s.is_empty()));
        if let Some(r) = region.filter(|r| r.chars().count() <= 200) {
            out.patch.region = Some(Some(r));
        }
    }
    if let Some(v) = context.get("timezone").filter(|v| !v.is_null()) {
        match as_text(v)
            .ok_or_else(|| not_text("timezone"))
            .and_then(|s| parse_tz(&s))
        {
            Ok(tz) => out.patch.time_zone = Some(Some(tz)),
            Err(e) => keep_raw("timezone", v, e, w),
        }
    }
    for (k, v) in traits {
        if !CONSUMED.contains(&k.as_str()) && !attributes.contains_key(k) {
            attributes.insert(k.clone(), v.clone());
        }
    }
    if !attributes.is_empty() {
        out.patch.attributes = Some(attributes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn spec_traits_fill_the_profile() {
        let out = profile_from_traits(
            &obj(
                json!({"email": "Ann@Example.com", "firstName": "Ann", "lastName": "Lee",
                        "phone": "+86 138 0013 8000", "gender": "female", "birthday": "1990-05-20T00:00:00Z",
                        "address": {"city": "Hangzhou", "state": "Zhejiang"}, "createdAt": "2025-01-02T03:04:05Z",
                        "plan": "gold", "id": "u1"}),
            ),
            &obj(json!({"timezone": "Asia/Shanghai"})),
            "86",
        );
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let p = out.patch;
        assert_eq!(p.email, Some(Some("ann@example.com".into())));
        assert_eq!(p.name, Some(Some("Ann Lee".into())));
        assert_eq!(p.phone, Some(Some("+8613800138000".into())));
        assert_eq!(p.gender, Some(Some(Gender::Female)));
        assert_eq!(p.region, Some(Some("Hangzhou".into())));
        assert_eq!(p.time_zone, Some(Some(chrono_tz::Asia::Shanghai)));
        assert!(p.registered_at.is_some());
        let attrs = p.attributes.expect("attributes");
        assert_eq!(attrs.get("plan"), Some(&json!("gold")));
        assert!(attrs.contains_key("address"));
        assert!(!attrs.contains_key("id"));
    }

    #[test]
    fn a_national_phone_is_stored_in_e164() {
        let out = profile_from_traits(&obj(json!({"phone": "13900001111"})), &Map::new(), "86");
        assert_eq!(out.patch.phone, Some(Some("+8613900001111".into())));
        let out = profile_from_traits(&obj(json!({"phone": "07700 900123"})), &Map::new(), "44");
        assert_eq!(out.patch.phone, Some(Some("+447700900123".into())));
    }

    #[test]
    fn bad_values_are_kept_raw_and_reported() {
        let out = profile_from_traits(
            &obj(json!({"email": "not-an-email", "birthday": 1990, "name": "Bo"})),
            &obj(json!({"timezone": "Mars/Base"})),
            "86",
        );
        assert_eq!(out.patch.email, None);
        assert_eq!(out.patch.name, Some(Some("Bo".into())));
        let attrs = out.patch.attributes.expect("attributes");
        assert_eq!(attrs.get("email"), Some(&json!("not-an-email")));
        assert_eq!(attrs.get("timezone"), Some(&json!("Mars/Base")));
        let locs: Vec<String> = out.warnings.iter().map(|w| w.loc.join(".")).collect();
        assert_eq!(
            locs,
            vec!["traits.email", "traits.birthday", "traits.timezone"]
        );
    }
}
