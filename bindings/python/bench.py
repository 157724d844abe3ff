"""Validation from Python: this binding vs. PyJWT decoding the same token.

    LIBJWTAUTH_PATH=target/release/libjwtauth.so python3 examples/python/bench.py

PyJWT verifies the signature and checks exp, iss and aud, returning a dict; the
binding is measured returning its claims object (accessors read on demand) and
returning a dict (to_dict: one JSON hop). Best of 5 rounds of this thread's CPU
time, so other load on the machine disturbs the figures less.
"""

import os
import sys
import tempfile
import time
import timeit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jwt  # noqa: E402

from jwtauth import JwtAuth  # noqa: E402

SECRET = "bench-secret-0123456789abcdef-0123456789"
ISS, AUD = "http://localhost:8080", "jwtauth-api"


def best_us(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5, timer=time.thread_time)) / number * 1e6


def row(name, ours, ours_dict, pyjwt):
    print(
        f"{name}: binding {ours:.2f} us (to_dict {ours_dict:.2f} us), PyJWT {pyjwt:.2f} us"
        f" -> {pyjwt / ours:.1f}x faster ({pyjwt / ours_dict:.1f}x with to_dict)"
    )


def main():
    for name in [n for n in os.environ if n.startswith("JWTAUTH_")]:
        del os.environ[name]
    work = tempfile.mkdtemp()
    log = {"dir": f"{work}/logs"}
    # Every validation verifies the signature, like PyJWT (the verified-token cache,
    # on by default, is measured apart below).
    full = {"validation_cache": 0, "log": log}
    hs = JwtAuth.from_json({"algorithm": "HS256", "hs_secret": SECRET, "store": {"url": f"sqlite://{work}/hs.db"}, **full})
    es = JwtAuth.from_json({"algorithm": "ES256", "store": {"url": f"sqlite://{work}/es.db"}, **full})

    t = hs.issue("alice", roles=["Admin"]).access_token
    opts = dict(algorithms=["HS256"], audience=AUD, issuer=ISS)
    assert jwt.decode(t, SECRET, **opts)["sub"] == hs.validate(t).subject == "alice"
    row(
        "HS256",
        best_us(lambda: hs.validate(t), 20000),
        best_us(lambda: hs.validate(t).to_dict(), 20000),
        best_us(lambda: jwt.decode(t, SECRET, **opts), 20000),
    )

    t = es.issue("alice", roles=["Admin"]).access_token
    key = jwt.PyJWKSet.from_dict(es.jwks()).keys[0]
    opts = dict(algorithms=["ES256"], audience=AUD, issuer=ISS)
    assert jwt.decode(t, key, **opts)["sub"] == es.validate(t).subject == "alice"
    row(
        "ES256",
        best_us(lambda: es.validate(t), 3000),
        best_us(lambda: es.validate(t).to_dict(), 3000),
        best_us(lambda: jwt.decode(t, key, **opts), 3000),
    )
    # The same token again with the cache on: its signature was verified once.
    remembering = JwtAuth.from_json({"algorithm": "ES256", "log": log, "store": {"url": f"sqlite://{work}/es.db"}})
    assert remembering.validate(t).subject == "alice"
    row(
        "ES256 remembered",
        best_us(lambda: remembering.validate(t), 20000),
        best_us(lambda: remembering.validate(t).to_dict(), 20000),
        best_us(lambda: jwt.decode(t, key, **opts), 3000),
    )


if __name__ == "__main__":
    main()
