"""bench/analytics: times the CLI's reports against DuckDB on the same events, in one run,
and checks that both give the same numbers. Arguments: BIN DB WORKDIR AS_OF DEMO_SECONDS PROFILE."""
import csv
import json
import sqlite3
import subprocess
import sys
import time

import duckdb

BIN, DB, WORK, AS_OF, DEMO_S, PROFILE = sys.argv[1:7]
YEAR_FROM = f"{int(AS_OF[:4]) - 1}-{AS_OF[5:7]}-01"
# The month after AS_OF's month a year earlier starts the 12 months of the overview.
y, m = int(AS_OF[:4]) - 1, int(AS_OF[5:7]) + 1
if m == 13:
    y, m = y + 1, 1
YEAR_FROM = f"{y}-{m:02d}-01"
# The workspace zone of the demo: Asia/Shanghai, UTC+8 without daylight saving.
OFFSET_MS = 8 * 3600 * 1000
SYSTEM = ("tier.changed", "lifecycle.changed", "points.expired", "coupon.issued",
          "coupon.redeemed", "coupon.expired", "birthday.gift")


def timed(args):
    t = time.perf_counter()
    out = subprocess.run([BIN, "--db", DB] + args, check=True, capture_output=True, text=True)
    return time.perf_counter() - t, out.stdout


result = {"profile": PROFILE, "demo_s": float(DEMO_S)}
result["rebuild_s"], out = timed(["analytics", "rebuild"])
result["rebuild"] = json.loads(out)
ours_cohorts = f"{WORK}/ours_cohorts.csv"
result["ours_cohorts_s"], _ = timed(["report", "cohorts", "--by", "first_order", "--period", "month",
                                      "--as-of", AS_OF, "--format", "csv", "-o", ours_cohorts])
ours_funnel = f"{WORK}/ours_funnel.csv"
result["ours_funnel_s"], _ = timed(["report", "funnel", "--steps", "member.registered,order.paid,order.paid",
                                     "--within", "30,60", "--from", YEAR_FROM, "--to", AS_OF,
                                     "--format", "csv", "-o", ours_funnel])
ours_overview = f"{WORK}/ours_overview.csv"
result["ours_overview_s"], _ = timed(["report", "overview", "--from", YEAR_FROM, "--to", AS_OF,
                                       "--interval", "month", "--format", "csv", "-o", ours_overview])

# The same events for DuckDB (export not timed).
con_s = sqlite3.connect(DB)
events_csv, members_csv = f"{WORK}/events.csv", f"{WORK}/members.csv"
with open(events_csv, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["seq", "member_id", "type", "occurred_at", "amount_minor", "refunded_minor"])
    for row in con_s.execute("SELECT seq, member_id, type, occurred_at, amount_minor, refunded_minor FROM events"):
        w.writerow(row)
with open(members_csv, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "joined_at"])
    for row in con_s.execute("SELECT id, COALESCE(registered_at, created_at) FROM members"):
        w.writerow(row)
result["events"] = con_s.execute("SELECT COUNT(*) FROM events").fetchone()[0]
result["members"] = con_s.execute("SELECT COUNT(*) FROM members").fetchone()[0]

con = duckdb.connect()
t = time.perf_counter()
con.execute(f"CREATE TABLE ev AS SELECT * FROM read_csv('{events_csv}', header=true, "
            "columns={'seq': 'BIGINT', 'member_id': 'VARCHAR', 'type': 'VARCHAR', 'occurred_at': 'BIGINT', "
            "'amount_minor': 'BIGINT', 'refunded_minor': 'BIGINT'})")
con.execute(f"CREATE TABLE mem AS SELECT * FROM read_csv('{members_csv}', header=true, "
            "columns={'id': 'VARCHAR', 'joined_at': 'BIGINT'})")
result["duckdb_load_s"] = time.perf_counter() - t
DAY = f"(DATE '1970-01-01' + CAST(floor((occurred_at + {OFFSET_MS}) / 86400000) AS INTEGER))"
ORDER = "type = 'order.paid' AND (refunded_minor < amount_minor OR amount_minor = 0)"
cohorts_q = f"""
WITH o AS (SELECT DISTINCT member_id, date_trunc('month', {DAY}) AS mon FROM ev
           WHERE {ORDER} AND {DAY} <= DATE '{AS_OF}'),
f AS (SELECT member_id, MIN(mon) AS cohort FROM o GROUP BY member_id),
size AS (SELECT cohort, COUNT(*) AS n FROM f GROUP BY cohort),
ret AS (SELECT f.cohort, datediff('month', f.cohort, o.mon) AS k, COUNT(*) AS r
        FROM o JOIN f USING (member_id) GROUP BY 1, 2)
SELECT strftime(cohort, '%Y-%m') AS c, k, n, r FROM ret JOIN size USING (cohort) ORDER BY 1, 2
"""
t = time.perf_counter()
duck_cohorts = con.execute(cohorts_q).fetchall()
result["duckdb_cohorts_s"] = time.perf_counter() - t
system = ", ".join(f"'{s}'" for s in SYSTEM)
overview_q = f"""
WITH e AS (SELECT member_id, type, amount_minor, refunded_minor, {DAY} AS day FROM ev
           WHERE {DAY} BETWEEN DATE '{YEAR_FROM}' AND DATE '{AS_OF}'),
act AS (SELECT strftime(day, '%Y-%m') AS p, COUNT(DISTINCT member_id) AS active FROM e
        WHERE type NOT IN ({system}) GROUP BY 1),
ord AS (SELECT strftime(day, '%Y-%m') AS p,
               COUNT(*) FILTER (WHERE refunded_minor < amount_minor OR amount_minor = 0) AS orders,
               COUNT(DISTINCT member_id) FILTER (WHERE refunded_minor < amount_minor OR amount_minor = 0) AS paying,
               SUM(amount_minor - refunded_minor) AS revenue
        FROM e WHERE type = 'order.paid' GROUP BY 1),
joined AS (SELECT strftime(DATE '1970-01-01' + CAST(floor((joined_at + {OFFSET_MS}) / 86400000) AS INTEGER), '%Y-%m') AS p,
                  COUNT(*) AS new_members FROM mem GROUP BY 1)
SELECT act.p, act.active, COALESCE(ord.paying, 0), COALESCE(ord.orders, 0), COALESCE(ord.revenue, 0),
       COALESCE(joined.new_members, 0)
FROM act LEFT JOIN ord USING (p) LEFT JOIN joined USING (p) ORDER BY 1
"""
t = time.perf_counter()
duck_overview = con.execute(overview_q).fetchall()
result["duckdb_overview_s"] = time.perf_counter() - t

