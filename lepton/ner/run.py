"""One training run, end to end: dataset version in, MLflow run with a logged span model out."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

from lepton.annotation.schema import LabelSchema
from lepton.crypto.keyring import Keyring
from lepton.datasets.version import MANIFEST
from lepton.ner.config import TrainConfig
from lepton.ner.job import JobSpec, launch
from lepton.packaged import shipped
from lepton.tracking.mlflow_store import MlflowStore

PIP_REQUIREMENTS = ["torch==2.13.0", "transformers>=5,<6", "mlflow==3.17.2"]
# What the registry shows as the model's input example: one made-up sentence, no one's data.
INPUT_EXAMPLE = "Ana Silva joined Acme in Oslo last May."


def training_curve_figure(history: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(6, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", color="tab:red", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss")
    ax2 = ax1.twinx()
    ax2.plot(epochs, [h["dev_f1"] for h in history], "s-", color="tab:blue", label="dev entity F1")
    ax2.set_ylabel("dev entity F1")
    ax2.set_ylim(0, 1)
    fig.legend(loc="lower center", ncol=2)
    fig.tight_layout()
    return fig


def dvc_training_outputs(result: dict) -> dict[str, str]:
    """The metrics and plot files that dvc.yaml declares, from one training result."""
    test = result["test"]
    metrics = {"test": {k: round(test[k], 6) for k in ("precision", "recall", "f1")},
               "dev_f1": round(result["dev_f1"], 6), "best_epoch": result["best_epoch"],
               "mlflow_run_id": result["run_id"]}
    rows = ["epoch,train_loss,dev_f1"] + [f"{h['epoch']},{h['train_loss']:.6f},{h['dev_f1']:.6f}"
                                          for h in result["history"]]
    return {"metrics/ner.json": json.dumps(metrics, indent=1, sort_keys=True) + "\n",
            "plots/ner_training.csv": "\n".join(rows) + "\n"}


def confusion_figure(table: dict[str, dict[str, int]]):
    """Entity-type confusion (same boundaries); "O" is no entity: missed or spurious."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({g for g in table} | {p for row in table.values() for p in row}, key=lambda k: (k == "O", k))
    grid = [[table.get(g, {}).get(p, 0) for p in kinds] for g in kinds]
    fig, ax = plt.subplots(figsize=(1.1 * len(kinds) + 2, 1.0 * len(kinds) + 1.5))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for r, row in enumerate(grid):
        for c, n in enumerate(row):
            ax.text(c, r, str(n), ha="center", va="center", fontsize=8)
    ax.set_title("test entity-type confusion")
    fig.tight_layout()
    return fig


def lock_sha256() -> str:
    """The environment the run used, as the hash of requirements.lock."""
    lock = shipped("requirements.lock")
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else "unknown"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=shipped("."),
                              capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_training(store: MlflowStore, result: dict, spec: JobSpec, params: dict, tags: dict | None = None,
                 nested: bool = False, log_model: bool = True, dataset: dict | None = None) -> dict:
    """One MLflow run from a job's result: every hyperparameter, the inputs' ids, per-step
    and per-epoch metrics, the model in Hugging Face format (inside a span-returning pyfunc,
    with the test metrics attached to it as MLflow's LoggedModel), the label map, the
    classification report and the pictures. `dataset` (name, digest, local folder): the
    dataset version, logged as a digest-only MLflow input, since its content is encrypted."""
    import mlflow

    with store.start_run(tags=tags, nested=nested) as run:
        if dataset:
            import warnings

            from mlflow.data.dataset_source_registry import resolve_dataset_source
            from mlflow.data.meta_dataset import MetaDataset

            with warnings.catch_warnings():  # MLflow registers its local-folder source twice and says so
                warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
                source = resolve_dataset_source(dataset["source"])
            mlflow.log_input(MetaDataset(source, name=dataset["name"], digest=dataset["digest"]), context="training")
        mlflow.log_params({**spec.config, **params, "base_encoder": spec.base_encoder,
                           "tokenizer": result["tokenizer"], "learning_rate_used": result["learning_rate"],
                           "precision_used": result["precision"], "processes": result["world_size"],
                           "device": result["device"], "git_commit": git_commit(), "lock_sha256": lock_sha256(),
                           "train_docs": result["train_documents"], "train_windows": result["train_windows"],
                           "num_parameters": result["num_parameters"],
                           "augmentation": (result.get("augmentation") or {}).get("key", "none")})
        for s in result["steps"]:
            mlflow.log_metrics({k: v for k, v in s.items() if k != "step"}, step=s["step"])
        for h in result["history"]:
            mlflow.log_metrics({k: v for k, v in h.items() if k not in ("epoch", "step")}, step=h["epoch"])
        test = result["test"]
        scores = {"test_precision": test["precision"], "test_recall": test["recall"], "test_f1": test["f1"],
                  **{f"test_f1_{k}": v["f1-score"] for k, v in test["per_label"].items()}}
        mlflow.log_metrics({**scores, "best_epoch": result["best_epoch"], "best_dev_f1": result["dev_f1"],
                            "sentences_per_second": result["sentences_per_second"]})
        mlflow.log_dict({"dev": result["dev"], "test": test, "alignment": result["alignment"]}, "evaluation.json")
        mlflow.log_dict({"labels": result["labels"], "id2label": dict(enumerate(result["labels"]))}, "label_map.json")
        mlflow.log_text("\n".join(f"{k:>8} P {v['precision']:.4f} R {v['recall']:.4f} F1 {v['f1-score']:.4f} "
                                  f"n {int(v['support'])}" for k, v in sorted(test["per_label"].items()))
                        + f"\n   micro P {test['precision']:.4f} R {test['recall']:.4f} F1 {test['f1']:.4f}\n",
                        "classification_report.txt")
        import matplotlib.pyplot as plt

        for fig, name in ((training_curve_figure(result["history"]), "training_curve.png"),
                          (confusion_figure(test["confusion"]), "confusion_matrix.png")):
            mlflow.log_figure(fig, name)
            plt.close(fig)  # pyplot keeps every figure until closed: a sweep would pile them up
        # a sweep trial logs its figures, not its weights
        model = log_span_model(result["model_dir"]) if log_model else None
        if model is not None:
            mlflow.log_metrics(scores, model_id=model.model_id)
        return {**result, "run_id": run.info.run_id, "model_uri": model.model_uri if model else None,
                "model_id": model.model_id if model else None}


