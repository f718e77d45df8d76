"""CSV documents (a text column, an optional JSON spans column) and plain text (a document
per file or per line). Column names and the text mode come from settings, not code."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from lepton.corpus.jsonl import parse_jsonl_line
from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, record_id
from lepton.corpus.textio import MAX_RECORD_BYTES, iter_text_lines, open_binary


def read_csv(path: Path, source: str, text_column: str = "text", spans_column: str | None = "spans",
             delimiter: str = ",", max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """One record per data row; the line number is the row's first physical line. Bytes
    that are not UTF-8 are carried as surrogates so the row, not the file, is rejected. A
    field longer than `max_bytes` is refused (the csv module's field limit, which is one per
    process: set here for each file read)."""
    csv.field_size_limit(max_bytes)
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Rejection(source, 1, "csv.bad_header", str(exc), raw="")
            return
        if text_column not in header:
            shown = ",".join(header).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield Rejection(source, 1, "csv.missing_column", f"no column {text_column!r} in header {shown}", raw=shown)
            return
        ti = header.index(text_column)
        si = header.index(spans_column) if spans_column and spans_column in header else None
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                rule = "record.too_large" if "field larger than field limit" in str(exc) else "csv.malformed_row"
                yield Rejection(source, start, rule, f"{exc} (setting LEPTON_MAX_RECORD_BYTES)"
                                if rule == "record.too_large" else str(exc), raw="")
                continue
            raw_row = delimiter.join(row)
            if not any(cell.strip() for cell in row):
                continue
            if any("\udc80" <= ch <= "\udcff" for cell in row for ch in cell):
                yield Rejection(source, start, "encoding.not_utf8", "row holds bytes that are not UTF-8",
                                raw=raw_row.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
                continue
            if len(row) != len(header):
                yield Rejection(source, start, "csv.wrong_field_count",
                                f"{len(row)} fields, header has {len(header)}", raw=raw_row)
                continue
            spans = row[si] if si is not None and row[si].strip() else "[]"
            try:
                obj = {"text": row[ti], "spans": json.loads(spans)}
            except json.JSONDecodeError as exc:
                yield Rejection(source, start, "csv.spans_not_json", f"column {spans_column!r}: {exc.msg}", raw=raw_row)
                continue
            yield parse_jsonl_line(json.dumps(obj, ensure_ascii=False), source, start)


def read_text(path: Path, source: str, mode: str = "line",
              max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """`line`: every non-blank line is a document; `file`: the whole file is one."""
    if mode not in ("line", "file"):
        raise ValueError(f"plain-text mode must be 'line' or 'file', not {mode!r}")
    if mode == "line":
        for item in iter_text_lines(path, source, max_bytes):
            if isinstance(item, Rejection):
                yield item
            elif item[1].strip():
                yield Record(record_id(item[1], source), source, item[0], item[1], ())
        return
    lines, bad, size = [], None, 0
    for item in iter_text_lines(path, source, max_bytes):
        if isinstance(item, Rejection):
            bad = bad or item
        else:
            lines.append(item[1])
            size += len(item[1]) + 1
            if size > max_bytes:
                yield Rejection(source, 1, "record.too_large", f"the file is one document of more than {max_bytes} "
                                "bytes (setting LEPTON_MAX_RECORD_BYTES)", raw="")
                return
    if bad is not None:
        yield bad
    elif "\n".join(lines).strip():
        text = "\n".join(lines)
        yield Record(record_id(text, source), source, 1, text, ())
