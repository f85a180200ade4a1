"""Adversarial lakes for dq's differential test, written by pyarrow and DuckDB, with
DuckDB's answer to every check.

    python adversarial.py --seed 7 --cases 4 --out DIR

writes DIR/dq.yaml, DIR/rules/fuzz.yaml (one dataset per case), DIR/lake/fuzz/case_N/
(several Parquet files per case, from different writers with different settings) and
DIR/expected.json: for each dataset and check name, the counts DuckDB gives for the same
question, in dq's documented semantics (NULLs are not judged by value checks and are not
in their denominator; NaN is outside every range and makes every float statistic NaN).
"""

import argparse
import datetime as dt
import decimal
import json
import math
import os
import random

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

INT_EXTREMES = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
FLOAT_SPECIALS = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1e-300, -1e300]
STRINGS = ["", "abc", "ÄÖÜ", "日本語", "a b", "2026-11-01", "٢٠٢٦-١١-٠١", "２０２６-11-01",
           "2026-13-01", "x@y.io", "  ", "zz", "émile", "abc\n", "ABC", '{"a": [1, 2.5]}', "12",
           "true", "2026-02-30", "0001-01-01"]
CATEGORIES = ["placed", "shipped", "cancelled", "PLACED", "returned", ""]
DAY = dt.date(2026, 11, 1)
FAR_DATES = [dt.date(9999, 12, 31), dt.date(1, 1, 1), dt.date(1677, 9, 21), dt.date(2262, 4, 12)]
UTC = dt.timezone.utc


def table(rng, rows):
    def maybe(gen, null_rate):
        return [None if rng.random() < null_rate else gen() for _ in range(rows)]

    null_rate = rng.choice([0.0, 0.05, 0.3, 1.0 if rng.random() < 0.1 else 0.2])
    cols = {}
    for name, (lo, hi) in INT_EXTREMES.items():
        cols[name] = pa.array(
            maybe(lambda lo=lo, hi=hi: rng.choice(
                [lo, hi, 0, -1, 1, rng.randint(max(lo, -1000), min(hi, 1000))]), null_rate),
            type=getattr(pa, f"int{name[1:]}")(),
        )
    cols["f64"] = pa.array(
        maybe(lambda: rng.choice(FLOAT_SPECIALS + [rng.uniform(-100, 100)] * 6), null_rate),
        type=pa.float64())
    cols["f32"] = pa.array(
        maybe(lambda: rng.choice([0.0, -0.0, math.nan, 3.5, -2.25, rng.uniform(-5, 5)]), null_rate),
        type=pa.float32())
    cols["dec"] = pa.array(
        maybe(lambda: decimal.Decimal(rng.randint(-10**9, 10**9)) / 10000, null_rate),
        type=pa.decimal128(10, 4))
    cols["s"] = pa.array(maybe(lambda: rng.choice(STRINGS), null_rate), type=pa.string())
    cols["cat"] = pa.array(maybe(lambda: rng.choice(CATEGORIES), null_rate), type=pa.string())
    cols["d"] = pa.array(
        maybe(lambda: rng.choice(FAR_DATES) if rng.random() < 0.05
              else DAY + dt.timedelta(days=rng.randint(-400, 400)), null_rate),
        type=pa.date32())
    cols["ts"] = pa.array(
        maybe(lambda: dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) if rng.random() < 0.03
              else dt.datetime(2026, 11, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randint(-10**7, 10**7)),
              null_rate),
        type=pa.timestamp("us", tz="UTC"))
    cols["key"] = pa.array(maybe(lambda: rng.randint(0, rows * 2), null_rate / 2), type=pa.int64())
    return pa.table(cols)


