#!/usr/bin/env bash
# Installs libjwtauth under PREFIX (default /usr/local): lib/libjwtauth.so.X.Y.Z with
# the usual symlinks libjwtauth.so.X (its SONAME, what programs load) and
# libjwtauth.so (what the linker finds), lib/libjwtauth.a, include/jwtauth.h and
# lib/pkgconfig/jwtauth.pc (`pkg-config --static --libs jwtauth` lists everything
# a static link needs).
#   scripts/install-libjwtauth.sh [PREFIX] [LIBDIR]
# LIBDIR holds libjwtauth.so/.a already built; without it the release build is run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-/usr/local}"
libdir="${2:-}"
if [[ -z "$libdir" ]]; then
    cargo build --release --locked -p jwtauth-ffi --manifest-path "$root/Cargo.toml"
    libdir="$root/target/release"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
# The project's address, kept once: the workspace's `repository` key.
url="$(sed -n 's/^repository = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
install -d "$prefix/lib/pkgconfig" "$prefix/include"
major="${version%%.*}"
install -m 0755 "$libdir/libjwtauth.so" "$prefix/lib/libjwtauth.so.$version"
ln -sfn "libjwtauth.so.$version" "$prefix/lib/libjwtauth.so.$major"
ln -sfn "libjwtauth.so.$major" "$prefix/lib/libjwtauth.so"
install -m 0644 "$libdir/libjwtauth.a" "$prefix/lib/"
install -m 0644 "$root/include/jwtauth.h" "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" -e "s|@URL@|$url|" "$root/ffi/jwtauth.pc.in" >"$prefix/lib/pkgconfig/jwtauth.pc"
echo "installed libjwtauth $version under $prefix"
