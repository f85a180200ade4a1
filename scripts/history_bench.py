#!/usr/bin/env python3
"""What metric history costs, measured on the whole process.

1. Recording: `dq validate` on the bundled sample lake with history recorded and with
   `--no-history` (the sample environment records none, so a copy of the project that does
   is made), median of RUNS each.
2. Reading: a year of nightly history (365 run files) for 100 checks, written with pyarrow
   in dq's history schema; then `dq validate` of a dataset with an `anomaly` check, which
   reads all of it, against the same run with the history folder empty.

Usage: DQ_BIN=target/release/dq python3 scripts/history_bench.py [--runs 10]
Needs pyarrow (DQ_BENCH_VENV, as scripts/bench.py).
"""

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("DQ_BENCH_VENV", Path.home() / ".cache" / "dq-bench-venv"))


def timed(cmd, cwd, runs):
    walls = []
    for i in range(runs + 1):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:  # the first run warms the file cache
            walls.append(time.perf_counter() - t)
    return statistics.median(walls)


WRITE_YEAR = r"""
import sys, datetime as dt, pyarrow as pa, pyarrow.parquet as pq, os
out, checks = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
ts = pa.timestamp("us", tz="UTC")
for day in range(365):
    as_of = dt.datetime(2025, 11, 21, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
    run = f"{day:016x}"
    rows = {k: [] for k in ["run_id", "as_of", "started_at", "environment", "command", "subject", "metric", "value", "status"]}
    def add(subject, metric, value, status):
        for k, v in zip(rows, [run, as_of, as_of, "bench", "validate", subject, metric, value, status]):
            rows[k].append(v)
    add("silver.events", "rows", 1000.0 + day % 7, None)
    add("silver.events", "files", 1.0, None)
    add("silver.events", "bytes", 9000.0, None)
    for c in range(checks):
        add(f"silver.events.check_{c}", "observed", float(c + day % 5), "pass")
        add(f"silver.events.check_{c}", "failed_rows", 0.0, "pass")
        add(f"silver.events.check_{c}", "failed_fraction", 0.0, "pass")
    schema = pa.schema([("run_id", pa.string()), ("as_of", ts), ("started_at", ts), ("environment", pa.string()),
                        ("command", pa.string()), ("subject", pa.string()), ("metric", pa.string()),
                        ("value", pa.float64()), ("status", pa.string())])
    name = as_of.strftime("%Y%m%dT%H%M%SZ") + "_" + as_of.strftime("%Y%m%dT%H%M%S000Z") + "_" + run + ".parquet"
    pq.write_table(pa.table(rows, schema=schema), os.path.join(out, name))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    dq = os.environ.get("DQ_BIN") or str(ROOT / "target" / "release" / "dq")
    py = VENV / "bin" / "python"

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. Recording on the sample lake.
        proj = tmp / "sample"
        shutil.copytree(ROOT / "rules", proj / "rules")
        (proj / "dq.yaml").write_text(
            f"default_env: h\nenvironments:\n  h: {{ lake: {ROOT / 'sample-data'}, as_of: \"2026-11-21T00:00:00Z\", history: {{ path: {tmp / 'h1'} }} }}\n"
        )
        base = [dq, "validate", "-q", "--format", "json"]
        off = timed(base + ["--no-history"], proj, args.runs)
        on = timed(base, proj, args.runs)
        files = len(list((tmp / "h1").glob("*.parquet")))
        print(f"sample lake, median of {args.runs}: {off * 1000:.0f} ms without recording, "
              f"{on * 1000:.0f} ms recording ({(on - off) * 1000:+.0f} ms; {files} run files written)")

        # 2. Reading a year of history for 100 checks.
        year = tmp / "year"
        subprocess.run([str(py), "-c", WRITE_YEAR, str(year), "100"], check=True)
        lake = tmp / "lake" / "silver" / "events"
        lake.mkdir(parents=True)
        subprocess.run([str(py), "-c",
                        "import sys, pyarrow as pa, pyarrow.parquet as pq; pq.write_table(pa.table({'id': list(range(1000))}), sys.argv[1])",
                        str(lake / "part-0.parquet")], check=True)
        (tmp / "p2" / "rules").mkdir(parents=True)
        (tmp / "p2" / "rules" / "silver.yaml").write_text(
            "layer: silver\ndatasets:\n  - name: events\n    checks:\n      - anomaly: { metric: row_count, seasonality: weekly }\n")
        for label, hist in [("empty", tmp / "empty"), ("year", year)]:
            (tmp / "p2" / "dq.yaml").write_text(
                f"default_env: bench\nenvironments:\n  bench: {{ lake: {tmp / 'lake'}, as_of: \"2026-11-21T00:00:00Z\", history: {{ path: {hist}, record: false }} }}\n")
            wall = timed([dq, "validate", "-q"], tmp / "p2", args.runs)
            print(f"validate with an anomaly check, history {label}: {wall * 1000:.0f} ms")
            if label == "year":
                hist_wall = timed([dq, "history", "silver.events", "--format", "json"], tmp / "p2", args.runs)
                print(f"dq history over 365 runs x 100 checks (110,595 points): {hist_wall * 1000:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
