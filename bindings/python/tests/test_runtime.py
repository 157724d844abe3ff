"""What a host needs from the package: error details of its own call under
threads, events through logging, a context manager, flat memory, typing."""

import gc
import importlib.resources
import logging
import threading

import pytest
from conftest import config

import jwtauth
from jwtauth import Forbidden, InvalidToken, JwtAuth, JwtAuthError


def test_errors_are_typed_and_carry_reason_and_hint(hs, tmp_path):
    with pytest.raises(InvalidToken) as e:
        hs.validate("a.b.c")
    assert e.value.reason == "malformed" and e.value.hint and isinstance(e.value, JwtAuthError)
    claims = hs.validate(hs.issue("ann", roles=["reader"]).access_token)
    with pytest.raises(Forbidden) as e:
        hs.require_role(claims, "Admin")
    assert e.value.reason == "insufficient_role" and "'Admin'" in e.value.hint
    hs.require_role(claims, "reader")
    with pytest.raises(jwtauth.ConfigError) as e:
        JwtAuth.from_json({"no_such_key": 1})
    assert "no_such_key" in e.value.hint


def test_error_details_of_eight_threads_belong_to_their_call(hs):
    claims = hs.validate(hs.issue("bert").access_token)
    wrong = []

    def work(n):
        for i in range(1500):
            role = f"role-{n}-{i}"
            try:
                hs.require_role(claims, role)
                wrong.append("no error")
            except Forbidden as e:
                if f"'{role}'" not in e.hint:
                    wrong.append(e.hint)
            try:
                hs.validate("x.y")
            except InvalidToken as e:
                if e.reason != "malformed":
                    wrong.append(e.reason)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_the_context_manager_closes_the_handle(tmp_path):
    with JwtAuth.from_json(config(tmp_path)) as auth:
        assert auth.validate(auth.issue("cleo").access_token).subject == "cleo"
    assert auth._h is None
    auth.close()  # idempotent


def test_failures_and_warnings_reach_python_logging(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="jwtauth")
    c = config(tmp_path)
    del c["log"]
    # Keys in the clear, spelled out: the warning about them is the one to route.
    c["allow_unsealed_keys"] = True
    with JwtAuth.from_json(c) as auth:
        with pytest.raises(InvalidToken):
            auth.validate_header("Basic abc", request={"client": "192.0.2.1:5", "path": "/p"})
    failures = [r for r in caplog.records if r.levelno == logging.INFO and "authentication failure" in r.getMessage()]
    assert failures and '"reason": "bad_scheme"' in failures[-1].getMessage()
    assert '"client": "192.0.2.1:5"' in failures[-1].getMessage()
    assert any(r.levelno == logging.WARNING and "UNENCRYPTED" in r.getMessage() for r in caplog.records)
    # No log directory appears without log.dir.
    assert not (tmp_path / "logs").exists()


def test_a_custom_event_handler_receives_dicts(hs):
    seen = []
    jwtauth.set_event_handler(lambda kind, event: seen.append((kind, event)))
    try:
        with pytest.raises(InvalidToken):
            hs.validate("")
    finally:
        jwtauth.set_event_handler(jwtauth._log_event)
    assert seen and seen[-1][0] == "failure" and seen[-1][1]["reason"] == "missing_token"


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_no_native_leak_over_a_long_loop(hs):
    token = hs.issue("dora", roles=["reader"]).access_token

    def loop(n):
        for _ in range(n):
            c = hs.validate(token)
            try:
                hs.require_role(c, "Admin")
            except Forbidden:
                pass
            try:
                hs.validate("bad")
            except InvalidToken:
                pass
        gc.collect()

    loop(5000)
    before = _rss_kib()
    loop(40000)
    grown = _rss_kib() - before
    assert grown < 16 * 1024, f"RSS grew {grown} KiB over 40,000 iterations"


def test_the_package_is_typed_and_bundles_the_library():
    files = importlib.resources.files("jwtauth")
    assert files.joinpath("py.typed").is_file()
    assert any(p.name.startswith("_native") for p in files.iterdir())
