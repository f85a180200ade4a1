#!/usr/bin/env python3
"""Whole-process benchmark: dq against the same checks hand-written as DuckDB SQL.

Generates (once, cached under .bench/) a silver orders dataset of ROWS rows over 30 daily
Hive partitions, a customers dataset of ROWS/10 rows and a gold daily revenue dataset;
runs `dq validate` with ~20 checks (bench/rules/) and a DuckDB script doing the same
checks in the fewest queries; checks both agree on every count; prints the median wall
time and peak RSS of each and the ratio dq / DuckDB.

Two cases: `--data failing` (the default: a lake generated with defects at realistic rates
and strict rules, so that a third of the checks fail — the runs users wait for) and
`--data clean` (the checks pass). dq runs twice: with its default settings (failing-row
examples on) and with `--sample-failures 0`.

`--delta` measures the Delta overhead instead: the same orders files made a Delta table (their
log written by the Python `deltalake` package, the files hard-linked, not copied) and dq run
on both, `format: delta` against `format: parquet`; the two reports must agree on every count.

Usage: python3 scripts/bench.py [--data failing|clean] [--rows N] [--runs K] [--checks 10|100] [--delta]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
VENV = Path(os.environ.get("DQ_BENCH_VENV", Path.home() / ".cache" / "dq-bench-venv"))

DUCKDB_SCRIPT = r"""
import sys, json, duckdb
lake = sys.argv[1]
failing = sys.argv[2] == "failing"
email_regex = r'^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$' if failing else r'^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$'
con = duckdb.connect()
con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{lake}/silver/orders/*/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW customers AS SELECT * FROM read_parquet('{lake}/silver/customers/*.parquet')")
con.execute(f"CREATE VIEW daily_revenue AS SELECT * FROM read_parquet('{lake}/gold/daily_revenue/*.parquet')")
out = {}
# Every aggregate check in one fused query.
row = con.execute(r'''
SELECT
  count(*),
  count(*) FILTER (WHERE order_id IS NULL OR customer_id IS NULL OR amount IS NULL OR created_at IS NULL),
  count(*) FILTER (WHERE email IS NULL OR status IS NULL),
  count(*) FILTER (WHERE status NOT IN ('placed', 'shipped', 'delivered', 'cancelled', 'returned')),
  count(*) FILTER (WHERE currency NOT IN ('EUR', 'USD', 'GBP')),
  count(*) FILTER (WHERE NOT regexp_matches(email, ?)),
  count(*) FILTER (WHERE amount < 0 OR amount > 100000),
  count(*) FILTER (WHERE length(country) < 2 OR length(country) > 2),
  count(*) FILTER (WHERE created_at < TIMESTAMPTZ '2020-01-01 00:00:00+00'),
  count(*) FILTER (WHERE (updated_at >= created_at) IS NOT TRUE),
  max(created_at),
  avg(amount),
  stddev_samp(amount),
  max(amount),
  sum(amount) FILTER (WHERE status <> 'cancelled'),
  count(*) FILTER (WHERE customer_id IS NOT NULL)
FROM orders''', [email_regex]).fetchone()
keys = ["rows", "not_null", "not_null_email_status", "status", "currency", "email", "amount_range",
        "country_length", "created_range", "updated_after_created", "max_created", "mean", "stddev",
        "max_amount", "revenue", "customers_checked"]
out.update({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(keys, row)})
out["unique_order_id"] = con.execute('''
SELECT coalesce(sum(c), 0) FROM (SELECT order_id, count(*) c FROM orders WHERE order_id IS NOT NULL
GROUP BY order_id HAVING count(*) > 1)''').fetchone()[0]
out["unique_customer_created"] = con.execute('''
SELECT coalesce(sum(c), 0) FROM (SELECT customer_id, created_at, count(*) c FROM orders
WHERE customer_id IS NOT NULL AND created_at IS NOT NULL GROUP BY customer_id, created_at HAVING count(*) > 1)''').fetchone()[0]
out["orphans"] = con.execute('''
SELECT count(*) FROM orders o ANTI JOIN customers c ON o.customer_id = c.customer_id
WHERE o.customer_id IS NOT NULL''').fetchone()[0]
out["gold_revenue"] = con.execute("SELECT sum(revenue) FROM daily_revenue").fetchone()[0]
out["columns"] = [r[0] for r in con.execute("DESCRIBE orders").fetchall()]
print(json.dumps(out, default=str))
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def run_measured(cmd, cwd=None):
    # subprocess.communicate() reaps the child, so read its rusage through /usr/bin/time.
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    return wall, rss, proc.stdout, "\n".join(lines[:-1]), proc.returncode


def ensure_duckdb():
    py = VENV / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
    if subprocess.run([str(py), "-c", "import duckdb"], capture_output=True).returncode != 0:
        sh([str(py), "-m", "pip", "install", "-q", "duckdb"])
    return py


def dq_binary():
    if os.environ.get("DQ_BIN"):  # a binary built already (e.g. to compare two builds)
        return Path(os.environ["DQ_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    return target / "release" / "dq"


def project(lake, checks, data):
    """A dq project around the generated lake with the benchmark rules."""
    rules_dir = ROOT / "bench" / "rules" / ("failing" if data == "failing" else "")
    proj = CACHE / f"project-{data}-{checks}"
    if proj.exists():
        shutil.rmtree(proj)
    (proj / "rules").mkdir(parents=True)
    (proj / "dq.yaml").write_text(
        f"default_env: bench\nenvironments:\n  bench: {{ lake: {lake}, as_of: \"2026-11-21T00:00:00Z\" }}\n"
    )
    rules = (rules_dir / "silver.yaml").read_text()
    head, tail = rules.split("  - name: customers", 1)
    lines = head.splitlines(keepends=True)
    first_check = next(i for i, l in enumerate(lines) if l.startswith("      - "))
    items = []  # each check item with its continuation lines
    for line in lines[first_check:]:
        if line.startswith("      - "):
            items.append(line)
        else:
            items[-1] += line
    if checks in (10, 100):
        # The 100-check run is the 10-check run plus 90 checks the fused scan answers (the
        # older row checks and the catalogue's new kinds), so the two differ only in the
        # number of checks.
        items = items[:10]
    if checks == 100:
        extra = []
        i = 0
        while len(items) + len(extra) < 100:
            extra.append(
                [
                    f"      - range: {{ name: extra_range_{i}, column: amount, min: -{i}, max: {100000 + i} }}\n",
                    f"      - accepted_values: {{ name: extra_status_{i}, column: status, values: [placed, shipped, delivered, cancelled, returned, s{i}] }}\n",
                    f"      - not_null: {{ name: extra_not_null_{i}, columns: [order_id, amount], where: \"amount > {i}\" }}\n",
                    f"      - length: {{ name: extra_length_{i}, column: country, max: {2 + i} }}\n",
                    # The catalogue's kinds that the fused scan answers.
                    f"      - patterns: {{ name: extra_patterns_{i}, column: email, regexes: ['@test{i}\\.', '^x{i}@'], match: none }}\n",
                    f"      - distinct_values: {{ name: extra_currencies_{i}, column: currency, within: [EUR, USD, GBP, X{i}] }}\n",
                    f"      - distinct_count: {{ name: extra_countries_{i}, column: country, min: 1, max: {250 + i} }}\n",
                    f"      - value_pairs: {{ name: extra_pairs_{i}, columns: [currency, status], max_failed_fraction: 1, pairs: "
                    f"[[EUR, placed], [EUR, shipped], [USD, placed], [USD, shipped], [GBP, delivered], [X{i}, s{i}]] }}\n",
                    f"      - columns_equal: {{ name: extra_equal_{i}, left: created_at, right: updated_at, max_failed_fraction: 1 }}\n",
                    f"      - sum_equals: {{ name: extra_sum_{i}, columns: [order_id, customer_id], value: {i}, max_failed_fraction: 1 }}\n",
                    f"      - parseable: {{ name: extra_parseable_{i}, column: country, as: int64, max_failed_fraction: 1 }}\n",
                    f"      - column_count: {{ name: extra_columns_{i}, min: 1, max: {20 + i} }}\n",
                ][i % 12]
            )
            i += 1
        items += extra
    rules = "".join(lines[:first_check]) + "".join(items) + "  - name: customers" + tail
    (proj / "rules" / "silver.yaml").write_text(rules)
    (proj / "rules" / "gold.yaml").write_text((rules_dir / "gold.yaml").read_text())
    return proj


def compare(report, duck):
    by_name = {c["name"]: c for c in report["checks"]}
    pairs = [
        ("not_null(order_id, customer_id, amount, created_at)", "failed_rows", "not_null"),
        ("not_null(email, status)", "failed_rows", "not_null_email_status"),
        ("accepted_values(status)", "failed_rows", "status"),
        ("accepted_values(currency)", "failed_rows", "currency"),
        ("pattern(email, email)", "failed_rows", "email"),
        ("email_shape", "failed_rows", "email"),
        ("range(amount)", "failed_rows", "amount_range"),
        ("length(country)", "failed_rows", "country_length"),
        ("range(created_at)", "failed_rows", "created_range"),
        ("updated_after_created", "failed_rows", "updated_after_created"),
        ("unique(order_id)", "failed_rows", "unique_order_id"),
        ("unique(customer_id, created_at)", "failed_rows", "unique_customer_created"),
        ("references(customer_id -> customers)", "failed_rows", "orphans"),
        ("row_count", "observed", "rows"),
        ("mean(amount)", "observed", "mean"),
        ("stddev(amount)", "observed", "stddev"),
        ("max(amount)", "observed", "max_amount"),
    ]
    problems = []
    for name, field, key in pairs:
        c = by_name.get(name)
        if c is None:
            continue
        a, b = c[field], duck[key]
        if isinstance(a, float) or isinstance(b, float):
            ok = a is not None and b is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))
        else:
            ok = a == b
        if not ok:
            problems.append(f"{name}: dq {a} vs duckdb {b}")
    rec = by_name.get("revenue_matches_silver")
    if rec and abs(rec["observed"]["right"] - duck["revenue"]) > 1e-6 * duck["revenue"]:
        problems.append(f"revenue: dq {rec['observed']['right']} vs duckdb {duck['revenue']}")
    return problems


def measure(cmd, runs, cwd=None):
    """One warm-up run (file cache), then `runs` measured ones: (wall, rss) list, last output."""
    measured, out = [], None
    for i in range(runs + 1):
        wall, rss, out, err, code = run_measured(cmd, cwd=cwd)
        if code not in (0, 1):
            sys.exit(f"{cmd[0]} failed (exit {code}):\n{err}")
        if i:
            measured.append((wall, rss))
    return measured, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["failing", "clean"], default="failing")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--checks", type=int, default=20, choices=[10, 20, 100])
    ap.add_argument("--memory-limit", default=None, help="pass --memory-limit to dq")
    ap.add_argument("--skip-duckdb", action="store_true")
    ap.add_argument("--delta", action="store_true", help="dq on a Delta table vs the same files as Parquet")
    ap.add_argument("--cluster", action="store_true",
                    help="dq on the local engine vs a loopback Ballista cluster (scheduler + 2 executors)")
    ap.add_argument("--profile", action="store_true",
                    help="`dq profile` of silver.orders vs `dq validate` of it with the benchmark rules")
    args = ap.parse_args()

    dq = dq_binary()
    failing = args.data == "failing"
    lake = CACHE / (f"lake-{args.rows}-defects" if failing else f"lake-{args.rows}")
    if not (lake / "silver" / "orders").exists():
        print(f"generating {args.rows} rows into {lake} …", file=sys.stderr)
        sh([str(dq), "sample-lake", "--out", str(lake), "--rows", str(args.rows), "--core-only"]
           + (["--defects"] if failing else []))
    proj = project(lake, args.checks, args.data)
    if args.delta:
        return delta_overhead(dq, lake, proj, args)
    if args.cluster:
        return cluster_overhead(dq, proj, args)
    if args.profile:
        return profile_cost(dq, proj, args)
    base = [str(dq), "validate", "--format", "json", "-q"]
    if args.memory_limit:
        base += ["--memory-limit", args.memory_limit]

    results = {}
    for label, extra in [("dq (examples on, default)", []), ("dq (examples off)", ["--sample-failures", "0"])]:
        runs, out = measure(base + extra, args.runs, cwd=proj)
        results[label] = runs
        report = json.loads(out)
        s = report["summary"]
        print(f"{label}: {s['total']} checks ({s['failed']} fail, {s['warned']} warn) on {args.rows:,} rows: "
              + ", ".join(f"{w:.2f}s/{r:.0f}MiB" for w, r in runs))
    default = "dq (examples on, default)"
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    rss = {k: max(r for _, r in v) for k, v in results.items()}
    overhead = med[default] / med["dq (examples off)"] - 1
    print(f"examples cost {overhead * 100:+.1f} % (median {med[default]:.2f} s vs {med['dq (examples off)']:.2f} s)")
    if args.skip_duckdb:
        return
    py = ensure_duckdb()
    script = CACHE / "duckdb_checks.py"
    script.write_text(DUCKDB_SCRIPT)
    duck_runs, out = measure([str(py), str(script), str(lake), args.data], args.runs)
    duck = json.loads(out)
    print("duckdb: " + ", ".join(f"{w:.2f}s/{r:.0f}MiB" for w, r in duck_runs))
    duck_med = statistics.median(w for w, _ in duck_runs)
    duck_rss = max(r for _, r in duck_runs)
    problems = compare(report, duck) if args.checks != 10 else []
    print(f"\n{args.data} data, median of {args.runs}:")
    for k in results:
        print(f"  {k:28} {med[k]:6.2f} s  ratio to DuckDB {med[k] / duck_med:.2f}  peak RSS {rss[k]:.0f} MiB")
    print(f"  {'DuckDB (hand-written SQL)':28} {duck_med:6.2f} s                     peak RSS {duck_rss:.0f} MiB")
    if problems:
        print("\nDISAGREEMENT:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("results agree on every compared count and statistic")


def delta_lake(lake):
    """`lake` with silver/orders as a Delta table over the same (hard-linked) files."""
    out = lake.parent / (lake.name + "-delta")
    if (out / "silver" / "orders" / "_delta_log").exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    for src in lake.rglob("*"):
        dst = out / src.relative_to(lake)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    py = ensure_duckdb()
    if subprocess.run([str(py), "-c", "import deltalake"], capture_output=True).returncode != 0:
        sh([str(py), "-m", "pip", "install", "-q", "deltalake==1.6.6"])
    convert = (
        "import sys, os\n"
        "from deltalake import convert_to_deltalake, Schema, Field\n"
        "convert_to_deltalake(sys.argv[1], partition_by=Schema([Field('date', 'date')]), partition_strategy='hive')\n"
        "os._exit(0)\n"
    )
    sh([str(py), "-c", convert, str(out / "silver" / "orders")])
    return out


def delta_overhead(dq, lake, proj, args):
    dproj = CACHE / (proj.name + "-delta")
    if dproj.exists():
        shutil.rmtree(dproj)
    shutil.copytree(proj, dproj)
    dlake = delta_lake(lake)
    (dproj / "dq.yaml").write_text((proj / "dq.yaml").read_text().replace(str(lake), str(dlake)))
    rules = (dproj / "rules" / "silver.yaml").read_text()
    head, tail = rules.split("  - name: customers", 1)
    head = head.replace("    partitioning: [{ name: date, type: date }]\n", "    format: delta\n", 1)
    (dproj / "rules" / "silver.yaml").write_text(head + "  - name: customers" + tail)
    base = [str(dq), "validate", "--format", "json", "-q"]
    med, reports = {}, {}
    for label, where in [("Parquet folder", proj), ("Delta table", dproj)]:
        runs, out = measure(base, args.runs, cwd=where)
        reports[label] = json.loads(out)
        med[label] = statistics.median(w for w, _ in runs)
        print(f"{label}: " + ", ".join(f"{w:.2f}s/{r:.0f}MiB" for w, r in runs))
    if not reports_agree(reports["Parquet folder"], reports["Delta table"], examples=False):
        print("DISAGREEMENT between the Delta and the Parquet reports")
        sys.exit(1)
    d = reports["Delta table"]["datasets"]
    version = next(x.get("delta") for x in d if x["id"] == "silver.orders")
    print(f"\n{args.data} data, {args.rows:,} rows, median of {args.runs}: Delta {med['Delta table']:.2f} s, "
          f"Parquet {med['Parquet folder']:.2f} s, Delta/Parquet {med['Delta table'] / med['Parquet folder']:.2f} "
          f"(Delta version {version['version']}, {version['snapshot_files']} files); reports agree")


def profile_cost(dq, proj, args):
    """The price of a profile: `dq profile` of silver.orders (every column: NULLs, distinct
    values, min/max, mean, stddev, quantiles, frequent values, formats) against `dq validate`
    of the same dataset with the benchmark's rules."""
    med = {}
    for label, cmd in [
        ("dq validate -d silver.orders", [str(dq), "validate", "-d", "silver.orders", "--format", "json", "-q", "--no-history"]),
        ("dq profile silver.orders", [str(dq), "profile", "silver.orders", "--format", "json", "-q"]),
    ]:
        runs, out = measure(cmd, args.runs, cwd=proj)
        med[label] = statistics.median(w for w, _ in runs)
        print(f"{label}: " + ", ".join(f"{w:.2f}s/{r:.0f}MiB" for w, r in runs))
    labels = list(med)
    print(f"\n{args.data} data, {args.rows:,} rows, median of {args.runs}: validate {med[labels[0]]:.2f} s, "
          f"profile {med[labels[1]]:.2f} s, profile/validate {med[labels[1]] / med[labels[0]]:.2f}")


def reports_agree(a, b, examples):
    """Two reports of the same data agree: same checks, statuses and counts, and float
    statistics equal to 1e-9 relative (another engine adds floats in another order, so
    the last digits of a mean or a sum differ). Prints what differs."""
    def same(x, y):
        if isinstance(x, float) or isinstance(y, float):
            if x is None or y is None:
                return x is y
            return abs(x - y) <= 1e-9 * max(abs(x), abs(y)) or abs(x - y) < 1e-6
        if isinstance(x, dict) and isinstance(y, dict):
            # A reconciliation's difference of two sums is rounding noise on both sides.
            keys = (x.keys() | y.keys()) - {"difference"}
            return all(same(x.get(k), y.get(k)) for k in keys)
        return x == y
    fields = ["status", "failed_rows", "observed"] + (["sample_failures"] if examples else [])
    left = {c["id"]: c for c in a["checks"]}
    right = {c["id"]: c for c in b["checks"]}
    problems = [f"{i}: only in one report" for i in sorted(left.keys() ^ right.keys())]
    for i in sorted(left.keys() & right.keys()):
        for f in fields:
            if not same(left[i].get(f), right[i].get(f)):
                problems.append(f"{i} {f}: {left[i].get(f)!r} vs {right[i].get(f)!r}")
    for p in problems:
        print("  " + p)
    return not problems


def cluster_overhead(dq, proj, args):
    """The cost of distribution on one machine: the same run on the local engine and on a
    scheduler and two executors of this binary on 127.0.0.1 (each executor may run 2 tasks
    at once, on a machine of 2 cores). Not a speed-up: the overhead of planning, shipping
    plans, shuffling and fetching results over loopback."""
    import socket
    root = Path(__file__).resolve().parent.parent
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    port = free_port()
    env = dict(os.environ, DQ_BIN=str(dq))
    sh(["bash", str(root / "scripts" / "cluster.sh"), "start", "2", str(port)], env=env)
    try:
        base = [str(dq), "validate", "--format", "json", "-q", "--no-history"]
        med, reports = {}, {}
        for label, extra in [("local engine", []), ("Ballista, 1 scheduler + 2 executors", ["--engine", f"df://127.0.0.1:{port}"])]:
            runs, out = measure(base + extra, args.runs, cwd=proj)
            reports[label] = json.loads(out)
            med[label] = statistics.median(w for w, _ in runs)
            print(f"{label}: " + ", ".join(f"{w:.2f}s/{r:.0f}MiB" for w, r in runs))
    finally:
        sh(["bash", str(root / "scripts" / "cluster.sh"), "stop"])
    labels = list(med)
    if not reports_agree(reports[labels[0]], reports[labels[1]], examples=True):
        print("DISAGREEMENT between the local and the cluster reports")
        sys.exit(1)
    print(f"\n{args.data} data, {args.rows:,} rows, {args.checks} checks, median of {args.runs}: "
          f"local {med[labels[0]]:.2f} s, cluster {med[labels[1]]:.2f} s, "
          f"cluster/local {med[labels[1]] / med[labels[0]]:.2f}; reports agree (examples included)")


if __name__ == "__main__":
    main()
