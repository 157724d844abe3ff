//! Failure events and their sink: one JSON line per authentication failure, written
//! through `tracing` to daily rolling files (`tracing-appender`, non-blocking).
//!
//! Line format (documented in the README; the admin TUI reads it with [`FailureRecord`]):
//! `{"time":"2026-11-28T15:04:05.123456Z","reason":"expired","hint":"…","kid":"…",
//! "subject":"alice","subject_verified":true,"fingerprint":"a1b2c3d4e5f6",
//! "client":"127.0.0.1:51234","method":"GET","path":"/api/products",
//! "user_agent":"curl/8.5","request_id":"…","client_id":"…","issuer":"…"}` — absent
//! members are omitted. `client_id` is the OAuth client the request authenticated as;
//! `issuer` the issuer (this service or a trusted one) whose rules judged the token.

use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::Context;

use crate::error::{AuthError, Reason};

mod flood;

pub use flood::{Checked, FloodGate, FloodLimits, lost_lines, suppressed_lines};

pub use crate::encoding::fingerprint;

/// The `tracing` target of failure events.
pub const TARGET: &str = "jwtauth::failure";
/// Suffix of the failure log files: `<prefix>.<YYYY-MM-DD>.jsonl`.
pub const FILE_SUFFIX: &str = "jsonl";

/// The failure log's settings (`[log]` in `jwtauth.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Directory of the daily rolling JSON-lines files.
    pub dir: std::path::PathBuf,
    /// Whether `log.dir` was set (file or environment) rather than defaulted: an
    /// embedded library writes files only where it was told to.
    pub dir_configured: bool,
    /// How many daily files are kept.
    pub retention_days: u32,
    /// File names are `<prefix>.<YYYY-MM-DD>.jsonl`.
    pub file_prefix: String,
    /// How much may be written under a flood (`log.max_repeats_per_minute`,
    /// `log.max_bytes_per_day`).
    pub limits: FloodLimits,
}

/// Where a request came from; filled in by adapters (the server knows these, the
/// C API may not).
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Client address, e.g. `127.0.0.1:51234`.
    pub client: Option<&'a str>,
    /// HTTP method.
    pub method: Option<&'a str>,
    /// Request path (without query string).
    pub path: Option<&'a str>,
    /// User-Agent header.
    pub user_agent: Option<&'a str>,
    /// Request id.
    pub request_id: Option<&'a str>,
    /// The OAuth client the request authenticated as (never an unauthenticated claim).
    pub client_id: Option<&'a str>,
}

/// One authentication failure, as it is emitted.
#[derive(Debug, Clone, Copy)]
pub struct FailureEvent<'a> {
    /// Why.
    pub reason: Reason,
    /// Hint for humans (never a secret or a whole token).
    pub hint: &'a str,
    /// Key id from the token header, if any.
    pub kid: Option<&'a str>,
    /// Subject read from the token or request.
    pub subject: Option<&'a str>,
    /// Whether `subject` comes from a verified signature.
    pub subject_verified: bool,
    /// [`fingerprint`] of the token, if there was one.
    pub fingerprint: Option<&'a str>,
    /// The issuer whose rules judged the token: this service's or a trusted one's
    /// (never an untrusted `iss`).
    pub issuer: Option<&'a str>,
    /// Request context.
    pub request: RequestInfo<'a>,
}

impl<'a> FailureEvent<'a> {
    /// The event of `error` during `request`, with nothing known of a token or subject.
    pub fn of(error: &'a AuthError, request: &RequestInfo<'a>) -> FailureEvent<'a> {
        FailureEvent {
            reason: error.reason,
            hint: &error.hint,
            kid: None,
            subject: None,
            subject_verified: false,
            fingerprint: None,
            issuer: None,
            request: *request,
        }
    }

    /// With the key id the token named.
    #[must_use]
    pub fn kid(mut self, kid: Option<&'a str>) -> Self {
        self.kid = kid;
        self
    }

    /// With the subject, and whether a verified signature vouches for it.
    #[must_use]
    pub fn subject(mut self, subject: Option<&'a str>, verified: bool) -> Self {
        self.subject = subject;
        self.subject_verified = verified;
        self
    }

    /// With the token's [`fingerprint`].
    #[must_use]
    pub fn fingerprint(mut self, fingerprint: Option<&'a str>) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// With the issuer whose rules judged the token.
    #[must_use]
    pub fn issuer(mut self, issuer: Option<&'a str>) -> Self {
        self.issuer = issuer;
        self
    }

    /// Emits it (see [`record`]).
    pub fn record(&self) {
        record(self);
    }
}

