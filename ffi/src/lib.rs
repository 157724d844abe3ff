//! The C ABI of jwtauth: `libjwtauth.so` / `libjwtauth.a` and `include/jwtauth.h`.
//!
//! A translation layer only: every rule about tokens, keys and sessions lives in
//! `jwtauth-core`. Here C arguments are checked (NULL, UTF-8, lengths) and turned
//! into Rust values, core results into out-parameters and core errors into a
//! `jwtauth_status` plus the details (a `jwtauth_error` for the `_ex` functions, a
//! thread-local hint for the others), and every entry point is a panic boundary.
//! Events reach the host through a callback (`events`). The conventions follow
//! rustls-ffi.

#![allow(non_camel_case_types)]

mod boundary;
mod claims;
mod error;
mod events;
mod fork;
mod handle;
mod lifecycle;
mod sessions;
mod status;
mod tokens;
mod validate;

use std::ffi::{CString, c_char};

pub use crate::claims::*;
pub use crate::error::*;
pub use crate::events::*;
pub use crate::handle::*;
pub use crate::lifecycle::*;
pub use crate::sessions::*;
pub use crate::status::jwtauth_status;
pub use crate::tokens::*;
pub use crate::validate::*;

/// The library version ("MAJOR.MINOR.PATCH"), a static string (never free it).
/// The ABI is stable within a major version (see the note at the top of this header).
#[unsafe(no_mangle)]
pub extern "C" fn jwtauth_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The snake_case name of a status ("ok", "expired", "invalid_argument"…), the
/// same names the failure log and the HTTP API use; "unknown" for a number no
/// status has. A static string (never free it).
#[unsafe(no_mangle)]
pub extern "C" fn jwtauth_status_str(status: u32) -> *const c_char {
    let name = std::panic::catch_unwind(|| jwtauth_status::from_code(status).map(jwtauth_status::name));
    name.ok().flatten().unwrap_or(c"unknown").as_ptr()
}

/// The hint for humans left by the last call on this thread that failed ("" after
/// a call that succeeded): e.g. "token expired 42 s ago (exp 1795870000, leeway 30 s)".
/// It never contains a secret or a whole token.
///
/// The string belongs to the library and stays valid until the next jwtauth call
/// on the same thread: copy it to keep it. Each thread has its own, so it is safe
/// only where the failing call and this read surely run on one OS thread with no
/// jwtauth call between them (C, C++, Rust, Python). From Go, .NET async code or
/// Node use the `_ex` functions, which return each call's own `jwtauth_error`.
#[unsafe(no_mangle)]
pub extern "C" fn jwtauth_last_error() -> *const c_char {
    std::panic::catch_unwind(status::last_error_ptr).unwrap_or(c"".as_ptr())
}

/// Frees a string this library returned as `char *` (JWKS, JSON, kid…). NULL is
/// a no-op. Never pass a `const char *` the library returned (those are owned by
/// their object) nor memory from elsewhere.
///
/// # Safety
/// `s` is NULL or a `char *` from this library not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_string_free(s: *mut c_char) {
    boundary::entry_void!({
        if !s.is_null() {
            // SAFETY: made by CString::into_raw in this library, freed only here.
            drop(unsafe { CString::from_raw(s) });
        }
    });
}
