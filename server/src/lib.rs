//! jwtauth-server: the secured REST API over `jwtauth-core`.
//!
//! [`app`] builds the whole API from an [`AppState`]; [`serve`] runs it on a
//! socket (plain HTTP or rustls) until SIGTERM or Ctrl-C.

pub mod accept;
pub mod auth;
pub mod catalog;
pub mod error;
pub mod logs;
pub mod oauth;
pub mod observe;
pub mod openapi;
pub mod products;
pub mod routes;
pub mod serve;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use jwtauth_core::JwtAuth;
use jwtauth_core::users::Login;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;
/// How often latency samples are folded into the histogram buckets.
pub const METRICS_UPKEEP: Duration = Duration::from_millis(250);
/// A request taking longer than this is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler shares.
pub struct Shared {
    /// The core runtime.
    pub auth: Arc<JwtAuth>,
    /// Password login with its throttle and its bound on concurrent hashes
    /// (`login.concurrent_hashes`, waited for with [`routes::hash_slot`]).
    pub login: Arc<Login>,
    /// The products list, rendered once and served from memory.
    pub catalog: catalog::Catalog,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Whether the server speaks TLS itself (then it sends HSTS).
    pub tls: bool,
    /// Mounts `GET /bench/unprotected-products`: the products list without the
    /// authentication layer, the baseline of `scripts/bench.sh`. Off unless
    /// `serve --bench-baseline-route` asks for it.
    pub bench_route: bool,
}

/// The state handed to handlers.
pub type AppState = Arc<Shared>;

/// The process-wide metrics recorder, installed once (several apps in one test
/// process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding app): then ours
            // only renders what it sees, which is nothing; the API still works.
            let _ = metrics::set_global_recorder(recorder);
            // Histogram samples pile up until drained: without a scrape, memory would
            // grow with every request. Draining often keeps the pile small (at 80,000
            // requests a second, 5 s of samples is 3 MB of heap that stays resident).
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

/// `Cache-Control: no-store` on responses that carry tokens or who the caller is.
fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// The CORS layer for `server.cors_allowed_origins`; none (closed) when empty.
/// Preflights are answered; `WWW-Authenticate` is readable by the page, so a
/// single-page app can tell an expired token from a missing one.
pub fn cors(server: &jwtauth_core::config::ServerConfig) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if server.cors_allowed_origins.is_empty() {
        return None;
    }
    let origin = if server.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            server
                .cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
            .allow_credentials(server.cors_allow_credentials)
            .max_age(Duration::from_secs(600)),
    )
}

/// The whole HTTP API. Authentication is a layer over the protected groups, so no
/// route in them can be reached without a valid token. Every request enters it
/// through [`observe::Api`]: the request context, the guards and the observation are
/// one service in front of the router rather than a boxed layer around each route.
pub fn app(state: AppState) -> observe::Api {
    let mut routes = observe::Routes::default();
    let mut r = |template: &'static str| routes.add(template);
    let admin = Router::new()
        .route(r("/api/products"), post(routes::create_product))
        .route(r("/api/products/{id}"), delete(routes::delete_product))
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin));
    let protected = Router::new()
        .route(r("/api/products"), get(routes::list_products))
        .route(r("/auth/me"), get(routes::me))
        .route(r("/auth/logout-all"), post(routes::logout_all))
        .merge(admin)
        .route_layer(auth::AuthenticateLayer::new(state.clone()));
    let sessions = Router::new()
        .route(r("/auth/login"), post(routes::login))
        .route(r("/auth/refresh"), post(routes::refresh))
        .route(r("/auth/logout"), post(routes::logout))
        .route_layer(no_store());
    let public = Router::new()
        .merge(sessions)
        .route(r("/.well-known/jwks.json"), get(routes::jwks))
        .route(r("/.well-known/openid-configuration"), get(oauth::openid_configuration))
        .route(
            r("/.well-known/oauth-authorization-server"),
            get(oauth::authorization_server),
        )
        .route(r("/oauth/token"), post(oauth::token))
        .route(r("/oauth/revoke"), post(oauth::revoke))
        .route(r("/oauth/introspect"), post(oauth::introspect))
        .route(r("/healthz"), get(routes::healthz))
        .route(r("/readyz"), get(routes::readyz))
        .route(r("/metrics"), get(routes::metrics))
        .route(r("/openapi.json"), get(openapi::serve));
    let public = if state.bench_route {
        public.route(r("/bench/unprotected-products"), get(routes::list_products))
    } else {
        public
    };
    let router = public.merge(protected).fallback(|| async { error::ApiError::NotFound });
    // CORS answers preflights before any route: a layer over the router, paid only
    // by a server that configures it.
    let router = match cors(state.auth.config().server()) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    observe::Api::new(router.with_state(state.clone()), routes, state, REQUEST_TIMEOUT)
}
