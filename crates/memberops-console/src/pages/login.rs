//! Sign-in (`/login`, fields `email` and `password`) and sign-out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use memberops_app::operators::{self, SESSION_MAX_MS, SignIn};
use memberops_core::time::now_millis;
use serde::Deserialize;

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::{
    Ctx, LOGIN_CSRF_COOKIE, SESSION_COOKIE, is_secure, request_locale, see_other, set_cookie,
    with_cookie,
};
use crate::i18n::Locale;
use crate::render;

/// How long the sign-in form may stay open.
const LOGIN_FORM_SECS: i64 = 3600;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    lang: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Where to go after signing in: a path of this site, never another host.
pub(crate) fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

#[derive(serde::Serialize, Default)]
struct View<'a> {
    login_csrf: String,
    next: &'a str,
    email: &'a str,
    refused: bool,
    locked: bool,
}

/// The form with a fresh CSRF token in a cookie and in the form.
fn form(
    state: &ConsoleState,
    headers: &HeaderMap,
    locale: Locale,
    status: StatusCode,
    view: View<'_>,
) -> ConsoleResult<Response> {
    let token = operators::random_token();
    let secure = is_secure(state, headers);
    let html = render::public(
        "login.html",
        locale,
        View {
            login_csrf: token.clone(),
            ..view
        },
    )?;
    let resp = with_cookie(
        (status, html).into_response(),
        set_cookie(LOGIN_CSRF_COOKIE, &token, Some(LOGIN_FORM_SECS), secure),
    );
    Ok(resp)
}

pub async fn page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> ConsoleResult<Response> {
    let chosen = q.lang.as_deref().and_then(Locale::parse);
    let locale = chosen.unwrap_or_else(|| request_locale(&headers));
    let view = View {
        next: safe_next(&q.next),
        ..View::default()
    };
    let mut resp = form(&state, &headers, locale, StatusCode::OK, view)?;
    if let Some(l) = chosen {
        let secure = is_secure(&state, &headers);
        resp = with_cookie(
            resp,
            set_cookie("lang", l.code(), Some(365 * 86400), secure),
        );
    }
    Ok(resp)
}

pub async fn submit(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> ConsoleResult<Response> {
    let locale = request_locale(&headers);
    let outcome =
        operators::sign_in(state.store.as_ref(), &f.email, &f.password, now_millis()).await?;
    let next = safe_next(&f.next);
    let view = View {
        next,
        email: &f.email,
        ..View::default()
    };
    match outcome {
        SignIn::Ok { token, .. } => {
            let secure = is_secure(&state, &headers);
            let resp = with_cookie(
                see_other(next),
                set_cookie(SESSION_COOKIE, &token, Some(SESSION_MAX_MS / 1000), secure),
            );
            Ok(with_cookie(
                resp,
                set_cookie(LOGIN_CSRF_COOKIE, "", None, secure),
            ))
        }
        SignIn::Refused => form(
            &state,
            &headers,
            locale,
            StatusCode::UNAUTHORIZED,
            View {
                refused: true,
                ..view
            },
        ),
        SignIn::Locked { .. } => form(
            &state,
            &headers,
            locale,
            StatusCode::TOO_MANY_REQUESTS,
            View {
                locked: true,
                ..view
            },
        ),
    }
}

pub async fn logout(State(state): State<ConsoleState>, ctx: Ctx) -> ConsoleResult<Response> {
    operators::sign_out(state.store.as_ref(), &ctx.token).await?;
    Ok(with_cookie(
        see_other("/login"),
        set_cookie(SESSION_COOKIE, "", None, ctx.secure),
    ))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/members?q=1"), "/members?q=1");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
