/*
 * jwtauth.h: the C API of libjwtauth (issue, validate and refresh JSON Web Tokens).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Conventions
 *  - Every function that can fail returns a jwtauth_status: JWTAUTH_STATUS_OK (0),
 *    a failure reason of the core (1-99, the names of the failure log), or one of
 *    the library's own codes (100 and up). Only jwtauth_version, jwtauth_status_str,
 *    jwtauth_last_error, the jwtauth_error_* accessors and the _free/_close
 *    functions return something else.
 *  - Results come back through out-parameters, which are written only on success.
 *  - Strings are UTF-8 and NUL-terminated. A `const char *` result is owned by the
 *    object it came from and lives as long as that object; a `char *` result is
 *    yours and must be freed with jwtauth_string_free. Objects are freed with their
 *    own _free function (jwtauth_close for the handle); passing NULL to any of them
 *    is a no-op. Never free library memory with free().
 *  - Exception: jwtauth_validate_bytes takes the token as a pointer and a length,
 *    so bindings need no NUL-terminated copy; a NUL byte among those bytes makes
 *    the token MALFORMED (it is never cut short there). jwtauth_validate_utf16
 *    takes it as UTF-16 code units and their count, for runtimes whose strings
 *    are UTF-16 (.NET, Java, JavaScript engines).
 *  - An optional string argument (one documented as "NULL, or ...") treats ""
 *    exactly like NULL, so languages without nullable strings may pass "".
 *  - A NULL or non-UTF-8 argument returns JWTAUTH_STATUS_INVALID_ARGUMENT; nothing
 *    crashes and no Rust panic crosses into C (it becomes JWTAUTH_STATUS_INTERNAL).
 *  - A jwtauth handle may be used from any number of threads at once; claims and
 *    tokens objects are immutable and may be read from several threads.
 *  - The library writes no file and nothing to stderr unless configured: failure
 *    events and warnings go to jwtauth_set_event_callback's callback, and to the
 *    daily failure log files only when log.dir is configured.
 *
 * Error details, and which functions are safe from which runtime
 *  - Every function of the handle (jwtauth_open..., jwtauth_issue, jwtauth_validate...,
 *    jwtauth_require_role, jwtauth_jwks, sessions, keys) has an _ex twin taking a
 *    last `jwtauth_error **err`: on failure *err receives that call's own status,
 *    reason name and hint (free it with jwtauth_error_free); on success it is set
 *    to NULL. The _ex functions never read or write per-thread state: they are
 *    safe from every runtime, including those that move work between OS threads
 *    (Go goroutines, .NET async/await, Node/koffi async calls, green threads).
 *  - jwtauth_last_error() is per OS thread and valid until the next jwtauth call on
 *    that thread. It is safe only where the failing call and the read are sure to
 *    run on the same OS thread with no jwtauth call between them: C, C++, Rust,
 *    Python (ctypes/cffi threads are OS threads), synchronous Java/JNI. Bindings
 *    for Go, .NET and Node must use the _ex functions. The _ex functions leave it
 *    untouched; the functions without _ex set it as before.
 *  - The claims and tokens accessors fail only with INVALID_ARGUMENT, NOT_FOUND or
 *    TYPE_MISMATCH, which together with the arguments describe the failure fully;
 *    their status is safe everywhere, their jwtauth_last_error hint only as above.
 *
 * Handles, close and fork()
 *  - A handle is reference-counted inside: each call holds the runtime while it
 *    runs. jwtauth_close may run while other threads are in calls: they finish,
 *    the runtime is freed when the last returns, and later calls return
 *    JWTAUTH_STATUS_CLOSED. The handle's few bytes are never freed, so a call on a
 *    closed handle, or a second jwtauth_close, is detected however late it comes.
 *    Not detectable: a pointer that never was a handle.
 *  - fork(): a child inherits a copy of its parent's handles but none of their
 *    threads (the background thread that keeps revocations and keys fresh, the
 *    failure log writer), and it must not use its parent's store connections
 *    (SQLite forbids it; PostgreSQL connections would be shared). So the first call
 *    on a handle in a child, or jwtauth_reopen, opens the store afresh and starts
 *    those threads for the child, with the same configuration; the failure log
 *    files are reopened likewise. The parent's connections and threads are never
 *    used nor closed by the child: they are left as they are (a little memory, the
 *    child's own copy). Nothing inherited goes stale: the child sees revocations
 *    and new keys as any other process sharing the store does.
 *  - Pre-fork servers (gunicorn --preload, uWSGI, Apache prefork) may open the
 *    handle in the parent, and should call jwtauth_reopen in their post-fork hook
 *    so that the store is opened, and any error seen, before requests arrive.
 *    When reopening fails (STORE, CONFIG), the call that tried fails with a hint
 *    naming the parent's process, and the next call tries again.
 *  - As POSIX requires of a process with threads, fork while no other thread of
 *    the parent is inside a jwtauth call; the library's own background threads
 *    need no care, since the child never touches what they hold.
 *
 * ABI stability
 * *  Within a major version (the first number of jwtauth_version()),
 *  existing functions, their parameters, struct layouts and status
 *  numbers do not change; new functions and new status codes may be added.
 *  Handle, claims and tokens types are opaque: only ever use pointers to them.
 */

#ifndef JWTAUTH_H
#define JWTAUTH_H

