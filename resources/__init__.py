"""Dagster resources: one per external system, each a thin, configurable handle onto the
core's client for it, so assets never build clients or read settings themselves."""

from resources.dvc import DvcResource
from resources.governance import GovernanceResource
from resources.great_expectations import GreatExpectationsResource
from resources.ingestion import IngestionResource
from resources.keyring import KeyringResource
from resources.label_studio import LabelStudioResource
from resources.labels import LabelSchemaResource
from resources.lineage import LineageResource
from resources.mlflow import MlflowResource
from resources.training import TrainingResource
from resources.workspace import WorkspaceResource

__all__ = [
    "DvcResource", "GovernanceResource", "GreatExpectationsResource", "IngestionResource", "KeyringResource", "LabelSchemaResource", "LabelStudioResource", "LineageResource",
    "MlflowResource", "TrainingResource", "WorkspaceResource",
]