/// Records a failure that did not come from token validation (bad credentials,
/// rate limiting, a header without a token…), with the subject it named, unverified.
pub fn record_failure(error: &AuthError, subject: Option<&str>, request: &RequestInfo<'_>) {
    FailureEvent::of(error, request).subject(subject, false).record();
}

/// Emits the event on the [`TARGET`] target. Cheap when no subscriber listens.
/// Every value that may come from outside (a token, a request, an embedder's C
/// strings) is bounded and cleaned of control and reordering characters first, so
/// no caller can write a huge or disguised line.
pub fn record(e: &FailureEvent<'_>) {
    if !tracing::event_enabled!(target: TARGET, tracing::Level::WARN) {
        return;
    }
    fn bound(v: Option<&str>, max: usize) -> Option<std::borrow::Cow<'_, str>> {
        v.map(|v| crate::error::clip_to(v, max))
    }
    let (kid, subject) = (bound(e.kid, 128), bound(e.subject, 256));
    let (client, method, path) = (
        bound(e.request.client, 64),
        bound(e.request.method, 32),
        bound(e.request.path, 512),
    );
    let (user_agent, request_id) = (bound(e.request.user_agent, 256), bound(e.request.request_id, 64));
    let (client_id, issuer) = (bound(e.request.client_id, 128), bound(e.issuer, 256));
    tracing::warn!(
        target: TARGET,
        reason = e.reason.as_str(),
        hint = &*crate::error::clip_to(e.hint, 1024),
        kid = kid.as_deref(),
        subject = subject.as_deref(),
        subject_verified = e.subject.map(|_| e.subject_verified),
        fingerprint = e.fingerprint,
        client = client.as_deref(),
        method = method.as_deref(),
        path = path.as_deref(),
        user_agent = user_agent.as_deref(),
        request_id = request_id.as_deref(),
        client_id = client_id.as_deref(),
        issuer = issuer.as_deref(),
        "authentication failure"
    );
}

/// One line of the failure log, as written and as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// RFC 3339 UTC time.
    pub time: String,
    /// A [`Reason`] name.
    pub reason: String,
    /// Hint for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Key id from the token header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Subject, verified or not (see `subject_verified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Whether the subject was read from a verified token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_verified: Option<bool>,
    /// Token fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// User-Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The OAuth client the request authenticated as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The issuer whose rules judged the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// On a summary line: how many failures like it were not written (flood
    /// protection, see `log.max_repeats_per_minute` and `log.max_bytes_per_day`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<u64>,
}

impl FailureRecord {
    /// The record of a failure event (one on [`TARGET`]), timed now: what the file
    /// log writes and what an embedder's event callback receives.
    pub fn from_event(event: &Event<'_>) -> FailureRecord {
        let mut rec = FailureRecord {
            time: now_rfc3339(),
            ..FailureRecord::default()
        };
        event.record(&mut rec);
        rec
    }
}

impl Visit for FailureRecord {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "reason" => {
                self.reason = value.to_owned();
                return;
            }
            "hint" => &mut self.hint,
            "kid" => &mut self.kid,
            "subject" => &mut self.subject,
            "fingerprint" => &mut self.fingerprint,
            "client" => &mut self.client,
            "method" => &mut self.method,
            "path" => &mut self.path,
            "user_agent" => &mut self.user_agent,
            "request_id" => &mut self.request_id,
            "client_id" => &mut self.client_id,
            "issuer" => &mut self.issuer,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "subject_verified" {
            self.subject_verified = Some(value);
        }
    }
    fn record_debug(&mut self, _field: &Field, _value: &dyn fmt::Debug) {}
}