/* Generated by cbindgen from ffi/src; do not edit by hand.
 * Regenerate with: JWTAUTH_BLESS=1 cargo test -p jwtauth-ffi --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * The result of every fallible function: 0 (`JWTAUTH_STATUS_OK`) on success, else
 * why it failed. `jwtauth_last_error()` then holds a hint for humans.
 *
 * The numbers are stable: codes 1 to 99 are the core's failure reasons (the same
 * names appear in the failure log and the HTTP API); new reasons are only ever
 * appended. Codes from 100 on are the library's own. A new version may add codes,
 * so treat an unknown one like `JWTAUTH_STATUS_INTERNAL` and print it with
 * `jwtauth_status_str`.
 */
enum jwtauth_status
#ifdef __cplusplus
  : uint32_t
#endif // __cplusplus
 {
  /**
   * Success; the out-parameters were written.
   */
  JWTAUTH_STATUS_OK = 0,
  /**
   * No token was presented (NULL header, empty token, "Bearer" alone).
   */
  JWTAUTH_STATUS_MISSING_TOKEN = 1,
  /**
   * The Authorization header does not use the `Bearer` scheme (e.g. a bare token).
   */
  JWTAUTH_STATUS_BAD_SCHEME = 2,
  /**
   * Not a well-formed compact JWS with a JSON claims set (wrong claim types,
   * duplicate members and `crit` headers included).
   */
  JWTAUTH_STATUS_MALFORMED = 3,
  /**
   * The token is larger than `max_token_size`; refused before any decoding.
   */
  JWTAUTH_STATUS_TOO_LARGE = 4,
  /**
   * `none`, an unsupported algorithm, or not the one the key is pinned to.
   */
  JWTAUTH_STATUS_ALG_NOT_ALLOWED = 5,
  /**
   * No usable key has the token's `kid`.
   */
  JWTAUTH_STATUS_UNKNOWN_KID = 6,
  /**
   * The signature does not verify.
   */
  JWTAUTH_STATUS_BAD_SIGNATURE = 7,
  /**
   * `exp` plus the leeway has passed.
   */
  JWTAUTH_STATUS_EXPIRED = 8,
  /**
   * `nbf` or `iat` lies in the future beyond the leeway.
   */
  JWTAUTH_STATUS_NOT_YET_VALID = 9,
  /**
   * `iss` differs from the configured issuer.
   */
  JWTAUTH_STATUS_WRONG_ISSUER = 10,
  /**
   * `aud` names none of the configured audiences.
   */
  JWTAUTH_STATUS_WRONG_AUDIENCE = 11,
  /**
   * `exp`, `iss`, `aud` or `sub` is absent.
   */
  JWTAUTH_STATUS_MISSING_CLAIM = 12,
  /**
   * The session or the subject was revoked.
   */
  JWTAUTH_STATUS_REVOKED = 13,
  /**
   * A required role is missing.
   */
  JWTAUTH_STATUS_INSUFFICIENT_ROLE = 14,
  /**
   * The refresh token is unknown or not usable.
   */
  JWTAUTH_STATUS_REFRESH_INVALID = 15,
  /**
   * The refresh token or its session has expired.
   */
  JWTAUTH_STATUS_REFRESH_EXPIRED = 16,
  /**
   * A spent refresh token was presented again; its whole session is revoked.
   */
  JWTAUTH_STATUS_REFRESH_REUSED = 17,
  /**
   * Wrong username or password.
   */
  JWTAUTH_STATUS_BAD_CREDENTIALS = 18,
  /**
   * Too many attempts.
   */
  JWTAUTH_STATUS_RATE_LIMITED = 19,
  /**
   * An argument is NULL, not UTF-8, out of range or otherwise unusable (e.g. an
   * empty subject, extra claims that are not a JSON object). Nothing was done.
   */
  JWTAUTH_STATUS_INVALID_ARGUMENT = 100,
  /**
   * The configuration (file, environment, JSON, key file, log directory) is unusable;
   * the hint names the key and the fix.
   */
  JWTAUTH_STATUS_CONFIG = 101,
  /**
   * The store (SQLite file or PostgreSQL) failed or is unreachable.
   */
  JWTAUTH_STATUS_STORE = 102,
  /**
   * A bug or an unexpected condition inside the library (a caught panic included).
   */
  JWTAUTH_STATUS_INTERNAL = 103,
  /**
   * The claim, value or index asked for is not there (e.g. a token without `jti`).
   */
  JWTAUTH_STATUS_NOT_FOUND = 104,
  /**
   * The claim exists but has another JSON type than asked for, or holds a NUL
   * character and so cannot be returned as a C string.
   */
  JWTAUTH_STATUS_TYPE_MISMATCH = 105,
  /**
   * The handle was closed with `jwtauth_close`; nothing was done. Open a new one.
   */
  JWTAUTH_STATUS_CLOSED = 106,
};
#ifndef __cplusplus
typedef uint32_t jwtauth_status;
#endif // __cplusplus

/**
 * What an event handed to the callback is.
 */
enum jwtauth_event_kind
#ifdef __cplusplus
  : uint32_t
#endif // __cplusplus
 {
  /**
   * An authentication failure: the JSON is exactly a line of the failure log
   * (`time`, `reason`, `hint`, `kid`, `subject`, `subject_verified`,
   * `fingerprint`, `client`, `method`, `path`, `user_agent`, `request_id`,
   * `client_id`, `issuer`; absent members are omitted).
   */
  JWTAUTH_EVENT_KIND_FAILURE = 1,
  /**
   * A warning or error of the library (e.g. signing keys stored unencrypted, a
   * background reload that failed): `{"time":…,"level":"WARN","target":…,"message":…}`.
   */
  JWTAUTH_EVENT_KIND_WARNING = 2,
};
#ifndef __cplusplus
typedef uint32_t jwtauth_event_kind;
#endif // __cplusplus

