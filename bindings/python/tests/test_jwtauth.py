"""The Python package, and interoperability with PyJWT in both directions."""

import json
import threading
import time

import jwt
import pytest
from conftest import AUDIENCE, ISSUER, SECRET, config

from jwtauth import ConfigError, Forbidden, InvalidToken, JwtAuth, JwtAuthError, StoreError, version


def test_version_is_semver():
    assert version().count(".") == 2


def test_issue_then_validate_reads_every_kind_of_claim(hs):
    t = hs.issue("alice", roles=["Admin", "reader"], extra={"tenant": "acme", "n": 42, "ok": True})
    assert t.refresh_token is None and t.expires_at > time.time()
    c = hs.validate(t.access_token)
    assert c.subject == "alice"
    assert c.roles == ["Admin", "reader"]
    assert c.has_role("Admin") and not c.has_role("admin")
    assert c["tenant"] == "acme" and c["n"] == 42 and c["ok"] is True
    d = c.to_dict()
    assert d["iss"] == ISSUER and d["aud"] == [AUDIENCE] and d["jti"] == t.jwt_id and d["exp"] == t.expires_at
    assert t.access_token not in repr(t)


def test_failures_raise_with_reason_and_hint(hs):
    with pytest.raises(JwtAuthError) as e:
        hs.validate("a.b.c")
    assert e.value.reason == "malformed" and e.value.status == 3 and e.value.hint
    token = hs.issue("bob").access_token
    with pytest.raises(JwtAuthError) as e:
        hs.validate_header(token, request={"client": "127.0.0.1:1", "path": "/x"})
    assert e.value.reason == "bad_scheme" and "Bearer" in e.value.hint
    with pytest.raises(JwtAuthError) as e:
        hs.validate_header(None)
    assert e.value.reason == "missing_token"
    assert hs.validate_header(f"Bearer {token}").subject == "bob"
    with pytest.raises(JwtAuthError) as e:
        hs.issue("")
    assert e.value.reason == "invalid_argument"
    with pytest.raises(JwtAuthError) as e:
        hs.issue("x", extra={"sub": "mallory"})
    assert e.value.reason == "invalid_argument" and "reserved" in e.value.hint


def test_a_nul_byte_makes_a_token_malformed_never_cut_short(hs):
    token = hs.issue("nul").access_token
    for bad in (token + "\0", token + "\0junk", token[:-2] + "\0" + token[-1:]):
        for call in (hs.validate, hs.validate_header):
            arg = bad if call == hs.validate else "Bearer " + bad
            with pytest.raises(InvalidToken) as e:
                call(arg)
            assert e.value.reason == "malformed", (bad.index("\0"), e.value)
        with pytest.raises(InvalidToken) as e:
            hs.validate(bad.encode())
        assert e.value.reason == "malformed"
    with pytest.raises(InvalidToken) as e:
        hs.validate("")
    assert e.value.reason == "missing_token"
    assert hs.validate(token.encode()).subject == "nul"


def test_bad_configuration_is_a_config_error(tmp_path):
    with pytest.raises(JwtAuthError) as e:
        JwtAuth.from_json(config(tmp_path, hs_secret="secret"))
    assert e.value.reason == "config" and "hs_secret" in e.value.hint
    with pytest.raises(JwtAuthError) as e:
        JwtAuth(str(tmp_path / "missing.toml"))
    assert e.value.reason == "config"


def test_config_file_like_the_binaries(tmp_path):
    path = tmp_path / "jwtauth.toml"
    path.write_text(
        f'issuer = "{ISSUER}"\naudience = "{AUDIENCE}"\nalgorithm = "HS256"\nhs_secret = "{SECRET}"\n'
        f'[log]\ndir = "{tmp_path / "logs"}"\n[store]\nurl = "sqlite://{tmp_path / "f.db"}"\n'
    )
    with JwtAuth(str(path)) as auth:
        assert auth.validate(auth.issue("carol").access_token).subject == "carol"


