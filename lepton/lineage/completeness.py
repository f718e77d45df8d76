"""Is the graph complete enough to promote a model? Every dataset version resolves to its
records (the ledger holds as many as the version says), every training run and model
version to a dataset version. Checked before a model becomes champion."""

from __future__ import annotations

from dataclasses import dataclass

from lepton.lineage.ledger import RecordLedger
from lepton.lineage.store import LineageStore


@dataclass(frozen=True)
class Gap:
    node: str
    rule: str

    def to_dict(self) -> dict:
        return {"node": self.node, "rule": self.rule}


def gaps(store: LineageStore, ledger: RecordLedger) -> list[Gap]:
    out = []
    for node in store.find("dataset_version"):
        counts = ledger.counts(node.node_id)
        if not counts:
            out.append(Gap(node.node_id, "dataset version resolves to no records in the ledger"))
            continue
        for split, n in counts.items():
            declared = node.attrs.get(f"rows_{split}")
            if declared is not None and declared != n:
                out.append(Gap(node.node_id, f"ledger holds {n} {split} records, the version declares {declared}"))
    for kind in ("training_run", "model_version"):
        for node in store.find(kind):
            if not any(n.kind == "dataset_version" for _, n, _, _ in store.upstream(node.node_id)):
                out.append(Gap(node.node_id, f"{kind.replace('_', ' ')} resolves to no dataset version"))
    return out
