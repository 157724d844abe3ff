#!/usr/bin/env python3
"""A password brute force against a jwtauth-server on loopback, and what it leaves.

    python3 scripts/brute-force.py [SERVER_BINARY] [ATTEMPTS] [TUI_BINARY]

Starts the server (default target/debug/jwtauth-server) on a free 127.0.0.1 port
with a fresh SQLite store and its default login throttle, creates the user
`victim`, then makes ATTEMPTS (default 10,000, at most 20,000) login attempts with
wrong passwords from 8 client threads: most against `victim`, every tenth against a
name that does not exist (spraying). It checks, and exits non-zero when one fails:

  * no attempt logged in, and at least 99 % of them were refused with 429
    (`rate_limited`) without a password hash being checked;
  * /metrics counts every failure (`jwtauth_auth_failures_total`, reasons
    bad_credentials and rate_limited, equals ATTEMPTS);
  * the failure log accounts for every failure (lines plus the counts of its
    "N more like this" summary lines equal ATTEMPTS) and stays small (under 1 MiB:
    the flood bound, not one ~500-byte line per attempt);
  * when TUI_BINARY is given (and tmux is installed), jwtauth-tui, started in a
    real terminal (a tmux pane) on the same log folder, shows the burst at its size:
    rate_limited and the victim in its table and top lists, which count ATTEMPTS
    failures (a summary line as the failures it stands for).

Needs only `requests` (in a virtual environment). Loopback only; bounded in
attempts and in time (each request times out after 30 s).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
load = __import__("oauth-load")

MAX_ATTEMPTS = 20_000
THREADS = 8
LOG_BOUND = 1 << 20


def failures_in_metrics(text):
    """Sum of jwtauth_auth_failures_total by reason."""
    by_reason = {}
    for line in text.splitlines():
        if not line.startswith("jwtauth_auth_failures_total{"):
            continue
        labels, value = line.rsplit(" ", 1)
        reason = labels.split('reason="', 1)[1].split('"', 1)[0]
        by_reason[reason] = by_reason.get(reason, 0) + int(float(value))
    return by_reason


def log_account(log_dir):
    """(failures accounted for, by reason; bytes) of the failure log folder."""
    by_reason, size = {}, 0
    for f in sorted(pathlib.Path(log_dir).glob("failures.*.jsonl")):
        size += f.stat().st_size
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            n = rec.get("suppressed") or 1
            by_reason[rec["reason"]] = by_reason.get(rec["reason"], 0) + n
    return by_reason, size


def tui_shows(tui, env, cwd, needles):
    """Starts jwtauth-tui in a detached tmux session of 160x45 and returns the
    screen once it shows every needle (or the last screen after 30 s)."""
    session = f"jwtauth-brute-{os.getpid()}"
    cmd = " ".join(
        [f"{k}={v!s}" for k, v in env.items() if k.startswith("JWTAUTH_")] + [tui, "--read-only"]
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", "-c", cwd, f"env {cmd}"],
        check=True,
        timeout=30,
    )
    screen = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, timeout=10
            ).stdout
            if all(n in screen for n in needles):
                break
            time.sleep(0.5)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], timeout=10)
        time.sleep(0.5)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
    return screen


def main():
    import requests

    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/debug/jwtauth-server")
    attempts = min(int(sys.argv[2]) if len(sys.argv) > 2 else 10_000, MAX_ATTEMPTS)
    tui = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
    tmp = tempfile.mkdtemp(prefix="jwtauth-brute-")
    port = load.free_port()
    base = f"http://127.0.0.1:{port}"
    # The default login throttle.
    env = load.server_env(tmp, port)
    load.admin(binary, env, tmp, "init")
    load.admin(binary, env, tmp, "user", "add", "victim", stdin="the victim's real password\n")
    proc = load.start_server(binary, env, tmp)
    statuses = {}
    lock = threading.Lock()
    next_attempt = [0]

    def worker():
        s = requests.Session()
        while True:
            with lock:
                i = next_attempt[0]
                if i >= attempts:
                    return
                next_attempt[0] += 1
            name = f"nobody{i}" if i % 10 == 9 else "victim"
            r = s.post(base + "/auth/login", json={"username": name, "password": f"guess {i}"}, timeout=30)
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    failed = []
    try:
        print(f"server {binary}: {attempts} wrong-password logins from {THREADS} threads, load average {os.getloadavg()}")
        start = time.monotonic()
        ts = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.monotonic() - start
        print(f"{attempts} attempts in {elapsed:.1f} s: statuses {dict(sorted(statuses.items()))}")
        if statuses.get(200):
            failed.append(f"{statuses[200]} attempts logged in")
        limited = statuses.get(429, 0)
        if limited < 0.99 * attempts:
            failed.append(f"only {limited} of {attempts} attempts were rate limited")
        if sum(statuses.values()) != attempts or set(statuses) - {401, 429}:
            failed.append(f"statuses other than 401 and 429: {statuses}")
        metrics = failures_in_metrics(requests.get(base + "/metrics", timeout=30).text)
        counted = metrics.get("bad_credentials", 0) + metrics.get("rate_limited", 0)
        print(f"/metrics jwtauth_auth_failures_total: {metrics}")
        if counted != attempts:
            failed.append(f"/metrics counts {counted} failures, not {attempts}")
    finally:
        # A graceful stop writes the summary lines still pending.
        load.stop_server(proc)

    logged, size = log_account(f"{tmp}/logs")
    print(f"failure log: {size} bytes, accounts for {logged}")
    if sum(logged.get(r, 0) for r in ("bad_credentials", "rate_limited")) != attempts:
        failed.append(f"the failure log accounts for {logged}, not {attempts} failures")
    if size >= LOG_BOUND:
        failed.append(f"the failure log holds {size} bytes for {attempts} attempts")

    if tui and shutil.which("tmux"):
        # Summary lines count as the failures they stand for: the top lists add up
        # to every attempt.
        needles = ["rate_limited", "victim", f"top of {attempts} failures in"]
        screen = tui_shows(tui, env, tmp, needles)
        shown = all(n in screen for n in needles)
        if os.environ.get("BRUTE_FORCE_SCREEN"):
            print(screen)
        print(f"jwtauth-tui in a tmux pane shows the burst: {shown}")
        if not shown:
            failed.append("jwtauth-tui did not show the burst:\n" + screen)
    elif tui:
        failed.append("tmux is not installed: the terminal check cannot run")

    for f in failed:
        print("FAIL:", f)
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
