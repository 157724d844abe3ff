import os

import pytest

SECRET = "python-binding-test-secret-0123456789-abcdef"
ISSUER = "https://auth.python.test"
AUDIENCE = "py-api"


@pytest.fixture(autouse=True)
def _no_jwtauth_env(monkeypatch):
    """The tests choose their configuration: no JWTAUTH_* variable may override it."""
    for name in list(os.environ):
        if name.startswith("JWTAUTH_"):
            monkeypatch.delenv(name)


def config(tmp_path, **over):
    c = {
        "algorithm": "HS256",
        "hs_secret": SECRET,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "log": {"dir": str(tmp_path / "logs")},
        "store": {"url": f"sqlite://{tmp_path / 'store.db'}"},
    }
    c.update(over)
    return c


@pytest.fixture
def hs(tmp_path):
    from jwtauth import JwtAuth

    with JwtAuth.from_json(config(tmp_path)) as auth:
        yield auth


@pytest.fixture
def es(tmp_path):
    from jwtauth import JwtAuth

    c = config(tmp_path, algorithm="ES256")
    del c["hs_secret"]
    with JwtAuth.from_json(c) as auth:
        yield auth
