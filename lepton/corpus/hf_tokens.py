"""Token/tag JSON lines, as Hugging Face datasets export them (`Dataset.to_json`): one
sentence per line, `{"tokens": [...], "ner_tags": [...]}`, the tags as strings ("B-PER")
or as integer ids whose names come from settings or from the `dataset_info.json` that
`save_to_disk` writes beside the data. Lepton's own `{"text", "spans"}` lines may share
the file: each line is read as what it is.

Tokens are joined with single spaces (as CoNLL files are), and tags are checked against
the declared scheme, so a broken tag sequence is refused with its line, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import orjson

from lepton.corpus.conll import TAG_RE, tags_to_spans, transition_error
from lepton.corpus.jsonl import parse_jsonl_line
from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, record_id
from lepton.corpus.textio import MAX_RECORD_BYTES, iter_text_lines

TAGS_FIELDS = ("ner_tags", "tags", "labels")


@lru_cache(maxsize=32)
def sidecar_tag_names(folder: str) -> tuple[str, ...]:
    """Tag names from a Hugging Face `dataset_info.json` beside the data, if there is one."""
    p = Path(folder) / "dataset_info.json"
    if not p.exists():
        return ()
    try:
        features = json.loads(p.read_text(encoding="utf-8")).get("features", {})
    except (OSError, ValueError):
        return ()
    for name in TAGS_FIELDS:
        f = features.get(name) or {}
        names = (f.get("feature") or {}).get("names") or f.get("names")
        if names:
            return tuple(names)
    return ()


def parse_token_line(obj: dict, raw: str, source: str, line_no: int, tag_names: tuple[str, ...],
                     scheme: str) -> Record | Rejection:
    def reject(rule: str, detail: str) -> Rejection:
        return Rejection(source=source, line=line_no, rule=rule, detail=detail, raw=raw)

    tokens = obj.get("tokens")
    field = next((f for f in TAGS_FIELDS if f in obj), None)
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return reject("tokens.not_list", "field 'tokens' must be a list of strings")
    if field is None:
        return reject("tags.missing", f"expected one of the fields {', '.join(TAGS_FIELDS)} beside 'tokens'")
    tags = obj[field]
    if not isinstance(tags, list) or len(tags) != len(tokens):
        return reject("tags.length_mismatch", f"'{field}' must be a list as long as 'tokens' ({len(tokens)})")
    if not [t for t in tokens if t.strip()]:
        return reject("text.empty", "no tokens")
    if any(not t.strip() or any(c.isspace() for c in t) for t in tokens):
        return reject("tokens.whitespace", "a token is empty or holds whitespace")
    names = []
    for i, t in enumerate(tags):
        if isinstance(t, bool) or not isinstance(t, (int, str)):
            return reject("tags.not_tag", f"tag {i} is neither a string nor an integer id")
        if isinstance(t, int):
            if not tag_names:
                return reject("tags.names_missing", "integer tags need their names: set LEPTON_TAG_NAMES or put "
                                                    "the dataset's dataset_info.json beside the file")
            if not 0 <= t < len(tag_names):
                return reject("tags.unknown_id", f"tag {i} is id {t}; the tag names have ids 0..{len(tag_names) - 1}")
            t = tag_names[t]
        if not TAG_RE.match(t):
            return reject("conll.bad_tag", f"tag {i} {t!r} is not O, B-X, I-X, E-X or S-X")
        if why := transition_error(names[-1] if names else "O", t, scheme):
            return reject("conll.invalid_transition", f"tag {i}: {why}")
        names.append(t)
    if scheme == "bioes" and names and names[-1][:1] in ("B", "I"):
        return reject("conll.invalid_transition", f"sentence ends inside a span ({names[-1]}) in BIOES")
    text, spans = tags_to_spans(tokens, names)
    return Record(record_id(text, source), source, line_no, text, tuple(spans))


def read_jsonl_any(path: Path, source: str, tag_names: tuple[str, ...] = (), scheme: str = "iob2",
                   max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    """Streams the file; blank lines are skipped and not counted as records."""
    names = tuple(tag_names) or sidecar_tag_names(str(Path(path).resolve().parent))
    for item in iter_text_lines(path, source, max_bytes):
        if isinstance(item, Rejection):
            yield item
            continue
        line_no, raw = item
        if not raw.strip():
            continue
        if '"tokens"' in raw:  # cheap test first: Lepton's own lines are parsed once, by their parser
            try:
                obj = orjson.loads(raw)
            except json.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and "tokens" in obj and "text" not in obj:
                yield parse_token_line(obj, raw, source, line_no, names, scheme)
                continue
        yield parse_jsonl_line(raw, source, line_no)
