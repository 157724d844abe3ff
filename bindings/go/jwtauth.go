// Package jwtauth issues, validates and refreshes JSON Web Tokens with libjwtauth
// (a Rust core, through its C ABI). It is a thin layer: every rule lives in the
// library.
//
//	auth, err := jwtauth.OpenJSON(`{"algorithm":"HS256","hs_secret":"..."}`)
//	defer auth.Close()
//	claims, err := auth.ValidateHeader(r.Header.Get("Authorization"), nil)
//	if errors.Is(err, jwtauth.ErrExpired) { ... }
//	defer claims.Close()
//
// An *Auth is safe for use by any number of goroutines at once. Error details come
// back with each call (the library's _ex functions), never through per-thread
// state, so they cannot mix between goroutines however the Go scheduler moves
// them between threads.
package jwtauth

/*
#include <stdlib.h>
#include <string.h>
#include "jwtauth.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Error is a failed call: the stable status number, its name (the failure reason,
// such as "expired", the same names as the failure log and the HTTP API) and a hint
// for humans. It never contains a secret or a whole token.
type Error struct {
	Status int
	Reason string
	Hint   string
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return "jwtauth: " + e.Reason
	}
	return "jwtauth: " + e.Reason + ": " + e.Hint
}

// Is makes errors.Is(err, jwtauth.ErrExpired) match any error with that status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// TokenRefused tells whether the error refuses the presented token or its
// authorization header (answer 401): reasons missing_token to revoked.
func (e *Error) TokenRefused() bool { return e.Status >= 1 && e.Status <= 13 }

func sentinel(status int) *Error {
	return &Error{Status: status, Reason: C.GoString(C.jwtauth_status_str(C.uint32_t(status)))}
}

// Errors to compare with errors.Is; the numbers are the library's stable statuses.
var (
	ErrMissingToken     = sentinel(C.JWTAUTH_STATUS_MISSING_TOKEN)
	ErrBadScheme        = sentinel(C.JWTAUTH_STATUS_BAD_SCHEME)
	ErrMalformed        = sentinel(C.JWTAUTH_STATUS_MALFORMED)
	ErrAlgNotAllowed    = sentinel(C.JWTAUTH_STATUS_ALG_NOT_ALLOWED)
	ErrBadSignature     = sentinel(C.JWTAUTH_STATUS_BAD_SIGNATURE)
	ErrExpired          = sentinel(C.JWTAUTH_STATUS_EXPIRED)
	ErrWrongAudience    = sentinel(C.JWTAUTH_STATUS_WRONG_AUDIENCE)
	ErrRevoked          = sentinel(C.JWTAUTH_STATUS_REVOKED)
	ErrInsufficientRole = sentinel(C.JWTAUTH_STATUS_INSUFFICIENT_ROLE)
	ErrRefreshInvalid   = sentinel(C.JWTAUTH_STATUS_REFRESH_INVALID)
	ErrRefreshExpired   = sentinel(C.JWTAUTH_STATUS_REFRESH_EXPIRED)
	ErrRefreshReused    = sentinel(C.JWTAUTH_STATUS_REFRESH_REUSED)
	ErrInvalidArgument  = sentinel(C.JWTAUTH_STATUS_INVALID_ARGUMENT)
	ErrConfig           = sentinel(C.JWTAUTH_STATUS_CONFIG)
	ErrStore            = sentinel(C.JWTAUTH_STATUS_STORE)
	ErrNotFound         = sentinel(C.JWTAUTH_STATUS_NOT_FOUND)
)

// check turns a status and the call's own error object into an error (freeing it).
func check(status C.jwtauth_status, e *C.jwtauth_error) error {
	if status == C.JWTAUTH_STATUS_OK {
		return nil
	}
	err := &Error{
		Status: int(status),
		Reason: C.GoString(C.jwtauth_status_str(C.uint32_t(status))),
		Hint:   C.GoString(C.jwtauth_error_hint(e)),
	}
	C.jwtauth_error_free(e)
	return err
}

// checkStatus is for the accessors, whose status says it all.
func checkStatus(status C.jwtauth_status) error {
	if status == C.JWTAUTH_STATUS_OK {
		return nil
	}
	return sentinel(int(status))
}

// Version is the library's version ("MAJOR.MINOR.PATCH").
func Version() string { return C.GoString(C.jwtauth_version()) }

// Auth is an open jwtauth runtime: configuration, store, keys.
type Auth struct {
	h *C.jwtauth
}

// Open opens a runtime from a jwtauth.toml file ("" = $JWTAUTH_CONFIG, else
// ./jwtauth.toml if present, else the defaults), then the JWTAUTH_* environment.
func Open(configPath string) (*Auth, error) {
	var p *C.char
	if configPath != "" {
		p = C.CString(configPath)
		defer C.free(unsafe.Pointer(p))
	}
	var h *C.jwtauth
	var e *C.jwtauth_error
	if err := check(C.jwtauth_open_ex(p, &h, &e), e); err != nil {
		return nil, err
	}
	return newAuth(h), nil
}

// OpenJSON opens a runtime from a JSON object with the keys of jwtauth.toml.
func OpenJSON(config string) (*Auth, error) {
	p := C.CString(config)
	defer C.free(unsafe.Pointer(p))
	var h *C.jwtauth
	var e *C.jwtauth_error
	if err := check(C.jwtauth_open_json_ex(p, &h, &e), e); err != nil {
		return nil, err
	}
	return newAuth(h), nil
}

func newAuth(h *C.jwtauth) *Auth {
	a := &Auth{h: h}
	runtime.SetFinalizer(a, (*Auth).Close)
	return a
}

// Close frees the runtime; no other call may be running on it. Idempotent.
func (a *Auth) Close() {
	if a.h != nil {
		C.jwtauth_close(a.h)
		a.h = nil
	}
	runtime.SetFinalizer(a, nil)
}

// Request is context recorded with a failure in the failure log; any field may be "".
type Request struct {
	Client, Method, Path, UserAgent, RequestID string
}

// cRequest copies r into C memory; free releases it.
func cRequest(r *Request) (req *C.jwtauth_request, free func()) {
	if r == nil {
		return nil, func() {}
	}
	req = (*C.jwtauth_request)(C.calloc(1, C.size_t(unsafe.Sizeof(C.jwtauth_request{}))))
	req.client = C.CString(r.Client)
	req.method = C.CString(r.Method)
	req.path = C.CString(r.Path)
	req.user_agent = C.CString(r.UserAgent)
	req.request_id = C.CString(r.RequestID)
	return req, func() {
		for _, s := range []*C.char{req.client, req.method, req.path, req.user_agent, req.request_id} {
			C.free(unsafe.Pointer(s))
		}
		C.free(unsafe.Pointer(req))
	}
}

// Validate validates a compact JWS strictly; on failure the error is an *Error
// whose Reason says why ("expired", "bad_signature"...). A NUL byte in token makes
// it malformed. Close the claims after use.
func (a *Auth) Validate(token string) (*Claims, error) {
	var c *C.jwtauth_claims
	var e *C.jwtauth_error
	// The string's own bytes by pointer and length: no copy, no NUL terminator.
	// cgo allows passing Go memory that holds no Go pointers for the duration of
	// the call, and the library reads the bytes during the call only.
	status := C.jwtauth_validate_bytes_ex(a.h, stringData(token), C.size_t(len(token)), &c, &e)
	runtime.KeepAlive(a)
	if err := check(status, e); err != nil {
		return nil, err
	}
	return newClaims(c), nil
}

// stringData is the address of s's bytes, nil for "" (unsafe.StringData, which
// arrived in Go 1.20; this module supports 1.19).
func stringData(s string) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer((*reflect.StringHeader)(unsafe.Pointer(&s)).Data))
}

// errNulInHeader refuses a header C would read cut short at its NUL byte.
var errNulInHeader = &Error{
	Status: C.JWTAUTH_STATUS_MALFORMED,
	Reason: C.GoString(C.jwtauth_status_str(C.JWTAUTH_STATUS_MALFORMED)),
	Hint:   "the Authorization header holds a NUL byte",
}

// ValidateHeader validates the token of a whole Authorization header value
// ("Bearer <token>"); "" means the request had none (ErrMissingToken). A NUL byte
// in header makes it malformed, as in Validate.
func (a *Auth) ValidateHeader(header string, r *Request) (*Claims, error) {
	if strings.IndexByte(header, 0) >= 0 {
		return nil, errNulInHeader
	}
	var h *C.char
	if header != "" {
		h = C.CString(header)
		defer C.free(unsafe.Pointer(h))
	}
	req, free := cRequest(r)
	defer free()
	var c *C.jwtauth_claims
	var e *C.jwtauth_error
	err := check(C.jwtauth_validate_header_ex(a.h, h, req, &c, &e), e)
	runtime.KeepAlive(a)
	if err != nil {
		return nil, err
	}
	return newClaims(c), nil
}

// RequireRole returns nil when the claims carry role, else ErrInsufficientRole
// (recorded in the failure log with r).
func (a *Auth) RequireRole(c *Claims, role string, r *Request) error {
	cr := C.CString(role)
	defer C.free(unsafe.Pointer(cr))
	req, free := cRequest(r)
	defer free()
	var e *C.jwtauth_error
	err := check(C.jwtauth_require_role_ex(a.h, c.c, cr, req, &e), e)
	runtime.KeepAlive(a)
	runtime.KeepAlive(c)
	return err
}

// cStrings copies strings into a C array; free releases it.
func cStrings(items []string) (arr **C.char, free func()) {
	if len(items) == 0 {
		return nil, func() {}
	}
	size := C.size_t(len(items)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))
	arr = (**C.char)(C.malloc(size))
	slice := unsafe.Slice(arr, len(items))
	for i, s := range items {
		slice[i] = C.CString(s)
	}
	return arr, func() {
		for _, s := range slice {
			C.free(unsafe.Pointer(s))
		}
		C.free(unsafe.Pointer(arr))
	}
}

func extraJSON(extra map[string]any) (*C.char, error) {
	if extra == nil {
		return nil, nil
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: extra claims: %w", err)
	}
	return C.CString(string(b)), nil
}

// Issue issues an access token (no refresh token: see SessionStart).
func (a *Auth) Issue(subject string, roles []string, extra map[string]any) (*Tokens, error) {
	return a.issue(subject, roles, extra, false)
}

// SessionStart starts a session after the application checked the credentials:
// an access token and the first refresh token.
func (a *Auth) SessionStart(subject string, roles []string, extra map[string]any) (*Tokens, error) {
	return a.issue(subject, roles, extra, true)
}

func (a *Auth) issue(subject string, roles []string, extra map[string]any, session bool) (*Tokens, error) {
	s := C.CString(subject)
	defer C.free(unsafe.Pointer(s))
	arr, free := cStrings(roles)
	defer free()
	x, err := extraJSON(extra)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(x))
	var t *C.jwtauth_tokens
	var e *C.jwtauth_error
	var status C.jwtauth_status
	if session {
		status = C.jwtauth_session_start_ex(a.h, s, arr, C.size_t(len(roles)), x, &t, &e)
	} else {
		status = C.jwtauth_issue_ex(a.h, s, arr, C.size_t(len(roles)), x, &t, &e)
	}
	runtime.KeepAlive(a)
	if err := check(status, e); err != nil {
		return nil, err
	}
	return takeTokens(t)
}

// Refresh spends a refresh token and returns new tokens (rotation). A spent token
// presented again gives ErrRefreshReused and revokes its session.
func (a *Auth) Refresh(refreshToken string, r *Request) (*Tokens, error) {
	rt := C.CString(refreshToken)
	defer func() {
		C.memset(unsafe.Pointer(rt), 0, C.size_t(len(refreshToken)))
		C.free(unsafe.Pointer(rt))
	}()
	req, free := cRequest(r)
	defer free()
	var t *C.jwtauth_tokens
	var e *C.jwtauth_error
	err := check(C.jwtauth_refresh_ex(a.h, rt, req, &t, &e), e)
	runtime.KeepAlive(a)
	if err != nil {
		return nil, err
	}
	return takeTokens(t)
}

// Revoke logs out the session of a refresh token; it reports whether it was known.
func (a *Auth) Revoke(refreshToken string) (bool, error) {
	rt := C.CString(refreshToken)
	defer C.free(unsafe.Pointer(rt))
	var known C.bool
	var e *C.jwtauth_error
	err := check(C.jwtauth_revoke_ex(a.h, rt, &known, &e), e)
	runtime.KeepAlive(a)
	return bool(known), err
}

// RevokeSubject logs a subject out everywhere; it returns how many sessions ended.
func (a *Auth) RevokeSubject(subject string) (uint64, error) {
	s := C.CString(subject)
	defer C.free(unsafe.Pointer(s))
	var n C.uint64_t
	var e *C.jwtauth_error
	err := check(C.jwtauth_revoke_subject_ex(a.h, s, &n, &e), e)
	runtime.KeepAlive(a)
	return uint64(n), err
}

// RotateKey makes a new signing key of algorithm ("" = the configured one) and
// returns its kid. The key is in the JWKS at once and signs from
// key_publish_ahead on; until then tokens are signed by the current key.
func (a *Auth) RotateKey(algorithm string) (string, error) {
	return a.rotate(algorithm, false)
}

// RotateKeyNow is the emergency rotation: the new key signs at once (relying
// parties that cached the JWKS refuse its tokens until they fetch it again).
func (a *Auth) RotateKeyNow(algorithm string) (string, error) {
	return a.rotate(algorithm, true)
}

func (a *Auth) rotate(algorithm string, now bool) (string, error) {
	var alg *C.char
	if algorithm != "" {
		alg = C.CString(algorithm)
		defer C.free(unsafe.Pointer(alg))
	}
	var kid *C.char
	var e *C.jwtauth_error
	var status C.jwtauth_status
	if now {
		status = C.jwtauth_rotate_key_now_ex(a.h, alg, &kid, &e)
	} else {
		status = C.jwtauth_rotate_key_ex(a.h, alg, &kid, &e)
	}
	err := check(status, e)
	runtime.KeepAlive(a)
	if err != nil {
		return "", err
	}
	defer C.jwtauth_string_free(kid)
	return C.GoString(kid), nil
}

// JWKS returns the public keys as a JWKS document (JSON).
func (a *Auth) JWKS() (string, error) {
	var s *C.char
	var e *C.jwtauth_error
	err := check(C.jwtauth_jwks_ex(a.h, &s, &e), e)
	runtime.KeepAlive(a)
	if err != nil {
		return "", err
	}
	defer C.jwtauth_string_free(s)
	return C.GoString(s), nil
}

// Tokens just issued, copied out of the library (whose copy is wiped and freed).
type Tokens struct {
	AccessToken      string
	ExpiresAt        int64
	JWTID            string
	Kid              string
	RefreshToken     string // "" for Issue
	RefreshExpiresAt int64
}

// String never prints a bearer credential.
func (t *Tokens) String() string {
	return fmt.Sprintf("Tokens{kid: %q, jti: %q, expires_at: %d}", t.Kid, t.JWTID, t.ExpiresAt)
}

func takeTokens(t *C.jwtauth_tokens) (*Tokens, error) {
	defer C.jwtauth_tokens_free(t)
	var s *C.char
	var i C.int64_t
	out := &Tokens{}
	if err := checkStatus(C.jwtauth_tokens_access_token(t, &s)); err != nil {
		return nil, err
	}
	out.AccessToken = C.GoString(s)
	if err := checkStatus(C.jwtauth_tokens_access_expires_at(t, &i)); err != nil {
		return nil, err
	}
	out.ExpiresAt = int64(i)
	if err := checkStatus(C.jwtauth_tokens_jwt_id(t, &s)); err != nil {
		return nil, err
	}
	out.JWTID = C.GoString(s)
	if err := checkStatus(C.jwtauth_tokens_kid(t, &s)); err != nil {
		return nil, err
	}
	out.Kid = C.GoString(s)
	if C.jwtauth_tokens_refresh_token(t, &s) == C.JWTAUTH_STATUS_OK {
		out.RefreshToken = C.GoString(s)
		if err := checkStatus(C.jwtauth_tokens_refresh_expires_at(t, &i)); err != nil {
			return nil, err
		}
		out.RefreshExpiresAt = int64(i)
	}
	return out, nil
}

// Claims are the verified claims of a token. Read them from any goroutine; Close
// them when done (a finalizer frees forgotten ones).
type Claims struct {
	c *C.jwtauth_claims
}

// claimsSlab holds the Claims of 64 validations, so that one finalizer, set once
// per slab instead of once per validation, frees the claims never closed:
// runtime.SetFinalizer, and clearing it again in Close, cost more than the rest
// of what the binding adds to a validation. A Claims points into its slab, so
// the slab's finalizer runs only once none of its Claims is reachable. The field
// c is written atomically so that the finalizer's reads are ordered after them.
type claimsSlab struct {
	items [64]Claims
	next  int32
}

var currentSlab atomic.Pointer[claimsSlab]

func (c *Claims) ptr() *unsafe.Pointer { return (*unsafe.Pointer)(unsafe.Pointer(&c.c)) }

func newClaims(c *C.jwtauth_claims) *Claims {
	for {
		s := currentSlab.Load()
		if s != nil {
			if i := atomic.AddInt32(&s.next, 1) - 1; i < int32(len(s.items)) {
				cl := &s.items[i]
				atomic.StorePointer(cl.ptr(), unsafe.Pointer(c))
				return cl
			}
		}
		fresh := &claimsSlab{}
		runtime.SetFinalizer(fresh, (*claimsSlab).free)
		currentSlab.CompareAndSwap(s, fresh)
	}
}

// free is the slab's finalizer: frees the claims of its Claims never closed.
func (s *claimsSlab) free() {
	for i := range s.items {
		if p := atomic.LoadPointer(s.items[i].ptr()); p != nil {
			C.jwtauth_claims_free((*C.jwtauth_claims)(p))
		}
	}
}

// Close frees the claims. Idempotent; no accessor may be running.
func (c *Claims) Close() {
	if p := atomic.SwapPointer(c.ptr(), nil); p != nil {
		C.jwtauth_claims_free((*C.jwtauth_claims)(p))
	}
}

// Subject is `sub`, never empty.
func (c *Claims) Subject() string {
	var s *C.char
	if C.jwtauth_claims_subject(c.c, &s) != C.JWTAUTH_STATUS_OK {
		return ""
	}
	defer runtime.KeepAlive(c)
	return C.GoString(s)
}

// ExpiresAt is `exp`, seconds since the Unix epoch.
func (c *Claims) ExpiresAt() int64 {
	var i C.int64_t
	C.jwtauth_claims_expires_at(c.c, &i)
	runtime.KeepAlive(c)
	return int64(i)
}

// Roles are the roles claim's values.
func (c *Claims) Roles() []string {
	defer runtime.KeepAlive(c)
	var n C.size_t
	if C.jwtauth_claims_role_count(c.c, &n) != C.JWTAUTH_STATUS_OK {
		return nil
	}
	roles := make([]string, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var s *C.char
		if C.jwtauth_claims_role_at(c.c, i, &s) == C.JWTAUTH_STATUS_OK {
			roles = append(roles, C.GoString(s))
		}
	}
	return roles
}

// HasRole tells whether the claims carry role (exact match).
func (c *Claims) HasRole(role string) bool {
	r := C.CString(role)
	defer C.free(unsafe.Pointer(r))
	var b C.bool
	C.jwtauth_claims_has_role(c.c, r, &b)
	runtime.KeepAlive(c)
	return bool(b)
}

// Map returns every claim as decoded JSON.
func (c *Claims) Map() (map[string]any, error) {
	var s *C.char
	if err := checkStatus(C.jwtauth_claims_to_json(c.c, &s)); err != nil {
		return nil, err
	}
	runtime.KeepAlive(c)
	defer C.jwtauth_string_free(s)
	var m map[string]any
	err := json.Unmarshal([]byte(C.GoString(s)), &m)
	return m, err
}
