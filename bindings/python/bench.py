"""Validation from Python: this package vs PyJWT decoding the same token, in the
format of ffi/benches (best of 7 rounds of this thread's CPU time, ns per call).

    python bindings/python/bench.py WORK_DIR [ITERATIONS]

PyJWT verifies the signature and checks exp, iss and aud, returning a dict; the
package is measured returning its claims object (accessors read on demand) and
returning a dict (to_dict: one JSON hop). Run by scripts/bench-bindings.sh.
"""

import os
import sys
import tempfile
import time
import timeit

import jwt

import jwtauth
from jwtauth import JwtAuth

SECRET = "bench-secret-0123456789abcdef-0123456789"
ISS, AUD = "http://localhost:8080", "jwtauth-api"


def best_ns(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=7, timer=time.thread_time)) / number * 1e9


def main():
    for name in [n for n in os.environ if n.startswith("JWTAUTH_")]:
        del os.environ[name]
    jwtauth.set_event_handler(None)  # the benchmark's stores are throwaway: no warnings
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    # Every validation verifies the signature, like PyJWT.
    hs = JwtAuth.from_json(
        {"validation_cache": 0, "algorithm": "HS256", "hs_secret": SECRET, "store": {"url": f"sqlite://{work}/py-hs.db"}}
    )
    es = JwtAuth.from_json({"validation_cache": 0, "algorithm": "ES256", "store": {"url": f"sqlite://{work}/py-es.db"}})

    t = hs.issue("alice", roles=["Admin"]).access_token
    opts = dict(algorithms=["HS256"], audience=AUD, issuer=ISS)
    assert jwt.decode(t, SECRET, **opts)["sub"] == hs.validate(t).subject == "alice"
    print(f"python HS256 validate: {best_ns(lambda: hs.validate(t), n * 10):.0f} ns/op")
    print(f"python_to_dict HS256 validate: {best_ns(lambda: hs.validate(t).to_dict(), n * 10):.0f} ns/op")
    print(f"pyjwt HS256 validate: {best_ns(lambda: jwt.decode(t, SECRET, **opts), n):.0f} ns/op")

    t = es.issue("alice", roles=["Admin"]).access_token
    key = jwt.PyJWKSet.from_dict(es.jwks()).keys[0]
    opts = dict(algorithms=["ES256"], audience=AUD, issuer=ISS)
    assert jwt.decode(t, key, **opts)["sub"] == es.validate(t).subject == "alice"
    print(f"python ES256 validate: {best_ns(lambda: es.validate(t), n):.0f} ns/op")
    print(f"python_to_dict ES256 validate: {best_ns(lambda: es.validate(t).to_dict(), n):.0f} ns/op")
    print(f"pyjwt ES256 validate: {best_ns(lambda: jwt.decode(t, key, **opts), n // 4):.0f} ns/op")


if __name__ == "__main__":
    main()
