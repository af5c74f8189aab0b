#!/usr/bin/env bash
# Checkout validation under load, SQLite, loopback.
#   1. paced: ~2,000 req/s offered to POST /v1/checkout/validate (member with 50 coupons,
#      20-line cart); target p99 <= 5 ms;
#   2. saturation: validate as fast as it goes, then GET /healthz the same way, and the ratio.
# Usage: bench/checkout/run.sh [seconds-per-phase]   (from the repository root)
set -euo pipefail
secs=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out/checkout"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p memberops
bin="$CARGO_TARGET_DIR/release/memberops"
rm -rf "$out" && mkdir -p "$out"
db="$out/memberops.db"
port=${PORT:-18089}
base="http://127.0.0.1:$port"
"$bin" --db "$db" migrate >/dev/null
key=$("$bin" --db "$db" apikey create --name bench 2>/dev/null)
RUST_LOG=warn "$bin" --db "$db" serve --addr "127.0.0.1:$port" 2>"$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
python3 "$here/setup.py" "$base" "$key" "$out/validate.json"
export BODY_FILE="$out/validate.json" API_KEY="$key"

# Warm up, then the paced run: 20 connections x one request every 10 ms ≈ 2,000 req/s.
PACE_MS=0 wrk -t2 -c4 -d3s -s "$here/validate.lua" "$base/v1/checkout/validate" >/dev/null
paced=$(PACE_MS=10 wrk -t2 -c20 -d"${secs}s" --latency -s "$here/validate.lua" "$base/v1/checkout/validate" | grep RESULT)
sat=$(PACE_MS=0 wrk -t2 -c32 -d"${secs}s" -s "$here/validate.lua" "$base/v1/checkout/validate" | grep RESULT)
health=$(wrk -t2 -c32 -d"${secs}s" -s "$here/health.lua" "$base/healthz" | grep RESULT)
rps() { sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$1"; }
echo "paced validate (~2,000 req/s offered): $paced"
echo "saturated validate:                    $sat"
echo "saturated /healthz:                    $health"
awk -v a="$(rps "$sat")" -v b="$(rps "$health")" 'BEGIN { printf "validate / healthz throughput ratio: %.3f\n", a / b }'
