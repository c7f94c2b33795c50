#!/usr/bin/env bash
# Benchmark cinnabar against redis-server side by side. All arguments go to bench/bench.py:
#   bench/run.sh                 throughput (SET GET INCR MSET, pipeline 1 and 16, 50 clients)
#   bench/run.sh -n 1000000      more requests per run
#   bench/run.sh --memory        1M keys with 16-byte values: RSS, used_memory, bytes/key
#   bench/run.sh --all           both
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/bench.py "$@"
