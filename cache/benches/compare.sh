#!/usr/bin/env bash
# Side-by-side load runs: the Rust `cache-bench` and Backstage's own CacheManager
# (cache/benches/node/bench.mjs) on the same workload, interleaved so both see the same
# machine load. Usage:
#   cache/benches/compare.sh STORE CONNECTION [DURATION] [CONCURRENCY...]
#   cache/benches/compare.sh memory '' 10 64 1
#   cache/benches/compare.sh redis redis://127.0.0.1:6379 10 64 1
#   cache/benches/compare.sh valkey redis://127.0.0.1:56479 10 64 1
#   cache/benches/compare.sh memcache 127.0.0.1:51211 10 64 1
# Needs `cargo build --release -p backstage-benches --bin cache-bench` and
# `npm ci` in cache/benches/node.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
store=$1 connection=$2 duration=${3:-10}
shift 3 || true
concurrencies=("${@:-64 1}")
bin=${CARGO_TARGET_DIR:-$root/target}/release/cache-bench
for c in ${concurrencies[@]}; do
    args=(--store "$store" --concurrency "$c" --duration "$duration")
    [[ -n $connection ]] && args+=(--connection "$connection")
    node "$root/cache/benches/node/bench.mjs" "${args[@]}"
    "$bin" "${args[@]}"
done
