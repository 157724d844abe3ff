#!/usr/bin/env python3
"""Refresh rotations per second over HTTP (POST /auth/refresh), loopback only, bounded.

    python3 scripts/refresh-load.py [--seconds S] [--rounds R] [--pg URL] BINARY [BINARY ...]

For each server BINARY (give two, built from two commits, for a before/after in
one run) and each backend, a fresh store: a SQLite file, and a schema of its own
in the PostgreSQL database at --pg (default postgres://postgres@127.0.0.1:5432/test;
skipped when psql cannot reach it; the schemas are dropped at the end). Then
R rounds (default 3), the binaries in a rotating order within a round so that
each sees the same machine load, each measuring with wrk for S seconds (default 2,
at most 10):

  * 1 client: one connection spending its session's refresh token in a chain,
  * 8 clients: 8 connections, each its own session (and its own client address,
    sent as X-Forwarded-For from a trusted proxy, so the per-address throttle
    counts each apart).

Every measurement starts the server afresh, so its refresh throttle (lifted to
the configuration's bounds: 10,000 at once, then one per millisecond, per
session and per address) starts full: with S at most 2 it never refuses a chain
below 6,000 rotations a second. A refused or failed refresh is counted and shown,
and so is the machine's steal time during each measurement (CPU time a virtual
machine's host gave to others), which slows a one-client chain most.
Each wrk thread stops after 50,000 requests. Needs wrk (apt-get install wrk) and,
for PostgreSQL, psql; nothing from PyPI. Server start-up is shared with
scripts/oauth-load.py.
"""

import argparse
import base64
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SECONDS = 10
MAX_REQUESTS_PER_CLIENT = 50_000
CLIENTS = (1, 8)
# The signing keys are sealed with it (PostgreSQL has no master-key file beside the store).
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()

spec = importlib.util.spec_from_file_location("oauth_load", os.path.join(HERE, "oauth-load.py"))
oauth_load = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oauth_load)


