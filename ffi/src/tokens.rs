//! `jwtauth_tokens`: what issuing, starting a session or refreshing hands back.

use std::ffi::{CString, c_char};

use jwtauth_core::{Issued, TokenPair};
use zeroize::Zeroizing;

use crate::boundary::{Out, entry, entry_void, ref_arg};
use crate::status::{Failure, jwtauth_status};

/// Tokens just issued: an access token, and after `jwtauth_session_start` or
/// `jwtauth_refresh` also a refresh token.
///
/// Ownership: made by `jwtauth_issue`, `jwtauth_session_start` or `jwtauth_refresh`,
/// freed once by `jwtauth_tokens_free` (which overwrites the token bytes). Strings
/// returned by the accessors are owned by this object and stay valid until it is
/// freed: copy them if you keep them longer.
///
/// Thread safety: read-only; any number of threads may read it at once.
pub struct jwtauth_tokens {
    access: SecretCString,
    jwt_id: CString,
    kid: CString,
    expires_at: i64,
    refresh: Option<(SecretCString, i64)>,
}

/// A C string overwritten when dropped (tokens are bearer credentials).
struct SecretCString(CString);

impl SecretCString {
    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr()
    }
}

impl Drop for SecretCString {
    fn drop(&mut self) {
        drop(Zeroizing::new(std::mem::take(&mut self.0).into_bytes_with_nul()));
    }
}

fn c_string(s: &str, what: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| Failure::new(jwtauth_status::Internal, format!("{what} holds a NUL character")))
}

impl jwtauth_tokens {
    /// Boxes an access token and optionally a refresh token with its expiry.
    /// An access token and a refresh token.
    pub(crate) fn pair(pair: &TokenPair) -> Result<*mut jwtauth_tokens, Failure> {
        jwtauth_tokens::boxed(
            &pair.access,
            Some((pair.refresh_token.expose(), pair.refresh_expires_at)),
        )
    }

    pub(crate) fn boxed(access: &Issued, refresh: Option<(&str, i64)>) -> Result<*mut jwtauth_tokens, Failure> {
        let refresh = match refresh {
            Some((t, exp)) => Some((SecretCString(c_string(t, "the refresh token")?), exp)),
            None => None,
        };
        Ok(Box::into_raw(Box::new(jwtauth_tokens {
            access: SecretCString(c_string(&access.token, "the access token")?),
            jwt_id: c_string(&access.jwt_id, "the jti")?,
            kid: c_string(access.kid.as_str(), "the kid")?,
            expires_at: access.expires_at,
            refresh,
        })))
    }

    fn refresh(&self) -> Result<&(SecretCString, i64), Failure> {
        self.refresh.as_ref().ok_or_else(|| {
            Failure::new(
                jwtauth_status::NotFound,
                "these tokens have no refresh token (jwtauth_issue makes access tokens only; use jwtauth_session_start)",
            )
        })
    }
}

/// Frees tokens, overwriting their bytes first. NULL is a no-op.
///
/// # Safety
/// `tokens` is NULL or an object from this library not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_free(tokens: *mut jwtauth_tokens) {
    entry_void!({
        if !tokens.is_null() {
            // SAFETY: made by Box::into_raw in `jwtauth_tokens::boxed`, freed only here.
            drop(unsafe { Box::from_raw(tokens) });
        }
    });
}

/// Runs an accessor behind the entry boundary: checks `tokens` and `out`, then
/// writes what `get` returns.
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
unsafe fn read<T>(
    tokens: *const jwtauth_tokens,
    out: *mut T,
    get: impl FnOnce(&jwtauth_tokens) -> Result<T, Failure>,
) -> jwtauth_status {
    entry!({
        // SAFETY: forwarded from the caller.
        let (t, out) = unsafe { (ref_arg(tokens, "tokens")?, Out::new(out, "out")?) };
        out.set(get(t)?);
        Ok(())
    })
}

/// The access token (compact JWS), to send as `Authorization: Bearer <token>`.
/// `*out` points to a string owned by `tokens`. Errors: `INVALID_ARGUMENT`.
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_access_token(
    tokens: *const jwtauth_tokens,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.access.as_ptr())) }
}

/// When the access token expires (`exp`, seconds since the Unix epoch).
/// Errors: `INVALID_ARGUMENT`.
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_access_expires_at(
    tokens: *const jwtauth_tokens,
    out: *mut i64,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.expires_at)) }
}

/// The access token's id (`jti`). `*out` points to a string owned by `tokens`.
/// Errors: `INVALID_ARGUMENT`.
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_jwt_id(
    tokens: *const jwtauth_tokens,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.jwt_id.as_ptr())) }
}

/// The id of the key that signed the access token. `*out` points to a string
/// owned by `tokens`. Errors: `INVALID_ARGUMENT`.
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_kid(tokens: *const jwtauth_tokens, out: *mut *const c_char) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.kid.as_ptr())) }
}

/// The refresh token: opaque, secret, single-use (each `jwtauth_refresh` returns
/// a new one). `*out` points to a string owned by `tokens`.
/// Errors: `INVALID_ARGUMENT`, `NOT_FOUND` (tokens from `jwtauth_issue`).
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_refresh_token(
    tokens: *const jwtauth_tokens,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.refresh()?.0.as_ptr())) }
}

/// When the refresh token expires if unused (seconds since the Unix epoch).
/// Errors: `INVALID_ARGUMENT`, `NOT_FOUND` (tokens from `jwtauth_issue`).
///
/// # Safety
/// `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_tokens_refresh_expires_at(
    tokens: *const jwtauth_tokens,
    out: *mut i64,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(tokens, out, |t| Ok(t.refresh()?.1)) }
}
