"""Standard OAuth 2.0 client libraries against a real jwtauth-server on loopback.

Each test reads the endpoints from the RFC 8414 metadata, as those libraries'
users do: requests-oauthlib and authlib refresh a first-party login's token,
authlib validates the metadata, authlib gets a client-credentials token, and
PyJWT's PyJWKClient verifies tokens against the published JWKS, a rotated key
included; on Node, jose verifies a token against the JWKS and openid-client
discovers the server, refreshes, gets client-credentials tokens, introspects
and revokes.

Run with JWTAUTH_SERVER_BIN pointing at a built jwtauth-server.
"""

import json
import os
import socket
import subprocess
import tempfile
import time

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from requests_oauthlib import OAuth2Session

BIN = os.path.abspath(os.environ.get("JWTAUTH_SERVER_BIN", "target/debug/jwtauth-server"))
AUDIENCE = "jwtauth-api"
PASSWORD = "client test password 1"
TIMEOUT = 10
# The server listens on loopback only; oauthlib refuses plain HTTP unless told.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    tmp = tempfile.mkdtemp(prefix="jwtauth-oauth-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTAUTH_")}
    env.update(
        JWTAUTH_STORE__URL=f"sqlite://{tmp}/jwtauth.db",
        JWTAUTH_LOG__DIR=f"{tmp}/logs",
        JWTAUTH_SERVER__LISTEN=f"127.0.0.1:{port}",
        # An http:// issuer is an absolute URL on loopback: the metadata is built from it.
        JWTAUTH_ISSUER=base,
        JWTAUTH_KEY_PUBLISH_AHEAD="4s",
        # How soon a key change made by another process (the CLI) reaches the server.
        JWTAUTH_REVOCATION_STALENESS="1s",
    )

    def run(*args, stdin=""):
        return subprocess.run(
            [BIN, *args], input=stdin, env=env, cwd=tmp, capture_output=True, text=True, timeout=60, check=True
        )

    # Administration opens a store that exists: `init` makes it without serving.
    run("init")
    run("user", "add", "carol", "--role", "User", stdin=PASSWORD + "\n")
    creds = json.loads(run("client", "add", "reports", "--role", "Admin", "--json").stdout)
    proc = subprocess.Popen([BIN], env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("jwtauth-server listening on"), line
        yield {"base": base, "creds": creds, "run": run}
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def metadata(server):
    r = requests.get(server["base"] + "/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    r.raise_for_status()
    return r.json()


def login(server):
    r = requests.post(
        server["base"] + "/auth/login", json={"username": "carol", "password": PASSWORD}, timeout=TIMEOUT
    )
    r.raise_for_status()
    return r.json()


def test_authlib_accepts_the_metadata(server):
    meta = metadata(server)
    AuthorizationServerMetadata(meta).validate()
    assert meta["issuer"] == server["base"]
    assert meta["token_endpoint"] == server["base"] + "/oauth/token"
    assert "authorization_endpoint" not in meta


def test_requests_oauthlib_refreshes_at_the_advertised_token_endpoint(server):
    token = login(server)
    session = OAuth2Session(client_id="spa", token=token)
    new = session.refresh_token(metadata(server)["token_endpoint"], timeout=TIMEOUT)
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] != token["refresh_token"]
    r = session.get(server["base"] + "/auth/me", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["sub"] == "carol"
    # The spent token again: reuse, refused as RFC 6749 says.
    r = requests.post(
        metadata(server)["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_authlib_refreshes_and_revokes(server):
    token = login(server)
    meta = metadata(server)
    client = AuthlibSession(client_id="spa", token=token, token_endpoint_auth_method="none")
    new = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert new["access_token"] != token["access_token"]
    r = client.revoke_token(meta["revocation_endpoint"], token=new["refresh_token"])
    assert r.status_code == 200
    r = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_authlib_client_credentials_token_is_accepted_and_introspected(server):
    meta = metadata(server)
    creds = server["creds"]
    for method in ("client_secret_basic", "client_secret_post"):
        client = AuthlibSession(creds["client_id"], creds["client_secret"], token_endpoint_auth_method=method)
        token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        assert "refresh_token" not in token
        r = requests.get(
            server["base"] + "/api/products",
            headers={"Authorization": "Bearer " + token["access_token"]},
            timeout=TIMEOUT,
        )
        assert r.status_code == 200
        r = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
        assert r.json()["active"] is True and r.json()["client_id"] == "reports"
    bad = AuthlibSession(creds["client_id"], "wrong", token_endpoint_auth_method="client_secret_basic")
    with pytest.raises(Exception) as e:
        bad.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert "invalid_client" in str(e.value)


def test_pyjwt_jwks_client_verifies_tokens_across_a_rotation(server):
    meta = metadata(server)
    jwks = PyJWKClientFor(meta["jwks_uri"], meta["issuer"])
    first = login(server)["access_token"]
    assert jwks.verify(first)["sub"] == "carol"
    # Rotate: the new key is published before it signs, so the client's cached
    # set holds it when the first token naming it arrives.
    out = server["run"]("keys", "rotate").stdout
    new_kid = out.split()[2]
    # The server publishes it within revocation_staleness (1 s here), well before
    # it signs (4 s): the client fetches the set once, then relies on its cache.
    deadline = time.time() + 10
    while new_kid not in {k.key_id for k in jwks.client.get_jwk_set(refresh=True).keys}:
        assert time.time() < deadline, "the rotated key was never published"
        time.sleep(0.2)
    deadline = time.time() + 20
    while True:
        token = login_free_token(server, meta)
        if jwt.get_unverified_header(token)["kid"] == new_kid:
            break
        assert time.time() < deadline, "the rotated key never signed"
        time.sleep(0.5)
    assert jwks.verify(token, refresh_allowed=False)["sub"] == "reports"


NODE_DIR = os.environ.get("JWTAUTH_NODE_DIR", "target/oauth-node")


def run_node(script, *args, stdin=""):
    """Runs one of this folder's Node scripts (bounded), returning its stdout.

    Node resolves packages from the script's folder upwards: the script is
    copied beside the node_modules that .ci/run installs into target/oauth-node.
    """
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), script)
    local = os.path.join(os.path.abspath(NODE_DIR), script)
    with open(here) as src, open(local, "w") as dst:
        dst.write(src.read())
    out = subprocess.run(["node", local, *args], input=stdin, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_jose_create_remote_jwks_set_verifies_a_token(server):
    """panva jose on Node (installed by .ci/run into target/oauth-node)."""
    meta = metadata(server)
    token = login_free_token(server, meta)
    out = run_node("jose_verify.mjs", server["base"], meta["issuer"], AUDIENCE, stdin=token)
    assert out.strip() == "reports"


def test_openid_client_discovers_refreshes_and_gets_client_credentials(server):
    """panva openid-client v6 on Node: discovery from /.well-known/openid-configuration,
    then its refresh-token, client-credentials, introspection and revocation calls."""
    first, second = login(server), login(server)
    creds = server["creds"]
    request = {
        "issuer": server["base"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "refresh_token": first["refresh_token"],
        "revoke_refresh_token": second["refresh_token"],
    }
    seen = json.loads(run_node("openid_client_flow.mjs", stdin=json.dumps(request)))
    assert seen["issuer"] == server["base"]
    assert seen["token_endpoint"] == server["base"] + "/oauth/token"
    # The refresh rotated: new tokens, and the spent refresh token is refused.
    refreshed = seen["refreshed"]
    assert refreshed["token_type"] == "bearer" and refreshed["expires_in"] > 0
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] not in (None, first["refresh_token"])
    assert seen["me"]["status"] == 200 and seen["me"]["body"]["sub"] == "carol"
    assert seen["products_status"] == 200
    assert seen["introspected"] == {"active": True, "sub": "carol"}
    assert seen["reuse_error"] == "invalid_grant"
    # The service's token works on the API and names its client.
    cc = seen["client_credentials"]
    assert cc["has_refresh_token"] is False
    assert cc["products_status"] == 200
    assert cc["introspected"] == {"active": True, "client_id": "reports"}
    r = requests.get(
        server["base"] + "/api/products", headers={"Authorization": "Bearer " + cc["access_token"]}, timeout=TIMEOUT
    )
    assert r.status_code == 200
    # Revoked through openid-client: the session's refresh token no longer works.
    assert seen["after_revoke_error"] == "invalid_grant"


def login_free_token(server, meta):
    """A client-credentials token (not throttled like a password login)."""
    creds = server["creds"]
    r = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
        timeout=TIMEOUT,
    )
    r.raise_for_status()
    return r.json()["access_token"]


class PyJWKClientFor:
    def __init__(self, uri, issuer):
        self.client = jwt.PyJWKClient(uri, cache_keys=True)
        self.issuer = issuer

    def verify(self, token, refresh_allowed=True):
        kid = jwt.get_unverified_header(token)["kid"]
        if refresh_allowed:
            key = self.client.get_signing_key(kid)
        else:
            # Only what is cached: no fetch on a missing kid.
            keys = {k.key_id: k for k in self.client.get_jwk_set(refresh=False).keys}
            key = keys[kid]
        return jwt.decode(token, key.key, algorithms=["ES256"], audience=AUDIENCE, issuer=self.issuer)
