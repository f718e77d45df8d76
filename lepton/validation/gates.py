"""Gate queries: has a batch or a version passed its contracts? They read the validation results
the stages write into the lineage graph, and are the guards that keep a later run or a backfill
from using what a blocking check refused (a blocking check stops only its own run)."""

from __future__ import annotations

from lepton.lineage.store import LineageStore, Node


def latest_result(store: LineageStore, name: str, suite: str | None = None) -> Node | None:
    """The latest validation result for `name` (a batch or version), of one suite or of any."""
    results = [n for n in store.find("validation_result", name=name)
               if suite is None or n.attrs.get("suite") == suite]
    return results[-1] if results else None


def passed_validation(store: LineageStore, annotation_batch: str) -> str | None:
    """The id of the latest validation of exactly this batch if it passed, else None."""
    latest = latest_result(store, annotation_batch)
    return latest.node_id if latest is not None and latest.attrs.get("success") else None


def not_passed(store: LineageStore, name: str, suite_keys: list[str]) -> list[str]:
    """The suites (by key) whose latest result for `name` is missing or failed."""
    out = []
    for key in suite_keys:
        latest = latest_result(store, name, key)
        if latest is None or not latest.attrs.get("success"):
            out.append(key)
    return out
