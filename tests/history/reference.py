"""A straightforward reference for dq's anomaly check, over dq's own history files.

Usage: reference.py HISTORY_DIR SUBJECT METRIC CHECK_ID WINDOW MIN_HISTORY SENSITIVITY WEEKLY

Reads every run file with pyarrow, walks the runs in as_of order and, for each, scores the
metric against the earlier runs it did not flag itself (median and MAD, z = 0.6745 (x - m) /
MAD; mean absolute deviation x 1.2533 when MAD is 0). Prints a JSON object
{as_of: "flagged" | "normal" | "insufficient"}.
"""

import glob
import json
import os
import statistics
import sys

import pyarrow.parquet as pq

history, subject, metric, check_id = sys.argv[1:5]
window, min_history, sensitivity = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
weekly = sys.argv[8] == "true"

runs = {}
for f in glob.glob(os.path.join(history, "*.parquet")):
    for row in pq.read_table(f).to_pylist():
        if row["subject"] == subject and row["metric"] == metric and row["value"] is not None:
            runs[row["as_of"]] = row["value"]

verdicts, usable = {}, []
for as_of in sorted(runs):
    value = runs[as_of]
    past = [v for (t, v) in usable if not weekly or t.weekday() == as_of.weekday()][-window:]
    key = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    if len(past) < min_history:
        verdicts[key] = "insufficient"
        usable.append((as_of, value))
        continue
    m = statistics.median(past)
    deviations = [abs(v - m) for v in past]
    mad = statistics.median(deviations)
    spread = mad / 0.6745 if mad > 0 else 1.2533 * sum(deviations) / len(deviations)
    if spread > 0:
        z = (value - m) / spread
    else:
        z = 0.0 if value == m else float("inf")
    flagged = abs(z) > sensitivity
    verdicts[key] = "flagged" if flagged else "normal"
    if not flagged:
        usable.append((as_of, value))
print(json.dumps(verdicts))
