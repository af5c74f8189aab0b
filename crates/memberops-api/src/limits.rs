//! How much one client may ask of the server: body, URL and header sizes, JSON nesting,
//! time per request, time to send a request head, open connections (docs/operations.md,
//! "Limits"). Every refusal answers the shared error body.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Largest request body on routes without their own limit.
pub const BODY_BYTES: usize = 10 * 1024 * 1024;
/// Largest body of `POST /v1/events:batch`: 10,000 events with rich properties.
pub const BATCH_BODY_BYTES: usize = 48 * 1024 * 1024;
/// Deepest nesting of arrays and objects in a JSON body.
pub const JSON_DEPTH: usize = 32;

/// The server's limits; [`Limits::default`] is what `memberops serve` runs with.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest time a request may take, body upload included (503 `timeout` after it).
    pub request_timeout: Duration,
    /// The same for the whole-workspace operations of [`BULK`] (recomputes, exports,
    /// reports, a campaign launch), which grow with the number of members.
    pub bulk_request_timeout: Duration,
    /// Longest time a client may take to send a request head, and to keep an idle
    /// keep-alive connection open; the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Connections served at once; beyond it new clients wait in the listen backlog.
    pub max_connections: usize,
    /// Longest path and query (414 `uri_too_long`).
    pub max_uri_bytes: usize,
    /// Most bytes of request line and headers together (431 `headers_too_large`).
    pub max_head_bytes: usize,
    /// Most header fields in one request (431).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(60),
            bulk_request_timeout: Duration::from_secs(600),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_uri_bytes: 8 * 1024,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
        }
    }
}

/// 414 above the URL limit, 431 above the header limit; the transport refuses heads larger
/// than its read buffer before this runs (with hyper's plain 431).
pub async fn refuse_large_head(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let uri = req.uri();
    let uri_len = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_len > limits.max_uri_bytes {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the path and query are {uri_len} bytes; at most {} are accepted",
                limits.max_uri_bytes
            ),
        )
        .into_response();
    }
    let head: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + uri_len;
    if head > limits.max_head_bytes {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request headers are {head} bytes; at most {} are accepted",
                limits.max_head_bytes
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Paths whose work grows with the workspace: they get [`Limits::bulk_request_timeout`].
pub const BULK: &[&str] = &[
    ":recompute",
    ":refresh",
    ":rebuild-index",
    ":launch",
    "/export",
    "/v1/analytics/",
    "/v1/reports/",
];

fn is_bulk(path: &str) -> bool {
    BULK.iter().any(|b| {
        if b.starts_with("/v1/") {
            path.starts_with(b)
        } else {
            path.ends_with(b)
        }
    })
}

/// 503 `timeout` when a request (reading its body included) takes longer than the limit;
/// its work is dropped, so an open transaction rolls back.
pub async fn timeout(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let limit = if is_bulk(req.uri().path()) {
        limits.bulk_request_timeout
    } else {
        limits.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {} s and was abandoned; nothing of it was kept",
                limit.as_secs_f64()
            ),
        )
        .into_response(),
    }
}

/// 413 `payload_too_large` for a body above the route's limit.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than this route accepts ({} MiB; {} MiB for /v1/events:batch)",
            BODY_BYTES / (1024 * 1024),
            BATCH_BODY_BYTES / (1024 * 1024)
        ),
    )
}

/// Whether a JSON text nests arrays and objects deeper than `max` (strings skipped).
pub fn json_too_deep(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// 422 `json_too_deep`.
pub fn too_deep() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "json_too_deep",
        format!("the body nests arrays and objects more than {JSON_DEPTH} deep"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_workspace_operations_get_the_long_timeout() {
        for p in [
            "/v1/lifecycle:recompute",
            "/v1/segments/seg_1/export",
            "/v1/campaigns/cmp_1:launch",
            "/v1/analytics/cohorts",
        ] {
            assert!(is_bulk(p), "{p}");
        }
        for p in [
            "/v1/members",
            "/v1/members/m_1/points:spend",
            "/v1/events:batch",
        ] {
            assert!(!is_bulk(p), "{p}");
        }
    }

    #[test]
    fn depth_counts_nesting_outside_strings_only() {
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert!(json_too_deep(deep.as_bytes(), 32));
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(!json_too_deep(ok.as_bytes(), 32));
        let in_string = format!("{{\"a\": \"{}\\\"\"}}", "[".repeat(100));
        assert!(!json_too_deep(in_string.as_bytes(), 32));
        // Siblings do not add up.
        let wide = format!("[{}]", vec!["[[]]"; 100].join(","));
        assert!(!json_too_deep(wide.as_bytes(), 3));
    }
}
