#!/usr/bin/env bash
# Points-spend API under load on SQLite: wrk, 20 connections each pacing one request per
# DELAY_MS (≈ 2,000 req/s at 10 ms), p99 latency; the reference is GET /healthz paced the
# same way against the same server in the same run.
# Usage: bench/loyalty/run.sh [duration=30s]   (needs `wrk` and a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-30s}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/memberops}
OUT=bench/out/loyalty
PORT=${PORT:-18088}
mkdir -p "$OUT"
rm -f "$OUT"/spend.db*
DB="$OUT/spend.db"
KEY=$("$BIN" --db "$DB" apikey create --name bench 2>/dev/null | tail -1)
"$BIN" --db "$DB" serve --addr 127.0.0.1:$PORT >"$OUT/serve.log" 2>&1 &
PID=$!
trap 'kill $PID' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
H=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
curl -sf "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/members" -d '{"external_id": "bench"}' >/dev/null
curl -sf "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/members/bench/points:adjust" \
  -d '{"points": 100000000, "idempotency_key": "seed", "reason": "benchmark balance"}' >/dev/null
export KEY DELAY_MS=${DELAY_MS:-10}
p99() { awk '/ 99%/ {print $2}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
REF=$(wrk -t2 -c20 -d"$DUR" --latency -s bench/loyalty/health.lua "http://127.0.0.1:$PORT/healthz")
SPEND=$(RUN=$RANDOM wrk -t2 -c20 -d"$DUR" --latency -s bench/loyalty/spend.lua "http://127.0.0.1:$PORT/v1/members/bench/points:spend")
echo "$SPEND" > "$OUT/spend.txt"
REF_P99=$(echo "$REF" | p99 | ms); SP_P99=$(echo "$SPEND" | p99 | ms)
echo "reference GET /healthz : $(echo "$REF" | rps) req/s, p99 ${REF_P99} ms"
echo "POST points:spend      : $(echo "$SPEND" | rps) req/s, p99 ${SP_P99} ms"
echo "non-2xx spends         : $(echo "$SPEND" | awk '/Non-2xx/ {print $NF}' | sed 's/^$/0/')"
awk -v a="$SP_P99" -v b="$REF_P99" 'BEGIN {printf "p99 ratio spend/healthz: %.1f\n", a / b}'
LEDGER=$(curl -sf "${H[@]}" "http://127.0.0.1:$PORT/v1/members/bench/loyalty" | sed -E 's/.*"balance":([0-9-]+).*/\1/')
echo "balance after run      : $LEDGER (started at 100000000)"
