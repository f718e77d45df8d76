"""The one registry of input formats: which reader a file gets, for ingestion and for
`lepton train` alike, so a suffix means the same thing everywhere.

| format | suffixes | what a record is |
|---|---|---|
| jsonl | .jsonl .ndjson | a line: `{"text", "spans"}` (Lepton's own), or `{"tokens", "ner_tags"}` as Hugging Face datasets export them (tags as strings, or integers named by `tag_names` or a `dataset_info.json` beside the file) |
| conll | .conll .iob .bio .bioes | a document (between `-DOCSTART-` lines) or a sentence (between blank lines), by `conll_unit` |
| csv / tsv | .csv .tsv | a data row |
| text | .txt | a line, or the whole file, by `text_mode` |
| label-studio | .json | a task of a Label Studio JSON export, with its ground-truth (else latest) annotation |

`formats` (setting LEPTON_FORMATS, e.g. `.txt=conll`) maps another suffix to a format:
public corpora often ship CoNLL files as `.txt`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from lepton.corpus.conll import read_conll
from lepton.corpus.delimited import read_csv, read_text
from lepton.corpus.hf_tokens import read_jsonl_any
from lepton.corpus.label_studio_export import read_label_studio_export
from lepton.corpus.textio import MAX_RECORD_BYTES, format_suffix

SUFFIXES = {
    "jsonl": (".jsonl", ".ndjson"), "conll": (".conll", ".iob", ".bio", ".bioes"), "csv": (".csv",),
    "tsv": (".tsv",), "text": (".txt",), "label-studio": (".json",),
}
FORMATS = tuple(SUFFIXES)
# Files that describe a data file beside them and are not data themselves.
SIDECARS = ("dataset_info.json",)


class FormatError(ValueError):
    pass


def parse_format_overrides(value: str) -> dict[str, str]:
    """`.txt=conll,.data=conll` -> {".txt": "conll", ".data": "conll"}."""
    out = {}
    for item in filter(None, (p.strip() for p in (value or "").split(","))):
        suffix, sep, fmt = item.partition("=")
        suffix = suffix.strip().lower()
        if not sep or not suffix.startswith(".") or fmt.strip() not in FORMATS:
            raise FormatError(f"format override {item!r}: expected .SUFFIX=FORMAT with FORMAT one of {', '.join(FORMATS)}")
        out[suffix] = fmt.strip()
    return out


@dataclass(frozen=True)
class ReaderOptions:
    """The explicit schema of each input format, from settings."""

    csv_text_column: str = "text"
    csv_spans_column: str | None = "spans"
    csv_delimiter: str = ","
    text_mode: str = "line"  # plain text: a document per "line" or per "file"
    conll_scheme: str = "iob2"  # iob2 | iob1 | bioes (also the tag scheme of token/tag JSON lines)
    conll_unit: str = "auto"  # a record per "document" (-DOCSTART-), per "sentence", or "auto": as the file says
    tag_names: tuple[str, ...] = ()  # names of integer ner_tags, in id order
    formats: dict = field(default_factory=dict, hash=False)  # suffix -> format name, beyond the defaults
    max_record_bytes: int = MAX_RECORD_BYTES  # a line or record longer is refused as it is read

    @classmethod
    def from_settings(cls, s) -> "ReaderOptions":
        """From lepton.settings.Settings: what a command outside Dagster reads with."""
        return cls(s.csv_text_column, s.csv_spans_column or None, ",", s.text_mode, s.conll_scheme, s.conll_unit,
                   tuple(s.tag_names), parse_format_overrides(s.formats), s.max_record_bytes)

    def format_of(self, path: Path) -> str | None:
        suffix = format_suffix(Path(path))
        if suffix in self.formats:
            return self.formats[suffix]
        return next((name for name, sfx in SUFFIXES.items() if suffix in sfx), None)

    def reader(self, fmt: str) -> Callable:
        """The reader of a format, taking (path, source)."""
        limit = self.max_record_bytes
        csv_args = {"text_column": self.csv_text_column, "spans_column": self.csv_spans_column, "max_bytes": limit}
        readers = {
            "jsonl": partial(read_jsonl_any, tag_names=self.tag_names, scheme=self.conll_scheme, max_bytes=limit),
            "conll": partial(read_conll, scheme=self.conll_scheme, unit=self.conll_unit, max_bytes=limit),
            "csv": partial(read_csv, delimiter=self.csv_delimiter, **csv_args),
            "tsv": partial(read_csv, delimiter="\t", **csv_args),
            "text": partial(read_text, mode=self.text_mode, max_bytes=limit),
            "label-studio": partial(read_label_studio_export, max_bytes=limit),
        }
        if fmt not in readers:
            raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return readers[fmt]

    def reader_for(self, path: Path) -> Callable | None:
        fmt = self.format_of(path)
        return None if fmt is None else self.reader(fmt)

    def suffixes(self) -> list[str]:
        return sorted({s for sfx in SUFFIXES.values() for s in sfx} | set(self.formats))

    def readers(self) -> dict[str, Callable]:
        """Reader per format suffix (the erasure's re-read of a source uses it)."""
        return {s: self.reader_for(Path("x" + s)) for s in self.suffixes()}
