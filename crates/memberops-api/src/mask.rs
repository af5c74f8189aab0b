//! Phones and emails masked in answers to `read` keys, in JSON (any field named `phone`
//! or `email`, at any depth) and CSV (the columns of those names), whatever the route.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Largest answer that is masked in memory; a larger one is refused rather than leaked.
const MAX_MASKED: usize = 256 * 1024 * 1024;

pub use memberops_core::mask::{email, phone};

fn field(name: &str, v: &str) -> Option<String> {
    match name {
        "phone" => Some(phone(v)),
        "email" => Some(email(v)),
        _ => None,
    }
}

pub fn json(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if let Value::String(s) = val
                    && let Some(m) = field(k, s)
                {
                    *s = m;
                } else {
                    json(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        _ => {}
    }
}

fn csv(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers = rd.headers().ok()?.clone();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&headers).ok()?;
    for rec in rd.records() {
        let rec = rec.ok()?;
        let masked: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, v)| {
                headers
                    .get(i)
                    .and_then(|h| field(h, v))
                    .filter(|_| !v.is_empty())
                    .unwrap_or_else(|| v.to_owned())
            })
            .collect();
        out.write_record(&masked).ok()?;
    }
    out.into_inner().ok()
}

/// The answer with phones and emails masked.
pub async fn response(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let kind = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_json = kind.contains("json");
    let is_csv = kind.contains("csv");
    if !is_json && !is_csv {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_MASKED).await else {
        return crate::error::ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the answer could not be masked",
        )
        .into_response();
    };
    let masked = if is_json {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|mut v| {
                json(&mut v);
                serde_json::to_vec(&v).ok()
            })
    } else {
        csv(&bytes)
    };
    // An answer that does not parse holds no field to mask.
    let out = masked.unwrap_or_else(|| bytes.to_vec());
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_their_ends_and_emails_their_domain() {
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(phone("+8613812345678"), "+86138****5678");
        assert_eq!(phone("12345"), "*2345");
        assert_eq!(email("ming.li@example.com"), "m***@example.com");
        let mut v = serde_json::json!({"data": [{"phone": "13812345678", "profile": {"email": "a@b.cn"}, "name": "x"}]});
        json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"data": [{"phone": "138****5678", "profile": {"email": "a***@b.cn"}, "name": "x"}]})
        );
    }

    #[test]
    fn csv_columns_named_phone_and_email_are_masked() {
        let out = csv(b"id,phone,email\nm1,13812345678,a@b.cn\nm2,,\n").expect("csv");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "id,phone,email\nm1,138****5678,a***@b.cn\nm2,,\n"
        );
    }
}
