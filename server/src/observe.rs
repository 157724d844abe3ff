//! The services every request passes through, as one plain tower stack rather than a
//! boxed layer each: the request context, id, access log and metrics ([`Observe`]),
//! and the response guards ([`Guard`]: `nosniff`, HSTS, the 408 timeout).
//!
//! Everything here runs on every request, so it is written to allocate little: the
//! client's address is rendered once per connection ([`Peer`]), the request context
//! shares the request's own bytes, the metric handles are registered once per route,
//! method and status, and the timeout's timer is armed only for a handler that does
//! not answer at its first poll.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use tower::{Layer, Service};

use crate::AppState;
use crate::auth::{ACCESS_TARGET, REQUEST_ID, RequestCtx};

/// The connection's peer, with its address rendered once per connection rather than
/// once per request.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The socket address.
    pub addr: SocketAddr,
    /// `addr` as text (`203.0.113.9:4711`).
    pub text: Arc<str>,
    /// The address without the port, canonical (an IPv4-mapped IPv6 address as IPv4).
    pub ip_text: Arc<str>,
}

impl Peer {
    /// The peer at `addr`.
    pub fn new(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            text: addr.to_string().into(),
            ip_text: addr.ip().to_canonical().to_string().into(),
        }
    }
}

impl Connected<SocketAddr> for Peer {
    fn connect_info(addr: SocketAddr) -> Peer {
        Peer::new(addr)
    }
}

/// The peer of a request, if the server recorded one.
pub fn peer(request: &Request) -> Option<&Peer> {
    request.extensions().get::<ConnectInfo<Peer>>().map(|c| &c.0)
}

/// One request counter and the route's latency histogram, for one route, method and status.
struct Series {
    route: Box<str>,
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

/// The metric handles one endpoint has used. An endpoint serves one route (the
/// fallback serves every unmatched path under one label), so this stays a handful.
#[derive(Default)]
struct Handles(RwLock<Vec<Series>>);

/// No more series than this per endpoint: a status code is chosen by the handlers,
/// but a bound keeps a bug from growing the list without end.
const MAX_SERIES: usize = 64;

impl Handles {
    fn record(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let find = |all: &[Series]| {
            all.iter()
                .position(|s| s.status == status && s.method == method && &*s.route == route)
        };
        {
            let all = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = find(&all) {
                all[i].requests.increment(1);
                all[i].duration.record(elapsed.as_secs_f64());
                return;
            }
        }
        let series = Series {
            route: route.into(),
            method,
            status,
            requests: metrics::counter!("jwtauth_http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status.to_string()),
            duration: metrics::histogram!("jwtauth_http_request_duration_seconds", "route" => route.to_owned()),
        };
        series.requests.increment(1);
        series.duration.record(elapsed.as_secs_f64());
        let mut all = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() < MAX_SERIES && find(&all).is_none() {
            all.push(series);
        }
    }
}

/// The outermost layer: see [`Observe`].
#[derive(Clone)]
pub struct ObserveLayer {
    state: AppState,
}

impl ObserveLayer {
    /// The layer for an app with `state`.
    pub fn new(state: AppState) -> ObserveLayer {
        ObserveLayer { state }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.state.clone(),
            handles: Arc::default(),
        }
    }
}

/// Gives the request its [`RequestCtx`] (and with it its id), runs it in a span
/// carrying the id, then counts it in the HTTP metrics, writes its access-log line
/// and returns the id in `X-Request-Id`.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: AppState,
    handles: Arc<Handles>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let start = Instant::now();
        let ctx = RequestCtx::of(&request, self.state.auth.config().server());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let span = tracing::info_span!("request", request_id = ctx.id());
        request.extensions_mut().insert(ctx.clone());
        let inner = span.in_scope(|| self.inner.call(request));
        Observed {
            inner,
            done: Some(Done {
                start,
                ctx,
                route,
                span,
                handles: self.handles.clone(),
            }),
        }
    }
}

/// What [`Observed`] needs once the response is there.
struct Done {
    start: Instant,
    ctx: RequestCtx,
    route: Option<MatchedPath>,
    span: tracing::Span,
    handles: Arc<Handles>,
}

impl Done {
    fn finish(self, mut response: Response) -> Response {
        let status = response.status().as_u16();
        let elapsed = self.start.elapsed();
        // Every label comes from a fixed set (a client chooses the method and the
        // path, so neither may mint a series): route templates, known methods.
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        self.handles
            .record(route, metric_method(self.ctx.method()), status, elapsed);
        let ctx = &self.ctx;
        self.span.in_scope(|| {
            tracing::info!(
                target: ACCESS_TARGET,
                client = ctx.client().unwrap_or("-"),
                method = ctx.method(),
                path = ctx.path(),
                status,
                micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                "request"
            );
        });
        response
            .headers_mut()
            .insert(REQUEST_ID.clone(), self.ctx.id_header().clone());
        response
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Observe`].
    pub struct Observed<F> {
        #[pin]
        inner: F,
        done: Option<Done>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Observed<F> {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.done.as_ref() {
            Some(done) => done.span.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        let Poll::Ready(Ok(response)) = polled else {
            return Poll::Pending;
        };
        match this.done.take() {
            Some(done) => Poll::Ready(Ok(done.finish(response))),
            None => Poll::Ready(Ok(response)),
        }
    }
}

/// The method as a metrics label: one of the standard methods, else `other`.
pub fn metric_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|k| *k == method).unwrap_or("other")
}

/// The response guards: see [`Guard`].
#[derive(Clone)]
pub struct GuardLayer {
    timeout: Duration,
    hsts: bool,
}

impl GuardLayer {
    /// Answers 408 after `timeout`; sends HSTS when `hsts` (the server speaks TLS).
    pub fn new(timeout: Duration, hsts: bool) -> GuardLayer {
        GuardLayer { timeout, hsts }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            timeout: self.timeout,
            hsts: self.hsts,
        }
    }
}

/// Sets `X-Content-Type-Options: nosniff` on every response and, over TLS,
/// `Strict-Transport-Security` where the handler set none; answers
/// `408 Request Timeout` when the handler takes longer than the timeout.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    timeout: Duration,
    hsts: bool,
}

/// The HSTS policy sent over TLS.
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Guarded {
            inner: self.inner.call(request),
            timer: None,
            timeout: self.timeout,
            hsts: self.hsts,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Guard`].
    pub struct Guarded<F> {
        #[pin]
        inner: F,
        // Armed at the first poll that finds the handler not done: most requests are
        // answered at their first poll and never touch the timer wheel.
        #[pin]
        timer: Option<tokio::time::Sleep>,
        timeout: Duration,
        hsts: bool,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Guarded<F> {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Pending => {
                if this.timer.is_none() {
                    this.timer.set(Some(tokio::time::sleep(*this.timeout)));
                }
                match this.timer.as_pin_mut().map(|t| t.poll(cx)) {
                    Some(Poll::Ready(())) => StatusCode::REQUEST_TIMEOUT.into_response(),
                    _ => return Poll::Pending,
                }
            }
        };
        let headers = response.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if *this.hsts && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
        }
        Poll::Ready(Ok(response))
    }
}
