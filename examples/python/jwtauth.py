"""Python binding of libjwtauth over ctypes (standard library only).

    from jwtauth import JwtAuth, JwtAuthError

    auth = JwtAuth.from_json({"algorithm": "HS256", "hs_secret": "...", "issuer": "...", "audience": "..."})
    tokens = auth.session_start("alice", roles=["Admin"])
    claims = auth.validate(tokens.access_token)
    claims.subject, claims.roles, claims["tenant"], claims.to_dict()

The library is found through $LIBJWTAUTH_PATH (a path to libjwtauth.so), else in the
repository's target/release or target/debug, else by the system loader.
Every failure raises JwtAuthError with the stable status code, its name (the reason:
"expired", "refresh_reused", ...) and the library's hint.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

__all__ = ["JwtAuth", "JwtAuthError", "Claims", "Tokens", "load_library"]

_c = ctypes
_p = _c.c_void_p
_char_p = _c.c_char_p
_status = _c.c_uint32


def _find_library() -> str:
    explicit = os.environ.get("LIBJWTAUTH_PATH")
    if explicit:
        return explicit
    root = Path(__file__).resolve().parents[2]
    for profile in ("release", "debug"):
        candidate = root / "target" / profile / "libjwtauth.so"
        if candidate.is_file():
            return str(candidate)
    found = ctypes.util.find_library("jwtauth")
    if found:
        return found
    raise OSError("libjwtauth not found: build it (cargo build --release -p jwtauth-ffi) or set LIBJWTAUTH_PATH")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    out_p = _c.POINTER(_p)
    out_str = _c.POINTER(_char_p)
    sigs = {
        "jwtauth_version": (_char_p, []),
        "jwtauth_status_str": (_char_p, [_c.c_uint32]),
        "jwtauth_last_error": (_char_p, []),
        "jwtauth_string_free": (None, [_p]),
        "jwtauth_open": (_status, [_char_p, out_p]),
        "jwtauth_open_json": (_status, [_char_p, out_p]),
        "jwtauth_close": (None, [_p]),
        "jwtauth_issue": (_status, [_p, _char_p, _c.POINTER(_char_p), _c.c_size_t, _char_p, out_p]),
        "jwtauth_session_start": (_status, [_p, _char_p, _c.POINTER(_char_p), _c.c_size_t, _char_p, out_p]),
        "jwtauth_refresh": (_status, [_p, _char_p, _p, out_p]),
        "jwtauth_revoke": (_status, [_p, _char_p, _c.POINTER(_c.c_bool)]),
        "jwtauth_revoke_subject": (_status, [_p, _char_p, _c.POINTER(_c.c_uint64)]),
        "jwtauth_rotate_key": (_status, [_p, _char_p, out_p]),
        "jwtauth_jwks": (_status, [_p, out_p]),
        "jwtauth_validate": (_status, [_p, _char_p, out_p]),
        "jwtauth_validate_header": (_status, [_p, _char_p, _p, out_p]),
        "jwtauth_claims_free": (None, [_p]),
        "jwtauth_claims_subject": (_status, [_p, out_str]),
        "jwtauth_claims_to_json": (_status, [_p, out_p]),
        "jwtauth_claims_has_role": (_status, [_p, _char_p, _c.POINTER(_c.c_bool)]),
        "jwtauth_claims_role_count": (_status, [_p, _c.POINTER(_c.c_size_t)]),
        "jwtauth_claims_role_at": (_status, [_p, _c.c_size_t, out_str]),
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


def load_library() -> ctypes.CDLL:
    """The loaded libjwtauth (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = _declare(ctypes.CDLL(_find_library()))
    return _lib


OK = 0
NOT_FOUND = 104


class JwtAuthError(Exception):
    """A failed call: `status` (stable number), `reason` (its name) and `hint`."""

    def __init__(self, status: int, reason: str, hint: str):
        super().__init__(f"{reason}: {hint}" if hint else reason)
        self.status = status
        self.reason = reason
        self.hint = hint


def _check(status: int) -> None:
    if status != OK:
        lib = load_library()
        hint = (lib.jwtauth_last_error() or b"").decode("utf-8", "replace")
        raise JwtAuthError(status, lib.jwtauth_status_str(status).decode(), hint)


def _utf8(s: str | bytes, what: str) -> bytes:
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

    def to_dict(self) -> dict:
        """Every claim (registered, roles, extra) as a dict."""
        if self._dict is None:
            out = _p()
            _check(self._lib.jwtauth_claims_to_json(self._ptr, _c.byref(out)))
            self._dict = json.loads(_take_string(out))
        return dict(self._dict)

    @property
    def roles(self) -> list:
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
    """An open jwtauth runtime (thread-safe, like the C handle it wraps)."""

    def __init__(self, config_path: Optional[str] = None, *, _handle: Optional[_p] = None):
        self._lib = load_library()
        if _handle is None:
            handle = _p()
            path = None if config_path is None else _utf8(os.fspath(config_path), "config_path")
            _check(self._lib.jwtauth_open(path, _c.byref(handle)))
            _handle = handle
        self._h = _handle

    @classmethod
    def from_json(cls, config: Mapping[str, Any] | str) -> "JwtAuth":
        """Opens from the same keys as jwtauth.toml, given as a dict or JSON text."""
        lib = load_library()
        text = config if isinstance(config, str) else json.dumps(config)
        handle = _p()
        _check(lib.jwtauth_open_json(_utf8(text, "config"), _c.byref(handle)))
        return cls(_handle=handle)

    def close(self) -> None:
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
        _check(self._lib.jwtauth_issue(self._h, _utf8(subject, "subject"), arr, n, extra_json, _c.byref(out)))
        return Tokens._take(out)

    def session_start(
        self, subject: str, roles: Iterable[str] = (), extra: Optional[Mapping[str, Any]] = None
    ) -> Tokens:
        arr, n = self._roles(roles)
        out = _p()
        extra_json = None if extra is None else json.dumps(extra).encode()
        _check(self._lib.jwtauth_session_start(self._h, _utf8(subject, "subject"), arr, n, extra_json, _c.byref(out)))
        return Tokens._take(out)

    def refresh(self, refresh_token: str, request: Optional[Mapping[str, str]] = None) -> Tokens:
        out = _p()
        req = _request(request)
        _check(
            self._lib.jwtauth_refresh(
                self._h, _utf8(refresh_token, "refresh_token"), _c.byref(req) if req else None, _c.byref(out)
            )
        )
        return Tokens._take(out)

    def revoke(self, refresh_token: str) -> bool:
        known = _c.c_bool()
        _check(self._lib.jwtauth_revoke(self._h, _utf8(refresh_token, "refresh_token"), _c.byref(known)))
        return known.value

    def revoke_subject(self, subject: str) -> int:
        n = _c.c_uint64()
        _check(self._lib.jwtauth_revoke_subject(self._h, _utf8(subject, "subject"), _c.byref(n)))
        return n.value

    def rotate_key(self, algorithm: Optional[str] = None) -> str:
        out = _p()
        alg = None if algorithm is None else _utf8(algorithm, "algorithm")
        _check(self._lib.jwtauth_rotate_key(self._h, alg, _c.byref(out)))
        return _take_string(out)

    def jwks(self) -> dict:
        out = _p()
        _check(self._lib.jwtauth_jwks(self._h, _c.byref(out)))
        return json.loads(_take_string(out))

    def validate(self, token: str | bytes) -> Claims:
        """Validates a token; raises JwtAuthError (reason "expired", ...) on failure."""
        if isinstance(token, str):
            token = token.encode()
        out = _p()
        _check(self._lib.jwtauth_validate(self._h, token, _c.byref(out)))
        return Claims(out)

    def validate_header(self, header: Optional[str], request: Optional[Mapping[str, str]] = None) -> Claims:
        """Validates a whole Authorization header value ("Bearer <token>"); None = no header."""
        out = _p()
        req = _request(request)
        h = None if header is None else _utf8(header, "header")
        _check(self._lib.jwtauth_validate_header(self._h, h, _c.byref(req) if req else None, _c.byref(out)))
        return Claims(out)


def version() -> str:
    """The library's version."""
    return load_library().jwtauth_version().decode()