def log_span_model(model_dir: str):
    """The model in Hugging Face format inside the span-returning pyfunc, in the active run,
    with its signature (texts in: a list, or a frame with a `text` column) and an input
    example; MLflow's ModelInfo."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from lepton.ner.pyfunc import NerSpanModel

    return mlflow.pyfunc.log_model(name="model", python_model=NerSpanModel(), artifacts={"model_dir": model_dir},
                                   pip_requirements=PIP_REQUIREMENTS,
                                   signature=ModelSignature(inputs=Schema([ColSpec("string")])),
                                   input_example=[INPUT_EXAMPLE])


def log_ensemble_model(member_dirs: list[str], method: str):
    """An ensemble (lepton.ner.ensemble) in the active run, served like a single version."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from lepton.ner.pyfunc import EnsembleSpanModel

    return mlflow.pyfunc.log_model(name="model", python_model=EnsembleSpanModel(method),
                                   artifacts={f"member_{i}": d for i, d in enumerate(member_dirs)},
                                   pip_requirements=PIP_REQUIREMENTS,
                                   signature=ModelSignature(inputs=Schema([ColSpec("string")])),
                                   input_example=[INPUT_EXAMPLE])


def train_and_log(dataset_dir: Path, dataset_version: str, keyring: Keyring, store: MlflowStore,
                  base_encoder: str, cfg: TrainConfig, schema: LabelSchema, tags: dict | None = None,
                  progress=None, nproc: int = 1, augment: dict | None = None) -> dict:
    """The model's head has the schema's labels, in its order."""
    manifest = json.loads((Path(dataset_dir) / MANIFEST).read_text())
    with tempfile.TemporaryDirectory(prefix="lepton-model-") as tmp:
        spec = JobSpec(base_encoder=base_encoder, config=cfg.to_params(), out_dir=tmp,
                       dataset_dir=str(dataset_dir), nproc=nproc, augment=augment, labels=list(schema.names))
        result = launch(spec, progress, keyring)
        tags = {**(tags or {}), "lepton.dataset_version": dataset_version,
                "lepton.dataset_merkle_root": manifest.get("merkle_root", ""),
                "lepton.annotation_batches": ",".join(manifest["provenance"].get("annotation_batches", [])),
                "lepton.lineage_node": f"dataset_version:{dataset_version}",
                "lepton.label_schema_version": schema.version,
                "lepton.dataset_label_schema_version": manifest["provenance"].get("label_schema_version", "")}
        return log_training(store, result, spec, {"dataset_version": dataset_version,
                                                  "label_schema_version": schema.version,
                                                  "dataset_key_id": manifest.get("key_id", "")}, tags,
                            dataset={"name": manifest["dataset"], "digest": dataset_version, "source": str(dataset_dir)})
