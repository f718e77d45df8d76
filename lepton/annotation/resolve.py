"""Snapshot -> the annotation batch the dataset reads: one resolved annotation per record,
the conflicts and how each was settled, and the tasks that could not be used.

Every task in a snapshot is counted out exactly once: annotated, empty (every annotation
skipped) or quarantined. Spans that break a contract rule stay in their record, exactly
as the annotator made them, so the validation gate sees them and blocks the batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from lepton.annotation.agreement import Agreement, Vote, agreement, resolve
from lepton.annotation.convert import from_result
from lepton.annotation.schema import LabelSchema
from lepton.corpus.records import Record


@dataclass
class ResolvedBatch:
    snapshot_id: str
    records: list[Record] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)        # tasks whose annotations were all cancelled
    quarantined: list[dict] = field(default_factory=list)   # task, annotation, rule, offsets: no text
    problems: list[dict] = field(default_factory=list)      # rule-breaking spans kept for the gate
    conflicts: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)       # spans of removed labels: task, rule, label, offsets
    mapped: Counter = field(default_factory=Counter)        # "OLD -> NEW": spans renamed by the schema
    schema_version: str = ""
    rules: Counter = field(default_factory=Counter)
    repaired_utf16: int = 0
    annotators: set = field(default_factory=set)
    agreement: Agreement | None = None

    @property
    def quarantined_tasks(self) -> int:
        return len({q["task_id"] for q in self.quarantined})

    def refused_counts(self) -> dict:
        """Spans refused, per rule and label: what the batch states it left out."""
        out: dict = {}
        for r in self.refused:
            out.setdefault(r["rule"], Counter())[r["label"]] += 1
        return {rule: dict(sorted(c.items())) for rule, c in sorted(out.items())}

    def per_label(self) -> dict:
        return dict(sorted(Counter(s.label for r in self.records for s in r.spans).items()))


def resolve_snapshot(snapshot: dict, schema: LabelSchema) -> ResolvedBatch:
    out = ResolvedBatch(snapshot["snapshot_id"], schema_version=schema.version)
    multi = []
    for task in snapshot["tasks"]:
        live = [a for a in task["annotations"] if not a["was_cancelled"]]
        if not live:
            out.skipped.append(task["task_id"])
            continue
        votes, unusable = [], []
        for a in live:
            parsed = from_result(task["text"], a["result"], schema)
            out.repaired_utf16 += parsed.repaired
            out.mapped.update(parsed.mapped)
            where = {"task_id": task["task_id"], "annotation_id": a["annotation_id"], "record_id": task["record_id"]}
            out.refused += [{**where, **p.to_dict()} for p in parsed.refused]
            unusable += [{**where, **p.to_dict()} for p in parsed.unusable]
            out.problems += [{**where, **p.to_dict()} for p in parsed.problems]
            votes.append(Vote(a["annotation_id"], a["annotator"], a["updated_at"] or "", a["ground_truth"],
                              parsed.spans))
            out.annotators.add(a["annotator"])
        if unusable:
            out.quarantined += unusable
            continue
        multi.append((task["text"], votes))
        res = resolve(votes)
        out.rules[res.rule] += 1
        if res.conflict:
            out.conflicts.append({"task_id": task["task_id"], "record_id": task["record_id"], "rule": res.rule,
                                  "winner": res.winner, "annotators": [v.annotator for v in votes],
                                  "annotation_ids": [v.annotation_id for v in votes]})
        out.records.append(Record(task["record_id"], task["source"], task["line"], task["text"],
                                  tuple(sorted(res.spans, key=lambda s: (s.start, s.end)))))
    out.agreement = agreement(multi)
    return out


def diff(a: list[Record], b: list[Record]) -> dict:
    """Spans added, changed (same offsets, other label) and removed from batch `a` to batch `b`."""
    ra, rb = {r.record_id: r for r in a}, {r.record_id: r for r in b}
    added, changed, removed = [], [], []
    for rid in sorted(set(ra) | set(rb)):
        sa = {(s.start, s.end): s.label for s in (ra[rid].spans if rid in ra else ())}
        sb = {(s.start, s.end): s.label for s in (rb[rid].spans if rid in rb else ())}
        for k in sorted(set(sa) | set(sb)):
            entry = {"record_id": rid, "start": k[0], "end": k[1]}
            if k not in sa:
                added.append({**entry, "label": sb[k]})
            elif k not in sb:
                removed.append({**entry, "label": sa[k]})
            elif sa[k] != sb[k]:
                changed.append({**entry, "from": sa[k], "to": sb[k]})
    return {"added": added, "changed": changed, "removed": removed}
