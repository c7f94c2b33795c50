#!/usr/bin/env bash
# Build the differential oracle, Redis 7.2.6, from ../shared/redis-7.2.6-src.tar.gz into a cache
# outside the repository, once. The tests then find it through CINNABAR_ORACLE (exported by the
# Makefile) or at the cache path itself (tests/support.py, tests/common/mod.rs).
#
#   tests/oracle.sh           build if needed; print the directory holding redis-server,
#                             redis-check-rdb and redis-check-aof (nothing when there is no tarball)
#   ORACLE_TARBALL=... ORACLE_CACHE=...   other source / cache (tests of this script)
#   ORACLE_TLS=yes            the same built with TLS (BUILD_TLS=yes, OpenSSL's libssl-dev) into
#                             .../redis-7.2.6-tls: the TLS benchmark's redis-server (`make oracle-tls`)
#
# A build is reused when its binaries are there and the tarball's SHA-256 equals the stamp the
# build left. A build made before the stamp existed (by hand: same tarball, same flags) is adopted
# when its redis-server reports the tarball's version. No tarball (a machine outside the team):
# nothing is built and the tests fall back to the redis-server on PATH (Debian's 7.0), saying so.
# MALLOC=libc: an oracle needs no jemalloc (and its build is the slow part); no TLS: no OpenSSL
# (unless ORACLE_TLS=yes).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tarball=${ORACLE_TARBALL:-$root/../shared/redis-7.2.6-src.tar.gz}
# In a git worktree ../shared is the main checkout's neighbour, not this one's.
if [ -z "${ORACLE_TARBALL:-}" ] && [ ! -f "$tarball" ]; then
    common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    [ -n "$common" ] && [ -f "$common/../../shared/redis-7.2.6-src.tar.gz" ] \
        && tarball=$(cd "$common/../../shared" && pwd)/redis-7.2.6-src.tar.gz
fi
tls=${ORACLE_TLS:-no}
suffix=$([ "$tls" = yes ] && echo -tls || true)
cache=${ORACLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cinnabar/redis-7.2.6$suffix}
bin=$cache/src
stamp=$cache/.cinnabar-oracle.sha256

if [ ! -f "$tarball" ]; then
    echo "oracle: no $tarball: the tests fall back to the redis-server on PATH (Debian's 7.0)" >&2
    exit 0
fi

sum=$(sha256sum "$tarball" | cut -d' ' -f1)
version=$(tar -xzOf "$tarball" --wildcards '*/src/version.h' | sed -n 's/^#define REDIS_VERSION "\(.*\)"$/\1/p')
built() { [ -x "$bin/redis-server" ] && [ -x "$bin/redis-check-rdb" ] && [ -x "$bin/redis-check-aof" ]; }

if built && [ ! -f "$stamp" ] && "$bin/redis-server" --version | grep -q "v=$version "; then
    echo "$sum" >"$stamp"
fi
if ! built || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "oracle: building Redis $version from $tarball into $cache (once)" >&2
    rm -rf "$cache"
    mkdir -p "$cache"
    tar -xzf "$tarball" -C "$cache" --strip-components=1
    # Redis's Makefile wants the deps and the server built in one go; its output goes to a log
    # so that `make test` stays readable, and is shown when the build fails.
    if ! make -C "$cache" -j2 MALLOC=libc BUILD_TLS="$tls" >"$cache/build.log" 2>&1; then
        tail -40 "$cache/build.log" >&2
        echo "oracle: the build of Redis $version failed (log: $cache/build.log)" >&2
        exit 1
    fi
    built || { echo "oracle: the build left no redis-server in $bin" >&2; exit 1; }
    echo "$sum" >"$stamp"
fi
echo "$bin"
