"""The files an annotation batch leaves in the workspace: its resolved records (what the
validation gate and the dataset read), a report of everything that did not become a
clean record, and a pointer ordered by snapshot sequence so the dataset can take the
latest batch that passed its gate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable

from lepton.annotation.convert import spans_to_token_tags, token_tags_to_spans
from lepton.annotation.resolve import ResolvedBatch
from lepton.hashing import sha256_file
from lepton.workspace import WorkTree


def token_alignment(records, offsets: Callable[[str], list[tuple[int, int]]]) -> tuple[dict, list[dict]]:
    """How many spans lie on token boundaries of the tokenizer in use, with each one that
    does not, and a round-trip check of the ones that do."""
    spans = aligned = round_trip_errors = 0
    unaligned = []
    for rec in records:
        if not rec.spans:
            continue
        offs = offsets(rec.text)
        tt = spans_to_token_tags(offs, rec.spans)
        spans += len(rec.spans)
        aligned += len(rec.spans) - len(tt.unaligned)
        unaligned += [{"record_id": rec.record_id, **p.to_dict()} for p in tt.unaligned]
        bad = {(p.start, p.end) for p in tt.unaligned}
        expect = [(s.start, s.end, s.label) for s in rec.spans if (s.start, s.end) not in bad]
        back = [(s.start, s.end, s.label) for s in token_tags_to_spans(offs, tt.tags, rec.text)]
        round_trip_errors += sorted(expect) != sorted(back)
    rate = aligned / spans if spans else 1.0
    return ({"spans": spans, "aligned": aligned, "unaligned": len(unaligned), "rate": round(rate, 6),
             "round_trip_errors": round_trip_errors}, unaligned)


def write_annotation_batch(work: WorkTree, snapshot_path: Path, snapshot: dict, resolved: ResolvedBatch,
                           tokenizer: str, offsets: Callable[[str], list[tuple[int, int]]]) -> dict:
    sid = snapshot["snapshot_id"]
    out = work.annotations / sid
    out.mkdir(parents=True, exist_ok=True)
    records_path = out / "annotations.jsonl"
    with records_path.open("w", encoding="utf-8") as fh:
        for rec in sorted(resolved.records, key=lambda r: r.record_id):
            fh.write(json.dumps(rec.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    alignment, unaligned = token_alignment(resolved.records, offsets)
    alignment["tokenizer"] = tokenizer
    report_path = out / "report.json"
    report = {"snapshot_id": sid, "changes": snapshot["changes"], "skipped_tasks": resolved.skipped,
              "quarantined": resolved.quarantined, "span_problems": resolved.problems,
              "conflicts": resolved.conflicts, "agreement": resolved.agreement.to_dict(),
              "refused_spans": resolved.refused, "label_mapping": dict(resolved.mapped),
              "alignment": alignment, "unaligned_spans": unaligned, "repaired_utf16_offsets": resolved.repaired_utf16}
    report_path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    batch = {
        "batch_id": sid, "sequence": snapshot["sequence"], "path": str(records_path), "report": str(report_path),
        "snapshot": str(snapshot_path),
        "snapshot_sha256": sha256_file(snapshot_path),
        # the schema the batch was resolved under (renames applied, removed labels refused)
        "label_schema_version": resolved.schema_version or snapshot["label_schema_version"],
        "label_mapping": dict(sorted(resolved.mapped.items())), "refused_spans": resolved.refused_counts(),
        "tasks": len(snapshot["tasks"]), "documents": len(resolved.records),
        "spans": sum(len(r.spans) for r in resolved.records), "per_label": resolved.per_label(),
        "changes": snapshot["changes"], "skipped": len(resolved.skipped),
        "quarantined_tasks": resolved.quarantined_tasks, "span_problems": len(resolved.problems),
        "annotators": sorted(resolved.annotators), "agreement": resolved.agreement.to_dict(),
        "conflict_rules": dict(Counter(c["rule"] for c in resolved.conflicts)),
        "alignment": alignment,
        "record_batches": sorted({t["record_batch"] for t in snapshot["tasks"] if t["record_batch"]}),
    }
    pointer = work.annotation_pointers / f"{snapshot['sequence']:08d}-{sid}.json"
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps(batch, ensure_ascii=False))
    return batch


def batch_pointers(work: WorkTree) -> list[dict]:
    """Every annotation batch written so far, oldest snapshot first."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(work.annotation_pointers.glob("*.json"))]
