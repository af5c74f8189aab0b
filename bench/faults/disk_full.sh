#!/usr/bin/env bash
# A real full disk under SQLite: the database lives on a small tmpfs (root needed to mount
# it); shops send event batches until the file system is full. Expected: every refusal is
# 507 `storage_full` (never a 500 or a dead server), the server still answers reads, what
# the database holds is exactly what was acknowledged, `PRAGMA integrity_check` is `ok`,
# and once space is back (the tmpfs grown) writes succeed again.
# Usage (from the repository root, as root): bench/faults/disk_full.sh [size-MiB]
# Env: MEMBEROPS_BIN (else a debug build).
set -euo pipefail
size=${1:-24}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out/disk_full"
mnt="$out/mnt"
if [ -n "${MEMBEROPS_BIN:-}" ]; then
  bin=$MEMBEROPS_BIN
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
  cargo build -q -p memberops
  bin="$CARGO_TARGET_DIR/debug/memberops"
fi
mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
rm -rf "$out" && mkdir -p "$mnt"
mount -t tmpfs -o "size=${size}m" tmpfs "$mnt"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  umount "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
db="$mnt/memberops.db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --db "$db" migrate >/dev/null
key=$("$bin" --db "$db" apikey create --name full --scope admin 2>/dev/null)
RUST_LOG=warn "$bin" --db "$db" serve --no-worker --addr "127.0.0.1:$port" 2>"$out/server.log" &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

python3 - "http://127.0.0.1:$port" "$key" "$db" "$mnt" <<'PY'
import json, sqlite3, subprocess, sys, urllib.error, urllib.request
base, key, db, mnt = sys.argv[1:5]
def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
def batch(n):
    return {"events": [{"id": f"d{n}-{i}", "type": "order.paid", "member": f"dm{(n*500+i) % 5000}",
        "auto_create": True, "properties": {"order_id": f"do{n}-{i}", "amount": "12.50", "note": "x" * 300}}
        for i in range(500)]}
acked, refusals, n = 0, [], 0
while len(refusals) < 3 and n < 2000:
    status, body = call("POST", "/v1/events:batch", batch(n))
    if status == 200:
        acked += body["accepted"]
    else:
        refusals.append((status, body.get("code") if isinstance(body, dict) else body))
    n += 1
print(f"batches sent: {n}, events acknowledged: {acked}")
print(f"refusals: {refusals}")
assert refusals, "the file system never filled"
assert all(s == 507 and c == "storage_full" for s, c in refusals), refusals
status, _ = call("GET", "/v1/members?limit=1")
print(f"read while full: {status}")
assert status == 200
con = sqlite3.connect(db)
events = con.execute("SELECT COUNT(*) FROM events WHERE type = 'order.paid'").fetchone()[0]
check = con.execute("PRAGMA integrity_check").fetchone()[0]
con.close()
print(f"events stored: {events}; integrity_check: {check}")
assert events == acked, (events, acked)
assert check == "ok"
subprocess.run(["mount", "-o", "remount,size=256m", mnt], check=True)
status, body = call("POST", "/v1/events:batch", batch(100000))
print(f"after the disk grew: {status}")
assert status == 200, body
print("disk full: ok")
PY
