//! Lines on stderr: the access log and the server's own messages.
//!
//! An access-log line is written for every request, so what writing one costs is
//! part of what every request costs. Two things make it cheap here, and neither
//! changes what a line says:
//!
//! - [`Stderr`] gathers access-log lines and writes them in batches: when
//!   [`BATCH_BYTES`] have gathered, and at most [`FLUSH_AFTER`] after a line was
//!   logged (a thread of its own wakes for that only while lines wait). Every other
//!   line writes out the waiting ones, then itself, at once, so the order on stderr
//!   is the order of the events. The [`Flush`] guard writes what waits when the
//!   program ends; a process killed outright loses at most the last
//!   [`FLUSH_AFTER`] of access-log lines (failure events have a log of their own).
//! - [`Plain`] lays an access-log line out as tracing-subscriber's full format does
//!   without colours, without going through its styling for every piece, and with
//!   the second of the timestamp formatted once per second; other events it leaves
//!   to tracing-subscriber's formatter. [`PlainFields`] writes the fields of every
//!   event and span in that layout, and escapes control characters in every value.
//!   On a terminal the server keeps tracing-subscriber's coloured format for
//!   everything.

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::auth::ACCESS_TARGET;

/// Access-log lines gathered before they are written without waiting (about 100).
pub const BATCH_BYTES: usize = 24 * 1024;

/// The longest an access-log line waits before it is written.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// Where log lines go: stderr, access-log lines in batches (see the module's doc).
#[derive(Clone)]
pub struct Stderr {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    flush_after: Duration,
    // Wakes the flusher when a first line waits, and when the program ends.
    wake: Condvar,
    flusher: OnceLock<()>,
}

struct State {
    waiting: Vec<u8>,
    // A line waits, and the flusher will write it within FLUSH_AFTER.
    due: bool,
    // Nothing waits any more: the program is ending, or no flusher could start.
    closed: bool,
    out: Box<dyn Write + Send>,
}

impl State {
    /// Writes what waits. A failed write drops it: stderr that cannot be written
    /// now would only make the lines pile up.
    fn write_waiting(&mut self) {
        if !self.waiting.is_empty() {
            let _ = self.out.write_all(&self.waiting).and_then(|()| self.out.flush());
            self.waiting.clear();
        }
    }
}

/// Writes what waits when dropped, and stops the flusher.
pub struct Flush(Arc<Shared>);

impl Drop for Flush {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.closed = true;
        state.write_waiting();
        drop(state);
        self.0.wake.notify_all();
    }
}

impl Stderr {
    /// Lines to the process's stderr.
    pub fn new() -> (Stderr, Flush) {
        Stderr::to(Box::new(io::stderr()), FLUSH_AFTER)
    }

    /// Lines to `out`, an access-log line waiting at most `flush_after`.
    pub fn to(out: Box<dyn Write + Send>, flush_after: Duration) -> (Stderr, Flush) {
        let shared = Arc::new(Shared {
            flush_after,
            state: Mutex::new(State {
                waiting: Vec::with_capacity(BATCH_BYTES),
                due: false,
                closed: false,
                out,
            }),
            wake: Condvar::new(),
            flusher: OnceLock::new(),
        });
        (Stderr { shared: shared.clone() }, Flush(shared))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a half-written batch.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Started with the first line that waits, so commands that log no requests
    /// start no thread.
    fn start_flusher(self: &Arc<Self>) {
        self.flusher.get_or_init(|| {
            let shared = self.clone();
            let started = std::thread::Builder::new()
                .name("jwtauth-log-flush".into())
                .spawn(move || shared.flush_loop());
            if started.is_err() {
                // No thread (the process is out of them): lines are written at once.
                let mut state = self.lock();
                state.closed = true;
                state.write_waiting();
            }
        });
    }

    fn flush_loop(&self) {
        let mut state = self.lock();
        loop {
            while !state.due && !state.closed {
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.closed {
                return;
            }
            // The first waiting line was logged just now: give it flush_after to gather
            // company, unless the program ends first.
            state = self
                .wake
                .wait_timeout_while(state, self.flush_after, |s| !s.closed)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            state.write_waiting();
            state.due = false;
        }
    }
}

/// One line's writer, from [`Stderr`].
pub struct Line<'a> {
    shared: &'a Arc<Shared>,
    batched: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.lock();
        if self.batched && !state.closed {
            state.waiting.extend_from_slice(bytes);
            if state.waiting.len() >= BATCH_BYTES {
                state.write_waiting();
            } else if !state.due {
                state.due = true;
                drop(state);
                self.shared.start_flusher();
                self.shared.wake.notify_one();
            }
            return Ok(bytes.len());
        }
        state.write_waiting();
        state.out.write_all(bytes)?;
        state.out.flush()?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            batched: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            batched: meta.target() == ACCESS_TARGET,
        }
    }
}

