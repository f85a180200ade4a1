"""Samples from known distributions, and SciPy's answer for every `distribution` check.

    python distributions.py --seed 7 --out DIR

writes DIR/dq.yaml, DIR/rules/lake.yaml, DIR/lake/lake/{current,resample,shifted}/ (Parquet
files written by pyarrow, with NULLs and NaNs that both sides leave out) and
DIR/expected.json: for each dataset and check name, SciPy's statistic (`ks_2samp`,
`chisquare`) or the PSI computed here, its p-value where dq reports one, and whether the
check should pass.
"""

import argparse
import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

FREQUENCIES = {"a": 0.5, "b": 0.3, "c": 0.2}
SHIFTED_FREQUENCIES = {"a": 0.4, "b": 0.3, "c": 0.3}
KS_MAX = 0.08
CHI_MIN_P = 0.001
PSI_MAX = 0.02
EPSILON = 0.0001


def sample(rng, n, shift, freqs):
    x = rng.normal(shift, 1.0, n)
    counts = rng.integers(0, 12, n) + (3 if shift else 0)
    cats = rng.choice(list(freqs), n, p=list(freqs.values()))
    x_list = [float(v) for v in x]
    cat_list = [str(c) for c in cats]
    # NULLs and NaNs on both sides: dq and the reference below leave them out.
    for i in range(0, n, 97):
        x_list[i] = None
    for i in range(5, n, 131):
        x_list[i] = math.nan
    for i in range(7, n, 89):
        cat_list[i] = None
    return pa.table({
        "x": pa.array(x_list, pa.float64()),
        "k": pa.array([int(v) for v in counts], pa.int32()),
        "cat": pa.array(cat_list, pa.string()),
    })


def write(table, folder, pieces):
    os.makedirs(folder, exist_ok=True)
    n = table.num_rows
    step = math.ceil(n / pieces)
    for i in range(pieces):
        pq.write_table(table.slice(i * step, step), os.path.join(folder, f"part-{i}.parquet"),
                       row_group_size=700)


def clean(table, column):
    values = [v for v in table.column(column).to_pylist() if v is not None]
    return np.array([v for v in values if not (isinstance(v, float) and math.isnan(v))])


def counts(table):
    out = {}
    for v in table.column("cat").to_pylist():
        if v is not None:
            out[v] = out.get(v, 0) + 1
    return out


def psi(observed, reference):
    n, r = sum(observed.values()), sum(reference.values())
    total = 0.0
    for key in sorted(set(observed) | set(reference)):
        p = max(observed.get(key, 0) / n, EPSILON)
        q = max(reference.get(key, 0) / r, EPSILON)
        total += (p - q) * math.log(p / q)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    reference = sample(rng, 1500, 0.0, FREQUENCIES)
    tables = {
        "resample": sample(rng, 2000, 0.0, FREQUENCIES),
        "shifted": sample(rng, 2000, 0.5, SHIFTED_FREQUENCIES),
    }
    lake = os.path.join(args.out, "lake", "lake")
    write(reference, os.path.join(lake, "reference"), 2)
    freq_yaml = ", ".join(f"{k}: {v}" for k, v in FREQUENCIES.items())
    rules = ["layer: lake", "datasets:", "  - name: reference", "    checks:",
             "      - row_count: { min: 1 }"]
    expected = {}
    ref_counts = counts(reference)
    for name, table in tables.items():
        write(table, os.path.join(lake, name), 3)
        rules += [f"  - name: {name}", "    checks:",
                  f"      - distribution: {{ name: ks_x, column: x, test: ks, reference: {{ dataset: lake.reference }}, max_statistic: {KS_MAX} }}",
                  f"      - distribution: {{ name: ks_k, column: k, test: ks, reference: {{ dataset: lake.reference }}, max_statistic: {KS_MAX} }}",
                  f"      - distribution: {{ name: chi_fixed, column: cat, test: chi_square, reference: {{ frequencies: {{ {freq_yaml} }} }}, min_p_value: {CHI_MIN_P} }}",
                  f"      - distribution: {{ name: chi_dataset, column: cat, test: chi_square, reference: {{ dataset: lake.reference }}, min_p_value: {CHI_MIN_P} }}",
                  f"      - distribution: {{ name: psi_dataset, column: cat, test: psi, reference: {{ dataset: lake.reference }}, max_statistic: {PSI_MAX}, epsilon: {EPSILON} }}"]
        answers = {}
        for check, column in (("ks_x", "x"), ("ks_k", "k")):
            d = stats.ks_2samp(clean(table, column), clean(reference, column)).statistic
            answers[check] = {"statistic": float(d), "pass": bool(d <= KS_MAX)}
        observed = counts(table)
        keys = sorted(FREQUENCIES)
        n = sum(observed.values())
        for check, shares in (("chi_fixed", FREQUENCIES),
                              ("chi_dataset", {k: ref_counts[k] / sum(ref_counts.values()) for k in keys})):
            result = stats.chisquare([observed.get(k, 0) for k in keys], [shares[k] * n for k in keys])
            answers[check] = {"statistic": float(result.statistic), "p_value": float(result.pvalue),
                              "pass": bool(result.pvalue >= CHI_MIN_P)}
        value = psi(observed, ref_counts)
        answers["psi_dataset"] = {"statistic": value, "pass": bool(value <= PSI_MAX)}
        expected[f"lake.{name}"] = answers
    os.makedirs(os.path.join(args.out, "rules"), exist_ok=True)
    with open(os.path.join(args.out, "dq.yaml"), "w") as f:
        f.write('default_env: t\nenvironments:\n  t: { lake: ./lake, as_of: "2026-11-21T00:00:00Z" }\n')
    with open(os.path.join(args.out, "rules", "lake.yaml"), "w") as f:
        f.write("\n".join(rules) + "\n")
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
