"""Readers of the workspace's per-batch stage files and erasure tombstones, shared by erasure,
the review pack and the retraining sensor: in one module below both governance and lineage,
so neither package has to import the other to read them.

Layout read here: `work/<stage>/<batch>/records.jsonl` (stage: raw, clean, governed, ...) and
`work/erasures/<erasure>.json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson


def stage_docs(work: Path, stage: str) -> Iterator[tuple[str, dict]]:
    """(batch, record dict) for every record of one stage's per-batch files (raw, governed...)."""
    for path in sorted((Path(work) / stage).glob("*/records.jsonl")):
        with path.open("rb") as fh:
            for line in fh:
                yield path.parent.name, orjson.loads(line)


def ingested(work: Path) -> dict[str, dict]:
    """record id -> batch, source and line, from every batch's ingested records."""
    return {doc["record_id"]: {"batch": batch, "source": doc["source"], "line": doc["line"], "text": doc["text"]}
            for batch, doc in stage_docs(work, "raw")}


def erasures(work: Path) -> list[dict]:
    """Tombstones, oldest first: what the retraining sensor and the review pack read."""
    return [json.loads(p.read_text()) for p in sorted((Path(work) / "erasures").glob("*.json"))]