def write_files(rng, t, folder):
    """Splits `t` into files written by pyarrow (varied settings) and DuckDB."""
    os.makedirs(folder, exist_ok=True)
    n = t.num_rows
    cuts = sorted(rng.sample(range(n + 1), k=min(n + 1, rng.randint(1, 4))))
    bounds = [0] + cuts + [n]
    con = duckdb.connect()
    written = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        part = t.slice(a, b - a)
        sub = "" if rng.random() < 0.7 else f"sub{i % 2}/"
        path = os.path.join(folder, f"{sub}part-{i}.parquet")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if rng.random() < 0.3:
            con.register("part", part)
            con.execute(
                f"COPY (SELECT * FROM part) TO '{path}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {rng.choice([2, 7, 2048])}, "
                f"COMPRESSION {rng.choice(['snappy', 'zstd', 'uncompressed'])})")
            con.unregister("part")
            written.append(("duckdb", path))
        else:
            stats = rng.choice([True, False, ["i64", "f64", "s"], ["d", "cat", "key"]])
            for name in ("cat", "s"):
                if rng.random() < 0.5:
                    # Dictionary-typed strings in some files, plain in others.
                    part = part.set_column(part.schema.get_field_index(name), name,
                                           part.column(name).dictionary_encode())
            pq.write_table(
                part, path,
                row_group_size=rng.choice([1, 3, 10, 10_000]),
                write_statistics=stats,
                use_dictionary=rng.choice([True, False]),
                data_page_version=rng.choice(["1.0", "2.0"]),
                write_page_index=rng.choice([True, False]),
                compression=rng.choice(["snappy", "zstd", "none"]),
                store_schema=rng.choice([True, True, False]),
            )
            written.append(("pyarrow", path))
    return written


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def checks_for(rng):
    """(name, YAML check, DuckDB SQL giving failed rows and rows checked, or a value)."""
    out = []
    for c in ["i8", "i16", "i32", "i64", "f64", "f32", "dec", "s", "d", "ts"]:
        out.append((f"nn_{c}", f"not_null: {{ name: nn_{c}, columns: [{c}] }}",
                    f"count(*) FILTER (WHERE {c} IS NULL)", "count(*)"))
    for c in ["i8", "i16", "i32", "i64", "f64", "f32"]:
        lo, hi = sorted([rng.choice([-1, 0, -0.0, 1, -1000, 100, 2**7 - 1]) for _ in range(2)])
        if lo == hi:
            hi = lo + 1
        inclusive = rng.random() < 0.6
        nan = f" OR isnan({c})" if c.startswith("f") else ""
        below, above = ("<", ">") if inclusive else ("<=", ">=")
        yaml_incl = "true" if inclusive else "false"
        out.append((f"range_{c}",
                    f"range: {{ name: range_{c}, column: {c}, min: {lo}, max: {hi}, inclusive: {yaml_incl} }}",
                    f"count(*) FILTER (WHERE {c} {below} {lo} OR {c} {above} {hi}{nan})",
                    f"count({c})"))
        if c.startswith("f"):
            out.append((f"above_{c}", f"range: {{ name: above_{c}, column: {c}, min: {lo} }}",
                        f"count(*) FILTER (WHERE {c} < {lo} OR isnan({c}))", f"count({c})"))
    out.append(("dec_range", "range: { name: dec_range, column: dec, min: -1000, max: 1000 }",
                "count(*) FILTER (WHERE dec < -1000 OR dec > 1000)", "count(dec)"))
    out.append(("d_range", "range: { name: d_range, column: d, min: '2026-01-01', max: '2026-12-31' }",
                "count(*) FILTER (WHERE d < DATE '2026-01-01' OR d > DATE '2026-12-31')", "count(d)"))
    out.append(("s_lower", "pattern: { name: s_lower, column: s, regex: '^[a-z]+$' }",
                "count(*) FILTER (WHERE NOT regexp_matches(s, '^[a-z]+$'))", "count(s)"))
    out.append(("s_iso", "pattern: { name: s_iso, column: s, format: iso_date }",
                "count(*) FILTER (WHERE NOT regexp_matches(s, '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'))",
                "count(s)"))
    out.append(("s_len", "length: { name: s_len, column: s, min: 1, max: 3 }",
                "count(*) FILTER (WHERE length(s) < 1 OR length(s) > 3)", "count(s)"))
    values = rng.sample(CATEGORIES, 3)
    out.append(("cat_ok", f"accepted_values: {{ name: cat_ok, column: cat, values: [{', '.join(json.dumps(v) for v in values)}] }}",
                f"count(*) FILTER (WHERE cat NOT IN ({', '.join(quote(v) for v in values)}))", "count(cat)"))
    out.append(("cat_strict", f"accepted_values: {{ name: cat_strict, column: cat, values: [{', '.join(json.dumps(v) for v in values)}], allow_null: false }}",
                f"count(*) FILTER (WHERE cat IS NULL OR cat NOT IN ({', '.join(quote(v) for v in values)}))", "count(*)"))
    banned = rng.sample(CATEGORIES, 2)
    out.append(("cat_forbidden", f"forbidden_values: {{ name: cat_forbidden, column: cat, values: [{', '.join(json.dumps(v) for v in banned)}] }}",
                f"count(*) FILTER (WHERE cat IN ({', '.join(quote(v) for v in banned)}))", "count(cat)"))
    out.append(("i32_forbidden", "forbidden_values: { name: i32_forbidden, column: i32, values: [0, -1, 2147483647] }",
                "count(*) FILTER (WHERE i32 IN (0, -1, 2147483647))", "count(i32)"))
    # The catalogue's row-level kinds.
    regexes = rng.sample(["^a", "c$", "[0-9]", "^$", "\\s", "^[a-z]+$"], 2)
    for mode, sql in (("any", "NOT ({0} OR {1})"), ("all", "NOT ({0} AND {1})"), ("none", "({0} OR {1})")):
        matches = [f"regexp_matches(s, {quote(r)})" for r in regexes]
        out.append((f"s_patterns_{mode}",
                    f"patterns: {{ name: s_patterns_{mode}, column: s, regexes: [{', '.join(quote(r) for r in regexes)}], match: {mode} }}",
                    f"count(*) FILTER (WHERE {sql.format(*matches)})", "count(s)"))
    for left, right in (("i8", "i16"), ("cat", "s"), ("i32", "key")):
        out.append((f"eq_{left}_{right}", f"columns_equal: {{ name: eq_{left}_{right}, left: {left}, right: {right} }}",
                    f"count(*) FILTER (WHERE {left} IS DISTINCT FROM {right})",
                    f"count(*) FILTER (WHERE {left} IS NOT NULL OR {right} IS NOT NULL)"))
    pairs = [[rng.choice(CATEGORIES), rng.choice([0, -1, 1])] for _ in range(4)]
    both = "cat IS NOT NULL AND i8 IS NOT NULL"
    allowed = " OR ".join(f"(cat = {quote(c)} AND i8 = {v})" for c, v in pairs)
    out.append(("cat_i8_pairs",
                f"value_pairs: {{ name: cat_i8_pairs, columns: [cat, i8], pairs: {json.dumps(pairs)} }}",
                f"count(*) FILTER (WHERE {both} AND NOT ({allowed}))", f"count(*) FILTER (WHERE {both})"))
    for cols, value, tolerance in ((["i8", "i16"], 0, 0), (["i64", "i32", "i8"], -1, 0),
                                   (["f64", "f32"], 0, 1.5), (["dec", "i16"], 1, 0)):
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        if tolerance == 0 and all(c.startswith("i") for c in cols):
            total = " + ".join(f"{c}::HUGEINT" for c in cols)
            differs = f"{total} <> {value}"
        else:
            total = " + ".join(f"{c}::DOUBLE" for c in cols)
            # NaN compares above every number in DuckDB: NOT (NaN <= t) holds, so it fails.
            differs = f"NOT (abs({total} - {value}) <= {tolerance})"
        name = "sum_" + "_".join(cols)
        out.append((name, f"sum_equals: {{ name: {name}, columns: [{', '.join(cols)}], value: {value}, tolerance: {tolerance} }}",
                    f"count(*) FILTER (WHERE {present} AND {differs})", f"count(*) FILTER (WHERE {present})"))
    out.append(("s_json", "parseable: { name: s_json, column: s, as: json }",
                "count(*) FILTER (WHERE NOT json_valid(s))", "count(s)"))
    out.append(("s_as_date", "parseable: { name: s_as_date, column: s, as: datetime, format: '%Y-%m-%d' }",
                "count(*) FILTER (WHERE s IS NOT NULL AND try_strptime(s, '%Y-%m-%d') IS NULL)", "count(s)"))
    for c, direction, strict in (("i32", "increasing", False), ("i16", "decreasing", True)):
        op = {("increasing", False): "<", ("increasing", True): "<=",
              ("decreasing", False): ">", ("decreasing", True): ">="}[(direction, strict)]
        order = "ASC" if direction == "increasing" else "DESC"
        name = f"mono_{c}"
        out.append((name,
                    f"monotonic: {{ name: {name}, column: {c}, by: key, partition_by: [cat], direction: {direction}, strict: {str(strict).lower()} }}",
                    f"(SELECT count(*) FILTER (WHERE v {op} prev) FROM (SELECT {c} AS v, lag({c}) OVER "
                    f"(PARTITION BY cat ORDER BY key, {c} {order}) AS prev FROM t WHERE {c} IS NOT NULL AND key IS NOT NULL))",
                    f"count(*) FILTER (WHERE {c} IS NOT NULL AND key IS NOT NULL)"))
    # Over integers and decimals: an expression compares floats the way DataFusion does,
    # which orders a negative NaN below every number (DuckDB puts every NaN above).
    out.append(("expr", "expression: { name: expr, condition: \"i32 >= i16 OR dec > 0\" }",
                "count(*) FILTER (WHERE NOT coalesce(i32 >= i16 OR dec > 0, false))", "count(*)"))
    out.append(("key_unique", "unique: { name: key_unique, columns: [key] }",
                "(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM t WHERE key IS NOT NULL GROUP BY key HAVING count(*) > 1))",
                "count(key)"))
    out.append(("pair_unique", "unique: { name: pair_unique, columns: [cat, i8] }",
                "(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM t WHERE cat IS NOT NULL AND i8 IS NOT NULL GROUP BY cat, i8 HAVING count(*) > 1))",
                "count(*) FILTER (WHERE cat IS NOT NULL AND i8 IS NOT NULL)"))
    return out


