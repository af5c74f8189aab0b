//! One Tracking API message, read leniently: unknown fields are ignored, ids may be
//! numbers, and a missing `messageId` is derived from the message itself so that a replay
//! of the same message is still recognised.

use chrono::{DateTime, Utc};
use memberops_core::{FieldError, Invalid};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The Tracking API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "identify" => Some(Kind::Identify),
            "track" => Some(Kind::Track),
            "page" => Some(Kind::Page),
            "screen" => Some(Kind::Screen),
            "group" => Some(Kind::Group),
            "alias" => Some(Kind::Alias),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Identify => "identify",
            Kind::Track => "track",
            Kind::Page => "page",
            Kind::Screen => "screen",
            Kind::Group => "group",
            Kind::Alias => "alias",
        }
    }
}

/// A message that has the envelope a call needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// `alias`: the id the user had before.
    pub previous_id: Option<String>,
    pub group_id: Option<String>,
    /// `track`: the event name.
    pub event: Option<String>,
    /// `page` / `screen`: the page name and category.
    pub name: Option<String>,
    pub category: Option<String>,
    pub properties: Map<String, Value>,
    pub traits: Map<String, Value>,
    pub context: Map<String, Value>,
    pub timestamp: Option<String>,
    pub original_timestamp: Option<String>,
    pub sent_at: Option<String>,
}

/// Longest id kept (user, anonymous, message ids), as for MemberOps' own ids.
const MAX_ID: usize = 200;

fn id_field(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, Invalid> {
    for k in keys {
        let text = match obj.get(*k) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(Invalid::one(
                    &[k],
                    "invalid_id",
                    format!("`{k}` must be a string"),
                ));
            }
        };
        if text.is_empty() {
            continue;
        }
        if text.len() > MAX_ID || text.chars().any(char::is_control) {
            return Err(Invalid::one(
                &[k],
                "invalid_id",
                format!("`{k}` must be 1–{MAX_ID} printable characters"),
            ));
        }
        return Ok(Some(text));
    }
    Ok(None)
}

fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn object(obj: &Map<String, Value>, key: &str) -> Map<String, Value> {
    match obj.get(key) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

impl Message {
    /// Reads one message. `path_kind` is the call named by the URL (`/v1/track`), which
    /// wins over a `type` field; `batch_sent_at` is the batch's `sentAt`, used by messages
    /// that carry none (the SDKs stamp the batch, not each message).
    pub fn parse(
        v: &Value,
        path_kind: Option<Kind>,
        batch_sent_at: Option<&str>,
    ) -> Result<Message, Invalid> {
        let Value::Object(obj) = v else {
            return Err(Invalid::one(
                &[],
                "invalid_message",
                "a message must be a JSON object",
            ));
        };
        let kind = match path_kind {
            Some(k) => k,
            None => match obj.get("type").and_then(Value::as_str) {
                Some(t) => Kind::parse(t).ok_or_else(|| {
                    Invalid::one(
                        &["type"],
                        "unknown_type",
                        format!("`{t}` is not one of identify, track, page, screen, group, alias"),
                    )
                })?,
                None => {
                    return Err(Invalid::one(
                        &["type"],
                        "missing_type",
                        "a batch message needs a `type`",
                    ));
                }
            },
        };
        let user_id = id_field(obj, &["userId", "user_id"])?;
        let anonymous_id = id_field(obj, &["anonymousId", "anonymous_id"])?;
        let previous_id = id_field(obj, &["previousId", "previous_id"])?;
        let group_id = id_field(obj, &["groupId", "group_id"])?;
        if user_id.is_none() && anonymous_id.is_none() {
            return Err(Invalid::one(
                &["userId"],
                "missing_identity",
                "a message needs a `userId` or an `anonymousId`",
            ));
        }
        let event = text(obj, "event");
        match kind {
            Kind::Track if event.is_none() => {
                return Err(Invalid::one(
                    &["event"],
                    "missing_event",
                    "a track call needs an `event` name",
                ));
            }
            Kind::Alias if previous_id.is_none() || user_id.is_none() => {
                return Err(Invalid::one(
                    &["previousId"],
                    "missing_previous_id",
                    "an alias call needs `previousId` and `userId`",
                ));
            }
            Kind::Group if group_id.is_none() => {
                return Err(Invalid::one(
                    &["groupId"],
                    "missing_group_id",
                    "a group call needs a `groupId`",
                ));
            }
            _ => {}
        }
        let message_id = match id_field(obj, &["messageId", "message_id"])? {
            Some(id) => id,
            // Deterministic, so that resending the same id-less message is a no-op too.
            None => {
                let digest = Sha256::digest(v.to_string().as_bytes());
                format!("seg-{}", hex::encode(&digest[..16]))
            }
        };
        Ok(Message {
            kind,
            message_id,
            user_id,
            anonymous_id,
            previous_id,
            group_id,
            event,
            name: text(obj, "name"),
            category: text(obj, "category"),
            properties: object(obj, "properties"),
            traits: object(obj, "traits"),
            context: object(obj, "context"),
            timestamp: text(obj, "timestamp"),
            original_timestamp: text(obj, "originalTimestamp"),
            sent_at: text(obj, "sentAt").or_else(|| batch_sent_at.map(str::to_owned)),
        })
    }

    /// When the event happened, per the spec: `timestamp` when given; else
    /// `originalTimestamp` moved by the client's clock error (`received - sentAt`); else
    /// the time received. Unreadable times are reported and skipped.
    pub fn event_time(&self, received: DateTime<Utc>) -> (DateTime<Utc>, Vec<FieldError>) {
        let mut warnings = Vec::new();
        let mut read = |field: &str, v: &Option<String>| -> Option<DateTime<Utc>> {
            let t = v.as_deref()?;
            match DateTime::parse_from_rfc3339(t) {
                Ok(dt) => Some(dt.with_timezone(&Utc)),
                Err(_) => {
                    warnings.push(FieldError::new(
                        &[field],
                        "invalid_time",
                        format!("`{t}` is not an ISO 8601 time; ignored"),
                    ));
                    None
                }
            }
        };
        let timestamp = read("timestamp", &self.timestamp);
        let original = read("originalTimestamp", &self.original_timestamp);
        let sent = read("sentAt", &self.sent_at);
        let at = match (timestamp, original, sent) {
            (Some(t), _, _) => t,
            (None, Some(o), Some(s)) => o + (received - s),
            (None, Some(o), None) => o,
            (None, None, _) => received,
        };
        (at, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn clock_skew_is_corrected_with_sent_at() {
        let m = Message::parse(
            &json!({"type": "track", "event": "X", "userId": 7, "messageId": "m",
                    "originalTimestamp": "2026-01-01T10:00:00Z", "sentAt": "2026-01-01T10:05:00Z"}),
            None,
            None,
        )
        .expect("message");
        assert_eq!(m.user_id.as_deref(), Some("7"));
        // The client's clock is 1 hour behind: received at 11:05 what it stamped 10:05.
        let (t, w) = m.event_time(at("2026-01-01T11:05:00Z"));
        assert_eq!(t, at("2026-01-01T11:00:00Z"));
        assert!(w.is_empty());
        let m2 = Message {
            timestamp: Some("2026-01-01T09:00:00+08:00".into()),
            ..m
        };
        assert_eq!(
            m2.event_time(at("2026-01-02T00:00:00Z")).0,
            at("2026-01-01T01:00:00Z")
        );
    }

    #[test]
    fn batch_sent_at_and_missing_ids() {
        let v = json!({"type": "page", "anonymousId": "a1", "originalTimestamp": "2026-01-01T10:00:00Z"});
        let m = Message::parse(&v, None, Some("2026-01-01T10:00:10Z")).expect("message");
        assert_eq!(m.sent_at.as_deref(), Some("2026-01-01T10:00:10Z"));
        let again = Message::parse(&v, None, None).expect("message");
        assert!(m.message_id.starts_with("seg-"));
        assert_eq!(m.message_id, again.message_id);

        let err = Message::parse(&json!({"type": "track", "event": "X"}), None, None)
            .expect_err("no ids");
        assert_eq!(err.code(), "missing_identity");
        let err =
            Message::parse(&json!({"type": "nope", "userId": "u"}), None, None).expect_err("type");
        assert_eq!(err.code(), "unknown_type");
        let err =
            Message::parse(&json!({"userId": "u"}), Some(Kind::Track), None).expect_err("event");
        assert_eq!(err.code(), "missing_event");
    }
}
