"""Text cleaning that keeps annotation spans aligned.

Every change (NFC composition, removed control and zero-width characters, collapsed or
trimmed whitespace) is recorded in an offset map from original to cleaned positions,
and spans are moved through that map; a span that would become empty is reported, never
dropped or shifted silently. ZWJ and ZWNJ are kept: they carry meaning in emoji
sequences and in Persian and Indic scripts.

Most text needs nothing: a fast path returns it untouched with an identity map.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from lepton.corpus.records import Span

ZERO_WIDTH = {"\u200b", "\u2060", "\ufeff", "\u00ad", "\u180e"}  # ZWSP, WJ, BOM, soft hyphen, MVS
_NEEDS_WORK = re.compile(r"[\x00-\x1f\x7f-\x9f\u00a0\u00ad\u180e\u200b\u2060\ufeff\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|\s\s|^\s|\s$")


@dataclass
class Cleaned:
    text: str
    changes: Counter = field(default_factory=Counter)
    # start_map[i]: cleaned index of the first kept character at or after original i;
    # end_map[i]: cleaned index just after the last kept character before original i.
    start_map: list[int] | None = None
    end_map: list[int] | None = None

    @property
    def changed(self) -> bool:
        return self.start_map is not None

    def map_span(self, span: Span) -> Span | None:
        """The span in cleaned coordinates, or None if nothing of it is left."""
        if not self.changed or not 0 <= span.start < span.end < len(self.start_map):
            return span  # unchanged text, or an invalid span the validation gate will name
        start, end = self.start_map[span.start], self.end_map[span.end]
        if end <= start:
            return None
        return Span(start, end, span.label, self.text[start:end])


def _nfc_runs(text: str) -> list[tuple[int, str]] | None:
    """NFC per run of a base character and its combining marks, with each run's original
    start; None when composition crosses runs (e.g. Hangul jamo), where per-run offsets
    would be wrong — the caller then leaves the text unnormalised and says so."""
    runs, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text) or not unicodedata.combining(text[i]):
            runs.append((start, unicodedata.normalize("NFC", text[start:i])))
            start = i
    if "".join(r for _, r in runs) != unicodedata.normalize("NFC", text):
        return None
    return runs


def clean_text(text: str) -> Cleaned:
    if not _NEEDS_WORK.search(text) and (text.isascii() or unicodedata.is_normalized("NFC", text)):
        return Cleaned(text)
    if unicodedata.is_normalized("NFC", text):
        runs = [(i, c) for i, c in enumerate(text)]
    else:
        runs = _nfc_runs(text)
        if runs is None:
            runs = [(i, c) for i, c in enumerate(text)]
            changes_nfc = "nfc.skipped_cross_run_composition"
        else:
            changes_nfc = "nfc.composed"
    changes: Counter = Counter()
    if not unicodedata.is_normalized("NFC", text):
        changes[changes_nfc] += 1
    out: list[str] = []
    n = len(text)
    start_map = [0] * (n + 1)
    end_map = [0] * (n + 1)
    kept_at: list[int] = []  # cleaned index for each original index, -1 if removed
    ends = [r[0] for r in runs[1:]] + [n]
    pending_space = -1  # original index of a space that survives only if text follows
    for (orig, piece), orig_end in zip(runs, ends):
        first = piece[0] if piece else ""
        cat = unicodedata.category(first) if first else "Cn"
        if first in ZERO_WIDTH or (cat == "Cc" and not first.isspace()):
            changes["removed.control_or_zero_width"] += 1
            kept_at.extend([-1] * (orig_end - orig))
            continue
        if first.isspace():
            if out and pending_space < 0:
                pending_space = len(kept_at)
                kept_at.append(-1)
            else:
                changes["whitespace.collapsed"] += 1
                kept_at.append(-1)
            kept_at.extend([-1] * (orig_end - orig - 1))
            if first != " ":
                changes["whitespace.normalised"] += 1
            continue
        if pending_space >= 0:
            kept_at[pending_space] = len(out)
            out.append(" ")
            pending_space = -1
        kept_at.append(len(out))
        kept_at.extend([len(out)] * (orig_end - orig - 1))  # inside a composed run: its start
        out.append(piece)
    if pending_space >= 0:
        changes["whitespace.trimmed"] += 1
    if text[:1].isspace():
        changes["whitespace.trimmed"] += 1
    # positions in the cleaned string are counted in characters of the joined pieces
    lengths = [len(p) for p in out]
    offsets = [0] * (len(out) + 1)
    for k, ln in enumerate(lengths):
        offsets[k + 1] = offsets[k] + ln
    cleaned = "".join(out)
    if cleaned == text:
        return Cleaned(text, changes)  # identity: offsets unchanged
    nxt = len(cleaned)
    for i in range(n, -1, -1):
        if i < n and kept_at[i] >= 0:
            nxt = offsets[kept_at[i]]
        start_map[i] = nxt
    last = 0
    for i in range(0, n + 1):
        end_map[i] = last
        if i < n and kept_at[i] >= 0:
            last = offsets[kept_at[i] + 1]
    return Cleaned(cleaned, changes, start_map, end_map)
