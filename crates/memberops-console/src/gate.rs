//! The one door of the console: session, CSRF token and role, checked for every route
//! before its handler runs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use memberops_app::Workspace;
use memberops_app::audit;
use memberops_app::operators::{self, Permission, Session};
use memberops_core::time::now_millis;

use crate::ConsoleState;
use crate::error::{ConsoleError, ErrorInfo};
use crate::i18n::Locale;

/// The session cookie: an opaque random token (the database keeps its SHA-256).
pub const SESSION_COOKIE: &str = "mo_session";
/// The sign-in form's CSRF token, compared with the form's field (double submit): there
/// is no session yet to keep it in.
pub const LOGIN_CSRF_COOKIE: &str = "mo_login_csrf";
/// The form field every POST form carries.
pub const CSRF_FIELD: &str = "csrf";
/// The header `fetch` calls carry the token in instead.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Largest form the console takes.
const MAX_FORM: usize = 1024 * 1024;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Without a session (the sign-in page, stylesheets).
    Public,
    /// Any signed-in operator.
    SignedIn,
    Needs(Permission),
}

/// Every console route and what it needs. A route missing here is refused (a test checks
/// that the router and this table agree).
pub const PERMISSIONS: &[(&str, &str, Access)] = {
    use Access::*;
    use Permission::*;
    &[
        ("GET", "/login", Public),
        ("POST", "/login", Public),
        ("GET", "/assets/{file}", Public),
        ("POST", "/logout", SignedIn),
        ("POST", "/account/language", SignedIn),
        ("GET", "/", Needs(ViewDashboard)),
        ("GET", "/members", Needs(ViewMembers)),
        ("GET", "/members/{id}", Needs(ViewMembers)),
        ("POST", "/members/{id}/points", Needs(AdjustPoints)),
        ("POST", "/members/{id}/tags", Needs(TagMembers)),
        ("GET", "/segments", Needs(ViewSegments)),
        ("POST", "/segments", Needs(EditSegments)),
        ("GET", "/segments/new", Needs(EditSegments)),
        ("POST", "/segments/count", Needs(EditSegments)),
        ("GET", "/campaigns", Needs(ViewCampaigns)),
        ("POST", "/campaigns", Needs(EditCampaigns)),
        ("GET", "/campaigns/new", Needs(EditCampaigns)),
    ]
};

/// The writes that go to the audit log (`memberops audit`), with the operator as author.
const AUDITED: &[&str] = &[
    "/members/{id}/points",
    "/members/{id}/tags",
    "/segments",
    "/campaigns",
];

pub fn access(method: &Method, route: &str) -> Option<Access> {
    PERMISSIONS
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
        .map(|(_, _, a)| *a)
}

/// What a handler knows about its request once the gate let it through.
#[derive(Clone)]
pub struct Ctx {
    pub session: Session,
    pub ws: Arc<Workspace>,
    pub locale: Locale,
    /// Whether cookies set now carry `Secure`.
    pub secure: bool,
    /// The session cookie's token (to end the session).
    pub token: String,
}

impl Ctx {
    pub fn can(&self, p: Permission) -> bool {
        self.session.operator.can(p)
    }
}

impl FromRequestParts<ConsoleState> for Ctx {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or(ConsoleError::Internal("a route without the gate".into()))
    }
}

