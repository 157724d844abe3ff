#!/bin/bash
# Writes the seed corpora (fuzz/corpus/<target>/) with examples/seed.rs, built with
# the same flags `cargo fuzz build --codegen-units 16` uses (with FUZZ_DEV=1, those of
# `cargo fuzz build --dev --codegen-units 16`), so it reuses that build.
set -eu
cd "$(dirname "$0")"
: "${CARGO_TARGET_DIR:=/tmp/fuzz-target}"
export CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1 ASAN_OPTIONS=detect_odr_violation=0
if [ "${FUZZ_DEV:-0}" = 1 ]; then
  profile=()
else
  profile=(--release --config 'profile.release.debug="line-tables-only"')
fi
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Zsanitizer=address -Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Ccodegen-units=16" \
  cargo run --manifest-path Cargo.toml --target x86_64-unknown-linux-gnu "${profile[@]}" \
  --example seed -- "${@:-corpus}"
