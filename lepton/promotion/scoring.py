"""Champion and challenger scored by one code path: entity precision, recall and F1 on exact
character spans (start, end, label), counted per document, so two models with different
tokenizers are measured alike, and bootstrap intervals come from resampling documents.

The interval on the difference is paired: each resample draws the same documents for both
models, so a shared hard document does not widen it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lepton.corpus.records import Record
from lepton.ner.evaluation import LENGTH_SLICES
from lepton.promotion.policy import Bootstrap

OVERALL = "*"


def _span_set(spans) -> set[tuple[int, int, str]]:
    out = set()
    for s in spans:
        if isinstance(s, dict):
            out.add((int(s["start"]), int(s["end"]), str(s["label"])))
        else:
            out.add((s.start, s.end, s.label))
    return out


def counts(gold: Sequence, pred: Sequence, labels: Sequence[str]) -> dict[str, np.ndarray]:
    """label (and OVERALL) -> an array (documents, 3) of true positives, false positives and
    false negatives."""
    keys = [OVERALL, *labels]
    out = {k: np.zeros((len(gold), 3), dtype=np.int64) for k in keys}
    for d, (g, p) in enumerate(zip(gold, pred)):
        gs, ps = _span_set(g), _span_set(p)
        for (_, _, label) in gs & ps:
            for k in (OVERALL, label):
                if k in out:
                    out[k][d, 0] += 1
        for (_, _, label) in ps - gs:
            for k in (OVERALL, label):
                if k in out:
                    out[k][d, 1] += 1
        for (_, _, label) in gs - ps:
            for k in (OVERALL, label):
                if k in out:
                    out[k][d, 2] += 1
    return out


def _f1(summed: np.ndarray) -> np.ndarray:
    tp, fp, fn = summed[..., 0], summed[..., 1], summed[..., 2]
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def _point(c: np.ndarray) -> dict:
    tp, fp, fn = (int(x) for x in c.sum(axis=0))
    return {"f1": round(float(_f1(c.sum(axis=0))), 4), "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0, "support": tp + fn}


def slices_of(records: Sequence[Record]) -> dict[str, list[int]]:
    """The same slices as training's report: by source file and by document length."""
    out: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        out.setdefault(f"source={rec.source}", []).append(i)
        for lo, hi, name in LENGTH_SLICES:
            if len(rec.text) >= lo and (hi is None or len(rec.text) < hi):
                out.setdefault(f"length={name}", []).append(i)
    return dict(sorted(out.items()))


def _compare_group(challenger: dict[str, np.ndarray], champion: dict[str, np.ndarray] | None, keys: list[str],
                   rows: np.ndarray, boot: Bootstrap, rng: np.random.Generator) -> dict[str, dict]:
    """Scores and intervals for `keys` over the documents `rows`, one resampling shared by all keys."""
    n = len(rows)
    draws = rows[rng.integers(0, n, size=(boot.samples, n))] if n else None
    alpha = (1 - boot.confidence) / 2
    out = {}
    for key in keys:
        ch = challenger[key][rows]
        entry = {"challenger": _point(ch)}
        boot_ch = _f1(challenger[key][draws].sum(axis=1)) if n else np.zeros(1)
        entry["challenger"]["ci"] = [round(float(np.quantile(boot_ch, alpha)), 4),
                                     round(float(np.quantile(boot_ch, 1 - alpha)), 4)]
        if champion is not None:
            cp = champion[key][rows]
            entry["champion"] = _point(cp)
            boot_cp = _f1(champion[key][draws].sum(axis=1)) if n else np.zeros(1)
            entry["champion"]["ci"] = [round(float(np.quantile(boot_cp, alpha)), 4),
                                       round(float(np.quantile(boot_cp, 1 - alpha)), 4)]
            delta = boot_ch - boot_cp
            entry["delta"] = round(entry["challenger"]["f1"] - entry["champion"]["f1"], 4)
            entry["delta_ci"] = [round(float(np.quantile(delta, alpha)), 4), round(float(np.quantile(delta, 1 - alpha)), 4)]
        out[key] = entry
    return out


def compare(records: Sequence[Record], challenger_spans: Sequence, champion_spans: Sequence | None,
            labels: Sequence[str], boot: Bootstrap) -> dict:
    """Overall, per label and per slice: each model's F1 with its interval and, with a
    champion, the difference and its paired interval."""
    gold = [r.spans for r in records]
    labels = sorted(set(labels) | {s.label for r in records for s in r.spans})
    ch = counts(gold, challenger_spans, labels)
    cp = counts(gold, champion_spans, labels) if champion_spans is not None else None
    rng = np.random.default_rng(boot.seed)
    every = np.arange(len(records))
    by_key = _compare_group(ch, cp, [OVERALL, *labels], every, boot, rng)
    slices = {}
    for name, rows in slices_of(records).items():
        [(_, entry)] = _compare_group(ch, cp, [OVERALL], np.asarray(rows), boot, rng).items()
        slices[name] = {**entry, "documents": len(rows)}
    return {"documents": len(records), "overall": by_key[OVERALL],
            "labels": {k: v for k, v in by_key.items() if k != OVERALL}, "slices": slices,
            "bootstrap": {"samples": boot.samples, "confidence": boot.confidence, "seed": boot.seed}}
