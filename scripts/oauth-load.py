#!/usr/bin/env python3
"""Bounded load on the token endpoints of a jwtauth-server, loopback only.

    python3 scripts/oauth-load.py target/release/jwtauth-server [SECONDS] [THREADS]

Starts the server on a free 127.0.0.1 port with a fresh SQLite store, then, in
one run against that one store, measures for SECONDS each (default 5, at most 30;
THREADS clients, default 4, at most 16; at most 20,000 requests per measurement):

  * refresh rotations per second on POST /auth/refresh (JSON),
  * refresh rotations per second on POST /oauth/token (form, grant_type=refresh_token),
  * client-credentials tokens per second on POST /oauth/token (client_secret_basic).

Each client thread keeps one session and spends its refresh token in a chain, so
every request is a real rotation. Needs only `requests` (in a virtual environment).
The client is Python: the figures are a comparison of the endpoints side by side on
one machine, not a ceiling of the server.

`server_env`, `load_env`, `prepare_store` and `start_server` are shared with the other load
scripts here (scripts/refresh-load.py).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

MAX_SECONDS = 30
MAX_THREADS = 16
MAX_REQUESTS = 20_000
PASSWORD = "load test password 1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(name, threads, seconds, setup, step):
    # Every thread logs in (setup) before the clock starts.
    ready = threading.Barrier(threads + 1)
    stop = [0.0]
    counts = [0] * threads
    errors = [0] * threads
    lock = threading.Lock()
    total = [0]

    def worker(i):
        s = requests.Session()
        state = setup(s)
        ready.wait(timeout=120)
        ready.wait(timeout=120)
        while time.monotonic() < stop[0]:
            with lock:
                if total[0] >= MAX_REQUESTS:
                    return
                total[0] += 1
            ok, state = step(s, state)
            if ok:
                counts[i] += 1
            else:
                errors[i] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    ready.wait(timeout=120)
    start = time.monotonic()
    stop[0] = start + seconds
    ready.wait(timeout=120)
    for t in ts:
        t.join()
    elapsed = time.monotonic() - start
    n = sum(counts)
    print(f"{name:<44} {n / elapsed:8.0f} /s   ({n} in {elapsed:.1f} s, {sum(errors)} errors)")
    return n / elapsed


def server_env(tmp, port, store_url=None):
    """The environment of a server on 127.0.0.1:`port` keeping its store at
    `store_url` (a SQLite file in `tmp` by default) and its failure log in
    `tmp`/logs, with every other setting at its default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTAUTH_")}
    env.update(
        JWTAUTH_STORE__URL=store_url or f"sqlite://{tmp}/jwtauth.db",
        JWTAUTH_LOG__DIR=f"{tmp}/logs",
        JWTAUTH_SERVER__LISTEN=f"127.0.0.1:{port}",
        JWTAUTH_ISSUER=f"http://127.0.0.1:{port}",
    )
    return env


def load_env(tmp, port, store_url=None):
    """server_env with the login and refresh throttles lifted as far as the
    configuration allows."""
    env = server_env(tmp, port, store_url)
    env.update(
        # Each client thread logs in once per measurement.
        JWTAUTH_LOGIN__USER_BURST="100",
        JWTAUTH_LOGIN__CLIENT_BURST="100",
        # Each client chains one session as fast as it can: lift the refresh throttle
        # (10,000 at once, then one more per millisecond: the configuration's bounds).
        JWTAUTH_REFRESH_LIMITS__FAMILY_BURST="10000",
        JWTAUTH_REFRESH_LIMITS__FAMILY_PERIOD="1ms",
        JWTAUTH_REFRESH_LIMITS__CLIENT_BURST="10000",
        JWTAUTH_REFRESH_LIMITS__CLIENT_PERIOD="1ms",
    )
    return env


def admin(binary, env, cwd, *args, stdin=""):
    """Runs one administration subcommand of the server binary."""
    done = subprocess.run([binary, *args], input=stdin, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def prepare_store(binary, env, cwd):
    """Creates the store and the user `load` (password PASSWORD)."""
    admin(binary, env, cwd, "init")
    admin(binary, env, cwd, "user", "add", "load", "--role", "User", stdin=PASSWORD + "\n")


def start_server(binary, env, cwd):
    """Starts the server and returns its process once it listens."""
    proc = subprocess.Popen([binary], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("jwtauth-server listening on"):
        proc.kill()
        raise RuntimeError(f"{binary} did not start: {line!r}")
    return proc


def stop_server(proc):
    proc.terminate()
    proc.wait(timeout=15)


def main():
    import requests

    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/jwtauth-server")
    seconds = min(float(sys.argv[2]) if len(sys.argv) > 2 else 5.0, MAX_SECONDS)
    threads = min(int(sys.argv[3]) if len(sys.argv) > 3 else 4, MAX_THREADS)
    tmp = tempfile.mkdtemp(prefix="jwtauth-load-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = load_env(tmp, port)
    prepare_store(binary, env, tmp)
    creds = json.loads(admin(binary, env, tmp, "client", "add", "load-svc", "--json").stdout)
    proc = start_server(binary, env, tmp)
    try:
        print(f"server {binary}, {threads} client threads, {seconds:.0f} s each, load average {os.getloadavg()}")

        def session(s):
            r = s.post(base + "/auth/login", json={"username": "load", "password": PASSWORD}, timeout=30)
            r.raise_for_status()
            return r.json()["refresh_token"]

        def auth_refresh(s, token):
            r = s.post(base + "/auth/refresh", json={"refresh_token": token}, timeout=30)
            return (True, r.json()["refresh_token"]) if r.status_code == 200 else (False, token)

        def oauth_refresh(s, token):
            r = s.post(base + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}, timeout=30)
            return (True, r.json()["refresh_token"]) if r.status_code == 200 else (False, token)

        def client_credentials(s, _):
            r = s.post(
                base + "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(creds["client_id"], creds["client_secret"]),
                timeout=30,
            )
            return r.status_code == 200, None

        # Alternated, so both refresh endpoints see the same machine load.
        for _ in range(2):
            measure("POST /auth/refresh (rotations)", threads, seconds / 2, session, auth_refresh)
            measure("POST /oauth/token refresh_token (rotations)", threads, seconds / 2, session, oauth_refresh)
        measure("POST /oauth/token client_credentials (tokens)", threads, seconds, lambda s: None, client_credentials)
        print(f"load average after: {os.getloadavg()}")
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
