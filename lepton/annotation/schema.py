"""The entity label set: one place, so the Label Studio config, the validation suite
and the model's head can never disagree about which labels exist."""

from __future__ import annotations

import hashlib
import json

ENTITY_LABELS: tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")


def schema_version(labels: tuple[str, ...] = ENTITY_LABELS) -> str:
    """A content hash, so a changed label set is a new version without anyone bumping a number."""
    return hashlib.sha256(json.dumps(list(labels)).encode()).hexdigest()[:12]


def bio_tags(labels: tuple[str, ...] = ENTITY_LABELS) -> list[str]:
    """IOB2 tag list with "O" first, so index 0 is always the outside tag."""
    return ["O"] + [f"{p}-{lab}" for lab in labels for p in ("B", "I")]
