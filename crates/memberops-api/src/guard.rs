//! One layer in front of every route: checks the key and its scope ([`crate::scopes`]) and
//! its rate, records its use, audits writes of operator and admin keys, and masks phones and
//! emails for `read` keys. Routes added later get all of this from their template alone.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use memberops_app::audit::{self, Subject};

use crate::auth::{Caller, authenticate_parts, insufficient_scope};
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::scopes::{self, Need};
use crate::state::AppState;

/// Bodies up to this size are read for a top-level `member_id` to audit.
const AUDIT_BODY_PEEK: u64 = 1024 * 1024;

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The route template goes on the answer too, for the latency metric by route.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut resp = check(state, req, next).await;
    if let Some(m) = matched {
        resp.extensions_mut().insert(m);
    }
    resp
}

async fn check(state: AppState, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().clone();
    let Need::Scope(need) = scopes::need(&method, &route) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let (key, ws) = match authenticate_parts(&parts, &state).await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    if !scopes::allows(&key.scopes, &method, need) {
        return insufficient_scope(&method, need).into_response();
    }
    if let Some(limit) = key.rate_limit
        && let Err(wait) = state.limiter.take(&key.id, limit)
    {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this key may send {} requests a second (burst {}); retry in {wait} s",
                limit.rps, limit.burst
            ),
        )
        .into_response();
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait));
        return resp;
    }
    state.limiter.note_use(&state.store, &key);
    let mask = scopes::masks(&key.scopes, &method, need);
    // The event write path is not audited: the event log is its own append-only record
    // (ids, times, the member), and an admin key's batches would double every event.
    let audited = method != Method::GET
        && method != Method::HEAD
        && need != memberops_store::KeyScope::Ingest
        && audit::audits(&key);
    parts.extensions.insert(Caller {
        key: key.clone(),
        ws: ws.clone(),
    });
    let mut req = Request::from_parts(parts, body);
    if !audited {
        let resp = next.run(req).await;
        return if mask {
            crate::mask::response(resp).await
        } else {
            resp
        };
    }

    let path = req.uri().path().to_owned();
    let mut member = path_param(&route, &path, "id").filter(|_| route.starts_with("/v1/members/"));
    if member.is_none() {
        let (m, r) = body_member(req).await;
        member = m;
        req = r;
    }
    if let Some(m) = member.take() {
        // Paths and bodies may name the member by its external id.
        member = Some(
            audit::resolve_member(state.store.as_ref(), &ws, &m)
                .await
                .unwrap_or(m),
        );
    }
    let subject = subject(&method, &route, member.as_deref());
    let before = match &subject {
        Some(s) => audit::snapshot(state.store.as_ref(), &ws, s).await,
        None => None,
    };
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let resp = next.run(req).await;
    if resp.status().is_success() {
        let after = match &subject {
            Some(s) => audit::snapshot(state.store.as_ref(), &ws, s).await,
            None => None,
        };
        let write = audit::Write {
            author: audit::Author::from(&key),
            method: method.as_str(),
            route: &route,
            path: &path,
            status: resp.status().as_u16(),
            member_id: member,
            request_id,
            before,
            after,
        };
        if let Err(e) = audit::record(state.store.as_ref(), write).await {
            tracing::error!(error = %e, route = %route, "could not write the audit entry");
        }
    }
    if mask {
        crate::mask::response(resp).await
    } else {
        resp
    }
}

/// What a write changes whose state the audit keeps before and after.
fn subject(method: &Method, route: &str, member: Option<&str>) -> Option<Subject> {
    match (method.as_str(), route) {
        ("PUT", "/v1/intelligence/settings") => Some(Subject::IntelSettings),
        ("PUT", "/v1/loyalty/program") => Some(Subject::LoyaltyProgram),
        ("PATCH", "/v1/workspace") => Some(Subject::WorkspaceSettings),
        (_, r)
            if r.starts_with("/v1/members/{id}/")
                && (r.contains("points")
                    || r.contains("stored-value")
                    || r.contains("checkin")) =>
        {
            member.map(|m| Subject::Balances(m.to_owned()))
        }
        _ => None,
    }
}

/// The value of `{name}` in `path`, read against the route template (a `:verb` after the
/// parameter is not part of it).
pub fn path_param(route: &str, path: &str, name: &str) -> Option<String> {
    let want = format!("{{{name}}}");
    route
        .split('/')
        .zip(path.split('/'))
        .find_map(|(t, p)| {
            let rest = t.strip_prefix(&want)?;
            // A `{id}:verb` segment matched as `{id}` holds the verb too.
            let p = p.strip_suffix(rest)?;
            Some(p.split_once(':').map_or(p, |(v, _)| v).to_owned())
        })
        .filter(|v| !v.is_empty())
}

/// The top-level `member_id` of a small JSON body, and the request to pass on.
async fn body_member(req: Request) -> (Option<String>, Request) {
    let small = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n <= AUDIT_BODY_PEEK);
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !small || !json {
        return (None, req);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, AUDIT_BODY_PEEK as usize).await {
        Ok(bytes) => {
            let member = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("member_id")?.as_str().map(str::to_owned));
            (
                member,
                Request::from_parts(parts, axum::body::Body::from(bytes)),
            )
        }
        Err(_) => (None, Request::from_parts(parts, axum::body::Body::empty())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_read_against_the_template() {
        assert_eq!(
            path_param(
                "/v1/members/{id}/points:adjust",
                "/v1/members/m_1/points:adjust",
                "id"
            ),
            Some("m_1".into())
        );
        assert_eq!(
            path_param("/v1/members/{id}:erase", "/v1/members/m_2:erase", "id"),
            Some("m_2".into())
        );
        assert_eq!(
            path_param("/v1/members/{id}", "/v1/members/m_3:erase", "id"),
            Some("m_3".into())
        );
        assert_eq!(path_param("/v1/members", "/v1/members", "id"), None);
    }
}
