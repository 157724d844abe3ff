//! Accepting connections and serving each one: the accept loop, the cap on open
//! connections, each connection's deadline for its next request head, and shutdown
//! (at once, or after the in-flight requests).
//!
//! Each connection is one task running hyper's connection future with the API's
//! [`Connection`] as its service, called by reference: nothing is cloned, locked or
//! put in the request's extensions per request. Shutdown reaches the connections
//! through an atomic state read at each poll and a waker each connection leaves in
//! its slot, so a busy connection pays no channel or notification per request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::Response;
use axum_server::accept::Accept;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::observe::{Api, Connection, Observed, Peer};

const RUNNING: u8 = 0;
const DRAINING: u8 = 1;
const STOPPED: u8 = 2;

/// Stops a running server: at once ([`Handle::shutdown`]), or after its in-flight
/// requests ([`Handle::graceful_shutdown`]).
#[derive(Clone, Default)]
pub struct Handle(Arc<Shutdown>);

#[derive(Default)]
struct Shutdown {
    state: AtomicU8,
    grace: Mutex<Option<Duration>>,
    /// The waker slot of every open connection, to wake it when the state changes.
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    /// Tells the accept loop that the state changed or the last connection closed.
    changed: Notify,
}

impl Handle {
    /// Stops accepting and closes every connection now.
    pub fn shutdown(&self) {
        self.set(STOPPED);
    }

    /// Stops accepting, lets in-flight requests finish and closes each connection
    /// when it is idle; after `grace` (if given), closes whatever is left.
    pub fn graceful_shutdown(&self, grace: Option<Duration>) {
        *self.0.grace.lock().unwrap_or_else(PoisonError::into_inner) = grace;
        let _ = self
            .0
            .state
            .compare_exchange(RUNNING, DRAINING, Ordering::AcqRel, Ordering::Acquire);
        self.wake_all();
    }

    fn set(&self, state: u8) {
        self.0.state.store(state, Ordering::Release);
        self.wake_all();
    }

    fn state(&self) -> u8 {
        self.0.state.load(Ordering::Acquire)
    }

    fn wake_all(&self) {
        let open: Vec<Arc<Slot>> = self
            .0
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for slot in open {
            slot.wake();
        }
        self.0.changed.notify_waiters();
    }

    /// A new connection's slot, registered until the guard returned with it drops.
    fn register(&self) -> (Registered, Arc<Slot>) {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new());
        self.0
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, slot.clone());
        (Registered(self.clone(), id), slot)
    }

    fn unregister(&self, id: u64) {
        let mut open = self.0.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&id);
        let last = open.is_empty();
        drop(open);
        if last {
            self.0.changed.notify_waiters();
        }
    }

    fn open_connections(&self) -> usize {
        self.0.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Waits until the server stops or drains.
    async fn stopping(&self) {
        loop {
            let changed = self.0.changed.notified();
            if self.state() != RUNNING {
                return;
            }
            changed.await;
        }
    }

    /// Waits until no connection is open.
    async fn drained(&self) {
        loop {
            let changed = self.0.changed.notified();
            if self.open_connections() == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// An open connection, counted until its task ends (by returning, or unwinding).
struct Registered(Handle, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// One connection's part of the server: where it leaves its waker (for shutdown),
/// and what its idle deadline needs: how many requests are in flight and since when
/// it has had none.
struct Slot {
    waker: Mutex<Option<Waker>>,
    epoch: Instant,
    in_flight: AtomicU32,
    /// Nanoseconds after `epoch`.
    idle_since: AtomicU64,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            waker: Mutex::new(None),
            epoch: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
        }
    }

    /// Leaves `waker`; whether it is a different one than before.
    fn register(&self, waker: &Waker) -> bool {
        let mut slot = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return false;
        }
        *slot = Some(waker.clone());
        true
    }

    fn wake(&self) {
        if let Some(w) = self.waker.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            w.wake_by_ref();
        }
    }

    /// When the connection has to have sent its next request head, or None while a
    /// request is in flight.
    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let idle = Duration::from_nanos(self.idle_since.load(Ordering::Acquire));
        Some(self.epoch + idle + timeout)
    }
}