/// The event format on stderr when it is not a terminal: tracing-subscriber's full
/// format without colours, access-log lines written by this module.
#[derive(Default)]
pub struct Plain {
    other: format::Format,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        if meta.target() != ACCESS_TARGET {
            return self.other.format_event(ctx, writer, event);
        }
        timestamp(&mut writer)?;
        writer.write_str(match *meta.level() {
            Level::TRACE => "TRACE ",
            Level::DEBUG => "DEBUG ",
            Level::INFO => " INFO ",
            Level::WARN => " WARN ",
            Level::ERROR => "ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// `2026-12-03T16:59:39.619385Z ` (UTC, microseconds, as tracing-subscriber writes
/// it), the part up to the second formatted once per second on each thread.
fn timestamp(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(since) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return writer.write_str("<unknown time> ");
    };
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            let Ok(t) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX)) else {
                return writer.write_str("<unknown time> ");
            };
            text.clear();
            write!(
                text,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )?;
            *cached = secs;
        }
        writer.write_str(text)?;
        write!(writer, ".{:06}Z ", since.subsec_micros())
    })
}

/// Fields as tracing-subscriber's default writes them without colours: the message
/// first, unquoted, then `name=value` separated by spaces, strings quoted and
/// escaped as Rust's `Debug` does. Control characters in a message or in any other
/// value are escaped too, so nothing logged can start a line of its own.
#[derive(Default)]
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PlainVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// The separator and `name=` of a field, or `None` for a field not shown (the
    /// `log.` metadata of a `log` record, which the line shows already).
    fn start(&mut self, field: &Field) -> Option<&'static str> {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return None;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        let name = name.strip_prefix("r#").unwrap_or(name);
        if name != "message" {
            self.result = self.result.and_then(|()| {
                self.writer.write_str(name)?;
                self.writer.write_char('=')
            });
        }
        Some(name)
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match self.start(field) {
            None => {}
            Some("message") => self.result = self.result.and_then(|()| escaped(&mut self.writer, value)),
            // Debug's quoting, spelled out for the common case it leaves unchanged.
            Some(_)
                if value
                    .bytes()
                    .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\') =>
            {
                self.result = self.result.and_then(|()| {
                    self.writer.write_char('"')?;
                    self.writer.write_str(value)?;
                    self.writer.write_char('"')
                });
            }
            Some(_) => self.result = self.result.and_then(|()| write!(self.writer, "{value:?}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Through the escaping: Debug escapes a string's control characters, but not
        // those of a message's text or of a `%value`'s Display.
        if self.start(field).is_some() {
            self.result = self.result.and_then(|()| {
                write!(
                    Escaping {
                        inner: &mut self.writer
                    },
                    "{value:?}"
                )
            });
        }
    }
}

/// A message, with control characters escaped.
fn escaped(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    Escaping { inner: writer }.write_str(text)
}

/// Passes text through, control characters (newlines, escape sequences) escaped.
struct Escaping<'a, 'w> {
    inner: &'a mut Writer<'w>,
}

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(char::is_control) {
            self.inner.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(self.inner, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        self.inner.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What reached the output, and how many writes it took.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.bytes.lock().unwrap().extend_from_slice(b);
            self.writes.fetch_add(1, Ordering::Relaxed);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    fn subscriber(stderr: Stderr) -> impl Subscriber + Send + Sync {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(stderr)
                .with_ansi(false)
                .event_format(Plain::default())
                .fmt_fields(PlainFields),
        )
    }

    /// An access-log event as the server logs it: a child of the request's span.
    fn access(path: &str) {
        let span = tracing::info_span!("request", request_id = "0a1b2c3d-7");
        tracing::info!(target: ACCESS_TARGET, parent: &span, client = "127.0.0.1:5000", method = "GET", path, status = 200u16, micros = 42u64, "request");
    }

    /// Long enough that no test sees the flusher unless it waits for it.
    const NEVER: Duration = Duration::from_secs(3600);

    /// The lines `events` writes through `Plain` and through tracing-subscriber's own
    /// full format (no colours), each without its timestamp.
    fn both_ways(events: impl Fn()) -> (Vec<String>, Vec<String>) {
        use tracing_subscriber::prelude::*;
        let plain = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(plain.clone()), NEVER);
        tracing::subscriber::with_default(subscriber(stderr), &events);
        drop(flush);
        let full = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(full.clone()), NEVER);
        let theirs =
            tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(stderr).with_ansi(false));
        tracing::subscriber::with_default(theirs, &events);
        drop(flush);
        let untimed = |sink: &Sink| -> Vec<String> {
            sink.text()
                .lines()
                .map(|l| {
                    let (time, rest) = l.split_at("2026-12-03T16:59:39.619385Z".len());
                    assert!(
                        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).is_ok(),
                        "{l}"
                    );
                    rest.to_owned()
                })
                .collect()
        };
        (untimed(&plain), untimed(&full))
    }

    #[test]
    fn lines_read_as_tracing_subscribers_full_format_writes_them() {
        let (ours, theirs) = both_ways(|| {
            access("/api/products");
            access("/caf\u{e9}/\"q\"");
            tracing::warn!(addr = "127.0.0.1:1", tls = false, "listening");
            let span = tracing::info_span!("request", request_id = "r-1");
            span.in_scope(|| tracing::error!(r#type = "x", n = -3i64, "failed: {}", "why"));
        });
        assert_eq!(ours, theirs);
        assert_eq!(
            ours[0],
            "  INFO request{request_id=\"0a1b2c3d-7\"}: jwtauth::access: request client=\"127.0.0.1:5000\" method=\"GET\" path=\"/api/products\" status=200 micros=42"
        );
        assert_eq!(ours.len(), 4);
    }

    #[test]
    fn what_a_client_sends_cannot_start_a_line_of_its_own() {
        let sink = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(sink.clone()), NEVER);
        tracing::subscriber::with_default(subscriber(stderr), || {
            access("/a\"b\\c\n2026-01-01T00:00:00.000000Z  WARN forged\u{1b}[2J");
            tracing::warn!("two\nlines \u{1b}[31m");
            tracing::warn!(error = %"a\nb", "failed");
        });
        drop(flush);
        let text = sink.text();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.contains(r#"path="/a\"b\\c\n2026-01-01T00:00:00.000000Z  WARN forged\u{1b}[2J""#),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains(r"two\nlines \u{1b}[31m"), "{text}");
        assert!(text.contains(r"failed error=a\nb"), "{text}");
    }

    #[test]
    fn access_lines_wait_and_other_lines_write_them_first() {
        let sink = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(sink.clone()), NEVER);
        tracing::subscriber::with_default(subscriber(stderr), || {
            for _ in 0..3 {
                access("/x");
            }
            assert_eq!(sink.writes.load(Ordering::Relaxed), 0, "{}", sink.text());
            tracing::warn!("not an access line");
            // The waiting lines, then the warning: two writes, in the events' order.
            let text = sink.text();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 4, "{text}");
            assert!(lines[..3].iter().all(|l| l.contains("jwtauth::access")), "{text}");
            assert!(lines[3].contains("not an access line"), "{text}");
            assert_eq!(sink.writes.load(Ordering::Relaxed), 2);
            access("/y");
        });
        assert!(!sink.text().contains("path=\"/y\""));
        drop(flush);
        assert!(
            sink.text().ends_with("path=\"/y\" status=200 micros=42\n"),
            "{}",
            sink.text()
        );
    }

    #[test]
    fn a_waiting_line_is_written_within_flush_after_without_another_event() {
        let sink = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(sink.clone()), Duration::from_millis(20));
        tracing::subscriber::with_default(subscriber(stderr), || access("/z"));
        // Bounded: far longer than 20 ms, for a loaded machine.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !sink.text().contains("path=\"/z\"") {
            assert!(std::time::Instant::now() < deadline, "the line never came");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(flush);
    }

    #[test]
    fn a_full_batch_is_written_at_once_and_after_the_end_lines_wait_no_more() {
        let sink = Sink::default();
        let (stderr, flush) = Stderr::to(Box::new(sink.clone()), NEVER);
        let subscriber = subscriber(stderr);
        tracing::subscriber::with_default(subscriber, || {
            let mut lines = 0;
            while sink.writes.load(Ordering::Relaxed) == 0 {
                access("/batch");
                lines += 1;
                assert!(lines < 1_000, "no batch was written");
            }
            let written = sink.bytes.lock().unwrap().len();
            assert!((BATCH_BYTES..BATCH_BYTES + 400).contains(&written), "{written}");
            assert_eq!(sink.text().lines().count(), lines);
            drop(flush);
            access("/after");
            assert!(sink.text().contains("path=\"/after\""));
        });
    }
}
