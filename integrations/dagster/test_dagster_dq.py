"""Runs real Dagster in-process: materialises gold assets and runs their dq checks
against the sample lake, then compares what Dagster recorded with dq's own report.

Usage: python test_dagster_dq.py DQ_BINARY PROJECT_DIR   (prints a JSON summary)
"""

import json
import subprocess
import sys

from dagster import AssetKey, Definitions, asset, materialize

from dagster_dq import check_name, dq_asset_checks

dq, project = sys.argv[1], sys.argv[2]


@asset(key=AssetKey(["gold", "daily_revenue"]))
def daily_revenue():
    return None


@asset(key=AssetKey(["gold", "customer_summary"]))
def customer_summary():
    return None


@asset(key=AssetKey(["silver", "orders"]))
def orders():
    return None


checks = dq_asset_checks(project, layers=["gold", "silver"], dq_binary=dq)
Definitions(assets=[daily_revenue, customer_summary, orders], asset_checks=checks)  # validates the wiring
result = materialize([daily_revenue, customer_summary, orders, *checks], raise_on_error=False)
evaluations = result.get_asset_check_evaluations()
recorded = {f"{'/'.join(e.asset_key.path)}:{e.check_name}": {"passed": e.passed, "severity": e.severity.value,
            "metadata": sorted(e.metadata.keys())} for e in evaluations}
report = json.loads(subprocess.run([dq, "validate", "--format", "json", "--layer", "gold", "--layer", "silver"],
                                   cwd=project, capture_output=True, text=True).stdout)
expected = {}
for c in report["checks"]:
    dataset = c["dataset"] or "gold.daily_revenue"
    expected.setdefault(f"{dataset.replace('.', '/')}:{check_name(c['name'])}", c["status"] == "pass")

# A rules error (an unknown column: the rules parse, validation does not) fails the run
# with dq's own message.
import pathlib, shutil, tempfile
broken_dir = pathlib.Path(tempfile.mkdtemp())
shutil.copy(pathlib.Path(project) / "dq.yaml", broken_dir / "dq.yaml")
(broken_dir / "rules").mkdir()
(broken_dir / "rules" / "gold.yaml").write_text(
    "layer: gold\ndatasets:\n  - name: daily_revenue\n    path: %s/sample-data/gold/daily_revenue\n"
    "    checks:\n      - not_null: { columns: [revenu] }\n" % pathlib.Path(project).resolve())
broken = dq_asset_checks(broken_dir, dq_binary=dq, name="broken")
failed = materialize([daily_revenue, *broken], raise_on_error=False)
messages = [e.event_specific_data.error.message for e in failed.get_step_failure_events()]

# With metric history, every check carries its previous value and the change since.
history_dir = pathlib.Path(tempfile.mkdtemp())
(history_dir / "rules").mkdir()
(history_dir / "dq.yaml").write_text(
    "default_env: h\nenvironments:\n  h: { lake: %s/sample-data, history: { path: %s/history } }\n"
    % (pathlib.Path(project).resolve(), history_dir))
(history_dir / "rules" / "gold.yaml").write_text(
    "layer: gold\ndatasets:\n  - name: daily_revenue\n    checks:\n      - row_count: { min: 1 }\n")
subprocess.run([dq, "validate", "-q", "--as-of", "2026-11-20"], cwd=history_dir, capture_output=True)
with_history = dq_asset_checks(history_dir, dq_binary=dq, name="with_history")
second = materialize([daily_revenue, *with_history], raise_on_error=False)
history_metadata = sorted(k for e in second.get_asset_check_evaluations() for k in e.metadata.keys())

print(json.dumps({"success": result.success, "recorded": recorded, "expected": expected,
                  "broken_success": failed.success, "broken_messages": messages,
                  "history_metadata": history_metadata}))
