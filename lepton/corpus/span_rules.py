"""The span rules a record must meet to be let in at all.

A bad span found only at the annotations gate fails its whole batch; found here, it sends
one record to the quarantine with the rule it broke and the rest of the file goes on. The
gate keeps the same rules for what people and models add later in Label Studio.
Details name span indices and offsets, never the text or a label (either may be personal).
"""

from __future__ import annotations

from lepton.corpus.records import Record


def span_problem(record: Record, labels=None) -> tuple[str, str] | None:
    """(rule, detail) for the first rule the record's spans break, or None. `labels`, a
    LabelSchema, judges label names (aliases and renames count as known; labels the schema
    removed are left to the gate, which refuses them with the schema's reason); without one
    labels are not judged here."""
    n = len(record.text)
    for i, sp in enumerate(record.spans):
        if sp.end <= sp.start:
            return "span.end_before_start", f"span {i}: end {sp.end} is not after start {sp.start}"
        if sp.start < 0 or sp.end > n:
            return "span.outside_text", f"span {i}: {sp.start}..{sp.end} is outside the text (length {n})"
        if labels is not None and sp.label not in labels.removed and labels.canonical(sp.label) is None:
            return ("span.unknown_label", f"span {i}: its label is neither in label schema {labels.version} "
                    "nor mapped by it")
    order = sorted(range(len(record.spans)), key=lambda i: (record.spans[i].start, record.spans[i].end))
    for a, b in zip(order, order[1:]):
        if record.spans[b].start < record.spans[a].end:
            first, second = sorted((a, b))
            return ("span.overlapping", f"spans {first} and {second} overlap "
                    f"({record.spans[first].start}..{record.spans[first].end}, "
                    f"{record.spans[second].start}..{record.spans[second].end})")
    return None
