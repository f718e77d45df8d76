"""CoNLL token files (IOB2 tags in the last column).

A record is a document (delimited by `-DOCSTART-` lines) or a sentence (delimited by
blank or whitespace-only lines), by `unit`; "auto" takes documents when the file starts
with `-DOCSTART-` and sentences otherwise. Columns are separated by tabs or spaces and
the tag is the last one (CoNLL-2003 has four). CoNLL keeps no original spacing, so text is rebuilt
by joining tokens with single spaces and spans are computed on that text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from lepton.corpus.quarantine import Rejection
from lepton.corpus.records import Record, Span, record_id
from lepton.corpus.textio import MAX_RECORD_BYTES, iter_text_lines

TOKEN_RE = re.compile(r"\w+(?:['\-.&]\w+)*|[^\w\s]")
TAG_RE = re.compile(r"^(O|[BIES]-[A-Za-z_][\w-]*)$")
SCHEMES = ("iob2", "iob1", "bioes")
UNITS = ("auto", "document", "sentence")
DOCSTART = "-DOCSTART-"


def tokenize(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def spans_to_tags(text: str, spans: Iterable[Span]) -> list[tuple[str, str]]:
    """Tokens with IOB2 tags; raises if a span does not fall on token boundaries."""
    toks = tokenize(text)
    tags = ["O"] * len(toks)
    starts = {s: i for i, (s, _) in enumerate(toks)}
    ends = {e: i for i, (_, e) in enumerate(toks)}
    for sp in spans:
        if sp.start not in starts or sp.end not in ends:
            raise ValueError(f"span {sp.start}-{sp.end} ({sp.label}) is not on token boundaries")
        first, last = starts[sp.start], ends[sp.end]
        tags[first] = f"B-{sp.label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{sp.label}"
    return [(text[s:e], tag) for (s, e), tag in zip(toks, tags)]


def write_conll(docs: Iterable[tuple[str, list[Span]]], path: Path) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for text, spans in docs:
            fh.write(f"{DOCSTART} -X- -X- O\n\n")
            for tok, tag in spans_to_tags(text, spans):
                fh.write(f"{tok}\t{tag}\n")
            fh.write("\n")
            n += 1
    return n


def tags_to_spans(tokens: list[str], tags: list[str]) -> tuple[str, list[Span]]:
    """Joins tokens with spaces. B- and S- start a span, I- and E- continue one of the same
    label (or start one, for IOB1), S- and E- close it."""
    parts, spans = [], []
    pos, cur = 0, None  # cur = [start, end, label]
    for tok, tag in zip(tokens, tags):
        if parts:
            pos += 1
        start, end = pos, pos + len(tok)
        parts.append(tok)
        pos = end
        kind, _, label = tag.partition("-")
        if kind in ("I", "E") and cur is not None and cur[2] == label:
            cur[1] = end
        else:
            if cur is not None:
                spans.append(Span(*cur))
                cur = None
            if kind != "O":
                cur = [start, end, label]
        if kind in ("S", "E") and cur is not None:
            spans.append(Span(*cur))
            cur = None
    if cur is not None:
        spans.append(Span(*cur))
    text = " ".join(parts)
    return text, [Span(s.start, s.end, s.label, text[s.start:s.end]) for s in spans]


def transition_error(prev: str, tag: str, scheme: str) -> str | None:
    """Why `tag` may not follow `prev` under the scheme, or None if it may."""
    pk, _, pl = prev.partition("-")
    k, _, label = tag.partition("-")
    if scheme == "iob1":
        return None if k in ("O", "B", "I") else f"{k}- tags are not IOB1"
    if scheme == "iob2":
        if k in ("E", "S"):
            return f"{k}- tags are not IOB2"
        if k == "I" and not (pk in ("B", "I") and pl == label):
            return f"I-{label} must follow B-{label} or I-{label} in IOB2, not {prev}"
        return None
    # bioes
    open_span = pk in ("B", "I")
    if open_span and not (k in ("I", "E") and pl == label):
        return f"{prev} must be followed by I-{pl} or E-{pl} in BIOES, not {tag}"
    if not open_span and k in ("I", "E"):
        return f"{tag} must follow B-{label} or I-{label} in BIOES, not {prev}"
    return None


def read_conll(path: Path, source: str, scheme: str = "iob2", unit: str = "auto",
               max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Record | Rejection]:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown CoNLL tag scheme {scheme!r}; expected one of {SCHEMES}")
    if unit not in UNITS:
        raise ValueError(f"unknown CoNLL record unit {unit!r}; expected one of {UNITS}")
    doc_mode: bool | None = {"auto": None, "document": True, "sentence": False}[unit]
    tokens: list[str] = []
    tags: list[str] = []
    raw_lines: list[str] = []
    doc_line = 0
    error: tuple[int, str, str] | None = None
    prev_tag = "O"

    def flush() -> Iterator[Record | Rejection]:
        nonlocal tokens, tags, raw_lines, error, prev_tag
        prev_tag = "O"
        raw = "\n".join(raw_lines)
        if error is None and scheme == "bioes" and tags and tags[-1].partition("-")[0] in ("B", "I"):
            error = (doc_line, "conll.invalid_transition", f"document ends inside a span ({tags[-1]}) in BIOES")
        if error is not None:
            line_no, rule, detail = error
            yield Rejection(source, line_no, rule, detail, raw=raw)
        elif tokens:
            text, spans = tags_to_spans(tokens, tags)
            yield Record(record_id(text, source), source, doc_line, text, tuple(spans))
        tokens, tags, raw_lines, error = [], [], [], None

    for item in iter_text_lines(path, source, max_bytes):
        if isinstance(item, Rejection):
            yield from flush()
            yield item
            continue
        line_no, line = item
        stripped = line.strip()
        if doc_mode is None and stripped:
            doc_mode = stripped.startswith(DOCSTART)
        if stripped.startswith(DOCSTART):
            yield from flush()
            doc_line = line_no
            continue
        if not stripped:
            prev_tag = "O"  # a span never crosses a sentence boundary
            if not doc_mode:
                yield from flush()
            continue
        if not raw_lines and (not doc_mode or doc_line == 0):  # a record without -DOCSTART- starts at its first token
            doc_line = line_no
        raw_lines.append(line)
        cols = stripped.split()
        if error is not None:
            continue
        if len(cols) < 2:
            error = (line_no, "conll.missing_tag", "expected a token and a tag separated by whitespace")
        elif not TAG_RE.match(cols[-1]):
            error = (line_no, "conll.bad_tag", f"tag {cols[-1]!r} is not O, B-X, I-X, E-X or S-X")
        elif why := transition_error(prev_tag, cols[-1], scheme):
            error = (line_no, "conll.invalid_transition", why)
        else:
            tokens.append(cols[0])
            tags.append(cols[-1])
            prev_tag = cols[-1]
    yield from flush()
