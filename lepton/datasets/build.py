"""What a dataset build decides before and after the encrypted write: which annotation batch it
takes, and the split rows and profile the dataset contracts check. Plain functions, so they are
tested without Dagster; the dataset_version asset only wires them to its resources."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lepton.corpus.records import Record
from lepton.validation.distribution import profile, split_rows


@dataclass
class BatchChoice:
    chosen: dict | None                                   # the pointer, with its passing "validation" node
    left_out: list[str] = field(default_factory=list)     # newer batches without a passing validation


def latest_validated(pointers: list[dict], passed: Callable[[str], str | None]) -> BatchChoice:
    """Each annotation batch is the project's whole annotated state at one sync, so the build
    takes the latest that passed its gate (`passed`: batch id -> its passing validation node, or
    None) and names every newer batch it skipped."""
    left_out = []
    for pointer in reversed(pointers):
        validation = passed(pointer["batch_id"])
        if validation is None:
            left_out.append(pointer["batch_id"])
            continue
        return BatchChoice({**pointer, "validation": validation}, left_out)
    return BatchChoice(None, left_out)


def write_split_rows(records: dict[str, Record], assignment: dict[str, list[str]], keys: dict[str, str],
                     path: Path) -> dict:
    """The split rows (ids, families, lengths; no text) for the dataset-splits contract, written
    to `path`, and the profile the distribution contract reads."""
    with Path(path).open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in split_rows(records, assignment, keys))
    return profile(records, assignment, keys)
