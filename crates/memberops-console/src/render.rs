//! Templates (compiled into the binary) and the helpers they call: `t("key")` for text in
//! the page's language, and the `money`, `num`, `date` and `datetime` filters.

use std::sync::LazyLock;

use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};
use memberops_app::operators::Permission;
use minijinja::{Environment, State, Value};
use serde::Serialize;

use crate::error::ConsoleResult;
use crate::gate::Ctx;
use crate::i18n::Locale;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "dashboard.html",
        include_str!("../templates/dashboard.html"),
    ),
    ("members.html", include_str!("../templates/members.html")),
    ("member.html", include_str!("../templates/member.html")),
    ("segments.html", include_str!("../templates/segments.html")),
    (
        "segment_new.html",
        include_str!("../templates/segment_new.html"),
    ),
    (
        "campaigns.html",
        include_str!("../templates/campaigns.html"),
    ),
    (
        "campaign_new.html",
        include_str!("../templates/campaign_new.html"),
    ),
];

fn locale_of(state: &State) -> Locale {
    state
        .lookup("locale")
        .and_then(|v| v.as_str().and_then(Locale::parse))
        .unwrap_or(Locale::En)
}

fn t(state: &State, key: &str) -> String {
    locale_of(state).t(key).to_owned()
}

fn num(state: &State, v: i64) -> String {
    locale_of(state).number(v)
}

fn money(state: &State, minor: i64) -> String {
    let currency = state
        .lookup("currency")
        .and_then(|v| v.as_str().map(str::to_owned))
        .and_then(|c| memberops_core::Currency::parse(&c).ok())
        .unwrap_or(memberops_core::Currency::CNY);
    locale_of(state).money(minor, &currency)
}

fn zone(state: &State) -> chrono_tz::Tz {
    state
        .lookup("tz")
        .and_then(|v| v.as_str().and_then(|z| z.parse().ok()))
        .unwrap_or(chrono_tz::UTC)
}

/// An RFC 3339 instant or a `YYYY-MM-DD` date as a date; other text as it is.
fn date(state: &State, v: Value) -> String {
    let Some(text) = v.as_str() else {
        return String::new();
    };
    let l = locale_of(state);
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return l.date(t.with_timezone(&zone(state)).date_naive());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or_else(|_| text.to_owned(), |d| l.date(d))
}

fn datetime(state: &State, v: Value) -> String {
    let Some(text) = v.as_str() else {
        return String::new();
    };
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => locale_of(state).datetime(t.with_timezone(&Utc), zone(state)),
        Err(_) => date(state, v),
    }
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, src) in TEMPLATES {
        if let Err(e) = env.add_template(name, src) {
            // A test renders every template, so this is caught before release.
            tracing::error!(template = name, error = %e, "console template does not parse");
        }
    }
    env.add_function("t", t);
    env.add_filter("num", num);
    env.add_filter("money", money);
    env.add_filter("date", date);
    env.add_filter("datetime", datetime);
    env
});

/// What every signed-in page has: the operator, language, CSRF token, navigation.
#[derive(Serialize)]
struct Base<'a> {
    locale: &'static str,
    locales: Vec<(&'static str, &'static str)>,
    csrf: &'a str,
    me: &'a str,
    role: &'static str,
    currency: &'a str,
    tz: String,
    nav: Nav,
}

#[derive(Serialize)]
struct Nav {
    members: bool,
    segments: bool,
    campaigns: bool,
    adjust_points: bool,
    tag_members: bool,
    edit_segments: bool,
    edit_campaigns: bool,
}

fn locales() -> Vec<(&'static str, &'static str)> {
    Locale::ALL.iter().map(|l| (l.code(), l.name())).collect()
}

/// Renders `name` with the page's own `data` beside the base context.
pub fn page(name: &str, ctx: &Ctx, data: impl Serialize) -> ConsoleResult<Html<String>> {
    let can = |p| ctx.can(p);
    let base = Base {
        locale: ctx.locale.code(),
        locales: locales(),
        csrf: &ctx.session.csrf_token,
        me: &ctx.session.operator.email,
        role: ctx.session.operator.role.as_str(),
        currency: ctx.ws.currency.code(),
        tz: ctx.ws.time_zone.name().to_owned(),
        nav: Nav {
            members: can(Permission::ViewMembers),
            segments: can(Permission::ViewSegments),
            campaigns: can(Permission::ViewCampaigns),
            adjust_points: can(Permission::AdjustPoints),
            tag_members: can(Permission::TagMembers),
            edit_segments: can(Permission::EditSegments),
            edit_campaigns: can(Permission::EditCampaigns),
        },
    };
    let ctx_value =
        minijinja::context! { ..Value::from_serialize(&data), ..Value::from_serialize(&base) };
    Ok(Html(ENV.get_template(name)?.render(ctx_value)?))
}

/// A page without a session (sign-in).
pub fn public(name: &str, locale: Locale, data: impl Serialize) -> ConsoleResult<Html<String>> {
    let base = minijinja::context! { locale => locale.code(), locales => locales() };
    let ctx_value = minijinja::context! { ..Value::from_serialize(&data), ..base };
    Ok(Html(ENV.get_template(name)?.render(ctx_value)?))
}

pub fn error_page(locale: Locale, status: u16, title: &str, detail: &str) -> String {
    let data = minijinja::context! { status, title, detail };
    public("error.html", locale, data)
        .map(|h| h.0)
        .unwrap_or_else(|_| format!("<h1>{status}</h1>"))
}

#[cfg(test)]
pub(crate) fn template_names() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().map(|(n, _)| *n)
}

#[cfg(test)]
pub(crate) fn parses(name: &str) -> Result<(), minijinja::Error> {
    ENV.get_template(name).map(|_| ())
}
