"""Re-run the training of a registered model version from what was recorded about it, and
say whether the metrics come back. Lineage says which dataset version (and through it
which annotation snapshots) the model was trained on, pinned; the run's MLflow params hold
every hyperparameter, the seed, the base encoder, the git commit and the lock file's hash.
The dataset version is fetched from the DVC remote by its id and decrypted by the trainer."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from lepton.ner.config import TrainConfig, config_value
from lepton.ner.job import JobSpec, launch


def config_from_params(params: dict) -> dict:
    return {f.name: config_value(f.name, params[f.name]) for f in dataclasses.fields(TrainConfig) if f.name in params}


def from_lineage(lineage, name: str, version: int) -> dict:
    """The model version's training run, dataset version and annotation snapshots, as the
    lineage graph pinned them."""
    from lepton.lineage.queries import dataset_of_model

    node = f"model_version:{name}/{version}"
    walk = lineage.upstream(node)
    first = {}
    for _, n, _, _ in walk:
        first.setdefault(n.kind, n.name)
    return {"training_run": first.get("training_run"), "dataset_version": lineage.node(dataset_of_model(lineage, node)).name,
            "annotation_snapshots": sorted(n.name for _, n, _, _ in walk if n.kind == "annotation_batch")}


def reproduce(store, dvc, keyring, name: str, version: int, tolerance: float = 0.005, progress=None,
              lineage=None) -> dict:
    from lepton.ner.run import git_commit, lock_sha256

    client = store.client()
    mv = client.get_model_version(name, str(version))
    run = client.get_run(mv.run_id)
    params, recorded = run.data.params, run.data.metrics
    pinned = from_lineage(lineage, name, version) if lineage is not None else None
    dataset_version = (pinned or {}).get("dataset_version") or params["dataset_version"]
    # the head the run had, from its own label map: the schema file may have changed since
    import mlflow

    from lepton.annotation.schema import labels_of_tags

    labels = list(labels_of_tags(mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/label_map.json")["labels"]))
    with tempfile.TemporaryDirectory(prefix="lepton-reproduce-") as tmp:
        data = dvc.fetch_directory(dataset_version.removesuffix(".dir"), Path(tmp) / "dataset")
        spec = JobSpec(base_encoder=params["base_encoder"], config=config_from_params(params),
                       out_dir=str(Path(tmp) / "out"), dataset_dir=str(data), nproc=int(params.get("processes", 1)),
                       labels=labels)
        result = launch(spec, progress, keyring)
    metrics = {}
    for key, now in (("test_f1", result["test"]["f1"]), ("best_dev_f1", result["dev_f1"])):
        before = recorded.get(key)
        metrics[key] = {"recorded": before, "reproduced": now,
                        "difference": None if before is None else round(now - before, 6)}
    match = all(m["difference"] is not None and abs(m["difference"]) <= tolerance for m in metrics.values())
    current_commit, current_lock = git_commit(), lock_sha256()
    return {
        "model_version": f"{name}/{version}", "run_id": mv.run_id, "dataset_version": dataset_version,
        "seed": spec.config.get("seed"), "base_encoder": spec.base_encoder, "config": spec.config,
        "git_commit": {"recorded": params.get("git_commit"), "now": current_commit,
                       "same": params.get("git_commit") == current_commit},
        "lock_sha256": {"recorded": params.get("lock_sha256"), "now": current_lock,
                        "same": params.get("lock_sha256") == current_lock},
        "metrics": metrics, "tolerance": tolerance, "match": match,
        "lineage": None if pinned is None else {
            **pinned, "agrees_with_mlflow": pinned["dataset_version"] == params.get("dataset_version")
            and pinned["training_run"] == mv.run_id},
    }
