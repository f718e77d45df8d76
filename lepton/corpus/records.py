"""The unit that flows through the pipeline, and its identity.

A record id must survive re-ingestion of the same file and differ between sources, so
that lineage can tell "the same sentence seen again" from "the same sentence from
somewhere else".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field, replace

from lepton.hashing import digest_file

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


def _id_input(text: str, source: str) -> bytes:
    return source.encode() + b"\x00" + normalise_text(text).encode()


def record_id(text: str, source: str) -> str:
    """The unkeyed id: what readers give a record before ingestion names it (`RecordIds`),
    and the id of workspaces made before ids were keyed."""
    return hashlib.sha256(_id_input(text, source)).hexdigest()[:20]


class RecordIds:
    """How a workspace names records and files. An id is kept forever (tombstones, the
    audit log, the ledger, dataset manifests); unkeyed, anyone holding one could confirm a
    guessed short text ("is record X 'Ana Silva, 0412 555 123'?"). Keyed with a keyring
    key, an id reveals nothing without that key. `key=None` is the unkeyed scheme of
    workspaces made before (README: "Record ids")."""

    def __init__(self, key: bytes | None):
        self._key = key

    @property
    def scheme(self) -> str:
        return "hmac-sha256" if self._key is not None else "sha256"

    def __call__(self, text: str, source: str) -> str:
        if self._key is None:
            return record_id(text, source)
        return hmac.new(self._key, _id_input(text, source), hashlib.sha256).hexdigest()[:20]

    def rekey(self, item):
        """A reader's record or refused line under this scheme (readers give unkeyed ids):
        a record is named by its text, a refused line by its raw text."""
        if self._key is None:
            return item
        text = item.text if isinstance(item, Record) else item.raw
        return replace(item, record_id=self(text, item.source))

    def reading(self, reader):
        """`reader` with its items named under this scheme."""
        if self._key is None:
            return reader
        return lambda path, source: (self.rekey(item) for item in reader(path, source))

    def _digest(self):
        return hashlib.sha256() if self._key is None else hmac.new(self._key, digestmod=hashlib.sha256)

    def of_bytes(self, data: bytes) -> str:
        """A file's digest for the records that outlive it (tombstones): keyed like ids, so
        a kept digest cannot confirm a guessed file either."""
        h = self._digest()
        h.update(data)
        return h.hexdigest()

    def of_file(self, path) -> str:
        """`of_bytes` of a file, read in pieces (an archive may be large)."""
        return digest_file(path, self._digest())


_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")


def near_duplicate_key(text: str) -> str:
    """Equal for near-identical documents: after NFKC, case folding, every digit as 0, and
    punctuation and whitespace removed, so the same sentence with another phone number or
    other spacing is the same document when splitting and when checking for leakage."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _NOT_WORD.sub("", _DIGIT.sub("0", t))
    return hashlib.sha256(t.encode()).hexdigest()[:20]
