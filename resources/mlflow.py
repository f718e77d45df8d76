import dagster as dg

from lepton.tracking.mlflow_store import MlflowStore


class MlflowResource(dg.ConfigurableResource):
    tracking_uri: str
    experiment: str
    artifact_location: str
    model_name: str
    f1_floor: float  # test entity F1 a new version needs to take the champion alias (LEPTON_F1_FLOOR)
    ui_url: str = "http://127.0.0.1:5000"

    def store(self) -> MlflowStore:
        return MlflowStore(self.tracking_uri, self.experiment, self.artifact_location, self.model_name)

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"
