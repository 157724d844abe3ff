#!/usr/bin/env bash
# Validation cost per call from every binding against the core from Rust, side by
# side in one run (the figures of bindings/README.md):
#   scripts/bench-bindings.sh [ITERATIONS]
# Each program validates one token in a loop (verified-token cache off, so every
# call verifies the signature) and reports the best of 7 rounds of its thread's CPU
# time. The programs are alternated three times and each keeps its best, so load
# from elsewhere on the machine hits them alike; the load average is printed.
# Needs: cargo, cc, python3 (a venv is made under target/), go, mcs + mono.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
n="${1:-20000}"
for v in $(compgen -e | grep '^JWTAUTH_' || true); do unset "$v"; done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --locked -q -p jwtauth-ffi
cargo bench --locked -q -p jwtauth-ffi --bench validate_core --no-run 2>/dev/null
prefix="$root/target/bench-prefix"
scripts/install-libjwtauth.sh "$prefix" "$root/target/release" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib"
# Every language loads the very same library file.
export LIBJWTAUTH_PATH="$prefix/lib/libjwtauth.so.0"

cc -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude ffi/benches/c/bench_validate.c -o "$work/bench_c" \
    $(pkg-config --libs jwtauth)
(cd bindings/go && GOPROXY=off go build -o "$work/bench_go" ./bench)
mcs -nologo -optimize+ -target:library -out:"$work/Jwtauth.dll" bindings/dotnet/src/*.cs
mcs -nologo -optimize+ -out:"$work/bench_cs.exe" -r:"$work/Jwtauth.dll" bindings/dotnet/bench/Bench.cs
venv="$root/target/pyenv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import jwtauth, jwt' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check PyJWT cryptography ./bindings/python
fi

for _ in 1 2 3; do
    cargo bench --locked -q -p jwtauth-ffi --bench validate_core -- "$work" "$n" 2>/dev/null >>"$work/all.txt"
    "$work/bench_c" "$work" "$n" 2>/dev/null >>"$work/all.txt"
    "$work/bench_go" "$work" "$n" >>"$work/all.txt"
    mono "$work/bench_cs.exe" "$work" "$n" >>"$work/all.txt"
    "$venv/bin/python" bindings/python/bench.py "$work" "$n" >>"$work/all.txt"
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
best() { awk -v w="$1" -v a="$2" '$1 == w && $2 == a && (m == "" || $4 < m) {m = $4} END {print m}' "$work/all.txt"; }
for alg in HS256 ES256; do
    r=$(best rust_core "$alg")
    printf '%s validate, ns per call (best of 3 x 7 rounds), ratio to the Rust core:\n' "$alg"
    for who in rust_core c_api go dotnet python python_to_dict pyjwt; do
        v=$(best "$who" "$alg")
        [[ -n "$v" ]] && awk -v w="$who" -v v="$v" -v r="$r" 'BEGIN {printf "  %-15s %8d ns  %6.2fx\n", w, v, v / r}'
    done
done
p=$(best python HS256); j=$(best pyjwt HS256)
awk -v p="$p" -v j="$j" 'BEGIN {printf "HS256: the Python package is %.1fx faster than PyJWT\n", j / p}'
