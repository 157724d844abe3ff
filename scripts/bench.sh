#!/usr/bin/env bash
# Throughput and latency of jwtauth-server under wrk, loopback only, bounded.
#
#   scripts/bench.sh            # ~7 minutes: jwtauth-server against a bare axum +
#                               # jsonwebtoken server (scripts/bench-bare) on HS256 with one
#                               # and with 1,000 distinct tokens, ES256 verified every time,
#                               # the unprotected route (also with the access log on,
#                               # as by default); ES256 remembered; Node express
#   SOAK=600 scripts/bench.sh   # then a 10-minute soak sampling the server's resident memory
#   LOGIN_STORM=0 scripts/bench.sh   # without the login storm at the end (scripts/login-storm.sh)
#
# The machine may be shared and noisy, so the targets are not measured one after the
# other: ROUNDS rounds each run every target for DURATION, in a rotating order, and
# the verdicts are medians of the ratios within a round.
#
# Server CPU per request is the server process's user + system time over a run,
# divided by the requests wrk counted.
#
# Needs wrk (apt-get install wrk) and node/npm (express and jsonwebtoken are installed
# into a temporary folder; they are not dependencies of jwtauth). Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-6s}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
SOAK="${SOAK:-0}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
command -v npm >/dev/null || { echo "npm is missing: apt-get install nodejs npm"; exit 1; }

cargo build --release -p jwtauth-server --locked
BIN="$(realpath target/release/jwtauth-server)"
CARGO_TARGET_DIR="$PWD/target/bench-bare" cargo build --release --locked -q --manifest-path scripts/bench-bare/Cargo.toml
BARE="$(realpath target/bench-bare/release/jwtauth-bench-bare)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 48)"
PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"

# start NAME ALGORITHM [VALIDATION_CACHE] [RUST_LOG] -> sets BASE_<NAME> and PID_<NAME>
# (stderr appended to $WORK/NAME/stderr, which the access log, on with RUST_LOG=info,
# fills: it is emptied after each run)
start() {
    local name="$1" alg="$2" cache="${3:-4096}" log="${4:-warn}" dir="$WORK/$1"
    mkdir -p "$dir"
    (
        cd "$dir"
        export JWTAUTH_STORE__URL="sqlite://$dir/jwtauth.db" JWTAUTH_LOG__DIR="$dir/logs" \
            JWTAUTH_SERVER__LISTEN=127.0.0.1:0 JWTAUTH_ALGORITHM="$alg" JWTAUTH_VALIDATION_CACHE="$cache" RUST_LOG="$log"
        [ "$alg" = HS256 ] && export JWTAUTH_HS_SECRET="$SECRET"
        # The 1,000 distinct tokens are minted by refreshing one session.
        export JWTAUTH_REFRESH_LIMITS__FAMILY_BURST=10000 JWTAUTH_REFRESH_LIMITS__FAMILY_PERIOD=1ms \
            JWTAUTH_REFRESH_LIMITS__CLIENT_BURST=10000 JWTAUTH_REFRESH_LIMITS__CLIENT_PERIOD=1ms
        "$BIN" init >/dev/null 2>&1
        printf '%s\n' "$PASSWORD" | "$BIN" user add bench --role Admin >/dev/null
        exec "$BIN" serve --bench-baseline-route >"$dir/stdout" 2>>"$dir/stderr"
    ) &
    local pid=$!
    PIDS+=("$pid")
    local base=""
    for _ in $(seq 1 100); do
        base="$(sed -n 's/^jwtauth-server listening on //p' "$dir/stdout" 2>/dev/null || true)"
        [ -n "$base" ] && break
        sleep 0.1
    done
    [ -n "$base" ] || { cat "$dir/stderr"; exit 1; }
    # the server is the child of the subshell's exec: same pid
    eval "BASE_$name=$base PID_$name=$pid"
}

