"""Store clients opened from settings, for the commands and for the training job under torchrun
(which opens its own in each rank): here rather than in `lepton.cli`, so the core never
imports the command line."""

from __future__ import annotations

import os

from lepton.settings import Settings


def keyring_for(s: Settings):
    from lepton.crypto.keyring import Keyring, load_master_key

    return Keyring(s.layout.keyring, load_master_key(s.key_file, create=False))


def dvc_for(s: Settings):
    from lepton.datasets.dvc_store import DvcStore

    return DvcStore(s.dvc_repo, s.dvc_remote)


def mlflow_for(s: Settings):
    from lepton.tracking.mlflow_store import MlflowStore

    return MlflowStore(s.mlflow_tracking_uri, s.mlflow_experiment, s.mlflow_artifact_location, s.model_name)


def audit_for(s: Settings):
    """Keyed under the master key (made on first use, as the keyring resource makes it)."""
    from lepton.crypto.keyring import load_master_key
    from lepton.governance.audit import AuditLog, audit_key

    return AuditLog(s.layout.audit_log, audit_key(load_master_key(s.key_file)))


def lineage_for(s: Settings):
    from lepton.lineage.store import LineageStore

    return LineageStore(s.lineage_url)


def label_studio_configured() -> bool:
    return bool(os.environ.get("LABEL_STUDIO_URL") and os.environ.get("LABEL_STUDIO_API_KEY"))


def studio_for(s: Settings):
    """The Label Studio server named by LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY: the token
    is read from the environment only, never from a settings file."""
    from lepton.annotation.studio import Studio

    if not label_studio_configured():
        raise RuntimeError("LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY must name the Label Studio server")
    return Studio(os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"],
                  retry_seconds=s.ls_retry_seconds)
