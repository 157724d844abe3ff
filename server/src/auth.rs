//! Request context and authentication layers. The layers call the core and turn its
//! verdict into a response; the rules themselves live in `jwtauth-core`.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jwtauth_core::config::ServerConfig;
use jwtauth_core::users::ADMIN_ROLE;
use jwtauth_core::{AuthError, Claims, Reason, RequestInfo, Verdict};
use tower::{Layer, Service};

use crate::AppState;
use crate::error::ApiError;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// [`REQUEST_ID_HEADER`] as a header name, parsed once.
pub static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
/// The `tracing` target of access-log lines (separate from the failure log).
pub const ACCESS_TARGET: &str = "jwtauth::access";

/// What the failure log needs to know about a request. Cheap to clone (one shared
/// allocation per request): it shares the request's own bytes and the connection's
/// rendered address.
#[derive(Debug, Clone)]
pub struct RequestCtx(Arc<Ctx>);

#[derive(Debug)]
struct Ctx {
    /// Request id (generated, or the caller's if it sent a sane one).
    id: HeaderValue,
    /// The socket address, or the forwarded client's address (no port) behind a proxy.
    client: Arc<str>,
    /// Client IP without the port (the login throttle's key).
    client_ip: Arc<str>,
    method: Method,
    uri: Uri,
    user_agent: Option<HeaderValue>,
}

/// `s` cut to at most `max` characters.
fn first_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

/// Whether a caller's `X-Request-Id` may be kept: 1 to 64 of `A-Za-z0-9-_.`.
fn sane_request_id(v: &HeaderValue) -> bool {
    (1..=64).contains(&v.len())
        && v.as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

impl RequestCtx {
    /// The context of `request` from `peer`, whose client is found as [`client_ip`] says.
    pub fn of(request: &Request, peer: &crate::observe::Peer, server: &ServerConfig) -> RequestCtx {
        let headers = request.headers();
        let id = headers
            .get(&REQUEST_ID)
            .filter(|v| sane_request_id(v))
            .cloned()
            .unwrap_or_else(new_request_id);
        let peer_ip = peer.addr.ip().to_canonical();
        let ip = client_ip(peer_ip, headers, server);
        let (client, client_ip) = if ip == peer_ip {
            (peer.text.clone(), peer.ip_text.clone())
        } else {
            let text: Arc<str> = ip.to_string().into();
            (text.clone(), text)
        };
        RequestCtx(Arc::new(Ctx {
            id,
            client,
            client_ip,
            method: request.method().clone(),
            uri: request.uri().clone(),
            user_agent: headers.get(header::USER_AGENT).cloned(),
        }))
    }

    /// The request id.
    pub fn id(&self) -> &str {
        // Only ids of visible ASCII are ever kept or made.
        self.0.id.to_str().unwrap_or("-")
    }

    /// The request id as the `X-Request-Id` value sent back.
    pub fn id_header(&self) -> &HeaderValue {
        &self.0.id
    }

    /// The request id as the `X-Request-Id` value, taken from a context no one else
    /// holds any more (as when its request is answered), copied otherwise.
    pub fn into_id_header(mut self) -> HeaderValue {
        match Arc::get_mut(&mut self.0) {
            Some(ctx) => std::mem::replace(&mut ctx.id, HeaderValue::from_static("-")),
            None => self.0.id.clone(),
        }
    }

    /// The client: the socket address, or the forwarded client's address behind a proxy.
    pub fn client(&self) -> Option<&str> {
        Some(&self.0.client)
    }

    /// The client's IP without the port (the login throttle's key).
    pub fn client_ip(&self) -> Option<&str> {
        Some(&self.0.client_ip)
    }

    /// The HTTP method (at most 32 characters).
    pub fn method(&self) -> &str {
        first_chars(self.0.method.as_str(), 32)
    }

    /// The path without the query string (at most 512 characters).
    pub fn path(&self) -> &str {
        first_chars(self.0.uri.path(), 512)
    }

    /// The User-Agent (at most 256 characters), when it is text.
    pub fn user_agent(&self) -> Option<&str> {
        self.0
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|s| first_chars(s, 256))
    }

    /// The borrowed view the core records.
    pub fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            client: self.client(),
            method: Some(self.method()),
            path: Some(self.path()),
            user_agent: self.user_agent(),
            request_id: Some(self.id()),
            client_id: None,
        }
    }
}

