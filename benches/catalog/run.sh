#!/usr/bin/env bash
# The catalog benchmark of issue 6: ingest N synthetic entities from file locations (one
# `catalog.locations` entry per file of 100 entities) into
# `backstage serve` on PostgreSQL, time until all are visible through the API, then load five
# queries at concurrency 8 and read the peak RSS.
#
#   scripts/with-servers benches/catalog/run.sh            # N = 10000 and 100000
#   scripts/with-servers benches/catalog/run.sh 10000      # one size
#
# Needs POSTGRES_URL (scripts/with-servers exports it). Knobs: BENCH_DURATION (seconds per
# query, default 10), BENCH_CONCURRENCY (default 8), BENCH_ENGINE=sqlite to use SQLite instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
duration=${BENCH_DURATION:-10}
concurrency=${BENCH_CONCURRENCY:-8}
engine=${BENCH_ENGINE:-postgres}
if [ "$engine" = postgres ] && [ -z "${POSTGRES_URL:-}" ]; then
    echo "POSTGRES_URL is not set: run through scripts/with-servers" >&2
    exit 2
fi

cargo build --release -q -p backstage-cli -p backstage-benches --bin backstage --bin catalog-bench
target_dir=${CARGO_TARGET_DIR:-target}
backstage="$target_dir/release/backstage"
bench="$target_dir/release/catalog-bench"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

printf '| N | visible after (s) | query | req/s | p50 (ms) | p99 (ms) |\n|---|---|---|---|---|---|\n' > /tmp/catalog-bench-table.md
for n in "${sizes[@]}"; do
    work=$(mktemp -d)
    "$bench" generate --dir "$work/catalog" --entities "$n" >"$work/generate.json"
    port=$(free_port)
    prefix="bench_${n}_$$_"
    if [ "$engine" = postgres ]; then
        database="client: pg
    connection: '$POSTGRES_URL'
    prefix: $prefix"
    else
        database="client: better-sqlite3
    connection: {directory: '$work/data'}"
    fi
    cat >"$work/app-config.yaml" <<YAML
backend:
  baseUrl: http://127.0.0.1:$port
  listen: {host: 127.0.0.1, port: $port}
  auth: {dangerouslyDisableDefaultAuthPolicy: true}
  database:
    $database
catalog:
  rules: [{allow: [Component, System, API, Resource, Location, Domain, Group, User]}]
  locations:
$(for f in "$work"/catalog/entities-*.yaml; do echo "    - {type: file, target: '$f'}"; done)
YAML
    files=$(ls "$work"/catalog/entities-*.yaml | wc -l)
    start=$(date +%s.%N)
    "$backstage" serve --config "$work/app-config.yaml" >"$work/serve.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    # N entities + one generated Location entity per file location.
    if ! "$bench" wait --url "http://127.0.0.1:$port" --count $((n + files)) --timeout 900 >"$work/wait.json"; then
        tail -20 "$work/serve.log" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    visible=$(python3 -c "print(round($end - $start, 2))")
    echo "N=$n: all visible after ${visible} s (from process start)"
    base="http://127.0.0.1:$port/api/catalog"
    queries=(
        "$base/entities?filter=kind=component"
        "$base/entities?filter=kind=component,spec.type=service&fields=metadata.name"
        "$base/entities/by-query?filter=kind=api&limit=100"
        "$base/entities/by-name/component/default/component-1"
        "$base/entity-facets?facet=spec.type"
    )
    for q in "${queries[@]}"; do
        result=$("$bench" load --url "$q" --concurrency "$concurrency" --duration "$duration" --warmup 1)
        echo "  ${q#"$base"}: $result"
        python3 - "$n" "$visible" "${q#"$base"}" "$result" >>/tmp/catalog-bench-table.md <<'PY'
import json, sys
n, visible, q, r = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
print(f"| {n} | {visible} | `{q}` | {r['rps']:.0f} | {r['p50_us']/1000:.2f} | {r['p99_us']/1000:.2f} |")
PY
    done
    rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "  peak RSS: $((rss_kib / 1024)) MiB"
    echo "| $n | | peak RSS | $((rss_kib / 1024)) MiB | | |" >>/tmp/catalog-bench-table.md
    kill "$pid"; wait "$pid" 2>/dev/null || true
    trap - EXIT
    if [ "$engine" = postgres ]; then
        psql "$POSTGRES_URL" -qc "DROP DATABASE IF EXISTS ${prefix}catalog" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
done
echo
cat /tmp/catalog-bench-table.md
