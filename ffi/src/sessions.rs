//! Sessions and keys through the store: login, refresh with rotation and reuse
//! detection, logout, logout everywhere, key rotation.

use std::ffi::c_char;

use jwtauth_core::Algorithm;

use crate::boundary::{Out, entry, opt_str_arg, owned_c_string, ref_arg, str_arg};
use crate::error::{entry_ex, jwtauth_error};
use crate::handle::{IssueArgs, jwtauth, jwtauth_request};
use crate::status::{Failure, jwtauth_status};
use crate::tokens::jwtauth_tokens;

/// Starts a session (a login, after the application checked the credentials): an
/// access token and the first refresh token of a new session, stored in the store.
/// Roles and extra claims are kept with the session and carried into every access
/// token that `jwtauth_refresh` issues.
///
/// Arguments as for `jwtauth_issue`. On success `*out` receives tokens with a
/// refresh token, to free with `jwtauth_tokens_free`.
/// Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument, empty subject, extra
/// claims not an object or reserved), `STORE`, `INTERNAL`.
///
/// # Safety
/// `handle` is a live handle; strings are NULL or NUL-terminated; `roles` holds
/// `roles_len` pointers; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_session_start(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { session_start(handle, subject, roles, roles_len, extra_json, out) }
    })
}

/// Like `jwtauth_session_start`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_session_start`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_session_start_ex(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        entry_ex(err, || {
            session_start(handle, subject, roles, roles_len, extra_json, out)
        })
    }
}

/// The body of `jwtauth_session_start` and `jwtauth_session_start_ex`.
///
/// # Safety
/// As for `jwtauth_session_start`.
unsafe fn session_start(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let a = unsafe { IssueArgs::read(handle, subject, roles, roles_len, extra_json, out) }?;
    let pair = a.handle.auth.sessions().start(a.subject, &a.roles, &a.extra)?;
    a.out.set(jwtauth_tokens::pair(&pair)?);
    Ok(())
}

/// Spends a refresh token and returns a new access token and a new refresh token
/// (rotation: the one given is spent). Presenting a spent refresh token again
/// revokes its whole session. Every failure is recorded in the failure log.
///
/// `request`: NULL, or context for the failure log.
/// On success `*out` receives tokens to free with `jwtauth_tokens_free`.
/// Errors: `REFRESH_INVALID` (unknown token), `REFRESH_EXPIRED` (idle or absolute
/// lifetime over: log in again), `REFRESH_REUSED` (a spent token: the session is
/// now revoked), `REVOKED` (the session was logged out), `INVALID_ARGUMENT`,
/// `STORE`.
///
/// # Safety
/// `handle` is a live handle; `refresh_token` is NULL or NUL-terminated; `request`
/// is NULL or valid; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_refresh(
    handle: *const jwtauth,
    refresh_token: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_tokens,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { refresh(handle, refresh_token, request, out) }
    })
}

/// Like `jwtauth_refresh`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_refresh`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_refresh_ex(
    handle: *const jwtauth,
    refresh_token: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_tokens,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || refresh(handle, refresh_token, request, out)) }
}

/// The body of `jwtauth_refresh` and `jwtauth_refresh_ex`.
///
/// # Safety
/// As for `jwtauth_refresh`.
unsafe fn refresh(
    handle: *const jwtauth,
    refresh_token: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_tokens,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, token, request, out) = unsafe {
        (
            ref_arg(handle, "handle")?,
            str_arg(refresh_token, "refresh_token")?,
            jwtauth_request::read(request)?,
            Out::new(out, "out")?,
        )
    };
    let pair = h.auth.sessions().refresh(token, &request)?;
    out.set(jwtauth_tokens::pair(&pair)?);
    Ok(())
}

/// Logout: revokes the session of `refresh_token`: its refresh tokens stop working,
/// and access tokens issued for it (their `sid` claim names the session) fail with
/// `REVOKED` (in this process at once, in other processes sharing the store within
/// `revocation_staleness`). Revoking twice is fine.
///
/// `known`: NULL, or receives whether the token belonged to a session.
/// Errors: `INVALID_ARGUMENT`, `STORE`.
///
/// # Safety
/// `handle` is a live handle; `refresh_token` is NULL or NUL-terminated; `known` is
/// NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_revoke(
    handle: *const jwtauth,
    refresh_token: *const c_char,
    known: *mut bool,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { revoke(handle, refresh_token, known) }
    })
}

/// Like `jwtauth_revoke`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_revoke`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_revoke_ex(
    handle: *const jwtauth,
    refresh_token: *const c_char,
    known: *mut bool,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || revoke(handle, refresh_token, known)) }
}

/// The body of `jwtauth_revoke` and `jwtauth_revoke_ex`.
///
/// # Safety
/// As for `jwtauth_revoke`.
unsafe fn revoke(handle: *const jwtauth, refresh_token: *const c_char, known: *mut bool) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, token) = unsafe { (ref_arg(handle, "handle")?, str_arg(refresh_token, "refresh_token")?) };
    // SAFETY: `known` is optional; when given it is valid for writing.
    let known = unsafe { Out::new(known, "known") }.ok();
    let was_known = h.auth.sessions().revoke(token)?;
    if let Some(out) = known {
        out.set(was_known);
    }
    Ok(())
}

