"""What a dataset version looks like as a whole, and the thresholds it must meet: label
counts and drift against the previous version, document and span lengths, duplicates,
and leakage between splits. Only counts, lengths and record ids leave this module —
never text.

Near-identical is lepton.corpus.records.near_duplicate_key, the same key the split keeps
together, so a leak found here is a bug, not bad luck.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from lepton.corpus.records import Record, near_duplicate_key

MAX_EXAMPLES = 5


def js_distance(p: dict, q: dict) -> float:
    """Jensen-Shannon distance (base 2, 0..1) between two label count tables."""
    from scipy.spatial.distance import jensenshannon

    labels = sorted(set(p) | set(q))
    a = [p.get(k, 0) for k in labels]
    b = [q.get(k, 0) for k in labels]
    if not sum(a) or not sum(b):
        return 0.0 if sum(a) == sum(b) else 1.0
    return float(jensenshannon(a, b, base=2))


def family_keys(records: dict[str, Record]) -> dict[str, str]:
    return {rid: near_duplicate_key(rec.text) for rid, rec in records.items()}


def split_rows(records: dict[str, Record], splits: dict[str, list[str]],
               keys: dict[str, str] | None = None) -> list[dict]:
    """What the dataset-splits contract checks, one row per record, without text."""
    keys = keys or family_keys(records)
    return [{"record_id": rid, "split": s, "family": keys[rid],
             "text_len": len(records[rid].text), "spans": len(records[rid].spans)}
            for s, ids in splits.items() for rid in ids]


def profile(records: dict[str, Record], splits: dict[str, list[str]], keys: dict[str, str] | None = None) -> dict:
    keys = keys or family_keys(records)
    by_key: dict[str, list[str]] = defaultdict(list)
    for rid, k in keys.items():
        by_key[k].append(rid)
    split_of = {rid: s for s, ids in splits.items() for rid in ids}
    leaked = [sorted(ids) for ids in by_key.values() if len({split_of.get(r) for r in ids}) > 1]
    dup_docs = sum(len(ids) for ids in by_key.values() if len(ids) > 1)
    doc_len = [len(r.text) for r in records.values()]
    span_len = [s.end - s.start for r in records.values() for s in r.spans]
    labels = {s: dict(sorted(Counter(sp.label for rid in ids for sp in records[rid].spans).items()))
              for s, ids in splits.items()}
    return {
        "documents": len(records),
        "labels": labels,
        "labels_total": dict(sorted(Counter(sp.label for r in records.values() for sp in r.spans).items())),
        "document_chars": [min(doc_len, default=0), max(doc_len, default=0)],
        "span_chars": [min(span_len, default=0), max(span_len, default=0)],
        "duplicate_rate": round(dup_docs / len(records), 6) if records else 0.0,
        "leaked_documents": sum(len(g) for g in leaked),
        "leaked_examples": leaked[:MAX_EXAMPLES],  # record ids only
    }


@dataclass
class Finding:
    rule: str
    passed: bool
    observed: object
    threshold: object

    def to_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "observed": self.observed, "threshold": self.threshold}


def load_thresholds(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())["dataset"]


def contract(prof: dict, th: dict, labels, own_floors: dict | None = None) -> list[Finding]:
    """The blocking rules; `labels`: the schema's, each of which needs its minimum examples
    (`own_floors`: the labels whose schema entry sets their own minimum)."""
    train = prof["labels"].get("train", {})
    own_floors = own_floors or {}
    floor = {lab: own_floors.get(lab, th["min_examples_per_label"]) for lab in labels}
    scarce = {lab: train.get(lab, 0) for lab in labels if train.get(lab, 0) < floor[lab]}
    lo, hi = th["document_chars"]
    slo, shi = th["span_chars"]
    return [
        Finding("no identical or near-identical document in two splits",
                prof["leaked_documents"] <= th["max_leaked_documents"],
                {"leaked_documents": prof["leaked_documents"], "examples": prof["leaked_examples"]},
                th["max_leaked_documents"]),
        Finding("minimum examples per label (train split)", not scarce, scarce or "all labels",
                {**{"default": th["min_examples_per_label"]}, **own_floors} if own_floors
                else th["min_examples_per_label"]),
        Finding("document length range", lo <= prof["document_chars"][0] and prof["document_chars"][1] <= hi,
                prof["document_chars"], [lo, hi]),
        Finding("span length range", slo <= prof["span_chars"][0] and prof["span_chars"][1] <= shi,
                prof["span_chars"], [slo, shi]),
        Finding("duplicate-text rate", prof["duplicate_rate"] <= th["max_duplicate_rate"], prof["duplicate_rate"],
                th["max_duplicate_rate"]),
    ]


def drift(prof: dict, previous_labels: dict | None, th: dict) -> Finding:
    if previous_labels is None:
        return Finding("label-distribution drift vs the previous version (JS distance)", True,
                       "no previous version", th["max_label_drift_js"])
    d = round(js_distance(prof["labels_total"], previous_labels), 6)
    return Finding("label-distribution drift vs the previous version (JS distance)", d <= th["max_label_drift_js"],
                   d, th["max_label_drift_js"])