token() {
    curl -sf -X POST "$1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# cpu_ticks PID -> user + system clock ticks of the process so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run URL TOKEN|@FILE PID -> "req/s p99_ms requests cpu_us_per_request"
# (@FILE: a different token of FILE on each request, through scripts/tokens.lua)
run() {
    local url="$1" tok="${2:-}" pid="$3"
    local args=()
    case "$tok" in
        "") ;;
        @*) args=(-s scripts/tokens.lua) ;;
        *) args=(-H "Authorization: Bearer $tok") ;;
    esac
    local out c0 c1
    c0="$(cpu_ticks "$pid")"
    out="$(BENCH_TOKENS="${tok#@}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${args[@]}" "$url")"
    c1="$(cpu_ticks "$pid")"
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "non-2xx answers from $url" >&2
        exit 1
    fi
    local rps p99 n
    rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
    # wrk prints 1.23ms, 456.00us or 1.02s
    p99="$(awk '$1 == "99%" { v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v }' <<<"$out")"
    n="$(awk '/requests in/ {print $1}' <<<"$out")"
    echo "$rps $p99 $n $(awk -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start hs HS256
start es ES256
# The same, verifying the signature on every request (no verified-token cache).
start es0 ES256 0
# The same as hs, with the access log on, as by default (RUST_LOG=info), into a file.
start log HS256 4096 info
TOK_HS="$(token "$BASE_hs")"
TOK_ES="$(token "$BASE_es")"
TOK_ES0="$(token "$BASE_es0")"
TOK_LOG="$(token "$BASE_log")"
# one product, so every body is the same small JSON array
curl -sf -X POST "$BASE_hs/api/products" -H "Authorization: Bearer $TOK_HS" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null
curl -sf -X POST "$BASE_es/api/products" -H "Authorization: Bearer $TOK_ES" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null
curl -sf -X POST "$BASE_es0/api/products" -H "Authorization: Bearer $TOK_ES0" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null
curl -sf -X POST "$BASE_log/api/products" -H "Authorization: Bearer $TOK_LOG" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null

# 1,000 distinct HS256 tokens: one login, then 999 refreshes of its session (a
# rotation does not revoke the access tokens it leaves behind).
python3 - "$BASE_hs" "$PASSWORD" >"$WORK/tokens-1k" <<'PY'
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=30))
t = post("/auth/login", {"username": "bench", "password": password})
for _ in range(1000):
    print(t["access_token"])
    t = post("/auth/refresh", {"refresh_token": t["refresh_token"]})
PY
[ "$(sort -u "$WORK/tokens-1k" | wc -l)" = 1000 ]

# The bare axum + jsonwebtoken server, HS256 and ES256 (the ES256 key from the
# JWKS of the server that issued TOK_ES0), same issuer, audience and body.
BODY="$(curl -sf "$BASE_hs/api/products" -H "Authorization: Bearer $TOK_HS")"
start_bare() {
    local name="$1" dir="$WORK/$1"
    mkdir -p "$dir"
    shift
    # env executes the server in its own place: the pid is the server's.
    env "$@" BODY="$BODY" ISS="http://localhost:8080" AUD="jwtauth-api" "$BARE" >"$dir/stdout" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do grep -q '^listening on' "$dir/stdout" 2>/dev/null && break; sleep 0.1; done
    eval "BASE_$name=$(sed -n 's/^listening on //p' "$dir/stdout") PID_$name=$pid"
}
start_bare bare ALG=HS256 SECRET="$SECRET"
EC_XY="$(curl -sf "$BASE_es0/.well-known/jwks.json" | python3 -c 'import json,sys; k=json.load(sys.stdin)["keys"][0]; print(k["x"], k["y"])')"
start_bare bare_es ALG=ES256 EC_X="${EC_XY% *}" EC_Y="${EC_XY#* }"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_bare/api/products" -H "Authorization: Bearer $TOK_HS")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_bare_es/api/products" -H "Authorization: Bearer $TOK_ES0")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_bare/api/products")" = 401 ]

