//! The C entry points of libjwtauth, called through their `extern "C"` functions as
//! a C program calls them: fuzzed tokens (with and without NUL bytes), headers,
//! request context, claims and roles, refresh tokens and JSON configurations.
//!
//! Input: one selector byte (which operation), then fields separated by `\n`.
//! One HS256 handle (SQLite in a per-process temporary directory) serves every
//! iteration; only the `open` operation opens and closes handles of its own.
//! Invariants: every failure carries a status with a known name and an error object
//! whose reason is that name; a token the handle issued validates with its subject
//! and roles; a hint never holds the whole token it is about; a closed handle
//! answers `CLOSED`. Panics abort (libFuzzer's hook), so one caught at the boundary
//! is still found; LeakSanitizer checks that every object handed out is freed.
#![no_main]

use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::{Mutex, OnceLock};

use ::jwtauth::*;
use ::jwtauth::jwtauth;
use jwtauth_fuzz::{AUDIENCE, HS_SECRET, ISSUER, hs256_sign, split_parts};
use libfuzzer_sys::fuzz_target;

/// A per-process directory for the SQLite stores (under `$TMPDIR`).
fn work_dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("jwtauth-fuzz-c_api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz work dir");
        dir
    })
}

fn store_url(name: &str) -> String {
    format!("sqlite://{}", work_dir().join(name).display())
}

/// The handle every iteration uses (opened once per process).
fn handle() -> *const jwtauth {
    struct Shared(*mut jwtauth);
    // SAFETY: handles are thread-safe (see jwtauth.h); the pointer is only read.
    unsafe impl Send for Shared {}
    // SAFETY: as above.
    unsafe impl Sync for Shared {}
    static H: OnceLock<Shared> = OnceLock::new();
    H.get_or_init(|| {
        let config = serde_json::json!({
            "issuer": ISSUER, "audience": AUDIENCE, "algorithm": "HS256", "hs_secret": HS_SECRET,
            "access_ttl": 900, "store": {"url": store_url("main.db")},
        });
        let json = CString::new(config.to_string()).expect("config");
        let mut h = ptr::null_mut();
        // SAFETY: a NUL-terminated string and a valid out-pointer.
        let s = unsafe { jwtauth_open_json(json.as_ptr(), &mut h) };
        assert_eq!(s, jwtauth_status::Ok, "the fuzz handle opens");
        Shared(h)
    })
    .0
}

/// The default `max_token_size` (the fuzz handle does not change it).
const MAX_TOKEN_SIZE: usize = 8 * 1024;

/// Handles opened by the `open` operation: closed, but their few bytes are never
/// freed by design (jwtauth.h), so they are kept reachable here for LeakSanitizer.
static TOMBSTONES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// `bytes` up to its first NUL, NUL-terminated: what a C caller passes.
fn c_string(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("no NUL before end")
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null(), "the library returned a NULL string");
    // SAFETY: the library returns NUL-terminated strings valid until freed.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn status_name(s: jwtauth_status) -> String {
    text(jwtauth_status_str(s as u32))
}

/// Checks one `_ex` call's answer against its error object, then frees the object.
/// `token`: the untrusted token of the call, which the hint must not repeat whole.
fn check_error(s: jwtauth_status, err: *mut jwtauth_error, token: &[u8]) {
    if s == jwtauth_status::Ok {
        assert!(err.is_null(), "an error object after OK");
        return;
    }
    assert_ne!(s, jwtauth_status::Internal, "INTERNAL: a bug or a caught panic");
    let name = status_name(s);
    assert_ne!(name, "unknown", "status {} has no name", s as u32);
    assert!(!err.is_null(), "{name} without an error object");
    // SAFETY: a live error from the library, freed once below.
    unsafe {
        assert_eq!(jwtauth_error_status(err), s);
        assert_eq!(text(jwtauth_error_reason(err)), name);
        let hint = text(jwtauth_error_hint(err));
        let jws = token.len() >= 32 && token.iter().filter(|b| **b == b'.').count() == 2;
        if jws {
            let token = String::from_utf8_lossy(token);
            assert!(!hint.contains(&*token), "the hint holds the whole token");
        }
        jwtauth_error_free(err);
    }
}

