"""Opening input files the way every reader needs: gzip by suffix, UTF-8 with or without a
BOM, any line ending, decoded line by line so one bad byte costs one record."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lepton.corpus.quarantine import Rejection

BOM = b"\xef\xbb\xbf"
# The default of setting LEPTON_MAX_RECORD_BYTES: a line (or record) longer is refused as it
# is read, never held whole. Cleaning refuses documents over 100,000 characters anyway.
MAX_RECORD_BYTES = 1 << 20


def format_suffix(path: Path) -> str:
    """The suffix that names the format: `a.jsonl.gz` -> `.jsonl`."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> BinaryIO:
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def bounded_lines(fh: BinaryIO, max_bytes: int) -> Iterator[bytes | int]:
    """The file's lines, or for a line longer than `max_bytes` its length (an int), read in
    pieces and dropped: one huge line, or a gzip stream that expands to one, never sits in
    memory whole."""
    while True:
        line = fh.readline(max_bytes + 1)
        if not line:
            return
        if len(line) <= max_bytes or line.endswith(b"\n"):  # whole: at most max_bytes and its line end
            yield line
            continue
        size = len(line)
        while not line.endswith(b"\n"):
            line = fh.readline(max_bytes)
            if not line:
                break
            size += len(line)
        yield size


def iter_text_lines(path: Path, source: str, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, str] | Rejection]:
    """(line number, text without its line ending) or a Rejection for an undecodable line or
    one longer than `max_bytes`. A corrupt gzip stream ends the file with one rejection
    naming the line it reached."""
    with open_binary(path) as fh:
        line_no = 0
        try:
            for line_no, raw_bytes in enumerate(bounded_lines(fh, max_bytes), start=1):
                if isinstance(raw_bytes, int):
                    yield Rejection(source, line_no, "record.too_large", f"line of {raw_bytes} bytes; the limit is "
                                    f"{max_bytes} (setting LEPTON_MAX_RECORD_BYTES)", raw="")
                    continue
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