# Node express + jsonwebtoken doing the same: HS256 check, same body. The secret is
# a KeyObject, as jsonwebtoken 9 asks (a Buffer makes it try to parse a key on
# every call).
mkdir -p "$WORK/node"
(cd "$WORK/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund express jsonwebtoken >/dev/null)
cat >"$WORK/node/server.js" <<'JS'
const crypto = require('node:crypto');
const express = require('express');
const jwt = require('jsonwebtoken');
const secret = crypto.createSecretKey(Buffer.from(process.env.SECRET, 'utf8'));
const body = process.env.BODY;
const app = express();
app.get('/api/products', (req, res) => {
  const h = req.headers.authorization || '';
  if (!h.startsWith('Bearer ')) return res.status(401).json({ error: 'invalid_token' });
  try {
    jwt.verify(h.slice(7), secret, { algorithms: ['HS256'], issuer: process.env.ISS, audience: process.env.AUD });
  } catch (e) {
    return res.status(401).json({ error: 'invalid_token' });
  }
  res.type('application/json').send(body);
});
const srv = app.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));
JS
(cd "$WORK/node" && SECRET="$SECRET" BODY="$BODY" ISS="http://localhost:8080" AUD="jwtauth-api" exec node server.js >"$WORK/node/stdout") &
PIDS+=($!)
PID_node=$!
for _ in $(seq 1 100); do grep -q listening "$WORK/node/stdout" 2>/dev/null && break; sleep 0.1; done
NODE_URL="http://127.0.0.1:$(awk '{print $2}' "$WORK/node/stdout")/api/products"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$NODE_URL" -H "Authorization: Bearer $TOK_HS")" = 200 ]

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION per run, $ROUNDS rounds, $(nproc) cores, $(date -u +%FT%TZ)"
RSS0="$(rss_kb "$PID_hs")"
NAMES=(base bare_base hs bare hs1k bare1k es0 bare_es es node base_log)
declare -A URL=([base]="$BASE_hs/bench/unprotected-products" [bare_base]="$BASE_bare/bench/unprotected-products"
    [base_log]="$BASE_log/bench/unprotected-products"
    [hs]="$BASE_hs/api/products" [bare]="$BASE_bare/api/products"
    [hs1k]="$BASE_hs/api/products" [bare1k]="$BASE_bare/api/products"
    [es0]="$BASE_es0/api/products" [bare_es]="$BASE_bare_es/api/products"
    [es]="$BASE_es/api/products" [node]="$NODE_URL")
declare -A TOK=([base]="" [bare_base]="" [base_log]="" [hs]="$TOK_HS" [bare]="$TOK_HS" [hs1k]="@$WORK/tokens-1k"
    [bare1k]="@$WORK/tokens-1k" [es0]="$TOK_ES0" [bare_es]="$TOK_ES0" [es]="$TOK_ES" [node]="$TOK_HS")
declare -A PID=([base]="$PID_hs" [bare_base]="$PID_bare" [base_log]="$PID_log" [hs]="$PID_hs" [bare]="$PID_bare" [hs1k]="$PID_hs"
    [bare1k]="$PID_bare" [es0]="$PID_es0" [bare_es]="$PID_bare_es" [es]="$PID_es" [node]="$PID_node")
declare -A RPS P99 CPU
SERVED_HS=0
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        name="${NAMES[$(((i + r) % ${#NAMES[@]}))]}"
        read -r rps p99 n cpu <<<"$(run "${URL[$name]}" "${TOK[$name]}" "${PID[$name]}")"
        [ -n "$n" ] || { echo "wrk failed against ${URL[$name]}"; exit 1; }
        RPS[$name,$r]="$rps"
        P99[$name,$r]="$p99"
        CPU[$name,$r]="$cpu"
        [ "$name" != base_log ] || : >"$WORK/log/stderr"
        case "$name" in base | hs | hs1k) SERVED_HS=$((SERVED_HS + n)) ;; esac
    done
    printf 'round %d:' "$((r + 1))"
    for name in "${NAMES[@]}"; do printf ' %s %.0f' "$name" "${RPS[$name,$r]}"; done
    echo