/// Where failure lines go: a writer behind a [`FloodGate`].
pub struct FailureSink<W> {
    writer: W,
    gate: std::sync::Arc<FloodGate>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<W> FailureSink<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w>,
{
    /// A sink writing to any `MakeWriter` (a file, a buffer in tests).
    pub fn new(writer: W, limits: FloodLimits) -> Self {
        FailureSink {
            writer,
            gate: std::sync::Arc::new(FloodGate::new(limits)),
        }
    }

    /// Writes the record's line, unless flood protection holds it back (and any
    /// summary lines that are due).
    pub fn write(&self, rec: &FailureRecord) {
        put(&self.writer, self.gate.admit(rec, unix_now()));
    }
}

fn put<W: for<'w> tracing_subscriber::fmt::MakeWriter<'w>>(writer: &W, lines: Vec<Vec<u8>>) {
    for line in lines {
        // A failing log sink must not fail authentication; the write is best effort.
        let _ = writer.make_writer().write_all(&line);
    }
}

impl<W> FailureSink<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + 'static,
{
    /// Writes due summary lines every few seconds even when no failure comes, until
    /// the returned stopper is called (it waits for the thread to end).
    fn tick(&self) -> impl FnOnce() + Send + Sync + 'static {
        let (gate, writer) = (std::sync::Arc::downgrade(&self.gate), self.writer.clone());
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("jwtauth-log-summary".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_secs(5))
                {
                    let Some(gate) = gate.upgrade() else { return };
                    put(&writer, gate.due(unix_now()));
                }
            })
            .ok();
        move || {
            drop(stop);
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
    }
}

/// A `tracing` layer that writes failure events as JSON lines; other events pass by.
pub struct FailureLogLayer<W> {
    sink: FailureSink<W>,
}

impl<W> FailureLogLayer<W>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w>,
{
    /// A layer writing to any `MakeWriter` (a file, a buffer in tests), with the
    /// default flood limits.
    pub fn new(writer: W) -> Self {
        FailureLogLayer::with_limits(writer, FloodLimits::default())
    }

    /// A layer with these flood limits.
    pub fn with_limits(writer: W, limits: FloodLimits) -> Self {
        FailureLogLayer {
            sink: FailureSink::new(writer, limits),
        }
    }
}

impl<S, W> Layer<S> for FailureLogLayer<W>
where
    S: Subscriber,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        self.sink.write(&FailureRecord::from_event(event));
    }
}

/// The current UTC time in RFC 3339, as the failure log writes it.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Keeps the background writer alive; dropping it flushes pending lines.
#[must_use = "dropping the guard stops the failure log writer"]
pub struct FailureLogGuard {
    /// Writes the summaries still pending, before the writer stops.
    pending: Option<Box<dyn FnOnce() + Send + Sync>>,
    _worker: WorkerGuard,
}

impl FailureLogGuard {
    fn new(worker: WorkerGuard) -> FailureLogGuard {
        FailureLogGuard {
            pending: None,
            _worker: worker,
        }
    }
}

impl Drop for FailureLogGuard {
    fn drop(&mut self) {
        if let Some(write_pending) = self.pending.take() {
            write_pending();
        }
    }
}

/// Why the failure log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the failure log in {dir}: {detail}. Create the directory or set log.dir to a writable one")]
pub struct LogError {
    /// The directory.
    pub dir: String,
    /// What went wrong.
    pub detail: String,
}

/// Failure lines queued for the writer thread. The queue is allocated whole at start
/// (32 bytes a line), so the library's default of 128,000 would keep 4 MB resident.
/// When a burst fills it, recording waits for the disk: no line is dropped.
pub const BUFFERED_LINES: usize = 16_384;

/// The layer [`file_layer`] returns: the failure log over the non-blocking file
/// writer, filtered to failure events, for a subscriber `S`.
pub type FileLayer<S> = Filtered<FailureLogLayer<NonBlocking>, Targets, S>;

/// The file sink: daily files `<prefix>.<YYYY-MM-DD>.jsonl` in `log.dir`, keeping
/// `log.retention_days` files. The writer is non-blocking but never drops lines.
///
/// The layer is filtered to failure events: it asks for no other span or event, so
/// those cost nothing when no other layer wants them (a server's per-request span
/// with access logs off).
pub fn file_layer<S>(cfg: &LogConfig) -> Result<(FileLayer<S>, FailureLogGuard), LogError>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let (sink, guard) = file_sink(cfg)?;
    let only_failures = Targets::new().with_target(TARGET, tracing::Level::TRACE);
    Ok((FailureLogLayer { sink }.with_filter(only_failures), guard))
}

/// The sink under [`file_layer`], for embedders that route events themselves:
/// records written to it land in the daily files of `log.dir`, within its flood
/// limits, with summary lines written on time.
pub fn file_sink(cfg: &LogConfig) -> Result<(FailureSink<NonBlocking>, FailureLogGuard), LogError> {
    let (writer, mut guard) = file_writer(cfg)?;
    let sink = FailureSink::new(writer, cfg.limits);
    let stop_ticking = sink.tick();
    let (gate, writer) = (std::sync::Arc::downgrade(&sink.gate), sink.writer.clone());
    guard.pending = Some(Box::new(move || {
        stop_ticking();
        if let Some(gate) = gate.upgrade() {
            put(&writer, gate.pending(unix_now()));
        }
    }));
    Ok((sink, guard))
}

