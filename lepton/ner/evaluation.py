"""Entity-level scores: seqeval in strict IOB2 mode (an entity counts only with exact
boundaries and type), per type, an entity-type confusion table, and the same scores per
slice (source file, document length), so a model that is good on average but bad on
one source shows it."""

from __future__ import annotations

from collections import Counter

from lepton.corpus.records import Record

LENGTH_SLICES = ((0, 80, "short (<80 chars)"), (80, 400, "medium (80-399 chars)"), (400, None, "long (400+ chars)"))


def _scores(gold: list[list[str]], pred: list[list[str]]) -> dict:
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    if not any(t != "O" for doc in gold for t in doc) and not any(t != "O" for doc in pred for t in doc):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_label": {}, "support": 0}
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    report = classification_report(gold, pred, output_dict=True, **kw)
    per_label = {k: {m: float(v[m]) for m in ("precision", "recall", "f1-score", "support")}
                 for k, v in report.items() if "avg" not in k}
    return {"precision": float(precision_score(gold, pred, **kw)), "recall": float(recall_score(gold, pred, **kw)),
            "f1": float(f1_score(gold, pred, **kw)), "per_label": per_label,
            "support": int(sum(v["support"] for v in per_label.values()))}


def entities(tags: list[str]) -> dict[tuple[int, int], str]:
    """(first word, last word) -> type, strict IOB2: an I- without its B- starts nothing."""
    out, start, kind = {}, None, None
    for i, tag in enumerate(tags + ["O"]):
        if start is not None and tag != f"I-{kind}":
            out[(start, i - 1)] = kind
            start = kind = None
        if tag.startswith("B-"):
            start, kind = i, tag[2:]
    return out


def confusion(gold: list[list[str]], pred: list[list[str]]) -> dict[str, dict[str, int]]:
    """gold type -> predicted type for entities with the same boundaries; "O" stands for
    no entity there (a missed gold entity, or a spurious predicted one)."""
    table: Counter = Counter()
    for g, p in zip(gold, pred):
        ge, pe = entities(g), entities(p)
        for span, kind in ge.items():
            table[(kind, pe.get(span, "O"))] += 1
        for span, kind in pe.items():
            if span not in ge:
                table[("O", kind)] += 1
    out: dict[str, dict[str, int]] = {}
    for (g, p), n in sorted(table.items()):
        out.setdefault(g, {})[p] = n
    return out


def evaluate_tags(gold: list[list[str]], pred: list[list[str]], records: list[Record] | None = None) -> dict:
    result = _scores(gold, pred)
    result["confusion"] = confusion(gold, pred)
    if records is not None:
        slices: dict[str, list[int]] = {}
        for i, rec in enumerate(records):
            slices.setdefault(f"source={rec.source}", []).append(i)
            for lo, hi, name in LENGTH_SLICES:
                if len(rec.text) >= lo and (hi is None or len(rec.text) < hi):
                    slices.setdefault(f"length={name}", []).append(i)
        result["slices"] = {name: {**{k: v for k, v in _scores([gold[i] for i in idx], [pred[i] for i in idx]).items()
                                      if k != "per_label"}, "documents": len(idx)}
                            for name, idx in sorted(slices.items())}
    return result
