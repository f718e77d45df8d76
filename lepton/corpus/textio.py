"""Opening input files the way every reader needs: gzip by suffix, UTF-8 with or without a
BOM, any line ending, decoded line by line so one bad byte costs one record."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lepton.corpus.quarantine import Rejection

BOM = b"\xef\xbb\xbf"


def format_suffix(path: Path) -> str:
    """The suffix that names the format: `a.jsonl.gz` -> `.jsonl`."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> BinaryIO:
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def iter_text_lines(path: Path, source: str) -> Iterator[tuple[int, str] | Rejection]:
    """(line number, text without its line ending) or a Rejection for an undecodable line.
    A corrupt gzip stream ends the file with one rejection naming the line it reached."""
    with open_binary(path) as fh:
        line_no = 0
        try:
            for line_no, raw_bytes in enumerate(fh, start=1):
                if line_no == 1 and raw_bytes.startswith(BOM):
                    raw_bytes = raw_bytes[3:]
                try:
                    raw = raw_bytes.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield Rejection(source, line_no, "encoding.not_utf8", f"byte {exc.start}: {exc.reason}",
                                    raw=raw_bytes.decode("utf-8", errors="replace").rstrip("\r\n"))
                    continue
                yield line_no, raw.rstrip("\r\n")
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            yield Rejection(source, line_no + 1, "file.corrupt_compression", str(exc), raw="")