/// Reads every accessor of verified claims, with `name` as a claim name, then frees them.
fn read_claims(c: *mut jwtauth_claims, name: &[u8]) {
    let name = c_string(name);
    // SAFETY: `c` is live claims from the library, freed once at the end; out-pointers are valid.
    unsafe {
        let mut s: *const c_char = ptr::null();
        let mut i = 0i64;
        let mut b = false;
        let mut n = 0usize;
        for get in [jwtauth_claims_subject, jwtauth_claims_issuer, jwtauth_claims_jwt_id, jwtauth_claims_kid] {
            if get(c, &mut s) == jwtauth_status::Ok {
                let _ = text(s);
            }
        }
        for get in [jwtauth_claims_expires_at, jwtauth_claims_issued_at, jwtauth_claims_not_before] {
            let _ = get(c, &mut i);
        }
        assert_eq!(jwtauth_claims_role_count(c, &mut n), jwtauth_status::Ok);
        for k in 0..=n {
            let ok = jwtauth_claims_role_at(c, k, &mut s) == jwtauth_status::Ok;
            assert_eq!(ok, k < n, "role_at({k}) of {n} roles");
        }
        assert_eq!(jwtauth_claims_audience_count(c, &mut n), jwtauth_status::Ok);
        for k in 0..=n {
            let ok = jwtauth_claims_audience_at(c, k, &mut s) == jwtauth_status::Ok;
            assert_eq!(ok, k < n, "audience_at({k}) of {n} audiences");
        }
        let _ = jwtauth_claims_has_role(c, name.as_ptr(), &mut b);
        if jwtauth_claims_get_str(c, name.as_ptr(), &mut s) == jwtauth_status::Ok {
            let _ = text(s);
        }
        let _ = jwtauth_claims_get_int(c, name.as_ptr(), &mut i);
        let _ = jwtauth_claims_get_bool(c, name.as_ptr(), &mut b);
        let mut json: *mut c_char = ptr::null_mut();
        if jwtauth_claims_get_json(c, name.as_ptr(), &mut json) == jwtauth_status::Ok {
            jwtauth_string_free(json);
        }
        assert_eq!(jwtauth_claims_to_json(c, &mut json), jwtauth_status::Ok);
        let whole: serde_json::Value = serde_json::from_str(&text(json)).expect("claims JSON parses");
        assert!(whole.is_object());
        jwtauth_string_free(json);
        jwtauth_claims_free(c);
    }
}

/// Validates `token` (C string semantics: up to its first NUL) with both entry points.
fn validate(h: *const jwtauth, token: &[u8], claim: &[u8]) -> jwtauth_status {
    let t = c_string(token);
    let mut c = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a live handle, a NUL-terminated token, valid out-pointers.
    let s = unsafe { jwtauth_validate_ex(h, t.as_ptr(), &mut c, &mut err) };
    check_error(s, err, token);
    if s == jwtauth_status::Ok {
        read_claims(c, claim);
    } else {
        assert!(c.is_null(), "claims after a failure");
    }
    let mut c2 = ptr::null_mut();
    // SAFETY: as above.
    let s2 = unsafe { jwtauth_validate(h, t.as_ptr(), &mut c2) };
    // A cache or revocation change between the two calls cannot apply to the same bytes in one thread.
    assert_eq!(s, s2, "validate and validate_ex disagree");
    if s2 == jwtauth_status::Ok {
        // SAFETY: live claims, freed once.
        unsafe { jwtauth_claims_free(c2) };
    }
    s
}

/// Owns the C strings of a `jwtauth_request` built from fuzzed fields.
struct Request {
    fields: Vec<Option<CString>>,
}

impl Request {
    fn new(fields: &[&[u8]]) -> Request {
        // A field starting with 0xFE stands for NULL.
        let fields = (0..5)
            .map(|i| fields.get(i).filter(|f| f.first() != Some(&0xFE)).map(|f| c_string(f)))
            .collect();
        Request { fields }
    }

    fn raw(&self) -> jwtauth_request {
        let p = |i: usize| self.fields[i].as_ref().map_or(ptr::null(), |s| s.as_ptr());
        jwtauth_request { client: p(0), method: p(1), path: p(2), user_agent: p(3), request_id: p(4) }
    }
}

/// What `issue` hands back: the access token and, for a session, the refresh token.
struct Issued {
    access: CString,
    refresh: Option<CString>,
}