/**
 * An open jwtauth runtime: configuration, the store (`store.url`: SQLite file or
 * PostgreSQL) with sessions and signing keys, and a background thread that keeps
 * the key ring and revocations fresh.
 *
 * Ownership: made by `jwtauth_open` or `jwtauth_open_json`, closed by
 * `jwtauth_close`; objects it hands out (claims, tokens, strings) do not borrow
 * from it and may outlive it. The handle is reference-counted inside: each call
 * holds the runtime while it runs, and `jwtauth_close` drops the library's
 * reference, so the runtime ends when the last call in flight returns. The
 * handle's own few bytes are never freed (a tombstone): after `jwtauth_close`
 * the pointer stays valid memory, every call on it returns
 * `JWTAUTH_STATUS_CLOSED` and a second `jwtauth_close` does nothing. So each
 * `jwtauth_open` costs those bytes for the life of the process: open handles at
 * start-up, not per request.
 *
 * Thread safety: every function, `jwtauth_close` included, may be called from any
 * number of threads at once on the same handle.
 *
 * fork(): a child process may keep using a handle its parent opened. Its first
 * call (or `jwtauth_reopen`) opens the store afresh and starts the background
 * thread in the child; the parent's connections and threads are left untouched
 * (see "Handles, close and fork()" at the top of this header).
 */
typedef struct jwtauth jwtauth;

/**
 * The claims of a token that passed validation; holding one means the token was
 * verified.
 *
 * Ownership: made by `jwtauth_validate` / `jwtauth_validate_header`, freed once by
 * `jwtauth_claims_free`. Strings returned as `const char *` by the accessors are
 * owned by the claims object and stay valid until it is freed; strings returned as
 * `char *` belong to the caller (`jwtauth_string_free`).
 *
 * Thread safety: read-only; any number of threads may call accessors on the same
 * object at once.
 */
typedef struct jwtauth_claims jwtauth_claims;

/**
 * Why one call failed: its status, the reason's name and a hint for humans.
 *
 * Ownership: made by an `_ex` function that failed, written to its `err`
 * out-parameter, and freed once by the caller with `jwtauth_error_free`. The
 * strings its accessors return are owned by the error and live until it is freed.
 *
 * Thread safety: immutable; any thread may read or free it (not while another reads).
 */
typedef struct jwtauth_error jwtauth_error;

/**
 * Tokens just issued: an access token, and after `jwtauth_session_start` or
 * `jwtauth_refresh` also a refresh token.
 *
 * Ownership: made by `jwtauth_issue`, `jwtauth_session_start` or `jwtauth_refresh`,
 * freed once by `jwtauth_tokens_free` (which overwrites the token bytes). Strings
 * returned by the accessors are owned by this object and stay valid until it is
 * freed: copy them if you keep them longer.
 *
 * Thread safety: read-only; any number of threads may read it at once.
 */
typedef struct jwtauth_tokens jwtauth_tokens;

/**
 * Receives each event: `kind`, then `json` (`len` bytes, NUL-terminated, valid only
 * during the call: copy it to keep it) and the `user_data` given at registration.
 *
 * It is called on the thread of the call that caused the event, so from any
 * thread, possibly several at once: it must be thread-safe, return quickly, not
 * unwind (no C++ exception, no longjmp) and not call `jwtauth_set_event_callback`.
 * Events caused by jwtauth calls it makes itself are dropped. Never a secret or a
 * whole token in it.
 */
typedef void (*jwtauth_event_callback)(void *user_data,
                                       jwtauth_event_kind kind,
                                       const char *json,
                                       size_t len);

/**
 * Request context recorded with a failure in the failure log. Every field is
 * optional (NULL); non-NULL fields must be NUL-terminated UTF-8.
 *
 * ABI: fields are only ever appended in a new major version.
 */
typedef struct {
  /**
   * Client address, e.g. "203.0.113.7:51234".
   */
  const char *client;
  /**
   * HTTP method, e.g. "GET".
   */
  const char *method;
  /**
   * Request path without the query string.
   */
  const char *path;
  /**
   * The User-Agent header.
   */
  const char *user_agent;
  /**
   * A request id to correlate log lines.
   */
  const char *request_id;
} jwtauth_request;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The library version ("MAJOR.MINOR.PATCH"), a static string (never free it).
 * The ABI is stable within a major version (see the note at the top of this header).
 */
const char *jwtauth_version(void);

/**
 * The snake_case name of a status ("ok", "expired", "invalid_argument"…), the
 * same names the failure log and the HTTP API use; "unknown" for a number no
 * status has. A static string (never free it).
 */
const char *jwtauth_status_str(uint32_t status);

/**
 * The hint for humans left by the last call on this thread that failed ("" after
 * a call that succeeded): e.g. "token expired 42 s ago (exp 1795870000, leeway 30 s)".
 * It never contains a secret or a whole token.
 *
 * The string belongs to the library and stays valid until the next jwtauth call
 * on the same thread: copy it to keep it. Each thread has its own, so it is safe
 * only where the failing call and this read surely run on one OS thread with no
 * jwtauth call between them (C, C++, Rust, Python). From Go, .NET async code or
 * Node use the `_ex` functions, which return each call's own `jwtauth_error`.
 */
const char *jwtauth_last_error(void);

/**
 * Frees a string this library returned as `char *` (JWKS, JSON, kid…). NULL is
 * a no-op. Never pass a `const char *` the library returned (those are owned by
 * their object) nor memory from elsewhere.
 *
 * # Safety
 * `s` is NULL or a `char *` from this library not freed before.
 */
