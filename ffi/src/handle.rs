//! The functions of the `jwtauth` handle: open, issue, JWKS (validation is in
//! `validate`; closing, and life after `fork()`, in `lifecycle`).

use std::ffi::c_char;
use std::path::Path;
use std::sync::Arc;

use jwtauth_core::{Config, RequestInfo};
use serde_json::{Map, Value};

use crate::boundary::{Out, entry, opt_str_arg, owned_c_string, ref_arg, str_arg, str_array_arg};
use crate::error::{entry_ex, jwtauth_error};
/// The handle, beside the functions that use it (its life is in `lifecycle`).
pub(crate) use crate::lifecycle::jwtauth;
use crate::lifecycle::{Runtime, handle_out};
use crate::status::{Failure, jwtauth_status};
use crate::tokens::jwtauth_tokens;

/// Request context recorded with a failure in the failure log. Every field is
/// optional (NULL); non-NULL fields must be NUL-terminated UTF-8.
///
/// ABI: fields are only ever appended in a new major version.
#[repr(C)]
#[derive(Debug)]
pub struct jwtauth_request {
    /// Client address, e.g. "203.0.113.7:51234".
    pub client: *const c_char,
    /// HTTP method, e.g. "GET".
    pub method: *const c_char,
    /// Request path without the query string.
    pub path: *const c_char,
    /// The User-Agent header.
    pub user_agent: *const c_char,
    /// A request id to correlate log lines.
    pub request_id: *const c_char,
}

impl jwtauth_request {
    /// # Safety
    /// `p` is NULL or points to a `jwtauth_request` whose non-NULL fields are
    /// NUL-terminated strings valid for `'a`.
    pub(crate) unsafe fn read<'a>(p: *const jwtauth_request) -> Result<RequestInfo<'a>, Failure> {
        // SAFETY: forwarded from the caller.
        let Some(r) = (unsafe { p.as_ref() }) else {
            return Ok(RequestInfo::default());
        };
        // SAFETY: each field is NULL or a NUL-terminated string per the caller's contract.
        unsafe {
            Ok(RequestInfo {
                client: opt_str_arg(r.client, "request->client")?,
                method: opt_str_arg(r.method, "request->method")?,
                path: opt_str_arg(r.path, "request->path")?,
                user_agent: opt_str_arg(r.user_agent, "request->user_agent")?,
                request_id: opt_str_arg(r.request_id, "request->request_id")?,
                client_id: None,
            })
        }
    }
}

/// Opens a runtime from a configuration file, exactly like the jwtauth binaries:
/// `config_path`, or if it is NULL the file named by `$JWTAUTH_CONFIG`, else
/// `./jwtauth.toml` if it exists, else the laptop defaults; then the `JWTAUTH_*`
/// environment overrides. Failure events go to the event callback (see
/// `jwtauth_set_event_callback`) and, when `log.dir` is configured, to the daily
/// failure log files there (the first handle that configures it opens them; they
/// are one per process). Without `log.dir` the library writes no log file.
///
/// On success `*out` receives a handle to close with `jwtauth_close`. It may be
/// used from any thread, and in child processes after `fork()`: there the first
/// call (or `jwtauth_reopen`) opens the store again and restarts the background
/// thread for the child, so the child never uses the parent's connections and its
/// revocations and keys stay fresh (see "Handles, close and fork()" at the top of
/// this header).
/// Errors: `INVALID_ARGUMENT` (`out` NULL, path not UTF-8), `CONFIG` (unreadable
/// file, unknown key, bad value, weak secret, bad key file, log directory not
/// writable), `STORE` (the store cannot be opened).
///
/// # Safety
/// `config_path` is NULL or a NUL-terminated string; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_open(config_path: *const c_char, out: *mut *mut jwtauth) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { open(config_path, out) }
    })
}

/// Like `jwtauth_open`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_open`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_open_ex(
    config_path: *const c_char,
    out: *mut *mut jwtauth,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || open(config_path, out)) }
}

/// The body of `jwtauth_open` and `jwtauth_open_ex`.
///
/// # Safety
/// As for `jwtauth_open`.
unsafe fn open(config_path: *const c_char, out: *mut *mut jwtauth) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let out = unsafe { Out::new(out, "out") }?;
    // SAFETY: the caller's contract above.
    let path = unsafe { opt_str_arg(config_path, "config_path") }?;
    let config = Config::load(path.map(Path::new))?;
    handle_out(out, Runtime::open(config)?);
    Ok(())
}

/// Opens a runtime from a JSON object with the same keys as `jwtauth.toml`
/// (e.g. `{"algorithm":"HS256","issuer":"https://auth.example.com"}`); the
/// `JWTAUTH_*` environment still overrides it. Otherwise like `jwtauth_open`.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_open_json(config_json: *const c_char, out: *mut *mut jwtauth) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { open_json(config_json, out) }
    })
}

/// Like `jwtauth_open_json`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_open_json`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_open_json_ex(
    config_json: *const c_char,
    out: *mut *mut jwtauth,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || open_json(config_json, out)) }
}

/// The body of `jwtauth_open_json` and `jwtauth_open_json_ex`.
///
/// # Safety
/// As for `jwtauth_open_json`.
unsafe fn open_json(config_json: *const c_char, out: *mut *mut jwtauth) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let out = unsafe { Out::new(out, "out") }?;
    // SAFETY: the caller's contract above.
    let json = unsafe { str_arg(config_json, "config_json") }?;
    let config = Config::from_json(json)?;
    handle_out(out, Runtime::open(config)?);
    Ok(())
}

