"""Batches parked by a failed blocking contract, each with its report, until a re-run passes.

A parked entry names the data that failed (a file in the workspace), the suite, and the
reports, so `lepton validation rerun <batch>` can re-validate the same data without Dagster
after the data or a reviewed contract is fixed. The gates downstream read lineage, not
this folder: parking is the steward's to-do list, and release records a passing result in
lineage, which is what lets the batch through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lepton.corpus.ingest import read_records
from lepton.lineage.events import StageLineage
from lepton.validation.gx_suite import ValidationReport, validate_records
from lepton.validation.report_html import write_html
from lepton.workspace import Layout

# How each kind of batch is named in lineage: the node a validation result hangs from.
KINDS = {"annotations": "add_validation", "raw_documents": "add_batch_validation",
         "dataset_splits": "add_dataset_validation"}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_reports(report: ValidationReport, batch: str, folder: Path) -> tuple[Path, Path]:
    """The full result as JSON and a readable HTML page beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    report_path = folder / f"{report.suite_key}@{batch}.json"
    report_path.write_text(json.dumps(report.to_dict(), indent=1))
    return report_path, write_html(report, batch, report_path.with_suffix(".html"))


def load_rows(suite: str, data: Path, unaligned_report: str | None = None):
    """The rows a suite validates, read back from the batch's file: records for spans and
    documents, plain dicts for split rows; with the spans the tokenizer could not align."""
    if suite == "dataset_splits":
        return [json.loads(line) for line in Path(data).open(encoding="utf-8")], frozenset()
    unaligned = frozenset()
    if unaligned_report:
        unaligned = {(u["record_id"], u["start"], u["end"]) for u in
                     json.loads(Path(unaligned_report).read_text(encoding="utf-8"))["unaligned_spans"]}
    return read_records(data), unaligned


@dataclass
class Parking:
    folder: Path  # <workspace>/work/validation/parked

    @classmethod
    def in_workspace(cls, home: Path) -> "Parking":
        return cls(Layout(Path(home)).work.parked)

    def _path(self, batch: str) -> Path:
        return self.folder / f"{batch}.json"

    def park(self, batch: str, suite: str, report: ValidationReport, data: Path, report_path: Path,
             html_path: Path, unaligned_report: str | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"batch": batch, "suite": suite, "suite_key": report.suite_key, "data": str(data),
                 "data_sha256": file_sha256(data), "unaligned_report": unaligned_report,
                 "report": str(report_path), "report_html": str(html_path), "summary": report.summary(),
                 "failed_rules": [o.rule for o in report.failed],
                 "parked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        path = self._path(batch)
        path.write_text(json.dumps(entry, indent=1))
        return path

    def get(self, batch: str) -> dict | None:
        path = self._path(batch)
        return json.loads(path.read_text()) if path.exists() else None

    def list(self) -> list[dict]:
        if not self.folder.exists():
            return []
        return sorted((json.loads(p.read_text()) for p in self.folder.glob("*.json")), key=lambda e: e["parked_at"])

    def update(self, batch: str, **facts) -> dict:
        entry = {**self.get(batch), **facts}
        self._path(batch).write_text(json.dumps(entry, indent=1))
        return entry

    def release(self, batch: str, **facts) -> dict | None:
        """Moves the entry to released/ with the facts of the passing run; None if not parked."""
        entry = self.get(batch)
        if entry is None:
            return None
        done = self.folder / "released"
        done.mkdir(parents=True, exist_ok=True)
        entry.update(facts, released_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        (done / f"{batch}.json").write_text(json.dumps(entry, indent=1))
        self._path(batch).unlink()
        return entry


def rerun(parking: Parking, batch: str, expectations_dir: Path, stage: StageLineage,
          labels=None) -> tuple[ValidationReport, dict]:
    """Re-validates a parked batch's data against the suite as it is now (and `labels`, the
    label schema's as it is now), records the result in lineage, and releases the batch when
    it passes. Returns the report and the entry."""
    entry = parking.get(batch)
    if entry is None:
        raise KeyError(f"batch {batch} is not parked (see `lepton validation list`)")
    rows, unaligned = load_rows(entry["suite"], Path(entry["data"]), entry.get("unaligned_report"))
    report = validate_records(rows, Path(expectations_dir) / f"{entry['suite']}.json", unaligned, labels)
    report_path, html_path = write_reports(report, batch, parking.folder.parent)
    sha = file_sha256(entry["data"])
    attrs = {"evaluated": report.evaluated_rows, "failed_expectations": len(report.failed),
             "report": str(report_path), "report_html": str(html_path), "data_sha256": sha,
             "data_changed_since_parked": sha != entry["data_sha256"], "rerun": True}
    getattr(stage, KINDS[entry["suite"]])(batch, report.suite_key, report.success, **attrs)
    if report.success:
        entry = parking.release(batch, released_by_suite=report.suite_key, report=str(report_path),
                                report_html=str(html_path), data_sha256_released=sha)
    else:
        entry = parking.update(batch, summary=report.summary(), report=str(report_path), report_html=str(html_path),
                               failed_rules=[o.rule for o in report.failed])
    return report, entry
