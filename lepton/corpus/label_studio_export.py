"""A Label Studio JSON export (Export -> JSON), so a team with an existing project brings
its annotations: one record per task, with the task's ground-truth annotation, else its
latest one that was not cancelled. Any labeling config with a `Labels` control over a
text field works (the control and field names are the exporting project's own).

JSON has no lines to point at: a record's `line` is the task's position in the export
(1-based), and each refusal names the task id too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, Span, record_id
from lepton.corpus.textio import MAX_RECORD_BYTES, json_items, open_binary


def _text(data: dict) -> str | None:
    if isinstance(data.get("text"), str):
        return data["text"]
    strings = [v for v in data.values() if isinstance(v, str)]
    return strings[0] if len(strings) == 1 else None


def _chosen(annotations: list) -> dict | None:
    live = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not live:
        return None
    truth = [a for a in live if a.get("ground_truth")]
    return max(truth or live, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0))


def parse_task(task, source: str, n: int) -> Record | Rejection:
    tid = task.get("id") if isinstance(task, dict) else None
    where = f"task {n}" + (f" (id {tid})" if tid is not None else "")

    def reject(rule: str, detail: str) -> Rejection:
        return Rejection(source=source, line=n, rule=rule, detail=f"{where}: {detail}",
                         raw=_raw(task))

    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        return reject("ls.not_task", "expected an object with 'data'")
    text = _text(task["data"])
    if text is None:
        return reject("text.missing", "data has no 'text' field (nor a single string field)")
    if not text.strip():
        return reject("text.empty", "data text is empty")
    chosen = _chosen(task.get("annotations") or [])
    if chosen is None:
        return reject("ls.not_annotated", "no annotation that was not cancelled")
    spans = []
    for i, r in enumerate(chosen.get("result") or []):
        if not isinstance(r, dict) or r.get("type") != "labels":
            continue  # choices, comments, relations carry no spans
        v = r.get("value") or {}
        start, end, labels = v.get("start"), v.get("end"), v.get("labels") or []
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            return reject("span.offsets_not_int", f"result {i}: 'start' and 'end' must be integers")
        if len(labels) != 1 or not isinstance(labels[0], str):
            return reject("span.label_missing", f"result {i}: exactly one label per span, got {len(labels)}")
        said = v.get("text")
        spans.append(Span(start, end, labels[0], said if isinstance(said, str) else None))
    return Record(record_id(text, source), source, n, text, tuple(sorted(spans, key=lambda s: (s.start, s.end))))


def _raw(task) -> str:
    """The task as JSON for the quarantine; empty when it is nested too deeply to write back."""
    try:
        return orjson.dumps(task).decode() if not isinstance(task, bytes) else ""
    except TypeError:
        return ""


def read_label_studio_export(path: Path, source: str, max_bytes: int = MAX_RECORD_BYTES
                             ) -> Iterator[Record | Rejection]:
    """Read a task at a time (textio.json_items), so an export of any size, or a gzip that
    expands to gigabytes, is never held whole: a task longer than `max_bytes` is refused as
    record.too_large as it is read, and a task that is not valid JSON costs that task only."""
    n = 0
    try:
        with open_binary(path) as fh:
            for n, item in enumerate(json_items(fh, max_bytes), start=1):
                if isinstance(item, int):
                    yield Rejection(source, n, "record.too_large", f"task {n} is {item} bytes; the limit is {max_bytes} "
                                    "(setting LEPTON_MAX_RECORD_BYTES)", raw="")
                    continue
                try:
                    task = orjson.loads(item)
                except orjson.JSONDecodeError as exc:  # also nesting deeper than orjson reads
                    yield Rejection(source, n, "ls.invalid_json", f"task {n} is not valid JSON ({exc})",
                                    raw=item.decode("utf-8", errors="replace"))
                    continue
                yield parse_task(task, source, n)
    except (ValueError, OSError, EOFError) as exc:  # not one list or object; a corrupt gzip stream
        yield Rejection(source, n + 1 if n else 0, "ls.invalid_json", "not a Label Studio JSON export"
                        + (f" after task {n}" if n else "") + f" ({exc})", raw="")
