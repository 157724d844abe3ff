#!/bin/sh
# Usage: ./run.sh TARGET [SECONDS] [extra libFuzzer flags...]
# Builds (ASan, debug assertions + overflow checks) and fuzzes one target with one job,
# on the corpus in $FUZZ_CORPUS/TARGET (default corpus/TARGET). FUZZ_DEV=1 builds without
# optimisations (much faster to build, slower to run: what CI's bounded runs use).
set -eu
cd "$(dirname "$0")"
t=$1; secs=${2:-480}; shift; [ $# -gt 0 ] && shift
: "${CARGO_TARGET_DIR:=/tmp/fuzz-target}"
export CARGO_TARGET_DIR RUSTC_BOOTSTRAP=1
case $t in
  validate_header|validate_signed|inspect) dict=jwt.dict ;;
  config_toml) dict=config_toml.dict ;;
  c_api) dict=c_api.dict ;;
  oauth_basic) dict=oauth_basic.dict ;;
  failure_line) dict=failure_line.dict ;;
  *) dict= ;;
esac
: "${FUZZ_CORPUS:=corpus}"
mkdir -p "$FUZZ_CORPUS/$t"
profile=; [ "${FUZZ_DEV:-0}" = 1 ] && profile=--dev
exec cargo fuzz run --fuzz-dir . $profile --codegen-units 16 "$t" "$FUZZ_CORPUS/$t" -- \
  -max_total_time="$secs" -rss_limit_mb=2048 -timeout=5 -max_len=16384 \
  -print_final_stats=1 ${dict:+-dict=$dict} "$@"
