"""The governance stages over a batch file, streaming record by record: clean, find
personal data, apply the sensitivity policy. Each stage accounts for every record it
reads: written on, or quarantined with a rule."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from lepton.atomic import replaced
from lepton.corpus.quarantine import QuarantineWriter, Rejection
from lepton.corpus.records import Record, Span
from lepton.crypto.fields import FieldCipher
from lepton.governance.cleaning import clean_text
from lepton.governance.pii import Finding, PiiDetector
from lepton.governance.policy import Policy, redact


@dataclass
class StageReport:
    records_in: int = 0
    records_out: int = 0
    quarantined: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.records_in == self.records_out + self.quarantined

    def to_dict(self) -> dict:
        return {"records_in": self.records_in, "records_out": self.records_out,
                "quarantined": self.quarantined, "counts": dict(sorted(self.counts.items()))}


def _docs(path: Path):
    """Record dicts as stored: the stages touch Span objects only where offsets change."""
    with Path(path).open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def _dump(obj: dict) -> str:
    return orjson.dumps(obj).decode() + "\n"


def clean_batch(in_path: Path, out_path: Path, quarantine_path: Path, max_chars: int,
                protect: Callable[[str, str], str] | None = None) -> StageReport:
    report = StageReport()
    with QuarantineWriter(quarantine_path, protect) as quarantine, replaced(Path(out_path)) as out:
        for doc in _docs(in_path):
            report.records_in += 1
            cleaned = clean_text(doc["text"])
            report.counts.update(cleaned.changes)
            problem = None
            if not cleaned.text:
                problem = ("text.empty_after_cleaning", "nothing is left after cleaning")
            elif len(cleaned.text) > max_chars:
                problem = ("text.too_long", f"{len(cleaned.text)} characters, limit {max_chars}")
            spans = doc["spans"]
            if cleaned.changed:
                spans = []
                for i, sp in enumerate(doc["spans"]):
                    moved = cleaned.map_span(Span(**sp))
                    if moved is None:
                        problem = problem or ("span.removed_by_cleaning",
                                              f"span {i} ({sp['label']}) held only characters that cleaning removes")
                        break
                    spans.append(moved.to_dict())
            if problem:
                # stored as a JSONL line, so a fixed record can go back through `quarantine reprocess`
                raw = json.dumps({"text": doc["text"], "spans": doc["spans"]}, ensure_ascii=False)
                quarantine.write(Rejection(doc["source"], doc["line"], problem[0], problem[1], raw=raw,
                                           record_id=doc["record_id"]))
                report.quarantined += 1
                report.counts[problem[0]] += 1
                continue
            if cleaned.changed:
                report.counts["records_changed"] += 1
                doc = {**doc, "text": cleaned.text, "spans": spans}
            out.write(_dump(doc))
            report.records_out += 1
    return report


def detect_batch(in_path: Path, findings_path: Path, detector: PiiDetector,
                 extra: dict[str, list] | None = None) -> StageReport:
    """Findings hold types and offsets only, never the matched text. `extra`: record id ->
    findings made elsewhere (person names from the champion's predictions)."""
    report = StageReport()
    with replaced(Path(findings_path)) as out:
        for doc in _docs(in_path):
            report.records_in += 1
            found = detector.detect(doc["text"], (extra or {}).get(doc["record_id"], ()))
            for f in found:
                report.counts[f"type.{f.type}"] += 1
                report.counts[f"detector.{f.detector}"] += 1
            if found:
                report.counts["records_with_pii"] += 1
            out.write(_dump({"record_id": doc["record_id"], "findings": [f.to_dict() for f in found]}))
            report.records_out += 1
    return report


def apply_policy(in_path: Path, findings_path: Path, out_path: Path, policy: Policy,
                 cipher: FieldCipher) -> tuple[StageReport, list[str]]:
    """Writes governed records: each with its sensitivity class, the action taken, and
    either its (possibly redacted) text or, for `encrypt`, only the encrypted text.
    Returns the report and the ids of records whose text was encrypted."""
    report, encrypted = StageReport(), []
    with Path(findings_path).open(encoding="utf-8") as ff, replaced(Path(out_path)) as out:
        for rec in _docs(in_path):
            entry = orjson.loads(ff.readline())
            rid = rec["record_id"]
            if entry["record_id"] != rid:
                raise ValueError(f"findings out of step with records at {rid}")
            report.records_in += 1
            findings = [Finding(**f) for f in entry["findings"]]
            sensitivity = policy.classify(findings)
            action = policy.action(sensitivity)
            report.counts[f"class.{sensitivity}"] += 1
            report.counts[f"action.{action}"] += 1
            doc = {"record_id": rid, "source": rec["source"], "line": rec["line"],
                   "sensitivity": sensitivity, "action": action,
                   "pii_types": sorted({f.type for f in findings})}
            if action == "encrypt":
                doc["text"] = None
                doc["text_encrypted"] = cipher.encrypt(rid, json.dumps(rec, ensure_ascii=False))
                doc["spans"] = []
                encrypted.append(rid)
            elif action == "redact":
                red = redact(rec["text"], [Span(**sp) for sp in rec["spans"]], findings, policy.redact_types)
                doc["text"], doc["spans"] = red.text, [s.to_dict() for s in red.spans]
                if red.cuts:
                    doc["cuts"] = red.cuts
                report.counts["spans_touching_redaction"] += red.touched
            else:
                doc["text"], doc["spans"] = rec["text"], rec["spans"]
            out.write(_dump(doc))
            report.records_out += 1
    return report, encrypted


def governed_records(path: Path) -> tuple[list[Record], int]:
    """Records cleared for annotation and training (not encrypted), and how many were withheld."""
    kept, withheld = [], 0
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            doc = orjson.loads(line)
            if doc["text"] is None:
                withheld += 1
                continue
            kept.append(Record(doc["record_id"], doc["source"], doc["line"], doc["text"],
                               tuple(Span(**s) for s in doc["spans"])))
    return kept, withheld


def governed_cuts(path: Path) -> dict[str, list]:
    """Record id -> where redaction replaced text (offsets only), for the redacted records of
    a governed file: spans found on the text before redaction move through them."""
    out = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            doc = orjson.loads(line)
            if doc.get("cuts"):
                out[doc["record_id"]] = doc["cuts"]
    return out
