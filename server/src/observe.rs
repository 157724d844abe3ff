//! The service every request enters first ([`Api`], one [`Connection`] per
//! connection): the request context and id, the body limit, the response guards
//! (`nosniff`, HSTS, the 408 timeout), the access log and the metrics, in front of
//! the router as one plain service rather than a boxed layer around each route.
//!
//! Everything here runs on every request, so it is written to allocate little: the
//! client's address is rendered once per connection ([`Peer`]), the request context
//! shares the request's own bytes, the metric labels are matched once with the
//! router's own matcher and their handles registered once per route, method and
//! status, and the timeout's timer is armed only for a handler that does not answer
//! at its first poll.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use metrics::{Counter, Histogram};
use tower::Service;

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

/// One request counter and the route's latency histogram, for one route, method and status.
struct Series {
    key: u64,
    requests: Counter,
    duration: Histogram,
}

/// The metric handles the API has used, found by route, method and status.
#[derive(Default)]
struct Handles(RwLock<Vec<Series>>);

/// No more series than this are kept: every label comes from a fixed set, but a
/// bound keeps a bug from growing the list without end (beyond it a request is
/// still counted, through the registry).
const MAX_SERIES: usize = 256;

impl Handles {
    fn record(&self, route: &'static str, route_index: usize, method: &'static str, status: u16, elapsed: Duration) {
        let method_index = KNOWN_METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(KNOWN_METHODS.len());
        let key = (route_index as u64) << 32 | (method_index as u64) << 16 | u64::from(status);
        let find = |all: &[Series]| all.iter().position(|s| s.key == key);
        {
            let all = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = find(&all) {
                all[i].requests.increment(1);
                all[i].duration.record(elapsed.as_secs_f64());
                return;
            }
        }
        let series = Series {
            key,
            requests: metrics::counter!("jwtauth_http_requests_total", "method" => method, "route" => route, "status" => status.to_string()),
            duration: metrics::histogram!("jwtauth_http_request_duration_seconds", "route" => route),
        };
        series.requests.increment(1);
        series.duration.record(elapsed.as_secs_f64());
        let mut all = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() < MAX_SERIES && find(&all).is_none() {
            all.push(series);
        }
    }
}

/// The label of a request whose path no route matches.
pub const UNMATCHED: &str = "unmatched";

/// The route templates, collected as the router is built (see [`crate::app`]), so
/// a request's `route` label is the template the router matches, found with the
/// router's own matcher.
#[derive(Default)]
pub struct Routes {
    templates: Vec<&'static str>,
}

