//! `jwtauth_claims`: the verified claims of a token, read through accessors so a C
//! program needs no JSON library for the common case.

use std::collections::HashMap;
use std::ffi::{CString, c_char};
use std::sync::{Arc, OnceLock};

use jwtauth_core::Claims;
use jwtauth_core::token::json_kind;
use serde_json::Value;

use crate::boundary::{Out, entry, entry_void, owned_c_string, ref_arg, str_arg};
use crate::status::{Failure, jwtauth_status};

/// The claims of a token that passed validation; holding one means the token was
/// verified.
///
/// Ownership: made by `jwtauth_validate` / `jwtauth_validate_header`, freed once by
/// `jwtauth_claims_free`. Strings returned as `const char *` by the accessors are
/// owned by the claims object and stay valid until it is freed; strings returned as
/// `char *` belong to the caller (`jwtauth_string_free`).
///
/// Thread safety: read-only; any number of threads may call accessors on the same
/// object at once.
pub struct jwtauth_claims {
    pub(crate) claims: Claims,
    roles_claim: Arc<str>,
    /// C strings, made on first use so validation alone allocates none of them.
    strings: OnceLock<CStrings>,
}

#[derive(Default)]
struct CStrings {
    /// Top-level string claims by name (those holding a NUL are left out).
    by_name: HashMap<String, CString>,
    roles: Vec<Option<CString>>,
    audience: Vec<Option<CString>>,
    kid: Option<CString>,
}

impl jwtauth_claims {
    pub(crate) fn boxed(claims: Claims, roles_claim: &Arc<str>) -> *mut jwtauth_claims {
        Box::into_raw(Box::new(jwtauth_claims {
            claims,
            roles_claim: Arc::clone(roles_claim),
            strings: OnceLock::new(),
        }))
    }

    fn strings(&self) -> &CStrings {
        self.strings.get_or_init(|| {
            let c = &self.claims;
            let mut by_name = HashMap::new();
            let registered = ["sub", "iss", "jti"];
            for name in registered.into_iter().chain(c.extra().keys().map(String::as_str)) {
                if let Some(Value::String(s)) = c.get(name)
                    && let Ok(cs) = CString::new(s)
                {
                    by_name.insert(name.to_owned(), cs);
                }
            }
            let list = |v: &[String]| v.iter().map(|s| CString::new(s.as_str()).ok()).collect();
            CStrings {
                by_name,
                roles: list(c.roles()),
                audience: list(c.audience()),
                kid: CString::new(c.kid().as_str()).ok(),
            }
        })
    }

    /// A string claim as a C string borrowed from `self`.
    fn str_claim(&self, name: &str) -> Result<*const c_char, Failure> {
        if let Some(s) = self.strings().by_name.get(name) {
            return Ok(s.as_ptr());
        }
        Err(match self.claims.get(name) {
            None => not_found(format!("the token has no claim '{name}'")),
            Some(Value::String(_)) => type_mismatch(format!(
                "claim '{name}' holds a NUL character; read it with jwtauth_claims_get_json"
            )),
            Some(other) => type_mismatch(format!("claim '{name}' is {}, not a string", json_kind(&other))),
        })
    }

    fn value(&self, name: &str) -> Result<Value, Failure> {
        self.claims
            .get(name)
            .ok_or_else(|| not_found(format!("the token has no claim '{name}'")))
    }
}

fn not_found(hint: String) -> Failure {
    Failure::new(jwtauth_status::NotFound, hint)
}

fn type_mismatch(hint: String) -> Failure {
    Failure::new(jwtauth_status::TypeMismatch, hint)
}

fn list_item(items: &[Option<CString>], index: usize, what: &str) -> Result<*const c_char, Failure> {
    match items.get(index) {
        None => Err(not_found(format!(
            "{what} index {index} is out of range (count {})",
            items.len()
        ))),
        Some(None) => Err(type_mismatch(format!("{what} {index} holds a NUL character"))),
        Some(Some(s)) => Ok(s.as_ptr()),
    }
}

/// Frees claims. NULL is a no-op; freeing twice is a bug in the caller.
///
/// # Safety
/// `claims` is NULL or an object from this library not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_free(claims: *mut jwtauth_claims) {
    entry_void!({
        if !claims.is_null() {
            // SAFETY: made by Box::into_raw in `jwtauth_claims::boxed`, freed only here.
            drop(unsafe { Box::from_raw(claims) });
        }
    });
}

