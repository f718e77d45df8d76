"""Document-level, seeded, label-stratified split.

A document (and every span in it) lands in exactly one split. Documents are grouped by
a stratum (by default the rarest label they contain) and each stratum is cut in the
same proportions, so a rare label is not left out of dev or test by chance. The same
records with the same seed always give the same split, whatever order they arrived in.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

SPLITS = ("train", "dev", "test")


def rarest_label_strata(labels_by_record: dict[str, list[str]]) -> dict[str, str]:
    freq = Counter(l for labels in labels_by_record.values() for l in set(labels))
    return {rid: (min(set(labels), key=lambda l: (freq[l], l)) if labels else "(none)")
            for rid, labels in labels_by_record.items()}


def _cut(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    if n < 3:
        return n, 0, 0
    # a split with a share gets at least one document of each stratum; one without (the test
    # split when the frozen evaluation set already fills it) gets none
    n_dev = max(1, round(n * fractions[1])) if fractions[1] > 0 else 0
    n_test = max(1, round(n * fractions[2])) if fractions[2] > 0 else 0
    return n - n_dev - n_test, n_dev, n_test


def split_records(record_ids: list[str], seed: int = 13,
                  fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  strata: dict[str, str] | None = None,
                  families: dict[str, str] | None = None,
                  held_out: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """`families`: record id -> a key shared by near-identical documents; a family lands
    in one split whole, so no near-duplicate leaks from train into dev or test.
    `held_out` (the frozen evaluation set): those records, with their families, go to test
    and count towards its share; the rest is split so that train and dev keep theirs."""
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    unique = set(record_ids)
    if len(unique) != len(record_ids):
        raise ValueError("record ids must be unique before splitting")
    if held_out & unique:
        family = (families or {}).get
        held = {family(rid, rid) for rid in held_out & unique}
        test = [rid for rid in unique if family(rid, rid) in held]
        others = [rid for rid in record_ids if family(rid, rid) not in held]
        left = max(round(fractions[2] * len(unique)) - len(test), 0) / len(unique)
        total = fractions[0] + fractions[1] + left
        rest = split_records(others, seed, (fractions[0] / total, fractions[1] / total, left / total),
                             strata, families) if others else {s: [] for s in SPLITS}
        rest["test"] = sorted(rest["test"] + test)
        return rest
    if families:
        members: dict[str, list[str]] = defaultdict(list)
        for rid in unique:
            members[families.get(rid, rid)].append(rid)
        heads = {min(ids): ids for ids in members.values()}
        by_head = split_records(list(heads), seed, fractions, strata)
        return {s: sorted(rid for head in ids for rid in heads[head]) for s, ids in by_head.items()}
    groups: dict[str, list[str]] = defaultdict(list)
    for rid in unique:
        groups[(strata or {}).get(rid, "")].append(rid)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    # Small strata would each round to zero; they are pooled so their documents still spread.
    pooled = [rid for g, ids in groups.items() if len(ids) < 3 for rid in ids]
    cut_groups = [ids for ids in groups.values() if len(ids) >= 3] + ([pooled] if pooled else [])
    for ids in cut_groups:
        order = sorted(ids, key=lambda rid: hashlib.sha256(f"{seed}:{rid}".encode()).digest())
        n_train, n_dev, _ = _cut(len(order), fractions)
        out["train"] += order[:n_train]
        out["dev"] += order[n_train:n_train + n_dev]
        out["test"] += order[n_train + n_dev:]
    return {s: sorted(ids) for s, ids in out.items()}
