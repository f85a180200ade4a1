"""Writes a Hive-partitioned dataset with pyarrow (NULLs, NaN, empty and non-ASCII strings,
a high-cardinality id) under the given folder and prints DuckDB's answers to the questions
`dq profile` answers, as JSON."""
import json
import math
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

out = Path(sys.argv[1])
rng = random.Random(20261202)
kinds = ["click"] * 50 + ["view"] * 30 + ["buy"] * 12 + ["refund"] * 5 + [None] * 3
next_id = 0
for d in range(5):
    day = date(2026, 1, 1) + timedelta(days=d)
    for part in range(2):
        n = 700 + 50 * d + part
        ids = list(range(next_id, next_id + n))
        next_id += n
        price = [None if rng.random() < 0.02 else (math.nan if rng.random() < 0.01 else round(rng.lognormvariate(3, 1), 2)) for _ in ids]
        table = pa.table({
            "id": pa.array(ids, pa.int64()),
            "kind": pa.array([rng.choice(kinds) for _ in ids], pa.string()),
            "price": pa.array(price, pa.float64()),
            "qty": pa.array([rng.randint(1, 9) for _ in ids], pa.int32()),
            "note": pa.array([rng.choice(["", "ok", "späť", "a longer note", None]) for _ in ids], pa.string()),
            "ts": pa.array([datetime(2026, 1, 1, 8) + timedelta(minutes=i) for i in ids], pa.timestamp("us")),
        })
        folder = out / f"day={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{part}.parquet", use_dictionary=part == 0)

con = duckdb.connect()
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{out}/*/*.parquet', hive_partitioning = true)")
q = lambda sql: con.execute(sql).fetchone()
rows, newest = q("SELECT count(*), CAST(max(day) AS VARCHAR) FROM t")
cols = {}
for c in ["id", "kind", "price", "qty", "note", "ts"]:
    nulls, distinct = q(f"SELECT count(*) - count({c}), count(DISTINCT {c}) FROM t")
    cols[c] = {"nulls": nulls, "distinct": distinct}
for c in ["kind", "qty", "ts"]:
    lo, hi = q(f"SELECT CAST(min({c}) AS VARCHAR), CAST(max({c}) AS VARCHAR) FROM t")
    cols[c]["min"], cols[c]["max"] = lo, hi
for c, finite in [("price", "NOT isnan(price)"), ("qty", "true")]:
    mean, sd, nan, p45, p55 = q(
        f"SELECT avg({c}) FILTER (WHERE {finite}), stddev_samp({c}) FILTER (WHERE {finite}), "
        f"count(*) FILTER (WHERE NOT ({finite})), quantile_cont({c}, 0.45) FILTER (WHERE {finite}), "
        f"quantile_cont({c}, 0.55) FILTER (WHERE {finite}) FROM t"
    )
    cols[c].update({"mean": mean, "stddev": sd, "nan": nan, "p45": p45, "p55": p55})
for c in ["kind", "note"]:
    lo, hi = q(f"SELECT min(length({c})), max(length({c})) FROM t")
    cols[c]["minlen"], cols[c]["maxlen"] = lo, hi
cols["kind"]["top"] = con.execute(
    "SELECT kind, count(*) AS n FROM t WHERE kind IS NOT NULL GROUP BY kind ORDER BY n DESC, kind LIMIT 3"
).fetchall()
print(json.dumps({"rows": rows, "newest_day": newest, "columns": cols}))
