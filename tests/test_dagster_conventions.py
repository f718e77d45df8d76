"""What a Dagster user expects of the code location besides `dagster asset materialize`: the dg
command line loads it, and every asset links to its source in the UI."""

import os
import subprocess
import sys
from pathlib import Path

from lepton.settings import Settings
from pipelines.definitions import build_definitions

REPO = Path(__file__).resolve().parent.parent


def test_dg_check_defs_loads_the_code_location(tmp_path):
    env = {**os.environ, "LEPTON_HOME": str(tmp_path / "ws"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    dg_cli = Path(sys.executable).parent / "dg"
    done = subprocess.run([str(dg_cli), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_every_asset_links_to_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    defs = build_definitions(Settings.from_env())
    for key in defs.resolve_all_asset_keys():
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        [ref] = spec.metadata["dagster/code_references"].code_references
        assert Path(ref.file_path).parent == REPO / "assets" and ref.line_number > 0, key


def test_the_executor_is_a_setting_and_defaults_to_dagsters(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    monkeypatch.delenv("LEPTON_EXECUTOR", raising=False)
    default = build_definitions(Settings.from_env()).resolve_job_def("ingest_batch").executor_def
    assert default.name == "multi_or_in_process_executor"
    monkeypatch.setenv("LEPTON_EXECUTOR", "in_process")
    assert build_definitions(Settings.from_env()).resolve_job_def("ingest_batch").executor_def.name == "in_process"
    monkeypatch.setenv("LEPTON_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="LEPTON_EXECUTOR='celery'"):
        Settings.from_env()
