#!/usr/bin/env bash
# Crash and fault tests (server/tests/faults): kill -9 under load on SQLite and
# PostgreSQL, a private PostgreSQL cluster stopped under load, read-only and full
# disks. Every skip is a failure here (JWTAUTH_REQUIRE_FAULTS=1): it needs root
# (tmpfs mounts, runuser), the PostgreSQL server binaries for the private cluster,
# and the shared PostgreSQL of JWTAUTH_TEST_PG_URL. Bounded to 4 minutes; about
# 40 s on a loaded 2-core machine once built (the step before builds it).
# Longer runs: JWTAUTH_FAULTS_KILLS=20 scripts/ci/faults.sh
# `scripts/ci/faults.sh --prepare` only installs and checks what they need; .ci/run
# does that, then runs them with the rest of `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
for tool in runuser mount umount; do
    command -v "$tool" >/dev/null || { echo "faults: $tool is missing (util-linux, mount)"; exit 1; }
done

[[ "${1:-}" == --prepare ]] && exit 0

export JWTAUTH_TEST_PG_URL="${JWTAUTH_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
export JWTAUTH_REQUIRE_FAULTS=1
# The workspace's package selection, as in .ci/run, so nothing is rebuilt; the tests
# take turns (a lock in the harness).
timeout 240 cargo test --workspace --locked --test faults -- --nocapture