void jwtauth_string_free(char *s);

/**
 * Frees claims. NULL is a no-op; freeing twice is a bug in the caller.
 *
 * # Safety
 * `claims` is NULL or an object from this library not freed before.
 */
void jwtauth_claims_free(jwtauth_claims *claims);

/**
 * The subject (`sub`), never empty.
 *
 * On success `*out` points to a string owned by `claims` (valid until
 * `jwtauth_claims_free`). Errors: `INVALID_ARGUMENT` (NULL argument),
 * `TYPE_MISMATCH` (the subject holds a NUL character).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_subject(const jwtauth_claims *claims, const char **out);

/**
 * The issuer (`iss`), equal to the configured issuer.
 *
 * On success `*out` points to a string owned by `claims`. Errors: as
 * `jwtauth_claims_subject`.
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_issuer(const jwtauth_claims *claims, const char **out);

/**
 * The token id (`jti`); tokens issued by jwtauth always have one.
 *
 * On success `*out` points to a string owned by `claims`. Errors: as
 * `jwtauth_claims_subject`, and `NOT_FOUND` when the token has no `jti`.
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_jwt_id(const jwtauth_claims *claims, const char **out);

/**
 * The id of the key that verified the token (not a claim: jwtauth's own record).
 *
 * On success `*out` points to a string owned by `claims`.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_kid(const jwtauth_claims *claims, const char **out);

/**
 * When the token expires (`exp`); always present.
 *
 * On success `*out` receives seconds since 1970-01-01T00:00:00Z.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_expires_at(const jwtauth_claims *claims, int64_t *out);

/**
 * When the token was issued (`iat`); `NOT_FOUND` when absent.
 *
 * On success `*out` receives seconds since 1970-01-01T00:00:00Z.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_issued_at(const jwtauth_claims *claims, int64_t *out);

/**
 * When the token becomes valid (`nbf`); `NOT_FOUND` when absent.
 *
 * On success `*out` receives seconds since 1970-01-01T00:00:00Z.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_not_before(const jwtauth_claims *claims, int64_t *out);

/**
 * How many roles the roles claim (`roles_claim`: "roles", or "role" like .NET) holds.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_role_count(const jwtauth_claims *claims, size_t *out);

/**
 * The role at `index` (0-based, in token order).
 *
 * On success `*out` points to a string owned by `claims`.
 * Errors: `INVALID_ARGUMENT` (NULL argument), `NOT_FOUND` (`index` out of
 * range), `TYPE_MISMATCH` (the value holds a NUL character).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_role_at(const jwtauth_claims *claims, size_t index, const char **out);

/**
 * How many audiences `aud` names (a single string counts as one).
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_audience_count(const jwtauth_claims *claims, size_t *out);

/**
 * The audience at `index` (0-based).
 *
 * On success `*out` points to a string owned by `claims`.
 * Errors: `INVALID_ARGUMENT` (NULL argument), `NOT_FOUND` (`index` out of
 * range), `TYPE_MISMATCH` (the value holds a NUL character).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_audience_at(const jwtauth_claims *claims,
                                          size_t index,
                                          const char **out);

/**
 * Whether the roles claim contains `role` (exact and case-sensitive, like
 * ASP.NET's `IsInRole`). `*out` receives true or false.
 * Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `role` is NULL or NUL-terminated;
 * `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_has_role(const jwtauth_claims *claims, const char *role, bool *out);

/**
 * Any string claim by name (registered ones included, e.g. "sub", or an extra
 * claim such as "tenant").
 *
 * On success `*out` points to a string owned by `claims`.
 * Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument), `NOT_FOUND` (no such
 * claim), `TYPE_MISMATCH` (not a string, or holds a NUL character).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
 * `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_get_str(const jwtauth_claims *claims,
                                      const char *name,
                                      const char **out);

/**
 * Any integer claim by name (e.g. "exp", or an extra claim such as "tenant_id").
 * Errors: `INVALID_ARGUMENT`, `NOT_FOUND`, `TYPE_MISMATCH` (not an integer that
 * fits in int64_t).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
 * `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_get_int(const jwtauth_claims *claims, const char *name, int64_t *out);

/**
 * Any boolean claim by name (e.g. "email_verified").
 * Errors: `INVALID_ARGUMENT`, `NOT_FOUND`, `TYPE_MISMATCH`.
 *
 * # Safety
 * `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
 * `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_get_bool(const jwtauth_claims *claims, const char *name, bool *out);

/**
 * Any claim by name as JSON text (for arrays, objects, numbers with fractions).
 * The roles claim is read with the role accessors instead.
 *
 * On success `*out` receives a string to free with `jwtauth_string_free`.
 * Errors: `INVALID_ARGUMENT`, `NOT_FOUND`.
 *
 * # Safety
 * `claims` is NULL or a live claims object; `name` is NULL or NUL-terminated;
 * `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_get_json(const jwtauth_claims *claims, const char *name, char **out);

/**
 * The whole claims set as one JSON object (registered claims, the roles claim and
 * every extra claim).
 *
 * On success `*out` receives a string to free with `jwtauth_string_free`.
 * Errors: `INVALID_ARGUMENT` (NULL argument).
 *
 * # Safety
 * `claims` is NULL or a live claims object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_claims_to_json(const jwtauth_claims *claims, char **out);

/**
 * The status of a failed call (never `JWTAUTH_STATUS_OK`); `INVALID_ARGUMENT`
 * for NULL.
 *
 * # Safety
 * `err` is NULL or a live error from this library.
 */