def test_login_refresh_and_reuse_detection(hs):
    login = hs.session_start("dave", roles=["reader"], extra={"tenant": "acme"})
    assert login.refresh_token and login.refresh_expires_at > login.expires_at
    second = hs.refresh(login.refresh_token, request={"client": "10.0.0.1:1"})
    assert second.refresh_token != login.refresh_token
    c = hs.validate(second.access_token)
    assert c.roles == ["reader"] and c["tenant"] == "acme"
    with pytest.raises(JwtAuthError) as e:
        hs.refresh(login.refresh_token)
    assert e.value.reason == "refresh_reused"
    with pytest.raises(JwtAuthError) as e:
        hs.refresh(second.refresh_token)
    assert e.value.reason in ("revoked", "refresh_reused")
    with pytest.raises(JwtAuthError) as e:
        hs.refresh("nope")
    assert e.value.reason == "refresh_invalid"


def test_logout_and_logout_everywhere(hs):
    s = hs.session_start("erin")
    assert hs.revoke(s.refresh_token) is True
    assert hs.revoke("unknown") is False
    with pytest.raises(JwtAuthError):
        hs.refresh(s.refresh_token)
    a = hs.session_start("frank")
    hs.session_start("frank")
    assert hs.revoke_subject("frank") == 2
    with pytest.raises(JwtAuthError) as e:
        hs.validate(a.access_token)
    assert e.value.reason == "revoked"


def test_rotate_key_publishes_first_and_rotate_key_now_signs_at_once(hs):
    old = hs.issue("grace")
    kid = hs.rotate_key("ES256")
    # Published, not yet signing (key_publish_ahead is 10 minutes by default).
    assert any(k["kid"] == kid for k in hs.jwks()["keys"])
    assert hs.issue("grace").kid == old.kid != kid
    now_kid = hs.rotate_key_now("ES256")
    new = hs.issue("grace")
    assert new.kid == now_kid not in (kid, old.kid)
    assert hs.validate(old.access_token).subject == "grace"
    assert hs.validate(new.access_token).subject == "grace"
    for rotate in (hs.rotate_key, hs.rotate_key_now):
        with pytest.raises(JwtAuthError) as e:
            rotate("none")
        assert e.value.reason == "invalid_argument"


def test_validation_from_eight_threads(hs):
    token = hs.issue("heidi").access_token
    errors = []

    def work():
        for _ in range(300):
            if hs.validate(token).subject != "heidi":
                errors.append("wrong subject")
        try:
            hs.validate("")
        except JwtAuthError as e:
            if e.reason != "missing_token":
                errors.append(e.reason)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---- interoperability with PyJWT ----


def test_token_from_the_c_api_validates_in_pyjwt_with_the_jwks(es):
    issued = es.issue("ivan", roles=["Admin"])
    jwks = jwt.PyJWKSet.from_dict(es.jwks())
    kid = jwt.get_unverified_header(issued.access_token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(issued.access_token, key=key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "ivan" and claims["roles"] == ["Admin"] and claims["jti"] == issued.jwt_id
    # And a tampered one does not.
    head, body, sig = issued.access_token.split(".")
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "mallory"}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged}.{sig}", key=key, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER)


def test_token_pyjwt_signs_with_the_hs256_secret_validates_through_the_c_api(hs):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "judy", "iat": now, "exp": now + 300, "roles": ["reader"]}
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    c = hs.validate(token)
    assert c.subject == "judy" and c.roles == ["reader"]
    # Another secret, an expired token, another audience, alg none: each with its reason.
    cases = {
        "bad_signature": jwt.encode(payload, "x" * 40, algorithm="HS256"),
        "expired": jwt.encode({**payload, "exp": now - 3600}, SECRET, algorithm="HS256"),
        "wrong_audience": jwt.encode({**payload, "aud": "other"}, SECRET, algorithm="HS256"),
        "alg_not_allowed": jwt.encode(payload, None, algorithm="none"),
    }
    for reason, bad in cases.items():
        with pytest.raises(JwtAuthError) as e:
            hs.validate(bad)
        assert e.value.reason == reason, (reason, e.value)


def test_a_store_that_cannot_be_opened_is_a_store_error(tmp_path):
    with pytest.raises(JwtAuthError) as e:
        JwtAuth.from_json(config(tmp_path, store={"url": "sqlite:///proc/self/nope/x.db"}))
    assert e.value.reason == "store" and e.value.status == 102
