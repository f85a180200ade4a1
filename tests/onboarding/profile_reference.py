"""Prints DuckDB's answers to the questions `dq profile` answers about the Hive-partitioned
Parquet dataset in the given folder, as JSON. With `--write`, first writes one there with
pyarrow (NULLs, NaN, empty and non-ASCII strings, a high-cardinality id)."""
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
write = "--write" in sys.argv[2:]
rng = random.Random(20261202)
kinds = ["click"] * 50 + ["view"] * 30 + ["buy"] * 12 + ["refund"] * 5 + [None] * 3
next_id = 0
if write:
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
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)")
q = lambda sql: con.execute(sql).fetchone()
(rows,) = q("SELECT count(*) FROM t")
columns = con.execute("DESCRIBE t").fetchall()
cols = {}
for name, kind, *_ in columns:
    c = f'"{name}"'
    nulls, distinct = q(f"SELECT count(*) - count({c}), count(DISTINCT {c}) FROM t")
    info = {"type": kind, "nulls": nulls, "distinct": distinct}
    numeric = kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE") or kind.startswith("DECIMAL")
    floating = kind in ("FLOAT", "DOUBLE")
    if numeric:
        finite = f"NOT isnan({c})" if floating else "true"
        mean, sd, nan, p45, p55, lo, hi = q(
            f"SELECT avg({c}) FILTER (WHERE {finite}), stddev_samp({c}) FILTER (WHERE {finite}), "
            f"count(*) FILTER (WHERE NOT ({finite})), quantile_cont({c}, 0.45) FILTER (WHERE {finite}), "
            f"quantile_cont({c}, 0.55) FILTER (WHERE {finite}), min({c}) FILTER (WHERE {finite}), max({c}) FILTER (WHERE {finite}) FROM t"
        )
        info.update({"mean": float(mean), "stddev": float(sd), "nan": nan, "p45": float(p45), "p55": float(p55),
                     "min_number": float(lo), "max_number": float(hi)})
    elif kind == "VARCHAR":
        lo, hi, minlen, maxlen = q(f"SELECT min({c}), max({c}), min(length({c})), max(length({c})) FROM t")
        info.update({"min": lo, "max": hi, "minlen": minlen, "maxlen": maxlen})
    elif kind.startswith("TIMESTAMP") or kind == "DATE":
        lo, hi = q(f"SELECT strftime(min({c}), '%Y-%m-%d %H:%M:%S'), strftime(max({c}), '%Y-%m-%d %H:%M:%S') FROM t")
        info.update({"min_instant": lo, "max_instant": hi})
    if distinct <= 2048 and kind in ("VARCHAR", "BIGINT", "INTEGER", "BOOLEAN", "DATE"):
        info["top"] = [[str(v), n] for v, n in con.execute(
            f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM t WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY n DESC, {c} LIMIT 3"
        ).fetchall()]
    cols[name] = info
print(json.dumps({"rows": rows, "columns": cols}))
