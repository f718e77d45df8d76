"""The chain driven from the shell, as a user would: `lepton sample`, `dagster asset
materialize`, `lepton lineage show`, `lepton report`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(args, env, timeout=600):
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_dagster_asset_materialize_from_the_shell(workspace_env):
    out = _run(["lepton", "sample", "-n", "150", "--seed", "9"], workspace_env)
    assert out.returncode == 0, out.stderr
    assert "wrote 120 documents" in out.stdout and "wrote 30 documents" in out.stdout

    run = _run(["dagster", "asset", "materialize", "-m", "pipelines.definitions", "--select", "*"], workspace_env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "RUN_SUCCESS" in run.stdout + run.stderr

    show = _run(["lepton", "lineage", "show", "lepton-ner/1"], workspace_env)
    assert show.returncode == 0, show.stderr
    lines = show.stdout.splitlines()
    assert lines[0].startswith("model_version lepton-ner/1")
    assert any("input_file sample-9.jsonl" in line for line in lines)
    assert any("input_file sample-9.conll" in line for line in lines)

    as_json = json.loads(_run(["lepton", "lineage", "show", "1", "--json"], workspace_env).stdout)
    assert {n["kind"] for n in as_json} >= {"training_run", "dataset_version", "input_file"}

    report = _run(["lepton", "report"], workspace_env)
    assert report.returncode == 0, report.stderr
    assert "Registered model: lepton-ner version 1" in report.stdout
    assert "mlflow ui --backend-store-uri" in report.stdout

    missing = _run(["lepton", "lineage", "show", "lepton-ner/9"], workspace_env)
    assert missing.returncode != 0 and "no lineage node" in missing.stderr
