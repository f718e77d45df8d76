import dagster as dg

from lepton.datasets.dvc_store import DvcStore


class DvcResource(dg.ConfigurableResource):
    repo_dir: str
    remote_url: str

    def store(self) -> DvcStore:
        return DvcStore(self.repo_dir, self.remote_url)