jwtauth_status jwtauth_error_status(const jwtauth_error *err);

/**
 * The snake_case name of the status ("expired", "invalid_argument"…), as
 * `jwtauth_status_str` gives it: a static string. "invalid_argument" for NULL.
 *
 * # Safety
 * `err` is NULL or a live error from this library.
 */
const char *jwtauth_error_reason(const jwtauth_error *err);

/**
 * The hint for humans, e.g. "token expired 42 s ago (exp 1795870000, leeway 30 s)";
 * never a secret or a whole token. Owned by `err`; "" for NULL.
 *
 * # Safety
 * `err` is NULL or a live error from this library.
 */
const char *jwtauth_error_hint(const jwtauth_error *err);

/**
 * Frees an error. NULL is a no-op.
 *
 * # Safety
 * `err` is NULL or an error from this library not freed before.
 */
void jwtauth_error_free(jwtauth_error *err);

/**
 * Registers the function that receives every failure event and warning of the
 * library, in this process (all handles), from now on; NULL unregisters it. When
 * this returns, no call of the previous callback is still running, so its
 * `user_data` may be freed.
 *
 * Without a callback and without `log.dir` events are dropped: the library writes
 * no file and nothing to stderr (set `RUST_LOG`, e.g. `RUST_LOG=warn`, to print
 * warnings to stderr). With `log.dir` the failure log files are written as well.
 *
 * Errors: `INVALID_ARGUMENT` when called from inside the callback itself.
 * `CONFIG` when the process already has a `tracing` subscriber of its own (a Rust
 * host): route `jwtauth_core`'s events there instead.
 *
 * # Safety
 * `callback` is NULL or a function as `jwtauth_event_callback` describes, callable
 * with `user_data` from any thread until it is replaced.
 */
jwtauth_status jwtauth_set_event_callback(jwtauth_event_callback callback, void *user_data);

/**
 * Opens a runtime from a configuration file, exactly like the jwtauth binaries:
 * `config_path`, or if it is NULL the file named by `$JWTAUTH_CONFIG`, else
 * `./jwtauth.toml` if it exists, else the laptop defaults; then the `JWTAUTH_*`
 * environment overrides. Failure events go to the event callback (see
 * `jwtauth_set_event_callback`) and, when `log.dir` is configured, to the daily
 * failure log files there (the first handle that configures it opens them; they
 * are one per process). Without `log.dir` the library writes no log file.
 *
 * On success `*out` receives a handle to close with `jwtauth_close`. It may be
 * used from any thread, and in child processes after `fork()`: there the first
 * call (or `jwtauth_reopen`) opens the store again and restarts the background
 * thread for the child, so the child never uses the parent's connections and its
 * revocations and keys stay fresh (see "Handles, close and fork()" at the top of
 * this header).
 * Errors: `INVALID_ARGUMENT` (`out` NULL, path not UTF-8), `CONFIG` (unreadable
 * file, unknown key, bad value, weak secret, bad key file, log directory not
 * writable), `STORE` (the store cannot be opened).
 *
 * # Safety
 * `config_path` is NULL or a NUL-terminated string; `out` is valid for writing.
 */
jwtauth_status jwtauth_open(const char *config_path, jwtauth **out);

/**
 * Like `jwtauth_open`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_open`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_open_ex(const char *config_path, jwtauth **out, jwtauth_error **err);

/**
 * Opens a runtime from a JSON object with the same keys as `jwtauth.toml`
 * (e.g. `{"algorithm":"HS256","issuer":"https://auth.example.com"}`); the
 * `JWTAUTH_*` environment still overrides it. Otherwise like `jwtauth_open`.
 *
 * # Safety
 * `config_json` is NULL or a NUL-terminated string; `out` is valid for writing.
 */
jwtauth_status jwtauth_open_json(const char *config_json, jwtauth **out);

/**
 * Like `jwtauth_open_json`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_open_json`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_open_json_ex(const char *config_json, jwtauth **out, jwtauth_error **err);

/**
 * Issues an access token for `subject`, signed by the active key and valid for
 * `access_ttl`.
 *
 * `roles`: `roles_len` NUL-terminated strings (NULL when `roles_len` is 0).
 * `extra_json`: NULL, or a JSON object of further claims (it may not set `iss`,
 * `sub`, `aud`, `exp`, `nbf`, `iat`, `jti` or the roles claim).
 * On success `*out` receives tokens to free with `jwtauth_tokens_free` (no
 * refresh token: see `jwtauth_session_start`).
 * Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument, empty subject, extra
 * claims not an object or reserved), `INTERNAL`.
 *
 * # Safety
 * `handle` is a live handle; strings are NULL or NUL-terminated; `roles` holds
 * `roles_len` pointers; `out` is valid for writing.
 */
jwtauth_status jwtauth_issue(const jwtauth *handle,
                             const char *subject,
                             const char *const *roles,
                             size_t roles_len,
                             const char *extra_json,
                             jwtauth_tokens **out);

/**
 * Like `jwtauth_issue`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_issue`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_issue_ex(const jwtauth *handle,
                                const char *subject,
                                const char *const *roles,
                                size_t roles_len,
                                const char *extra_json,
                                jwtauth_tokens **out,
                                jwtauth_error **err);

/**
 * The public keys as a JWKS document (RFC 7517), e.g. to serve at
 * `/.well-known/jwks.json`. HS secrets never appear (an HS-only setup gives
 * `{"keys":[]}`).
 *
 * On success `*out` receives a JSON string to free with `jwtauth_string_free`.
 *
 * # Safety
 * `handle` is a live handle; `out` is valid for writing.
 */