/// Issues (or starts a session) for `subject` with `roles` and `extra` claims; on
/// success the access token must validate with that subject and those roles (or,
/// when the extra claims made it longer than `max_token_size`, fail as `TOO_LARGE`).
fn issue(h: *const jwtauth, subject: &[u8], roles: &[&[u8]], extra: Option<&[u8]>, session: bool) -> Option<Issued> {
    let subject = c_string(subject);
    let roles: Vec<CString> = roles.iter().take(16).map(|r| c_string(r)).collect();
    let role_ptrs: Vec<*const c_char> = roles.iter().map(|r| r.as_ptr()).collect();
    let extra = extra.map(c_string);
    let extra_ptr = extra.as_ref().map_or(ptr::null(), |e| e.as_ptr());
    let roles_ptr = if role_ptrs.is_empty() { ptr::null() } else { role_ptrs.as_ptr() };
    let mut t = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a live handle, NUL-terminated strings, `roles_len` role pointers, valid out-pointers.
    let s = unsafe {
        if session {
            jwtauth_session_start_ex(h, subject.as_ptr(), roles_ptr, role_ptrs.len(), extra_ptr, &mut t, &mut err)
        } else {
            jwtauth_issue_ex(h, subject.as_ptr(), roles_ptr, role_ptrs.len(), extra_ptr, &mut t, &mut err)
        }
    };
    check_error(s, err, b"");
    if s != jwtauth_status::Ok {
        assert!(t.is_null(), "tokens after a failure");
        return None;
    }
    // SAFETY: live tokens from the library, freed once at the end; out-pointers are valid.
    unsafe {
        let mut access: *const c_char = ptr::null();
        assert_eq!(jwtauth_tokens_access_token(t, &mut access), jwtauth_status::Ok);
        let access = CString::new(text(access)).expect("a token has no NUL");
        let mut refresh: *const c_char = ptr::null();
        let has_refresh = jwtauth_tokens_refresh_token(t, &mut refresh) == jwtauth_status::Ok;
        assert_eq!(has_refresh, session, "a refresh token exactly with a session");
        let refresh = has_refresh.then(|| CString::new(text(refresh)).expect("no NUL"));
        let mut i = 0i64;
        assert_eq!(jwtauth_tokens_access_expires_at(t, &mut i), jwtauth_status::Ok);
        jwtauth_tokens_free(t);

        let mut c = ptr::null_mut();
        let s = jwtauth_validate(h, access.as_ptr(), &mut c);
        if s == jwtauth_status::TooLarge && access.as_bytes().len() > MAX_TOKEN_SIZE {
            return None;
        }
        assert_eq!(s, jwtauth_status::Ok, "a token the handle issued fails as {}", status_name(s));
        let mut sub: *const c_char = ptr::null();
        assert_eq!(jwtauth_claims_subject(c, &mut sub), jwtauth_status::Ok);
        assert_eq!(CStr::from_ptr(sub), subject.as_c_str(), "the subject comes back");
        for r in &roles {
            let mut has = false;
            assert_eq!(jwtauth_claims_has_role(c, r.as_ptr(), &mut has), jwtauth_status::Ok);
            assert!(has, "an issued role is missing");
            assert_eq!(jwtauth_require_role(h, c, r.as_ptr(), ptr::null()), jwtauth_status::Ok);
        }
        jwtauth_claims_free(c);
        Some(Issued { access, refresh })
    }
}

/// The fuzzed JSON configuration with whatever reaches the file system or the network
/// replaced: the store goes to this process's directory, and there is no log
/// directory, key file or trusted issuer. Not an object: passed as it is.
fn sanitized_config(data: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice::<serde_json::Value>(data) else {
        return data.to_vec();
    };
    for key in ["hs_secret_file", "key_file", "master_key_file", "trusted_issuers"] {
        o.remove(key);
    }
    o.insert("store".into(), serde_json::json!({"url": store_url("open.db")}));
    if let Some(serde_json::Value::Object(log)) = o.get_mut("log") {
        log.remove("dir");
    }
    if let Some(serde_json::Value::Object(server)) = o.get_mut("server") {
        server.remove("tls_cert");
        server.remove("tls_key");
    }
    serde_json::Value::Object(o).to_string().into_bytes()
}

