//! `jwtauth_error`: the details of one failed call, handed back with the call
//! itself (the `_ex` functions) so that no binding has to read per-thread state.
//!
//! Runtimes that move work between OS threads (Go's goroutines, .NET `async`,
//! Node's worker pool) cannot use `jwtauth_last_error`: by the time it is read the
//! code may run on another thread, or another call may have replaced the hint.
//! An error object belongs to the caller that received it, so it cannot mix.

use std::ffi::{CString, c_char};

use crate::boundary::entry_void;
use crate::status::{Failure, jwtauth_status};

/// Why one call failed: its status, the reason's name and a hint for humans.
///
/// Ownership: made by an `_ex` function that failed, written to its `err`
/// out-parameter, and freed once by the caller with `jwtauth_error_free`. The
/// strings its accessors return are owned by the error and live until it is freed.
///
/// Thread safety: immutable; any thread may read or free it (not while another reads).
pub struct jwtauth_error {
    status: jwtauth_status,
    hint: CString,
}

impl jwtauth_error {
    pub(crate) fn boxed(f: Failure) -> *mut jwtauth_error {
        let hint = CString::new(f.hint.replace('\0', "?")).unwrap_or_default();
        Box::into_raw(Box::new(jwtauth_error { status: f.status, hint }))
    }
}

/// The status of a failed call (never `JWTAUTH_STATUS_OK`); `INVALID_ARGUMENT`
/// for NULL.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_error_status(err: *const jwtauth_error) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { err.as_ref() }.map_or(jwtauth_status::InvalidArgument, |e| e.status)
}

/// The snake_case name of the status ("expired", "invalid_argument"…), as
/// `jwtauth_status_str` gives it: a static string. "invalid_argument" for NULL.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_error_reason(err: *const jwtauth_error) -> *const c_char {
    // SAFETY: the caller's contract above.
    let status = unsafe { jwtauth_error_status(err) };
    status.name().as_ptr()
}

/// The hint for humans, e.g. "token expired 42 s ago (exp 1795870000, leeway 30 s)";
/// never a secret or a whole token. Owned by `err`; "" for NULL.
///
/// # Safety
/// `err` is NULL or a live error from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_error_hint(err: *const jwtauth_error) -> *const c_char {
    // SAFETY: the caller's contract above.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |e| e.hint.as_ptr())
}

/// Frees an error. NULL is a no-op.
///
/// # Safety
/// `err` is NULL or an error from this library not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_error_free(err: *mut jwtauth_error) {
    entry_void!({
        if !err.is_null() {
            // SAFETY: made by Box::into_raw in `jwtauth_error::boxed`, freed only here.
            drop(unsafe { Box::from_raw(err) });
        }
    });
}

/// The boundary of an `_ex` function: sets `*err` to NULL, runs `body` behind a
/// panic guard and, when it fails, hands the failure to the caller through `err`
/// (when not NULL) instead of the thread-local slot, which it leaves alone.
///
/// # Safety
/// `err` is NULL or valid for writing a pointer.
pub(crate) unsafe fn entry_ex(
    err: *mut *mut jwtauth_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> jwtauth_status {
    if !err.is_null() {
        // SAFETY: the caller's contract: valid for writes.
        unsafe { err.write(std::ptr::null_mut()) };
    }
    let failure = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => return jwtauth_status::Ok,
        Ok(Err(failure)) => failure,
        Err(_) => Failure::panicked(),
    };
    let status = failure.status;
    if !err.is_null() {
        // SAFETY: as above.
        unsafe { err.write(jwtauth_error::boxed(failure)) };
    }
    status
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn a_failure_reaches_err_and_not_the_thread_slot() {
        crate::status::clear_last_error();
        let mut err: *mut jwtauth_error = std::ptr::dangling_mut();
        // SAFETY: `err` is a valid out-parameter; the error is read and freed once.
        unsafe {
            let status = entry_ex(&raw mut err, || Err(Failure::invalid("subject is NULL")));
            assert_eq!(status, jwtauth_status::InvalidArgument);
            assert_eq!(jwtauth_error_status(err), jwtauth_status::InvalidArgument);
            assert_eq!(
                CStr::from_ptr(jwtauth_error_reason(err)).to_bytes(),
                b"invalid_argument"
            );
            assert_eq!(CStr::from_ptr(jwtauth_error_hint(err)).to_bytes(), b"subject is NULL");
            assert_eq!(CStr::from_ptr(crate::status::last_error_ptr()).to_bytes(), b"");
            jwtauth_error_free(err);
            // Success writes NULL, so a caller may free unconditionally.
            assert_eq!(entry_ex(&raw mut err, || Ok(())), jwtauth_status::Ok);
            assert!(err.is_null());
            // No `err`: the status alone.
            let status = entry_ex(std::ptr::null_mut(), || Err(Failure::invalid("x")));
            assert_eq!(status, jwtauth_status::InvalidArgument);
            assert_eq!(jwtauth_error_status(std::ptr::null()), jwtauth_status::InvalidArgument);
            assert_eq!(CStr::from_ptr(jwtauth_error_hint(std::ptr::null())).to_bytes(), b"");
        }
    }

    #[test]
    #[allow(clippy::panic)]
    fn a_panic_becomes_an_internal_error_object() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let mut err: *mut jwtauth_error = std::ptr::null_mut();
        // SAFETY: as above.
        let status = unsafe { entry_ex(&raw mut err, || panic!("boom")) };
        std::panic::set_hook(hook);
        assert_eq!(status, jwtauth_status::Internal);
        // SAFETY: as above.
        unsafe {
            assert!(
                CStr::from_ptr(jwtauth_error_hint(err))
                    .to_str()
                    .unwrap()
                    .contains("panic")
            );
            jwtauth_error_free(err);
        }
    }
}
