"""Pre-labelled input imported as gold annotations, content-addressed like every batch so
the same spans always make the same batch id."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lepton.annotation.schema import schema_version
from lepton.corpus.records import Record


@dataclass
class AnnotationBatch:
    batch_id: str
    path: Path
    documents: int
    spans: int
    per_label: dict


def import_gold(records: list[Record], path: Path) -> AnnotationBatch:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(schema_version().encode())
    labels: Counter = Counter()
    with path.open("w", encoding="utf-8") as fh:
        for rec in sorted(records, key=lambda r: r.record_id):
            line = json.dumps(rec.to_dict(), ensure_ascii=False, sort_keys=True)
            digest.update(line.encode())
            fh.write(line + "\n")
            labels.update(s.label for s in rec.spans)
    return AnnotationBatch(batch_id=digest.hexdigest()[:16], path=path, documents=len(records),
                           spans=sum(labels.values()), per_label=dict(sorted(labels.items())))


def write_batch_pointer(path: Path, batch: AnnotationBatch, final: Path, record_batch: str) -> None:
    path.write_text(json.dumps({"batch_id": batch.batch_id, "path": str(final), "record_batch": record_batch,
                                "documents": batch.documents, "spans": batch.spans}))


def batch_pointers(folder: Path) -> list[dict]:
    """The current annotation batch of every record batch, in record-batch order."""
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