/// The language of a request without a session: the `lang` cookie the sign-in page's
/// switch sets, else `Accept-Language`.
pub fn request_locale(headers: &HeaderMap) -> Locale {
    cookie(headers, "lang")
        .and_then(Locale::parse)
        .unwrap_or_else(|| {
            Locale::negotiate(headers.get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
        })
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a console cookie: HttpOnly, SameSite, `Secure` when served over
/// HTTPS; `max_age` None clears it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let age = max_age.unwrap_or(0);
    let same_site = if name == SESSION_COOKIE {
        "Lax"
    } else {
        "Strict"
    };
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request reached us over HTTPS (through a TLS proxy) or the server is told
/// to mark cookies `Secure` regardless.
pub fn is_secure(state: &ConsoleState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A 303 to `to`.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn to_login(req: &Request) -> Response {
    if req.method() == Method::GET {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let next: String = serde_urlencoded::to_string([("next", path)]).unwrap_or_default();
        see_other(&format!("/login?{next}"))
    } else {
        see_other("/login")
    }
}

/// Equal without telling how much of a secret matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The CSRF token a POST carries: the header, or the form's field. The body is read and
/// put back for the handler.
async fn posted_token(req: Request) -> Result<(Request, Option<String>), Response> {
    if let Some(h) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let h = h.to_owned();
        return Ok((req, Some(h)));
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD))
        .map(|(_, v)| v);
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

pub async fn gate(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let locale = request_locale(req.headers());
    let Some(access) = access(req.method(), &route) else {
        return ConsoleError::Forbidden.page(locale);
    };
    let posting = req.method() == Method::POST;
    if access == Access::Public {
        if !posting {
            return next.run(req).await;
        }
        let expected = cookie(req.headers(), LOGIN_CSRF_COOKIE).map(str::to_owned);
        return match posted_token(req).await {
            Ok((req, Some(t))) if expected.as_deref().is_some_and(|e| same(e, &t)) => {
                next.run(req).await
            }
            Ok(_) => ConsoleError::Csrf.page(locale),
            Err(r) => r,
        };
    }
    let now = now_millis();
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
    let session = match &token {
        Some(t) => match operators::session(state.store.as_ref(), t, now).await {
            Ok(s) => s,
            Err(e) => return ConsoleError::from(e).page(locale),
        },
        None => None,
    };
    let (Some(session), Some(token)) = (session, token) else {
        return to_login(&req);
    };
    let locale = session
        .operator
        .locale
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or(locale);
    let req = if posting {
        match posted_token(req).await {
            Ok((req, Some(t))) if same(&session.csrf_token, &t) => req,
            Ok(_) => return ConsoleError::Csrf.page(locale),
            Err(r) => return r,
        }
    } else {
        req
    };
    if let Access::Needs(p) = access
        && !session.operator.can(p)
    {
        return ConsoleError::Forbidden.page(locale);
    }
    let ws = match state.workspaces.get(&session.operator.workspace_id).await {
        Ok(ws) => ws,
        Err(e) => return ConsoleError::from(e).page(locale),
    };
    let secure = is_secure(&state, req.headers());
    let audited = posting && AUDITED.contains(&route.as_str());
    let path = req.uri().path().to_owned();
    let member = route
        .starts_with("/members/{id}")
        .then(|| path.split('/').nth(2).map(str::to_owned))
        .flatten();
    let member = match member {
        Some(m) if audited => audit::resolve_member(state.store.as_ref(), &ws, &m).await,
        _ => None,
    };
    let subject = member.clone().map(audit::Subject::Balances);
    let before = match &subject {
        Some(s) => audit::snapshot(state.store.as_ref(), &ws, s).await,
        None => None,
    };
    let author = audit::Author {
        workspace_id: ws.id.clone(),
        id: session.operator.id.clone(),
        name: session.operator.email.clone(),
        scopes: session.operator.role.as_str().to_owned(),
    };
    let mut req = req;
    req.extensions_mut().insert(Ctx {
        session,
        ws: ws.clone(),
        locale,
        secure,
        token,
    });
    let mut resp = next.run(req).await;
    if audited && succeeded(&resp) {
        let after = match &subject {
            Some(s) => audit::snapshot(state.store.as_ref(), &ws, s).await,
            None => None,
        };
        let write = audit::Write {
            author,
            method: "POST",
            route: &route,
            path: &path,
            status: resp.status().as_u16(),
            member_id: member,
            request_id: None,
            before,
            after,
        };
        if let Err(e) = audit::record(state.store.as_ref(), write).await {
            tracing::error!(error = %e, route = %route, "could not write the audit entry");
        }
    }
    if let Some(info) = resp.extensions().get::<ErrorInfo>().cloned() {
        resp = info.page(locale);
    }
    // Pages show member data: not kept by shared caches or the back button of another user.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

/// A form's answer that did what it was asked: a redirect that names no `error`.
fn succeeded(resp: &Response) -> bool {
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    resp.status() == StatusCode::SEE_OTHER && !location.contains("error=")
}

/// Appends a `Set-Cookie`.
pub fn with_cookie(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(SET_COOKIE, cookie);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; mo_session=abc ; lang=zh-CN"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "lang"), Some("zh-CN"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(request_locale(&h), Locale::ZhCn);
    }

    #[test]
    fn session_cookie_is_http_only_lax_and_secure_only_over_https() {
        let c = set_cookie(SESSION_COOKIE, "t", Some(60), false);
        assert_eq!(
            c.to_str().expect("text"),
            "mo_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        let c = set_cookie(LOGIN_CSRF_COOKIE, "t", Some(60), true);
        assert!(
            c.to_str()
                .expect("text")
                .ends_with("SameSite=Strict; Max-Age=60; Secure")
        );
    }

    #[test]
    fn unknown_routes_have_no_access_and_tokens_compare_whole() {
        assert_eq!(access(&Method::GET, "/nowhere"), None);
        assert_eq!(
            access(&Method::POST, "/members/{id}/points"),
            Some(Access::Needs(Permission::AdjustPoints))
        );
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