jwtauth_status jwtauth_jwks(const jwtauth *handle, char **out);

/**
 * Like `jwtauth_jwks`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_jwks`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_jwks_ex(const jwtauth *handle, char **out, jwtauth_error **err);

/**
 * Closes a handle: later calls on it return `JWTAUTH_STATUS_CLOSED`. Calls
 * running on other threads meanwhile finish normally; the runtime (store
 * connections, background thread, key ring) is freed when the last of them
 * returns. Closing again, or closing NULL, does nothing. Claims, tokens and
 * strings the handle handed out stay valid until freed.
 *
 * What can be detected: any call on a handle `jwtauth_open` returned, however
 * long after its close, because its memory is never freed. What cannot: a
 * pointer that never was a handle. In a child after `fork()` the parent's runtime
 * is left untouched (kept, not freed).
 *
 * # Safety
 * `handle` is NULL or a handle from `jwtauth_open*`.
 */
void jwtauth_close(jwtauth *handle);

/**
 * Makes the handle ready in this process. In a child after `fork()`, opens the
 * store afresh and starts the background thread that keeps revocations and keys
 * fresh, as the first call on the handle in the child otherwise does by itself:
 * call it in a post-fork hook (gunicorn's `post_fork`, uWSGI's `@postfork`) to
 * pay that cost and see its errors before serving. In the process that opened
 * the handle it does nothing.
 *
 * Errors: `CLOSED`, `INVALID_ARGUMENT` (NULL handle), `STORE` or `CONFIG` (the
 * store or the failure log cannot be opened in this process; the hint names the
 * process that opened the handle). After a failure the next call tries again.
 *
 * # Safety
 * `handle` is a handle from `jwtauth_open*` (or NULL).
 */
jwtauth_status jwtauth_reopen(const jwtauth *handle);

/**
 * Like `jwtauth_reopen`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_reopen`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_reopen_ex(const jwtauth *handle, jwtauth_error **err);

/**
 * Starts a session (a login, after the application checked the credentials): an
 * access token and the first refresh token of a new session, stored in the store.
 * Roles and extra claims are kept with the session and carried into every access
 * token that `jwtauth_refresh` issues.
 *
 * Arguments as for `jwtauth_issue`. On success `*out` receives tokens with a
 * refresh token, to free with `jwtauth_tokens_free`.
 * Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument, empty subject, extra
 * claims not an object or reserved), `STORE`, `INTERNAL`.
 *
 * # Safety
 * `handle` is a live handle; strings are NULL or NUL-terminated; `roles` holds
 * `roles_len` pointers; `out` is valid for writing.
 */
jwtauth_status jwtauth_session_start(const jwtauth *handle,
                                     const char *subject,
                                     const char *const *roles,
                                     size_t roles_len,
                                     const char *extra_json,
                                     jwtauth_tokens **out);

/**
 * Like `jwtauth_session_start`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_session_start`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_session_start_ex(const jwtauth *handle,
                                        const char *subject,
                                        const char *const *roles,
                                        size_t roles_len,
                                        const char *extra_json,
                                        jwtauth_tokens **out,
                                        jwtauth_error **err);

/**
 * Spends a refresh token and returns a new access token and a new refresh token
 * (rotation: the one given is spent). Presenting a spent refresh token again
 * revokes its whole session. Every failure is recorded in the failure log.
 *
 * `request`: NULL, or context for the failure log.
 * On success `*out` receives tokens to free with `jwtauth_tokens_free`.
 * Errors: `REFRESH_INVALID` (unknown token), `REFRESH_EXPIRED` (idle or absolute
 * lifetime over: log in again), `REFRESH_REUSED` (a spent token: the session is
 * now revoked), `REVOKED` (the session was logged out), `INVALID_ARGUMENT`,
 * `STORE`.
 *
 * # Safety
 * `handle` is a live handle; `refresh_token` is NULL or NUL-terminated; `request`
 * is NULL or valid; `out` is valid for writing.
 */
jwtauth_status jwtauth_refresh(const jwtauth *handle,
                               const char *refresh_token,
                               const jwtauth_request *request,
                               jwtauth_tokens **out);

/**
 * Like `jwtauth_refresh`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_refresh`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_refresh_ex(const jwtauth *handle,
                                  const char *refresh_token,
                                  const jwtauth_request *request,
                                  jwtauth_tokens **out,
                                  jwtauth_error **err);

/**
 * Logout: revokes the session of `refresh_token`: its refresh tokens stop working,
 * and access tokens issued for it (their `sid` claim names the session) fail with
 * `REVOKED` (in this process at once, in other processes sharing the store within
 * `revocation_staleness`). Revoking twice is fine.
 *
 * `known`: NULL, or receives whether the token belonged to a session.
 * Errors: `INVALID_ARGUMENT`, `STORE`.
 *
 * # Safety
 * `handle` is a live handle; `refresh_token` is NULL or NUL-terminated; `known` is
 * NULL or valid for writing.
 */
jwtauth_status jwtauth_revoke(const jwtauth *handle, const char *refresh_token, bool *known);

/**
 * Like `jwtauth_revoke`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_revoke`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_revoke_ex(const jwtauth *handle,
                                 const char *refresh_token,
                                 bool *known,
                                 jwtauth_error **err);

/**
 * Logout everywhere: revokes every session of `subject`, and access tokens issued
 * to it up to now fail with `REVOKED` (in this process at once, in other processes
 * sharing the store within `revocation_staleness`).
 *
 * `revoked`: NULL, or receives how many sessions were revoked.
 * Errors: `INVALID_ARGUMENT`, `STORE`.
 *
 * # Safety
 * `handle` is a live handle; `subject` is NULL or NUL-terminated; `revoked` is
 * NULL or valid for writing.
 */
