"""Landing folder -> accepted records + quarantine, with a per-file ledger that proves
records in = accepted + quarantined."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from lepton.atomic import replaced
from lepton.corpus.formats import SIDECARS, ReaderOptions
from lepton.corpus.quarantine import QuarantineWriter, Rejection
from lepton.corpus.records import Record, RecordIds
from lepton.corpus.span_rules import span_problem
from lepton.corpus.textio import format_suffix
from lepton.hashing import sha256_file


@dataclass
class FileLedger:
    source: str
    sha256: str
    records_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    rules: dict = field(default_factory=dict)
    labels_mapped: dict = field(default_factory=dict)  # "alias -> LABEL": spans whose input name was mapped

    @property
    def balanced(self) -> bool:
        return self.records_in == self.accepted + self.quarantined


@dataclass
class IngestReport:
    files: list[FileLedger]
    records_path: str
    quarantine_path: str

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def records_in(self) -> int:
        return sum(f.records_in for f in self.files)

    def to_dict(self) -> dict:
        return {"files": [asdict(f) for f in self.files], "records_path": self.records_path,
                "quarantine_path": self.quarantine_path}


class SeenIds:
    """Record ids seen in this ingestion, with each one's spans and line, on disk: a set in
    memory would grow with the input, and ingestion must stay flat in memory on gigabyte files."""

    def __init__(self):
        self._db = sqlite3.connect("")  # "" opens a private temporary database on disk
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, spans TEXT, line INTEGER) WITHOUT ROWID")

    def add(self, record: Record) -> tuple[bool, int] | None:
        """None if the id is new; else (whether it came with the same spans, the line it was
        first seen at)."""
        digest = _spans_digest(record)
        if self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
                            (record.record_id, digest, record.line)).rowcount == 1:
            return None
        spans, line = self._db.execute("SELECT spans, line FROM seen WHERE id = ?", (record.record_id,)).fetchone()
        return spans == digest, line

    def close(self) -> None:
        self._db.close()



def _spans_digest(record: Record) -> str:
    return orjson.dumps(sorted((s.start, s.end, s.label) for s in record.spans)).decode()


def is_data_file(path: Path) -> bool:
    """Hidden files and sidecars (a dataset_info.json naming a file's tags) are not data."""
    return path.is_file() and not path.name.startswith(".") and path.name not in SIDECARS


def ingest_folder(landing: Path, records_path: Path, quarantine_path: Path,
                  protect: Callable[[str, str], str] | None = None,
                  options: ReaderOptions | None = None, labels=None,
                  erased: frozenset[str] = frozenset(), ids: RecordIds | None = None) -> IngestReport:
    """Reads every file under `landing` in name order. A file of unknown format is one
    quarantined record (rule file.unknown_format) rather than silently skipped; a
    repeated record (same text from the same source) is quarantined as a duplicate.
    `labels` (a LabelSchema) maps the input's label names through its aliases and renames;
    a record with a label it does not know, or a span that ends before it starts, lies outside
    its text or overlaps another, is quarantined with that rule (lepton.corpus.span_rules)
    rather than left to fail its whole batch's gate. A record an
    erasure took (`erased`: record ids from the tombstones) is refused as record.erased,
    keeping no text: a landing file delivered again cannot bring it back. `ids` names the
    records (the workspace's keyed ids; unkeyed without it)."""
    landing = Path(landing)
    options = options or ReaderOptions()
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    records_path = Path(records_path)
    ledgers, seen, ids = [], SeenIds(), ids or RecordIds(None)
    with QuarantineWriter(quarantine_path, protect) as quarantine, replaced(records_path) as out:
        for path in sorted(p for p in landing.rglob("*") if is_data_file(p)):
            source = path.relative_to(landing).as_posix()
            ledger = FileLedger(source=source, sha256=sha256_file(path))
            rules: Counter = Counter()
            mapped: Counter = Counter()
            reader = options.reader_for(path)
            items = (reader(path, source) if reader else
                     [Rejection(source, 0, "file.unknown_format",
                                f"extension {format_suffix(path) or '(none)'} is not one of {options.suffixes()} "
                                "(optionally .gz; LEPTON_FORMATS maps another)", raw="")])
            for item in items:
                ledger.records_in += 1
                plain, item = item.record_id, ids.rekey(item)
                # tombstones of a workspace that moved to keyed ids hold unkeyed ids (README)
                if isinstance(item, Record) and (item.record_id in erased or plain in erased):
                    item = Rejection(source, item.line, "record.erased", "an erasure took this record; "
                                     "it is not ingested again and its text is not kept", raw="",
                                     record_id=item.record_id)
                elif isinstance(item, Record) and (problem := span_problem(item, labels)) is not None:
                    item = Rejection(source, item.line, problem[0], problem[1], raw=item.text,
                                     record_id=item.record_id)
                elif isinstance(item, Record) and (first := seen.add(item)) is not None:
                    same = first[0]
                    item = Rejection(source, item.line, "record.duplicate" if same else "record.conflict",
                                     f"same text as line {first[1]} of {source} ({item.record_id})"
                                     + ("" if same else ", with other spans: which are right is for a person to say"),
                                     raw=item.text, record_id=item.record_id)
                if isinstance(item, Rejection):
                    quarantine.write(item)
                    ledger.quarantined += 1
                    rules[item.rule] += 1
                else:
                    if labels is not None and item.spans:
                        relabelled = labels.relabel(item, keep_removed=True)
                        item = relabelled.record
                        mapped.update(relabelled.mapped)
                    out.write(orjson.dumps(item.to_dict()).decode() + "\n")
                    ledger.accepted += 1
            ledger.rules = dict(rules)
            ledger.labels_mapped = dict(sorted(mapped.items()))
            if not ledger.balanced:  # an invariant, checked so a reader bug cannot lose records quietly
                raise AssertionError(f"{source}: {ledger.records_in} in != {ledger.accepted} + {ledger.quarantined}")
            ledgers.append(ledger)
    seen.close()
    return IngestReport(files=ledgers, records_path=str(records_path), quarantine_path=str(quarantine_path))


def read_records(path: Path) -> list[Record]:
    with Path(path).open(encoding="utf-8") as fh:
        return [Record.from_dict(orjson.loads(line)) for line in fh if line.strip()]
