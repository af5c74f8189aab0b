//! The Segment-compatible Tracking API under `/ingest/segment` (an SDK configured with the
//! host `http://HOST:PORT/ingest/segment` works unchanged), and the tracking reads under
//! `/v1`.
//!
//! Auth is what the SDKs send: the write key as HTTP Basic user name with an empty
//! password, or `writeKey` in the body (a `Bearer` key works too). Any live key may send;
//! ingest-only keys cannot call the `/v1` reads.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use memberops_app::tracking::{self, Identities, TrackReport, TrackingIssueOut};
use memberops_tracking::{Kind, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ValidQuery;
use crate::page::Page;
use crate::state::AppState;

pub const TRACKING: &str = "tracking";

fn bad(code: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail)
}

fn unauthorized(code: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// Standard base64 with optional padding (what HTTP Basic uses).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The key from the Authorization header, if there is one.
fn header_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| unauthorized("invalid_write_key", "the Authorization header is not text"))?
        .trim();
    let key = if let Some(b) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    {
        let text = base64_decode(b.trim())
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                unauthorized(
                    "invalid_write_key",
                    "the Basic credentials are not base64 text",
                )
            })?;
        // The write key is the user name; the password is empty.
        text.split_once(':')
            .map(|(u, _)| u.to_owned())
            .unwrap_or(text)
    } else if let Some(b) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    {
        b.trim().to_owned()
    } else {
        return Err(unauthorized(
            "invalid_write_key",
            "send the write key as HTTP Basic user name (empty password) or `writeKey` in the body",
        ));
    };
    Ok(Some(key).filter(|k| !k.trim().is_empty()))
}

/// The body as bytes, inflated, within `limit`: over it → 400 `code`; unreadable (a gzip
/// body that does not inflate) → 400 `invalid_body`.
fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize, code: &str) -> ApiResult<Bytes> {
    let bytes = match body {
        Ok(b) => b,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            return Err(bad(code, format!("the body is over {} KB", limit / 1024)));
        }
        Err(e) => {
            return Err(bad(
                "invalid_body",
                format!("the body could not be read (bad gzip?): {}", e.body_text()),
            ));
        }
    };
    if bytes.len() > limit {
        return Err(bad(code, format!("the body is over {} KB", limit / 1024)));
    }
    Ok(bytes)
}

async fn handle(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: Option<Kind>,
) -> ApiResult<Json<TrackReport>> {
    let (limit, code) = match kind {
        None => (MAX_BATCH_BYTES, "batch_too_large"),
        Some(_) => (MAX_MESSAGE_BYTES, "message_too_large"),
    };
    let bytes = body_bytes(body, limit, code)?;
    if crate::limits::json_too_deep(&bytes, crate::limits::JSON_DEPTH) {
        return Err(crate::limits::too_deep());
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad("invalid_json", format!("the body is not JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(bad("invalid_json", "the body must be a JSON object"));
    };
    let secret = match header_key(&headers)? {
        Some(k) => k,
        None => obj
            .get("writeKey")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                unauthorized(
                    "missing_write_key",
                    "send the write key as HTTP Basic user name (empty password) or `writeKey` in the body",
                )
            })?,
    };
    let key = state
        .verify_key(&secret)
        .await
        .map_err(|e| unauthorized("invalid_write_key", e.body.detail))?;
    crate::auth::require(&key, memberops_store::KeyScope::Ingest)?;
    let ws = state.workspace(&key.workspace_id).await?;
    let (messages, sent_at) = match kind {
        Some(_) => (vec![Value::Object(obj)], None),
        None => {
            let sent_at = obj.get("sentAt").and_then(Value::as_str).map(str::to_owned);
            let Some(Value::Array(batch)) = obj.remove("batch") else {
                return Err(bad(
                    "invalid_batch",
                    "the body needs a `batch` array of messages",
                ));
            };
            if batch.len() > memberops_app::ingest::MAX_BATCH {
                return Err(bad(
                    "batch_too_large",
                    format!(
                        "a batch holds at most {} messages",
                        memberops_app::ingest::MAX_BATCH
                    ),
                ));
            }
            // A body within 32 KB cannot hold a message over it: measure only bigger ones.
            let fits = bytes.len() <= MAX_MESSAGE_BYTES;
            for (i, m) in batch.iter().enumerate().filter(|_| !fits) {
                let size = serde_json::to_vec(m).map(|v| v.len()).unwrap_or(0);
                if size > MAX_MESSAGE_BYTES {
                    return Err(bad(
                        "message_too_large",
                        format!(
                            "message {i} is {size} bytes; a message may have at most 32 KB: nothing was stored"
                        ),
                    ));
                }
            }
            (batch, sent_at)
        }
    };
    let report = tracking::ingest(
        state.store.as_ref(),
        &ws,
        &messages,
        kind,
        sent_at.as_deref(),
    )
    .await?;
    Ok(Json(report))
}

