from pathlib import Path

import dagster as dg

from lepton.packaged import shipped
from lepton.promotion.policy import PromotionPolicy
from lepton.tracking.mlflow_store import MlflowStore


class MlflowResource(dg.ConfigurableResource):
    tracking_uri: str
    experiment: str
    artifact_location: str
    model_name: str
    promotion_policy: str = ""  # the promotion gate's floor and tolerances (policy/promotion.yaml)
    prediction_model: str = "@champion"  # the version that predicts on pipeline data (LEPTON_PREDICTION_MODEL)
    ui_url: str = "http://127.0.0.1:5000"

    def store(self) -> MlflowStore:
        return MlflowStore(self.tracking_uri, self.experiment, self.artifact_location, self.model_name)

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def policy(self) -> PromotionPolicy:
        return PromotionPolicy.load(Path(self.promotion_policy or shipped("policy/promotion.yaml")))