def set_checks_for(rng):
    """(name, YAML, DuckDB SQL of the status, DuckDB SQL of the observed distinct count or
    None) for the set-level kinds, whose verdict is not a count of rows."""
    def values_sql(values):
        return ", ".join(quote(v) if isinstance(v, str) else str(v) for v in values)

    def yaml_values(values):
        return ", ".join(json.dumps(v) for v in values)

    out = []
    for column, pool in (("cat", CATEGORIES), ("i8", [0, -1, 1, 127, -128, 5])):
        for relation in ("within", "contains", "equals"):
            values = rng.sample(pool, rng.randint(1, len(pool)))
            outside = f"count(*) FILTER (WHERE {column} NOT IN ({values_sql(values)})) > 0"
            missing = " OR ".join(f"count(*) FILTER (WHERE {column} = {values_sql([v])}) = 0" for v in values)
            bad = {"within": outside, "contains": missing, "equals": f"{outside} OR {missing}"}[relation]
            name = f"dv_{column}_{relation}"
            out.append((name, f"distinct_values: {{ name: {name}, column: {column}, {relation}: [{yaml_values(values)}] }}",
                        f"CASE WHEN {bad} THEN 'fail' ELSE 'pass' END", None))
    for ties_okay in (False, True):
        values = rng.sample(CATEGORIES, 2)
        modes = ("(SELECT cat FROM (SELECT cat, count(*) AS n FROM t WHERE cat IS NOT NULL GROUP BY cat) "
                 "QUALIFY n = max(n) OVER ())")
        if ties_okay:
            holds = f"EXISTS (SELECT 1 FROM {modes} WHERE cat IN ({values_sql(values)}))"
        else:
            holds = (f"EXISTS (SELECT 1 FROM {modes}) AND "
                     f"NOT EXISTS (SELECT 1 FROM {modes} WHERE cat NOT IN ({values_sql(values)}))")
        name = f"mcv_cat_{str(ties_okay).lower()}"
        out.append((name, f"most_common_value: {{ name: {name}, column: cat, values: [{yaml_values(values)}], ties_okay: {str(ties_okay).lower()} }}",
                    # count(*) makes it an aggregate: one row, even over an empty lake.
                    f"CASE WHEN count(*) >= 0 AND {holds} THEN 'pass' ELSE 'fail' END", None))
    for column in ("cat", "s", "i64", "d"):
        lo, hi = sorted(rng.sample(range(0, 12), 2))
        name = f"dc_{column}"
        out.append((name, f"distinct_count: {{ name: {name}, column: {column}, min: {lo}, max: {hi} }}",
                    f"CASE WHEN count(DISTINCT {column}) BETWEEN {lo} AND {hi} THEN 'pass' ELSE 'fail' END",
                    f"count(DISTINCT {column})"))
    return out


