#!/usr/bin/env python3
"""A soak of jwtauth-server on loopback: memory and open files stay flat.

    python3 scripts/soak.py [SERVER_BINARY] [SECONDS] [RATE]

Starts the server (default target/release/jwtauth-server) on a free 127.0.0.1 port
with a fresh SQLite store, then for SECONDS (default 600, at most 3,600) keeps a
mixed load of about RATE requests per second (default 300, at most 2,000) from 4
client threads: protected GETs with a valid token (most), refresh rotations,
requests with a forged token and with none (failures, written to the failure log),
logins, /metrics and /healthz. Every 5 s it samples the server's resident memory
(VmRSS) and its open file descriptors from /proc.

The figures it compares: the largest sample of the first fifth (the warm-up, at
least 10 s) against, for memory, a sample taken IDLE_AFTER (3 s) after the load
stopped, and for descriptors the largest of the last fifth. Memory is read at rest
because a login's argon2 block (7 MiB per hashing slot) is freed 2 s after its last
use: a window that happens to hold a login's blocks is not growth, and a leak is
still there at rest. It exits non-zero when memory
grew by more than 4 MiB and 15 %, when open descriptors grew by more than 8, when
any request got a 5xx or no answer, or when a valid token or refresh was refused.

Needs only `requests` (in a virtual environment). The throttles are lifted as in
the other load scripts (load_env in scripts/oauth-load.py), and the verified-token
cache is 64 entries, full within the warm-up (a bounded cache filling is not growth).
"""

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
load = __import__("oauth-load")

MAX_SECONDS = 3600
MAX_RATE = 2000
THREADS = 4
# How long after the load stops memory is read: past the 2 s after which an idle
# hashing block is freed.
IDLE_AFTER = 3.0
SAMPLE_EVERY = 5.0
FORGED = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJtYWxsb3J5Iiwicm9sZXMiOlsiQWRtaW4iXSwiZXhwIjo0MTAyNDQ0ODAwfQ."
    "c2lnbmF0dXJlIHRoYXQgZG9lcyBub3QgdmVyaWZ5IGF0IGFsbA"
)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    import requests

    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/jwtauth-server")
    seconds = min(float(sys.argv[2]) if len(sys.argv) > 2 else 600.0, MAX_SECONDS)
    rate = min(float(sys.argv[3]) if len(sys.argv) > 3 else 300.0, MAX_RATE)
    tmp = tempfile.mkdtemp(prefix="jwtauth-soak-")
    port = load.free_port()
    base = f"http://127.0.0.1:{port}"
    env = load.load_env(tmp, port)
    # Each refresh brings a new access token, and the verified-token cache keeps
    # up to `validation_cache` of them (4,096 by default, ~2 KB each): at this load
    # it would still be filling after ten minutes. A bounded cache filling up is not
    # growth, so it is made small enough to be full within the warm-up.
    env["JWTAUTH_VALIDATION_CACHE"] = "64"
    load.prepare_store(binary, env, tmp)
    proc = load.start_server(binary, env, tmp)
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "refused_as_expected": 0}
    problems = []
    lock = threading.Lock()

    def note(problem):
        with lock:
            if len(problems) < 20:
                problems.append(problem)

    def worker(i):
        s = requests.Session()
        pace = THREADS / rate
        tokens = None
        n = 0
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                if tokens is None or n % 2000 == 0:
                    r = s.post(base + "/auth/login", json={"username": "load", "password": load.PASSWORD}, timeout=30)
                    want = 200
                    if r.status_code == 200:
                        tokens = r.json()
                elif n % 50 == 1:
                    r = s.post(base + "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, timeout=30)
                    want = 200
                    if r.status_code == 200:
                        tokens = r.json()
                elif n % 20 == 2:
                    r = s.get(base + "/api/products", headers={"Authorization": f"Bearer {FORGED}"}, timeout=30)
                    want = 401
                elif n % 20 == 3:
                    r = s.get(base + "/api/products", timeout=30)
                    want = 401
                elif n % 100 == 4:
                    r = s.get(base + ("/metrics" if i % 2 else "/healthz"), timeout=30)
                    want = 200
                else:
                    r = s.get(
                        base + "/api/products", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=30
                    )
                    want = 200
                if r.status_code != want:
                    note(f"{r.request.method} {r.request.path_url}: {r.status_code}, wanted {want}")
                with lock:
                    counts["ok" if want == 200 else "refused_as_expected"] += 1
            except requests.RequestException as e:
                note(f"no answer: {type(e).__name__}")
            n += 1
            rest = pace - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)

    samples = []
    ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    try:
        print(f"soak: {binary}, {seconds:.0f} s at ~{rate:.0f} req/s, load average {os.getloadavg()}")
        for t in ts:
            t.start()
        start = time.monotonic()
        next_print = 0.0
        while time.monotonic() < stop:
            time.sleep(min(SAMPLE_EVERY, max(0.0, stop - time.monotonic())))
            at = time.monotonic() - start
            samples.append((at, rss_kib(proc.pid), open_fds(proc.pid)))
            if at >= next_print:
                with lock:
                    done = counts["ok"] + counts["refused_as_expected"]
                print(f"  {at:6.0f} s  RSS {samples[-1][1] / 1024:6.1f} MiB  fds {samples[-1][2]:3d}  requests {done}")
                next_print += 60.0
        for t in ts:
            t.join(timeout=60)
        time.sleep(IDLE_AFTER)
        at_rest = rss_kib(proc.pid)
    finally:
        load.stop_server(proc)

    warm = max(seconds / 5, 10.0)
    first = [s for s in samples if s[0] <= warm] or samples[:1]
    last = [s for s in samples if s[0] >= seconds - seconds / 5] or samples[-1:]
    rss0, rss1 = max(s[1] for s in first), at_rest
    fd0, fd1 = max(s[2] for s in first), max(s[2] for s in last)
    total = counts["ok"] + counts["refused_as_expected"]
    print(
        f"soak done: {total} requests ({total / seconds:.0f}/s), {len(problems)} problems; "
        f"RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB at rest, open fds {fd0} -> {fd1}, "
        f"peak RSS {max(s[1] for s in samples) / 1024:.1f} MiB; load average {os.getloadavg()}"
    )
    failed = list(problems)
    if rss1 - rss0 > 4096 and rss1 > rss0 * 1.15:
        failed.append(f"resident memory grew from {rss0} to {rss1} KiB")
    if fd1 - fd0 > 8:
        failed.append(f"open file descriptors grew from {fd0} to {fd1}")
    for f in failed:
        print("FAIL:", f)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
