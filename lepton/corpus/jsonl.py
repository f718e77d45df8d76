"""JSONL documents: one object per line, `{"text": str, "spans": [{"start","end","label"}]}`.

The reader checks structure only (types and presence). Whether a span makes sense
against its text is judged once for every format, by ingestion (lepton.corpus.span_rules),
which quarantines the record with the rule it broke.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson

from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, Span, record_id
from lepton.corpus.textio import MAX_RECORD_BYTES, iter_text_lines


def parse_jsonl_line(raw: str, source: str, line_no: int) -> Record | Rejection:
    def reject(rule: str, detail: str) -> Rejection:
        return Rejection(source=source, line=line_no, rule=rule, detail=detail, raw=raw)

    try:
        obj = orjson.loads(raw)
    except json.JSONDecodeError as exc:
        return reject("json.invalid", f"not valid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(obj, dict):
        return reject("json.not_object", f"expected an object, got {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str):
        return reject("text.missing", "field 'text' must be a string")
    if not text.strip():
        return reject("text.empty", "field 'text' is empty")
    raw_spans = obj.get("spans", [])
    if not isinstance(raw_spans, list):
        return reject("spans.not_list", "field 'spans' must be a list")
    spans = []
    for i, s in enumerate(raw_spans):
        if not isinstance(s, dict):
            return reject("span.not_object", f"span {i} is not an object")
        start, end, label = s.get("start"), s.get("end"), s.get("label")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            return reject("span.offsets_not_int", f"span {i}: 'start' and 'end' must be integers")
        if not isinstance(label, str):
            return reject("span.label_missing", f"span {i}: 'label' must be a string")
        span_text = s.get("text")
        if span_text is not None and not isinstance(span_text, str):
            return reject("span.text_not_string", f"span {i}: 'text' must be a string")
        spans.append(Span(start=start, end=end, label=label, text=span_text))
    return Record(
        record_id=record_id(text, source), source=source, line=line_no, text=text, spans=tuple(spans)
    )


def read_jsonl(path: Path, source: str, max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """Streams the file; blank lines are skipped and not counted as records."""
    for item in iter_text_lines(path, source, max_bytes):
        if isinstance(item, Rejection):
            yield item
            continue
        line_no, raw = item
        if raw.strip():
            yield parse_jsonl_line(raw, source, line_no)

