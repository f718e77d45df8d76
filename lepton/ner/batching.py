"""Batches of windows: grouped by token length, padded only to the longest in the batch.

Length grouping follows transformers' LengthGroupedSampler (shuffle, cut into mega-batches,
sort each by length, shuffle the batches), but here it also serves evaluation (sorted,
unshuffled) and sharding of each global batch across distributed ranks, which the sampler
does not do: every rank walks the same global batches and takes its own slice, so N
processes see exactly the examples one process would in a step.
"""

from __future__ import annotations

import random

from lepton.ner.alignment import IGNORE, Window

MEGA_BATCHES = 50


def length_grouped(lengths: list[int], batch_size: int, rng: random.Random | None,
                   group: bool = True) -> list[list[int]]:
    """Index batches. With `rng`: shuffled within and across length groups; without:
    longest first (evaluation, where order does not matter and padding does)."""
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: -lengths[i])
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    if not group:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    span = batch_size * MEGA_BATCHES
    batches = []
    for m in range(0, len(order), span):
        mega = sorted(order[m:m + span], key=lambda i: -lengths[i])
        batches += [mega[i:i + batch_size] for i in range(0, len(mega), batch_size)]
    rng.shuffle(batches)
    return batches


def shard(batch: list[int], rank: int, world: int) -> list[int]:
    return batch[rank::world]


def collate(windows: list[Window], pad_id: int = 0, pad_to: int | None = None) -> dict:
    """Tensors padded to the longest window of this batch (or to `pad_to`)."""
    import torch

    width = pad_to or max(len(w.input_ids) for w in windows)

    def pad(seq, value):
        return seq + [value] * (width - len(seq))

    return {
        "input_ids": torch.tensor([pad(w.input_ids, pad_id) for w in windows]),
        "attention_mask": torch.tensor([pad(w.attention_mask, 0) for w in windows]),
        "labels": torch.tensor([pad(w.labels, IGNORE) for w in windows]),
    }
