"""Landing folder -> accepted records + quarantine, with a per-file ledger that proves
records in = accepted + quarantined."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import orjson

from lepton.hashing import sha256_file
from lepton.corpus.conll import read_conll
from lepton.corpus.delimited import read_csv, read_text
from lepton.corpus.jsonl import read_jsonl
from lepton.corpus.quarantine import QuarantineWriter, Rejection
from lepton.corpus.records import Record
from lepton.corpus.textio import format_suffix


@dataclass(frozen=True)
class ReaderOptions:
    """The explicit schema of each input format, from settings."""

    csv_text_column: str = "text"
    csv_spans_column: str | None = "spans"
    csv_delimiter: str = ","
    text_mode: str = "line"  # plain text: a document per "line" or per "file"
    conll_scheme: str = "iob2"  # iob2 | iob1 | bioes

    def readers(self) -> dict[str, Callable]:
        """Reader per format suffix, each taking (path, source)."""
        conll = partial(read_conll, scheme=self.conll_scheme)
        csv_args = {"text_column": self.csv_text_column, "spans_column": self.csv_spans_column}
        return {
            ".jsonl": read_jsonl, ".conll": conll, ".iob": conll, ".bio": conll,
            ".csv": partial(read_csv, delimiter=self.csv_delimiter, **csv_args),
            ".tsv": partial(read_csv, delimiter="\t", **csv_args),
            ".txt": partial(read_text, mode=self.text_mode),
        }


@dataclass
class FileLedger:
    source: str
    sha256: str
    records_in: int = 0
    accepted: int = 0
    quarantined: int = 0
    rules: dict = field(default_factory=dict)

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
    """Record ids seen in this ingestion, on disk: a set in memory would grow with the
    input, and ingestion must stay flat in memory on gigabyte files."""

    def __init__(self):
        self._db = sqlite3.connect("")  # "" opens a private temporary database on disk
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, record_id: str) -> bool:
        """True if the id is new."""
        return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (record_id,)).rowcount == 1

    def close(self) -> None:
        self._db.close()



def ingest_folder(landing: Path, records_path: Path, quarantine_path: Path,
                  protect: Callable[[str, str], str] | None = None,
                  options: ReaderOptions = ReaderOptions()) -> IngestReport:
    """Reads every file under `landing` in name order. A file of unknown format is one
    quarantined record (rule file.unknown_format) rather than silently skipped; a
    repeated record (same text from the same source) is quarantined as a duplicate."""
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    records_path = Path(records_path)
    records_path.parent.mkdir(parents=True, exist_ok=True)
    ledgers, seen = [], SeenIds()
    readers = options.readers()
    with QuarantineWriter(quarantine_path, protect) as quarantine, records_path.open("w", encoding="utf-8") as out:
        for path in sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith(".")):
            source = path.relative_to(landing).as_posix()
            ledger = FileLedger(source=source, sha256=sha256_file(path))
            rules: Counter = Counter()
            reader = readers.get(format_suffix(path))
            items = (reader(path, source) if reader else
                     [Rejection(source, 0, "file.unknown_format",
                                f"extension {format_suffix(path) or '(none)'} is not one of {sorted(readers)} "
                                "(optionally .gz)", raw="")])
            for item in items:
                ledger.records_in += 1
                if isinstance(item, Record) and not seen.add(item.record_id):
                    item = Rejection(source, item.line, "record.duplicate",
                                     f"same text as an earlier record of {source} ({item.record_id})", raw=item.text)
                if isinstance(item, Rejection):
                    quarantine.write(item)
                    ledger.quarantined += 1
                    rules[item.rule] += 1
                else:
                    out.write(orjson.dumps(item.to_dict()).decode() + "\n")
                    ledger.accepted += 1
            ledger.rules = dict(rules)
            if not ledger.balanced:  # an invariant, checked so a reader bug cannot lose records quietly
                raise AssertionError(f"{source}: {ledger.records_in} in != {ledger.accepted} + {ledger.quarantined}")
            ledgers.append(ledger)
    seen.close()
    return IngestReport(files=ledgers, records_path=str(records_path), quarantine_path=str(quarantine_path))


def read_records(path: Path) -> list[Record]:
    with Path(path).open(encoding="utf-8") as fh:
        return [Record.from_dict(orjson.loads(line)) for line in fh if line.strip()]
