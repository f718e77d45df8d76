"""One training run, end to end: dataset version in, MLflow run with a logged span model out."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from lepton.annotation.schema import bio_tags, schema_version
from lepton.crypto.keyring import Keyring
from lepton.datasets.version import MANIFEST, load_split
from lepton.ner.encoders import load_encoder
from lepton.ner.train import TrainConfig, encode_all, evaluate, train
from lepton.tracking.mlflow_store import MlflowStore

PIP_REQUIREMENTS = ["torch==2.13.0", "transformers>=5,<6", "mlflow==3.17.2"]


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


def train_and_log(dataset_dir: Path, dataset_version: str, keyring: Keyring, store: MlflowStore,
                  base_encoder: str, cfg: TrainConfig, tags: dict | None = None,
                  progress=None) -> dict:
    import mlflow

    labels = bio_tags()
    train_recs = load_split(dataset_dir, "train", keyring)
    dev_recs = load_split(dataset_dir, "dev", keyring)
    test_recs = load_split(dataset_dir, "test", keyring)
    manifest = json.loads((Path(dataset_dir) / MANIFEST).read_text())
    with tempfile.TemporaryDirectory(prefix="lepton-model-") as tmp:
        tokenizer, model = load_encoder(base_encoder, [r.text for r in train_recs], labels)
        with store.start_run(tags=tags) as run:
            mlflow.log_params({
                **cfg.to_params(),
                "base_encoder": base_encoder,
                "dataset_version": dataset_version,
                "label_schema_version": schema_version(),
                "train_docs": len(train_recs), "dev_docs": len(dev_recs), "test_docs": len(test_recs),
                "num_parameters": sum(p.numel() for p in model.parameters()),
            })
            mlflow.set_tags({"lepton.dataset_version": dataset_version,
                             "lepton.annotation_batches": ",".join(manifest["provenance"].get("annotation_batches", []))})
            result = train(model, tokenizer, train_recs, dev_recs, labels, cfg,
                           on_epoch=lambda epoch, m: mlflow.log_metrics(m, step=epoch), progress=progress)
            label2id = {l: i for i, l in enumerate(labels)}
            test_enc, test_align = encode_all(tokenizer, test_recs, label2id, cfg.max_length)
            test = evaluate(model, test_enc, dict(enumerate(labels)))
            mlflow.log_metrics({"test_precision": test["precision"], "test_recall": test["recall"],
                                "test_f1": test["f1"], "best_epoch": result.best_epoch})
            mlflow.log_dict({"dev": result.dev, "test": test, "alignment": {**result.alignment, "test": test_align}},
                            "evaluation.json")
            mlflow.log_figure(training_curve_figure(result.history), "training_curve.png")
            model_dir = Path(tmp) / "model"
            model.save_pretrained(model_dir)
            tokenizer.save_pretrained(model_dir)
            from lepton.ner.pyfunc import NerSpanModel

            info = mlflow.pyfunc.log_model(name="model", python_model=NerSpanModel(),
                                           artifacts={"model_dir": str(model_dir)},
                                           pip_requirements=PIP_REQUIREMENTS)
            return {
                "run_id": run.info.run_id,
                "model_uri": info.model_uri,
                "test": test,
                "dev_f1": result.dev.get("f1", 0.0),
                "best_epoch": result.best_epoch,
                "history": result.history,
                "alignment": {**result.alignment, "test": test_align},
            }