/// A request in flight on a connection; when it ends (answered, or dropped), the
/// connection's idle time starts again.
struct InFlight(Option<Arc<Slot>>);

impl InFlight {
    fn new(slot: &Arc<Slot>) -> InFlight {
        slot.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Some(slot.clone()))
    }

    /// The request ended at `at`.
    fn end(&mut self, at: Instant) {
        if let Some(slot) = self.0.take() {
            let idle = u64::try_from(at.saturating_duration_since(slot.epoch).as_nanos()).unwrap_or(u64::MAX);
            slot.idle_since.fetch_max(idle, Ordering::AcqRel);
            slot.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.is_some() {
            self.end(Instant::now());
        }
    }
}

/// What a connection needs from hyper's connection futures (HTTP/1, or HTTP/1 and 2).
trait Graceful: Future {
    fn graceful(self: Pin<&mut Self>);
}

impl<I> Graceful for hyper::server::conn::http1::Connection<I, Hyper>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I> Graceful for hyper_util::server::conn::auto::Connection<'_, I, Hyper, TokioExecutor>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    fn graceful(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

pin_project_lite::pin_project! {
    /// A connection future that ends when the server stops, drains when it drains,
    /// and ends when it has had no request in flight for the header timeout without
    /// sending a complete request head: from the connection's start (covering
    /// protocol detection), between keep-alive requests and while a head trickles in.
    ///
    /// The deadline is one timer per connection, moved lazily: a request only
    /// records when it ended, and the timer, when it fires, either closes the
    /// connection or is set to the deadline that request left.
    struct Watched<C> {
        #[pin]
        conn: C,
        #[pin]
        deadline: tokio::time::Sleep,
        timeout: Duration,
        handle: Handle,
        slot: Arc<Slot>,
        armed: bool,
        draining: bool,
        rewake: Arc<Rewake>,
        rewaker: Waker,
    }
}

impl<C> Watched<C> {
    /// Watches `conn`, whose transport is ready (a TLS handshake, bounded on its own,
    /// is done): its first request is due within `timeout` from now.
    fn new(conn: C, timeout: Duration, handle: Handle, slot: Arc<Slot>) -> Watched<C> {
        let ready = u64::try_from(slot.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        slot.idle_since.fetch_max(ready, Ordering::AcqRel);
        let rewake = Arc::new(Rewake::new(slot.clone()));
        Watched {
            conn,
            deadline: tokio::time::sleep_until((Instant::now() + timeout).into()),
            timeout,
            handle,
            slot,
            armed: false,
            draining: false,
            rewake: rewake.clone(),
            rewaker: Waker::from(rewake),
        }
    }
}

impl<C: Graceful> Future for Watched<C> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        // The waker first, then the state: a change after the read wakes this task.
        if this.slot.register(cx.waker()) {
            *this.armed = false;
        }
        match this.handle.state() {
            STOPPED => return Poll::Ready(()),
            DRAINING if !*this.draining => {
                *this.draining = true;
                this.conn.as_mut().graceful();
            }
            _ => {}
        }
        if this.rewake.poll(this.conn.as_mut(), this.rewaker, cx).is_ready() {
            return Poll::Ready(());
        }
        loop {
            if *this.armed && !this.deadline.is_elapsed() {
                return Poll::Pending;
            }
            if this.deadline.as_mut().poll(cx).is_pending() {
                *this.armed = true;
                return Poll::Pending;
            }
            let now = Instant::now();
            let next = match this.slot.deadline(*this.timeout) {
                Some(due) if due <= now => return Poll::Ready(()),
                Some(due) => due,
                // A request in flight is bounded by the request timeout; look again
                // one header timeout from now.
                None => now + *this.timeout,
            };
            this.deadline.as_mut().reset(next.into());
            *this.armed = false;
        }
    }
}

/// Not being polled by [`Rewake::poll`].
const IDLE: u8 = 0;
/// Being polled.
const POLLING: u8 = 1;
/// Woken while being polled: to be polled again.
const WOKEN: u8 = 2;

