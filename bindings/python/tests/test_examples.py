"""The FastAPI and Flask examples answer 401, 403 and 200 as they say.
They need fastapi, httpx and flask; .ci/run installs them and sets
JWTAUTH_TEST_EXAMPLES=1, so there a missing one fails instead of skipping."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from conftest import SECRET

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _need(module):
    if os.environ.get("JWTAUTH_TEST_EXAMPLES") == "1":
        return __import__(module)
    return pytest.importorskip(module)


def _load(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JWTAUTH_HS_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fastapi_dependency(tmp_path, monkeypatch):
    _need("fastapi")
    _need("httpx")
    from fastapi.testclient import TestClient

    ex = _load("fastapi_app", tmp_path, monkeypatch)
    client = TestClient(ex.app)
    reader = ex.auth.issue("alice", roles=["reader"]).access_token
    admin = ex.auth.issue("root", roles=["Admin"]).access_token
    r = client.get("/api/hello")
    assert r.status_code == 401 and "missing_token" in r.headers["www-authenticate"]
    assert client.get("/api/hello", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/hello", headers={"Authorization": f"Bearer {reader}"}).json() == {"hello": "alice"}
    assert client.get("/api/admin", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    assert client.get("/api/admin", headers={"Authorization": f"Bearer {admin}"}).json() == {"admin": "root"}


def test_flask_route(tmp_path, monkeypatch):
    _need("flask")
    ex = _load("flask_app", tmp_path, monkeypatch)
    client = ex.app.test_client()
    reader = ex.auth.issue("alice", roles=["reader"]).access_token
    assert client.get("/api/hello").status_code == 401
    assert client.get("/api/hello", headers={"Authorization": f"Bearer {reader}"}).get_json() == {"hello": "alice"}
    assert client.get("/api/admin", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
