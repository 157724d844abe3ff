//! Request context and authentication layers. The layers call the core and turn its
//! verdict into a response; the rules themselves live in `jwtauth-core`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jwtauth_core::users::ADMIN_ROLE;
use jwtauth_core::{AuthError, Claims, Reason, RequestInfo};
use tracing::Instrument;

use crate::AppState;
use crate::error::ApiError;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The `tracing` target of access-log lines (separate from the failure log).
pub const ACCESS_TARGET: &str = "jwtauth::access";

/// What the failure log needs to know about a request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Request id (generated, or the caller's if it sent a sane one).
    pub id: String,
    /// Client socket address.
    pub client: Option<String>,
    /// Client IP without the port (the login throttle's key).
    pub client_ip: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// User-Agent.
    pub user_agent: Option<String>,
}

impl RequestCtx {
    /// The borrowed view the core records.
    pub fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            client: self.client.as_deref(),
            method: Some(&self.method),
            path: Some(&self.path),
            user_agent: self.user_agent.as_deref(),
            request_id: Some(&self.id),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("request context layer missing".into()))
    }
}

fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 4];
        let _ = aws_lc_rs::rand::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    });
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Outermost layer: request id, request context, access log and HTTP metrics.
pub async fn observe(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        .map_or_else(new_request_id, str::to_owned);
    let addr = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ctx = RequestCtx {
        id: id.clone(),
        client: addr.map(|a| a.to_string()),
        client_ip: addr.map(|a| a.ip().to_string()),
        method: request.method().as_str().to_owned(),
        path: request.uri().path().chars().take(512).collect(),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = ctx.method.clone();
    let span = tracing::info_span!("request", request_id = %id);
    let mut request = request;
    request.extensions_mut().insert(ctx.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    metrics::counter!("jwtauth_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("jwtauth_http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: ACCESS_TARGET,
            client = ctx.client.as_deref().unwrap_or("-"),
            method = %method,
            path = %ctx.path,
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// The verified caller, put in the request by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Claims>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Without the layer there is no caller: refuse rather than guess.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Auth(AuthError::new(Reason::MissingToken, "no Authorization header")))
    }
}

/// Layer over every route group that needs a token: validates `Authorization:
/// Bearer …` with the core (which records any failure) and hands the claims on.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(ctx) = request.extensions().get::<RequestCtx>() else {
        return ApiError::Internal("request context layer missing".into()).into_response();
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    match state.auth.validate_header(header, &ctx.info()) {
        Ok(claims) => {
            request.extensions_mut().insert(Caller(Arc::new(claims)));
            next.run(request).await
        }
        Err(e) => ApiError::Auth(e).into_response(),
    }
}

/// Layer over admin routes (inside [`authenticate`]): the caller needs role `Admin`.
pub async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(ctx), Some(caller)) = (
        request.extensions().get::<RequestCtx>(),
        request.extensions().get::<Caller>(),
    ) else {
        return ApiError::Auth(AuthError::new(Reason::MissingToken, "no Authorization header")).into_response();
    };
    if let Err(e) = state.auth.require_role(&caller.0, ADMIN_ROLE, &ctx.info()) {
        return ApiError::Auth(e).into_response();
    }
    next.run(request).await
}