done
col() { for ((r = 0; r < ROUNDS; r++)); do eval "echo \${$1[$2,\$r]}"; done; }
ratio() { for ((r = 0; r < ROUNDS; r++)); do awk -v a="${RPS[$1,$r]}" -v b="${RPS[$2,$r]}" 'BEGIN { print a / b }'; done; }
cpu_ratio() { for ((r = 0; r < ROUNDS; r++)); do awk -v a="${CPU[$1,$r]}" -v b="${CPU[$2,$r]}" 'BEGIN { print a / b }'; done; }
echo
echo "medians over $ROUNDS rounds (server CPU per request: user + system time / requests):"
declare -A LABEL=([base]="jwtauth unprotected route" [bare_base]="bare axum unprotected route"
    [base_log]="jwtauth unprotected, access log to a file"
    [hs]="jwtauth HS256, one token" [bare]="bare axum HS256, one token"
    [hs1k]="jwtauth HS256, 1,000 tokens" [bare1k]="bare axum HS256, 1,000 tokens"
    [es0]="jwtauth ES256, verified every time" [bare_es]="bare axum ES256 (verifies every time)"
    [es]="jwtauth ES256, one token (cache hit)" [node]="express 5 + jsonwebtoken 9, HS256")
for name in "${NAMES[@]}"; do
    printf '  %-40s %8.0f req/s   p99 %6.2f ms   %6.1f us CPU/request\n' "${LABEL[$name]}" \
        "$(col RPS "$name" | median)" "$(col P99 "$name" | median)" "$(col CPU "$name" | median)"
done
echo "paired ratios (medians of the per-round ratios):"
printf '  HS256, one token / bare axum            %.2f  (goal >= 0.9; CPU/request %.2fx, goal <= 1.2x)\n' \
    "$(ratio hs bare | median)" "$(cpu_ratio hs bare | median)"
printf '  HS256, 1,000 tokens / bare axum         %.2f  (goal >= 0.9; CPU/request %.2fx)\n' \
    "$(ratio hs1k bare1k | median)" "$(cpu_ratio hs1k bare1k | median)"
printf '  unprotected route / bare axum           %.2f  (goal >= 0.9; CPU/request %.2fx)\n' \
    "$(ratio base bare_base | median)" "$(cpu_ratio base bare_base | median)"
printf '  ES256 verified every time / bare axum   %.2f  (goal >= 0.95)\n' "$(ratio es0 bare_es | median)"
printf '  unprotected, access log on / bare axum  %.2f  (CPU/request %.2fx; %.2f of the same without the log)\n' \
    "$(ratio base_log bare_base | median)" "$(cpu_ratio base_log bare_base | median)" "$(ratio base_log base | median)"
printf '  HS256 / its own unprotected route       %.2f\n' "$(ratio hs base | median)"
printf '  HS256 / express (KeyObject)             %.1fx\n' "$(ratio hs node | median)"
echo "jwtauth-server (HS256): resident memory ${RSS0} kB after start and one login, $(rss_kb "$PID_hs") kB after serving $SERVED_HS requests (goal < 32 MB after a million)"

if [ "$SOAK" -gt 0 ]; then
    echo "soak: ${SOAK}s of HS256 GET /api/products, RSS sampled every 30 s"
    end=$((SECONDS + SOAK))
    while [ $SECONDS -lt $end ]; do
        wrk -t"$THREADS" -c"$CONNECTIONS" -d30s -H "Authorization: Bearer $TOK_HS" "$BASE_hs/api/products" |
            awk '/requests in/ {printf "%s requests, ", $1}'
        echo "RSS $(rss_kb "$PID_hs") kB"
    done
fi

# Resident memory through a login storm (64 clients, 10,000 attempts; LOGIN_STORM=0 skips
# it, BEFORE=<older jwtauth-server> runs the same storm on that binary first).
if [ "${LOGIN_STORM:-1}" != 0 ]; then
    BIN="$BIN" scripts/login-storm.sh
fi
