"""A stage file is replaced whole or not at all.

Readers of a batch's files (its checks, the next stage, a re-run of the same partition in
another run) must never see one half-written: a file is written beside its final name and
renamed over it only when complete, so a reader sees the old file or the new one, and a
killed writer leaves the old one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def replaced(path: Path) -> Iterator[TextIO]:
    """A text file to write; it becomes `path` when the block ends without an exception.
    What a killed writer left beside `path` (it may hold text an erasure must reach) goes
    first: one writer per file at a time is the step lock's promise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
