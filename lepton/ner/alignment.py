"""Character spans <-> sub-word labels for a fast tokenizer, in sliding windows.

The first sub-token of each word carries the word's tag and the others are ignored
(-100), so the loss and seqeval both count words, not sub-words (`label_subtokens="all"`
gives continuation sub-tokens the word's I- tag instead). A document longer than the
model's limit is cut into overlapping windows (the tokenizer's own overflow with a
stride), so no entity is cut off; each word is predicted from the window where it sits
furthest from an edge. Spans whose edges do not fall on word boundaries are reported,
never silently shifted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lepton.corpus.records import Span

IGNORE = -100


@dataclass
class Window:
    input_ids: list[int]
    attention_mask: list[int]
    labels: list[int]
    positions: list[tuple[int, int]]  # (word index in the document, token index of its first sub-token)


@dataclass
class Encoded:
    windows: list[Window]
    word_spans: list[tuple[int, int]] = field(default_factory=list)  # char offsets of each word
    word_labels: list[int] = field(default_factory=list)  # gold label id per word
    misaligned: list[Span] = field(default_factory=list)


def _inside(tag: str) -> str:
    return "I-" + tag[2:] if tag.startswith("B-") else tag


def encode(tokenizer, text: str, spans, label2id: dict[str, int], max_length: int, stride: int = 32,
           label_subtokens: str = "first") -> Encoded:
    enc = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=max_length,
                    stride=min(stride, max_length // 4), return_overflowing_tokens=True)
    n_windows = len(enc["input_ids"])
    word_char: dict[int, list[int]] = {}
    for w in range(n_windows):
        for tok, wid in enumerate(enc.word_ids(w)):
            if wid is None:
                continue
            s, e = enc["offset_mapping"][w][tok]
            if wid in word_char:
                word_char[wid][0], word_char[wid][1] = min(word_char[wid][0], s), max(word_char[wid][1], e)
            else:
                word_char[wid] = [s, e]
    words = sorted(word_char)
    index = {wid: i for i, wid in enumerate(words)}
    word_spans = [(word_char[w][0], word_char[w][1]) for w in words]
    starts = {s: i for i, (s, _) in enumerate(word_spans)}
    ends = {e: i for i, (_, e) in enumerate(word_spans)}
    tags = ["O"] * len(words)
    misaligned = []
    for sp in spans:
        if sp.start not in starts or sp.end not in ends:
            misaligned.append(sp)
            continue
        for k, i in enumerate(range(starts[sp.start], ends[sp.end] + 1)):
            tags[i] = ("B-" if k == 0 else "I-") + sp.label
    windows = []
    for w in range(n_windows):
        word_ids = enc.word_ids(w)
        labels, positions, seen = [IGNORE] * len(word_ids), [], set()
        for tok, wid in enumerate(word_ids):
            if wid is None:
                continue
            i = index[wid]
            if enc["offset_mapping"][w][tok][0] == word_spans[i][0] and i not in seen:
                labels[tok] = label2id[tags[i]]
                positions.append((i, tok))
                seen.add(i)
            elif label_subtokens == "all":
                labels[tok] = label2id[_inside(tags[i])]
        windows.append(Window(list(enc["input_ids"][w]), list(enc["attention_mask"][w]), labels, positions))
    return Encoded(windows=windows, word_spans=word_spans, word_labels=[label2id[t] for t in tags],
                   misaligned=misaligned)


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
