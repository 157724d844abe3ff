"""jwtauth for Python: issue, validate and refresh JSON Web Tokens with libjwtauth.

    from jwtauth import JwtAuth, JwtAuthError

    with JwtAuth.from_json({"algorithm": "HS256", "hs_secret": "...", "issuer": "...", "audience": "..."}) as auth:
        tokens = auth.session_start("alice", roles=["Admin"])
        claims = auth.validate(tokens.access_token)
        claims.subject, claims.roles, claims["tenant"], claims.to_dict()

A thin layer over the C ABI (ctypes, no logic of its own). The library is the one
built into this package (``jwtauth._native``), or ``$LIBJWTAUTH_PATH`` when set.
Every failure raises JwtAuthError (or a subclass) with the stable status code, its
name (the reason: "expired", "refresh_reused", ...) and the library's hint; the
details come back with each call (the C ``_ex`` functions), so they never mix
between threads. Failure events and warnings of the library go to the Python
logger "jwtauth" (failures at INFO, warnings at WARNING); see set_event_handler.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Union

__all__ = [
    "JwtAuth",
    "JwtAuthError",
    "InvalidToken",
    "RefreshFailed",
    "Forbidden",
    "ConfigError",
    "StoreError",
    "Claims",
    "Tokens",
    "load_library",
    "set_event_handler",
    "version",
]

_c = ctypes
_p = _c.c_void_p
_char_p = _c.c_char_p
_status = _c.c_uint32


def _find_library() -> str:
    explicit = os.environ.get("LIBJWTAUTH_PATH")
    if explicit:
        return explicit
    spec = importlib.util.find_spec("jwtauth._native")
    if spec is None or not spec.origin:
        raise OSError("libjwtauth is missing from the jwtauth package: reinstall it (pip install ./bindings/python)")
    return spec.origin


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    out_p = _c.POINTER(_p)
    out_str = _c.POINTER(_char_p)
    err = _c.POINTER(_p)
    sigs = {
        "jwtauth_error_status": (_status, [_p]),
        "jwtauth_error_reason": (_char_p, [_p]),
        "jwtauth_error_hint": (_char_p, [_p]),
        "jwtauth_error_free": (None, [_p]),
        "jwtauth_set_event_callback": (_status, [_EVENT_CALLBACK, _p]),
        "jwtauth_version": (_char_p, []),
        "jwtauth_status_str": (_char_p, [_c.c_uint32]),
        "jwtauth_last_error": (_char_p, []),
        "jwtauth_string_free": (None, [_p]),
        "jwtauth_open_ex": (_status, [_char_p, out_p, err]),
        "jwtauth_open_json_ex": (_status, [_char_p, out_p, err]),
        "jwtauth_close": (None, [_p]),
        "jwtauth_issue_ex": (_status, [_p, _char_p, _c.POINTER(_char_p), _c.c_size_t, _char_p, out_p, err]),
        "jwtauth_session_start_ex": (_status, [_p, _char_p, _c.POINTER(_char_p), _c.c_size_t, _char_p, out_p, err]),
        "jwtauth_refresh_ex": (_status, [_p, _char_p, _p, out_p, err]),
        "jwtauth_revoke_ex": (_status, [_p, _char_p, _c.POINTER(_c.c_bool), err]),
        "jwtauth_revoke_subject_ex": (_status, [_p, _char_p, _c.POINTER(_c.c_uint64), err]),
        "jwtauth_rotate_key_ex": (_status, [_p, _char_p, out_p, err]),
        "jwtauth_rotate_key_now_ex": (_status, [_p, _char_p, out_p, err]),
        "jwtauth_jwks_ex": (_status, [_p, out_p, err]),
        "jwtauth_validate_bytes_ex": (_status, [_p, _char_p, _c.c_size_t, out_p, err]),
        "jwtauth_validate_header_ex": (_status, [_p, _char_p, _p, out_p, err]),
        "jwtauth_claims_free": (None, [_p]),
        "jwtauth_claims_subject": (_status, [_p, out_str]),
        "jwtauth_claims_to_json": (_status, [_p, out_p]),
        "jwtauth_claims_has_role": (_status, [_p, _char_p, _c.POINTER(_c.c_bool)]),
        "jwtauth_claims_role_count": (_status, [_p, _c.POINTER(_c.c_size_t)]),
        "jwtauth_claims_role_at": (_status, [_p, _c.c_size_t, out_str]),
        "jwtauth_require_role_ex": (_status, [_p, _p, _char_p, _p, err]),
        "jwtauth_tokens_free": (None, [_p]),
        "jwtauth_tokens_access_token": (_status, [_p, out_str]),
        "jwtauth_tokens_access_expires_at": (_status, [_p, _c.POINTER(_c.c_int64)]),
        "jwtauth_tokens_jwt_id": (_status, [_p, out_str]),
        "jwtauth_tokens_kid": (_status, [_p, out_str]),
        "jwtauth_tokens_refresh_token": (_status, [_p, out_str]),
        "jwtauth_tokens_refresh_expires_at": (_status, [_p, _c.POINTER(_c.c_int64)]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def load_library() -> ctypes.CDLL:
    """The loaded libjwtauth (loaded on first use; events then go to logging)."""
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                lib = _declare(ctypes.CDLL(_find_library()))
                _install_event_callback(lib)
                _lib = lib
    return _lib


OK = 0
NOT_FOUND = 104
_MALFORMED = 3  # jwtauth_status MALFORMED


class JwtAuthError(Exception):
    """A failed call: ``status`` (stable number), ``reason`` (its name) and ``hint``."""

    def __init__(self, status: int, reason: str, hint: str):
        super().__init__(f"{reason}: {hint}" if hint else reason)
        self.status = status
        self.reason = reason
        self.hint = hint


class InvalidToken(JwtAuthError):
    """The token was refused (missing_token ... revoked): answer 401."""


class Forbidden(JwtAuthError):
    """The token lacks a required role (insufficient_role): answer 403."""


class RefreshFailed(JwtAuthError):
    """A refresh token was refused (refresh_invalid, refresh_expired, refresh_reused)."""


class ConfigError(JwtAuthError):
    """The configuration is unusable; the hint names the key and the fix."""


class StoreError(JwtAuthError):
    """The store (SQLite or PostgreSQL) failed or is unreachable."""


def _error_class(status: int) -> type:
    if 1 <= status <= 13:
        return InvalidToken
    if status == 14:
        return Forbidden
    if 15 <= status <= 17:
        return RefreshFailed
    if status == 101:
        return ConfigError
    if status == 102:
        return StoreError
    return JwtAuthError


def _raise(lib: ctypes.CDLL, status: int, err: _p) -> None:
    """Raises the error of a failed _ex call from its own error object, then frees it."""
    try:
        reason = lib.jwtauth_status_str(status).decode()
        hint = (lib.jwtauth_error_hint(err) or b"").decode("utf-8", "replace") if err else ""
    finally:
        lib.jwtauth_error_free(err)
    raise _error_class(status)(status, reason, hint)


def _call(fn: Callable[..., int], *args: Any) -> None:
    """Calls an _ex function with a fresh error slot; raises on failure."""
    err = _p()
    status = fn(*args, _c.byref(err))
    if status != OK:
        _raise(load_library(), status, err)


def _check(status: int) -> None:
    """For the accessors, whose status says it all (their hint is per-thread state)."""
    if status != OK:
        reason = load_library().jwtauth_status_str(status).decode()
        raise _error_class(status)(status, reason, "")


# ---- events: the library hands failures and warnings to a callback ----

_EVENT_CALLBACK = _c.CFUNCTYPE(None, _p, _c.c_uint32, _c.c_char_p, _c.c_size_t)
_logger = logging.getLogger("jwtauth")
_handler: Optional[Callable[[str, dict], None]] = None


def _log_event(kind: str, event: dict) -> None:
    if kind == "failure":
        _logger.info("authentication failure: %s", json.dumps(event))
    else:
        _logger.warning("%s", event.get("message", ""))


def _on_event(_user_data: Any, kind: int, text: bytes, _len: int) -> None:
    handler = _handler
    if handler is None:
        return
    try:
        handler("failure" if kind == 1 else "warning", json.loads(text))
    except Exception:  # noqa: BLE001 - an exception must never unwind into C
        _logger.exception("jwtauth event handler failed")


_event_trampoline = _EVENT_CALLBACK(_on_event)  # kept alive for the process


def _install_event_callback(lib: ctypes.CDLL) -> None:
    global _handler
    _handler = _log_event
    lib.jwtauth_set_event_callback(_event_trampoline, None)


def set_event_handler(handler: Optional[Callable[[str, dict], None]]) -> None:
    """Routes the library's events: ``handler(kind, event)`` with kind "failure" (the
    failure log's JSON as a dict) or "warning"; None drops them. The default logs to
    the "jwtauth" logger. Called on the thread of the call that caused the event."""
    global _handler
    load_library()
    _handler = handler


def _utf8(s: Union[str, bytes], what: str) -> bytes:
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str or bytes")
    return s.encode("utf-8")


def _take_string(ptr: _p) -> str:
    """Copies a `char *` the library returned, then frees it."""
    lib = load_library()
    try:
        return _c.cast(ptr, _char_p).value.decode("utf-8")
    finally:
        lib.jwtauth_string_free(ptr)


class _Request(_c.Structure):
    _fields_ = [(n, _char_p) for n in ("client", "method", "path", "user_agent", "request_id")]


def _request(request: Optional[Mapping[str, str]]) -> Optional[_Request]:
    if not request:
        return None
    unknown = set(request) - {"client", "method", "path", "user_agent", "request_id"}
    if unknown:
        raise TypeError(f"unknown request fields: {sorted(unknown)}")
    return _Request(**{k: _utf8(v, k) for k, v in request.items()})


@dataclass(frozen=True)
class Tokens:
    """Tokens just issued (copied out of the library's object, which is freed)."""

    access_token: str
    expires_at: int
    jwt_id: str
    kid: str
    refresh_token: Optional[str] = None
    refresh_expires_at: Optional[int] = None

    def __repr__(self) -> str:  # never print a bearer credential
        return f"Tokens(kid={self.kid!r}, jwt_id={self.jwt_id!r}, expires_at={self.expires_at})"

    @staticmethod
    def _take(ptr: _p) -> "Tokens":
        lib = load_library()
        try:
            s = _char_p()
            i = _c.c_int64()
            _check(lib.jwtauth_tokens_access_token(ptr, _c.byref(s)))
            access = s.value.decode()
            _check(lib.jwtauth_tokens_access_expires_at(ptr, _c.byref(i)))
            exp = i.value
            _check(lib.jwtauth_tokens_jwt_id(ptr, _c.byref(s)))
            jti = s.value.decode()
            _check(lib.jwtauth_tokens_kid(ptr, _c.byref(s)))
            kid = s.value.decode()
            refresh, refresh_exp = None, None
            if lib.jwtauth_tokens_refresh_token(ptr, _c.byref(s)) == OK:
                refresh = s.value.decode()
                _check(lib.jwtauth_tokens_refresh_expires_at(ptr, _c.byref(i)))
                refresh_exp = i.value
            return Tokens(access, exp, jti, kid, refresh, refresh_exp)
        finally:
            lib.jwtauth_tokens_free(ptr)


class Claims:
    """Verified claims. Read `subject`, `roles`, `claims[name]`, or `to_dict()`."""

    __slots__ = ("_ptr", "_dict", "_lib")

    def __init__(self, ptr: _p):
        self._lib = load_library()
        self._ptr = ptr
        self._dict: Optional[dict] = None

    def __del__(self) -> None:
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            self._lib.jwtauth_claims_free(ptr)

    @property
    def subject(self) -> str:
        s = _char_p()
        _check(self._lib.jwtauth_claims_subject(self._ptr, _c.byref(s)))
        return s.value.decode()

    def has_role(self, role: str) -> bool:
        out = _c.c_bool()
        _check(self._lib.jwtauth_claims_has_role(self._ptr, _utf8(role, "role"), _c.byref(out)))
        return out.value

    def to_dict(self) -> "dict[str, Any]":
        """Every claim (registered, roles, extra) as a dict."""
        if self._dict is None:
            out = _p()
            _check(self._lib.jwtauth_claims_to_json(self._ptr, _c.byref(out)))
            self._dict = json.loads(_take_string(out))
        return dict(self._dict)

    @property
    def roles(self) -> "list[str]":
        n = _c.c_size_t()
        _check(self._lib.jwtauth_claims_role_count(self._ptr, _c.byref(n)))
        s = _char_p()
        out = []
        for i in range(n.value):
            _check(self._lib.jwtauth_claims_role_at(self._ptr, i, _c.byref(s)))
            out.append(s.value.decode())
        return out

    def __getitem__(self, name: str) -> Any:
        return self.to_dict()[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.to_dict().get(name, default)


class JwtAuth:
    """An open jwtauth runtime. Thread-safe: share one across threads (like the C
    handle it wraps); use it as a context manager, or call close()."""

    def __init__(self, config_path: Optional[str] = None, *, _handle: Optional[_p] = None):
        self._lib = load_library()
        if _handle is None:
            handle = _p()
            path = None if config_path is None else _utf8(os.fspath(config_path), "config_path")
            _call(self._lib.jwtauth_open_ex, path, _c.byref(handle))
            _handle = handle
        self._h = _handle
        self._validate = self._lib.jwtauth_validate_bytes_ex

    @classmethod
    def from_json(cls, config: Union[Mapping[str, Any], str]) -> "JwtAuth":
        """Opens from the same keys as jwtauth.toml, given as a dict or JSON text."""
        lib = load_library()
        text = config if isinstance(config, str) else json.dumps(config)
        handle = _p()
        _call(lib.jwtauth_open_json_ex, _utf8(text, "config"), _c.byref(handle))
        return cls(_handle=handle)

    def close(self) -> None:
        """Closes the handle (no other call may be running on it). Idempotent."""
        h, self._h = getattr(self, "_h", None), None
        if h:
            self._lib.jwtauth_close(h)

    __del__ = close

    def __enter__(self) -> "JwtAuth":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _roles(roles: Iterable[str]):
        encoded = [_utf8(r, "role") for r in roles]
        return (_char_p * len(encoded))(*encoded), len(encoded)

    def issue(self, subject: str, roles: Iterable[str] = (), extra: Optional[Mapping[str, Any]] = None) -> Tokens:
        arr, n = self._roles(roles)
        out = _p()
        extra_json = None if extra is None else json.dumps(extra).encode()
        _call(self._lib.jwtauth_issue_ex, self._h, _utf8(subject, "subject"), arr, n, extra_json, _c.byref(out))
        return Tokens._take(out)

    def session_start(
        self, subject: str, roles: Iterable[str] = (), extra: Optional[Mapping[str, Any]] = None
    ) -> Tokens:
        arr, n = self._roles(roles)
        out = _p()
        extra_json = None if extra is None else json.dumps(extra).encode()
        _call(self._lib.jwtauth_session_start_ex, self._h, _utf8(subject, "subject"), arr, n, extra_json, _c.byref(out))
        return Tokens._take(out)

    def refresh(self, refresh_token: str, request: Optional[Mapping[str, str]] = None) -> Tokens:
        out = _p()
        req = _request(request)
        _call(
            self._lib.jwtauth_refresh_ex,
            self._h,
            _utf8(refresh_token, "refresh_token"),
            _c.byref(req) if req else None,
            _c.byref(out),
        )
        return Tokens._take(out)

    def revoke(self, refresh_token: str) -> bool:
        known = _c.c_bool()
        _call(self._lib.jwtauth_revoke_ex, self._h, _utf8(refresh_token, "refresh_token"), _c.byref(known))
        return known.value

    def revoke_subject(self, subject: str) -> int:
        n = _c.c_uint64()
        _call(self._lib.jwtauth_revoke_subject_ex, self._h, _utf8(subject, "subject"), _c.byref(n))
        return n.value

    def rotate_key(self, algorithm: Optional[str] = None) -> str:
        """A new key of algorithm (None: the configured one), in the JWKS at once and
        signing from key_publish_ahead on; returns its kid."""
        return self._rotate(self._lib.jwtauth_rotate_key_ex, algorithm)

    def rotate_key_now(self, algorithm: Optional[str] = None) -> str:
        """An emergency rotation: the new key signs at once (relying parties that
        cached the JWKS refuse its tokens until they fetch it again); returns its kid."""
        return self._rotate(self._lib.jwtauth_rotate_key_now_ex, algorithm)

    def _rotate(self, fn, algorithm: Optional[str]) -> str:
        out = _p()
        alg = None if algorithm is None else _utf8(algorithm, "algorithm")
        _call(fn, self._h, alg, _c.byref(out))
        return _take_string(out)

    def jwks(self) -> dict:
        out = _p()
        _call(self._lib.jwtauth_jwks_ex, self._h, _c.byref(out))
        return json.loads(_take_string(out))

    def validate(self, token: Union[str, bytes]) -> Claims:
        """Validates a token; raises JwtAuthError (reason "expired", ...) on failure."""
        if isinstance(token, str):
            token = token.encode()
        out = _p()
        err = _p()
        # The bytes object's own buffer and its length: a NUL inside is seen (the
        # token is malformed), never a token cut short there.
        status = self._validate(self._h, token, len(token), _c.byref(out), _c.byref(err))
        if status != OK:
            _raise(self._lib, status, err)
        return Claims(out)

    def validate_header(self, header: Optional[str], request: Optional[Mapping[str, str]] = None) -> Claims:
        """Validates a whole Authorization header value ("Bearer <token>"); None = no header.
        A NUL byte in it makes it malformed, as in validate."""
        out = _p()
        req = _request(request)
        h = None if header is None else _utf8(header, "header")
        if h is not None and b"\0" in h:
            raise InvalidToken(_MALFORMED, "malformed", "the Authorization header holds a NUL byte")
        _call(self._lib.jwtauth_validate_header_ex, self._h, h, _c.byref(req) if req else None, _c.byref(out))
        return Claims(out)

    def require_role(self, claims: "Claims", role: str, request: Optional[Mapping[str, str]] = None) -> None:
        """Raises Forbidden (reason insufficient_role, recorded as a failure) unless
        the verified claims carry ``role``."""
        req = _request(request)
        _call(self._lib.jwtauth_require_role_ex, self._h, claims._ptr, _utf8(role, "role"), _c.byref(req) if req else None)


def version() -> str:
    """The library's version."""
    return load_library().jwtauth_version().decode()