/// Logout everywhere: revokes every session of `subject`, and access tokens issued
/// to it up to now fail with `REVOKED` (in this process at once, in other processes
/// sharing the store within `revocation_staleness`).
///
/// `revoked`: NULL, or receives how many sessions were revoked.
/// Errors: `INVALID_ARGUMENT`, `STORE`.
///
/// # Safety
/// `handle` is a live handle; `subject` is NULL or NUL-terminated; `revoked` is
/// NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_revoke_subject(
    handle: *const jwtauth,
    subject: *const c_char,
    revoked: *mut u64,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { revoke_subject(handle, subject, revoked) }
    })
}

/// Like `jwtauth_revoke_subject`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_revoke_subject`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_revoke_subject_ex(
    handle: *const jwtauth,
    subject: *const c_char,
    revoked: *mut u64,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || revoke_subject(handle, subject, revoked)) }
}

/// The body of `jwtauth_revoke_subject` and `jwtauth_revoke_subject_ex`.
///
/// # Safety
/// As for `jwtauth_revoke_subject`.
unsafe fn revoke_subject(handle: *const jwtauth, subject: *const c_char, revoked: *mut u64) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, subject) = unsafe { (ref_arg(handle, "handle")?, str_arg(subject, "subject")?) };
    // SAFETY: `revoked` is optional; when given it is valid for writing.
    let revoked = unsafe { Out::new(revoked, "revoked") }.ok();
    let n = h.auth.sessions().revoke_subject(subject)?;
    if let Some(out) = revoked {
        out.set(n);
    }
    Ok(())
}

/// Rotates the signing key the planned way: a new key (of `algorithm`, e.g.
/// "ES256", or the configured one when NULL) is in the JWKS (`jwtauth_jwks`) at
/// once and starts signing `key_publish_ahead` (default 10 minutes) after this
/// call. Until that instant tokens are still signed by the current key, so relying
/// parties that cache the JWKS have fetched the new key before any token carries
/// it. At that instant, which is stored, every process sharing the store switches
/// to it without a reload, and the previous key keeps verifying until its tokens
/// have expired. A key made by an earlier call that has not started signing yet is
/// replaced. With `key_publish_ahead = 0` this is `jwtauth_rotate_key_now`.
///
/// On success `*kid_out` receives the new key id, to free with `jwtauth_string_free`.
/// Errors: `INVALID_ARGUMENT` (unknown algorithm name, an HS algorithm, NULL
/// `kid_out`), `STORE`, `INTERNAL`.
///
/// # Safety
/// `handle` is a live handle; `algorithm` is NULL or NUL-terminated; `kid_out` is
/// valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_rotate_key(
    handle: *const jwtauth,
    algorithm: *const c_char,
    kid_out: *mut *mut c_char,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { rotate_key(handle, algorithm, kid_out, Rotation::Published) }
    })
}

/// Like `jwtauth_rotate_key`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_rotate_key`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_rotate_key_ex(
    handle: *const jwtauth,
    algorithm: *const c_char,
    kid_out: *mut *mut c_char,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || rotate_key(handle, algorithm, kid_out, Rotation::Published)) }
}

/// Rotates the signing key in an emergency (the active key leaked): the new key
/// (of `algorithm`, or the configured one when NULL) signs from this call on, and
/// the previous one becomes verify-only until its tokens have expired. Relying
/// parties that cached the JWKS refuse the new key's tokens (unknown kid) until
/// they fetch it again, and other processes sharing the store sign with it from
/// their next reload; prefer `jwtauth_rotate_key` for a planned rotation.
///
/// Arguments, result and errors as for `jwtauth_rotate_key`.
///
/// # Safety
/// As for `jwtauth_rotate_key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_rotate_key_now(
    handle: *const jwtauth,
    algorithm: *const c_char,
    kid_out: *mut *mut c_char,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { rotate_key(handle, algorithm, kid_out, Rotation::Now) }
    })
}

/// Like `jwtauth_rotate_key_now`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_rotate_key_now`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_rotate_key_now_ex(
    handle: *const jwtauth,
    algorithm: *const c_char,
    kid_out: *mut *mut c_char,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || rotate_key(handle, algorithm, kid_out, Rotation::Now)) }
}

/// When a rotated key starts signing.
#[derive(Clone, Copy)]
enum Rotation {
    /// `key_publish_ahead` after it is published (`jwtauth_rotate_key`).
    Published,
    /// At once (`jwtauth_rotate_key_now`).
    Now,
}

/// The body of the `jwtauth_rotate_key*` functions.
///
/// # Safety
/// As for `jwtauth_rotate_key`.
unsafe fn rotate_key(
    handle: *const jwtauth,
    algorithm: *const c_char,
    kid_out: *mut *mut c_char,
    when: Rotation,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, algorithm, out) = unsafe {
        (
            ref_arg(handle, "handle")?,
            opt_str_arg(algorithm, "algorithm")?,
            Out::new(kid_out, "kid_out")?,
        )
    };
    let algorithm = algorithm
        .map(|a| a.parse::<Algorithm>())
        .transpose()
        .map_err(|e| Failure::invalid(format!("algorithm: {e}")))?;
    let keys = h.auth.keys();
    let kid = match when {
        Rotation::Published => keys.rotate(algorithm)?,
        Rotation::Now => keys.rotate_now(algorithm)?,
    };
    out.set(owned_c_string(kid.as_str().to_owned(), "the kid")?);
    Ok(())
}