fn open_close(config: &[u8]) {
    let config = c_string(&sanitized_config(config));
    let mut h = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a NUL-terminated string and valid out-pointers.
    let s = unsafe { jwtauth_open_json_ex(config.as_ptr(), &mut h, &mut err) };
    check_error(s, err, b"");
    if s != jwtauth_status::Ok {
        assert!(h.is_null(), "a handle after a failure");
        return;
    }
    TOMBSTONES.lock().unwrap_or_else(|e| e.into_inner()).push(h as usize);
    let _ = issue(h, b"fuzz-open", &[b"Reader"], None, false);
    // SAFETY: a live handle, then a closed one (its memory stays valid by design).
    unsafe {
        let mut jwks = ptr::null_mut();
        assert_eq!(jwtauth_jwks(h, &mut jwks), jwtauth_status::Ok);
        let _: serde_json::Value = serde_json::from_str(&text(jwks)).expect("JWKS parses");
        jwtauth_string_free(jwks);
        jwtauth_close(h);
        let mut c = ptr::null_mut();
        assert_eq!(jwtauth_validate(h, c"x.y.z".as_ptr(), &mut c), jwtauth_status::Closed);
        jwtauth_close(h);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&op, rest)) = data.split_first() else { return };
    let fields: Vec<&[u8]> = rest.split(|b| *b == b'\n').collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(b"");
    let h = handle();
    match op % 8 {
        // A raw token (NUL bytes cut it, as in C).
        0 => {
            validate(h, rest, b"sub");
        }
        // header \n claims \n claim name, signed with the handle's secret: claims parsing is reached.
        1 => {
            let (header, rest) = split_parts(rest);
            let (claims, name) = split_parts(rest);
            let token = hs256_sign(header, claims);
            validate(h, token.as_bytes(), name);
        }
        // An Authorization header value and request context (client, method, path, user agent, request id).
        2 => {
            let req = Request::new(&fields[1.min(fields.len())..]);
            let raw = req.raw();
            let header = c_string(field(0));
            let header_ptr = if field(0).first() == Some(&0xFE) { ptr::null() } else { header.as_ptr() };
            let mut c = ptr::null_mut();
            let mut err = ptr::null_mut();
            // SAFETY: a live handle, NUL-terminated strings or NULL, valid out-pointers.
            let s = unsafe { jwtauth_validate_header_ex(h, header_ptr, &raw, &mut c, &mut err) };
            if header_ptr.is_null() {
                // The request's fields are checked (UTF-8) before the header.
                let utf8 = req.fields.iter().flatten().all(|f| f.to_str().is_ok());
                let expected = if utf8 { jwtauth_status::MissingToken } else { jwtauth_status::InvalidArgument };
                assert_eq!(s, expected);
            }
            check_error(s, err, field(0).strip_prefix(b"Bearer ").unwrap_or(b""));
            if s == jwtauth_status::Ok {
                // SAFETY: live claims; the role and request are NUL-terminated or NULL.
                let r = unsafe { jwtauth_require_role(h, c, header.as_ptr(), &raw) };
                assert!(matches!(r, jwtauth_status::Ok | jwtauth_status::InsufficientRole | jwtauth_status::InvalidArgument));
                read_claims(c, field(1));
            }
        }
        // subject \n extra JSON \n roles...
        3 => {
            let extra = (!field(1).is_empty()).then(|| field(1));
            let _ = issue(h, field(0), fields.get(2..).unwrap_or(&[]), extra, false);
        }
        // A session, then its refresh token spent, reused, and a fuzzed one.
        4 => {
            let roles: Vec<&[u8]> = fields.get(2..).unwrap_or(&[]).to_vec();
            if let Some(first) = issue(h, field(0), &roles, None, true).and_then(|i| i.refresh) {
                // SAFETY: a live handle, NUL-terminated tokens, valid out-pointers.
                unsafe {
                    let mut t = ptr::null_mut();
                    let s = jwtauth_refresh(h, first.as_ptr(), ptr::null(), &mut t);
                    assert!(matches!(s, jwtauth_status::Ok | jwtauth_status::RateLimited), "a fresh refresh token: {}", status_name(s));
                    if s == jwtauth_status::Ok {
                        jwtauth_tokens_free(t);
                        let mut t = ptr::null_mut();
                        let s = jwtauth_refresh(h, first.as_ptr(), ptr::null(), &mut t);
                        assert!(matches!(s, jwtauth_status::RefreshReused | jwtauth_status::RateLimited), "a spent refresh token: {}", status_name(s));
                    }
                    let mut known = false;
                    assert_eq!(jwtauth_revoke(h, first.as_ptr(), &mut known), jwtauth_status::Ok);
                }
            }
            let fuzzed = c_string(field(1));
            let req = Request::new(fields.get(2..).unwrap_or(&[]));
            let raw = req.raw();
            let mut t = ptr::null_mut();
            let mut err = ptr::null_mut();
            // SAFETY: as above.
            let s = unsafe { jwtauth_refresh_ex(h, fuzzed.as_ptr(), &raw, &mut t, &mut err) };
            check_error(s, err, field(1));
            if s == jwtauth_status::Ok {
                // SAFETY: live tokens, freed once.
                unsafe { jwtauth_tokens_free(t) };
            }
            let mut known = false;
            let mut err = ptr::null_mut();
            // SAFETY: as above.
            let s = unsafe { jwtauth_revoke_ex(h, fuzzed.as_ptr(), &mut known, &mut err) };
            check_error(s, err, field(1));
        }
        // A JSON configuration: open, issue, JWKS, close, a call on the closed handle.
        5 => {
            if rest.len() <= 4096 {
                open_close(rest);
            }
        }
        // Status numbers and names.
        6 => {
            let code = u32::from_le_bytes([field(0), &[0; 4]].concat()[..4].try_into().expect("4 bytes"));
            let name = text(jwtauth_status_str(code));
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "status name {name:?}");
            let _ = text(jwtauth_last_error());
        }
        // A token the handle issued, with fuzzed bytes appended or a claim name looked up.
        _ => {
            if let Some(issued) = issue(h, b"fuzz", &[b"Reader"], None, false) {
                let mut bytes = issued.access.into_bytes();
                bytes.extend_from_slice(field(0));
                let s = validate(h, &bytes, field(1));
                if field(0).is_empty() || field(0)[0] == 0 {
                    assert_eq!(s, jwtauth_status::Ok);
                }
            }
        }
    }
});
