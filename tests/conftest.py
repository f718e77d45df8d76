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
    "LEPTON_LEARNING_RATE": "5e-3", "LEPTON_PROMOTION_POLICY": str(REPO / "tests" / "policy" / "promotion.yaml"),
    # a run's steps in its own process: a process per step costs more than the steps here
    # (the landing sensor's daemon test keeps Dagster's default, a process per step)
    "LEPTON_EXECUTOR": "in_process",
}


# A Label Studio server the caller runs (`.ci/run` and `make test` start one), read before any
# test's environment changes.
RUNNING_LABEL_STUDIO = {k: os.environ[k] for k in ("LABEL_STUDIO_URL", "LS_HOME", "LS_PORT") if k in os.environ}
LABEL_STUDIO_VARS = ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY")


_SHARED_SERVER = pytest.StashKey()


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs two workers) the workers share one Label Studio
    server: when the caller runs none, the controller starts it before the workers start, and
    they find it in the environment they inherit."""
    if (hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)
            or RUNNING_LABEL_STUDIO.get("LABEL_STUDIO_URL")):
        return
    import tempfile

    from tests.label_studio import Server

    srv = Server.for_session(Path(tempfile.mkdtemp(prefix="lepton-test-label-studio-")), {})
    config.stash[_SHARED_SERVER] = srv
    os.environ.update(LABEL_STUDIO_URL=srv.url, LS_HOME=str(srv.home), LS_PORT=str(srv.port))


def pytest_unconfigure(config):
    srv = config.stash.get(_SHARED_SERVER, None)
    if srv is not None:
        srv.stop()


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """The real Label Studio server for the whole session: the caller's, or one started here
    (~40-60 s cold) the first time a test asks for it."""
    from tests.label_studio import Server

    srv = Server.for_session(tmp_path_factory.mktemp("label-studio"), RUNNING_LABEL_STUDIO)
    yield srv
    if srv.owned:
        srv.stop()


def enter_workspace(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Points the environment at an empty workspace folder with embedded (SQLite) stores, as a
    new user gets, with nothing of the caller's shell (stores, keys, OpenLineage, Label Studio)
    leaking in; returns the variables set."""
    env = {"LEPTON_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "LEPTON_LS_PROJECT": f"lepton-test-{uuid.uuid4().hex[:10]}", **TINY_ENV}
    for var in ("MLFLOW_TRACKING_URI", "LEPTON_LINEAGE_URL", "LEPTON_MASTER_KEY", "LEPTON_LANDING",
                "LEPTON_DVC_REMOTE", "LEPTON_DVC_REPO", "LEPTON_KEY_FILE", *LABEL_STUDIO_VARS):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("OPENLINEAGE")]:  # events go to the workspace's file
        monkeypatch.delenv(var)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    (home / "dagster").mkdir(parents=True)
    return env


def enter_studio(env: dict, label_studio, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The workspace's Label Studio project, on the session's server."""
    env = {**env, "LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.token}
    for var in LABEL_STUDIO_VARS:
        monkeypatch.setenv(var, env[var])
    return env


@pytest.fixture
def private_label_studio(tmp_path):
    """A Label Studio server of the test's own (~40 s cold start), for a test that takes its
    server down: stopping the shared one would pull it from under the other worker's tests."""
    from tests.label_studio import Server

    srv = Server.for_session(tmp_path / "label-studio", {})
    yield srv
    srv.stop()


@pytest.fixture
def workspace_env(tmp_path, monkeypatch):
    """A workspace of the test's own. Label Studio is not configured in it: a test that needs
    the server asks for `studio_env`."""
    return enter_workspace(tmp_path / "ws", monkeypatch)


@pytest.fixture
def studio_env(label_studio, workspace_env, monkeypatch):
    """`workspace_env` with a Label Studio project of its own on the session's server."""
    return enter_studio(workspace_env, label_studio, monkeypatch)


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
