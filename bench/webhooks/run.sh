#!/usr/bin/env bash
# Event consumers and webhooks benchmark (issue 24), everything in one process over loopback
# HTTP, each run on a fresh SQLite database in a temp dir:
#   1. ingest of EVENTS order.paid events (MEMBERS members, batches of BATCH) through
#      POST /v1/events:batch with the worker running, without and with one endpoint
#      subscribed to order.paid (REPEAT pairs, alternating order);
#   2. delivery rate: the outbox filled first (no dispatcher), then the dispatcher timed
#      until the sink has every delivery; duplicate and missing webhook-ids;
#   3. latency: 1,000 events/s in batches of 50 for 20 s, the worker running;
#      sink receipt − the batch request's return, p50/p95/p99.
# Usage: bench/webhooks/run.sh [EVENTS] [MEMBERS] [BATCH]
#   REPEAT=3 (ingest pairs), POSTGRES=postgres://postgres@127.0.0.1/test to run the same
#   phases on PostgreSQL too (a fresh database per run, dropped after it).
#   Honours CARGO_TARGET_DIR. Extra arguments for `memberops bench webhooks`: BENCH_ARGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${1:-100000}"
MEMBERS="${2:-20000}"
BATCH="${3:-1000}"
REPEAT="${REPEAT:-3}"
cargo build --release -q -p memberops
BIN="${CARGO_TARGET_DIR:-target}/release/memberops"

ARGS=(--events "$EVENTS" --members "$MEMBERS" --batch "$BATCH" --repeat "$REPEAT")
if [[ -n "${POSTGRES:-}" ]]; then
    ARGS+=(--postgres "$POSTGRES")
fi
echo "== load before: $(uptime)"
# The server's own logs (worker start/stop) go to stderr; the figures to stdout.
RUST_LOG="${RUST_LOG:-warn}" "$BIN" bench webhooks "${ARGS[@]}" ${BENCH_ARGS:-}
echo "== load after: $(uptime)"
