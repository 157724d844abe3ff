//! The library as a guest in its host process: failure events and warnings go to
//! a callback the host registers (`jwtauth_set_event_callback`), and to the daily
//! failure log files only when `log.dir` is configured. Nothing is printed to
//! stderr unless `RUST_LOG` asks for it.
//!
//! Events travel through `tracing`: the first handle opened (or the first callback
//! registered) installs a process-wide subscriber, unless the process already has
//! one (a Rust host with its own subscriber adds `jwtauth_core::audit::file_layer`).

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::sync::{Once, OnceLock, RwLock};

use jwtauth_core::audit::LogConfig;
use jwtauth_core::audit::{self, FailureLogGuard, FailureRecord, FailureSink};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_appender::non_blocking::NonBlocking;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::boundary::entry;
use crate::fork::{Process, keep};
use crate::status::{Failure, jwtauth_status};

/// What an event handed to the callback is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum jwtauth_event_kind {
    /// An authentication failure: the JSON is exactly a line of the failure log
    /// (`time`, `reason`, `hint`, `kid`, `subject`, `subject_verified`,
    /// `fingerprint`, `client`, `method`, `path`, `user_agent`, `request_id`,
    /// `client_id`, `issuer`; absent members are omitted).
    Failure = 1,
    /// A warning or error of the library (e.g. signing keys stored unencrypted, a
    /// background reload that failed): `{"time":…,"level":"WARN","target":…,"message":…}`.
    Warning = 2,
}

/// Receives each event: `kind`, then `json` (`len` bytes, NUL-terminated, valid only
/// during the call: copy it to keep it) and the `user_data` given at registration.
///
/// It is called on the thread of the call that caused the event, so from any
/// thread, possibly several at once: it must be thread-safe, return quickly, not
/// unwind (no C++ exception, no longjmp) and not call `jwtauth_set_event_callback`.
/// Events caused by jwtauth calls it makes itself are dropped. Never a secret or a
/// whole token in it.
pub type jwtauth_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, kind: jwtauth_event_kind, json: *const c_char, len: usize)>;

/// The host's callback and its `user_data` (an address, so the pair is `Send`).
struct Callback {
    f: unsafe extern "C" fn(*mut c_void, jwtauth_event_kind, *const c_char, usize),
    user_data: usize,
}

static CALLBACK: RwLock<Option<Callback>> = RwLock::new(None);

/// The failure log files, when a handle's configuration set `log.dir`.
static FILE: RwLock<Option<FileLog>> = RwLock::new(None);

/// The failure log files of one process. Their writer thread does not survive
/// `fork()`: a child opens its own (see `configure`).
struct FileLog {
    writer: FailureSink<NonBlocking>,
    /// Stops the writer thread, flushing it (at exit); `None` once stopped.
    #[cfg_attr(any(not(unix), test), allow(dead_code, reason = "taken only by the exit handler"))]
    guard: Option<FailureLogGuard>,
    config: LogConfig,
    opened_by: Process,
}

thread_local! {
    /// Set while this thread runs the host's callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Registers the function that receives every failure event and warning of the
/// library, in this process (all handles), from now on; NULL unregisters it. When
/// this returns, no call of the previous callback is still running, so its
/// `user_data` may be freed.
///
/// Without a callback and without `log.dir` events are dropped: the library writes
/// no file and nothing to stderr (set `RUST_LOG`, e.g. `RUST_LOG=warn`, to print
/// warnings to stderr). With `log.dir` the failure log files are written as well.
///
/// Errors: `INVALID_ARGUMENT` when called from inside the callback itself.
/// `CONFIG` when the process already has a `tracing` subscriber of its own (a Rust
/// host): route `jwtauth_core`'s events there instead.
///
/// # Safety
/// `callback` is NULL or a function as `jwtauth_event_callback` describes, callable
/// with `user_data` from any thread until it is replaced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_set_event_callback(
    callback: jwtauth_event_callback,
    user_data: *mut c_void,
) -> jwtauth_status {
    entry!({
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure::invalid(
                "jwtauth_set_event_callback was called from inside the event callback",
            ));
        }
        if !install_subscriber() {
            return Err(Failure::new(
                jwtauth_status::Config,
                "the process already has a tracing subscriber of its own: events go there",
            ));
        }
        let next = callback.map(|f| Callback {
            f,
            user_data: user_data as usize,
        });
        *CALLBACK.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    })
}

/// Sets up event delivery for a handle's configuration: installs the subscriber
/// once and opens the failure log files if `log.dir` is configured (first such
/// handle wins; the files are one per process). In a child after `fork()`, whose
/// parent had opened them, it opens them again for the child, with the parent's
/// settings: the parent's writer thread is not there to write the child's lines.
pub(crate) fn configure(log: &LogConfig) -> Result<(), Failure> {
    if !install_subscriber() {
        return Ok(());
    }
    let mut file = FILE.write().unwrap_or_else(|p| p.into_inner());
    let config = match file.as_ref() {
        Some(f) if f.opened_by.is_current() => return Ok(()),
        Some(inherited) => inherited.config.clone(),
        None if log.dir_configured => log.clone(),
        None => return Ok(()),
    };
    let opened_by = Process::current();
    let (writer, guard) = audit::file_sink(&config)?;
    let first = file.is_none();
    let before = file.replace(FileLog {
        writer,
        guard: Some(guard),
        config,
        opened_by,
    });
    // The parent's writer would wait for its thread at exit: kept, never dropped.
    if let Some(inherited) = before {
        keep(inherited);
    }
    if first {
        stop_file_log_at_exit();
    }
    Ok(())
}

