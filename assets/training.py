from pathlib import Path

import dagster as dg

from lepton.ner.run import dvc_training_outputs, train_and_log
from lepton.validation.gates import not_passed
from resources import (
    DvcResource,
    GreatExpectationsResource,
    KeyringResource,
    LabelSchemaResource,
    LineageResource,
    MlflowResource,
    TrainingResource,
)

CODE_VERSION = "training-1"


class DatasetNotValidated(Exception):
    pass


@dg.asset(
    group_name="training", kinds={"pytorch", "mlflow"}, owners=["team:ml"],
    code_version=CODE_VERSION,
    description="Fine-tunes a transformers token-classification model on the dataset version; params, "
                "per-epoch metrics, seqeval entity P/R/F1, a training curve and the span model go to MLflow.",
)
def ner_model(context: dg.AssetExecutionContext, dataset_version: dict, keyring: KeyringResource,
              mlflow: MlflowResource, training: TrainingResource, lineage: LineageResource,
              dvc: DvcResource, gx: GreatExpectationsResource, labels: LabelSchemaResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        # The blocking dataset check stops this asset within a run; this guard covers later
        # runs and backfills, which could otherwise train on a version whose contract failed.
        stage = step.stage
        missing = not_passed(lineage.store, dataset_version["version"], gx.dataset_keys())
        if missing:
            raise DatasetNotValidated(f"dataset version {dataset_version['version']} has no passing dataset_contract / "
                                      f"dataset_splits_contract check ({', '.join(missing)}); see the checks' findings, "
                                      "fix the data and rebuild the dataset")
        store = mlflow.store()
        schema = labels.schema()
        if dataset_version.get("label_schema_version") not in (None, schema.version):
            context.log.warning(f"dataset version {dataset_version['version']} was built under label schema "
                                f"{dataset_version['label_schema_version']}; the model's head follows the current "
                                f"schema {schema.version} ({', '.join(schema.names)})")
        result = train_and_log(
            Path(dataset_version["path"]), dataset_version["version"], keyring.keyring(), store,
            training.base_encoder, training.config(), schema,
            tags={"dagster.run_id": context.run.run_id, "dagster.asset": "ner_model"},
            progress=context.log.info, nproc=training.processes, augment=training.augmentation(),
        )
        run = store.client().get_run(result["run_id"])
        dvc_store = dvc.store()
        for rel_path, text in dvc_training_outputs(result).items():  # read by `dvc metrics/plots show`
            dvc_store.write_text(rel_path, text)
        test = result["test"]
        node = stage.add_training_run(
            result["run_id"], dataset_version["version"], base_encoder=training.base_encoder,
            test_f1=round(test["f1"], 4), best_epoch=result["best_epoch"], augmentation=result["augmentation"],
            label_schema=schema.version)
        return dg.Output(
            {"run_id": result["run_id"], "model_uri": result["model_uri"], "model_id": result["model_id"],
             "test_f1": test["f1"],
             "dataset_version": dataset_version["version"], "label_schema_version": schema.version,
             "labels": list(schema.names)},
            metadata={
                "mlflow_run": dg.MetadataValue.url(mlflow.run_url(run.info.experiment_id, result["run_id"])),
                "mlflow_run_id": result["run_id"],
                "model_uri": result["model_uri"],
                "base_encoder": training.base_encoder,
                "test_f1": dg.MetadataValue.float(test["f1"]),
                "test_precision": dg.MetadataValue.float(test["precision"]),
                "test_recall": dg.MetadataValue.float(test["recall"]),
                "dev_f1": dg.MetadataValue.float(result["dev_f1"]),
                "best_epoch": result["best_epoch"],
                "epochs_run": result["epochs_run"],
                "stopped_early": result["stopped_early"],
                "learning_rate": result["learning_rate"],
                "precision": result["precision"],
                "processes": result["world_size"],
                "sentences_per_second": result["sentences_per_second"],
                "augmentation": dg.MetadataValue.json(result["augmentation"] or {}),
                "per_label_f1": dg.MetadataValue.json({k: round(v["f1-score"], 4) for k, v in test["per_label"].items()}),
                "spans_misaligned": sum(a["misaligned"] for a in result["alignment"].values()),
                "documents_windowed": sum(a["documents_windowed"] for a in result["alignment"].values()),
                "dataset_version": dataset_version["version"],
                "label_schema_version": schema.version,
                **step.complete(node),
            },
        )
