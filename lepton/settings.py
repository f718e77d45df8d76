"""Every setting in one place, read from the environment with embedded defaults under one
workspace folder, so a laptop needs no configuration and production changes URLs only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lepton.corpus.textio import MAX_RECORD_BYTES
from lepton.ner.config import default as train_default
from lepton.packaged import shipped
from lepton.workspace import Layout


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# The shipped label schema (PER, ORG, LOC, MISC) beside the code; LEPTON_LABEL_SCHEMA names another.
DEFAULT_LABEL_SCHEMA = shipped("policy/labels.yaml")
DEFAULT_EVAL_SET_POLICY = shipped("policy/eval_set.yaml")
DEFAULT_PROMOTION_POLICY = shipped("policy/promotion.yaml")


def _tag_names(value: str) -> tuple:
    """A comma-separated list, or a file with one name per line or a JSON list."""
    import json

    if value and Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8")
        return tuple(json.loads(text)) if text.lstrip().startswith("[") else tuple(
            n.strip() for n in text.splitlines() if n.strip())
    return tuple(n.strip() for n in value.split(",") if n.strip())


EXECUTORS = ("multiprocess", "in_process")


def _executor(value: str) -> str:
    if value not in EXECUTORS:
        raise ValueError(f"LEPTON_EXECUTOR={value!r}: expected one of {', '.join(EXECUTORS)}")
    return value


def _landing(value: str) -> str:
    return value if "://" in value else str(Path(value).resolve())


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_url: str  # a local folder or any universal-pathlib URL (s3://bucket/landing)
    lineage_url: str
    mlflow_tracking_uri: str
    mlflow_artifact_location: str
    mlflow_experiment: str
    model_name: str
    dvc_repo: Path
    dvc_remote: str
    key_file: Path
    base_encoder: str
    epochs: int
    batch_size: int
    learning_rate: float | None
    patience: int
    train_processes: int
    augment_copies: int
    seed: int
    label_schema_file: Path = DEFAULT_LABEL_SCHEMA
    eval_set_policy: Path = DEFAULT_EVAL_SET_POLICY
    promotion_policy: Path = DEFAULT_PROMOTION_POLICY  # the gate's floor and tolerances
    prediction_model: str = "@champion"  # or a pinned version: "3", "lepton-ner/3"
    csv_text_column: str = "text"
    csv_spans_column: str = "spans"
    text_mode: str = "line"
    conll_scheme: str = "iob2"
    conll_unit: str = "auto"          # a CoNLL record per document, per sentence, or as the file says
    tag_names: tuple = ()             # names of integer ner_tags (token/tag JSON lines), in id order
    formats: str = ""                 # more suffixes: ".txt=conll,.data=conll"
    max_record_bytes: int = MAX_RECORD_BYTES  # a line or record longer is refused as it is read
    ls_project: str = "Lepton NER"
    input_labels: str = "annotations"  # spans that arrive with the input: annotations | predictions | ignore
    min_agreement_f1: float = 0.8
    ls_retry_seconds: float = 120.0
    erasure_retrain: bool = False  # an erasure that taints a model also asks for a retraining run
    lock_wait_seconds: float = 600.0  # how long a run waits for an erasure, and an erasure for runs
    # how a run's steps execute: "multiprocess" (Dagster's default: a process per step, isolated
    # and parallel) or "in_process" (one process per run: no interpreter start per step, which
    # on a small machine costs more than the steps of a small batch)
    executor: str = "multiprocess"

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(_env("LEPTON_HOME", str(Path.cwd() / ".lepton"))).resolve()
        layout = Layout(home)
        return cls(
            home=home,
            landing_url=_landing(_env("LEPTON_LANDING", str(layout.landing))),
            lineage_url=_env("LEPTON_LINEAGE_URL", f"sqlite:///{layout.lineage_db}"),
            mlflow_tracking_uri=_env("MLFLOW_TRACKING_URI", f"sqlite:///{layout.mlflow_db}"),
            mlflow_artifact_location=_env("LEPTON_MLFLOW_ARTIFACTS", layout.mlflow_artifacts.as_uri()),
            mlflow_experiment=_env("LEPTON_MLFLOW_EXPERIMENT", "lepton-ner"),
            model_name=_env("LEPTON_MODEL_NAME", "lepton-ner"),
            dvc_repo=Path(_env("LEPTON_DVC_REPO", str(layout.dvc_repo))).resolve(),
            dvc_remote=_env("LEPTON_DVC_REMOTE", str(layout.dvc_remote)),
            key_file=Path(_env("LEPTON_KEY_FILE", str(layout.master_key))),
            base_encoder=_env("LEPTON_BASE_ENCODER", "tiny"),
            epochs=int(_env("LEPTON_EPOCHS", str(train_default("epochs")))),
            patience=int(_env("LEPTON_PATIENCE", str(train_default("patience")))),
            train_processes=int(_env("LEPTON_TRAIN_PROCESSES", "1")),
            augment_copies=int(_env("LEPTON_AUGMENT_COPIES", "0")),
            batch_size=int(_env("LEPTON_BATCH_SIZE", str(train_default("batch_size")))),
            learning_rate=float(_env("LEPTON_LEARNING_RATE", "0")) or None,
            seed=int(_env("LEPTON_SEED", str(train_default("seed")))),
            label_schema_file=Path(_env("LEPTON_LABEL_SCHEMA", str(DEFAULT_LABEL_SCHEMA))).resolve(),
            eval_set_policy=Path(_env("LEPTON_EVAL_SET_POLICY", str(DEFAULT_EVAL_SET_POLICY))).resolve(),
            prediction_model=_env("LEPTON_PREDICTION_MODEL", "@champion"),
            promotion_policy=Path(_env("LEPTON_PROMOTION_POLICY", str(DEFAULT_PROMOTION_POLICY))).resolve(),
            csv_text_column=_env("LEPTON_CSV_TEXT_COLUMN", "text"),
            csv_spans_column=_env("LEPTON_CSV_SPANS_COLUMN", "spans"),
            text_mode=_env("LEPTON_TEXT_MODE", "line"),
            conll_scheme=_env("LEPTON_CONLL_SCHEME", "iob2"),
            conll_unit=_env("LEPTON_CONLL_UNIT", "auto"),
            tag_names=_tag_names(_env("LEPTON_TAG_NAMES", "")),
            formats=_env("LEPTON_FORMATS", ""),
            max_record_bytes=int(_env("LEPTON_MAX_RECORD_BYTES", str(MAX_RECORD_BYTES))),
            ls_project=_env("LEPTON_LS_PROJECT", "Lepton NER"),
            input_labels=_env("LEPTON_INPUT_LABELS", "annotations"),
            min_agreement_f1=float(_env("LEPTON_MIN_AGREEMENT_F1", "0.8")),
            ls_retry_seconds=float(_env("LEPTON_LS_RETRY_SECONDS", "120")),
            erasure_retrain=_env("LEPTON_ERASURE_RETRAIN", "0").lower() in ("1", "true", "yes"),
            lock_wait_seconds=float(_env("LEPTON_LOCK_WAIT_SECONDS", "600")),
            executor=_executor(_env("LEPTON_EXECUTOR", "multiprocess")),
        )

    @property
    def landing_dir(self) -> Path:
        """The landing folder when it is local (sample data is written there)."""
        if "://" in self.landing_url:
            raise ValueError(f"the landing zone {self.landing_url} is not a local folder")
        return Path(self.landing_url)

    @property
    def layout(self) -> Layout:
        return Layout(self.home)

    @property
    def dagster_home(self) -> Path:
        return self.layout.dagster_home