jwtauth_status jwtauth_revoke_subject(const jwtauth *handle,
                                      const char *subject,
                                      uint64_t *revoked);

/**
 * Like `jwtauth_revoke_subject`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_revoke_subject`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_revoke_subject_ex(const jwtauth *handle,
                                         const char *subject,
                                         uint64_t *revoked,
                                         jwtauth_error **err);

/**
 * Rotates the signing key the planned way: a new key (of `algorithm`, e.g.
 * "ES256", or the configured one when NULL) is in the JWKS (`jwtauth_jwks`) at
 * once and starts signing `key_publish_ahead` (default 10 minutes) after this
 * call. Until that instant tokens are still signed by the current key, so relying
 * parties that cache the JWKS have fetched the new key before any token carries
 * it. At that instant, which is stored, every process sharing the store switches
 * to it without a reload, and the previous key keeps verifying until its tokens
 * have expired. A key made by an earlier call that has not started signing yet is
 * replaced. With `key_publish_ahead = 0` this is `jwtauth_rotate_key_now`.
 *
 * On success `*kid_out` receives the new key id, to free with `jwtauth_string_free`.
 * Errors: `INVALID_ARGUMENT` (unknown algorithm name, an HS algorithm, NULL
 * `kid_out`), `STORE`, `INTERNAL`.
 *
 * # Safety
 * `handle` is a live handle; `algorithm` is NULL or NUL-terminated; `kid_out` is
 * valid for writing.
 */
jwtauth_status jwtauth_rotate_key(const jwtauth *handle, const char *algorithm, char **kid_out);

/**
 * Like `jwtauth_rotate_key`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_rotate_key`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_rotate_key_ex(const jwtauth *handle,
                                     const char *algorithm,
                                     char **kid_out,
                                     jwtauth_error **err);

/**
 * Rotates the signing key in an emergency (the active key leaked): the new key
 * (of `algorithm`, or the configured one when NULL) signs from this call on, and
 * the previous one becomes verify-only until its tokens have expired. Relying
 * parties that cached the JWKS refuse the new key's tokens (unknown kid) until
 * they fetch it again, and other processes sharing the store sign with it from
 * their next reload; prefer `jwtauth_rotate_key` for a planned rotation.
 *
 * Arguments, result and errors as for `jwtauth_rotate_key`.
 *
 * # Safety
 * As for `jwtauth_rotate_key`.
 */
jwtauth_status jwtauth_rotate_key_now(const jwtauth *handle, const char *algorithm, char **kid_out);

/**
 * Like `jwtauth_rotate_key_now`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_rotate_key_now`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_rotate_key_now_ex(const jwtauth *handle,
                                         const char *algorithm,
                                         char **kid_out,
                                         jwtauth_error **err);

/**
 * Frees tokens, overwriting their bytes first. NULL is a no-op.
 *
 * # Safety
 * `tokens` is NULL or an object from this library not freed before.
 */
void jwtauth_tokens_free(jwtauth_tokens *tokens);

/**
 * The access token (compact JWS), to send as `Authorization: Bearer <token>`.
 * `*out` points to a string owned by `tokens`. Errors: `INVALID_ARGUMENT`.
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_access_token(const jwtauth_tokens *tokens, const char **out);

/**
 * When the access token expires (`exp`, seconds since the Unix epoch).
 * Errors: `INVALID_ARGUMENT`.
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_access_expires_at(const jwtauth_tokens *tokens, int64_t *out);

/**
 * The access token's id (`jti`). `*out` points to a string owned by `tokens`.
 * Errors: `INVALID_ARGUMENT`.
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_jwt_id(const jwtauth_tokens *tokens, const char **out);

/**
 * The id of the key that signed the access token. `*out` points to a string
 * owned by `tokens`. Errors: `INVALID_ARGUMENT`.
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_kid(const jwtauth_tokens *tokens, const char **out);

/**
 * The refresh token: opaque, secret, single-use (each `jwtauth_refresh` returns
 * a new one). `*out` points to a string owned by `tokens`.
 * Errors: `INVALID_ARGUMENT`, `NOT_FOUND` (tokens from `jwtauth_issue`).
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_refresh_token(const jwtauth_tokens *tokens, const char **out);

/**
 * When the refresh token expires if unused (seconds since the Unix epoch).
 * Errors: `INVALID_ARGUMENT`, `NOT_FOUND` (tokens from `jwtauth_issue`).
 *
 * # Safety
 * `tokens` is NULL or a live tokens object; `out` is NULL or valid for writing.
 */
jwtauth_status jwtauth_tokens_refresh_expires_at(const jwtauth_tokens *tokens, int64_t *out);

/**
 * Validates a compact JWS strictly (signature, algorithm pinned to the key,
 * `exp`/`nbf`/`iat` with leeway, `iss`, `aud`, `sub`; see the README). A failure
 * is recorded in the failure log.
 *
 * `token`: the token alone, NUL-terminated. Its bytes are untrusted input: they
 * need not be UTF-8 (such a token fails as `MALFORMED`).
 * On success `*out` receives the verified claims, to free with `jwtauth_claims_free`.
 * Errors: a failure reason (1–19: `EXPIRED`, `BAD_SIGNATURE`, …; the hint says
 * more), `INVALID_ARGUMENT` (a NULL argument).
 *
 * Thread safety: any number of threads may validate on one handle at once.
 *
 * # Safety
 * `handle` is a live handle; `token` is NULL or NUL-terminated; `out` is valid for writing.
 */