/// Issues an access token for `subject`, signed by the active key and valid for
/// `access_ttl`.
///
/// `roles`: `roles_len` NUL-terminated strings (NULL when `roles_len` is 0).
/// `extra_json`: NULL, or a JSON object of further claims (it may not set `iss`,
/// `sub`, `aud`, `exp`, `nbf`, `iat`, `jti` or the roles claim).
/// On success `*out` receives tokens to free with `jwtauth_tokens_free` (no
/// refresh token: see `jwtauth_session_start`).
/// Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument, empty subject, extra
/// claims not an object or reserved), `INTERNAL`.
///
/// # Safety
/// `handle` is a live handle; strings are NULL or NUL-terminated; `roles` holds
/// `roles_len` pointers; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_issue(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { issue(handle, subject, roles, roles_len, extra_json, out) }
    })
}

/// Like `jwtauth_issue`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_issue`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_issue_ex(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || issue(handle, subject, roles, roles_len, extra_json, out)) }
}

/// The body of `jwtauth_issue` and `jwtauth_issue_ex`.
///
/// # Safety
/// As for `jwtauth_issue`.
unsafe fn issue(
    handle: *const jwtauth,
    subject: *const c_char,
    roles: *const *const c_char,
    roles_len: usize,
    extra_json: *const c_char,
    out: *mut *mut jwtauth_tokens,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let a = unsafe { IssueArgs::read(handle, subject, roles, roles_len, extra_json, out) }?;
    let issued = a.handle.auth.issuer().issue(a.subject, &a.roles, &a.extra)?;
    a.out.set(jwtauth_tokens::boxed(&issued, None)?);
    Ok(())
}

/// The arguments `jwtauth_issue` and `jwtauth_session_start` share, checked.
pub(crate) struct IssueArgs<'a> {
    pub handle: Arc<Runtime>,
    pub subject: &'a str,
    pub roles: Vec<&'a str>,
    pub extra: Map<String, Value>,
    pub out: Out<*mut jwtauth_tokens>,
}

impl IssueArgs<'_> {
    /// Checks every argument (NULL, UTF-8, the extra claims' JSON).
    ///
    /// # Safety
    /// As `jwtauth_issue`'s contract: `handle` is a live handle; strings are NULL or
    /// NUL-terminated; `roles` holds `roles_len` pointers; `out` is valid for writing.
    pub(crate) unsafe fn read<'a>(
        handle: *const jwtauth,
        subject: *const c_char,
        roles: *const *const c_char,
        roles_len: usize,
        extra_json: *const c_char,
        out: *mut *mut jwtauth_tokens,
    ) -> Result<IssueArgs<'a>, Failure> {
        // SAFETY: the caller's contract, for each argument.
        unsafe {
            Ok(IssueArgs {
                handle: ref_arg(handle, "handle")?,
                subject: str_arg(subject, "subject")?,
                roles: str_array_arg(roles, roles_len, "roles")?,
                extra: extra_claims(opt_str_arg(extra_json, "extra_json")?)?,
                out: Out::new(out, "out")?,
            })
        }
    }
}

/// Parses the optional extra claims of an issue or a session start.
fn extra_claims(json: Option<&str>) -> Result<Map<String, Value>, Failure> {
    match json.map(serde_json::from_str::<Value>) {
        None => Ok(Map::new()),
        Some(Ok(Value::Object(m))) => Ok(m),
        Some(Ok(_)) => Err(Failure::invalid("extra_json must be a JSON object")),
        Some(Err(e)) => Err(Failure::invalid(format!("extra_json is not valid JSON: {e}"))),
    }
}

/// The public keys as a JWKS document (RFC 7517), e.g. to serve at
/// `/.well-known/jwks.json`. HS secrets never appear (an HS-only setup gives
/// `{"keys":[]}`).
///
/// On success `*out` receives a JSON string to free with `jwtauth_string_free`.
///
/// # Safety
/// `handle` is a live handle; `out` is valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_jwks(handle: *const jwtauth, out: *mut *mut c_char) -> jwtauth_status {
    entry!({
        // SAFETY: the caller's contract above.
        unsafe { jwks(handle, out) }
    })
}

/// Like `jwtauth_jwks`; on failure `*err` (when `err` is not NULL) receives the
/// details, to free with `jwtauth_error_free`, and is set to NULL on success.
/// Safe from any runtime (see "Error details" at the top of this header).
///
/// # Safety
/// As for `jwtauth_jwks`; `err` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_jwks_ex(
    handle: *const jwtauth,
    out: *mut *mut c_char,
    err: *mut *mut jwtauth_error,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { entry_ex(err, || jwks(handle, out)) }
}

/// The body of `jwtauth_jwks` and `jwtauth_jwks_ex`.
///
/// # Safety
/// As for `jwtauth_jwks`.
unsafe fn jwks(handle: *const jwtauth, out: *mut *mut c_char) -> Result<(), Failure> {
    // SAFETY: the caller's contract above, for each argument.
    let (h, out) = unsafe { (ref_arg(handle, "handle")?, Out::new(out, "out")?) };
    out.set(owned_c_string(h.auth.verifier().jwks().to_string(), "the JWKS")?);
    Ok(())
}
