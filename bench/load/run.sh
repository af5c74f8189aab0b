#!/usr/bin/env bash
# Mixed load on loopback with oha (crates.io: `cargo install oha`): 70% events, 20%
# member-center reads, 10% checkout validation, for SECONDS (default 60), against SQLite
# (default) or PostgreSQL (DB=postgres://…). Three oha processes run at once with
# connections in the 70/20/10 proportion, each as fast as it goes; throughput, p50/p99 and
# errors are printed per stream and summed.
# Usage: bench/load/run.sh [seconds] [connections]     (from the repository root)
# Limits: oha sends one fixed body, so after the first request the event stream measures
# the idempotent path (duplicates found and answered); member reads rotate over 50 members
# through oha's --rand-regex-url.
set -euo pipefail
secs=${1:-60}
conns=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out/load"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
command -v oha >/dev/null || { echo "needs oha: cargo install oha" >&2; exit 1; }
if [ -n "${MEMBEROPS_BIN:-}" ]; then
  bin=$MEMBEROPS_BIN
else
  cargo build --release -q -p memberops
  bin="$CARGO_TARGET_DIR/release/memberops"
fi
rm -rf "$out" && mkdir -p "$out"
db=${DB:-$out/memberops.db}
port=${PORT:-18093}
base="http://127.0.0.1:$port"
"$bin" --db "$db" migrate >/dev/null
key=$("$bin" --db "$db" apikey create --name load --scope ingest,checkout,read 2>/dev/null)
RUST_LOG=warn "$bin" --db "$db" serve --addr "127.0.0.1:$port" 2>"$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

# 50 members with an order each, for the reads and the checkout.
python3 - "$base" "$key" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
events = []
for i in range(50):
    events.append({"id": f"reg-{i}", "type": "member.registered", "member": f"lm{i:02d}"})
    events.append({"id": f"ord-{i}", "type": "order.paid", "member": f"lm{i:02d}",
                   "properties": {"order_id": f"lo-{i}", "amount": "99.00"}})
req = urllib.request.Request(f"{base}/v1/events:batch", data=json.dumps({"events": events}).encode(),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY

ev_body='{"events":[{"id":"load-1","type":"checkin","member":"lm01"}]}'
co_body='{"member":"lm02","cart":{"lines":[{"sku":"A","unit_price_minor":10000,"quantity":3}],"shipping_minor":1000}}'
c_ev=$(( conns * 7 / 10 )); c_rd=$(( conns * 2 / 10 )); c_co=$(( conns - c_ev - c_rd ))
auth="Authorization: Bearer $key"
oha -z "${secs}s" -c "$c_ev" --no-tui --output-format json -m POST -H "$auth" -T application/json -d "$ev_body" \
    "$base/v1/events:batch" >"$out/events.json" &
oha -z "${secs}s" -c "$c_rd" --no-tui --output-format json -H "$auth" \
    --rand-regex-url "$base/v1/members/lm[0-4][0-9]/loyalty" >"$out/reads.json" &
oha -z "${secs}s" -c "$c_co" --no-tui --output-format json -m POST -H "$auth" -T application/json -d "$co_body" \
    "$base/v1/checkout/validate" >"$out/checkout.json" &
wait %2 %3 %4 2>/dev/null || wait
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
total_rps = total_req = total_err = 0
for name in ("events", "reads", "checkout"):
    d = json.load(open(f"{out}/{name}.json"))
    s = d["summary"]
    p = d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    bad = sum(n for c, n in codes.items() if not c.startswith("2"))
    errs = sum(d.get("errorDistribution", {}).values()) + bad
    reqs = sum(codes.values())
    total_rps += s["requestsPerSec"]; total_req += reqs; total_err += errs
    print(f"{name:9s} {s['requestsPerSec']:8.0f} req/s  p50 {p.get('p50', 0)*1000:6.2f} ms  p99 {p.get('p99', 0)*1000:6.2f} ms  errors {errs}")
print(f"{'mixed':9s} {total_rps:8.0f} req/s  requests {total_req}  errors {total_err}")
PY
