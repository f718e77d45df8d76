"""Lepton as an installed package: the wheel built from this checkout, installed in a fresh
virtual environment outside it, finds its reviewed files (policy, expectations, dvc.yaml) in
the package and runs its command line and its Dagster code location from any folder."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, bin folder, a folder outside the checkout, env) of a fresh venv holding the wheel.
    Its dependencies are this environment's, reached through a path file: installing the
    whole lock again would take minutes and test pip, not Lepton. The path file adds a plain
    folder, so this environment's editable Lepton (an import hook run only from a site
    folder's own .pth files) is not on the path: only the wheel's copy can be imported."""
    tmp = tmp_path_factory.mktemp("package")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [sys.executable, "-m", "pip"]
    _run(pip + ["wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(REPO)], cwd=tmp, env=env)
    [wheel] = (tmp / "dist").glob("lepton-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp, env=env).stdout.strip())
    (site / "lepton_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(pip + ["--python", str(python), "install", "--no-deps", "--quiet", str(wheel)], cwd=tmp, env=env)
    outside = tmp / "elsewhere"
    (outside / "ws" / "dagster").mkdir(parents=True)
    env.update(LEPTON_HOME=str(outside / "ws"), DAGSTER_HOME=str(outside / "ws" / "dagster"),
               PATH=f"{venv / 'bin'}:{env['PATH']}")
    for var in ("LEPTON_LABEL_SCHEMA", "LEPTON_EXPECTATIONS_DIR"):
        env.pop(var, None)
    return python, venv / "bin", outside, env


def test_the_wheel_is_what_runs_not_the_checkout(installed):
    python, _, outside, env = installed
    where = _run([str(python), "-c", "import lepton, pipelines; print(lepton.__file__); print(pipelines.__file__)"],
                 cwd=outside, env=env).stdout.split()
    assert where and all(str(python.parent.parent) in w and str(REPO) not in w for w in where), where


def test_the_command_line_runs_from_any_folder(installed):
    python, bin_dir, outside, env = installed
    assert "Usage: lepton" in _run([str(bin_dir / "lepton"), "--help"], cwd=outside, env=env).stdout
    _run([str(bin_dir / "lepton"), "sample", "--out", str(outside / "landing"), "-n", "20"], cwd=outside, env=env)
    written = sorted(p.name for p in (outside / "landing").iterdir())
    assert written and sum(1 for p in (outside / "landing").glob("*.jsonl")
                           for _ in p.read_text().splitlines()) > 0, written
    # the default label schema is the one the wheel carries
    schema = _run([str(python), "-c", "from lepton.settings import Settings; print(Settings.from_env().label_schema_file)"],
                  cwd=outside, env=env).stdout.strip()
    assert schema.startswith(str(python.parent.parent)) and Path(schema).read_text() == (
        REPO / "policy" / "labels.yaml").read_text()


def test_the_code_location_loads_with_its_reviewed_files(installed):
    python, _, outside, env = installed
    _run([str(python), "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"], cwd=outside, env=env)
    probe = ("import json; from pipelines.definitions import defs; r = defs.resources; "
             "print(json.dumps({'gx': r['gx'].expectations_dir, 'dvc': r['dvc'].pipeline_file, "
             "'policy': r['governance'].policy_file, 'suites': sorted(p.name for p in "
             "__import__('pathlib').Path(r['gx'].expectations_dir).glob('*.json')), "
             "'thresholds': len(r['gx'].thresholds())}))")
    found = json.loads(_run([str(python), "-c", probe], cwd=outside, env=env).stdout.strip().splitlines()[-1])
    for key in ("gx", "dvc", "policy"):
        assert Path(found[key]).exists() and str(REPO) not in str(Path(found[key]).resolve()), found
    assert found["suites"] == sorted(p.name for p in (REPO / "expectations").glob("*.json"))
    assert found["thresholds"] > 0