tokio::task_local! {
    /// The context of the request being served, set by the connection's service
    /// ([`crate::observe::Connection`]) around its call into the router and around
    /// every poll of the request's future: whatever runs for the request finds it,
    /// without an entry in the request's extensions.
    static CURRENT: RequestCtx;
}

impl RequestCtx {
    /// The context of the request being served here, if any.
    pub fn current() -> Option<RequestCtx> {
        CURRENT.try_with(RequestCtx::clone).ok()
    }

    /// Runs `f` as part of serving this request (see [`RequestCtx::current`]).
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.clone(), f)
    }
}

/// The error when a request is served outside the connection's service.
fn no_context() -> ApiError {
    ApiError::Internal("request context missing".into())
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = ApiError;
    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        RequestCtx::current().ok_or_else(no_context)
    }
}

fn new_request_id() -> HeaderValue {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 4];
        let _ = aws_lc_rs::rand::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    });
    request_id(prefix, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// `<prefix>-<n in hex>`, written without the formatting machinery (every request
/// without an id of its own gets one). `prefix` is 8 hex digits.
fn request_id(prefix: &str, n: u64) -> HeaderValue {
    let mut id = [0u8; 8 + 1 + 16];
    let start = prefix.len().min(8) + 1;
    id[..start - 1].copy_from_slice(&prefix.as_bytes()[..start - 1]);
    id[start - 1] = b'-';
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, slot) in id[start..start + digits].iter_mut().enumerate() {
        let shift = 4 * (digits - 1 - i);
        *slot = b"0123456789abcdef"[((n >> shift) & 0xf) as usize];
    }
    // Hex digits and a dash: always a valid header value.
    HeaderValue::from_bytes(&id[..start + digits]).unwrap_or(HeaderValue::from_static("-"))
}

/// The header a proxy appends the client's address to.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
/// [`FORWARDED_FOR_HEADER`] as a header name, parsed once.
pub static FORWARDED_FOR: HeaderName = HeaderName::from_static(FORWARDED_FOR_HEADER);
/// At most this many `X-Forwarded-For` hops are looked at (from the right).
pub const MAX_FORWARDED_HOPS: usize = 16;

/// The client's address. When the peer is a trusted proxy, it is the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy: entries to its left
/// were written by the client and prove nothing. Without trusted proxies the header
/// is ignored (not even looked up). An unreadable entry stops the walk at the last
/// address known good.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, server: &ServerConfig) -> IpAddr {
    let mut client = peer.to_canonical();
    if !server.is_trusted_proxy(client) {
        return client;
    }
    let hops = headers
        .get_all(&FORWARDED_FOR)
        .iter()
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

/// The verified caller, put in the request by [`Authenticate`].
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

/// Layer over every route group that needs a token: see [`Authenticate`].
#[derive(Clone)]
pub struct AuthenticateLayer {
    state: AppState,
}

impl AuthenticateLayer {
    /// The layer for an app with `state`.
    pub fn new(state: AppState) -> AuthenticateLayer {
        AuthenticateLayer { state }
    }
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Validates `Authorization: Bearer …` with the core (which records any failure),
/// hands the claims on as [`Caller`], and marks every response `Cache-Control:
/// no-store` (it carries who the caller is, or why they were refused).
#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    state: AppState,
}

type Boxed = Pin<Box<dyn Future<Output = Response> + Send>>;