# The funnel: entry = first registration (time, then log order) on a local day in the year;
# then the first order after it, kept if within 30 days; then the next order, within 60.
KEY = "(CAST(occurred_at AS HUGEINT) * 100000000 + seq)"
funnel_q = f"""
WITH reg AS (SELECT member_id, MIN({KEY}) AS k1 FROM ev
             WHERE type = 'member.registered' AND {DAY} BETWEEN DATE '{YEAR_FROM}' AND DATE '{AS_OF}'
             GROUP BY member_id),
o AS (SELECT member_id, {KEY} AS k FROM ev WHERE type = 'order.paid'),
s2 AS (SELECT r.member_id, r.k1, MIN(o.k) AS k2 FROM reg r JOIN o ON o.member_id = r.member_id AND o.k > r.k1
       GROUP BY 1, 2),
s2w AS (SELECT member_id, k1 // 100000000 AS t1, k2, k2 // 100000000 AS t2 FROM s2
        WHERE k2 // 100000000 <= k1 // 100000000 + CAST(30 AS BIGINT) * 86400000),
s3 AS (SELECT s.member_id, s.t2, MIN(o.k) AS k3 FROM s2w s JOIN o ON o.member_id = s.member_id AND o.k > s.k2
       GROUP BY 1, 2),
s3w AS (SELECT member_id, t2, k3 // 100000000 AS t3 FROM s3 WHERE k3 // 100000000 <= t2 + CAST(60 AS BIGINT) * 86400000)
SELECT (SELECT COUNT(*) FROM reg), (SELECT COUNT(*) FROM s2w), (SELECT COUNT(*) FROM s3w),
       (SELECT median(t2 - t1) FROM s2w), (SELECT median(t3 - t2) FROM s3w)
"""
t = time.perf_counter()
duck_funnel = con.execute(funnel_q).fetchone()
result["duckdb_funnel_s"] = time.perf_counter() - t

# Same answers?
ours_f = [r for r in csv.DictReader(open(ours_funnel)) if r["group"] == "(all)"]
got = tuple(int(r["members"]) for r in ours_f) + tuple(float(r["median_days"]) for r in ours_f[1:])
want = tuple(int(x) for x in duck_funnel[:3]) + tuple(round(float(x) / 86400000, 2) for x in duck_funnel[3:])
result["funnel_equal"] = got == want
if got != want:
    result["funnel_mismatch"] = [got, want]
result["funnel_ratio"] = result["ours_funnel_s"] / result["duckdb_funnel_s"]
ours = {(r["cohort"], int(r["period"])): (int(r["cohort_size"]), int(r["retained"]))
        for r in csv.DictReader(open(ours_cohorts))}
ours_nonzero = {k: v for k, v in ours.items() if v[1] > 0}
duck = {(c, int(k)): (int(n), int(r)) for c, k, n, r in duck_cohorts}
result["cohort_cells"] = len(ours)
result["cohorts_equal"] = ours_nonzero == duck
series = {r["period"]: r for r in csv.DictReader(open(ours_overview)) if r["scope"] == "series"}
mismatch = []
for p, active, paying, orders, revenue, new in duck_overview:
    r = series.get(p)
    got = None if r is None else (int(r["active_members"]), int(r["paying_members"]), int(r["orders"]),
                                  int(r["revenue_minor"]), int(r["new_members"]))
    if got != (active, paying, orders, revenue, new):
        mismatch.append((p, got, (active, paying, orders, revenue, new)))
result["overview_equal"] = not mismatch
if mismatch:
    result["overview_mismatch"] = mismatch[:3]
result["cohorts_ratio"] = result["ours_cohorts_s"] / result["duckdb_cohorts_s"]
result["overview_ratio"] = result["ours_overview_s"] / result["duckdb_overview_s"]
result["duckdb_version"] = duckdb.__version__
print(json.dumps(result, indent=2))
