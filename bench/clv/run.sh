#!/usr/bin/env bash
# CLV fit and scoring: MemberOps (Rust, release) beside `lifetimes` (Python) on the same
# simulated base, in the same run. Usage: bench/clv/run.sh [MEMBERS] (default 1,000,000).
# Needs `python3 -m pip install lifetimes`.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cargo build -q --release -p memberops-analytics --example clv_bench
bin="${CARGO_TARGET_DIR:-target}/release/examples/clv_bench"
echo "== MemberOps (fit + score, $n simulated members)"
ours="$(/usr/bin/time -f '%e s wall, %U s user, %S s sys' "$bin" "$n" "$dir/summaries.csv")"
echo "$ours"
echo "== lifetimes (same summaries)"
theirs="$(/usr/bin/time -f '%e s wall, %U s user, %S s sys' python3 bench/clv/lifetimes_bench.py "$dir/summaries.csv")"
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"fit+score: MemberOps {o['total_s']:.2f} s, lifetimes {t['total_s']:.2f} s, ratio {o['total_s'] / t['total_s']:.3f}")
for k in ["r", "alpha", "a", "b", "p", "q", "v"]:
    print(f"  {k}: {o['params'][k]:.6g} vs {t['params'][k]:.6g} (rel {abs(o['params'][k] / t['params'][k] - 1):.2e})")
print(f"  sum of CLV: {o['clv_sum']:.2f} vs {t['clv_sum']:.2f}")
PY
