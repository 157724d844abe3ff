#!/usr/bin/env bash
# Property-based API test: schemathesis generates requests from /openapi.json and
# checks that no response is a 5xx and every response matches the schema.
# Usage: scripts/schemathesis.sh [path/to/jwtauth-server] (needs `pip install schemathesis`).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-target/debug/jwtauth-server}"
[ -x "$BIN" ] || cargo build -p jwtauth-server --locked
BIN="$(realpath "$BIN")"
EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export JWTAUTH_STORE__URL="sqlite://$WORK/jwtauth.db"
export JWTAUTH_LOG__DIR="$WORK/logs"
export JWTAUTH_SERVER__LISTEN="127.0.0.1:0"
unset JWTAUTH_CONFIG || true

PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
(cd "$WORK" && "$BIN" init >/dev/null 2>&1)
(cd "$WORK" && printf '%s\n' "$PASSWORD" | "$BIN" user add ci-admin --role Admin >/dev/null)
(cd "$WORK" && exec "$BIN" >"$WORK/stdout" 2>"$WORK/stderr") &
SERVER_PID=$!

BASE=""
for _ in $(seq 1 100); do
    BASE="$(sed -n 's/^jwtauth-server listening on //p' "$WORK/stdout" 2>/dev/null || true)"
    [ -n "$BASE" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr"; exit 1; }
    sleep 0.1
done
[ -n "$BASE" ] || { echo "server did not start"; cat "$WORK/stderr"; exit 1; }

TOKEN="$(curl -sf -X POST "$BASE/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"ci-admin\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

# /auth/logout-all is left out: it would revoke the token the run authenticates with.
cd "$WORK"
timeout 240 schemathesis run "$BASE/openapi.json" \
    --url "$BASE" \
    -H "Authorization: Bearer $TOKEN" \
    --max-examples "$EXAMPLES" \
    --generation-deterministic \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --exclude-path /auth/logout-all \
    --workers 2
