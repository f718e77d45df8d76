"""Agreement between annotators of the same task, and the rule that settles their conflicts.

Rule (in this order, recorded per task):
1. reviewer: an annotation marked ground truth in Label Studio (a reviewer's) wins; the
   latest such one if there are several;
2. single / unanimous: one annotation, or all annotations agree;
3. majority: the spans that a strict majority of annotators marked;
4. latest: with no strict majority (two annotators who disagree, or a tie), the most
   recently updated annotation wins.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from lepton.corpus.records import Span

_TOKEN = re.compile(r"\S+")


def _key(spans) -> frozenset:
    return frozenset((s.start, s.end, s.label) for s in spans)


def entity_f1(a, b) -> float:
    """Exact-match entity F1 between two annotators (symmetric); two empty annotations agree."""
    ka, kb = _key(a), _key(b)
    if not ka and not kb:
        return 1.0
    return 2 * len(ka & kb) / (len(ka) + len(kb))


def token_labels(text: str, spans) -> list[str]:
    """The label of each whitespace token (O outside every span): the units kappa counts."""
    out = []
    for m in _TOKEN.finditer(text):
        lab = "O"
        for s in spans:
            if s.start <= m.start() < s.end:
                lab = s.label
                break
        out.append(lab)
    return out


def cohen_kappa(a: list[str], b: list[str]) -> float:
    from sklearn.metrics import cohen_kappa_score

    if not a:
        return 1.0
    if len(set(a) | set(b)) == 1:
        return 1.0  # both said the same single thing everywhere: kappa is undefined, agreement is total
    k = float(cohen_kappa_score(a, b))
    return 1.0 if math.isnan(k) else k


@dataclass
class Vote:
    annotation_id: int
    annotator: str
    updated_at: str
    ground_truth: bool
    spans: list[Span]


@dataclass
class Resolution:
    spans: list[Span]
    rule: str
    conflict: bool
    winner: int | None  # the annotation id whose spans were taken, when one was


def resolve(votes: list[Vote]) -> Resolution:
    votes = sorted(votes, key=lambda v: (v.updated_at, v.annotation_id))
    reviewed = [v for v in votes if v.ground_truth]
    conflict = len({_key(v.spans) for v in votes}) > 1
    if reviewed and len(votes) > 1:
        return Resolution(reviewed[-1].spans, "reviewer", conflict, reviewed[-1].annotation_id)
    if not conflict:
        return Resolution(votes[-1].spans, "single" if len(votes) == 1 else "unanimous", False,
                          votes[-1].annotation_id)
    counts = Counter(k for v in votes for k in _key(v.spans))
    n = len(votes)
    if not any(2 * c == n for c in counts.values()):
        chosen = {k for k, c in counts.items() if 2 * c > n}
        by_key = {(s.start, s.end, s.label): s for v in votes for s in v.spans}
        return Resolution(sorted((by_key[k] for k in chosen), key=lambda s: (s.start, s.end)), "majority", True, None)
    return Resolution(votes[-1].spans, "latest", True, votes[-1].annotation_id)


@dataclass
class Agreement:
    tasks: int            # tasks with two or more annotations
    pairs: int
    entity_f1: float      # mean over annotator pairs
    token_kappa: float    # over the pooled tokens of every pair

    def to_dict(self) -> dict:
        return {"tasks_multi_annotated": self.tasks, "pairs": self.pairs,
                "entity_f1": round(self.entity_f1, 4), "token_kappa": round(self.token_kappa, 4)}


def agreement(tasks: list[tuple[str, list[Vote]]]) -> Agreement:
    """`tasks`: (text, votes) per task; only tasks with several annotations count."""
    f1s, ta, tb, multi = [], [], [], 0
    for text, votes in tasks:
        if len(votes) < 2:
            continue
        multi += 1
        for a, b in combinations(votes, 2):
            f1s.append(entity_f1(a.spans, b.spans))
            ta += token_labels(text, a.spans)
            tb += token_labels(text, b.spans)
    if not f1s:
        return Agreement(0, 0, 1.0, 1.0)
    return Agreement(multi, len(f1s), sum(f1s) / len(f1s), cohen_kappa(ta, tb))
