"""Writes c_api_tokens.txt: hand-made HS256 tokens, one per failure the C tests expect.

Run from this folder: python3 make_tokens.py (stdlib only; the output is committed).
"""
import base64
import hashlib
import hmac
import json

SECRET = b"c-api-test-secret-0123456789abcdef-xyz"
ISS = "https://auth.test"
AUD = "c-api"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def tok(header, claims, secret=SECRET):
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    p = b64(json.dumps(claims, separators=(",", ":")).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}.get(header.get("alg"))
    sig = b64(hmac.new(secret, (h + "." + p).encode(), digest).digest()) if digest else ""
    return f"{h}.{p}.{sig}"


BASE = {"iss": ISS, "aud": AUD, "sub": "alice", "iat": 1700000000, "exp": 4102444800, "roles": ["reader"]}


def w(**kw):
    c = dict(BASE)
    c.update(kw)
    return c


ROWS = [
    ("valid_far_future", "ok",
     tok({"alg": "HS256", "typ": "JWT"}, w(tenant="acme", tenant_id=42, email_verified=True, scopes=["a", "b"]))),
    ("expired", "expired", tok({"alg": "HS256", "typ": "JWT"}, w(iat=1000000000, exp=1000000600))),
    ("not_yet_valid", "not_yet_valid", tok({"alg": "HS256", "typ": "JWT"}, w(nbf=4000000000))),
    ("wrong_issuer", "wrong_issuer", tok({"alg": "HS256"}, w(iss="https://evil.test"))),
    ("wrong_audience", "wrong_audience", tok({"alg": "HS256"}, w(aud="other-api"))),
    ("missing_sub", "missing_claim", tok({"alg": "HS256"}, {k: v for k, v in BASE.items() if k != "sub"})),
    ("alg_none", "alg_not_allowed", tok({"alg": "none"}, w()) + "c2ln"),
    ("alg_switch_hs384", "alg_not_allowed", tok({"alg": "HS384"}, w())),
    ("wrong_secret", "bad_signature", tok({"alg": "HS256"}, w(), secret=b"another-secret-that-is-long-enough-000")),
    ("unknown_kid", "unknown_kid", tok({"alg": "HS256", "kid": "no-such-key"}, w())),
    ("two_parts", "malformed", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0"),
    ("exp_as_string", "malformed", tok({"alg": "HS256"}, w(exp="4102444800"))),
    ("crit_header", "malformed", tok({"alg": "HS256", "crit": ["x"], "x": 1}, w())),
]

with open("c_api_tokens.txt", "w") as f:
    f.write("# name expected-status token; HS256 secret: c-api-test-secret-0123456789abcdef-xyz,\n"
            "# issuer https://auth.test, audience c-api. Made with ffi/tests/data/make_tokens.py.\n")
    for row in ROWS:
        f.write(" ".join(row) + "\n")