/// Appends one failure to the files of this process, if it has them, within the
/// log's flood limits. A failing log sink must not fail authentication: best effort.
fn write_record(record: &FailureRecord) {
    let file = FILE.read().unwrap_or_else(|p| p.into_inner());
    // An inherited writer has no thread to drain it here: it would fill up and block.
    if let Some(f) = file.as_ref().filter(|f| f.opened_by.is_current()) {
        f.writer.write(record);
    }
}

/// Installs the process-wide subscriber the first time; true when it is ours (now
/// or from before), false when the host had its own.
fn install_subscriber() -> bool {
    static INSTALL: Once = Once::new();
    static OURS: OnceLock<bool> = OnceLock::new();
    INSTALL.call_once(|| {
        use tracing_subscriber::prelude::*;
        let host = HostLayer.with_filter(tracing_subscriber::filter::filter_fn(wanted));
        // stderr only when asked for: RUST_LOG set.
        let stderr = std::env::var_os("RUST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_filter(tracing_subscriber::filter::filter_fn(|m| m.target() != audit::TARGET))
        });
        let ours = !tracing::dispatcher::has_been_set()
            && tracing_subscriber::registry()
                .with(host)
                .with(stderr)
                .try_init()
                .is_ok();
        let _ = OURS.set(ours);
    });
    OURS.get().copied().unwrap_or(false)
}

/// The events the host hears about: failures, and the library's warnings and errors.
/// Not spans; but `tracing::enabled!` asks with a callsite that is neither span nor
/// event (the core asks before it builds a failure record), so "not a span" it is.
fn wanted(m: &Metadata<'_>) -> bool {
    !m.is_span() && (m.target() == audit::TARGET || (*m.level() <= Level::WARN && m.target().starts_with("jwtauth")))
}

/// Turns events into JSON for the failure log files and the host's callback.
struct HostLayer;

impl<S: Subscriber> Layer<S> for HostLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let failure = event.metadata().target() == audit::TARGET;
        let json = if failure {
            let record = FailureRecord::from_event(event);
            write_record(&record);
            serde_json::to_string(&record)
        } else {
            warning_json(event)
        };
        let Ok(json) = json else { return };
        let kind = if failure {
            jwtauth_event_kind::Failure
        } else {
            jwtauth_event_kind::Warning
        };
        deliver(kind, json);
    }
}

/// Calls the host's callback, if any, unless this thread is already inside it.
fn deliver(kind: jwtauth_event_kind, json: String) {
    if IN_CALLBACK.with(Cell::get) {
        return;
    }
    let callback = CALLBACK.read().unwrap_or_else(|p| p.into_inner());
    let Some(cb) = callback.as_ref() else { return };
    let Ok(text) = CString::new(json) else { return };
    IN_CALLBACK.with(|c| c.set(true));
    // SAFETY: the host registered `f` for exactly this call with this `user_data`;
    // `text` lives until after the call.
    unsafe { (cb.f)(cb.user_data as *mut c_void, kind, text.as_ptr(), text.as_bytes().len()) };
    IN_CALLBACK.with(|c| c.set(false));
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}

fn warning_json(event: &Event<'_>) -> serde_json::Result<String> {
    let mut message = Message::default();
    event.record(&mut message);
    let m = event.metadata();
    serde_json::to_string(&serde_json::json!({
        "time": audit::now_rfc3339(),
        "level": m.level().as_str(),
        "target": m.target(),
        "message": message.0,
    }))
}

/// Flushes and stops the failure log writer when the process exits (or the library
/// is unloaded), so no line is lost and its thread ends: `__cxa_atexit` with this
/// object's `__dso_handle`, as C++ static destructors do.
#[cfg(all(unix, not(test)))]
fn stop_file_log_at_exit() {
    use std::ffi::c_int;
    unsafe extern "C" {
        fn __cxa_atexit(f: unsafe extern "C" fn(*mut c_void), arg: *mut c_void, dso: *mut c_void) -> c_int;
        static __dso_handle: c_void;
    }
    unsafe extern "C" fn stop(_: *mut c_void) {
        let _ = std::panic::catch_unwind(|| {
            let mut file = FILE.write().unwrap_or_else(|p| p.into_inner());
            // Only this process's writer: an inherited one is kept (see `configure`).
            let guard = file
                .as_mut()
                .filter(|f| f.opened_by.is_current())
                .and_then(|f| f.guard.take());
            drop(file);
            drop(guard);
        });
    }
    // SAFETY: `stop` is a valid function for the lifetime of this object, which
    // `__dso_handle` identifies; it touches only a static and never unwinds.
    unsafe {
        __cxa_atexit(stop, std::ptr::null_mut(), (&raw const __dso_handle).cast_mut());
    }
}

/// Rust test binaries end without running exit handlers in a useful order; the
/// writer's thread simply ends with the process.
#[cfg(any(not(unix), test))]
fn stop_file_log_at_exit() {}
