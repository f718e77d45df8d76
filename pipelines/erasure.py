"""Retraining after an erasure: a sensor, so the erasure command (which must not import
dagster) only writes its tombstone and Dagster decides when to run."""

import json

import dagster as dg

from lepton.workspace import erasures
from pipelines.batches import dataset_and_model_job
from resources import WorkspaceResource


@dg.sensor(job=dataset_and_model_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="An erasure that tainted a model version and asked for retraining (LEPTON_ERASURE_RETRAIN "
                       "or `lepton governance erase --retrain`) starts a dataset-and-model run: the dataset is "
                       "rebuilt from annotations that no longer hold the erased records.")
def erasure_retrain(context: dg.SensorEvaluationContext, workspace: WorkspaceResource):
    if workspace.busy:
        return dg.SkipReason("an erasure holds the workspace; the next tick looks again")
    seen = set(json.loads(context.cursor or "[]"))
    new = [t for t in erasures(workspace.work) if t["erasure"] not in seen]
    requests = [dg.RunRequest(run_key=f"retrain-{t['erasure']}", tags={"lepton/erasure": t["erasure"]})
                for t in new if t["retrain"] and t["model_versions_tainted"]]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted(seen | {t["erasure"] for t in new})))
