//! The life of a handle: what a `jwtauth *` points to, how every call takes its
//! own reference to the runtime (so `jwtauth_close` can run while calls are in
//! flight), the shell that outlives the close (so a late call or a second close
//! finds a closed handle, not freed memory), and the runtime made afresh in a
//! child after `fork()`.

use std::mem::ManuallyDrop;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use jwtauth_core::{Config, JwtAuth};

use crate::boundary::{Out, entry, ref_arg};
use crate::error::{entry_ex, jwtauth_error};
use crate::fork::{Process, keep};
use crate::status::{Failure, jwtauth_status};

/// An open jwtauth runtime: configuration, the store (`store.url`: SQLite file or
/// PostgreSQL) with sessions and signing keys, and a background thread that keeps
/// the key ring and revocations fresh.
///
/// Ownership: made by `jwtauth_open` or `jwtauth_open_json`, closed by
/// `jwtauth_close`; objects it hands out (claims, tokens, strings) do not borrow
/// from it and may outlive it. The handle is reference-counted inside: each call
/// holds the runtime while it runs, and `jwtauth_close` drops the library's
/// reference, so the runtime ends when the last call in flight returns. The
/// handle's own few bytes are never freed (a tombstone): after `jwtauth_close`
/// the pointer stays valid memory, every call on it returns
/// `JWTAUTH_STATUS_CLOSED` and a second `jwtauth_close` does nothing. So each
/// `jwtauth_open` costs those bytes for the life of the process: open handles at
/// start-up, not per request.
///
/// Thread safety: every function, `jwtauth_close` included, may be called from any
/// number of threads at once on the same handle.
///
/// fork(): a child process may keep using a handle its parent opened. Its first
/// call (or `jwtauth_reopen`) opens the store afresh and starts the background
/// thread in the child; the parent's connections and threads are left untouched
/// (see "Handles, close and fork()" at the top of this header).
pub struct jwtauth {
    /// The runtime; `None` once closed.
    runtime: ArcSwapOption<Runtime>,
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<jwtauth>();
};

/// A runtime and the process it belongs to.
pub(crate) struct Runtime {
    /// Dropped only in the process that opened it (see `Drop`).
    pub auth: ManuallyDrop<JwtAuth>,
    pub roles_claim: Arc<str>,
    opened_by: Process,
}

