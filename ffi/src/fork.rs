//! Which process owns what: a runtime or a failure log writer belongs to the
//! process that made it. A child made by `fork()` inherits a copy of its memory but
//! none of its threads (the background maintenance, the log writer), and SQLite
//! forbids using a connection from a process other than the one that opened it. So
//! the child must neither use nor drop what it inherited: it makes its own and
//! [`keep`]s the parent's, untouched, for as long as it lives.

use std::any::Any;
use std::ffi::c_int;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// A process, as this library tells one from another: how many `fork()`s the
/// library has seen in its line, counted by a `pthread_atfork` child handler, so
/// that telling whether a handle belongs to the calling process (on every call)
/// is one atomic load, not a `getpid()` system call. The count also tells apart a
/// child whose pid happens to equal the opener's (recycled after it exited). The
/// pid is kept for messages only.
///
/// Not seen: a child made without running fork handlers (a raw `clone()` system
/// call rather than `fork()`), which must not call the library before `exec`;
/// `fork()`, `posix_spawn`, `vfork` + `exec` and every language runtime's fork
/// (Python's `os.fork`, gunicorn, uWSGI) are fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    pub pid: u32,
    forks: u64,
}

/// Incremented in every child, right after `fork()`, by [`forked`].
static FORKS: AtomicU64 = AtomicU64::new(0);

/// The `pthread_atfork` child handler: one atomic add, async-signal-safe.
extern "C" fn forked() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

impl Process {
    /// The calling process. The first call registers the fork handler, so call it
    /// before making anything that must be told apart after a fork.
    pub fn current() -> Process {
        static WATCH: Once = Once::new();
        WATCH.call_once(|| {
            // Declared here, not at the top level, so cbindgen leaves it out of the header.
            unsafe extern "C" {
                fn pthread_atfork(
                    prepare: Option<extern "C" fn()>,
                    parent: Option<extern "C" fn()>,
                    child: Option<extern "C" fn()>,
                ) -> c_int;
            }
            // SAFETY: `forked` is a plain function that lives as long as the library
            // (glibc drops the handlers of an unloaded library).
            unsafe { pthread_atfork(None, None, Some(forked)) };
        });
        Process {
            pid: std::process::id(),
            forks: FORKS.load(Ordering::Relaxed),
        }
    }

    /// Whether this is the calling process. `self` came from [`Process::current`],
    /// so the fork handler is registered.
    pub fn is_current(self) -> bool {
        self.forks == FORKS.load(Ordering::Relaxed)
    }
}

/// One value kept for the life of the process.
struct Kept {
    _value: Box<dyn Any + Send + Sync>,
    next: *mut Kept,
}

/// The values kept, a list that only grows: pushed without a lock, so a child can
/// never find it locked by a thread of its parent.
static KEPT: AtomicPtr<Kept> = AtomicPtr::new(ptr::null_mut());

/// Keeps `value` alive, never dropped, until the process ends: what a child
/// inherited from its parent (dropping it would join the parent's threads, which
/// do not exist here, or close the parent's connections), and closed handles'
/// shells. It stays reachable from a static, so leak checkers see it as kept, not lost.
pub(crate) fn keep(value: impl Any + Send + Sync) {
    let node = Box::into_raw(Box::new(Kept {
        _value: Box::new(value),
        next: ptr::null_mut(),
    }));
    let mut head = KEPT.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until it is published by the exchange below.
        unsafe { (*node).next = head };
        match KEPT.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_current_and_a_forked_one_is_not() {
        let here = Process::current();
        assert!(here.is_current());
        let after_fork = Process {
            forks: here.forks + 1,
            ..here
        };
        assert!(!after_fork.is_current(), "a recycled pid is still another process");
    }

    #[test]
    fn kept_values_are_never_dropped() {
        struct Loud(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Loud {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = dropped.clone();
                std::thread::spawn(move || (0..100).for_each(|_| keep(Loud(d.clone()))))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert!(!dropped.load(Ordering::SeqCst));
        let mut n = 0;
        let mut p = KEPT.load(Ordering::Acquire);
        while !p.is_null() {
            n += 1;
            // SAFETY: published nodes are never freed.
            p = unsafe { (*p).next };
        }
        assert!(n >= 400, "{n}");
    }
}
