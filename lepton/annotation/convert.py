"""Label Studio results <-> spans, and character spans <-> token tags (IOB2).

Both directions are exact or loud: a span that does not match its text, or that cannot be
laid on token boundaries, is reported with the rule it broke and never shifted to fit.
Label Studio stores offsets in code points (as Python does) since its emoji fix; older
front ends counted UTF-16 code units, so a span whose text only matches under that
reading is repaired and reported as such rather than trusted silently.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field

from lepton.annotation.schema import FROM_NAME, TO_NAME, LabelSchema
from lepton.corpus.records import Span


@dataclass
class Problem:
    rule: str
    start: int
    end: int
    label: str
    detail: str = ""

    def to_dict(self) -> dict:
        return {"rule": self.rule, "start": self.start, "end": self.end, "label": self.label, "detail": self.detail}


def to_result(spans, scores: list[float] | None = None) -> list[dict]:
    """Spans as Label Studio `labels` results (a prediction's carry a per-span score)."""
    out = []
    for i, sp in enumerate(spans):
        start, end, label, text = ((sp.start, sp.end, sp.label, sp.text) if isinstance(sp, Span)
                                   else (sp["start"], sp["end"], sp["label"], sp.get("text")))
        item = {"id": secrets.token_hex(5), "from_name": FROM_NAME, "to_name": TO_NAME, "type": "labels",
                "value": {"start": start, "end": end, "labels": [label]}}
        if text is not None:
            item["value"]["text"] = text
        if scores is not None:
            item["score"] = float(scores[i])
        out.append(item)
    return out


def _utf16_to_codepoints(text: str, offset: int) -> int | None:
    units = 0
    for i, ch in enumerate(text):
        if units == offset:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text) if units == offset else None


@dataclass
class Parsed:
    spans: list[Span] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)   # every rule a span broke
    unusable: list[Problem] = field(default_factory=list)   # spans that cannot even be represented
    refused: list[Problem] = field(default_factory=list)    # spans of a label the schema removed
    mapped: Counter = field(default_factory=Counter)        # "OLD -> NEW": spans renamed or merged
    repaired: int = 0


REMOVED_RULE = "label removed from the schema"


def from_result(text: str, result: list[dict], schema: LabelSchema) -> Parsed:
    """Spans from one annotation's result, checked against the task text. A span that breaks
    a contract rule is kept as the annotator made it (and listed in `problems`), so the
    validation gate sees it and blocks the batch; one without integer offsets cannot be
    kept and makes its task unusable. The schema's declared renames are applied (and
    counted); a span of a label it removed is refused (and counted), never kept quietly."""
    out = Parsed()
    for item in result:
        if item.get("type") != "labels" or item.get("from_name") != FROM_NAME:
            continue  # other controls (comments, choices) carry no spans
        v = item.get("value", {})
        start, end, said = v.get("start"), v.get("end"), v.get("text")
        names = v.get("labels") or []
        label = "|".join(names)
        if not (isinstance(start, int) and isinstance(end, int)):
            out.unusable.append(Problem("integer start and end", -1, -1, label, f"start={start!r} end={end!r}"))
            continue
        if len(names) != 1:
            out.problems.append(Problem("exactly one label per span", start, end, label))
        elif label in schema.removed:
            out.refused.append(Problem(REMOVED_RULE, start, end, label,
                                       f"{label} was removed from label schema {schema.version}"))
            continue
        elif (canonical := schema.canonical(label)) is None:
            out.problems.append(Problem("label in the current schema", start, end, label))
        elif canonical != label:
            out.mapped[f"{label} -> {canonical}"] += 1
            label = canonical
        if not 0 <= start < end <= len(text):
            out.problems.append(Problem("0 <= start < end <= len(text)", start, end, label, f"len={len(text)}"))
        elif said is not None and text[start:end] != said:
            s16, e16 = _utf16_to_codepoints(text, start), _utf16_to_codepoints(text, end)
            if s16 is not None and e16 is not None and text[s16:e16] == said:
                start, end = s16, e16
                out.repaired += 1
            else:
                out.problems.append(Problem("span text equals text[start:end]", start, end, label,
                                            "offsets do not select the annotated text"))
        out.spans.append(Span(start, end, label, said if said is not None else text[start:end]))
    return out


# --- token level -----------------------------------------------------------------------

@dataclass
class TokenTags:
    tags: list[str]           # one IOB2 tag per token; special tokens (empty offsets) are "O"
    unaligned: list[Problem]  # spans that do not fall on token boundaries, or overlap another


def spans_to_token_tags(offsets: list[tuple[int, int]], spans) -> TokenTags:
    """Character spans onto the tokens of a fast tokenizer's offset mapping."""
    tags = ["O"] * len(offsets)
    real = [(i, s, e) for i, (s, e) in enumerate(offsets) if e > s]
    starts = {s: i for i, s, _ in reversed(real)}
    ends = {e: i for i, _, e in real}
    unaligned = []
    for sp in sorted(spans, key=lambda x: (x.start, x.end)):
        if sp.start not in starts or sp.end not in ends:
            unaligned.append(Problem("span edges on token boundaries", sp.start, sp.end, sp.label,
                                     "start" if sp.start not in starts else "end"))
            continue
        first, last = starts[sp.start], ends[sp.end]
        inside = [i for i, s, e in real if first <= i <= last]
        if any(tags[i] != "O" for i in inside):
            unaligned.append(Problem("no overlapping spans", sp.start, sp.end, sp.label))
            continue
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + sp.label
    return TokenTags(tags, unaligned)


def token_tags_to_spans(offsets: list[tuple[int, int]], tags: list[str], text: str) -> list[Span]:
    """IOB2 token tags back to character spans; an I- that does not continue a span of its
    label starts one (the lenient reading seqeval uses)."""
    out: list[list] = []
    cur = None
    for (s, e), tag in zip(offsets, tags):
        if e <= s:
            continue
        kind, _, label = tag.partition("-")
        if kind == "I" and cur is not None and cur[2] == label:
            cur[1] = e
            continue
        cur = None
        if kind in ("B", "I"):
            cur = [s, e, label]
            out.append(cur)
    return [Span(s, e, lab, text[s:e]) for s, e, lab in out]
