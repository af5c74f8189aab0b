//! The rules one workspace's member intelligence runs with: RFM scoring, lifecycle stage
//! thresholds, value-class shares and grades, and the churn-warning factor. Operators save
//! them as a whole; the seed defaults apply until they do.
//!
//! [`IntelSettings::from_json`] is the one way in from outside: it reports every problem at
//! once, each named by its dotted path (`lifecycle.silent_after_days`), including keys no
//! rule reads (`unknown_setting`), so a typo is an error rather than a silently ignored
//! field. Fields left out take their seed default.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::churn::ChurnConfig;
use crate::error::{Problems, SegmentError};
use crate::lifecycle::LifecycleRules;
use crate::rfm::RfmConfig;
use crate::value_class::ValueClassRules;

/// Member-intelligence rules of a workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct IntelSettings {
    /// RFM scores (quintiles or operator cut points) and how classes are split.
    pub rfm: RfmConfig,
    /// Lifecycle stage thresholds.
    pub lifecycle: LifecycleRules,
    /// Customer value shares and prospect grades.
    pub value: ValueClassRules,
    /// Default factor and floor of the churn warning (query parameters override them).
    pub churn: ChurnConfig,
}

impl IntelSettings {
    /// Every rule that does not hold, by dotted path.
    pub fn problems(&self) -> Vec<SegmentError> {
        let mut out = Vec::new();
        self.rfm.check(&mut Problems::new("rfm", &mut out));
        self.lifecycle
            .check(&mut Problems::new("lifecycle", &mut out));
        self.value.check(&mut Problems::new("value", &mut out));
        self.churn.check(&mut Problems::new("churn", &mut out));
        out
    }

    /// Parses and validates a settings document; on failure, every problem found.
    pub fn from_json(v: &Value) -> Result<IntelSettings, Vec<SegmentError>> {
        let Value::Object(sections) = v else {
            return Err(vec![SegmentError::config(
                "settings",
                "expected an object with `rfm`, `lifecycle`, `value`, `churn`",
            )]);
        };
        let mut out = Vec::new();
        let mut s = IntelSettings::default();
        for (name, body) in sections {
            match name.as_str() {
                "rfm" => s.rfm = section(name, body, &mut out),
                "lifecycle" => s.lifecycle = section(name, body, &mut out),
                "value" => s.value = section(name, body, &mut out),
                "churn" => s.churn = section(name, body, &mut out),
                _ => out.push(SegmentError::UnknownSetting {
                    field: name.clone(),
                }),
            }
        }
        // Rules between fields are only meaningful once every field parsed.
        if out.is_empty() {
            out = s.problems();
        }
        if out.is_empty() { Ok(s) } else { Err(out) }
    }
}

/// One section: parsed as a whole, or on failure field by field (each over the defaults)
/// so the error names the field; keys the section does not have are reported either way.
fn section<T>(name: &str, body: &Value, out: &mut Vec<SegmentError>) -> T
where
    T: Default + Serialize + DeserializeOwned,
{
    let path = |k: &str| format!("{name}.{k}");
    match serde_json::from_value::<T>(body.clone()) {
        Ok(t) => {
            if let Ok(normal) = serde_json::to_value(&t) {
                unknown_keys(name, body, &normal, out);
            }
            t
        }
        Err(e) => {
            let before = out.len();
            if let (Value::Object(fields), Ok(Value::Object(base))) =
                (body, serde_json::to_value(T::default()))
            {
                for (k, v) in fields {
                    if !base.contains_key(k) {
                        out.push(SegmentError::UnknownSetting { field: path(k) });
                        continue;
                    }
                    let mut probe = base.clone();
                    probe.insert(k.clone(), v.clone());
                    if let Err(e) = serde_json::from_value::<T>(Value::Object(probe)) {
                        out.push(SegmentError::config(&path(k), e.to_string()));
                    }
                }
            }
            if out.len() == before {
                out.push(SegmentError::config(name, e.to_string()));
            }
            T::default()
        }
    }
}

