"""Document-level, seeded split: a document (and every span in it) lands in exactly one
split, and the same records with the same seed always give the same split, whatever
order they arrived in."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "dev", "test")


def split_records(record_ids: list[str], seed: int = 13,
                  fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    unique = sorted(set(record_ids))
    if len(unique) != len(record_ids):
        raise ValueError("record ids must be unique before splitting")
    order = sorted(unique, key=lambda rid: hashlib.sha256(f"{seed}:{rid}".encode()).digest())
    n = len(order)
    n_dev = max(1, round(n * fractions[1])) if n >= 3 else 0
    n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
    n_train = n - n_dev - n_test
    return {
        "train": order[:n_train],
        "dev": order[n_train:n_train + n_dev],
        "test": order[n_train + n_dev:],
    }
