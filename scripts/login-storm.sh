#!/usr/bin/env bash
# Resident memory of jwtauth-server through a login storm, loopback only, bounded.
#
#   scripts/login-storm.sh                       # builds the release server, ~1-3 minutes
#   BEFORE=/path/to/older/jwtauth-server scripts/login-storm.sh   # the same storm on both
#   BIN=target/release/jwtauth-server scripts/login-storm.sh      # an already built server
#
# CLIENTS (64) connections send ATTEMPTS (10,000) logins for one user, half with the
# right password and half with a wrong one. Every login throttle is opened up
# (login.user_burst, client_burst and client_attempt_burst 10,000, one more per
# millisecond) and login.hash_wait is at its maximum (5 s), so that attempts are
# hashed, not refused. The answers are counted (200, 401, 429, 503, other); the run
# fails when more than MAX_REFUSED_PCT (10) % of them were refused, because then the
# storm did not hash what it claims. The server's VmRSS is sampled every 100 ms from
# start to 10 s after the storm; printed: idle, after one login, peak during the storm,
# at its end, after 10 s idle, and how soon after the storm it was under 30 MB. Then
# LATENCY (5) pairs of logins: one after 3 s idle (longer than the hashing slots' idle
# release, so its block is allocated anew) and one right after it (warm block), each
# curl's time_total. Goal (issue 15): < 40 MB at every point, < 30 MB 10 s after.
# Needs wrk (apt-get install wrk) and curl. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS="${CLIENTS:-64}"
ATTEMPTS="${ATTEMPTS:-10000}"
THREADS="${THREADS:-2}"
AFTER="${AFTER:-10}"
LATENCY="${LATENCY:-5}"
MAX_REFUSED_PCT="${MAX_REFUSED_PCT:-10}"
FAILED=""
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
if [ -z "${BIN:-}" ]; then
    cargo build --release -p jwtauth-server --locked
    BIN=target/release/jwtauth-server
fi
BIN="$(realpath "$BIN")"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export PASSWORD="storm-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
max_of() { awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$1"; }
# login BASE: one right login, which must succeed; prints curl's time_total
login() {
    curl -sf -o /dev/null -w '%{time_total}' -X POST "$1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}"
}

# storm LABEL BINARY: one server, one storm, one line of figures
storm() {
    local label="$1" bin="$2" dir="$WORK/$1"
    mkdir -p "$dir"
    (
        cd "$dir"
        export JWTAUTH_STORE__URL="sqlite://$dir/jwtauth.db" JWTAUTH_LOG__DIR="$dir/logs" \
            JWTAUTH_SERVER__LISTEN=127.0.0.1:0 RUST_LOG=warn \
            JWTAUTH_LOGIN__USER_BURST=10000 JWTAUTH_LOGIN__USER_PERIOD=1ms \
            JWTAUTH_LOGIN__CLIENT_BURST=10000 JWTAUTH_LOGIN__CLIENT_PERIOD=1ms \
            JWTAUTH_LOGIN__CLIENT_ATTEMPT_BURST=10000 JWTAUTH_LOGIN__CLIENT_ATTEMPT_PERIOD=1ms \
            JWTAUTH_LOGIN__HASH_WAIT=5s
        "$bin" init >/dev/null 2>&1
        printf '%s\n' "$PASSWORD" | "$bin" user add bench --role Admin >/dev/null
        exec "$bin" serve >"$dir/stdout" 2>"$dir/stderr"
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
    local idle one
    idle="$(rss_kb "$pid")"
    login "$base" >/dev/null
    one="$(rss_kb "$pid")"
    (while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s.%N) $(rss_kb "$pid")"; sleep 0.1; done) >"$dir/during" &
    local sampler=$!
    local t0 t1 out
    t0="$(date +%s.%N)"
    mkdir -p "$dir/counts"
    COUNTS="$dir/counts" PER_THREAD=$((ATTEMPTS / THREADS)) wrk -t"$THREADS" -c"$CLIENTS" -d"${LIMIT:-600}s" \
        --timeout 15s -s scripts/login-storm.lua "$base" >"$dir/wrk" 2>&1 &
    local wrk_pid=$!
    # wrk idles until -d ends once its threads stop: the count files mark the end.
    while kill -0 "$wrk_pid" 2>/dev/null && [ "$(find "$dir/counts" -type f | wc -l)" -lt "$THREADS" ]; do
        sleep 0.1
    done
    t1="$(date +%s.%N)"
    kill "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
    local counts refused
    counts="$(cat "$dir"/counts/* | awk '{ ok += $1; wrong += $2; limited += $3; busy += $4; other += $5 }
        END { print ok, wrong, limited, busy, other }')"
    out="$(echo "$counts" | awk '{ printf "200: %d, 401: %d, 429: %d, 503: %d, other: %d", $1, $2, $3, $4, $5 }')"
    refused="$(echo "$counts" | awk '{ print $3 + $4 + $5 }')"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local peak end
    peak="$(max_of "$dir/during")"
    end="$(rss_kb "$pid")"
    (for _ in $(seq 1 $((AFTER * 10))); do echo "$(date +%s.%N) $(rss_kb "$pid")"; sleep 0.1; done) >"$dir/after"
    local after after_peak
    after="$(rss_kb "$pid")"
    after_peak="$(max_of "$dir/after")"
    [ "$after_peak" -gt "$peak" ] && peak="$after_peak"
    local under
    under="$(awk -v t1="$t1" '$2 < 30 * 1024 { printf "%.1f s after it", $1 - t1; found = 1; exit }
        END { if (!found) print "at no sample" }' "$dir/after")"
    printf '%-8s idle %s, after one login %s, peak %s, end of storm %s, %ss later %s (under 30 MB %s); %s logins in %.1f s; %s\n' \
        "$label" "$(mb "$idle")" "$(mb "$one")" "$(mb "$peak")" "$(mb "$end")" "$AFTER" "$(mb "$after")" "$under" \
        "$ATTEMPTS" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$out"
    if [ "$refused" -gt $((ATTEMPTS * MAX_REFUSED_PCT / 100)) ]; then
        echo "!!! $label: $refused of $ATTEMPTS attempts were refused (429/503/other), more than $MAX_REFUSED_PCT %:"
        echo "!!! the storm did not hash what it claims; its memory figures prove nothing"
        FAILED="$FAILED $label"
    fi
    local cold="" warm=""
    for _ in $(seq 1 "$LATENCY"); do
        sleep 3
        cold="$cold $(login "$base")"
        warm="$warm $(login "$base")"
    done
    printf '%-8s login after 3 s idle (s):%s; right after it (s):%s; then %s\n' \
        "$label" "$cold" "$warm" "$(mb "$(rss_kb "$pid")")"
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

echo "login storm: $CLIENTS clients, $ATTEMPTS attempts (half right, half wrong), $(nproc) cores, $(date -u +%FT%TZ)"
echo "load before: $(uptime)"
[ -n "${BEFORE:-}" ] && storm before "$(realpath "$BEFORE")"
label=server
[ -n "${BEFORE:-}" ] && label=after
storm "$label" "$BIN"
echo "load after: $(uptime)"
if [ -n "$FAILED" ]; then
    echo "!!! FAILED:$FAILED: more than $MAX_REFUSED_PCT % of the attempts were refused, not hashed" >&2
    exit 1
fi
