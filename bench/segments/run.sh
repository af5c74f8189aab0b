#!/usr/bin/env bash
# Member-intelligence benchmark: 1,000,000 demo-like members on SQLite; RFM + stages, the
# recompute job, index memory, a 6-condition count through the index vs SQL, and the same
# RFM in DuckDB from the same orders. Usage: bench/segments/run.sh [members]
set -euo pipefail
cd "$(dirname "$0")/../.."
MEMBERS="${1:-1000000}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
cargo build --release -q -p memberops
BIN="${CARGO_TARGET_DIR:-target}/release/memberops"
python3 -c 'import duckdb' 2>/dev/null || pip install -q duckdb
"$BIN" bench-segments --members "$MEMBERS" --db "$WORK/segments.db" --orders-csv "$WORK/orders.csv" > "$WORK/rust.json"
python3 bench/segments/duckdb_rfm.py "$WORK/orders.csv" 2026-06-01 > "$WORK/duckdb.json"
python3 - "$WORK/rust.json" "$WORK/duckdb.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
print(json.dumps(r, indent=2)); print(json.dumps(d, indent=2))
print(f"6-condition count, index median: {r['index_count_median_ms']:.2f} ms "
      f"(count only {r['index_count_only_median_ms']:.2f} ms); SQL on SQLite: {r['sql_count_median_ms']:.1f} ms; "
      f"SQL/index = {r['sql_over_index']:.0f}x")
print(f"RFM + stage + value class, {r['members']} members: {r['rfm_stage_value_compute_s']:.2f} s; "
      f"DuckDB RFM query {d['rfm_s']:.2f} s (+{d['load_s']:.2f} s CSV load); "
      f"ours/DuckDB = {r['rfm_stage_value_compute_s']/d['rfm_s']:.1f}x (query), "
      f"{r['rfm_stage_value_compute_s']/(d['rfm_s']+d['load_s']):.1f}x (load+query)")
print(f"RFM report rows (report rfm): {r['rfm_report_rows_s']:.2f} s; CPU seconds: compute {r['rfm_stage_value_compute_cpu_s']:.2f}, "
      f"report {r['rfm_report_rows_cpu_s']:.2f}")
print(f"recompute job: first run {r['recompute_first_run_s']:.2f} s, next day {r['recompute_next_day_s']:.2f} s "
      f"(CPU {r['recompute_first_run_cpu_s']:.2f} / {r['recompute_next_day_cpu_s']:.2f} s)")
print(f"index: {r['index_bytes_per_member']:.0f} bytes/member, load {r['index_load_s']:.2f} s")
PY
rm -rf "${BENCH_DIR:-$WORK}"/segments.db* 2>/dev/null || true
