"""Writes Delta tables with the Python `deltalake` package (delta-rs), for dq's tests.

Usage: write_tables.py LAKE_DIR

Writes LAKE_DIR/silver/evolving (a column added by its second version: the first
version's file lacks it) and LAKE_DIR/silver/orders, a table partitioned by `day` with
four versions:
  0  create: 100 rows on 2026-11-28
  1  overwrite: 100 rows on 2026-11-29 (version 0's file stays in the folder)
  2  append: 50 rows on 2026-11-30
  3  delete order_id < 120 (the file it rewrites stays in the folder)
Commit i is dated 2026-11-0(i+1)T00:00:00Z (file times and in-commit timestamps), so that
time travel can be tested between commits. Prints, as JSON, what the table holds at each
version as delta-rs reads it, and what the folder holds read as plain Parquet.
"""

import datetime as dt
import glob
import json
import os
import sys

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake

lake = sys.argv[1]
path = os.path.join(lake, "silver", "orders")


def batch(ids, day):
    return pa.table(
        {
            "order_id": pa.array(ids, pa.int64()),
            "amount": pa.array([float(i) - 10.0 for i in ids], pa.float64()),
            "email": pa.array([None if i % 7 == 0 else f"u{i}@example.com" for i in ids]),
            "day": pa.array([dt.date.fromisoformat(day)] * len(ids), pa.date32()),
        }
    )


write_deltalake(path, batch(list(range(0, 100)), "2026-11-28"), partition_by=["day"])
write_deltalake(path, batch(list(range(100, 200)), "2026-11-29"), partition_by=["day"], mode="overwrite")
write_deltalake(path, batch(list(range(200, 250)), "2026-11-30"), partition_by=["day"], mode="append")
DeltaTable(path).delete("order_id < 120")

# Date the commits a day apart: the commit files' times and their commitInfo timestamps.
for version in range(4):
    log = os.path.join(path, "_delta_log", f"{version:020d}.json")
    when = dt.datetime(2026, 11, version + 1, tzinfo=dt.timezone.utc)
    millis = int(when.timestamp() * 1000)
    actions = [json.loads(line) for line in open(log)]
    for a in actions:
        if "commitInfo" in a:
            a["commitInfo"]["timestamp"] = millis
    with open(log, "w") as f:
        f.write("\n".join(json.dumps(a) for a in actions) + "\n")
    os.utime(log, (when.timestamp(), when.timestamp()))


def facts(table):
    t = table.to_pyarrow_table()
    return {
        "rows": t.num_rows,
        "null_emails": t.column("email").null_count,
        "negative_amounts": sum(1 for v in t.column("amount").to_pylist() if v < 0),
        "files": len(table.file_uris()),
    }


evolving = os.path.join(lake, "silver", "evolving")
write_deltalake(evolving, pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
write_deltalake(
    evolving,
    pa.table({"id": pa.array([4, 5], pa.int64()), "note": pa.array(["a", None])}),
    mode="append",
    schema_mode="merge",
)

out = {"versions": {v: facts(DeltaTable(path, version=v)) for v in range(4)}}
files = [f for f in glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True)]
out["folder_as_parquet"] = {"rows": ds.dataset(files, format="parquet").count_rows(), "files": len(files)}
t = DeltaTable(evolving).to_pyarrow_table()
out["evolving"] = {"rows": t.num_rows, "null_notes": t.column("note").null_count, "columns": t.column_names}
print(json.dumps(out), flush=True)
# Leave without interpreter shutdown: a native thread of the writer can abort the process
# while the interpreter tears down ("terminate called without an active exception").
os._exit(0)