jwtauth_status jwtauth_validate(const jwtauth *handle, const char *token, jwtauth_claims **out);

/**
 * Like `jwtauth_validate`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_validate`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_validate_ex(const jwtauth *handle,
                                   const char *token,
                                   jwtauth_claims **out,
                                   jwtauth_error **err);

/**
 * Like `jwtauth_validate`, with the token given as `len` bytes at `token` rather
 * than NUL-terminated, so a binding passes its own string's bytes without making
 * a terminated copy. The bytes are untrusted input: a NUL byte among them makes
 * the token `MALFORMED` (it is never cut short there), `len` 0 is an empty token
 * (`MISSING_TOKEN`, and `token` may then be NULL), a `len` over the configured
 * maximum size is `TOO_LARGE`. The library reads the bytes during the call only.
 * Errors: as `jwtauth_validate`; `INVALID_ARGUMENT` also for a NULL `token` with
 * `len` above 0.
 *
 * # Safety
 * `handle` is a live handle; `token` is NULL or points to `len` readable bytes;
 * `out` is valid for writing.
 */
jwtauth_status jwtauth_validate_bytes(const jwtauth *handle,
                                      const uint8_t *token,
                                      size_t len,
                                      jwtauth_claims **out);

/**
 * Like `jwtauth_validate_bytes`; on failure `*err` (when `err` is not NULL) receives
 * the details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_validate_bytes`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_validate_bytes_ex(const jwtauth *handle,
                                         const uint8_t *token,
                                         size_t len,
                                         jwtauth_claims **out,
                                         jwtauth_error **err);

/**
 * Like `jwtauth_validate_bytes`, with the token given as `len` UTF-16 code units
 * at `token`, for runtimes whose strings are UTF-16 (.NET, Java, JavaScript
 * engines): the binding passes its string's own memory instead of encoding it.
 * The library reads it as UTF-8 would encode it, a lone surrogate as U+FFFD (so
 * the outcome is the one `jwtauth_validate_bytes` gives for the string's UTF-8
 * bytes); a compact JWS is ASCII, so anything else is `MALFORMED`. `len` counts
 * code units, not bytes; 0 is an empty token (`token` may then be NULL). The
 * library reads the code units during the call only and wipes its copy.
 * Errors: as `jwtauth_validate_bytes`.
 *
 * # Safety
 * `handle` is a live handle; `token` is NULL or points to `len` readable,
 * 2-byte-aligned code units; `out` is valid for writing.
 */
jwtauth_status jwtauth_validate_utf16(const jwtauth *handle,
                                      const uint16_t *token,
                                      size_t len,
                                      jwtauth_claims **out);

/**
 * Like `jwtauth_validate_utf16`; on failure `*err` (when `err` is not NULL) receives
 * the details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_validate_utf16`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_validate_utf16_ex(const jwtauth *handle,
                                         const uint16_t *token,
                                         size_t len,
                                         jwtauth_claims **out,
                                         jwtauth_error **err);

/**
 * Validates the token in a whole `Authorization` header value (`"Bearer <token>"`,
 * scheme case-insensitive), recording `request` with a failure.
 *
 * `header`: the header value, or NULL when the request had none
 * (`MISSING_TOKEN`). A bare token fails with `BAD_SCHEME`.
 * `request`: NULL, or context for the failure log.
 * On success `*out` receives the verified claims, to free with `jwtauth_claims_free`.
 * Errors: as `jwtauth_validate`; `INVALID_ARGUMENT` also for a non-UTF-8 header.
 *
 * # Safety
 * `handle` is a live handle; `header` is NULL or NUL-terminated; `request` is NULL
 * or valid; `out` is valid for writing.
 */
jwtauth_status jwtauth_validate_header(const jwtauth *handle,
                                       const char *header,
                                       const jwtauth_request *request,
                                       jwtauth_claims **out);

/**
 * Like `jwtauth_validate_header`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_validate_header`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_validate_header_ex(const jwtauth *handle,
                                          const char *header,
                                          const jwtauth_request *request,
                                          jwtauth_claims **out,
                                          jwtauth_error **err);

/**
 * Checks that verified claims carry `role` (exact, case-sensitive). Returns `OK`,
 * or `INSUFFICIENT_ROLE` (recorded in the failure log with `request`).
 * Errors: `INVALID_ARGUMENT` (NULL or non-UTF-8 argument).
 *
 * # Safety
 * `handle` and `claims` are live objects; `role` is NULL or NUL-terminated;
 * `request` is NULL or valid.
 */
jwtauth_status jwtauth_require_role(const jwtauth *handle,
                                    const jwtauth_claims *claims,
                                    const char *role,
                                    const jwtauth_request *request);

/**
 * Like `jwtauth_require_role`; on failure `*err` (when `err` is not NULL) receives the
 * details, to free with `jwtauth_error_free`, and is set to NULL on success.
 * Safe from any runtime (see "Error details" at the top of this header).
 *
 * # Safety
 * As for `jwtauth_require_role`; `err` is NULL or valid for writing.
 */
jwtauth_status jwtauth_require_role_ex(const jwtauth *handle,
                                       const jwtauth_claims *claims,
                                       const char *role,
                                       const jwtauth_request *request,
                                       jwtauth_error **err);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* JWTAUTH_H */