/// Polls the connection again at once when it wakes itself while being polled,
/// instead of letting the wake reach tokio. hyper does that once or twice per
/// request with a body (its body channel wakes the connection's own task when the
/// handler reads), and tokio's multi-thread scheduler treats a task woken during
/// its own poll as a yield: to the back of the queue, and another worker is woken
/// to steal it. That is two thread wake-ups per request for a connection that is
/// alone on the server, nearly as much CPU as a refresh's own work on a small
/// virtual machine. Any
/// other wake (the socket, a timer, another task) goes to the task's waker, the one
/// the connection's [`Slot`] holds, as before; a connection that keeps waking itself
/// is handed back to tokio after [`REPOLLS`] polls, so it still yields.
struct Rewake {
    state: AtomicU8,
    slot: Arc<Slot>,
}

/// Polls of one connection in a row before its own wake goes to tokio.
const REPOLLS: usize = 4;

impl Rewake {
    fn new(slot: Arc<Slot>) -> Rewake {
        Rewake {
            state: AtomicU8::new(IDLE),
            slot,
        }
    }

    /// Polls `fut` for the task of `cx`, whose waker the slot holds already.
    fn poll<F: Future>(&self, mut fut: Pin<&mut F>, rewaker: &Waker, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut inner = Context::from_waker(rewaker);
        for _ in 0..REPOLLS {
            self.state.store(POLLING, Ordering::Release);
            let out = fut.as_mut().poll(&mut inner);
            if out.is_ready() {
                self.state.store(IDLE, Ordering::Release);
                return out;
            }
            if self
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
        }
        self.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for Rewake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // While the connection is being polled, the poll loop sees the wake itself.
        if self
            .state
            .compare_exchange(POLLING, WOKEN, Ordering::AcqRel, Ordering::Acquire)
            .map_or_else(|now| now == WOKEN, |_| true)
        {
            return;
        }
        self.slot.wake();
    }
}

/// The API's [`Connection`] as hyper's service: called by reference, once per
/// request, on the connection's task.
struct Hyper {
    conn: Connection,
    slot: Arc<Slot>,
}

impl hyper::service::Service<Request<Incoming>> for Hyper {
    type Response = Response;
    type Error = Infallible;
    type Future = Tracked;

