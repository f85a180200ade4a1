"""Dagster asset checks backed by the dq binary.

`dq_asset_checks()` declares one Dagster asset check per dq check (read from `dq checks`)
and, when run, executes `dq validate --format json` once and yields one
`AssetCheckResult` per check.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetChecksDefinition,
    AssetKey,
    Failure,
    MetadataValue,
    multi_asset_check,
)

__all__ = ["dq_asset_checks", "check_name", "default_asset_key"]


def default_asset_key(dataset: str) -> AssetKey:
    """`silver.orders` → AssetKey(["silver", "orders"])."""
    return AssetKey(dataset.split("."))


def check_name(name: str) -> str:
    """A dq check name as a valid Dagster check name: `not_null(order_id)` → `not_null__order_id`."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return cleaned or "check"


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), cwd=str(cwd), capture_output=True, text=True)


def _dataset_of(check: dict) -> str:
    if check.get("dataset"):
        return check["dataset"]
    datasets = [d for d in check.get("datasets") or [] if d]
    return datasets[0] if datasets else f"{check['layer']}.reconciliations"


def dq_asset_checks(
    project_dir: str | Path,
    *,
    env: Optional[str] = None,
    layers: Optional[Iterable[str]] = None,
    dq_binary: str = "dq",
    asset_key_for: Callable[[str], AssetKey] = default_asset_key,
    name: str = "dq_checks",
) -> list[AssetChecksDefinition]:
    """One multi-asset-check definition covering every dq check of the selected layers."""
    project_dir = Path(project_dir)
    layers = list(layers or [])
    listed = _run([dq_binary, "checks"], project_dir)
    if listed.returncode != 0:
        raise Failure(description=f"dq checks failed (exit {listed.returncode}): {listed.stderr.strip()}")
    checks = [c for c in json.loads(listed.stdout) if not layers or c["layer"] in layers]
    specs: list[AssetCheckSpec] = []
    by_id: dict[str, tuple[AssetKey, str]] = {}
    dataset_of: dict[str, str] = {c["id"]: _dataset_of(c) for c in checks}
    seen: set[tuple[AssetKey, str]] = set()
    for c in checks:
        key = asset_key_for(_dataset_of(c))
        cname = check_name(c["name"])
        while (key, cname) in seen:
            cname += "_"
        seen.add((key, cname))
        by_id[c["id"]] = (key, cname)
        specs.append(AssetCheckSpec(name=cname, asset=key, description=c.get("description") or f"dq {c['kind']} check {c['id']}"))

    command = [dq_binary, "validate", "--format", "json", "--output", "-", "-q"]
    if env:
        command += ["--env", env]
    for layer in layers:
        command += ["--layer", layer]

    @multi_asset_check(specs=specs, name=name, can_subset=True)
    def _dq_checks(context):
        selected = set(context.selected_asset_check_keys)
        wanted = {i for i, (key, cname) in by_id.items() if AssetCheckKey(key, cname) in selected}
        run = list(command)
        if wanted != set(by_id):
            # Only the datasets whose checks were selected (reconciliations follow them).
            for dataset in sorted({dataset_of[i] for i in wanted}):
                run += ["--dataset", dataset]
        done = _run(run, project_dir)
        if done.returncode in (2, 3) or not done.stdout.strip():
            raise Failure(
                description=f"dq exited {done.returncode}: {done.stderr.strip() or 'no report'}",
                metadata={"command": " ".join(run)},
            )
        report = json.loads(done.stdout)
        context.log.info(
            "dq: %s checks, %s passed, %s warnings, %s failed",
            report["summary"]["total"],
            report["summary"]["passed"],
            report["summary"]["warned"],
            report["summary"]["failed"],
        )
        for c in report["checks"]:
            if c["id"] not in wanted:
                continue
            key, cname = by_id[c["id"]]
            metadata = {
                "dataset": MetadataValue.text(c.get("dataset") or ""),
                "kind": MetadataValue.text(c["kind"]),
                "status": MetadataValue.text(c["status"]),
                "threshold": MetadataValue.text(c["threshold"]),
                "observed": MetadataValue.json(c["observed"]) if isinstance(c["observed"], (dict, list)) else MetadataValue.text(str(c["observed"])),
                "sql": MetadataValue.md(f"```sql\n{c['sql']}\n```"),
            }
            if c.get("failed_rows") is not None:
                metadata["failed_rows"] = MetadataValue.int(c["failed_rows"])
            if c.get("rows_checked") is not None:
                metadata["rows_checked"] = MetadataValue.int(c["rows_checked"])
            if c.get("message"):
                metadata["message"] = MetadataValue.text(c["message"])
            # From dq's metric history: the value in the previous run, and the change since.
            if c.get("previous"):
                metadata["previous"] = MetadataValue.float(float(c["previous"]["value"]))
                metadata["previous_as_of"] = MetadataValue.text(c["previous"]["as_of"])
                if c["previous"].get("change") is not None:
                    metadata["change"] = MetadataValue.float(float(c["previous"]["change"]))
            yield AssetCheckResult(
                asset_key=key,
                check_name=cname,
                passed=c["status"] == "pass",
                severity=AssetCheckSeverity.WARN if c["severity"] == "warn" else AssetCheckSeverity.ERROR,
                metadata=metadata,
            )

    return [_dq_checks]
