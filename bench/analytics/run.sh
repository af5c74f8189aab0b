#!/usr/bin/env bash
# Analytics benchmark: a demo membership of N members on SQLite (default 1,000,000, the
# issue's size; pass a smaller N to finish in minutes), the daily aggregates rebuilt, then
# the 12×12 monthly cohort matrix and a year's overview by month through the CLI, each timed
# beside the same computation in DuckDB over the same events exported to CSV, in one run.
# The two cohort matrices are compared cell by cell; the overview's shared figures too.
# Usage: bench/analytics/run.sh [members]   (PROFILE=debug to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
MEMBERS="${1:-1000000}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build --release -q -p memberops; else cargo build -q -p memberops; fi
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE/memberops"
python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install -q duckdb
DB="$WORK/analytics.db"
rm -f "$DB"*
TODAY=2026-06-30
/usr/bin/time -f "%e" -o "$WORK/demo.s" "$BIN" --db "$DB" demo --members "$MEMBERS" --today "$TODAY" >/dev/null
python3 bench/analytics/compare.py "$BIN" "$DB" "$WORK" "$TODAY" "$(cat "$WORK/demo.s")" "$PROFILE"
rm -f "$DB"* "$WORK"/*.csv