    fn call(&self, request: Request<Incoming>) -> Tracked {
        Tracked {
            in_flight: InFlight::new(&self.slot),
            inner: self.conn.serve(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's future, counted as in flight on its connection until it ends.
    struct Tracked {
        #[pin]
        inner: Observed,
        in_flight: InFlight,
    }
}

impl Future for Tracked {
    type Output = Result<Response, Infallible>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let out = ready!(inner.as_mut().poll(cx));
        // The clock reading the response's metrics were taken at.
        this.in_flight.end(inner.ended().unwrap_or_else(Instant::now));
        Poll::Ready(out)
    }
}

/// A connection holding one of the cap's permits until it ends.
pub struct Held<S> {
    stream: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// How connections are served.
pub struct Serving<A> {
    /// Plain TCP or TLS.
    pub acceptor: A,
    /// Serve HTTP/2 beside HTTP/1 (over TLS, where ALPN chooses).
    pub http2: bool,
    /// Closes a connection without a request in flight and without a complete
    /// request head this long after it connected or after its previous request.
    pub header_read_timeout: Duration,
    /// How many connections are served at once; one more is closed at once.
    pub max_connections: usize,
}

/// Accepts connections on `listener` until `handle` stops it, serving each with
/// `api`; returns once every connection has closed (or, draining, the grace ran out).
pub async fn serve<A>(listener: TcpListener, serving: Serving<A>, api: Api, handle: Handle) -> std::io::Result<()>
where
    A: Accept<TcpStream, ()> + Clone + Send + Sync + 'static,
    A::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A::Future: Send + 'static,
    A::Service: Send,
{
    let permits = Arc::new(Semaphore::new(serving.max_connections));
    let timeout = serving.header_read_timeout;
    // The header timeout is each connection's own deadline (see [`Watched`]), not
    // hyper's timer per request.
    // A response's head and body go out as one write (hyper copies the body into
    // the head's buffer) rather than as a vectored write of both: for the small
    // bodies of an API, measured cheaper than hyper's queue of buffers.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.writev(false);
    let http1 = Arc::new(http1);
    let mut auto = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    auto.http1().writev(false);
    let auto = Arc::new(auto);
    loop {
        let changed = handle.0.changed.notified();
        if handle.state() != RUNNING {
            break;
        }
        let (tcp, addr) = tokio::select! {
            biased;
            () = changed => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: keep listening, but do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(tcp);
            metrics::counter!("jwtauth_connections_refused_total").increment(1);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (registered, slot) = handle.register();
        let conn = Hyper {
            conn: api.connection(Peer::new(addr)),
            slot: slot.clone(),
        };
        let (acceptor, handle, http1, auto, http2) = (
            serving.acceptor.clone(),
            handle.clone(),
            http1.clone(),
            auto.clone(),
            serving.http2,
        );
        tokio::spawn(async move {
            let _registered = registered;
            // A TLS handshake is bounded by the acceptor; a stop ends it here.
            let accepted = tokio::select! {
                biased;
                () = handle.stopping() => None,
                accepted = acceptor.accept(tcp, ()) => accepted.ok(),
            };
            if let Some((stream, _)) = accepted {
                let io = TokioIo::new(Held {
                    stream,
                    _permit: permit,
                });
                let handle = handle.clone();
                if http2 {
                    Watched::new(auto.serve_connection(io, conn), timeout, handle, slot).await;
                } else {
                    Watched::new(http1.serve_connection(io, conn), timeout, handle, slot).await;
                }
            }
        });
    }
    drop(listener);
    if handle.state() == DRAINING {
        let grace = *handle.0.grace.lock().unwrap_or_else(PoisonError::into_inner);
        match grace {
            Some(grace) => {
                if tokio::time::timeout(grace, handle.drained()).await.is_err() {
                    handle.shutdown();
                }
            }
            None => handle.drained().await,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts the wakes that reach the task.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Wakes itself `times` times while being polled, then is ready.
    struct SelfWaking {
        times: usize,
        polls: usize,
    }

    impl Future for SelfWaking {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls += 1;
            if self.times == 0 {
                return Poll::Ready(());
            }
            self.times -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn setup(times: usize) -> (Arc<Rewake>, Waker, Arc<Count>, Waker, SelfWaking) {
        let count = Arc::new(Count::default());
        let task = Waker::from(count.clone());
        // As the connection's poll does first: the task's waker in its slot.
        let slot = Arc::new(Slot::new());
        slot.register(&task);
        let rewake = Arc::new(Rewake::new(slot));
        let rewaker = Waker::from(rewake.clone());
        (rewake, rewaker, count, task, SelfWaking { times, polls: 0 })
    }

    #[test]
    fn a_connection_waking_itself_is_polled_again_without_waking_the_task() {
        let (rewake, rewaker, count, task, mut fut) = setup(REPOLLS - 1);
        let mut cx = Context::from_waker(&task);
        assert!(rewake.poll(Pin::new(&mut fut), &rewaker, &mut cx).is_ready());
        assert_eq!(fut.polls, REPOLLS);
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "no wake reached the task");
    }

    #[test]
    fn a_connection_that_keeps_waking_itself_still_yields_to_the_runtime() {
        let (rewake, rewaker, count, task, mut fut) = setup(REPOLLS);
        let mut cx = Context::from_waker(&task);
        assert!(rewake.poll(Pin::new(&mut fut), &rewaker, &mut cx).is_pending());
        assert_eq!(fut.polls, REPOLLS);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "handed back to the task as a yield");
        assert!(rewake.poll(Pin::new(&mut fut), &rewaker, &mut cx).is_ready());
    }

    #[test]
    fn a_wake_after_the_poll_reaches_the_task() {
        // Pending without waking itself, like a connection waiting for its socket.
        let (rewake, rewaker, count, task, _) = setup(0);
        let mut cx = Context::from_waker(&task);
        let mut waiting = std::future::poll_fn(|_| Poll::<()>::Pending);
        assert!(rewake.poll(Pin::new(&mut waiting), &rewaker, &mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        // The socket becomes readable: from another thread, after the poll.
        let later = rewaker.clone();
        std::thread::spawn(move || later.wake()).join().unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the task was woken");
    }
}
