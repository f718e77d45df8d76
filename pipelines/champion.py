"""The champion alias lives in MLflow and moves outside Dagster's runs (`lepton promote`,
`lepton rollback`, or the promotion_gate check inside one): a sensor watches it and records
each move as a materialization of the external `champion_model` asset, which is what makes
the predictions of the previous champion stale for the automation conditions."""

import dagster as dg

from resources import MlflowResource


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Records each move of the MLflow champion alias (and a champion turning tainted) as a "
                       "champion_model materialization; predictions re-run from it by their automation condition.")
def champion_watch(context: dg.SensorEvaluationContext, mlflow: MlflowResource):
    store = mlflow.store()
    champ = store.champion()
    state = "none" if champ is None else f"{champ['version']}" + (":tainted" if champ["tainted_by"] else "")
    if state == (context.cursor or "none"):
        return dg.SkipReason(f"the champion is still {state}")
    meta = {"model": mlflow.model_name, "version": champ["version"] if champ else 0,
            "tainted_by": (champ or {}).get("tainted_by") or "", "previous": context.cursor or "none"}
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("champion_model", metadata=meta)], cursor=state)
