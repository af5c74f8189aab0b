#!/usr/bin/env bash
# Ingest benchmark (issue 2): 1,000,000 order.paid events for 100,000 members through the
# batch path on SQLite, against plain batched INSERTs of the same rows into an SQLite table
# in the same run; then the peak memory of importing a 1,000,000-row orders CSV. With
# MEMBEROPS_BENCH_POSTGRES=postgres://… the same runs on PostgreSQL follow the SQLite ones
# (a fresh database per run on that server, dropped afterwards).
# Usage: [MEMBEROPS_BENCH_POSTGRES=URL] bench/ingest/run.sh [EVENTS] [MEMBERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS="${1:-1000000}"
MEMBERS="${2:-100000}"
OUT=bench/out
mkdir -p "$OUT"
cargo build --release -q -p memberops
BIN=target/release/memberops

echo "== batch path vs raw INSERT"
PG=()
if [ -n "${MEMBEROPS_BENCH_POSTGRES:-}" ]; then PG=(--postgres "$MEMBEROPS_BENCH_POSTGRES"); fi
"$BIN" bench ingest --events "$EVENTS" --members "$MEMBERS" --dir "$OUT" "${PG[@]}"

echo "== peak memory of a ${EVENTS}-row orders CSV import"
python3 - "$OUT/orders.csv" "$EVENTS" "$MEMBERS" <<'PY'
import sys, random
path, n, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
with open(path, "w") as f:
    f.write("member_id,order_id,ordered_at,amount,channel\n")
    for i in range(n):
        day = 1 + i * 700 // n
        f.write(f"m{rnd.randrange(members)},o{i},2024-{1 + (day // 28) % 12:02d}-{1 + day % 28:02d},{rnd.randrange(100, 99999) / 100:.2f},app\n")
PY
rm -f "$OUT/import.db" "$OUT/import.db-wal" "$OUT/import.db-shm"
/usr/bin/time -v "$BIN" --db "$OUT/import.db" import orders "$OUT/orders.csv" 2> "$OUT/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$OUT/time.txt"
