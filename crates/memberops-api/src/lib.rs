//! The MemberOps HTTP API: JSON under `/v1`, `/healthz`, `/openapi.json` and Swagger UI at
//! `/docs`; the web console (`memberops-console`) is mounted beside it at `/`. Handlers
//! parse input, call one use case of `memberops-app`, and map its result; rules live in
//! the domain and app crates.

pub mod auth;
pub mod error;
pub mod extract;
pub mod guard;
pub mod limits;
pub mod mask;
pub mod metrics;
pub mod page;
pub mod ratelimit;
pub mod request_id;
pub mod routes;
pub mod scopes;
mod serve;
pub mod state;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use memberops_console::ConsoleState;
pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "MemberOps API", description = "Member operations platform: members, events, loyalty, coupons, segments."),
    modifiers(&SecurityAddon),
    tags((name = "members", description = "Member profiles (会员档案) and their aggregates"),
         (name = "events", description = "Behaviour events (用户行为): the write path"),
         (name = "system", description = "Health and metadata"),
         (name = "loyalty", description = "Growth, tiers, points, stored value, check-in, referrals (会员成长体系)"),
         (name = "coupons", description = "Coupons (优惠券): templates, issuing, gift packs, codes, share-to-claim, checkout, reports"),
         (name = "tracking", description = "Segment / RudderStack compatible Tracking API and identity resolution"),
         (name = "segments", description = "Member intelligence (人群): RFM, lifecycle stages, value classes, tags, segments, churn warnings"),
         (name = "webhooks", description = "Outgoing webhooks (Standard Webhooks): endpoints, signed deliveries, retries, recovery"),
         (name = "stores", description = "Stores (门店) and staff (导购): members' home store and owning staff, reassignment"),
         (name = "campaigns", description = "Campaigns (营销活动): broadcasts, journeys, delivery rules, the member inbox, unsubscribes, staff call tasks (回访)"),
         (name = "analytics", description = "Analytics (数据化运营): overview, cohorts and the other reports of docs/analytics.md"))
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::members::router())
        .merge(routes::events::router())
        .merge(routes::loyalty::router())
        .merge(routes::coupons::router())
        .merge(routes::tracking::router())
        .merge(routes::segments::router())
        .merge(routes::intelligence::router())
        .merge(routes::webhooks::router())
        .merge(routes::lists::router())
        .merge(routes::stores::router())
        .merge(routes::ops::router())
        .merge(routes::audit::router())
        .merge(routes::workspace::router())
        .merge(routes::privacy::router())
        .merge(routes::campaigns::router())
        .merge(routes::journeys::router())
        .merge(routes::tasks::router())
        .merge(routes::inbox::router())
        .merge(routes::analytics::router())
        .merge(routes::clv::router())
}

/// The OpenAPI document, generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

pub use limits::Limits;

pub fn router(state: AppState) -> Router {
    router_with(state, &Limits::default())
}

/// The API with the given limits ([`limits`]).
pub fn router_with(state: AppState, limits: &Limits) -> Router {
    let (router, spec) = api().split_for_parts();
    let known = extract::KnownQueries::from_spec(&spec);
    metrics::handle();
    router
        .route_layer(axum::middleware::from_fn_with_state(
            known,
            extract::refuse_unknown_query,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .fallback(extract::no_route)
        .method_not_allowed_fallback(extract::wrong_method)
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", spec))
        .with_state(state.clone())
        // The web console (`/`, `/login`, …): its own sessions and roles, not API keys.
        .merge(memberops_console::router(ConsoleState::new(
            state.store.clone(),
            state.workspaces.clone(),
            state.segments.clone(),
        )))
        .layer(axum::middleware::from_fn(extract::refuse_nul_in_uri))
        // Counted after decompression: a small gzip body cannot grow past it.
        .layer(DefaultBodyLimit::max(limits::BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::refuse_large_head,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            limits::timeout,
        ))
        // The path only: a query may name a phone or an email (`?phone=…`).
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::http::Request<axum::body::Body>| {
                tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
            },
        ))
        .layer(axum::middleware::from_fn(request_id::layer))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Limits::default(), shutdown).await
}

/// [`serve`] with the given limits.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router_with(state, &limits);
    serve::run(listener, app, &limits, shutdown).await
}
