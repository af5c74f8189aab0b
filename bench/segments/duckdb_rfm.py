"""The DuckDB reference for bench/segments: the same RFM (recency, frequency, monetary and
1-5 quintile scores with the same tie rule: score = 1 + floor(5 * p / n), p = buyers
strictly worse) from the same orders, timed in the same run."""
import json
import sys
import time

import duckdb

orders_csv, as_of = sys.argv[1], sys.argv[2]
con = duckdb.connect()
t = time.perf_counter()
con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv_auto('{orders_csv}', header=true)")
load_s = time.perf_counter() - t
q = f"""
WITH agg AS (
  SELECT member_id, DATE '{as_of}' - MAX(local_date) AS recency, COUNT(*) AS freq,
         SUM(amount_minor - refunded_minor) AS monetary
  FROM orders WHERE local_date <= DATE '{as_of}' GROUP BY member_id),
n AS (SELECT COUNT(*) AS n FROM agg)
SELECT member_id, recency, freq, monetary,
  LEAST(5, 1 + (5 * (RANK() OVER (ORDER BY recency DESC) - 1)) // n) AS r,
  LEAST(5, 1 + (5 * (RANK() OVER (ORDER BY freq) - 1)) // n) AS f,
  LEAST(5, 1 + (5 * (RANK() OVER (ORDER BY monetary) - 1)) // n) AS m
FROM agg, n
"""
t = time.perf_counter()
rows = con.execute(q).fetchall()
rfm_s = time.perf_counter() - t
print(json.dumps({"duckdb_version": duckdb.__version__, "buyers": len(rows), "load_s": load_s,
                  "rfm_s": rfm_s}))
