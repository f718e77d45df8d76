"""The evaluation behind every promotion decision: the challenger and the champion predict
the same records (the frozen evaluation set's version in force) in the same process with the
same code, and `scoring.compare` turns their spans into the comparison the gate reads.

A workspace whose first dataset version was too small to freeze a set falls back to the
challenger's own test split, and the report says so: that is a weaker comparison, since the
champion may have trained on some of those records."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lepton.corpus.records import Record
from lepton.crypto.keyring import Keyring
from lepton.datasets.eval_set import load_records
from lepton.datasets.version import load_split
from lepton.promotion.policy import PromotionPolicy
from lepton.promotion.scoring import compare
from lepton.tracking.mlflow_store import MlflowStore


def evaluation_records(dvc, keyring: Keyring, fallback_dataset: str | None) -> tuple[dict, list[Record]]:
    """(what was scored on, its records)."""
    with tempfile.TemporaryDirectory(prefix="lepton-eval-") as tmp:
        frozen = load_records(dvc, keyring, Path(tmp))
        if frozen is not None:
            entry, records = frozen
            return {"kind": "frozen", "version": entry["version"], "records": len(records),
                    "merkle_root": entry["merkle_root"]}, records
        if fallback_dataset is None:
            raise LookupError("there is no frozen evaluation set and the challenger names no dataset version")
        folder = dvc.fetch_directory(fallback_dataset, Path(tmp) / "dataset")
        records = load_split(folder, "test", keyring)
        return {"kind": "test split (no frozen set yet)", "version": fallback_dataset, "records": len(records)}, records


def _spans(mlflow: MlflowStore, version: int, records: list[Record]) -> list[list[dict]]:
    return [p.spans for p in mlflow.load_predictor(version).predictions([r.text for r in records])]


def evaluate(mlflow: MlflowStore, dvc, keyring: Keyring, challenger: int, champion: int | None,
             policy: PromotionPolicy) -> dict:
    """The comparison report: what was scored, both versions' facts, and `scoring.compare`'s
    figures. A champion whose files an erasure deleted cannot be scored; it is named, and the
    challenger is scored alone."""
    ch = mlflow.version(challenger)
    cp = mlflow.version(champion) if champion is not None and champion != challenger else None
    scored_on, records = evaluation_records(dvc, keyring, ch["dataset_version"])
    champion_spans, note = None, ""
    if cp is not None and cp["files_deleted_by"]:
        note = f"champion v{cp['version']} cannot be scored: its files were deleted by erasure {cp['files_deleted_by']}"
    elif cp is not None:
        champion_spans = _spans(mlflow, cp["version"], records)
    figures = compare(records, _spans(mlflow, ch["version"], records), champion_spans,
                      sorted(set(ch["labels"]) | set(cp["labels"] if cp else [])), policy.bootstrap)
    return {"model": mlflow.model_name, "scored_on": scored_on, "challenger": ch,
            "champion": cp if champion_spans is not None else None, "note": note, **figures}