impl Runtime {
    /// Opens a runtime for the calling process, setting up event delivery first.
    pub fn open(config: Config) -> Result<Runtime, Failure> {
        let opened_by = Process::current();
        crate::events::configure(config.log())?;
        let roles_claim: Arc<str> = config.roles_claim().into();
        let auth = ManuallyDrop::new(JwtAuth::open(config)?);
        Ok(Runtime {
            auth,
            roles_claim,
            opened_by,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Inherited runtimes are kept, never dropped; should one get here anyway,
        // leaking it is still right: dropping would join the parent's background
        // thread (absent here: it would hang) and close the parent's connections.
        if self.opened_by.is_current() {
            // SAFETY: dropped once, here, and not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.auth) };
        }
    }
}

/// Hands a runtime the library no longer uses to its end: dropped (once the
/// calls still holding it return) in the process that opened it, kept untouched
/// in any other.
fn retire(runtime: Arc<Runtime>) {
    if runtime.opened_by.is_current() {
        drop(runtime);
    } else {
        keep(runtime);
    }
}

fn closed() -> Failure {
    Failure::new(
        jwtauth_status::Closed,
        "this handle was closed with jwtauth_close; open a new one with jwtauth_open",
    )
}

impl crate::boundary::Object for jwtauth {
    type InUse<'a> = Arc<Runtime>;

    /// The runtime of this process, held for the call: `CLOSED` once closed; in a
    /// child after `fork()`, opened afresh first.
    fn in_use(&self) -> Result<Arc<Runtime>, Failure> {
        let inherited = match self.runtime.load_full() {
            None => return Err(closed()),
            Some(rt) if rt.opened_by.is_current() => return Ok(rt),
            Some(rt) => rt,
        };
        let pid = inherited.opened_by.pid;
        let fresh = Runtime::open(inherited.auth.config().clone()).map_err(|f| {
            Failure::new(
                f.status,
                format!(
                    "this handle was opened in process {pid} before fork(); opening it again in this process failed: {}",
                    f.hint
                ),
            )
        })?;
        let fresh = Arc::new(fresh);
        // No lock: a child must never wait on a lock a thread of its parent held.
        // Threads of the child racing here each open one; the first to swap wins.
        let before = self
            .runtime
            .compare_and_swap(&Some(inherited.clone()), Some(fresh.clone()));
        match &*before {
            Some(rt) if Arc::ptr_eq(rt, &inherited) => {
                keep(inherited);
                Ok(fresh)
            }
            Some(rt) if rt.opened_by.is_current() => Ok(rt.clone()),
            // Closed meanwhile (or swapped by a process this one forked from).
            _ => Err(closed()),
        }
    }
}

impl jwtauth {
    /// Marks the handle closed and drops the library's reference to the runtime;
    /// true the first time. The shell itself is kept: see the type's doc comment.
    fn close(&'static self) -> bool {
        match self.runtime.swap(None) {
            Some(rt) => {
                retire(rt);
                keep(self);
                true
            }
            None => false,
        }
    }
}

/// Closes a handle: later calls on it return `JWTAUTH_STATUS_CLOSED`. Calls
/// running on other threads meanwhile finish normally; the runtime (store
/// connections, background thread, key ring) is freed when the last of them
/// returns. Closing again, or closing NULL, does nothing. Claims, tokens and
/// strings the handle handed out stay valid until freed.
///
/// What can be detected: any call on a handle `jwtauth_open` returned, however
/// long after its close, because its memory is never freed. What cannot: a
/// pointer that never was a handle. In a child after `fork()` the parent's runtime
/// is left untouched (kept, not freed).
///
/// # Safety
/// `handle` is NULL or a handle from `jwtauth_open*`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_close(handle: *mut jwtauth) {
    crate::boundary::entry_void!({
        // SAFETY: a handle from `handle_out`, whose memory is never freed.
        if let Some(shell) = unsafe { handle.cast_const().as_ref() } {
            shell.close();
        }
    });
}

/// Makes the handle ready in this process. In a child after `fork()`, opens the
/// store afresh and starts the background thread that keeps revocations and keys
/// fresh, as the first call on the handle in the child otherwise does by itself:
/// call it in a post-fork hook (gunicorn's `post_fork`, uWSGI's `@postfork`) to
/// pay that cost and see its errors before serving. In the process that opened
/// the handle it does nothing.
///
/// Errors: `CLOSED`, `INVALID_ARGUMENT` (NULL handle), `STORE` or `CONFIG` (the
/// store or the failure log cannot be opened in this process; the hint names the
/// process that opened the handle). After a failure the next call tries again.
///
/// # Safety
/// `handle` is a handle from `jwtauth_open*` (or NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_reopen(handle: *const jwtauth) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { reopen(handle) }
    })
}

/// Like `jwtauth_reopen`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_reopen`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_reopen_ex(handle: *const jwtauth, err: *mut *mut jwtauth_error) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || reopen(handle)) }
}

/// The body of `jwtauth_reopen` and `jwtauth_reopen_ex`.
///
/// # Safety
/// As for `jwtauth_reopen`.
unsafe fn reopen(handle: *const jwtauth) -> Result<(), Failure> {
    // SAFETY: the caller's contract above. Taking the runtime is the reopening.
    unsafe { ref_arg(handle, "handle") }.map(drop)
}

/// Writes a new handle, for C, to `out`.
pub(crate) fn handle_out(out: Out<*mut jwtauth>, runtime: Runtime) {
    out.set(Box::into_raw(Box::new(jwtauth {
        runtime: ArcSwapOption::from_pointee(runtime),
    })));
}