impl<S> Service<Request> for Authenticate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Authenticated<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let Some(ctx) = RequestCtx::current() else {
            return Authenticated::answer(no_context().into_response());
        };
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        match self.state.auth.verifier().check_header(header, &ctx.info()) {
            Verdict::Valid(claims) => {
                request.extensions_mut().insert(Caller(claims));
                Authenticated {
                    step: Step::Inner {
                        inner: self.inner.call(request),
                    },
                }
            }
            Verdict::Invalid(e) => Authenticated::answer(ApiError::Auth(e).into_response()),
            // The token names a key this process has not loaded: the core reloads the
            // ring from the store and waits for it, which must not hold an async worker.
            _ => {
                let (verifier, header, ctx) = (
                    self.state.auth.verifier().clone(),
                    header.map(str::to_owned),
                    ctx.clone(),
                );
                // The clone is the one polled ready next; this one was readied for us.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                Authenticated {
                    step: Step::Slow {
                        slow: Box::pin(reload_then_call(verifier, header, ctx, request, ready)),
                    },
                }
            }
        }
    }
}

/// The rare path of [`Authenticate`]: the verdict on the blocking pool, then the route.
async fn reload_then_call<S>(
    verifier: jwtauth_core::Verifier,
    header: Option<String>,
    ctx: RequestCtx,
    mut request: Request,
    mut inner: S,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    match tokio::task::spawn_blocking(move || verifier.validate_header(header.as_deref(), &ctx.info())).await {
        Ok(Ok(claims)) => {
            request.extensions_mut().insert(Caller(Arc::new(claims)));
            match inner.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Ok(Err(e)) => ApiError::Auth(e).into_response(),
        Err(e) => ApiError::Internal(format!("validation task failed: {e}")).into_response(),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Authenticate`].
    pub struct Authenticated<F> {
        #[pin]
        step: Step<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StepProj]
    enum Step<F> {
        // The token was good: the route runs.
        Inner { #[pin] inner: F },
        // The answer is known (a refusal).
        Answer { response: Option<Response> },
        // The verdict waits for a key reload.
        Slow { slow: Boxed },
    }
}

impl<F> Authenticated<F> {
    fn answer(response: Response) -> Self {
        Authenticated {
            step: Step::Answer {
                response: Some(response),
            },
        }
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Authenticated<F> {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = match self.project().step.project() {
            StepProj::Inner { inner } => match inner.poll(cx) {
                Poll::Ready(Ok(response)) => response,
                Poll::Pending => return Poll::Pending,
            },
            StepProj::Answer { response } => match response.take() {
                Some(response) => response,
                None => ApiError::Internal("response polled twice".into()).into_response(),
            },
            StepProj::Slow { slow } => match slow.as_mut().poll(cx) {
                Poll::Ready(response) => response,
                Poll::Pending => return Poll::Pending,
            },
        };
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        Poll::Ready(Ok(response))
    }
}

/// Layer over admin routes (inside [`Authenticate`]): the caller needs role `Admin`.
pub async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (Some(ctx), Some(caller)) = (RequestCtx::current(), request.extensions().get::<Caller>()) else {
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

    /// A header map with one `X-Forwarded-For` line per value, in order.
    fn forwarded(values: impl IntoIterator<Item = HeaderValue>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(&FORWARDED_FOR, v);
        }
        map
    }

    fn client(peer: &str, headers: &[&[u8]], server: &ServerConfig) -> String {
        let map = forwarded(headers.iter().map(|h| HeaderValue::from_bytes(h).unwrap()));
        client_ip(peer.parse().unwrap(), &map, server).to_string()
    }

    #[test]
    fn request_ids_are_the_prefix_and_the_counter_in_hex() {
        for n in [0, 1, 9, 10, 15, 16, 255, 4096, 0xdead_beef, u64::MAX] {
            assert_eq!(request_id("0a1b2c3d", n), format!("0a1b2c3d-{n:x}").as_str());
        }
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert!(sane_request_id(&a), "{a:?}");
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
            let map = forwarded(lines.iter().filter_map(|l| HeaderValue::from_str(&l.join(", ")).ok()));
            let ip = client_ip(peer, &map, &proxies);
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
