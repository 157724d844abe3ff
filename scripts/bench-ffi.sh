#!/usr/bin/env bash
# Validation figures for the README: the C API from a C program vs. the core from
# Rust (same configuration and loop). The bindings (Python vs. PyJWT, Go, C#) are
# measured beside them by scripts/bench-bindings.sh.
#   scripts/bench-ffi.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
# JWTAUTH_* variables are configuration keys: keep the benchmark's config its own.
for v in $(compgen -e | grep '^JWTAUTH_' || true); do unset "$v"; done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q -p jwtauth-ffi
cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude ffi/benches/c/bench_validate.c -o "$work/bench_validate" \
    -Ltarget/release -ljwtauth -Wl,-rpath,"$PWD/target/release"
# Alternate the two programs three times and keep each one's best: load from
# elsewhere on the machine then hits both alike.
cargo bench --locked -q -p jwtauth-ffi --bench validate_core --no-run 2>/dev/null
for _ in 1 2 3; do
    "$work/bench_validate" "$work" "$n" 2>/dev/null >>"$work/c.txt"
    cargo bench --locked -q -p jwtauth-ffi --bench validate_core -- "$work" "$n" 2>/dev/null >>"$work/rust.txt"
done
best() { awk -v a="$2" '$2 == a && (m == "" || $4 < m) {m = $4} END {print m}' "$1"; }
for alg in HS256 ES256; do
    c=$(best "$work/c.txt" "$alg")
    r=$(best "$work/rust.txt" "$alg")
    awk -v a="$alg" -v c="$c" -v r="$r" \
        'BEGIN {printf "%s validate: C API %d ns, Rust core %d ns: C/Rust = %.3fx\n", a, c, r, c / r}'
done
