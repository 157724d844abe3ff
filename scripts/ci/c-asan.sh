#!/usr/bin/env bash
# CI step: the C tests of ffi/tests/c_api.rs compiled with AddressSanitizer
# (gcc's libasan) against libjwtauth.so, run with LeakSanitizer on: no memory
# error, no leak, in the test programs or in the processes they fork.
set -euo pipefail
cd "$(dirname "$0")/../.."

# gcc finds its sanitizer runtime beside itself; Debian ships it as libasan8.
if ! echo 'int main(void){return 0;}' | cc -fsanitize=address -x c - -o /tmp/jwtauth-asan-probe 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq libasan8 >/dev/null
fi
rm -f /tmp/jwtauth-asan-probe

# Same package selection as the test and valgrind steps, so nothing is rebuilt.
started=$(date +%s)
JWTAUTH_ASAN=1 timeout 1200 cargo test --workspace --locked --test c_api -- asan
echo "C tests under AddressSanitizer: $(($(date +%s) - started)) s"
