"""Where records that cannot be read go, with the rule they broke, so nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from lepton.atomic import replaced
from lepton.corpus.records import record_id

KEY_PURPOSE = "quarantine"  # the data key a quarantined line's raw text is sealed under


def subject(source: str, line: int) -> str:
    """What a quarantined record's encrypted raw text is bound to."""
    return f"quarantine:{source}:{line}"


def read_quarantine(path: Path, reveal: Callable[[str, str], bytes] | None = None) -> Iterator[dict]:
    """Entries of a quarantine file; with `reveal` the raw text is decrypted into "raw"."""
    if not Path(path).exists():
        return
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            if reveal is not None and "raw_encrypted" in entry:
                entry["raw"] = reveal(subject(entry["source"], entry["line"]), entry.pop("raw_encrypted")).decode()
            yield entry


@dataclass(frozen=True)
class Rejection:
    """`record_id`: the record the line holds where it was read as one (a duplicate, a record
    refused at cleaning); otherwise the id of the raw text itself. Every quarantined line has
    one, so erasure finds it like any record."""

    source: str
    line: int
    rule: str
    detail: str
    raw: str
    record_id: str = ""

    def __post_init__(self):
        if not self.record_id:
            object.__setattr__(self, "record_id", record_id(self.raw, self.source))

    def message(self) -> str:
        return f"{self.source}:{self.line}: {self.rule}: {self.detail}"


class QuarantineWriter:
    """Writes rejections as JSONL; one file per ingestion so re-runs never mix.

    A rejected line may hold personal data nobody has classified yet, so with `protect`
    (subject, raw) -> token the raw text is stored only encrypted; file, line, rule and
    detail stay readable for the people who fix it.
    """

    def __init__(self, path: Path, protect: Callable[[str, str], str] | None = None):
        self.path = Path(path)
        self._file = replaced(self.path)  # in place only when complete (lepton.atomic)
        self._fh = self._file.__enter__()
        self._protect = protect
        self.count = 0

    def write(self, rejection: Rejection) -> None:
        entry = asdict(rejection)
        if self._protect is not None:
            entry["raw_encrypted"] = self._protect(subject(rejection.source, rejection.line), entry.pop("raw"))
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.count += 1

    def __enter__(self) -> "QuarantineWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._file.__exit__(*exc)