/// Runs an accessor behind the entry boundary: checks `claims` and `out`, then
/// writes what `get` returns.
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
unsafe fn read<T>(
    claims: *const jwtauth_claims,
    out: *mut T,
    get: impl FnOnce(&jwtauth_claims) -> Result<T, Failure>,
) -> jwtauth_status {
    entry!({
        // SAFETY: forwarded from the caller.
        let (c, out) = unsafe { (ref_arg(claims, "claims")?, Out::new(out, "out")?) };
        out.set(get(c)?);
        Ok(())
    })
}

/// Like [`read`] for accessors that take a claim or role name.
///
/// # Safety
/// As for [`read`]; `name` is NULL or NUL-terminated.
unsafe fn read_named<T>(
    claims: *const jwtauth_claims,
    name: *const c_char,
    out: *mut T,
    get: impl FnOnce(&jwtauth_claims, &str) -> Result<T, Failure>,
) -> jwtauth_status {
    entry!({
        // SAFETY: forwarded from the caller.
        let (c, name, out) = unsafe {
            (
                ref_arg(claims, "claims")?,
                str_arg(name, "name")?,
                Out::new(out, "out")?,
            )
        };
        out.set(get(c, name)?);
        Ok(())
    })
}

/// The subject (`sub`), never empty.
///
/// On success `*out` points to a string owned by `claims` (valid until
/// `jwtauth_claims_free`). Errors: `INVALID_ARGUMENT` (NULL argument),
/// `TYPE_MISMATCH` (the subject holds a NUL character).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_subject(
    claims: *const jwtauth_claims,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| c.str_claim("sub")) }
}

/// The issuer (`iss`), equal to the configured issuer.
///
/// On success `*out` points to a string owned by `claims`. Errors: as
/// `jwtauth_claims_subject`.
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_issuer(
    claims: *const jwtauth_claims,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| c.str_claim("iss")) }
}

/// The token id (`jti`); tokens issued by jwtauth always have one.
///
/// On success `*out` points to a string owned by `claims`. Errors: as
/// `jwtauth_claims_subject`, and `NOT_FOUND` when the token has no `jti`.
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_jwt_id(
    claims: *const jwtauth_claims,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| c.str_claim("jti")) }
}

/// The id of the key that verified the token (not a claim: jwtauth's own record).
///
/// On success `*out` points to a string owned by `claims`.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_kid(claims: *const jwtauth_claims, out: *mut *const c_char) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read(claims, out, |c| {
            let kid = c.strings().kid.as_ref();
            kid.map(|k| k.as_ptr())
                .ok_or_else(|| type_mismatch("the kid holds a NUL character".into()))
        })
    }
}

/// When the token expires (`exp`); always present.
///
/// On success `*out` receives seconds since 1970-01-01T00:00:00Z.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_expires_at(claims: *const jwtauth_claims, out: *mut i64) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read(claims, out, |c| {
            Some(c.claims.expires_at()).ok_or_else(|| not_found("the token has no claim 'exp'".into()))
        })
    }
}

/// When the token was issued (`iat`); `NOT_FOUND` when absent.
///
/// On success `*out` receives seconds since 1970-01-01T00:00:00Z.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_issued_at(claims: *const jwtauth_claims, out: *mut i64) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read(claims, out, |c| {
            c.claims
                .issued_at()
                .ok_or_else(|| not_found("the token has no claim 'iat'".into()))
        })
    }
}

/// When the token becomes valid (`nbf`); `NOT_FOUND` when absent.
///
/// On success `*out` receives seconds since 1970-01-01T00:00:00Z.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_not_before(claims: *const jwtauth_claims, out: *mut i64) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read(claims, out, |c| {
            c.claims
                .not_before()
                .ok_or_else(|| not_found("the token has no claim 'nbf'".into()))
        })
    }
}

/// How many roles the roles claim (`roles_claim`: "roles", or "role" like .NET) holds.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_role_count(claims: *const jwtauth_claims, out: *mut usize) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| Ok(c.claims.roles().len())) }
}