def cpu_times():
    """The machine's CPU time counters (/proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None


def steal_percent(before, after):
    """The share of CPU time the hypervisor gave to others between two readings
    (the 8th counter): on a shared virtual machine, what slows a run down."""
    if before is None or after is None or len(before) < 8:
        return None
    d = [b - a for a, b in zip(before, after)]
    return 100 * d[7] / max(1, sum(d))


def psql(url, sql):
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True, timeout=30)


def login(base, client):
    req = urllib.request.Request(
        base + "/auth/login",
        data=json.dumps({"username": "load", "password": oauth_load.PASSWORD}).encode(),
        headers={"content-type": "application/json", "x-forwarded-for": client},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["refresh_token"]


class Target:
    """One server binary over one store."""

    def __init__(self, binary, backend, store_url, tmp):
        self.binary, self.backend, self.store_url, self.tmp = binary, backend, store_url, tmp
        oauth_load.prepare_store(binary, self.env(oauth_load.free_port()), tmp)

    def env(self, port):
        env = oauth_load.load_env(self.tmp, port, self.store_url)
        env["JWTAUTH_MASTER_KEY"] = MASTER_KEY
        env["JWTAUTH_SERVER__TRUSTED_PROXIES"] = "127.0.0.1"
        return env

    def measure(self, clients, seconds):
        port = oauth_load.free_port()
        env = self.env(port)
        base = f"http://127.0.0.1:{port}"
        proc = oauth_load.start_server(self.binary, env, self.tmp)
        try:
            # Client i is 127.0.0.(i + 2) behind the proxy: its own address.
            addresses = [f"127.0.0.{i + 2}" for i in range(clients)]
            tokens = [login(base, a) for a in addresses]
            tokens_file = os.path.join(self.tmp, "tokens")
            with open(tokens_file, "w") as f:
                f.write("".join(f"{t}\n" for t in tokens))
            wrk_env = dict(
                os.environ,
                JWTAUTH_LOAD_TOKENS=tokens_file,
                JWTAUTH_LOAD_ADDRESSES=",".join(addresses),
                JWTAUTH_LOAD_MAX=str(MAX_REQUESTS_PER_CLIENT),
            )
            before = cpu_times()
            out = subprocess.run(
                ["wrk", f"-t{clients}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
                 "-s", os.path.join(HERE, "refresh-chain.lua"), base],
                env=wrk_env, capture_output=True, text=True, timeout=seconds + 60, check=True,
            ).stdout
            steal = steal_percent(before, cpu_times())
        finally:
            oauth_load.stop_server(proc)
        line = next((l for l in out.splitlines() if l.startswith("refresh-chain ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{out}")
        fields = dict(kv.split("=") for kv in line.split()[1:])
        ok, failed = int(fields["ok"]), int(fields["failed"])
        rate = ok / (int(fields["duration_us"]) / 1e6)
        return rate, failed, int(fields["p99_us"]), steal


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binaries", nargs="+", help="jwtauth-server binaries to compare")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/test")
    a = p.parse_args()
    seconds = max(1, min(int(a.seconds), MAX_SECONDS))
    rounds = max(1, min(a.rounds, 10))
    binaries = [os.path.abspath(b) for b in a.binaries]
    names = [os.path.relpath(b) for b in binaries]

    tmp_root = tempfile.mkdtemp(prefix="jwtauth-refresh-load-")
    schemas = []
    backends = [("SQLite", lambda i, d: f"sqlite://{d}/jwtauth.db")]
    if psql(a.pg, "SELECT 1").returncode == 0:
        def pg_url(i, _d):
            schema = f"jwtauth_load_{os.getpid()}_{i}"
            psql(a.pg, f"CREATE SCHEMA {schema}").check_returncode()
            schemas.append(schema)
            sep = "&" if "?" in a.pg else "?"
            return f"{a.pg}{sep}options=-c%20search_path%3D{schema}"
        backends.append(("PostgreSQL", pg_url))
    else:
        print(f"PostgreSQL at {a.pg} unreachable: measuring SQLite only")

    results = {}  # (backend, clients, binary index) -> [rate per round]
    try:
        targets = {}
        n = 0
        for backend, url_of in backends:
            for i, b in enumerate(binaries):
                d = os.path.join(tmp_root, f"{backend}-{i}")
                os.makedirs(d)
                targets[backend, i] = Target(b, backend, url_of(n, d), d)
                n += 1
        print(f"uptime: {os.popen('uptime').read().strip()}")
        print(f"wrk, {seconds} s per measurement, {rounds} rounds, {os.cpu_count()} cores")
        for r in range(rounds):
            order = [(r + k) % len(binaries) for k in range(len(binaries))]
            for backend, _ in backends:
                for clients in CLIENTS:
                    for i in order:
                        rate, failed, p99, steal = targets[backend, i].measure(clients, seconds)
                        results.setdefault((backend, clients, i), []).append(rate)
                        warn = f", {failed} refused or failed" if failed else ""
                        stolen = f"  steal {steal:.0f} %" if steal is not None else ""
                        print(f"round {r + 1}  {backend:<10} {clients} client(s)  {names[i]:<40} {rate:8.0f} /s  p99 {p99 / 1000:.2f} ms{stolen}{warn}")
            print(f"  load average after round {r + 1}: {os.getloadavg()}")
        print()
        print("| backend | clients | " + " | ".join(names) + (" | ratio (median of rounds) |" if len(binaries) > 1 else " |"))
        print("|---|---:|" + "---:|" * len(binaries) + ("---:|" if len(binaries) > 1 else ""))
        for backend, _ in backends:
            for clients in CLIENTS:
                medians = [statistics.median(results[backend, clients, i]) for i in range(len(binaries))]
                row = f"| {backend} | {clients} | " + " | ".join(f"{m:,.0f}" for m in medians) + " |"
                if len(binaries) > 1:
                    ratios = [x / y for x, y in zip(results[backend, clients, len(binaries) - 1], results[backend, clients, 0])]
                    row += f" {statistics.median(ratios):.2f} |"
                print(row)
        print(f"uptime: {os.popen('uptime').read().strip()}")
    finally:
        for s in schemas:
            psql(a.pg, f"DROP SCHEMA IF EXISTS {s} CASCADE")


if __name__ == "__main__":
    main()
