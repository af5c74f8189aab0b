//! The MemberOps web console (docs/console.md): server-rendered pages for operators,
//! customer service, analysts and store staff, served by `memberops serve` at `/` and
//! `/login` beside the API.
//!
//! Pages call the use cases of `memberops-app` directly (never the HTTP API). Every
//! request passes [`gate::gate`]: outside `/login` and `/assets` it needs a session, a
//! POST needs the session's CSRF token, and each route needs the permission its line in
//! [`gate::PERMISSIONS`] names, so no handler can forget a check.

mod assets;
pub mod error;
pub mod gate;
pub mod i18n;
mod pages;
mod render;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use memberops_app::Workspaces;
use memberops_app::segments::IndexCache;
use memberops_store::Store;

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    pub store: Arc<dyn Store>,
    pub workspaces: Workspaces,
    pub segments: IndexCache,
    /// Mark cookies `Secure` on every answer. Without it they are marked only when the
    /// request came through a TLS proxy (`X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
}

impl ConsoleState {
    pub fn new(store: Arc<dyn Store>, workspaces: Workspaces, segments: IndexCache) -> Self {
        ConsoleState {
            store,
            workspaces,
            segments,
            secure_cookies: std::env::var("MEMBEROPS_SECURE_COOKIES")
                .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
        }
    }
}

/// The console's routes, ready to merge beside the API's.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/login", get(pages::login::page).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/", get(pages::dashboard::page))
        .route("/members", get(pages::members::list))
        .route("/members/{id}", get(pages::members::show))
        .route("/members/{id}/points", post(pages::members::adjust_points))
        .route("/members/{id}/tags", post(pages::members::add_tag))
        .route(
            "/segments",
            get(pages::segments::list).post(pages::segments::save),
        )
        .route("/segments/new", get(pages::segments::builder))
        .route("/segments/count", post(pages::segments::count))
        .route(
            "/campaigns",
            get(pages::campaigns::list).post(pages::campaigns::create),
        )
        .route("/campaigns/new", get(pages::campaigns::form))
        .route("/account/language", post(pages::account::language))
        .route("/assets/{file}", get(assets::serve))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn every_template_parses() {
        for name in crate::render::template_names() {
            crate::render::parses(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn pages_escape_what_they_show() {
        let html =
            crate::render::error_page(crate::i18n::Locale::En, 404, "t", "<script>x</script>");
        assert!(html.contains("&lt;script&gt;x&lt;"), "{html}");
        assert!(!html.contains("<script>x"));
    }

    /// The routes this file mounts and the gate's table name the same paths, so that no
    /// route is reachable without its line (the gate refuses a route it does not know).
    #[test]
    fn every_route_has_its_permission_line() {
        let src = include_str!("lib.rs");
        let after = |sep: &'static str| src.split(sep).skip(1);
        let mounted: BTreeSet<&str> = after(".route(\n            \"")
            .chain(after(".route(\""))
            .filter_map(|s| s.split('"').next())
            .filter(|p| p.starts_with('/'))
            .collect();
        let table: BTreeSet<&str> = crate::gate::PERMISSIONS
            .iter()
            .map(|(_, p, _)| *p)
            .collect();
        assert_eq!(mounted, table);
    }
}
