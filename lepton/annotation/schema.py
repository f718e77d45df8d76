"""The entity label set: one place, so the Label Studio config, the validation suite
and the model's head can never disagree about which labels exist."""

from __future__ import annotations

import hashlib
import json
from xml.sax.saxutils import quoteattr

ENTITY_LABELS: tuple[str, ...] = ("PER", "ORG", "LOC", "MISC")

# The control and object tag names in the Label Studio config; every result we read or write
# names them, so they live beside the labels.
FROM_NAME = "label"
TO_NAME = "text"


def schema_version(labels: tuple[str, ...] = ENTITY_LABELS) -> str:
    """A content hash, so a changed label set is a new version without anyone bumping a number."""
    return hashlib.sha256(json.dumps(list(labels)).encode()).hexdigest()[:12]


def bio_tags(labels: tuple[str, ...] = ENTITY_LABELS) -> list[str]:
    """IOB2 tag list with "O" first, so index 0 is always the outside tag."""
    return ["O"] + [f"{p}-{lab}" for lab in labels for p in ("B", "I")]


def label_config(labels: tuple[str, ...] = ENTITY_LABELS) -> str:
    """The Label Studio labeling config, generated so that nobody edits XML by hand in the UI."""
    items = "".join(f"<Label value={quoteattr(lab)}/>" for lab in labels)
    return (f'<View><Labels name="{FROM_NAME}" toName="{TO_NAME}">{items}</Labels>'
            f'<Text name="{TO_NAME}" value="$text"/></View>')
