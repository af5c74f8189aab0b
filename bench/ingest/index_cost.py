#!/usr/bin/env python3
"""What each index of an event log costs SQLite, against plain INSERTs in the same run.

The ingest benchmark (run.sh) compares the batch path with plain batched INSERTs into a
table without any index. This script isolates the storage part of that gap: the same
1,000,000 benchmark rows (order.paid events spread over 100,000 members, ten 1,000-row
statements per 10,000-row transaction, WAL, synchronous=NORMAL, 64 MiB cache) go into
tables that differ only in their indexes, and each rate is printed as a ratio of the plain
table's. No application code runs: validation, members, orders and aggregates come on top.

Usage: python3 bench/ingest/index_cost.py [EVENTS] [DIR]
"""

import json
import os
import sqlite3
import sys
import time

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
DIR = sys.argv[2] if len(sys.argv) > 2 else "bench/out"
MEMBERS = 100_000
BATCH = 10_000
CHUNK = 1_000
LOOKUPS = 2_000


def member_key(i):
    """The benchmark's member of event i (as in `memberops bench ingest`)."""
    return (i * 7919) % MEMBERS


def rows(start):
    out = []
    for i in range(start, min(start + BATCH, EVENTS)):
        minor = 100 + (i * 104_729) % 99_900
        props = {
            "order_id": f"o{i}",
            "amount": f"{minor // 100}.{minor % 100:02d}",
            "channel": ["app", "store", "web", "mini_program"][i % 4],
        }
        at = 1_700_000_000 + i * 730 * 86_400 // EVENTS
        out.append((f"e{i}", "order.paid", member_key(i), at, json.dumps(props)))
    return out


# Member keys as each layout stores them: the external id of the reference, an internal
# id shaped like ours (`mem_` and a 26-character ULID), or an integer.
MEMBER = {
    "short": lambda k: f"m{k}",
    "ulid": lambda k: "mem_01JF%022d" % (k * 2_654_435_761 % 1_000_003),
    "int": lambda k: k * 2_654_435_761 % 1_000_003,
}

VARIANTS = [
    ("plain table (reference)", "short", []),
    ("unique id", "short", ["CREATE UNIQUE INDEX ev_id ON ev (id)"]),
    (
        "unique id + member history",
        "short",
        ["CREATE UNIQUE INDEX ev_id ON ev (id)", "CREATE INDEX ev_m ON ev (member, at)"],
    ),
    (
        "same, 30-char member ids",
        "ulid",
        ["CREATE UNIQUE INDEX ev_id ON ev (id)", "CREATE INDEX ev_m ON ev (member, at)"],
    ),
    (
        "same, integer member keys",
        "int",
        ["CREATE UNIQUE INDEX ev_id ON ev (id)", "CREATE INDEX ev_m ON ev (member, at)"],
    ),
    (
        "same, history led by week",
        "ulid",
        ["CREATE UNIQUE INDEX ev_id ON ev (id)", "CREATE INDEX ev_m ON ev (at / 604800, member, at)"],
    ),
]


def run(name, member, indexes, batches):
    path = os.path.join(DIR, "index_cost.db")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -65536")
    db.execute("PRAGMA wal_autocheckpoint = 65536")
    db.execute(
        "CREATE TABLE ev (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, "
        "member NOT NULL, at INTEGER NOT NULL, properties TEXT NOT NULL)"
    )
    for ddl in indexes:
        db.execute(ddl)
    shaped = [[(e, t, MEMBER[member](m), at, p) for (e, t, m, at, p) in b] for b in batches]
    took = 0.0
    for batch in shaped:
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for s in range(0, len(batch), CHUNK):
            chunk = batch[s : s + CHUNK]
            sql = "INSERT INTO ev (id, type, member, at, properties) VALUES " + ", ".join(
                ["(?, ?, ?, ?, ?)"] * len(chunk)
            )
            db.execute(sql, [v for row in chunk for v in row])
        db.execute("COMMIT")
        took += time.perf_counter() - t
    lookup = None
    if any("ev_m" in ddl for ddl in indexes):
        # One member's history, as the member timeline, segments and order aggregates read
        # it. ANALYZE lets SQLite skip-scan an index whose first column is the week.
        db.execute("ANALYZE")
        keys = [MEMBER[member](member_key(i * 7)) for i in range(LOOKUPS)]
        t = time.perf_counter()
        for k in keys:
            db.execute("SELECT COUNT(*), MAX(at) FROM ev WHERE member = ?", (k,)).fetchone()
        lookup = (time.perf_counter() - t) / LOOKUPS * 1e6
    db.close()
    return EVENTS / took, lookup


def main():
    os.makedirs(DIR, exist_ok=True)
    batches = [rows(s) for s in range(0, EVENTS, BATCH)]
    print(f"index cost: {EVENTS} rows, {MEMBERS} members, transactions of {BATCH}, SQLite {sqlite3.sqlite_version}")
    print(f"{'table':32} {'rows/s':>10} {'of plain':>9} {'member read':>12}")
    # The first run warms the file system and the interpreter; it is not reported.
    run(*VARIANTS[0], batches)
    reference = None
    for name, member, indexes in VARIANTS:
        rate, lookup = run(name, member, indexes, batches)
        reference = reference or rate
        read = f"{lookup:9.1f} us" if lookup is not None else ""
        print(f"{name:32} {rate:10.0f} {rate / reference:9.2f} {read:>12}", flush=True)


if __name__ == "__main__":
    main()
