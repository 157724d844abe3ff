#!/usr/bin/env bash
# Throughput and latency of jwtauth-server under wrk, loopback only, bounded.
#
#   scripts/bench.sh            # ~3.5 minutes: HS256, ES256 (remembered, and verified every
#                               # time), unprotected baseline, Node express
#   SOAK=600 scripts/bench.sh   # then a 10-minute soak sampling the server's resident memory
#   LOGIN_STORM=0 scripts/bench.sh   # without the login storm at the end (scripts/login-storm.sh)
#
# The machine may be shared and noisy, so the targets are not measured one after the
# other: ROUNDS rounds each run every target for DURATION, in a rotating order, and
# the verdicts are medians of the ratios within a round.
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

# start NAME ALGORITHM [VALIDATION_CACHE] -> sets BASE_<NAME> and PID_<NAME>
start() {
    local name="$1" alg="$2" cache="${3:-4096}" dir="$WORK/$1"
    mkdir -p "$dir"
    (
        cd "$dir"
        export JWTAUTH_STORE__URL="sqlite://$dir/jwtauth.db" JWTAUTH_LOG__DIR="$dir/logs" \
            JWTAUTH_SERVER__LISTEN=127.0.0.1:0 JWTAUTH_ALGORITHM="$alg" JWTAUTH_VALIDATION_CACHE="$cache" RUST_LOG=warn
        [ "$alg" = HS256 ] && export JWTAUTH_HS_SECRET="$SECRET"
        "$BIN" init >/dev/null 2>&1
        printf '%s\n' "$PASSWORD" | "$BIN" user add bench --role Admin >/dev/null
        exec "$BIN" serve --bench-baseline-route >"$dir/stdout" 2>"$dir/stderr"
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

# run URL [TOKEN] -> "req/s p99_ms requests"
run() {
    local url="$1" tok="${2:-}"
    local hdr=()
    [ -n "$tok" ] && hdr=(-H "Authorization: Bearer $tok")
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${hdr[@]}" "$url")"
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
    echo "$rps $p99 $n"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start hs HS256
start es ES256
# The same, verifying the signature on every request (no verified-token cache).
start es0 ES256 0
TOK_HS="$(token "$BASE_hs")"
TOK_ES="$(token "$BASE_es")"
TOK_ES0="$(token "$BASE_es0")"
# one product, so every body is the same small JSON array
curl -sf -X POST "$BASE_hs/api/products" -H "Authorization: Bearer $TOK_HS" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null
curl -sf -X POST "$BASE_es/api/products" -H "Authorization: Bearer $TOK_ES" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null
curl -sf -X POST "$BASE_es0/api/products" -H "Authorization: Bearer $TOK_ES0" -H 'content-type: application/json' -d '{"name":"Tea","price":3.5}' >/dev/null

# Node express + jsonwebtoken doing the same: HS256 check, same body.
mkdir -p "$WORK/node"
(cd "$WORK/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund express jsonwebtoken >/dev/null)
BODY="$(curl -sf "$BASE_hs/api/products" -H "Authorization: Bearer $TOK_HS")"
cat >"$WORK/node/server.js" <<'JS'
const express = require('express');
const jwt = require('jsonwebtoken');
const secret = Buffer.from(process.env.SECRET, 'utf8');
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
for _ in $(seq 1 100); do grep -q listening "$WORK/node/stdout" 2>/dev/null && break; sleep 0.1; done
NODE_URL="http://127.0.0.1:$(awk '{print $2}' "$WORK/node/stdout")/api/products"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$NODE_URL" -H "Authorization: Bearer $TOK_HS")" = 200 ]

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION per run, $ROUNDS rounds, $(nproc) cores, $(date -u +%FT%TZ)"
RSS0="$(rss_kb "$PID_hs")"
NAMES=(base hs es es0 node)
declare -A URL=([base]="$BASE_hs/bench/unprotected-products" [hs]="$BASE_hs/api/products"
    [es]="$BASE_es/api/products" [es0]="$BASE_es0/api/products" [node]="$NODE_URL")
declare -A TOK=([base]="" [hs]="$TOK_HS" [es]="$TOK_ES" [es0]="$TOK_ES0" [node]="$TOK_HS")
declare -A RPS P99
SERVED_HS=0
printf '%-6s %12s %12s %12s %12s %12s   %s\n' round "baseline" "HS256" "ES256" "ES256 full" "express" "(req/s; p99 ms)"
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        name="${NAMES[$(((i + r) % ${#NAMES[@]}))]}"
        read -r rps p99 n <<<"$(run "${URL[$name]}" "${TOK[$name]}")"
        [ -n "$n" ] || { echo "wrk failed against ${URL[$name]}"; exit 1; }
        RPS[$name,$r]="$rps"
        P99[$name,$r]="$p99"
        case "$name" in base | hs) SERVED_HS=$((SERVED_HS + n)) ;; esac
    done
    printf '%-6s %12s %12s %12s %12s %12s\n' "$((r + 1))" "${RPS[base,$r]}" "${RPS[hs,$r]}" "${RPS[es,$r]}" "${RPS[es0,$r]}" "${RPS[node,$r]}"
    printf '%-6s %12s %12s %12s %12s %12s\n' "" "${P99[base,$r]}" "${P99[hs,$r]}" "${P99[es,$r]}" "${P99[es0,$r]}" "${P99[node,$r]}"
done
col() { for ((r = 0; r < ROUNDS; r++)); do eval "echo \${$1[$2,\$r]}"; done; }
ratio() { for ((r = 0; r < ROUNDS; r++)); do awk -v a="${RPS[$1,$r]}" -v b="${RPS[$2,$r]}" 'BEGIN { print a / b }'; done; }
echo
echo "medians over $ROUNDS rounds:"
for name in base hs es es0 node; do
    printf '  %-5s %10.0f req/s   p99 %6.2f ms\n' "$name" "$(col RPS "$name" | median)" "$(col P99 "$name" | median)"
done
printf '  HS256 / unprotected baseline  %.2f  (goal >= 0.75)\n' "$(ratio hs base | median)"
printf '  ES256 / unprotected baseline  %.2f (verifying every request: %.2f)\n' "$(ratio es base | median)" "$(ratio es0 base | median)"
printf '  HS256 / express               %.1fx (goal >= 10x)\n' "$(ratio hs node | median)"
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
