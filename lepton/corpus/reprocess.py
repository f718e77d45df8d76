"""Quarantined records, fixed by a person, going back in through the landing folder.

A fixed record is re-read by the same reader rules as its original file, and a record
that now passes is written to a new landing file (never back into the original, which
keeps its own ledger): the next ingestion counts it as a new record of that file, and the
audit log links it to the quarantined original.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from upath import UPath

from lepton.corpus.conll import read_conll
from lepton.corpus.jsonl import parse_jsonl_line
from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record


@dataclass
class ReprocessReport:
    output: UPath | None
    accepted: list[dict] = field(default_factory=list)   # {"source", "line", "new_line"}
    still_failing: list[Rejection] = field(default_factory=list)


def _reparse(entry: dict) -> Record | Rejection:
    source, line, raw = entry["source"], entry["line"], entry["raw"]
    if source.endswith(".jsonl") or raw.lstrip().startswith("{"):  # cleaning quarantines JSONL lines
        return parse_jsonl_line(raw, source, line)
    if source.endswith((".conll", ".iob", ".bio")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fixed.conll"
            path.write_text(raw + "\n")
            items = list(read_conll(path, source))
        if len(items) != 1:
            return Rejection(source, line, "reprocess.not_one_document", f"fixed text holds {len(items)} documents", raw)
        return items[0]
    return Rejection(source, line, "reprocess.unknown_format", "no reader for this file type", raw)


def reprocess(fixed_entries: list[dict], landing: str) -> ReprocessReport:
    """`landing` is the landing zone's URL or local path (universal-pathlib)."""
    accepted, failing, lines = [], [], []
    for entry in fixed_entries:
        item = _reparse(entry)
        if isinstance(item, Rejection):
            failing.append(item)
            continue
        lines.append(json.dumps({"text": item.text, "spans": [s.to_dict() for s in item.spans]}, ensure_ascii=False))
        accepted.append({"source": entry["source"], "line": entry["line"], "new_line": len(lines)})
    out = None
    if lines:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        out = UPath(landing) / "reprocessed" / f"reprocessed-{stamp}.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ReprocessReport(out, accepted, failing)
