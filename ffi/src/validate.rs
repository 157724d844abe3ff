//! Validation entry points: a token alone (NUL-terminated, as bytes with a length,
//! or as UTF-16 code units with a length), a whole `Authorization` header, and the
//! role check on verified claims.

use std::ffi::c_char;

use zeroize::{Zeroize, Zeroizing};

use crate::boundary::{Out, bytes_arg, bytes_len_arg, entry, opt_str_arg, ref_arg, str_arg, units_len_arg};
use crate::claims::jwtauth_claims;
use crate::error::{entry_ex, jwtauth_error};
use crate::handle::{jwtauth, jwtauth_request};
use crate::status::{Failure, jwtauth_status};

/// Validates a compact JWS strictly (signature, algorithm pinned to the key,
/// `exp`/`nbf`/`iat` with leeway, `iss`, `aud`, `sub`; see the README). A failure
/// is recorded in the failure log.
///
/// `token`: the token alone, NUL-terminated. Its bytes are untrusted input: they
/// need not be UTF-8 (such a token fails as `MALFORMED`).
/// On success `*out` receives the verified claims, to free with `jwtauth_claims_free`.
/// Errors: a failure reason (1–19: `EXPIRED`, `BAD_SIGNATURE`, …; the hint says
/// more), `INVALID_ARGUMENT` (a NULL argument).
///
/// Thread safety: any number of threads may validate on one handle at once.
///
/// # Safety
/// `handle` is a live handle; `token` is NULL or NUL-terminated; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate(
    handle: *const jwtauth,
    token: *const c_char,
    out: *mut *mut jwtauth_claims,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { validate(handle, token, out) }
    })
}

/// Like `jwtauth_validate`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_validate`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_ex(
    handle: *const jwtauth,
    token: *const c_char,
    out: *mut *mut jwtauth_claims,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || validate(handle, token, out)) }
}

/// The body of `jwtauth_validate` and `jwtauth_validate_ex`.
///
/// # Safety
/// As for `jwtauth_validate`.
unsafe fn validate(handle: *const jwtauth, token: *const c_char, out: *mut *mut jwtauth_claims) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let token = unsafe { bytes_arg(token, "token") }?;
    // SAFETY: as above.
    unsafe { validate_slice(handle, token, out) }
}

/// Like `jwtauth_validate`, with the token given as `len` bytes at `token` rather
/// than NUL-terminated, so a binding passes its own string's bytes without making
/// a terminated copy. The bytes are untrusted input: a NUL byte among them makes
/// the token `MALFORMED` (it is never cut short there), `len` 0 is an empty token
/// (`MISSING_TOKEN`, and `token` may then be NULL), a `len` over the configured
/// maximum size is `TOO_LARGE`. The library reads the bytes during the call only.
/// Errors: as `jwtauth_validate`; `INVALID_ARGUMENT` also for a NULL `token` with
/// `len` above 0.
///
/// # Safety
/// `handle` is a live handle; `token` is NULL or points to `len` readable bytes;
/// `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_bytes(
    handle: *const jwtauth,
    token: *const u8,
    len: usize,
    out: *mut *mut jwtauth_claims,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { validate_bytes(handle, token, len, out) }
    })
}

/// Like `jwtauth_validate_bytes`; on failure `*err` (when `err` is not NULL) receives
/// the details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_validate_bytes`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_bytes_ex(
    handle: *const jwtauth,
    token: *const u8,
    len: usize,
    out: *mut *mut jwtauth_claims,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || validate_bytes(handle, token, len, out)) }
}

/// The body of `jwtauth_validate_bytes` and `jwtauth_validate_bytes_ex`.
///
/// # Safety
/// As for `jwtauth_validate_bytes`.
unsafe fn validate_bytes(
    handle: *const jwtauth,
    token: *const u8,
    len: usize,
    out: *mut *mut jwtauth_claims,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let token = unsafe { bytes_len_arg(token, len, "token") }?;
    // SAFETY: as above.
    unsafe { validate_slice(handle, token, out) }
}

/// Like `jwtauth_validate_bytes`, with the token given as `len` UTF-16 code units
/// at `token`, for runtimes whose strings are UTF-16 (.NET, Java, JavaScript
/// engines): the binding passes its string's own memory instead of encoding it.
/// The library reads it as UTF-8 would encode it, a lone surrogate as U+FFFD (so
/// the outcome is the one `jwtauth_validate_bytes` gives for the string's UTF-8
/// bytes); a compact JWS is ASCII, so anything else is `MALFORMED`. `len` counts
/// code units, not bytes; 0 is an empty token (`token` may then be NULL). The
/// library reads the code units during the call only and wipes its copy.
/// Errors: as `jwtauth_validate_bytes`.
///
/// # Safety
/// `handle` is a live handle; `token` is NULL or points to `len` readable,
/// 2-byte-aligned code units; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_utf16(
    handle: *const jwtauth,
    token: *const u16,
    len: usize,
    out: *mut *mut jwtauth_claims,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { validate_utf16(handle, token, len, out) }
    })
}

/// Like `jwtauth_validate_utf16`; on failure `*err` (when `err` is not NULL) receives
/// the details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_validate_utf16`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_utf16_ex(
    handle: *const jwtauth,
    token: *const u16,
    len: usize,
    out: *mut *mut jwtauth_claims,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || validate_utf16(handle, token, len, out)) }
}