/// The role at `index` (0-based, in token order).
///
/// On success `*out` points to a string owned by `claims`.
/// Errors: `INVALID_ARGUMENT` (NULL argument), `NOT_FOUND` (`index` out of
/// range), `TYPE_MISMATCH` (the value holds a NUL character).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_role_at(
    claims: *const jwtauth_claims,
    index: usize,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| list_item(&c.strings().roles, index, "role")) }
}

/// How many audiences `aud` names (a single string counts as one).
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_audience_count(
    claims: *const jwtauth_claims,
    out: *mut usize,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| Ok(c.claims.audience().len())) }
}

/// The audience at `index` (0-based).
///
/// On success `*out` points to a string owned by `claims`.
/// Errors: `INVALID_ARGUMENT` (NULL argument), `NOT_FOUND` (`index` out of
/// range), `TYPE_MISMATCH` (the value holds a NUL character).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_audience_at(
    claims: *const jwtauth_claims,
    index: usize,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read(claims, out, |c| list_item(&c.strings().audience, index, "audience")) }
}

/// Whether the roles claim contains `role` (exact and case-sensitive, like
/// ASP.NET's `IsInRole`). `*out` receives true or false.
/// Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `role` is NULL or NUL-terminated;
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_has_role(
    claims: *const jwtauth_claims,
    role: *const c_char,
    out: *mut bool,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read_named(claims, role, out, |c, role| Ok(c.claims.has_role(role))) }
}

/// Any string claim by name (registered ones included, e.g. "sub", or an extra
/// claim such as "tenant").
///
/// On success `*out` points to a string owned by `claims`.
/// Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument), `NOT_FOUND` (no such
/// claim), `TYPE_MISMATCH` (not a string, or holds a NUL character).
///
/// # Safety
/// `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_get_str(
    claims: *const jwtauth_claims,
    name: *const c_char,
    out: *mut *const c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe { read_named(claims, name, out, |c, name| c.str_claim(name)) }
}

/// Any integer claim by name (e.g. "exp", or an extra claim such as "tenant_id").
/// Errors: `INVALID_ARGUMENT`, `NOT_FOUND`, `TYPE_MISMATCH` (not an integer that
/// fits in int64_t).
///
/// # Safety
/// `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_get_int(
    claims: *const jwtauth_claims,
    name: *const c_char,
    out: *mut i64,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read_named(claims, name, out, |c, name| {
            let v = c.value(name)?;
            v.as_i64()
                .ok_or_else(|| type_mismatch(format!("claim '{name}' is {}, not an int64", json_kind(&v))))
        })
    }
}

/// Any boolean claim by name (e.g. "email_verified").
/// Errors: `INVALID_ARGUMENT`, `NOT_FOUND`, `TYPE_MISMATCH`.
///
/// # Safety
/// `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_get_bool(
    claims: *const jwtauth_claims,
    name: *const c_char,
    out: *mut bool,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read_named(claims, name, out, |c, name| {
            let v = c.value(name)?;
            v.as_bool()
                .ok_or_else(|| type_mismatch(format!("claim '{name}' is {}, not a boolean", json_kind(&v))))
        })
    }
}

/// Any claim by name as JSON text (for arrays, objects, numbers with fractions).
/// The roles claim is read with the role accessors instead.
///
/// On success `*out` receives a string to free with `jwtauth_string_free`.
/// Errors: `INVALID_ARGUMENT`, `NOT_FOUND`.
///
/// # Safety
/// `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
/// `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_get_json(
    claims: *const jwtauth_claims,
    name: *const c_char,
    out: *mut *mut c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    // serde_json escapes NUL as \u0000, so the text never holds one.
    unsafe {
        read_named(claims, name, out, |c, name| {
            owned_c_string(c.value(name)?.to_string(), "the claim")
        })
    }
}

/// The whole claims set as one JSON object (registered claims, the roles claim and
/// every extra claim).
///
/// On success `*out` receives a string to free with `jwtauth_string_free`.
/// Errors: `INVALID_ARGUMENT` (NULL argument).
///
/// # Safety
/// `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jwtauth_claims_to_json(
    claims: *const jwtauth_claims,
    out: *mut *mut c_char,
) -> jwtauth_status {
    // SAFETY: the caller's contract above.
    unsafe {
        read(claims, out, |c| {
            owned_c_string(c.claims.to_json(&c.roles_claim).to_string(), "the claims")
        })
    }
}
