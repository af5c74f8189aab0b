//! The operator's own settings: the console language.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::REFERER;
use axum::response::Response;
use memberops_app::operators;
use serde::Deserialize;

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::{Ctx, see_other};
use crate::i18n::Locale;

#[derive(Deserialize)]
pub struct LanguageForm {
    /// `zh-CN`, `en`, or empty for the browser's language.
    #[serde(default)]
    locale: String,
}

/// The path of the page the form was sent from (same site only), to go back to.
fn back(headers: &HeaderMap) -> String {
    let referer = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/");
    let path = match referer.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => referer,
    };
    super::login::safe_next(path).to_owned()
}

pub async fn language(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(f): Form<LanguageForm>,
) -> ConsoleResult<Response> {
    let locale = Locale::parse(&f.locale).map(Locale::code);
    operators::set_locale(state.store.as_ref(), &ctx.session.operator.id, locale).await?;
    Ok(see_other(&back(&headers)))
}
