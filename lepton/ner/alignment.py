"""Character spans <-> sub-word labels for a fast tokenizer.

The first sub-token of each word carries the word's tag and the others are ignored
(-100), so the loss and seqeval both count words, not sub-words. Spans whose edges do
not fall on word boundaries are reported, never silently shifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lepton.corpus.records import Span

IGNORE = -100


@dataclass
class Encoded:
    input_ids: list[int]
    attention_mask: list[int]
    labels: list[int]
    word_starts: list[int] = field(default_factory=list)  # token index of each word's first sub-token
    word_spans: list[tuple[int, int]] = field(default_factory=list)  # char offsets of each word
    misaligned: list[Span] = field(default_factory=list)
    truncated: list[Span] = field(default_factory=list)


def encode(tokenizer, text: str, spans: tuple[Span, ...] | list[Span], label2id: dict[str, int],
           max_length: int) -> Encoded:
    enc = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=max_length)
    offsets = enc["offset_mapping"]
    word_ids = enc.word_ids()
    word_first: dict[int, int] = {}
    word_char: dict[int, list[int]] = {}
    for tok, wid in enumerate(word_ids):
        if wid is None:
            continue
        s, e = offsets[tok]
        if wid not in word_first:
            word_first[wid] = tok
            word_char[wid] = [s, e]
        else:
            word_char[wid][1] = e
    words = sorted(word_first)
    starts = {word_char[w][0]: w for w in words}
    ends = {word_char[w][1]: w for w in words}
    covered_until = word_char[words[-1]][1] if words else 0
    tags = {w: "O" for w in words}
    misaligned, truncated = [], []
    for sp in spans:
        if sp.end > covered_until:
            truncated.append(sp)
            continue
        if sp.start not in starts or sp.end not in ends:
            misaligned.append(sp)
            continue
        inside = [w for w in words if sp.start <= word_char[w][0] < sp.end]
        for k, w in enumerate(inside):
            tags[w] = ("B-" if k == 0 else "I-") + sp.label
    labels = [IGNORE] * len(word_ids)
    for w in words:
        labels[word_first[w]] = label2id[tags[w]]
    return Encoded(
        input_ids=list(enc["input_ids"]), attention_mask=list(enc["attention_mask"]), labels=labels,
        word_starts=[word_first[w] for w in words], word_spans=[tuple(word_char[w]) for w in words],
        misaligned=misaligned, truncated=truncated,
    )


def tags_to_char_spans(tags: list[str], word_spans: list[tuple[int, int]], text: str,
                       scores: list[float] | None = None) -> list[dict]:
    """Word-level IOB2 tags back to character spans; an I- that does not continue a span
    of its label starts one (the lenient reading seqeval uses too)."""
    out, cur = [], None
    for i, (tag, (s, e)) in enumerate(zip(tags, word_spans)):
        kind, _, label = tag.partition("-")
        if kind == "I" and cur is not None and cur["label"] == label:
            cur["end"] = e
            cur["_scores"].append(scores[i] if scores else 1.0)
            continue
        if cur is not None:
            out.append(cur)
            cur = None
        if kind in ("B", "I"):
            cur = {"start": s, "end": e, "label": label, "_scores": [scores[i] if scores else 1.0]}
    if cur is not None:
        out.append(cur)
    for sp in out:
        sc = sp.pop("_scores")
        sp["text"] = text[sp["start"]:sp["end"]]
        sp["score"] = round(min(sc), 4)
    return out
