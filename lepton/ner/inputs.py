"""The training inputs of `lepton train`: files read through the format registry, every
sentence counted out, exact repeats reported, and the label set taken from the data or
pinned by a schema file.

Repeats are common in social-media corpora (retweets, boilerplate). The rule: within the
data being split, a record whose text repeats an earlier one's is kept once, in the first
one's place, so repeats never straddle train and test; a repeat whose tags differ from the
first's is counted as conflicting (the first is kept). Across given --dev/--test files,
repeats of a training text are counted and kept (the caller chose those splits).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lepton.annotation.schema import LabelSchema
from lepton.corpus.formats import FormatError, ReaderOptions
from lepton.corpus.records import Record, normalise_text


@dataclass
class FileRead:
    path: str
    records: list[Record]
    rejected: list = field(default_factory=list)

    @property
    def records_in(self) -> int:
        return len(self.records) + len(self.rejected)


def read_file(path: Path, options: ReaderOptions, fmt: str | None = None) -> FileRead:
    reader = options.reader(fmt) if fmt else options.reader_for(path)
    if reader is None:
        raise FormatError(f"{path}: extension not one of {options.suffixes()}; name the format with --format")
    out = FileRead(str(path), [])
    for item in reader(Path(path), Path(path).name):
        (out.records if isinstance(item, Record) else out.rejected).append(item)
    return out


def _spans_key(r: Record) -> tuple:
    return tuple((s.start, s.end, s.label) for s in r.spans)


def collapse_repeats(records: list[Record]) -> tuple[list[Record], dict]:
    """Each text once (the first occurrence), with counts of what was collapsed."""
    first: dict[str, Record] = {}
    identical = conflicting = 0
    for r in records:
        key = normalise_text(r.text)
        if key not in first:
            first[key] = r
        elif _spans_key(first[key]) == _spans_key(r):
            identical += 1
        else:
            conflicting += 1
    return list(first.values()), {"identical": identical, "conflicting": conflicting}


def repeats_of(train: list[Record], other: list[Record]) -> int:
    seen = {normalise_text(r.text) for r in train}
    return sum(normalise_text(r.text) in seen for r in other)


def pin_labels(reads: list[FileRead], schema: LabelSchema) -> dict:
    """Every span's label through the schema (aliases, declared renames); a tag it does not
    know, or removed, is an error naming the file, line and tag. Returns the mapping counts."""
    mapped: Counter = Counter()
    for fr in reads:
        for i, rec in enumerate(fr.records):
            r = schema.relabel(rec)
            bad = r.unknown or list(r.refused)
            if bad:
                schema.require(bad[0], f"{fr.path}:{rec.line}")
            mapped.update(r.mapped)
            fr.records[i] = r.record
    return dict(sorted(mapped.items()))


def labels_from_data(splits: dict[str, list[Record]]) -> tuple[tuple[str, ...], dict]:
    """The union of labels over every split (sorted), and the labels found in dev or test but
    never in train, with their span counts (the model can never predict them)."""
    per = {k: Counter(s.label for r in v for s in r.spans) for k, v in splits.items()}
    labels = tuple(sorted(set().union(*per.values())))
    unseen = {k: {lab: n for lab, n in sorted(c.items()) if lab not in per.get("train", {})}
              for k, c in per.items() if k != "train"}
    return labels, {k: v for k, v in unseen.items() if v}

