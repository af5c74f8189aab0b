#!/usr/bin/env bash
# Segment-compatible batch path vs native /v1/events:batch, same workload, same run.
#   bench/tracking/run.sh [messages] [members]      (defaults 100000 100000)
# Each path gets a fresh SQLite database and its own server (release build). Set
# BENCH_PG=postgres://postgres@127.0.0.1 to run on PostgreSQL too (databases
# bench_tracking_native / bench_tracking_segment are recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
MESSAGES="${1:-100000}"
MEMBERS="${2:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# BENCH_BIN=path/to/memberops skips the build (e.g. to compare a debug binary).
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release -q -p memberops; fi
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/memberops}"
OUT="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

run_one() { # path db port
  local path=$1 db=$2 port=$3
  "$BIN" --db "$db" migrate >/dev/null
  local key
  key=$("$BIN" --db "$db" apikey create --name bench --scope ingest 2>/dev/null)
  RUST_LOG=warn "$BIN" --db "$db" serve --addr "127.0.0.1:$port" 2>"$OUT/$path.log" &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  python3 bench/tracking/load.py "$path" "http://127.0.0.1:$port" "$key" --messages "$MESSAGES" --members "$MEMBERS" | tee "$OUT/$path.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

ratio() {
  python3 -c "import json;n=json.load(open('$OUT/native.json'));s=json.load(open('$OUT/segment.json'));print(f'$1: segment {s[\"per_second\"]}/s, native {n[\"per_second\"]}/s, ratio {s[\"per_second\"]/n[\"per_second\"]:.2f} (target >= 0.70)')"
}

echo "== SQLite, $MESSAGES messages, $MEMBERS members, batches of 100"
run_one native "$OUT/native.db" 18931
run_one segment "$OUT/segment.db" 18932
ratio SQLite

if [ -n "${BENCH_PG:-}" ]; then
  echo "== PostgreSQL"
  for d in native segment; do
    psql "$BENCH_PG/postgres" -qc "DROP DATABASE IF EXISTS bench_tracking_$d" -c "CREATE DATABASE bench_tracking_$d" >/dev/null
  done
  run_one native "$BENCH_PG/bench_tracking_native" 18933
  run_one segment "$BENCH_PG/bench_tracking_segment" 18934
  ratio PostgreSQL
fi
