#!/usr/bin/env bash
# Fuzzes the OpenAPI document with schemathesis (PyPI: `pip install schemathesis`) against
# `memberops serve --demo` on SQLite and on PostgreSQL, with the demo's admin key. Fails on
# a 5xx, on a response that contradicts its schema (body or content type), and on a panic
# or an `internal error` line in the server's log.
#
# Usage (from the repository root):
#   bench/schemathesis/run.sh [max-examples-per-operation] [sqlite|postgres|both]
# Env: MEMBEROPS_BIN (else a debug build), PG_ADMIN_URL (default
#   postgres://postgres@127.0.0.1/test; a database is created for the run and dropped),
#   ST_SEED (default 1), ST_MAX_TIME (seconds per database, unset = no budget),
#   ST_WORKERS (default 2).
set -euo pipefail
examples=${1:-10}
which=${2:-both}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out/schemathesis"
rm -rf "$out" && mkdir -p "$out"
command -v schemathesis >/dev/null || { echo "needs schemathesis: pip install schemathesis" >&2; exit 1; }
if [ -n "${MEMBEROPS_BIN:-}" ]; then
  bin=$MEMBEROPS_BIN
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
  cargo build -q -p memberops
  bin="$CARGO_TARGET_DIR/debug/memberops"
fi
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1/test}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

server=""
pg_db=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  if [ -n "$pg_db" ]; then psql "$pg_admin" -qAtc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true; fi
}
trap cleanup EXIT

fuzz() { # name db-url
  local name=$1 db=$2 port log key base
  port=$(free_port)
  base="http://127.0.0.1:$port"
  log="$out/$name-server.log"
  # A small demo: every list and report has rows, and the run is about the API.
  RUST_LOG=warn "$bin" --db "$db" serve --demo --demo-members 150 --addr "127.0.0.1:$port" \
    >"$out/$name-stdout.log" 2>"$log" &
  server=$!
  for _ in $(seq 600); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { echo "$name: the server died:"; tail -20 "$log"; return 1; }
    sleep 0.2
  done
  key=$(sed -n 's/^demo API key (admin): //p' "$out/$name-stdout.log")
  [ -n "$key" ] || { echo "$name: no demo key printed"; return 1; }
  # Real ids of the demo data for path parameters (half the time), so that routes under
  # `/v1/members/{id}/…` and the like are fuzzed past their 404.
  python3 "$here/dictionaries.py" "$base" "$key" >"$out/$name-schemathesis.toml"
  echo "== schemathesis on $name ($examples examples per operation)"
  local budget=()
  [ -n "${ST_MAX_TIME:-}" ] && budget=(--max-time "$ST_MAX_TIME")
  local rc=0
  schemathesis --config-file "$out/$name-schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $key" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance \
    --max-examples "$examples" --seed "${ST_SEED:-1}" --workers "${ST_WORKERS:-2}" \
    --phases examples,coverage,fuzzing --no-shrink \
    --suppress-health-check all --request-timeout 30 \
    "${budget[@]}" \
    --report junit --report-junit-path "$out/$name-junit.xml" \
    >"$out/$name-schemathesis.log" 2>&1 || rc=$?
  tail -40 "$out/$name-schemathesis.log"
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  server=""
  if grep -E "panicked|internal error" "$log" >/dev/null; then
    echo "$name: the server log holds a panic or an internal error:"
    grep -E "panicked|internal error" "$log" | head -20
    rc=1
  fi
  return $rc
}

status=0
if [ "$which" = sqlite ] || [ "$which" = both ]; then
  fuzz sqlite "$out/fuzz.db" || status=1
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  pg_db="memberops_fuzz_$$"
  psql "$pg_admin" -qAtc "CREATE DATABASE $pg_db" >/dev/null
  fuzz postgres "${pg_admin%/*}/$pg_db" || status=1
fi
exit $status
