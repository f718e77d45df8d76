"""Span rules that need more than one row, as plain numpy: used by the GX expectation and
by the benchmark's pandas reference alike, so both check the same thing."""

from __future__ import annotations

import numpy as np
import pandas as pd


def overlapping(record_ids, starts, ends) -> np.ndarray:
    """True for every span that shares a character with another span of its record.

    Sort by (record, start, end); a span overlaps an earlier one when the largest end seen
    so far in its record passes its start, and a later one when the next span of its record
    starts before it ends. Offsetting each record by a multiple of the longest offset makes
    one running maximum restart at every record, with no group-by."""
    codes = pd.factorize(pd.Series(record_ids), sort=False)[0].astype(np.int64)
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(ends, dtype=np.int64)
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((e, s, codes))
    c, ss, ee = codes[order], s[order], e[order]
    width = int(max(ee.max(initial=0), ss.max(initial=0), 0)) + 1 - min(int(ss.min(initial=0)), 0)
    base = c * width
    running = np.maximum.accumulate(base + ee)
    earlier = np.empty(n, dtype=np.int64)
    earlier[0] = -1
    earlier[1:] = running[:-1]
    bad = earlier > base + ss
    same_next = np.zeros(n, dtype=bool)
    same_next[:-1] = c[1:] == c[:-1]
    nxt = np.zeros(n, dtype=np.int64)
    nxt[:-1] = ss[1:]
    bad |= same_next & (nxt < ee)
    out = np.empty(n, dtype=bool)
    out[order] = bad
    return out