/// Tokens up to this many code units are copied onto the stack (no allocation).
const STACK_TOKEN: usize = 4096;

/// The body of `jwtauth_validate_utf16` and `jwtauth_validate_utf16_ex`.
///
/// # Safety
/// As for `jwtauth_validate_utf16`.
unsafe fn validate_utf16(
    handle: *const jwtauth,
    token: *const u16,
    len: usize,
    out: *mut *mut jwtauth_claims,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let units = unsafe { units_len_arg(token, len, "token") }?;
    if units.len() <= STACK_TOKEN && units.iter().all(|&u| u < 0x80) {
        // Every compact JWS: one byte per code unit.
        let mut stack = [0u8; STACK_TOKEN];
        let bytes = &mut stack[..units.len()];
        for (b, &u) in bytes.iter_mut().zip(units) {
            *b = u as u8;
        }
        // SAFETY: as above.
        let result = unsafe { validate_slice(handle, bytes, out) };
        bytes.zeroize();
        return result;
    }
    // Anything else as UTF-8, in a buffer of the exact size (never reallocated, so
    // the one wiped copy is the only one), refused rather than aborting when the
    // memory is not there.
    let chars = || char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER));
    let size = chars().map(char::len_utf8).sum();
    let mut heap = Zeroizing::new(Vec::new());
    heap.try_reserve_exact(size)
        .map_err(|_| Failure::invalid(format!("token of {} code units cannot be copied", units.len())))?;
    let mut utf8 = [0u8; 4];
    for c in chars() {
        heap.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
    // SAFETY: as above.
    unsafe { validate_slice(handle, &heap, out) }
}

/// What every token entry point shares once the token is a byte slice.
///
/// # Safety
/// `handle` is NULL or a live handle; `out` is NULL or valid for writing.
unsafe fn validate_slice(handle: *const jwtauth, token: &[u8], out: *mut *mut jwtauth_claims) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, out) = unsafe { (ref_arg(handle, "handle")?, Out::new(out, "out")?) };
    let claims = h.auth.verifier().validate(token)?;
    out.set(jwtauth_claims::boxed(claims, &h.roles_claim));
    Ok(())
}

/// Validates the token in a whole `Authorization` header value (`"Bearer <token>"`,
/// scheme case-insensitive), recording `request` with a failure.
///
/// `header`: the header value, or NULL when the request had none
/// (`MISSING_TOKEN`). A bare token fails with `BAD_SCHEME`.
/// `request`: NULL, or context for the failure log.
/// On success `*out` receives the verified claims, to free with `jwtauth_claims_free`.
/// Errors: as `jwtauth_validate`; `INVALID_ARGUMENT` also for a non-UTF-8 header.
///
/// # Safety
/// `handle` is a live handle; `header` is NULL or NUL-terminated; `request` is NULL
/// or valid; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_header(
    handle: *const jwtauth,
    header: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_claims,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { validate_header(handle, header, request, out) }
    })
}

/// Like `jwtauth_validate_header`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_validate_header`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_validate_header_ex(
    handle: *const jwtauth,
    header: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_claims,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || validate_header(handle, header, request, out)) }
}

/// The body of `jwtauth_validate_header` and `jwtauth_validate_header_ex`.
///
/// # Safety
/// As for `jwtauth_validate_header`.
unsafe fn validate_header(
    handle: *const jwtauth,
    header: *const c_char,
    request: *const jwtauth_request,
    out: *mut *mut jwtauth_claims,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, header, request, out) = unsafe {
        (
            ref_arg(handle, "handle")?,
            opt_str_arg(header, "header")?,
            jwtauth_request::read(request)?,
            Out::new(out, "out")?,
        )
    };
    let claims = h.auth.verifier().validate_header(header, &request)?;
    out.set(jwtauth_claims::boxed(claims, &h.roles_claim));
    Ok(())
}

/// Checks that verified claims carry `role` (exact, case-sensitive). Returns `OK`,
/// or `INSUFFICIENT_ROLE` (recorded in the failure log with `request`).
/// Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument).
///
/// # Safety
/// `handle` and `claims` are live objects; `role` is NULL or NUL-terminated;
/// `request` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_require_role(
    handle: *const jwtauth,
    claims: *const jwtauth_claims,
    role: *const c_char,
    request: *const jwtauth_request,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { require_role(handle, claims, role, request) }
    })
}

/// Like `jwtauth_require_role`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_require_role`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_require_role_ex(
    handle: *const jwtauth,
    claims: *const jwtauth_claims,
    role: *const c_char,
    request: *const jwtauth_request,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || require_role(handle, claims, role, request)) }
}

/// The body of `jwtauth_require_role` and `jwtauth_require_role_ex`.
///
/// # Safety
/// As for `jwtauth_require_role`.
unsafe fn require_role(
    handle: *const jwtauth,
    claims: *const jwtauth_claims,
    role: *const c_char,
    request: *const jwtauth_request,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, claims, role, request) = unsafe {
        (
            ref_arg(handle, "handle")?,
            ref_arg(claims, "claims")?,
            str_arg(role, "role")?,
            jwtauth_request::read(request)?,
        )
    };
    h.auth.verifier().require_role(&claims.claims, role, &request)?;
    Ok(())
}
