#!/usr/bin/env bash
# CI step: builds every fuzz target once (libFuzzer, AddressSanitizer with
# LeakSanitizer, debug assertions), seeds the corpora, then runs each target for
# FUZZ_SECONDS (default 45) with its dictionary. Fails when any target leaves a
# crash, leak, timeout or out-of-memory artifact; prints executions per target.
#
# The targets are built without optimisations (FUZZ_DEV=1, the default here; FUZZ_DEV=0
# for an optimised build as in the documented longer run): from cold that build takes a
# fraction of the optimised one's time, which matters more in a bounded CI run than
# executions per second.
#
# cargo-fuzz is installed under target/ci-tools (a second run skips it), the fuzz
# build goes to target/fuzz and the corpora to target/fuzz-corpus, so a cached
# target/ makes the next run warm and lets the corpora grow.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

seconds=${FUZZ_SECONDS:-45}
cargo_fuzz_version=0.13.2
tools="$root/target/ci-tools"
export PATH="$tools/bin:$PATH"
export CARGO_TARGET_DIR="$root/target/fuzz" RUSTC_BOOTSTRAP=1 FUZZ_DEV="${FUZZ_DEV:-1}"
# Rust's sanitizer runtime reports the same global in two objects as an ODR
# violation (a known false positive with codegen units); leaks are still detected.
export ASAN_OPTIONS="detect_odr_violation=0:detect_leaks=1"

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    echo "installing cargo-fuzz $cargo_fuzz_version under target/ci-tools"
    timeout 900 cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --root "$tools"
fi

# cargo fuzz has no --locked: check fuzz/Cargo.lock is current before it builds.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

started=$(date +%s)
profile=(); [[ $FUZZ_DEV == 1 ]] && profile=(--dev)
timeout 3600 cargo fuzz build --fuzz-dir fuzz "${profile[@]}" --codegen-units 16
echo "fuzz build: $(($(date +%s) - started)) s"

corpus="$root/target/fuzz-corpus"
(cd fuzz && timeout 900 ./seed.sh "$corpus")

targets=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' fuzz/Cargo.toml | grep -vx jwtauth_fuzz)
artifacts="$root/target/fuzz-artifacts"
logs="$root/target/fuzz-logs"
rm -rf "$artifacts" "$logs"
mkdir -p "$artifacts" "$logs"
# The c_api target keeps its SQLite stores under TMPDIR: one directory, removed after.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failed=""
summary=""
for t in $targets; do
    mkdir -p "$artifacts/$t"
    set +e
    FUZZ_CORPUS="$corpus" TMPDIR="$scratch" timeout $((seconds + 300)) fuzz/run.sh "$t" "$seconds" \
        "-artifact_prefix=$artifacts/$t/" >"$logs/$t.log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
    per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n 1)
    units=$(find "$corpus/$t" -type f | wc -l)
    found=$(find "$artifacts/$t" -type f | wc -l)
    summary+=$(printf '%-16s %12s execs %8s/s  corpus %6s  artifacts %s  exit %s' \
        "$t" "${execs:-?}" "${per_sec:-?}" "$units" "$found" "$rc")$'\n'
    if [[ $rc -ne 0 || $found -ne 0 || -z $execs ]]; then
        failed+=" $t"
        echo "---- $t failed (exit $rc); the end of its log:"
        tail -n 60 "$logs/$t.log"
        find "$artifacts/$t" -type f -print
    fi
done

echo "fuzzing, $seconds s per target ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '%s' "$summary"
if [[ -n $failed ]]; then
    echo "fuzz targets with a crash, leak or timeout:$failed (inputs under target/fuzz-artifacts/, logs under target/fuzz-logs/)"
    exit 1
fi
echo "fuzzing: 0 crashes, 0 leaks, 0 timeouts in $(($(date +%s) - started)) s"