def statistics_for():
    """(name, YAML, DuckDB SQL of the value, kind) for statistics compared by value."""
    out = []
    for c in ["i64", "i32", "f64", "f32", "dec"]:
        for stat in ["min", "max", "mean", "sum"]:
            fn = {"mean": "avg"}.get(stat, stat)
            out.append((f"{stat}_{c}", f"statistic: {{ name: {stat}_{c}, column: {c}, stat: {stat}, min: -1e308 }}",
                        f"{fn}({c})", c))
    for c in ["i64", "s", "cat", "d"]:
        out.append((f"distinct_{c}", f"statistic: {{ name: distinct_{c}, column: {c}, stat: distinct_count, min: 0 }}",
                    f"count(DISTINCT {c})", c))
    for c in ["d", "ts"]:
        out.append((f"max_{c}", f"statistic: {{ name: max_{c}, column: {c}, stat: max, max: '9999-12-31T23:59:59Z' }}",
                    f"max({c})", c))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--rows", type=int, default=60)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(os.path.join(args.out, "rules"), exist_ok=True)
    with open(os.path.join(args.out, "dq.yaml"), "w") as f:
        f.write('default_env: t\nenvironments:\n  t: { lake: ./lake, as_of: "2026-11-21T00:00:00Z" }\n')
    rules = ["layer: fuzz", "datasets:"]
    expected = {}
    con = duckdb.connect()
    for case in range(args.cases):
        t = table(rng, rng.randint(0, args.rows))
        folder = os.path.join(args.out, "lake", "fuzz", f"case_{case}")
        written = write_files(rng, t, folder)
        files = [p for _, p in written]
        con.execute("DROP VIEW IF EXISTS t")
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet({files!r}, union_by_name = true)")
        checks = checks_for(rng)
        stats = statistics_for()
        rules.append(f"  - name: case_{case}")
        rules.append("    checks:")
        rules.append("      - row_count: { name: rows, min: 0 }")
        answers = {"rows": {"observed": con.execute("SELECT count(*) FROM t").fetchone()[0]}}
        for name, yaml, failed, checked in checks:
            rules.append(f"      - {yaml}")
            f_, c_ = con.execute(f"SELECT {failed}, {checked} FROM t").fetchone()
            answers[name] = {"failed_rows": int(f_ or 0), "rows_checked": int(c_ or 0)}
        for name, yaml, status_sql, distinct_sql in set_checks_for(rng):
            rules.append(f"      - {yaml}")
            answer = {"status": con.execute(f"SELECT {status_sql} FROM t").fetchone()[0]}
            if distinct_sql:
                answer["distinct"] = con.execute(f"SELECT {distinct_sql} FROM t").fetchone()[0]
            answers[name] = answer
        for name, yaml, sql, column in stats:
            rules.append(f"      - {yaml}")
            value = con.execute(f"SELECT {sql} FROM t").fetchone()[0]
            nan = column in ("f64", "f32") and con.execute(
                f"SELECT count(*) FILTER (WHERE isnan({column})) FROM t").fetchone()[0] > 0
            if nan and name.split("_")[0] in ("min", "max", "mean", "sum"):
                value = "NaN"
            elif isinstance(value, float) and math.isinf(value):
                value = "inf" if value > 0 else "-inf"
            elif isinstance(value, (dt.datetime,)):
                value = value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, decimal.Decimal):
                value = float(value)
            answers[name] = {"value": value}
        expected[f"fuzz.case_{case}"] = {"writers": [w for w, _ in written], "checks": answers}
    with open(os.path.join(args.out, "rules", "fuzz.yaml"), "w") as f:
        f.write("\n".join(rules) + "\n")
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, default=str)


if __name__ == "__main__":
    main()
