"""The unit that flows through the pipeline, and its identity.

A record id must survive re-ingestion of the same file and differ between sources, so
that lineage can tell "the same sentence seen again" from "the same sentence from
somewhere else".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

# A record file's schema (raw, clean, annotated, dataset split) as (field, type) pairs: what
# lineage events and Dagster metadata say a record file holds.
RECORD_FIELDS = [("record_id", "string"), ("source", "string"), ("line", "integer"), ("text", "string"),
                 ("spans", "array")]

@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str
    text: str | None = None  # what the annotator saw; checked against text[start:end]

    def to_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies and was the governance pass's top cost
        d = {"start": self.start, "end": self.end, "label": self.label}
        if self.text is not None:
            d["text"] = self.text
        return d


@dataclass(frozen=True)
class Record:
    record_id: str
    source: str
    line: int
    text: str
    spans: tuple[Span, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "record_id": self.record_id,
            "source": self.source,
            "line": self.line,
            "text": self.text,
            "spans": [s.to_dict() for s in self.spans],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        return cls(
            record_id=d["record_id"],
            source=d["source"],
            line=d["line"],
            text=d["text"],
            spans=tuple(Span(**s) for s in d.get("spans", [])),
        )


def normalise_text(text: str) -> str:
    """NFC and collapsed whitespace: cosmetic differences must not make a new record."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def record_id(text: str, source: str) -> str:
    digest = hashlib.sha256()
    digest.update(source.encode())
    digest.update(b"\x00")
    digest.update(normalise_text(text).encode())
    return digest.hexdigest()[:20]


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")


def near_duplicate_key(text: str) -> str:
    """Equal for near-identical documents: after NFKC, case folding, every digit as 0, and
    punctuation and whitespace removed, so the same sentence with another phone number or
    other spacing is the same document when splitting and when checking for leakage."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _NOT_WORD.sub("", _DIGIT.sub("0", t))
    return hashlib.sha256(t.encode()).hexdigest()[:20]