/// The raw writer under [`file_sink`]: lines written to it land in the daily files
/// of `log.dir`, with no flood limits.
pub fn file_writer(cfg: &LogConfig) -> Result<(NonBlocking, FailureLogGuard), LogError> {
    let err = |detail: String| LogError {
        dir: cfg.dir.display().to_string(),
        detail,
    };
    // Failure lines name subjects and client addresses: the folder is owner-only.
    if cfg.dir.exists() {
        crate::store::warn_if_shared(&cfg.dir);
    } else {
        crate::store::private_dir(&cfg.dir).map_err(|e| err(e.to_string()))?;
    }
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(&cfg.file_prefix)
        .filename_suffix(FILE_SUFFIX)
        .max_log_files(usize::try_from(cfg.retention_days).unwrap_or(usize::MAX))
        .build(&cfg.dir)
        .map_err(|e| err(e.to_string()))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(Checked::new(appender));
    Ok((writer, FailureLogGuard::new(guard)))
}

/// Installs a global subscriber: the failure log files plus human-readable lines on
/// stderr for everything else (filtered by `RUST_LOG`, default `info`). For binaries
/// and the C library; applications with their own subscriber add [`file_layer`] instead.
pub fn init(cfg: &LogConfig) -> Result<FailureLogGuard, LogError> {
    use tracing_subscriber::prelude::*;
    let (layer, guard) = file_layer(cfg)?;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_filter(tracing_subscriber::filter::filter_fn(|m| m.target() != TARGET));
    tracing_subscriber::registry()
        .with(layer)
        .with(stderr)
        .try_init()
        .map_err(|e| LogError {
            dir: cfg.dir.display().to_string(),
            detail: format!("a global tracing subscriber is already set ({e})"),
        })?;
    Ok(guard)
}

/// Files of the failure log in `dir`, oldest first (their names sort by date).
pub fn log_files(dir: &Path, prefix: &str) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{prefix}.")) && n.ends_with(&format!(".{FILE_SUFFIX}")))
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_twelve_hex_digits_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(fingerprint(b"abc"), "ba7816bf8f01");
    }

    fn log_in(dir: &Path) -> LogConfig {
        LogConfig {
            dir: dir.to_path_buf(),
            dir_configured: true,
            retention_days: 3,
            file_prefix: "failures".into(),
            limits: FloodLimits::default(),
        }
    }

    #[test]
    fn the_file_layer_asks_for_nothing_but_failure_events() {
        use tracing_subscriber::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let cfg = log_in(dir.path());
        let (layer, _guard) = file_layer(&cfg).unwrap();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            assert!(tracing::info_span!("request").is_disabled());
            assert!(!tracing::enabled!(target: "jwtauth::access", tracing::Level::ERROR));
            assert!(tracing::enabled!(target: TARGET, tracing::Level::INFO));
        });
    }

    #[test]
    fn only_failure_events_reach_the_file_and_the_line_parses_back() {
        use tracing_subscriber::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let cfg = log_in(dir.path());
        let (layer, guard) = file_layer(&cfg).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("unrelated");
            record(&FailureEvent {
                reason: Reason::Expired,
                hint: "token expired 5 s ago",
                kid: Some("k1"),
                subject: Some("alice"),
                subject_verified: true,
                fingerprint: Some("0123456789ab"),
                issuer: Some("https://auth.example.com"),
                request: RequestInfo {
                    client: Some("127.0.0.1:1"),
                    path: Some("/api"),
                    ..RequestInfo::default()
                },
            });
        });
        drop(guard);
        let files = log_files(dir.path(), "failures").unwrap();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let rec: FailureRecord = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(rec.reason, "expired");
        assert_eq!(rec.subject.as_deref(), Some("alice"));
        assert_eq!(rec.subject_verified, Some(true));
        assert_eq!(rec.client.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(rec.issuer.as_deref(), Some("https://auth.example.com"));
        assert!(rec.method.is_none() && rec.client_id.is_none());
        assert!(!lines[0].contains("\"method\""));
        assert!(rec.time.ends_with('Z') && rec.time.len() >= 20, "{}", rec.time);
    }
}