macro_rules! segment_call {
    ($fn:ident, $path:literal, $kind:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = TRACKING,
            request_body(content = Object, description = "A Segment Tracking API message (or `{\"batch\": [...]}`); gzip accepted"),
            security(("api_key" = [])),
            responses(
                (status = 200, body = TrackReport, description = "`{\"success\": true, ...}`; rejected messages are listed, the rest applied"),
                (status = 400, body = ErrorBody, description = "`invalid_json`, `invalid_body`, `invalid_batch`, `message_too_large`, `batch_too_large`"),
                (status = 401, body = ErrorBody, description = "`missing_write_key`, `invalid_write_key`")))]
        async fn $fn(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<Json<TrackReport>> {
            handle(state, headers, body, $kind).await
        }
    };
}

segment_call!(
    seg_identify,
    "/ingest/segment/v1/identify",
    Some(Kind::Identify),
    "Segment `identify`: who the user is; traits fill the member profile."
);
segment_call!(
    seg_track,
    "/ingest/segment/v1/track",
    Some(Kind::Track),
    "Segment `track`: an action (E-commerce spec events map to orders)."
);
segment_call!(
    seg_page,
    "/ingest/segment/v1/page",
    Some(Kind::Page),
    "Segment `page`: a page view (`page.viewed`)."
);
segment_call!(
    seg_screen,
    "/ingest/segment/v1/screen",
    Some(Kind::Screen),
    "Segment `screen`: an app screen view (`screen.viewed`)."
);
segment_call!(
    seg_group,
    "/ingest/segment/v1/group",
    Some(Kind::Group),
    "Segment `group`: the user joined a group or account."
);
segment_call!(
    seg_alias,
    "/ingest/segment/v1/alias",
    Some(Kind::Alias),
    "Segment `alias`: `previousId` (an anonymous id) is this `userId`: histories merge."
);
segment_call!(
    seg_batch,
    "/ingest/segment/v1/batch",
    None,
    "Segment `batch` (what the SDKs send): up to 500 KB of messages of any type."
);

/// A member's anonymous ids (merged or its own, if it is an anonymous profile) and the
/// identity conflicts it is part of.
#[utoipa::path(get, path = "/v1/members/{id}/identities", tag = TRACKING, params(("id" = String, Path, description = "internal or external id")),
    security(("api_key" = [])), responses((status = 200, body = Identities), (status = 404, body = ErrorBody)))]
async fn get_identities(
    State(state): State<AppState>,
    auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Identities>> {
    Ok(Json(
        tracking::identities(state.store.as_ref(), &auth.ws, &id).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IssueQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

/// Tracking messages rejected (nothing stored) or stored with values kept raw, newest first.
#[utoipa::path(get, path = "/v1/tracking/issues", tag = TRACKING, params(IssueQuery),
    security(("api_key" = [])), responses((status = 200, body = Page<TrackingIssueOut>), (status = 422, body = ErrorBody)))]
async fn get_issues(
    State(state): State<AppState>,
    auth: Admin,
    ValidQuery(q): ValidQuery<IssueQuery>,
) -> ApiResult<Json<Page<TrackingIssueOut>>> {
    let page =
        tracking::issues(state.store.as_ref(), &auth.ws, q.cursor.as_deref(), q.limit).await?;
    Ok(Json(Page::new(page.data, page.next_cursor)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seg_identify))
        .routes(routes!(seg_track))
        .routes(routes!(seg_page))
        .routes(routes!(seg_screen))
        .routes(routes!(seg_group))
        .routes(routes!(seg_alias))
        .routes(routes!(seg_batch))
        // One byte over the limit is enough to tell "too large" from "fits".
        .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES + 1))
        .routes(routes!(get_identities))
        .routes(routes!(get_issues))
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_decode() {
        assert_eq!(
            super::base64_decode("d2tfMTIzOg==").as_deref(),
            Some(&b"wk_123:"[..])
        );
        assert_eq!(super::base64_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert!(super::base64_decode("a$b").is_none());
    }
}
