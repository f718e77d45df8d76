"""Streaming digests of a file, local or any universal-pathlib path."""

from __future__ import annotations

import hashlib


def sha256_file(path) -> str:
    return digest_file(path, hashlib.sha256())


def digest_file(path, h) -> str:
    """The file fed in pieces to `h` (a hashlib or hmac object): its hex digest."""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
