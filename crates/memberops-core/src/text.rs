//! Text every database can store. PostgreSQL refuses the NUL character in text
//! (`invalid byte sequence for encoding "UTF8": 0x00`) where SQLite keeps it; MemberOps
//! refuses it at the edge, the same way on both, naming where it was found.

use serde_json::Value;

use crate::error::FieldError;

pub const NUL_CODE: &str = "nul_character";

/// Where in a JSON value (a key or a string) the first NUL character is: its path.
pub fn find_nul(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => s.contains('\0').then(Vec::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| {
            find_nul(x).map(|mut p| {
                p.insert(0, i.to_string());
                p
            })
        }),
        Value::Object(map) => find_nul_in(map),
        _ => None,
    }
}

/// [`find_nul`] over an object's keys and values.
pub fn find_nul_in(map: &serde_json::Map<String, Value>) -> Option<Vec<String>> {
    map.iter().find_map(|(k, x)| {
        if k.contains('\0') {
            return Some(vec![k.replace('\0', "\u{FFFD}")]);
        }
        find_nul(x).map(|mut p| {
            p.insert(0, k.clone());
            p
        })
    })
}

/// The validation error for a NUL found at `loc`.
pub fn nul_error(loc: Vec<String>) -> FieldError {
    FieldError {
        loc,
        code: NUL_CODE.to_owned(),
        msg: "text may not contain the NUL character (U+0000)".to_owned(),
    }
}

/// Whether a JSON document's text holds an escaped NUL (`\u0000`) in a string: JSON can
/// carry NUL no other way. Checked on the raw bytes, before parsing.
pub fn json_has_nul(raw: &[u8]) -> bool {
    let pat = b"u0000";
    let mut i = 0;
    while let Some(pos) = raw[i..].windows(pat.len()).position(|w| w == pat) {
        let at = i + pos;
        // A `\u0000` escape: an odd number of backslashes right before it.
        let slashes = raw[..at].iter().rev().take_while(|b| **b == b'\\').count();
        if slashes % 2 == 1 {
            return true;
        }
        i = at + 1;
    }
    false
}

/// The text with NUL characters replaced, for keeping a refused payload on record.
pub fn without_nul(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_path_of_a_nul() {
        assert_eq!(
            find_nul(&json!({"a": 1, "b": ["x", "y\u{0}"]})),
            Some(vec!["b".into(), "1".into()])
        );
        assert_eq!(find_nul(&json!({"a\u{0}": 1})).map(|p| p.len()), Some(1));
        assert_eq!(find_nul(&json!({"a": "fine", "n": null})), None);
    }

    #[test]
    fn sees_escaped_nul_in_raw_json_only() {
        assert!(json_has_nul(br#"{"name": "a\u0000b"}"#));
        assert!(
            !json_has_nul(br#"{"name": "a\\u0000b"}"#),
            "an escaped backslash, then text"
        );
        assert!(json_has_nul(br#"{"name": "a\\\u0000b"}"#));
        assert!(!json_has_nul(br#"{"name": "u0000"}"#));
    }
}
