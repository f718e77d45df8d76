"""The Dagster code location: assembles assets, checks, jobs and resources from settings.

`workspace.yaml` and `dagster asset materialize -m pipelines.definitions` load `defs`;
tests call `build_definitions` with their own settings.
"""

from __future__ import annotations

import dagster as dg

from assets.annotation import annotation_agreement, annotation_tasks, annotations
from assets.dataset import dataset_version
from assets.governance import clean_documents, pii_findings, sensitivity
from assets.inference import champion_model, predictions
from assets.ingestion import raw_documents
from assets.lineage import lineage_complete, lineage_graph
from assets.promotion import model_evaluation, promotion_gate
from assets.quarantine import quarantine
from assets.registry import registered_model
from assets.training import ner_model
from assets.validation import (
    annotations_contract,
    dataset_contract,
    dataset_splits_contract,
    label_drift,
    raw_documents_contract,
)
from lepton.packaged import shipped
from lepton.settings import Settings
from pipelines.annotation_sync import annotation_batch_job, annotation_sync
from pipelines.batches import dataset_and_model_job, ingest_batch_job, landing_sensor
from pipelines.champion import champion_watch
from pipelines.erasure import erasure_retrain
from pipelines.retention import retention_job, retention_schedule
from resources import (
    DvcResource,
    GovernanceResource,
    GreatExpectationsResource,
    IngestionResource,
    KeyringResource,
    LabelSchemaResource,
    LabelStudioResource,
    LineageResource,
    MlflowResource,
    TrainingResource,
    WorkspaceResource,
)

ASSETS = [raw_documents, quarantine, clean_documents, predictions, pii_findings, sensitivity, annotation_tasks, annotations,
          dataset_version, ner_model, lineage_graph, registered_model, model_evaluation]
CHECKS = [raw_documents_contract, annotations_contract, annotation_agreement, dataset_contract,
          dataset_splits_contract, label_drift, lineage_complete, promotion_gate]


def build_resources(s: Settings) -> dict:
    return {
        "workspace": WorkspaceResource(home=str(s.home), landing_url=s.landing_url,
                                       lock_wait_seconds=s.lock_wait_seconds),
        "lineage": LineageResource(url=s.lineage_url, events_file=str(s.layout.work.openlineage_events),
                                   workspace_home=str(s.home), lock_wait_seconds=s.lock_wait_seconds),
        "keyring": KeyringResource(key_file=str(s.key_file), keyring_path=str(s.layout.keyring)),
        "dvc": DvcResource(repo_dir=str(s.dvc_repo), remote_url=s.dvc_remote,
                           pipeline_file=str(shipped("dvc.yaml"))),
        "mlflow": MlflowResource(tracking_uri=s.mlflow_tracking_uri, experiment=s.mlflow_experiment,
                                 artifact_location=s.mlflow_artifact_location, model_name=s.model_name,
                                 promotion_policy=str(s.promotion_policy),
                                 prediction_model=s.prediction_model),
        "governance": GovernanceResource(policy_file=str(shipped("policy/sensitivity.yaml")),
                                         audit_log=str(s.layout.audit_log), key_file=str(s.key_file)),
        "ingestion": IngestionResource(csv_text_column=s.csv_text_column, csv_spans_column=s.csv_spans_column,
                                       text_mode=s.text_mode, conll_scheme=s.conll_scheme, conll_unit=s.conll_unit,
                                       tag_names=list(s.tag_names), formats=s.formats,
                                       max_record_bytes=s.max_record_bytes),
        "label_studio": LabelStudioResource.from_settings(s, dg.EnvVar("LABEL_STUDIO_URL"),
                                                          dg.EnvVar("LABEL_STUDIO_API_KEY")),
        "gx": GreatExpectationsResource(expectations_dir=str(shipped("expectations"))),
        "labels": LabelSchemaResource(schema_file=str(s.label_schema_file)),
        "training": TrainingResource(base_encoder=s.base_encoder, epochs=s.epochs, patience=s.patience,
                                     batch_size=s.batch_size, learning_rate=s.learning_rate, seed=s.seed,
                                     processes=s.train_processes,
                                     augment_copies=s.augment_copies, eval_set_policy=str(s.eval_set_policy)),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    s = settings or Settings.from_env()
    return dg.Definitions(
        # each asset links to its source file and line in the UI
        assets=[*dg.with_source_code_references(ASSETS), champion_model], asset_checks=CHECKS, jobs=[ingest_batch_job, annotation_batch_job, dataset_and_model_job, retention_job],
        schedules=[retention_schedule], sensors=[landing_sensor, annotation_sync, erasure_retrain, champion_watch],
        resources=build_resources(s),
        # None: Dagster's default, a process per step (run config may still choose in-process)
        executor=dg.in_process_executor if s.executor == "in_process" else None,
    )


defs = build_definitions()
