import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Offline and quiet for every test, whatever the caller's shell has.
for key, value in {
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[key] = value

PG_DSN = os.environ.get("LEPTON_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")

# A tiny, fast training setup: a random 2-layer BERT learns this corpus in seconds.
TINY_ENV = {
    "LEPTON_BASE_ENCODER": "tiny", "LEPTON_EPOCHS": "5", "LEPTON_BATCH_SIZE": "8",
    "LEPTON_LEARNING_RATE": "5e-3", "LEPTON_F1_FLOOR": "0.2",
}


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """The real Label Studio server for the whole session (started once: ~40-60 s cold)."""
    from tests.label_studio import Server

    srv = Server.for_session(tmp_path_factory.mktemp("label-studio"))
    os.environ["LABEL_STUDIO_URL"] = srv.url
    os.environ["LABEL_STUDIO_API_KEY"] = srv.token
    yield srv
    if srv.owned:
        srv.stop()


@pytest.fixture
def workspace_env(tmp_path, monkeypatch, label_studio):
    """An empty workspace folder with embedded (SQLite) stores, as a new user gets, and a
    Label Studio project of its own on the session's server."""
    home = tmp_path / "ws"
    env = {"LEPTON_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "LEPTON_LS_PROJECT": f"lepton-test-{uuid.uuid4().hex[:10]}", **TINY_ENV}
    for var in ("MLFLOW_TRACKING_URI", "LEPTON_LINEAGE_URL", "LEPTON_MASTER_KEY", "LEPTON_LANDING",
                "LEPTON_DVC_REMOTE", "LEPTON_DVC_REPO", "LEPTON_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("OPENLINEAGE")]:  # events go to the workspace's file
        monkeypatch.delenv(var)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (home / "dagster").mkdir(parents=True)
    return env


def _admin():
    import sqlalchemy as sa

    return sa.create_engine(f"{PG_DSN}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_database():
    """Creates throwaway databases on the real PostgreSQL server and drops them after."""
    created = []
    engine = _admin()

    def make(purpose: str) -> str:
        import sqlalchemy as sa

        name = f"lepton_test_{purpose}_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return name

    yield make
    import sqlalchemy as sa

    with engine.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
