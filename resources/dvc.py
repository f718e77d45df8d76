import dagster as dg

from lepton.datasets.dvc_store import DvcStore


class DvcResource(dg.ConfigurableResource):
    """`remote_url` is any DVC remote: a local folder by default, `s3://bucket/prefix` with
    dvc-s3 installed and credentials in the environment in production."""

    repo_dir: str
    remote_url: str
    pipeline_file: str  # the project's dvc.yaml, installed at the repository root
    use_git: bool = False

    def store(self) -> DvcStore:
        return DvcStore(self.repo_dir, self.remote_url, use_git=self.use_git)