/// Keys of `given` that the parsed value does not carry (serde ignored them).
fn unknown_keys(at: &str, given: &Value, normal: &Value, out: &mut Vec<SegmentError>) {
    let (Value::Object(g), Value::Object(n)) = (given, normal) else {
        return;
    };
    for (k, v) in g {
        let path = format!("{at}.{k}");
        match n.get(k) {
            Some(nv) => unknown_keys(&path, v, nv, out),
            None => out.push(SegmentError::UnknownSetting { field: path }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rfm::Scoring;

    fn paths(v: Value) -> Vec<(String, &'static str)> {
        IntelSettings::from_json(&v)
            .expect_err("invalid")
            .iter()
            .map(|e| (e.setting().unwrap_or("").to_owned(), e.code()))
            .collect()
    }

    #[test]
    fn defaults_round_trip_and_missing_fields_take_defaults() {
        let d = IntelSettings::default();
        let v = serde_json::to_value(&d).expect("json");
        assert_eq!(IntelSettings::from_json(&v).expect("valid"), d);
        assert_eq!(IntelSettings::from_json(&json!({})).expect("valid"), d);
        let s = IntelSettings::from_json(&json!({"lifecycle": {"silent_after_days": 30}}))
            .expect("valid");
        assert_eq!(s.lifecycle.silent_after_days, 30);
        assert_eq!(s.lifecycle.churned_after_days, 180);
        assert_eq!(s.value, ValueClassRules::default());
    }

    #[test]
    fn thresholds_parse_with_their_kind() {
        let s = IntelSettings::from_json(&json!({"rfm": {"scoring": {
            "kind": "thresholds", "r": [7, 30, 90, 180], "f": [2, 3, 5, 10], "m": [1, 2, 3, 4]}}}))
        .expect("valid");
        assert!(matches!(
            s.rfm.scoring,
            Scoring::Thresholds {
                r: [7, 30, 90, 180],
                ..
            }
        ));
    }

    #[test]
    fn every_broken_rule_is_named_by_its_path() {
        let got = paths(json!({
            "rfm": {"scoring": {"kind": "thresholds", "r": [7, 7, 90, 180], "f": [0, 3, 5, 10], "m": [1, 2, 3, 4]},
                    "class_basis": {"kind": "score_threshold", "r": 6, "f": 3, "m": 0}},
            "lifecycle": {"silent_after_days": 90, "churned_after_days": 90, "mature_spend_over_minor": -1},
            "value": {"vip_bp": 0, "large_bp": 5000, "medium_bp": 6000, "a_min": 120, "b_min": 20, "c_min": 20},
            "churn": {"factor": 0.5, "min_recency_days": -1}
        }));
        let want = [
            ("rfm.scoring.r", "invalid_config"),
            ("rfm.scoring.f", "invalid_config"),
            ("rfm.class_basis.r", "invalid_config"),
            ("rfm.class_basis.m", "invalid_config"),
            ("lifecycle.churned_after_days", "invalid_config"),
            ("lifecycle.mature_spend_over_minor", "invalid_config"),
            ("value.vip_bp", "invalid_config"),
            ("value.medium_bp", "invalid_config"),
            ("value.a_min", "invalid_config"),
            ("value.c_min", "invalid_config"),
            ("churn.factor", "invalid_config"),
            ("churn.min_recency_days", "invalid_config"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(p, c)| ((*p).to_owned(), *c)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn silent_must_come_before_churned() {
        assert_eq!(
            paths(json!({"lifecycle": {"silent_after_days": 200}})),
            vec![("lifecycle.churned_after_days".to_owned(), "invalid_config")]
        );
        assert_eq!(
            paths(json!({"lifecycle": {"silent_after_days": 0}})),
            vec![("lifecycle.silent_after_days".to_owned(), "invalid_config")]
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_located() {
        assert_eq!(
            paths(json!({"lifecycle": {"silent_afer_days": 30}, "segments": {}})),
            vec![
                ("lifecycle.silent_afer_days".to_owned(), "unknown_setting"),
                ("segments".to_owned(), "unknown_setting"),
            ]
        );
        assert_eq!(
            paths(json!({"rfm": {"scoring": {"kind": "quintiles", "r": [1, 2, 3, 4]}}})),
            vec![("rfm.scoring.r".to_owned(), "unknown_setting")]
        );
        assert_eq!(
            paths(json!({"lifecycle": {"silent_after_days": "30", "churned_after_days": 200}})),
            vec![("lifecycle.silent_after_days".to_owned(), "invalid_config")]
        );
        assert_eq!(
            paths(json!({"value": {"vip_bp": -5}})),
            vec![("value.vip_bp".to_owned(), "invalid_config")]
        );
        assert_eq!(
            paths(json!([1])),
            vec![("settings".to_owned(), "invalid_config")]
        );
    }

    #[test]
    fn shares_may_fill_the_whole_population() {
        let s = IntelSettings::from_json(
            &json!({"value": {"vip_bp": 1000, "large_bp": 4000, "medium_bp": 5000}}),
        )
        .expect("valid");
        assert_eq!(s.value.medium_bp, 5000);
    }
}