impl Routes {
    /// Records `template` (once, however many methods it serves) and returns it.
    pub fn add(&mut self, template: &'static str) -> &'static str {
        if !self.templates.contains(&template) {
            self.templates.push(template);
        }
        template
    }
}

/// A route label and its index among the templates.
type Label = (&'static str, usize);

/// Finds a path's route template.
struct Labels {
    matcher: matchit::Router<usize>,
    templates: Vec<&'static str>,
}

impl Labels {
    fn new(routes: Routes) -> Labels {
        let mut matcher = matchit::Router::new();
        for (i, template) in routes.templates.iter().enumerate() {
            // The router accepted the same templates, so they insert here too.
            if let Err(e) = matcher.insert(*template, i) {
                tracing::warn!(template, error = %e, "route template without a metrics label");
            }
        }
        Labels {
            matcher,
            templates: routes.templates,
        }
    }

    /// The template matching `path` and its index, or [`UNMATCHED`] after the last.
    fn of(&self, path: &str) -> Label {
        match self.matcher.at(path) {
            Ok(m) => (self.templates[*m.value], *m.value),
            Err(_) => (UNMATCHED, self.templates.len()),
        }
    }
}

/// What every connection of the API shares.
struct Front {
    state: AppState,
    labels: Labels,
    handles: Handles,
    timeout: Duration,
}

/// The whole API: the router with the service in front of it, served one
/// [`Connection`] per connection.
#[derive(Clone)]
pub struct Api {
    router: Router,
    front: Arc<Front>,
}

impl Api {
    /// `router` with `routes` its templates; a handler taking longer than `timeout`
    /// is answered 408.
    pub fn new(router: Router, routes: Routes, state: AppState, timeout: Duration) -> Api {
        Api {
            router,
            front: Arc::new(Front {
                state,
                labels: Labels::new(routes),
                handles: Handles::default(),
                timeout,
            }),
        }
    }

    /// The service for one connection from `peer`.
    pub fn connection(&self, peer: Peer) -> Connection {
        Connection {
            peer,
            router: RefCell::new(self.router.clone()),
            last_route: RefCell::new(None),
            front: self.front.clone(),
        }
    }
}

/// Serves one connection's requests, on that connection's task: gives each its
/// [`RequestCtx`] (and with it its id; see [`RequestCtx::current`]) and a body
/// bounded by [`crate::BODY_LIMIT`], runs it in a span carrying the id, answers 408
/// after the timeout, then sets `nosniff` (and HSTS over TLS), counts it in the HTTP
/// metrics, writes its access-log line and returns the id in `X-Request-Id`.
pub struct Connection {
    peer: Peer,
    // The router's `call` needs `&mut` only by the tower signature; a connection's
    // requests are called one at a time on its own task.
    router: RefCell<Router>,
    last_route: RefCell<Option<(Box<str>, Label)>>,
    front: Arc<Front>,
}

impl Connection {
    /// The route label of `path`. A connection mostly asks for the same path again,
    /// so the last one is remembered.
    fn route_of(&self, path: &str) -> Label {
        let Ok(mut last) = self.last_route.try_borrow_mut() else {
            return self.front.labels.of(path);
        };
        if let Some((last_path, route)) = last.as_ref()
            && **last_path == *path
        {
            return *route;
        }
        let route = self.front.labels.of(path);
        // A long path is matched each time rather than kept.
        *last = (path.len() <= 256).then(|| (Box::from(path), route));
        route
    }

    /// Starts serving `request`.
    pub fn serve<B>(&self, request: axum::http::Request<B>) -> Observed
    where
        B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let start = Instant::now();
        let request: Request = request.map(|body| {
            if body.is_end_stream() {
                // Most requests have no body: nothing to bound or to box.
                Body::empty()
            } else {
                Body::new(http_body_util::Limited::new(body, crate::BODY_LIMIT))
            }
        });
        let route = self.route_of(request.uri().path());
        let ctx = RequestCtx::of(&request, &self.peer, self.front.state.auth.config().server());
        let span = tracing::info_span!("request", request_id = ctx.id());
        let inner = ctx.scope(|| {
            span.in_scope(|| match self.router.try_borrow_mut() {
                Ok(mut router) => Some(router.call(request)),
                Err(_) => None,
            })
        });
        Observed {
            inner,
            timer: None,
            ended: None,
            done: Some(Done {
                start,
                route,
                ctx,
                span,
                front: self.front.clone(),
            }),
        }
    }
}

/// What [`Observed`] needs once the response is there.
struct Done {
    start: Instant,
    /// The route label and its index.
    route: Label,
    ctx: RequestCtx,
    span: tracing::Span,
    front: Arc<Front>,
}

/// The HSTS policy sent over TLS.
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

impl Done {
    /// The response as sent, observed at `end`.
    fn finish(self, mut response: Response, end: Instant) -> Response {
        let headers = response.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if self.front.state.tls && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
        }
        let status = response.status().as_u16();
        let elapsed = end.saturating_duration_since(self.start);
        // Every label comes from a fixed set (a client chooses the method and the
        // path, so neither may mint a series): route templates, known methods.
        let (route, route_index) = self.route;
        self.front
            .handles
            .record(route, route_index, metric_method(self.ctx.method()), status, elapsed);
        let ctx = &self.ctx;
        // A child of the request's span, which need not be entered and left for it.
        tracing::info!(
            target: ACCESS_TARGET,
            parent: &self.span,
            client = ctx.client().unwrap_or("-"),
            method = ctx.method(),
            path = ctx.path(),
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        // Last, so that the id moves into the header when nothing else holds the context.
        response
            .headers_mut()
            .insert(REQUEST_ID.clone(), self.ctx.into_id_header());
        response
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Connection`].
    pub struct Observed {
        // None only if the router could not be borrowed (answered 500).
        #[pin]
        inner: Option<RouteFuture<Infallible>>,
        // Armed at the first poll that finds the handler not done: most requests are
        // answered at their first poll and never touch the timer wheel (boxed, so the
        // future hyper moves around stays small).
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
        // When the response was there (its metrics' clock reading).
        ended: Option<Instant>,
        done: Option<Done>,
    }
}

impl Observed {
    /// When the response was there, once it is.
    pub fn ended(&self) -> Option<Instant> {
        self.ended
    }
}

impl Future for Observed {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(done) = this.done.as_ref() else {
            // Polled after it was ready: a contract violation of the caller's.
            return Poll::Pending;
        };
        let polled = match this.inner.as_pin_mut() {
            Some(inner) => done.ctx.scope(|| done.span.in_scope(|| inner.poll(cx))),
            None => Poll::Ready(Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response())),
        };
        let response = match polled {
            Poll::Ready(Ok(response)) => response,
            Poll::Pending => {
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(done.front.timeout)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => StatusCode::REQUEST_TIMEOUT.into_response(),
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        let end = Instant::now();
        *this.ended = Some(end);
        match this.done.take() {
            Some(done) => Poll::Ready(Ok(done.finish(response, end))),
            None => Poll::Ready(Ok(response)),
        }
    }
}

/// The methods with a label of their own.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// The method as a metrics label: one of the standard methods, else `other`.
pub fn metric_method(method: &str) -> &'static str {
    KNOWN_METHODS.into_iter().find(|k| *k == method).unwrap_or("other")
}
