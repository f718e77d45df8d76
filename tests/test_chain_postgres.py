"""The same chain with the Dagster instance, the MLflow store and the lineage store on the
real PostgreSQL server at 127.0.0.1:5432."""

import dagster as dg
import pytest
import sqlalchemy as sa

from lepton.corpus.sample import write_sample
from lepton.settings import Settings
from lepton.stores import mlflow_for
from tests.chain import run_chain
from tests.conftest import PG_DSN

pytestmark = pytest.mark.postgres


def test_whole_chain_on_postgres(studio_env, pg_database, monkeypatch, tmp_path):
    dagster_db, mlflow_db, lineage_db = pg_database("dagster"), pg_database("mlflow"), pg_database("lineage")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{PG_DSN}/{mlflow_db}")
    monkeypatch.setenv("LEPTON_LINEAGE_URL", f"{PG_DSN}/{lineage_db}")
    s = Settings.from_env()
    write_sample(s.landing_dir, 120, seed=8)
    storage = {"postgres": {"postgres_db": {
        "hostname": "127.0.0.1", "port": 5432, "username": "postgres", "password": "",
        "db_name": dagster_db, "scheme": "postgresql+psycopg2"}}}
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides={"storage": storage}) as instance:
        chain = run_chain(s, instance)
        assert chain.final.success and all(r.success for r in chain.batches.values())
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        records = instance.fetch_materializations(dg.AssetKey("registered_model"), limit=1).records
        assert len(records) == 1

    engine = sa.create_engine(f"{PG_DSN}/{dagster_db}")
    with engine.connect() as conn:
        runs = conn.execute(sa.text("select count(*) from runs")).scalar()
        events = conn.execute(sa.text("select count(*) from event_logs")).scalar()
    engine.dispose()
    assert runs == 5 and events > 20  # two landing batches, an annotation sync after each, then dataset and model

    store = mlflow_for(s)
    assert store.champion()["version"] == 1

    engine = sa.create_engine(f"{PG_DSN}/{lineage_db}")
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text("select kind, count(*) from lineage_nodes group by kind")).all())
        edges = conn.execute(sa.text("select count(*) from lineage_edges where run_id is not null")).scalar()
    engine.dispose()
    # dataset versions: the training dataset's and the frozen evaluation set's
    assert kinds["input_file"] == 2 and kinds["model_version"] == 1 and kinds["dataset_version"] == 2
    assert edges >= 7


def test_production_instance_config_puts_dagster_storage_on_postgres(pg_database, monkeypatch, tmp_path):
    """deploy/dagster.yaml, with credentials only from the environment, loads a working instance."""
    import shutil

    from tests.conftest import REPO

    db = pg_database("deploy")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for k, v in {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432",
                 "DAGSTER_PG_USER": "postgres", "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": db}.items():
        monkeypatch.setenv(k, v)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.get_runs_count() == 0
