#!/usr/bin/env bash
# A bounded soak and a brute force against the debug jwtauth-server that
# `cargo test --workspace` built, watched by jwtauth-tui in a tmux pane:
#   scripts/ci/soak.sh [VENV]
# SOAK_SECONDS (default 60; SECURITY.md's figure is a 600 s run on the release build)
# and BRUTE_FORCE_ATTEMPTS (default 10000) size it. Needs tmux (installed when missing)
# and a virtual environment with requests (VENV, default target/ci-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${1:-$PWD/target/ci-venv}"
command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check requests
for v in $(compgen -e | grep '^JWTAUTH_' || true); do unset "$v"; done
timeout 600 "$venv/bin/python" scripts/soak.py target/debug/jwtauth-server "${SOAK_SECONDS:-60}" 300
timeout 600 "$venv/bin/python" scripts/brute-force.py target/debug/jwtauth-server \
    "${BRUTE_FORCE_ATTEMPTS:-10000}" target/debug/jwtauth-tui
