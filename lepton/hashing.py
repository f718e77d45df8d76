"""Streaming SHA-256 of a file, local or any universal-pathlib path."""

from __future__ import annotations

import hashlib


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
