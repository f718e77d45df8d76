"""Opening input files the way every reader needs: gzip by suffix, UTF-8 with or without a
BOM, any line ending, decoded line by line so one bad byte costs one record."""

from __future__ import annotations

import gzip
import re
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


_JSON_TOKEN = re.compile(rb'[\\"\[\]{},]')
_BACKSLASH, _QUOTE, _COMMA = 0x5C, 0x22, 0x2C
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


def json_items(fh: BinaryIO, max_bytes: int, chunk_size: int = 1 << 16) -> Iterator[bytes | int]:
    """The items of a file holding one JSON list (or the file itself when it holds one
    object), each as its raw bytes, or for an item longer than `max_bytes` its length (an
    int), dropped as it is read: a list of any size, or one huge item, never sits in memory
    whole. Only the structure is followed (strings, escapes, brackets and commas), so an
    item that is not valid JSON is still one item, for the caller to refuse, and the next
    one is found. Bytes before a list or object, or after its end, raise ValueError.

    By hand: the streaming parsers at hand (ijson's backends) build each string whole, so
    one gigabyte string would still be read into memory."""
    depth, in_string, skip, top = 0, False, -1, None
    buf, size, open_item, done = bytearray(), 0, False, False
    first = True
    while chunk := fh.read(chunk_size):
        if first:
            chunk, first = chunk.removeprefix(BOM), False
        start = 0  # where this chunk's part of the open item begins
        for m in _JSON_TOKEN.finditer(chunk):
            i = m.start()
            if i == skip:  # the character after a backslash inside a string
                continue
            c = chunk[i]
            if in_string:
                if c == _BACKSLASH:
                    skip = i + 1
                elif c == _QUOTE:
                    in_string = False
                continue
            if done or top is None and chunk[:i].strip():
                raise ValueError("not one JSON list or object")
            if c == _QUOTE:
                if top is None:
                    raise ValueError("not one JSON list or object")
                in_string = True
            elif c in _OPEN:
                if top is None:
                    top = c
                    open_item, start = True, (i + 1 if c == ord("[") else i)
                depth += 1
            elif c in _CLOSE:
                depth -= 1
                if depth == 0:
                    end = i if top == ord("[") else i + 1
                    item = _close(buf, size + end - start, chunk[start:end], max_bytes)
                    if item is not None:
                        yield item
                    open_item, done, buf, size = False, True, bytearray(), 0
            elif c == _COMMA and depth == 1 and top == ord("["):
                item = _close(buf, size + i - start, chunk[start:i], max_bytes)
                yield item if item is not None else b""
                buf, size, start = bytearray(), 0, i + 1
        if open_item:
            part = chunk[start:]
            size += len(part)
            if size <= max_bytes:
                buf += part
            else:
                buf.clear()
        skip = skip - len(chunk) if skip >= len(chunk) else -1
    if open_item or top is None:
        raise ValueError("the JSON ends before its list or object does" if top is not None else "no JSON list or object")


def _close(buf: bytearray, size: int, tail: bytes, max_bytes: int) -> bytes | int | None:
    """An item whose last part is `tail`: its bytes, its size when over the limit, or None
    for the empty space of an empty list."""
    if size > max_bytes:
        return size
    item = bytes(buf + tail)
    return item if item.strip() else None
