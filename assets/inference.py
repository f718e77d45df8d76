import inspect

import dagster as dg

from assets.partitions import batches
from lepton.ner.predict import predict_file
from lepton.workspace import PREDICTIONS
from resources import LineageResource, MlflowResource, WorkspaceResource

CODE_VERSION = "inference-1"
PREDICTION_FIELDS = [("record_id", "string"), ("spans", "array"), ("uncertainty", "number")]

champion_model = dg.AssetSpec(
    "champion_model", group_name="registry", kinds={"mlflow"}, owners=["team:ml"],
    # an external asset has no function for with_source_code_references to find: its spec is the source
    metadata={"dagster/code_references": dg.CodeReferencesMetadataValue(code_references=[
        dg.LocalFileCodeReference(file_path=__file__, line_number=inspect.currentframe().f_lineno)])},
    description="The MLflow registry's champion alias: moved by the promotion_gate check, `lepton promote` or "
                "`lepton rollback`, outside any run; the champion_watch sensor records each move here, so the "
                "predictions made by the previous champion turn stale and re-run.",
)


@dg.asset(
    group_name="inference", kinds={"pytorch"}, owners=["team:ml"], code_version=CODE_VERSION,
    partitions_def=batches, deps=[champion_model], automation_condition=dg.AutomationCondition.eager(),
    description="The champion's (or the pinned LEPTON_PREDICTION_MODEL's) spans with scores and uncertainty for "
                "every cleaned record of a batch, batched and grouped by length; the one place the pipeline runs "
                "the model on its data: person-name PII detection and Label Studio pre-annotations read it. "
                "Re-runs by itself when the champion changes.",
)
def predictions(context: dg.AssetExecutionContext, clean_documents: dict, workspace: WorkspaceResource,
                mlflow: MlflowResource, lineage: LineageResource) -> dg.Output[dict]:
    with lineage.step(context) as step:
        batch = clean_documents["batch_id"]
        store = mlflow.store()
        model_info = store.predicting_model(mlflow.prediction_model)
        if model_info is None:
            context.log.info("no model to predict with yet (no champion, or it is tainted)")
            return dg.Output({"batch_id": batch, "path": None, "model": None, "model_version": None, "labels": []},
                             metadata={"model_version": "(none)", "records": 0,
                                       **step.complete(None, output=f"predictions:{batch}", version="none",
                                                       inputs_extra=[f"clean_batch:{batch}"])})
        name_version = f"{model_info['name']}/{model_info['version']}"
        predictor = store.load_predictor(model_info["version"])
        out = workspace.file(workspace.work.stage_file(PREDICTIONS, batch))
        context.log.info(f"predicting batch {batch} with {name_version}")
        n = predict_file(predictor, clean_documents["records_path"], out, progress=context.log.info)
        node = step.stage.add_prediction_batch(batch, name_version, records=n,
                                               label_schema=model_info["label_schema_version"])
        return dg.Output(
            # `model` names the lineage node (NAME/N); `model_version` is what Label Studio shows (NAME/vN)
            {"batch_id": batch, "path": str(out), "model": name_version,
             "model_version": f"{model_info['name']}/v{model_info['version']}", "labels": model_info["labels"],
             "label_schema_version": model_info["label_schema_version"]},
            metadata={"model_version": name_version, "records": n, "path": dg.MetadataValue.path(str(out)),
                      **step.complete(node, fields=PREDICTION_FIELDS, rows=n)},
        )
