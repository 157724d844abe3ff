//! Request context and authentication layers. The layers call the core and turn its
//! verdict into a response; the rules themselves live in `jwtauth-core`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jwtauth_core::config::ServerConfig;
use jwtauth_core::users::ADMIN_ROLE;
use jwtauth_core::{AuthError, Claims, Reason, RequestInfo, Verdict};
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
            client_id: None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Arc<RequestCtx>>()
            .map(|ctx| RequestCtx::clone(ctx))
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

/// The header a proxy appends the client's address to.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
/// At most this many `X-Forwarded-For` hops are looked at (from the right).
pub const MAX_FORWARDED_HOPS: usize = 16;

/// The client's address. When the peer is a trusted proxy, it is the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy: entries to its left
/// were written by the client and prove nothing. Without trusted proxies the header
/// is ignored. An unreadable entry stops the walk at the last address known good.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a HeaderValue>,
    server: &ServerConfig,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !server.is_trusted_proxy(client) {
        return client;
    }
    let hops = forwarded_for
        .rev()
        .flat_map(|v| {
            // Lazily, so a long header is read no further than the bound.
            let text = v.to_str().ok();
            let unreadable = text.is_none().then_some(None);
            text.into_iter().flat_map(|t| t.rsplit(',')).map(Some).chain(unreadable)
        })
        .take(MAX_FORWARDED_HOPS);
    for hop in hops {
        let Some(ip) = hop.and_then(parse_hop) else {
            return client;
        };
        client = ip;
        if !server.is_trusted_proxy(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Outermost layer: request id, request context, access log and HTTP metrics.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        .map_or_else(new_request_id, str::to_owned);
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let ip = peer.map(|p| {
        client_ip(
            p.ip(),
            request.headers().get_all(FORWARDED_FOR_HEADER).iter(),
            state.auth.config().server(),
        )
    });
    let ctx = Arc::new(RequestCtx {
        id: id.clone(),
        // The socket address, or the forwarded client's address (no port) behind a proxy.
        client: peer.zip(ip).map(|(p, ip)| {
            if ip == p.ip().to_canonical() {
                p.to_string()
            } else {
                ip.to_string()
            }
        }),
        client_ip: ip.map(|ip| ip.to_string()),
        method: request.method().as_str().chars().take(32).collect(),
        path: request.uri().path().chars().take(512).collect(),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    });
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = ctx.method.clone();
    let span = tracing::info_span!("request", request_id = %id);
    let mut request = request;
    // Shared, not copied: every layer and handler that needs it borrows this one.
    request.extensions_mut().insert(ctx.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    // Every label comes from a fixed set (a client chooses the method and the
    // path, so neither may mint a series): route templates, known methods.
    metrics::counter!("jwtauth_http_requests_total", "method" => metric_method(&method), "route" => route.clone(), "status" => status.to_string()).increment(1);
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

/// The method as a metrics label: one of the standard methods, else `other`.
fn metric_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|k| *k == method).unwrap_or("other")
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
    let Some(ctx) = request.extensions().get::<Arc<RequestCtx>>() else {
        return ApiError::Internal("request context layer missing".into()).into_response();
    };
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let verdict = match state.auth.verifier().check_header(header, &ctx.info()) {
        Verdict::Valid(claims) => Ok(claims),
        Verdict::Invalid(e) => Err(e),
        // The token names a key this process has not loaded: the core reloads the ring
        // from the store and waits for it, which must not hold an async worker.
        _ => {
            let (verifier, header, ctx) = (state.auth.verifier().clone(), header.map(str::to_owned), ctx.clone());
            match tokio::task::spawn_blocking(move || verifier.validate_header(header.as_deref(), &ctx.info())).await {
                Ok(verdict) => verdict,
                Err(e) => return ApiError::Internal(format!("validation task failed: {e}")).into_response(),
            }
        }
    };
    match verdict {
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
        request.extensions().get::<Arc<RequestCtx>>(),
        request.extensions().get::<Caller>(),
    ) else {
        return ApiError::Auth(AuthError::new(Reason::MissingToken, "no Authorization header")).into_response();
    };
    if let Err(e) = state.auth.verifier().require_role(&caller.0, ADMIN_ROLE, &ctx.info()) {
        return ApiError::Auth(e).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn server(trusted: &str) -> ServerConfig {
        jwtauth_core::Config::from_toml(&format!("[server]\ntrusted_proxies = {trusted}"))
            .unwrap()
            .server()
            .clone()
    }

    fn client(peer: &str, headers: &[&[u8]], server: &ServerConfig) -> String {
        let values: Vec<HeaderValue> = headers.iter().map(|h| HeaderValue::from_bytes(h).unwrap()).collect();
        client_ip(peer.parse().unwrap(), values.iter(), server).to_string()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = server("[]");
        assert_eq!(client("203.0.113.9", &[b"198.51.100.1"], &none), "203.0.113.9");
        let proxy = server("[\"127.0.0.1\"]");
        assert_eq!(client("203.0.113.9", &[b"198.51.100.1"], &proxy), "203.0.113.9");
        assert_eq!(client("127.0.0.1", &[b"198.51.100.1"], &proxy), "198.51.100.1");
        assert_eq!(client("::ffff:127.0.0.1", &[b"198.51.100.1"], &proxy), "198.51.100.1");
        // A proxy that sent no header is the client.
        assert_eq!(client("127.0.0.1", &[], &proxy), "127.0.0.1");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_whatever_the_client_prepends() {
        let proxies = server("[\"127.0.0.1\", \"10.0.0.0/8\"]");
        // The client forged 1.1.1.1; our proxies appended what they saw.
        assert_eq!(
            client("127.0.0.1", &[b"1.1.1.1, 198.51.100.7, 10.0.0.2"], &proxies),
            "198.51.100.7"
        );
        // The same across several header lines, read last line first.
        assert_eq!(
            client("127.0.0.1", &[b"1.1.1.1", b"198.51.100.7", b"10.0.0.2"], &proxies),
            "198.51.100.7"
        );
        assert_eq!(client("127.0.0.1", &[b"[2001:db8::1]:4711"], &proxies), "2001:db8::1");
        assert_eq!(client("127.0.0.1", &[b"198.51.100.7:4711"], &proxies), "198.51.100.7");
        // Only proxies in the chain: the leftmost is as far as anyone can tell.
        assert_eq!(client("127.0.0.1", &[b"10.0.0.3, 10.0.0.2"], &proxies), "10.0.0.3");
    }

    /// One `X-Forwarded-For` entry: often an address (trusted or not), sometimes junk.
    fn hop() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| format!("10.0.{a}.{b}")),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| format!("198.51.{a}.{b}")),
            Just("127.0.0.1".to_owned()),
            // Printable ASCII but the comma, which would split it into other entries.
            "[ -+\\--~]{0,12}",
        ]
    }

    proptest::proptest! {
        /// Whatever the header holds, the client is the peer or an address written in
        /// the header; without a trusted peer, always the peer.
        #[test]
        fn any_header_gives_the_peer_or_an_address_it_names(
            lines in proptest::collection::vec(proptest::collection::vec(hop(), 0..6), 0..4),
            from_proxy in proptest::bool::ANY,
        ) {
            let proxies = server("[\"127.0.0.1\", \"10.0.0.0/8\"]");
            let peer: IpAddr = if from_proxy { "127.0.0.1" } else { "203.0.113.9" }.parse().unwrap();
            let values: Vec<HeaderValue> =
                lines.iter().filter_map(|l| HeaderValue::from_str(&l.join(", ")).ok()).collect();
            let ip = client_ip(peer, values.iter(), &proxies);
            let named: Vec<IpAddr> = lines.iter().flatten().filter_map(|h| parse_hop(h)).collect();
            if from_proxy {
                proptest::prop_assert!(ip == peer || named.contains(&ip), "{ip} from {lines:?}");
            } else {
                proptest::prop_assert_eq!(ip, peer);
            }
        }
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let proxies = server("[\"127.0.0.1\", \"10.0.0.0/8\"]");
        assert_eq!(client("127.0.0.1", &[b"unknown, 10.0.0.2"], &proxies), "10.0.0.2");
        assert_eq!(client("127.0.0.1", &[b"198.51.100.7, "], &proxies), "127.0.0.1");
        assert_eq!(client("127.0.0.1", &[b"\xff\xfe"], &proxies), "127.0.0.1");
        // A chain longer than the bound is cut, not walked to its end.
        let long = format!("198.51.100.7{}", ", 10.0.0.1".repeat(MAX_FORWARDED_HOPS));
        assert_eq!(client("127.0.0.1", &[long.as_bytes()], &proxies), "10.0.0.1");
    }
}
